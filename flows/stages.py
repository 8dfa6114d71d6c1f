"""The four stage flows. They orchestrate; the rules live in ``decisions`` and ``experts``.

Each stage assigns tasks (the store checks the separation of powers and audits refusals)
and turns the answers into the stage's product with the domain's functions: the
consultation report (Delphi rounds, consensus and dissent), the minutes, the resolution
(quorum, majority, recusal), and the execution record with its acceptance.

A stage never waits in a process. Each run reads the decision from the store, redoes
nothing that is recorded (every write has a key), goes as far as the answers allow, gives
every open task a suspended person run (:mod:`flows.runs`) and returns ``waiting``. The
last answer a step waits for starts the next run; deadlines (reminders, alternates,
cancellation) are the deadline sweep's (:mod:`flows.sweep`), and a stage left with too few
answers goes ``stalled`` with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from prefect import flow, get_client, get_run_logger

from decisions import services
from decisions.audit import AuditEvent
from decisions.classes import DecisionClass
from decisions.consensus import aggregate_round
from decisions.exceptions import PermissionDenied
from decisions.model import (
    Acceptance,
    Comment,
    Decision,
    Opinion,
    ProgressReport,
    Recusal,
    Task,
    TaskKind,
    TaskStatus,
    Vote,
    utcnow,
)
from decisions.model import (
    State as DecisionState,
)
from decisions.participants import (
    body_members,
    executors_for,
    inspectors_for,
    stakeholder_representatives,
)
from decisions.tally import against_consensus, tally
from flows.context import FlowContext, flow_context, off_loop
from flows.publishing import (
    aggregate_markdown,
    emit_transition,
    md_block,
    md_inline,
    publish_markdown,
)
from flows.runs import open_person_run

__all__ = [
    "expert_consultation",
    "discussion",
    "decision_vote",
    "execution",
    "run_tags",
    "WAITING",
]

MAX_EXECUTION_CYCLES = 3


def run_tags(decision: Decision, stage: str) -> list[str]:
    """The tags every run of a decision's stage carries (filters in the Prefect UI)."""
    return [
        f"decision:{decision.id}",
        f"class:{decision.class_name}",
        f"district:{decision.district}",
        f"stage:{stage}",
    ]


@dataclass
class Outcome:
    task: Task
    answer: dict[str, Any] | None


WAITING = "waiting"


@dataclass
class Step:
    """One run of a stage: the decision as the store has it, and idempotent ways to move it.

    Every write carries a key derived from the decision (``<id>:consult:<round>:<actor>``
    …), so a stage run again from the top — the next continuation, or a retry after a crash
    — finds what it already did and goes on from there. Reports and events are published
    only by the run that first writes their record.
    """

    ctx: FlowContext
    decision: Decision
    dclass: DecisionClass
    events: list[AuditEvent]

    @classmethod
    async def load(cls, ctx: FlowContext, decision_id: str) -> Step:
        decision = await off_loop(services.get_decision, ctx.engine, decision_id)
        events = await off_loop(services.history, ctx.engine, decision_id)
        return cls(ctx, decision, ctx.decision_class(decision), events)

    @property
    def id(self) -> str:
        return self.decision.id

    def done(self, key: str) -> bool:
        return any(e.idempotency_key == key for e in self.events)

    def event(self, key: str) -> AuditEvent | None:
        return next((e for e in self.events if e.idempotency_key == key), None)

    async def transition(self, action: str, key: str, **kw: Any) -> Decision:
        self.decision = await off_loop(
            services.apply_transition, self.ctx.engine, self.id, action, idempotency_key=key, **kw
        )
        if not self.done(key):
            emit_transition(
                self.decision,
                action,
                **{k: v for k, v in kw.items() if isinstance(v, str | bool | int)},
            )
        return self.decision

    async def note(self, action: str, *, key: str, payload: dict[str, Any]) -> bool:
        """Record a fact of the stage (routing, a round's aggregate, a tally) in the chain;
        True when this run wrote it (and should publish what goes with it)."""
        first = not self.done(key)
        await off_loop(
            services.append_event,
            self.ctx.engine,
            actor=services.SYSTEM,
            action=action,
            decision_id=self.id,
            payload=payload,
            idempotency_key=key,
        )
        return first

    async def assign(
        self,
        kind: TaskKind,
        actor_id: str,
        *,
        round: int,
        duration: timedelta,
        key: str,
        zone: str | None = None,
        measures: tuple[str, ...] = (),
    ) -> Task | None:
        """Assign a task once, or None when the separation of powers refuses (audited)."""
        try:
            assigned = await off_loop(
                services.assign_task,
                self.ctx.engine,
                self.id,
                kind,
                actor_id,
                round=round,
                deadline=utcnow() + duration,
                zone=zone,
                measures=measures,
                idempotency_key=key,
            )
        except PermissionDenied as refusal:
            get_run_logger().info("Not assigned: %s", refusal)
            return None
        return assigned.task

    async def collect(
        self, kind: TaskKind, round: int, *, stage: str, intro: Callable[[Task], str]
    ) -> list[Outcome] | None:
        """The closed tasks of ``kind`` in ``round`` with their answers (None for a task
        cancelled unanswered), or None while some are open; each open task gets its
        suspended person run, so the people can answer while no process waits."""
        tasks = [
            t
            for t in await off_loop(services.tasks_of, self.ctx.engine, self.id)
            if t.kind is kind and t.round == round
        ]
        waiting = [t for t in tasks if t.status is TaskStatus.OPEN]
        if waiting:
            async with get_client() as client:
                for t in waiting:
                    await open_person_run(
                        client,
                        self.ctx.engine,
                        t,
                        stage=stage,
                        intro=intro(t),
                        criteria=self.dclass.criteria,
                        tags=run_tags(self.decision, stage),
                    )
            get_run_logger().info(
                "%s waits for %s %s answers; no process waits with it.",
                self.id,
                len(waiting),
                kind.value,
            )
            return None
        answers = {
            task_id: answer.model_dump(mode="json")
            for task_id, answer in (
                await off_loop(services.answers_of, self.ctx.engine, self.id)
            ).items()
        }
        return [
            Outcome(t, answers.get(t.id)) for t in tasks if t.status is not TaskStatus.REASSIGNED
        ]


def _proposal_intro(decision: Decision) -> str:
    version = decision.current_version
    return (
        f"## {decision.id}: {md_inline(version.title)}\n\n{md_block(decision.description)}\n\n"
        f"**Proposal, version {version.number}:**\n\n{md_block(version.text)}\n\n"
        f"Class `{decision.class_name}`, district `{decision.district}`."
    )


# -- consult ---------------------------------------------------------------------------------


def _cycle_start(events: list[AuditEvent]) -> int:
    """The round the current consultation began with (a returned decision starts again)."""
    round_no, start = 0, 1
    for e in events:
        if e.action == "decision.consultation_started":
            round_no += 1
            start = round_no
        elif e.action == "decision.round_started":
            round_no += 1
    return start


async def _routing(step: Step, first_round: int) -> dict[str, Any] | None:
    """The experts routed for this consultation (made once and kept in the chain), or None
    after stalling the decision because too few could be routed. The event names the experts
    kept out, by rule, and any shortfall against the class's number of experts."""
    key = f"{step.id}:routed:{first_round}"
    if noted := step.event(key):
        return noted.data
    # the graph's libraries load only to route
    from flows.routing import route_consultation, routed_payload, too_few_reason

    routed, routing = await off_loop(
        route_consultation, step.ctx.engine, step.decision, step.dclass
    )
    if len(routed) < step.dclass.min_answers:
        reason = too_few_reason(routed, routing, step.dclass.min_answers)
        await step.transition("stall", f"{step.id}:stall:routing:{first_round}", reason=reason)
        return None
    payload = routed_payload(first_round, routed, routing)
    await step.note("consultation.routed", key=key, payload=payload)
    return payload


def _routing_markdown(routing: dict[str, Any]) -> str:
    """The routed experts, any shortfall and who was kept out, for the report."""
    from flows.routing import routing_markdown  # the graph's libraries load only to route

    return routing_markdown(routing)


async def _opinions(step: Step, round_no: int) -> list[Outcome]:
    answers = {
        task_id: answer.model_dump(mode="json")
        for task_id, answer in (
            await off_loop(services.answers_of, step.ctx.engine, step.id)
        ).items()
    }
    return [
        Outcome(t, answers[t.id])
        for t in await off_loop(services.tasks_of, step.ctx.engine, step.id)
        if t.kind is TaskKind.CONSULT and t.round == round_no and t.id in answers
    ]


async def _assign_panel(
    step: Step, round_no: int, first_round: int, routing: dict[str, Any]
) -> None:
    """Give the round's panel their tasks: the routed experts in the first round (an
    alternate where the powers refuse one), those who answered the round before after it."""
    if round_no == first_round:
        panel = [(e, list(routing["alternates"].get(e, []))) for e in routing["experts"]]
    else:
        panel = [(o.task.assignee_id, []) for o in await _opinions(step, round_no - 1)]
    for actor_id, alternates in panel:
        candidates = [actor_id, *alternates]
        while candidates:
            actor_id = candidates.pop(0)
            task = await step.assign(
                TaskKind.CONSULT,
                actor_id,
                round=round_no,
                duration=step.dclass.durations.answer,
                key=f"{step.id}:consult:{round_no}:{actor_id}",
            )
            if task is not None:
                break


@flow(name="expert-consultation", flow_run_name="expert-consultation · {decision_id}")
async def expert_consultation(decision_id: str) -> str:
    """Consult routed experts in Delphi rounds until consensus or the class's last round.

    Each run takes the consultation as far as the answers allow and returns ``waiting``
    while experts have open tasks; the last answer of a round starts the next run.
    """
    logger = get_run_logger()
    async with flow_context() as ctx:
        step = await Step.load(ctx, decision_id)
        if step.decision.state in {DecisionState.SUBMITTED, DecisionState.RETURNED}:
            await step.transition(
                "start_consultation",
                f"{decision_id}:start-consultation:{step.decision.round + 1}",
            )
            step = await Step.load(ctx, decision_id)
        if step.decision.state is not DecisionState.CONSULTING:
            return step.decision.state.value
        dclass = step.dclass
        first_round = _cycle_start(step.events)
        routing = await _routing(step, first_round)
        if routing is None:
            return "stalled"
        while True:
            round_no = step.decision.round
            previous = None
            if round_no > first_round:
                before = [
                    Opinion.model_validate(o.answer) for o in await _opinions(step, round_no - 1)
                ]
                previous = aggregate_round(
                    before, dclass.criteria, dclass.consensus, round=round_no - 1
                )
            md_previous = aggregate_markdown(previous) if previous else ""
            decision = step.decision

            def intro(
                task: Task,
                md_previous: str = md_previous,
                round_no: int = round_no,
                decision: Decision = decision,
            ) -> str:
                text = _proposal_intro(decision) + f"\n\n### Consultation round {round_no}\n"
                text += "Rate each criterion from 1 (poor) to 9 (excellent) and recommend.\n"
                if md_previous:
                    text += "\n**What the panel said in the previous round:**\n\n" + md_previous
                return text

            await _assign_panel(step, round_no, first_round, routing)
            outcomes = await step.collect(TaskKind.CONSULT, round_no, stage="consult", intro=intro)
            if outcomes is None:
                return WAITING
            answered = [o for o in outcomes if o.answer is not None]
            opinions = [Opinion.model_validate(o.answer) for o in answered]
            if len(opinions) < dclass.min_answers:
                reason = (
                    f"Round {round_no} has {len(opinions)} answers but the class needs "
                    f"{dclass.min_answers}; the consultation cannot conclude."
                )
                await step.transition(
                    "stall", f"{decision_id}:stall:consult:{round_no}", reason=reason
                )
                publish_markdown(
                    decision_id, "consult", f"# Consultation stalled\n\n{reason}", reason
                )
                return "stalled"
            aggregate = aggregate_round(opinions, dclass.criteria, dclass.consensus, round=round_no)
            first = await step.note(
                "consultation.round_aggregated",
                key=f"{decision_id}:aggregate:{round_no}",
                payload={
                    "round": round_no,
                    "answers": aggregate.answers,
                    "consensus": aggregate.consensus,
                    "dissent": list(aggregate.dissent),
                    "recommendations": aggregate.recommendations,
                    "medians": {c.criterion: c.median for c in aggregate.criteria},
                    "iqr": {c.criterion: c.iqr for c in aggregate.criteria},
                },
            )
            if first:
                publish_markdown(
                    decision_id,
                    "consult",
                    f"# Consultation of {decision_id}\n\n## Experts\n\n"
                    f"{_routing_markdown(routing)}\n\n" + aggregate_markdown(aggregate),
                    f"Round {round_no}: "
                    + ("consensus" if aggregate.consensus else "no consensus yet"),
                )
                logger.info(
                    "Round %s: %s",
                    round_no,
                    "consensus" if aggregate.consensus else aggregate.dissent,
                )
            if aggregate.consensus or round_no >= dclass.max_rounds:
                break
            await step.transition(
                "next_round", f"{decision_id}:next-round:{round_no}", max_rounds=dclass.max_rounds
            )
        verdict = (
            "**Consensus** on every criterion."
            if aggregate.consensus
            else f"**No consensus after {round_no} rounds (the class's maximum).** Dissent: "
            + "; ".join(aggregate.dissent)
            + "."
        )
        report = (
            f"# Consultation report: {decision_id}\n\n{verdict}\n\n## Experts\n\n"
            f"{_routing_markdown(routing)}\n\n" + aggregate_markdown(aggregate)
        )
        if await step.note(
            "consultation.reported",
            key=f"{decision_id}:consult-report:{round_no}",
            payload={
                "rounds": round_no,
                "consensus": aggregate.consensus,
                "dissent": list(aggregate.dissent),
                "recommendations": aggregate.recommendations,
                "conditions": list(aggregate.conditions),
            },
        ):
            publish_markdown(decision_id, "consult", report, "Consultation report")
        await step.transition("open_discussion", f"{decision_id}:open-discussion:{round_no}")
        return "consensus" if aggregate.consensus else "dissent"


# -- discuss ---------------------------------------------------------------------------------


@flow(name="discussion", flow_run_name="discussion · {decision_id}")
async def discussion(decision_id: str) -> str:
    """Collect positions from the consulted experts and stakeholder representatives."""
    async with flow_context() as ctx:
        step = await Step.load(ctx, decision_id)
        decision, dclass = step.decision, step.dclass
        if decision.state is not DecisionState.DISCUSSING:
            return decision.state.value
        tasks = await off_loop(services.tasks_of, ctx.engine, decision_id)
        last_round = max((t.round for t in tasks if t.kind is TaskKind.CONSULT), default=0)
        consulted = sorted(
            {
                t.assignee_id
                for t in tasks
                if t.kind is TaskKind.CONSULT
                and t.round == last_round
                and t.status is TaskStatus.ANSWERED
            }
        )
        actors = await off_loop(services.list_actors, ctx.engine)
        people = consulted + [
            a.id for a in stakeholder_representatives(actors, decision) if a.id not in consulted
        ]
        for person in people:
            await step.assign(
                TaskKind.DISCUSS,
                person,
                round=decision.round,
                duration=min(dclass.durations.answer, dclass.durations.discuss),
                key=f"{decision_id}:discuss:{decision.round}:{person}",
            )

        def intro(task: Task) -> str:
            return (
                _proposal_intro(decision) + "\n\n### Discussion\nState your position and comments."
            )

        outcomes = await step.collect(
            TaskKind.DISCUSS, decision.round, stage="discuss", intro=intro
        )
        if outcomes is None:
            return WAITING
        decision = await off_loop(services.get_decision, ctx.engine, decision_id)
        names = {a.id: a.name for a in actors}
        lines = [
            f"# Minutes of the discussion of {decision_id}",
            "",
            f"Final proposal: version "
            f"{decision.current_version.number}, “{md_inline(decision.current_version.title)}”.",
            "",
        ]
        for o in outcomes:
            if o.answer is None:
                lines.append(
                    f"- {md_inline(names.get(o.task.assignee_id, o.task.assignee_id))}: "
                    "no position given."
                )
            else:
                c = Comment.model_validate(o.answer)
                lines.append(
                    f"- **{md_inline(names.get(o.task.assignee_id, o.task.assignee_id))}** "
                    f"({c.stance.replace('_', ' ')}): {md_inline(c.text)}"
                )
        if len(decision.versions) > 1:
            lines += ["", "## Proposal versions", ""]
            lines += [
                f"- v{v.number}: {md_inline(v.title)}"
                + (f" — {md_inline(v.note)}" if v.note else "")
                for v in decision.versions
            ]
        if await step.note(
            "discussion.minuted",
            key=f"{decision_id}:minutes:{decision.round}",
            payload={
                "positions": sum(1 for o in outcomes if o.answer),
                "final_version": decision.current_version.number,
            },
        ):
            publish_markdown(decision_id, "discuss", "\n".join(lines), "Minutes")
        await step.transition("open_vote", f"{decision_id}:open-vote:{decision.round}")
        return "minuted"


# -- decide ----------------------------------------------------------------------------------


@flow(name="decision-vote", flow_run_name="decision-vote · {decision_id}")
async def decision_vote(decision_id: str) -> str:
    """The class's decision body votes; the tally decides the resolution."""
    async with flow_context() as ctx:
        step = await Step.load(ctx, decision_id)
        decision, dclass = step.decision, step.dclass
        if decision.state is not DecisionState.DECIDING:
            return decision.state.value
        actors = await off_loop(services.list_actors, ctx.engine)
        members = body_members(actors, dclass)
        refused = 0
        for member in members:
            task = await step.assign(
                TaskKind.VOTE,
                member.id,
                round=decision.round,
                duration=min(dclass.durations.answer, dclass.durations.vote),
                key=f"{decision_id}:vote:{decision.round}:{member.id}",
            )
            if task is None:
                refused += 1  # conflicted or separated: counts as recused
        recommendations = await off_loop(services.recommendations_of, ctx.engine, decision_id)

        def intro(task: Task) -> str:
            recs = (
                ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in recommendations.items())
                or "none"
            )
            return (
                _proposal_intro(decision) + f"\n\n### Vote of the {dclass.decision_body}\n"
                f"The experts recommended: {recs}. A vote against their consensus needs a "
                "justification. Choose `recuse` if you have a conflict."
            )

        outcomes = await step.collect(TaskKind.VOTE, decision.round, stage="decide", intro=intro)
        if outcomes is None:
            return WAITING
        votes: list[Vote] = []
        recused = refused
        for o in outcomes:
            if o.answer is None:
                continue
            if o.answer.get("kind") == "recusal":
                Recusal.model_validate(o.answer)
                recused += 1
            else:
                votes.append(Vote.model_validate(o.answer))
        resolution = tally(votes, body_size=len(members), recused=recused, decision_class=dclass)
        against = against_consensus(resolution.outcome, recommendations)
        if await step.note(
            "vote.tallied",
            key=f"{decision_id}:tally:{decision.round}",
            payload={**resolution.model_dump(), "against_consensus": against},
        ):
            lines = [
                f"# Resolution on {decision_id}",
                "",
                resolution.explain(),
                "",
                "| choice | votes |",
                "|---|---|",
                *[f"| {k} | {v} |" for k, v in resolution.counts.items()],
            ]
            if against:
                lines += [
                    "",
                    "The resolution goes against the experts' consensus; the members' "
                    "justifications are in the history.",
                ]
            publish_markdown(decision_id, "decide", "\n".join(lines), resolution.explain())
        key = f"{decision_id}:resolution:{decision.round}"
        if resolution.outcome == "no_quorum":
            await step.transition("stall", key, reason=resolution.explain())
            return "stalled"
        if resolution.outcome in {"approve", "approve_with_amendments"}:
            await step.transition(
                "approve", key, with_amendments=resolution.outcome == "approve_with_amendments"
            )
            return resolution.outcome
        if resolution.outcome == "return":
            questions = "; ".join(v.rationale for v in votes if v.choice == "return")
            await step.transition("return_to_consultation", key, questions=questions)
            return "return"
        await step.transition("reject", key)
        return "reject"


# -- execute ---------------------------------------------------------------------------------


@flow(name="execution", flow_run_name="execution · {decision_id}")
async def execution(decision_id: str) -> str:
    """Executors report progress; independent inspectors accept or send the work back."""
    async with flow_context() as ctx:
        step = await Step.load(ctx, decision_id)
        if step.decision.state is DecisionState.APPROVED:
            await step.transition("start_execution", f"{decision_id}:start-execution")
        decision, dclass = step.decision, step.dclass
        if decision.state is not DecisionState.EXECUTING:
            return decision.state.value
        actors = await off_loop(services.list_actors, ctx.engine)
        executors = executors_for(actors, decision)
        conditions = await off_loop(_conditions, ctx.engine, decision_id)
        if not executors:
            reason = "No executor is registered for the decision's executor organisations."
            await step.transition("stall", f"{decision_id}:stall:no-executor", reason=reason)
            return "stalled"

        def intro(task: Task) -> str:
            measures = "\n".join(f"- {m}" for m in task.measures) or "- as the proposal says"
            return (
                _proposal_intro(decision)
                + f"\n\n### Execution\nZone: {task.zone}\n\nMeasures:\n{measures}"
            )

        record = [f"# Execution record of {decision_id}", ""]
        for cycle in range(1, MAX_EXECUTION_CYCLES + 1):
            for executor in executors:
                await step.assign(
                    TaskKind.EXECUTE,
                    executor.id,
                    round=cycle,
                    duration=dclass.durations.execute,
                    zone=f"{decision.district} "
                    f"({', '.join(executor.affiliations) or executor.name})",
                    measures=tuple(conditions),
                    key=f"{decision_id}:execute:{cycle}:{executor.id}",
                )
            reports = await step.collect(TaskKind.EXECUTE, cycle, stage="execute", intro=intro)
            if reports is None:
                return WAITING
            for r in reports:
                if r.answer is None:
                    await step.note(
                        "execution.escalated",
                        key=f"{r.task.id}:escalated",
                        payload={
                            "task_id": r.task.id,
                            "executor": r.task.assignee_id,
                            "reason": "no progress report by the deadline",
                        },
                    )
                else:
                    p = ProgressReport.model_validate(r.answer)
                    record.append(
                        f"- cycle {cycle}, {r.task.assignee_id}: {p.percent_complete}% — "
                        f"{md_inline(p.text)}"
                    )
            assigned = 0
            for inspector in inspectors_for(actors, dclass):
                if assigned >= dclass.acceptance.inspectors:
                    break
                task = await step.assign(
                    TaskKind.INSPECT,
                    inspector.id,
                    round=cycle,
                    duration=dclass.durations.answer,
                    key=f"{decision_id}:inspect:{cycle}:{inspector.id}",
                )
                assigned += task is not None
            if assigned < dclass.acceptance.inspectors:
                reason = (
                    f"Only {assigned} independent inspectors are available; the class "
                    f"needs {dclass.acceptance.inspectors}."
                )
                await step.transition(
                    "stall", f"{decision_id}:stall:inspectors:{cycle}", reason=reason
                )
                return "stalled"
            verdicts = await step.collect(TaskKind.INSPECT, cycle, stage="inspect", intro=intro)
            if verdicts is None:
                return WAITING
            accepted = [Acceptance.model_validate(v.answer) for v in verdicts if v.answer]
            yes = sum(1 for a in accepted if a.verdict == "accept")
            record += [
                f"- cycle {cycle}, inspection: {a.verdict} — {md_inline(a.findings)}"
                for a in accepted
            ]
            inspected = len(verdicts)
            needed = inspected if dclass.acceptance.rule == "all" else inspected // 2 + 1
            if yes >= needed:
                if not step.done(f"{decision_id}:accept:{cycle}"):
                    publish_markdown(
                        decision_id, "execute", "\n".join(record), f"Execution cycle {cycle}"
                    )
                await step.transition("accept_execution", f"{decision_id}:accept:{cycle}")
                await step.transition("close", f"{decision_id}:close")
                return "accepted"
            if await step.note(
                "execution.rework",
                key=f"{decision_id}:rework:{cycle}",
                payload={"cycle": cycle, "accepted": yes, "needed": needed},
            ):
                publish_markdown(
                    decision_id, "execute", "\n".join(record), f"Execution cycle {cycle}"
                )
        reason = f"The work was not accepted after {MAX_EXECUTION_CYCLES} cycles."
        await step.transition("stall", f"{decision_id}:stall:execution", reason=reason)
        return "stalled"


def _conditions(engine: Any, decision_id: str) -> list[str]:
    """The conditions the experts attached in the consultation report."""
    events = services.history(engine, decision_id)
    reports = [e for e in events if e.action == "consultation.reported"]
    return list(reports[-1].data.get("conditions", [])) if reports else []
