"""Deadlines without a live process: the ``deadline-sweep`` deployment, run on a schedule.

Each run looks at every open task in the store once and does what the procedure's
deadline rules (:mod:`decisions.procedure.deadlines`) say:

- past the class's reminder time: the assignee is reminded (an audit event
  ``task.reminded`` and a Prefect event ``counsel.task.reminded`` an automation can mail,
  naming the decision and the person reminded as related resources);
- past its deadline: a consultation task passes to the next routed alternate the powers
  allow (``task.reassigned``), any other task is cancelled (``task.cancelled``); the
  person's suspended run is closed with the reason.

Every one of these writes has a key derived from the task, so two sweeps that overlap, or
one retried after a crash, remind and reassign once per deadline. Then it continues every
decision a deadline changed (its next step, or the form of the alternate), and every
decision a lost run left half-way: ready to move, or with open tasks that have no form yet,
quiet for ``stale_after_s``, and with no step on its way. A step running for
``lost_after_s`` lost its worker; a step queued that long was lost with the server's
in-memory queue (a restart) unless the task workers are still working through a backlog.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from prefect import flow, get_client, get_run_logger
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
    FlowRunFilterTags,
    TaskRunFilter,
    TaskRunFilterName,
    TaskRunFilterStartTime,
    TaskRunFilterState,
    TaskRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.context import FlowRunContext
from prefect.states import Crashed
from sqlalchemy import Engine

from decisions import procedure, services
from decisions.classes import ClassBook, load_classes
from decisions.db import make_engine
from decisions.exceptions import PermissionDenied, TaskError
from decisions.model import Decision, Task, TaskKind, TaskStatus, utcnow
from decisions.progress import Routing, routing_of_round
from decisions.settings import load_settings
from flows.publishing import emit_counsel_event
from flows.runs import close_person_run
from flows.warm import CONTINUE_RUN_NAME, continue_run_name, start_decision_run

__all__ = ["deadline_sweep", "sweep", "SweepReport"]

#: The flows that take a decision's steps (not ``answer-task``: a person's run that a crash
#: left Running is suspended with its form by the next step).
STEP_FLOWS = ("decision", "expert-consultation", "discussion", "decision-vote", "execution")


@dataclass
class SweepReport:
    reminded: list[str] = field(default_factory=list)
    reassigned: list[tuple[str, str]] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    continued: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{len(self.reminded)} reminded, {len(self.reassigned)} reassigned, "
            f"{len(self.cancelled)} cancelled, {len(self.continued)} decisions continued"
        )


def sweep(
    engine: Engine,
    classes: ClassBook,
    client: SyncPrefectClient,
    *,
    now: datetime | None = None,
    stale_after: timedelta = timedelta(seconds=60),
    lost_after: timedelta = timedelta(seconds=300),
) -> SweepReport:
    """Apply every due reminder and deadline, then continue the decisions that can move."""
    now = now or utcnow()
    report = SweepReport()
    decisions = {d.id: d for d in services.list_decisions(engine)}
    open_tasks = services.open_tasks(engine)
    open_now: dict[str, list[Task]] = {}
    for task in open_tasks:
        open_now.setdefault(task.decision_id, []).append(task)
    routings: dict[str, tuple[Routing, ...]] = {}
    expired: set[str] = set()
    for task in open_tasks:
        if task.decision_id not in decisions:  # filed since the list was read
            decisions[task.decision_id] = services.get_decision(engine, task.decision_id)
        decision = decisions[task.decision_id]
        dclass = classes.get(decision.class_name, decision.district_type)
        routing = None
        if task.kind is TaskKind.CONSULT:
            if decision.id not in routings:
                routings[decision.id] = services.routings_of(engine, decision.id)
            routing = routing_of_round(routings[decision.id], task.round)
        command = procedure.due(task, dclass, routing, now)
        if isinstance(command, procedure.Expire):
            _expire(engine, client, command, report)
            expired.add(decision.id)
        elif isinstance(command, procedure.Remind):
            _remind(engine, command, decision, report)
    # Read after the deadlines' writes: a decision that moved since the reads above (a
    # continuation that ran meanwhile) has recorded something since ``quiet_since``.
    last_activity = services.last_activity(engine)
    quiet_since = now - stale_after
    lost_before = now - lost_after
    backlog_moving = _steps_started_since(client, lost_before)
    for decision in decisions.values():
        if decision.id in expired:  # the next step, or the replacement's form
            start_decision_run(client, engine, decision.id)
            report.continued.append(decision.id)
        elif procedure.looks_stuck(
            decision, open_now.get(decision.id, []), last_activity.get(decision.id), quiet_since
        ) and not _continuing(client, decision.id, lost_before, backlog_moving):
            bucket = int(now.timestamp() // max(1.0, stale_after.total_seconds()))
            start_decision_run(client, engine, decision.id, key_suffix=f":sweep:{bucket}")
            report.continued.append(decision.id)
    return report


def _remind(
    engine: Engine, command: procedure.Remind, decision: Decision, report: SweepReport
) -> None:
    """Remind once per task: the one sweep that records the reminder sends the event,
    ``counsel.task.reminded`` as the history names it, with the actor who recorded it, the
    decision and the person reminded (role ``assignee``) as related resources."""
    task = command.task
    if services.append_event_once(
        engine,
        actor=services.SYSTEM,
        action="task.reminded",
        decision_id=task.decision_id,
        payload={"task_id": task.id, "assignee": task.assignee_id, "deadline": command.deadline},
        idempotency_key=command.key,
    ):
        report.reminded.append(task.id)
        emit_counsel_event(
            "task.reminded",
            resource={
                "prefect.resource.id": f"counsel.task.{task.id}",
                "counsel.kind": task.kind.value,
            },
            actor=services.SYSTEM,
            decision=decision,
            related=[
                {
                    "prefect.resource.id": f"counsel.actor.{task.assignee_id}",
                    "prefect.resource.role": "assignee",
                }
            ],
            payload={
                "task_id": task.id,
                "assignee": task.assignee_id,
                "deadline": command.deadline.isoformat(),
            },
        )


def _expire(
    engine: Engine, client: SyncPrefectClient, command: procedure.Expire, report: SweepReport
) -> None:
    """Hand an unanswered task to the first alternate the powers allow, or cancel it."""
    task = command.task
    replacement = _replacement(engine, command)
    status = TaskStatus.REASSIGNED if replacement else TaskStatus.CANCELLED
    reason = procedure.expiry_reason(
        command.deadline, replacement.assignee_id if replacement else None
    )
    try:
        if not services.close_task_once(
            engine, task.id, status, reason=reason, idempotency_key=command.key
        ):
            return  # another sweep closed it
    except TaskError:
        return  # answered at the last moment: the answer stands
    close_person_run(client, task.flow_run_id, reason, answered=False)
    if replacement:
        report.reassigned.append((task.id, replacement.id))
    else:
        report.cancelled.append(task.id)


def _replacement(engine: Engine, command: procedure.Expire) -> Task | None:
    """The first of the command's candidates the powers allow, assigned once: sweeps that
    race pick the same one, and its assignment's key makes it one task."""
    task = command.task
    for candidate, key in zip(command.candidates, command.keys, strict=True):
        try:
            assigned = services.assign_task(
                engine,
                task.decision_id,
                task.kind,
                candidate,
                round=task.round,
                deadline=utcnow() + command.duration,
                idempotency_key=key,
            )
        except PermissionDenied:
            continue
        return assigned.task
    return None


UNFINISHED = [StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING]
LOST = "Its worker stopped; the deadline sweep starts the step again."


def _steps_started_since(client: SyncPrefectClient, since: datetime) -> bool:
    """Whether task workers started any decision's step since ``since``: while they do, a
    step still queued is waiting its turn, not lost."""
    started = client.read_task_runs(
        task_run_filter=TaskRunFilter(
            name=TaskRunFilterName(like_=CONTINUE_RUN_NAME),
            start_time=TaskRunFilterStartTime(after_=since),
        ),
        limit=1,
    )
    return bool(started)


def _continuing(
    client: SyncPrefectClient, decision_id: str, lost_before: datetime, backlog_moving: bool
) -> bool:
    """True while a step of the decision is on its way: queued for a task worker (lost
    only when queued before ``lost_before`` and the workers started nothing since), or
    pending or running since ``lost_before``. Older ones lost their worker: they are
    marked Crashed, so the UI does not show them as working, and the step starts again."""
    alive = _step_task_alive(client, decision_id, lost_before, backlog_moving)
    unfinished = client.read_flow_runs(
        flow_filter=FlowFilter(name=FlowFilterName(any_=list(STEP_FLOWS))),
        flow_run_filter=FlowRunFilter(
            tags=FlowRunFilterTags(all_=[f"decision:{decision_id}"]),
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=UNFINISHED)),
        ),
    )
    for run in unfinished:
        if run.state is None:
            continue
        if run.state.type is StateType.SCHEDULED or run.state.timestamp >= lost_before:
            alive = True
        else:
            client.set_flow_run_state(run.id, Crashed(message=LOST), force=True)
    return alive


def _step_task_alive(
    client: SyncPrefectClient, decision_id: str, lost_before: datetime, backlog_moving: bool
) -> bool:
    """Whether a ``continue-decision`` run of the decision is queued or running and not lost
    (the lost ones are marked Crashed, so a worker that finds one later leaves it)."""
    runs = client.read_task_runs(
        task_run_filter=TaskRunFilter(
            name=TaskRunFilterName(any_=[continue_run_name(decision_id)]),
            state=TaskRunFilterState(type=TaskRunFilterStateType(any_=UNFINISHED)),
        )
    )
    alive = False
    for run in runs:
        if run.state is None:
            continue
        recent = run.state.timestamp >= lost_before
        if recent or (run.state.type is StateType.SCHEDULED and backlog_moving):
            alive = True
        else:
            client.set_task_run_state(run.id, Crashed(message=LOST), force=True)
    return alive


@flow(
    name="deadline-sweep",
    description="Reminds, reassigns and cancels at deadlines; continues decisions a lost "
    "run left waiting.",
)
def deadline_sweep(stale_after_s: float = 60.0, lost_after_s: float = 300.0) -> str:
    """One pass over every open task and decision (scheduled every minute by prefect.yaml).

    A decision quiet for ``stale_after_s`` that could move is continued, unless a step run
    of it is on its way; one running for more than ``lost_after_s`` counts as lost with its
    worker (steps take seconds).
    """
    if _late(stale_after_s):
        return "skipped: started long after its time; a later sweep does the work"
    settings = load_settings()
    engine = make_engine(settings.resolved_database_url())
    try:
        with get_client(sync_client=True) as client:
            report = sweep(
                engine,
                load_classes(settings.classes_file),
                client,
                stale_after=timedelta(seconds=stale_after_s),
                lost_after=timedelta(seconds=lost_after_s),
            )
    finally:
        engine.dispose()
    get_run_logger().info("Deadline sweep: %s.", report)
    return str(report)


def _late(stale_after_s: float) -> bool:
    """True for a scheduled sweep that starts more than ``stale_after_s`` late: after a
    worker outage the backlog of sweeps would otherwise all do the same pass."""
    context = FlowRunContext.get()
    run = context.flow_run if context else None
    if run is None or run.expected_start_time is None or run.auto_scheduled is not True:
        return False
    return (utcnow() - run.expected_start_time).total_seconds() > stale_after_s
