"""Recording a person's answer to their task, once, or refusing it with a reason.

Many people answer at once, so the checks an answer must pass run first without the
store's write lock; the lock is then held only to see that the task is still open and to
write, and the answers that the threads of one process bring at once share one transaction
(:mod:`decisions.services.answer_groups`). Anything that changed in between, and every
refusal, is judged again under the lock, one answer at a time.

A caller that has just read the task and its decision (the answer page opens both to show
the form) passes them as :class:`Seen`: an answer those settle is then judged without
reading the store again, and the separation of powers is asked in the group's transaction,
under the lock.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from decisions.audit import AuditEvent
from decisions.credentials import hash_secret, matches
from decisions.exceptions import PermissionDenied, TaskError
from decisions.model import (
    ANSWER_TYPES,
    Actor,
    Answer,
    BidScores,
    Decision,
    Opinion,
    Task,
    TaskStatus,
    Vote,
)
from decisions.powers import ACTION_FOR_TASK, may
from decisions.services.answer_groups import PendingAnswer, group_for
from decisions.services.common import parties
from decisions.store import NewEvent
from decisions.tally import vote_problem
from decisions.uow import UnitOfWork, new_key

__all__ = ["RecordedAnswer", "Seen", "record_answer"]


@dataclass(frozen=True)
class RecordedAnswer:
    """The one shape :func:`record_answer` returns: the answer as recorded (now or before),
    the task after it, the answer's audit event, and whether this call wrote it."""

    task: Task
    answer: Answer
    event: AuditEvent
    created: bool
    #: The decision's tasks right after the answer, when its group's write read them.
    decision_tasks: tuple[Task, ...] | None = None


@dataclass(frozen=True)
class Seen:
    """A task and its decision as the caller read them a moment ago, without the lock."""

    task: Task
    decision: Decision


def record_answer(
    engine: Engine,
    task_id: str,
    answer: Answer,
    *,
    actor: Actor,
    answer_code: str,
    criteria: tuple[str, ...] | list[str] | None = None,
    idempotency_key: str | None = None,
    seen: Seen | None = None,
) -> RecordedAnswer:
    """Record ``actor``'s answer to a task, once, with its audit event.

    Checks, in order: the task exists; it is the actor's; the answer code is right; the task
    is still open; the answer fits the task; the separation of powers allows it. Any refusal
    is audited, nothing is recorded as an answer, and the task stays open. Sending the same
    answer again (by any channel) returns the recorded one without writing
    (``created=False``). Answers judged acceptable at once in one process are written in
    one transaction (:mod:`~decisions.services.answer_groups`); each is judged, refused
    and audited on its own. With ``seen`` (the task and its decision just read), an
    answer they settle is not read for again (see the module's docstring).

    Raises
    ------
    TaskError
        For a refusal about the task, the code or the answer (audited).
    PermissionDenied
        When the separation of powers refuses the actor (audited).
    """
    key = new_key(idempotency_key)
    judge = _AnswerJudge(task_id, answer, actor, answer_code, criteria, key)
    open_task = judge.without_store(seen) if seen is not None else None
    pending: PendingAnswer | None
    if open_task is not None and seen is not None:
        pending = judge.pending(open_task, seen.decision)
    else:
        with UnitOfWork(engine, read_only=True) as uow:
            first = judge(uow)
        if isinstance(first, RecordedAnswer):
            return first
        pending = judge.pending(first) if isinstance(first, Task) else None
    if pending is not None:
        written = group_for(engine).write(engine, pending)
        if written is not None:
            return RecordedAnswer(
                written.task,
                answer,
                written.event,
                created=True,
                decision_tasks=written.decision_tasks,
            )
    with UnitOfWork(engine) as uow:  # alone: judged again under the lock
        verdict = judge(uow)
        if isinstance(verdict, RecordedAnswer):
            return verdict
        if isinstance(verdict, Task):
            return judge.write(uow, verdict)
        refusal = judge.refuse(uow, verdict)
        uow.commit()
        raise refusal


@dataclass(frozen=True)
class _Refusal:
    """Why an answer is not taken, and the rule that says so (kept in the audit event)."""

    task: Task
    reason: str
    rule: str


@dataclass(frozen=True)
class _AnswerJudge:
    """The checks an answer must pass, usable with or without the write lock."""

    task_id: str
    answer: Answer
    actor: Actor
    answer_code: str
    criteria: tuple[str, ...] | list[str] | None
    key: str

    def __call__(self, uow: UnitOfWork) -> RecordedAnswer | Task | _Refusal:
        """The answer already recorded, the open task it may be written to, or a refusal."""
        if done := self.recorded(uow):
            return done
        task = uow.tasks.get(self.task_id)
        decision = uow.decisions.get(task.decision_id)
        stored = uow.answers.for_task(task.id)
        if task.assignee_id != self.actor.id:
            return _Refusal(
                task,
                f"Task {task.id} is assigned to {task.assignee_id}, not to {self.actor.id}.",
                "actor",
            )
        if not matches(self.answer_code, task.answer_code_hash):
            still = (
                "the task is still open"
                if task.status is TaskStatus.OPEN
                else f"the task is {task.status.value} and takes no more answers"
            )
            return _Refusal(
                task, f"The answer code for task {task.id} is not right; {still}.", "answer-code"
            )
        if stored is not None and _same(stored.answer, self.answer):
            event = uow.log.get(stored.audit_seq)
            assert event is not None
            return RecordedAnswer(task, stored.answer, event, created=False)
        if task.status is not TaskStatus.OPEN:
            return _Refusal(
                task, f"Task {task.id} is {task.status.value} and takes no more answers.", "closed"
            )
        if not isinstance(self.answer, ANSWER_TYPES[task.kind]):
            wanted = " or ".join(t.__name__ for t in ANSWER_TYPES[task.kind])
            return _Refusal(
                task,
                f"Task {task.id} is a {task.kind.value} task and takes a {wanted}, "
                f"not a {type(self.answer).__name__}.",
                "answer-kind",
            )
        if problem := self.content_problem(uow, task):
            return _Refusal(task, problem, "answer-content")
        ruling = may(self.actor, ACTION_FOR_TASK[task.kind], parties(uow, decision))
        if not ruling:
            return _Refusal(task, ruling.reason, "powers")
        return task

    def without_store(self, seen: Seen) -> Task | None:
        """The open task the answer may be written to, when what ``seen`` holds settles
        every check but the powers (left to the lock); None when the store must be read:
        for a refusal (audited), the same answer sent again, or content judged against
        others' answers (a vote, a tender's scores)."""
        task = seen.task
        if (
            task.id != self.task_id
            or task.decision_id != seen.decision.id
            or task.assignee_id != self.actor.id
            or task.status is not TaskStatus.OPEN
            or not matches(self.answer_code, task.answer_code_hash)
            or not isinstance(self.answer, ANSWER_TYPES[task.kind])
            or isinstance(self.answer, Vote | BidScores)
        ):
            return None
        if self.criteria is not None and isinstance(self.answer, Opinion):
            try:
                self.answer.check_criteria(self.criteria)
            except ValueError:
                return None
        return task

    def recorded(self, uow: UnitOfWork) -> RecordedAnswer | None:
        """What this actor recorded under this key before (the idempotent prologue)."""
        done = uow.recorded(self.key)
        if done is None or done.actor != self.actor.id:
            return None
        task = uow.tasks.get(done.data["task_id"])
        stored = uow.answers.for_task(task.id)
        return RecordedAnswer(task, stored.answer if stored else self.answer, done, False)

    def content_problem(self, uow: UnitOfWork, task: Task) -> str | None:
        """What is wrong with the answer's content: an opinion's ratings against the class's
        criteria, a vote's justification against the experts' consensus."""
        if self.criteria is not None and isinstance(self.answer, Opinion):
            try:
                self.answer.check_criteria(self.criteria)
            except ValueError as err:
                return str(err)
        if isinstance(self.answer, Vote):
            return vote_problem(self.answer, recommendations(uow, task.decision_id))
        if isinstance(self.answer, BidScores):
            return scores_problem(uow, task, self.answer)
        return None

    def event(self, task: Task) -> NewEvent:
        """The answer's audit event."""
        return NewEvent(
            actor=self.actor.id,
            action=f"task.answered.{self.answer.kind}",
            decision_id=task.decision_id,
            payload={
                "task_id": task.id,
                "round": task.round,
                "answer": self.answer.model_dump(mode="json"),
            },
            idempotency_key=self.key,
        )

    def pending(self, task: Task, decision: Decision | None = None) -> PendingAnswer:
        """The answer as its process's group writes it (with ``decision``, the powers are
        asked under the lock)."""
        return PendingAnswer(task, self.actor, self.answer, self.event(task), decision)

    def write(self, uow: UnitOfWork, task: Task) -> RecordedAnswer:
        """Write the answer, its audit event and the task's new status (under the lock)."""
        event = uow.record(self.event(task))
        uow.answers.add(task=task, actor_id=self.actor.id, answer=self.answer, audit_seq=event.seq)
        task = uow.tasks.set_status(task.id, TaskStatus.ANSWERED)
        return RecordedAnswer(task, self.answer, event, created=True)

    def refuse(self, uow: UnitOfWork, refusal: _Refusal) -> TaskError | PermissionDenied:
        """Audit the refusal (once per distinct attempt) and return the error to raise."""
        task, reason, rule = refusal.task, refusal.reason, refusal.rule
        # One event per distinct attempt: the same call retried is audited once, another
        # actor or code trying the same answer is audited again.
        attempt = hash_secret(f"{self.actor.id}:{self.answer_code}")[:12]
        refusal_key = f"refused:{self.key}:{attempt}"
        if uow.recorded(refusal_key) is None:
            uow.record(
                NewEvent(
                    actor=self.actor.id,
                    action="task.answer_refused",
                    decision_id=task.decision_id,
                    payload={"task_id": task.id, "rule": rule, "reason": reason},
                    idempotency_key=refusal_key,
                )
            )
        if rule == "powers":
            return PermissionDenied(
                reason, decision_id=task.decision_id, actor_id=self.actor.id, action=task.kind.value
            )
        return TaskError(reason, decision_id=task.decision_id, task_id=task.id)


def _same(recorded: Answer, sent: Answer) -> bool:
    """The same answer, compared as stored (JSON), whichever channel sent it."""
    return recorded.model_dump(mode="json") == sent.model_dump(mode="json")


def recommendations(uow: UnitOfWork, decision_id: str) -> dict[str, int]:
    """How many experts recommended what in the decision's latest consultation round."""
    rounds = {t.id: t.round for t in uow.tasks.for_decision(decision_id)}
    opinions = [
        (rounds[a.task_id], a.answer.recommendation)
        for a in uow.answers.for_decision(decision_id)
        if isinstance(a.answer, Opinion)
    ]
    if not opinions:
        return {}
    last = max(r for r, _ in opinions)
    counts: dict[str, int] = {}
    for r, recommendation in opinions:
        if r == last:
            counts[recommendation] = counts.get(recommendation, 0) + 1
    return counts


def scores_problem(uow: UnitOfWork, task: Task, answer: BidScores) -> str | None:
    """What is wrong with a tender evaluator's scores: every qualified bid of their lots
    scored on every evaluator criterion of the class, nothing else (None when right)."""
    from decisions.services.progress import tender_record
    from decisions.services.tender import scored_bids
    from decisions.tender import TenderSpec, check_scores

    record = tender_record(uow, task.decision_id)
    if record is None or record.draw is None:
        return f"Task {task.id} scores a tender whose panel has not been drawn."
    lots, _ = scored_bids(record, task.assignee_id)
    criteria = tuple(record.draw.get("settings", {}).get("criteria", ()))
    try:
        check_scores(
            TenderSpec.model_validate(record.spec),
            record.qualified,
            lots,
            criteria,
            answer.scores,
        )
    except ValueError as err:
        return str(err)
    return None
