"""The four stage flows. They orchestrate; the rules live in ``decisions`` and ``experts``.

Each stage assigns tasks (the store checks the separation of powers and audits refusals),
waits for every person in their own run (:mod:`flows.people`), and turns the answers into
the stage's product with the domain's functions: the consultation report (Delphi rounds,
consensus and dissent), the minutes, the resolution (quorum, majority, recusal), and the
execution record with its acceptance. Deadlines: a person who has not answered by the
class's reminder time is reminded (an audit event and a new wait until the deadline); at
the deadline a consultation task passes to the next alternate; a stage left with too few
answers goes ``stalled`` with the reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from prefect import flow, get_run_logger
from prefect.states import State

from decisions import services
from decisions.classes import DecisionClass
from decisions.consensus import RoundAggregate, aggregate_round
from decisions.exceptions import PermissionDenied, TaskError
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
from flows.people import ask
from flows.publishing import aggregate_markdown, emit_transition, publish_markdown
from flows.routing import route_consultation

__all__ = ["expert_consultation", "discussion", "decision_vote", "execution", "run_tags"]

MAX_EXECUTION_CYCLES = 3


def run_tags(decision: Decision, stage: str) -> list[str]:
    """The tags every run of a decision's stage carries (filters in the Prefect UI)."""
    return [
        f"decision:{decision.id}",
        f"class:{decision.class_name}",
        f"district:{decision.district}",
        f"stage:{stage}",
    ]


async def _transition(
    ctx: FlowContext, decision_id: str, action: str, key: str, **kw: Any
) -> Decision:
    decision = await off_loop(
        services.apply_transition, ctx.engine, decision_id, action, idempotency_key=key, **kw
    )
    emit_transition(
        decision, action, **{k: v for k, v in kw.items() if isinstance(v, str | bool | int)}
    )
    return decision


async def _note(
    ctx: FlowContext, decision_id: str, action: str, *, key: str, payload: dict[str, Any]
) -> None:
    """Record a fact of the stage (routing, a round's aggregate, a tally) in the chain."""
    await off_loop(
        services.append_event,
        ctx.engine,
        actor=services.SYSTEM,
        action=action,
        decision_id=decision_id,
        payload=payload,
        idempotency_key=key,
    )


@dataclass
class Wait:
    """One person's task and who may take it over if they never answer."""

    task: Task
    alternates: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    task: Task
    answer: dict[str, Any] | None


async def _assign(
    ctx: FlowContext,
    decision: Decision,
    kind: TaskKind,
    actor_id: str,
    *,
    round: int,
    duration: timedelta,
    key: str,
    zone: str | None = None,
    measures: tuple[str, ...] = (),
) -> Task | None:
    """Assign a task, or None when the separation of powers refuses (already audited)."""
    try:
        assigned = await off_loop(
            services.assign_task,
            ctx.engine,
            decision.id,
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


async def _wait_for(
    ctx: FlowContext,
    decision: Decision,
    dclass: DecisionClass,
    wait: Wait,
    *,
    stage: str,
    intro: Callable[[Task], str],
    reassign: Callable[[str, int], Awaitable[Task | None]] | None = None,
) -> Outcome:
    """Wait for one task through reminder and deadline, handing it to alternates if allowed."""
    task = wait.task
    tags = run_tags(decision, stage)
    alternates = list(wait.alternates)
    attempt = 0
    while True:
        attempt += 1
        deadline = task.deadline or (utcnow() + dclass.durations.answer)
        reminder_at = task.created_at + dclass.durations.reminder
        for until, phase in (
            (reminder_at, "before the reminder"),
            (deadline, "before the deadline"),
        ):
            if until <= utcnow() and phase == "before the reminder":
                continue
            state: State[Any] = await ask(
                task,
                stage=stage,
                person=task.assignee_id,
                until=until,
                intro=intro(task),
                run_tags=tags,
            )
            if state.is_completed():
                answer = await state.result()  # type: ignore[misc]
                return Outcome(task, answer)
            if phase == "before the reminder":
                await _note(
                    ctx,
                    decision.id,
                    "task.reminded",
                    key=f"{task.id}:reminded",
                    payload={
                        "task_id": task.id,
                        "assignee": task.assignee_id,
                        "deadline": deadline,
                    },
                )
        # the deadline passed without an answer
        try:
            await off_loop(
                services.set_task_status,
                ctx.engine,
                task.id,
                TaskStatus.REASSIGNED if (alternates and reassign) else TaskStatus.CANCELLED,
                reason=f"No answer by the deadline {deadline:%Y-%m-%d %H:%M} UTC.",
                idempotency_key=f"{task.id}:expired",
            )
        except TaskError:  # answered in the last moment, by the CLI: take that answer
            stored = await off_loop(services.answer_for, ctx.engine, task.id)
            return Outcome(task, dict(stored["payload"]) if stored else None)
        replacement: Task | None = None
        while alternates and reassign and replacement is None:
            replacement = await reassign(alternates.pop(0), attempt)
        if replacement is None:
            return Outcome(task, None)
        task = replacement


def _proposal_intro(decision: Decision) -> str:
    version = decision.current_version
    return (
        f"## {decision.id}: {version.title}\n\n{decision.description}\n\n"
        f"**Proposal, version {version.number}:**\n\n{version.text}\n\n"
        f"Class `{decision.class_name}`, district `{decision.district}`."
    )


# -- consult ---------------------------------------------------------------------------------


@flow(name="expert-consultation", flow_run_name="expert-consultation · {decision_id}")
async def expert_consultation(decision_id: str) -> str:
    """Consult routed experts in Delphi rounds until consensus or the class's last round."""
    logger = get_run_logger()
    async with flow_context() as ctx:
        decision = await off_loop(services.get_decision, ctx.engine, decision_id)
        dclass = ctx.decision_class(decision)
        if decision.state in {DecisionState.SUBMITTED, DecisionState.RETURNED}:
            decision = await _transition(
                ctx,
                decision_id,
                "start_consultation",
                f"{decision_id}:start-consultation:{decision.round + 1}",
            )
        routed, routing = await off_loop(route_consultation, ctx.engine, decision, dclass)
        if len(routed) < dclass.min_answers:
            uncovered = (
                "; ".join(u.reason for u in routing.uncovered)
                or "the expertise database has too few matching experts"
            )
            reason = (
                f"Only {len(routed)} experts could be routed but the class needs "
                f"{dclass.min_answers} "
                f"answers: {uncovered}."
            )
            await _transition(
                ctx,
                decision_id,
                "stall",
                f"{decision_id}:stall:routing:{decision.round}",
                reason=reason,
            )
            return "stalled"
        routing_md = "\n".join(
            f"- **{r.name}** (`{r.actor_id}`): {r.reason}; "
            f"alternates {', '.join(r.alternates) or 'none'}"
            for r in routed
        )
        await _note(
            ctx,
            decision_id,
            "consultation.routed",
            key=f"{decision_id}:routed:{decision.round}",
            payload={
                "experts": [r.actor_id for r in routed],
                "alternates": {r.actor_id: list(r.alternates) for r in routed},
                "uncovered": [u.topic for u in routing.uncovered],
                "conflicts": [e.reason for e in routing.excluded if e.cause == "conflict"][:10],
            },
        )
        panel = [(r.actor_id, list(r.alternates)) for r in routed]
        previous: RoundAggregate | None = None
        while True:
            round_no = decision.round
            md_previous = aggregate_markdown(previous) if previous else ""

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

            waits: list[Wait] = []
            for actor_id, alternates in panel:
                task = await _assign(
                    ctx,
                    decision,
                    TaskKind.CONSULT,
                    actor_id,
                    round=round_no,
                    duration=dclass.durations.answer,
                    key=f"{decision_id}:consult:{round_no}:{actor_id}",
                )
                while task is None and alternates:
                    actor_id = alternates.pop(0)
                    task = await _assign(
                        ctx,
                        decision,
                        TaskKind.CONSULT,
                        actor_id,
                        round=round_no,
                        duration=dclass.durations.answer,
                        key=f"{decision_id}:consult:{round_no}:{actor_id}",
                    )
                if task is not None:
                    waits.append(Wait(task, alternates))

            async def reassign(
                actor_id: str, attempt: int, round_no: int = round_no, decision: Decision = decision
            ) -> Task | None:
                return await _assign(
                    ctx,
                    decision,
                    TaskKind.CONSULT,
                    actor_id,
                    round=round_no,
                    duration=dclass.durations.answer,
                    key=f"{decision_id}:consult:{round_no}:{actor_id}",
                )

            outcomes = await asyncio.gather(
                *(
                    _wait_for(
                        ctx, decision, dclass, w, stage="consult", intro=intro, reassign=reassign
                    )
                    for w in waits
                )
            )
            answered = [o for o in outcomes if o.answer is not None]
            opinions = [Opinion.model_validate(o.answer) for o in answered]
            if len(opinions) < dclass.min_answers:
                reason = (
                    f"Round {round_no} has {len(opinions)} answers but the class needs "
                    f"{dclass.min_answers}; the consultation cannot conclude."
                )
                await _transition(
                    ctx,
                    decision_id,
                    "stall",
                    f"{decision_id}:stall:consult:{round_no}",
                    reason=reason,
                )
                publish_markdown(
                    decision_id, "consult", f"# Consultation stalled\n\n{reason}", reason
                )
                return "stalled"
            aggregate = aggregate_round(opinions, dclass.criteria, dclass.consensus, round=round_no)
            await _note(
                ctx,
                decision_id,
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
            publish_markdown(
                decision_id,
                "consult",
                f"# Consultation of {decision_id}\n\n## Experts\n\n{routing_md}\n\n"
                + aggregate_markdown(aggregate),
                f"Round {round_no}: "
                + ("consensus" if aggregate.consensus else "no consensus yet"),
            )
            logger.info(
                "Round %s: %s", round_no, "consensus" if aggregate.consensus else aggregate.dissent
            )
            panel = [(o.task.assignee_id, []) for o in answered]
            if aggregate.consensus or round_no >= dclass.max_rounds:
                break
            previous = aggregate
            decision = await _transition(
                ctx,
                decision_id,
                "next_round",
                f"{decision_id}:next-round:{round_no}",
                max_rounds=dclass.max_rounds,
            )
        verdict = (
            "**Consensus** on every criterion."
            if aggregate.consensus
            else f"**No consensus after {round_no} rounds (the class's maximum).** Dissent: "
            + "; ".join(aggregate.dissent)
            + "."
        )
        report = (
            f"# Consultation report: {decision_id}\n\n{verdict}\n\n## Experts\n\n{routing_md}\n\n"
            + aggregate_markdown(aggregate)
        )
        await _note(
            ctx,
            decision_id,
            "consultation.reported",
            key=f"{decision_id}:consult-report:{round_no}",
            payload={
                "rounds": round_no,
                "consensus": aggregate.consensus,
                "dissent": list(aggregate.dissent),
                "recommendations": aggregate.recommendations,
                "conditions": list(aggregate.conditions),
            },
        )
        publish_markdown(decision_id, "consult", report, "Consultation report")
        await _transition(
            ctx, decision_id, "open_discussion", f"{decision_id}:open-discussion:{round_no}"
        )
        return "consensus" if aggregate.consensus else "dissent"


# -- discuss ---------------------------------------------------------------------------------


@flow(name="discussion", flow_run_name="discussion · {decision_id}")
async def discussion(decision_id: str) -> str:
    """Collect positions from the consulted experts and stakeholder representatives."""
    async with flow_context() as ctx:
        decision = await off_loop(services.get_decision, ctx.engine, decision_id)
        dclass = ctx.decision_class(decision)
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
        waits = []
        for person in people:
            task = await _assign(
                ctx,
                decision,
                TaskKind.DISCUSS,
                person,
                round=1,
                duration=min(dclass.durations.answer, dclass.durations.discuss),
                key=f"{decision_id}:discuss:{decision.round}:{person}",
            )
            if task:
                waits.append(Wait(task))

        def intro(task: Task) -> str:
            return (
                _proposal_intro(decision) + "\n\n### Discussion\nState your position and comments."
            )

        outcomes = await asyncio.gather(
            *(_wait_for(ctx, decision, dclass, w, stage="discuss", intro=intro) for w in waits)
        )
        decision = await off_loop(services.get_decision, ctx.engine, decision_id)
        names = {a.id: a.name for a in actors}
        lines = [
            f"# Minutes of the discussion of {decision_id}",
            "",
            f"Final proposal: version "
            f"{decision.current_version.number}, “{decision.current_version.title}”.",
            "",
        ]
        for o in outcomes:
            if o.answer is None:
                lines.append(
                    f"- {names.get(o.task.assignee_id, o.task.assignee_id)}: no position given."
                )
            else:
                c = Comment.model_validate(o.answer)
                lines.append(
                    f"- **{names.get(o.task.assignee_id, o.task.assignee_id)}** "
                    f"({c.stance.replace('_', ' ')}): {c.text}"
                )
        if len(decision.versions) > 1:
            lines += ["", "## Proposal versions", ""]
            lines += [
                f"- v{v.number}: {v.title}" + (f" — {v.note}" if v.note else "")
                for v in decision.versions
            ]
        minutes = "\n".join(lines)
        await _note(
            ctx,
            decision_id,
            "discussion.minuted",
            key=f"{decision_id}:minutes:{decision.round}",
            payload={
                "positions": sum(1 for o in outcomes if o.answer),
                "final_version": decision.current_version.number,
            },
        )
        publish_markdown(decision_id, "discuss", minutes, "Minutes")
        await _transition(
            ctx, decision_id, "open_vote", f"{decision_id}:open-vote:{decision.round}"
        )
        return "minuted"


# -- decide ----------------------------------------------------------------------------------


@flow(name="decision-vote", flow_run_name="decision-vote · {decision_id}")
async def decision_vote(decision_id: str) -> str:
    """The class's decision body votes; the tally decides the resolution."""
    async with flow_context() as ctx:
        decision = await off_loop(services.get_decision, ctx.engine, decision_id)
        dclass = ctx.decision_class(decision)
        actors = await off_loop(services.list_actors, ctx.engine)
        members = body_members(actors, dclass)
        waits, refused = [], 0
        for member in members:
            task = await _assign(
                ctx,
                decision,
                TaskKind.VOTE,
                member.id,
                round=decision.round,
                duration=min(dclass.durations.answer, dclass.durations.vote),
                key=f"{decision_id}:vote:{decision.round}:{member.id}",
            )
            if task:
                waits.append(Wait(task))
            else:
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

        outcomes = await asyncio.gather(
            *(_wait_for(ctx, decision, dclass, w, stage="decide", intro=intro) for w in waits)
        )
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
        await _note(
            ctx,
            decision_id,
            "vote.tallied",
            key=f"{decision_id}:tally:{decision.round}",
            payload={**resolution.model_dump(), "against_consensus": against},
        )
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
            await _transition(ctx, decision_id, "stall", key, reason=resolution.explain())
            return "stalled"
        if resolution.outcome in {"approve", "approve_with_amendments"}:
            await _transition(
                ctx,
                decision_id,
                "approve",
                key,
                with_amendments=resolution.outcome == "approve_with_amendments",
            )
            return resolution.outcome
        if resolution.outcome == "return":
            questions = "; ".join(v.rationale for v in votes if v.choice == "return")
            await _transition(ctx, decision_id, "return_to_consultation", key, questions=questions)
            return "return"
        await _transition(ctx, decision_id, "reject", key)
        return "reject"


# -- execute ---------------------------------------------------------------------------------


@flow(name="execution", flow_run_name="execution · {decision_id}")
async def execution(decision_id: str) -> str:
    """Executors report progress; independent inspectors accept or send the work back."""
    async with flow_context() as ctx:
        decision = await off_loop(services.get_decision, ctx.engine, decision_id)
        dclass = ctx.decision_class(decision)
        if decision.state is DecisionState.APPROVED:
            decision = await _transition(
                ctx, decision_id, "start_execution", f"{decision_id}:start-execution"
            )
        actors = await off_loop(services.list_actors, ctx.engine)
        executors = executors_for(actors, decision)
        conditions = await off_loop(_conditions, ctx.engine, decision_id)
        if not executors:
            reason = "No executor is registered for the decision's executor organisations."
            await _transition(
                ctx, decision_id, "stall", f"{decision_id}:stall:no-executor", reason=reason
            )
            return "stalled"

        def intro(task: Task) -> str:
            measures = "\n".join(f"- {m}" for m in task.measures) or "- as the proposal says"
            return (
                _proposal_intro(decision)
                + f"\n\n### Execution\nZone: {task.zone}\n\nMeasures:\n{measures}"
            )

        record = [f"# Execution record of {decision_id}", ""]
        for cycle in range(1, MAX_EXECUTION_CYCLES + 1):
            waits = []
            for executor in executors:
                task = await _assign(
                    ctx,
                    decision,
                    TaskKind.EXECUTE,
                    executor.id,
                    round=cycle,
                    duration=dclass.durations.execute,
                    zone=f"{decision.district} "
                    f"({', '.join(executor.affiliations) or executor.name})",
                    measures=tuple(conditions),
                    key=f"{decision_id}:execute:{cycle}:{executor.id}",
                )
                if task:
                    waits.append(Wait(task))
            reports = await asyncio.gather(
                *(_wait_for(ctx, decision, dclass, w, stage="execute", intro=intro) for w in waits)
            )
            for r in reports:
                if r.answer is None:
                    await _note(
                        ctx,
                        decision_id,
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
                        f"- cycle {cycle}, {r.task.assignee_id}: {p.percent_complete}% — {p.text}"
                    )
            inspectors = [i for i in inspectors_for(actors, dclass)]
            inspect_waits = []
            for inspector in inspectors:
                if len(inspect_waits) >= dclass.acceptance.inspectors:
                    break
                task = await _assign(
                    ctx,
                    decision,
                    TaskKind.INSPECT,
                    inspector.id,
                    round=cycle,
                    duration=dclass.durations.answer,
                    key=f"{decision_id}:inspect:{cycle}:{inspector.id}",
                )
                if task:
                    inspect_waits.append(Wait(task))
            if len(inspect_waits) < dclass.acceptance.inspectors:
                reason = (
                    f"Only {len(inspect_waits)} independent inspectors are available; the class "
                    f"needs {dclass.acceptance.inspectors}."
                )
                await _transition(
                    ctx,
                    decision_id,
                    "stall",
                    f"{decision_id}:stall:inspectors:{cycle}",
                    reason=reason,
                )
                return "stalled"
            verdicts = await asyncio.gather(
                *(
                    _wait_for(ctx, decision, dclass, w, stage="inspect", intro=intro)
                    for w in inspect_waits
                )
            )
            accepted = [Acceptance.model_validate(v.answer) for v in verdicts if v.answer]
            yes = sum(1 for a in accepted if a.verdict == "accept")
            record += [f"- cycle {cycle}, inspection: {a.verdict} — {a.findings}" for a in accepted]
            needed = (
                len(inspect_waits)
                if dclass.acceptance.rule == "all"
                else len(inspect_waits) // 2 + 1
            )
            publish_markdown(decision_id, "execute", "\n".join(record), f"Execution cycle {cycle}")
            if yes >= needed:
                await _transition(
                    ctx, decision_id, "accept_execution", f"{decision_id}:accept:{cycle}"
                )
                await _transition(ctx, decision_id, "close", f"{decision_id}:close")
                return "accepted"
            await _note(
                ctx,
                decision_id,
                "execution.rework",
                key=f"{decision_id}:rework:{cycle}",
                payload={"cycle": cycle, "accepted": yes, "needed": needed},
            )
        reason = f"The work was not accepted after {MAX_EXECUTION_CYCLES} cycles."
        await _transition(
            ctx, decision_id, "stall", f"{decision_id}:stall:execution", reason=reason
        )
        return "stalled"


def _conditions(engine: Any, decision_id: str) -> list[str]:
    """The conditions the experts attached in the consultation report."""
    events = services.history(engine, decision_id)
    reports = [e for e in events if e.action == "consultation.reported"]
    return list(reports[-1].data.get("conditions", [])) if reports else []
