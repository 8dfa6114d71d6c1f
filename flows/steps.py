"""One step of a stage: load the decision's view, ask the procedure, carry out its commands.

The rules are the procedure's (:mod:`decisions.procedure`); this module only does what
its commands say, with the store's services and Prefect: assigns tasks (the store checks
the separation of powers and audits a refusal), records facts and transitions under the
commands' keys, publishes a report when its record was written by this run, and gives each
open task a suspended person run (:mod:`flows.runs`) before the step ends ``waiting``.
Then it loads the view again and asks again, until the procedure waits or the stage is over.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prefect import get_client, get_run_logger
from prefect.client.orchestration import PrefectClient

from decisions import procedure, services
from decisions.exceptions import PermissionDenied
from decisions.model import Decision, TaskKind, utcnow
from decisions.procedure import (
    Assign,
    Command,
    ConcludeConsultation,
    DecisionView,
    Escalate,
    RecordCycle,
    RecordMinutes,
    RecordRound,
    RecordTally,
    Route,
    TenderStep,
    Transition,
    Wait,
)
from flows import reports
from flows.context import FlowContext, off_loop
from flows.publishing import emit_transition, publish_markdown
from flows.runs import answer_deployment, open_person_run

__all__ = ["WAITING", "run_tags", "carry_out_stage"]

WAITING = "waiting"
#: A stage that has not settled after this many rounds of commands has a bug in its rules.
MAX_BATCHES = 100


def run_tags(decision: Decision, stage: str) -> list[str]:
    """The tags every run of a decision's stage carries (filters in the Prefect UI)."""
    return [
        f"decision:{decision.id}",
        f"class:{decision.class_name}",
        f"district:{decision.district}",
        f"stage:{stage}",
    ]


@dataclass
class StageStep:
    """The commands of one stage, carried out for one decision in one run."""

    ctx: FlowContext
    decision_id: str
    stage: str
    refused: set[str] = field(default_factory=set)

    async def view(self) -> DecisionView:
        return await off_loop(
            services.load_view,
            self.ctx.engine,
            self.decision_id,
            self.ctx.classes,
            refused=self.refused,
        )

    async def transition(self, command: Transition) -> None:
        decision, first = await off_loop(
            services.apply_transition_once,
            self.ctx.engine,
            self.decision_id,
            command.action,
            idempotency_key=command.key,
            **command.params,
        )
        if not first:
            return
        emit_transition(
            decision,
            command.action,
            actor=services.SYSTEM,
            **{k: v for k, v in command.params.items() if isinstance(v, str | bool | int)},
        )
        if command.action == "stall" and command.reason:
            publish_markdown(
                self.decision_id,
                self.stage,
                f"# {procedure.STAGE_NAMES[self.stage].capitalize()} stalled\n\n{command.reason}",
                command.reason,
            )

    async def assign(self, command: Assign) -> None:
        """Give the task to the first candidate the separation of powers allows."""
        for candidate, key in zip(command.candidates, command.keys, strict=True):
            try:
                await off_loop(
                    services.assign_task,
                    self.ctx.engine,
                    self.decision_id,
                    command.kind,
                    candidate,
                    round=command.round,
                    deadline=utcnow() + command.duration,
                    zone=command.zone,
                    measures=command.measures,
                    idempotency_key=key,
                )
            except PermissionDenied as refusal:
                get_run_logger().info("Not assigned: %s", refusal)
                self.refused.add(key)
                continue
            return

    async def route(self, view: DecisionView, command: Route) -> None:
        """Route the class's experts from the expertise graph, then record them, or stall."""
        # the graph's libraries load only for the step that routes
        from flows.routing import route_consultation, routing_record, shortfall_cause

        routed, routing = await off_loop(
            route_consultation, self.ctx.engine, view.decision, view.decision_class
        )
        stall = procedure.after_routing(
            view, command.first_round, len(routed), shortfall_cause(routing)
        )
        if stall is not None:
            await self.transition(stall)
            return
        await off_loop(
            services.record_routing,
            self.ctx.engine,
            self.decision_id,
            routing_record(command.first_round, routed, routing),
            key=command.key,
        )

    async def wait(self, view: DecisionView, command: Wait) -> None:
        """Give every open task its person's suspended run, so no process waits."""
        async with get_client() as client:
            await self._open_forms(client, view, command)
        get_run_logger().info(
            "%s waits for %s answers; no process waits with it.",
            self.decision_id,
            len(command.tasks),
        )

    async def _open_forms(self, client: PrefectClient, view: DecisionView, command: Wait) -> None:
        """One form after another: a Prefect server on SQLite (the embedded default) lets
        one request write at a time and answers the others 503, which Prefect's client sends
        again only after 2 s, then 4 s; opened all at once, a step's five forms took 6 s
        instead of 1. On PostgreSQL a form costs the step 3 requests of a few milliseconds."""
        deployment = await answer_deployment(client)
        for task in command.tasks:
            await open_person_run(
                client,
                self.ctx.engine,
                task,
                deployment=deployment,
                stage=command.stage,
                intro=reports.intro(view, task),
                criteria=_form_criteria(view, task),
                tags=run_tags(view.decision, self.stage),
                labels=self.ctx.classes.labels,
            )

    async def note(self, action: str, payload: dict[str, Any], key: str) -> bool:
        """Record a fact of the stage that changes no state; True when this run wrote it."""
        return await off_loop(
            services.append_event_once,
            self.ctx.engine,
            actor=services.SYSTEM,
            action=action,
            decision_id=self.decision_id,
            payload=payload,
            idempotency_key=key,
        )

    async def record(self, view: DecisionView, command: Command) -> None:
        """Record a fact of the stage; publish its report when this run wrote it."""
        engine, did = self.ctx.engine, self.decision_id
        if isinstance(command, RecordRound | ConcludeConsultation):
            routing = view.routing_for(command.record.first_round)
            assert routing is not None, "a round is recorded only after its routing"
            if isinstance(command, RecordRound):
                if await off_loop(
                    services.record_round, engine, did, command.record, key=command.key
                ):
                    publish_markdown(
                        did,
                        "consult",
                        reports.round_markdown(did, routing, command.aggregate),
                        f"Round {command.record.round}",
                    )
                    get_run_logger().info(
                        "Round %s: %s",
                        command.record.round,
                        "consensus" if command.record.consensus else command.record.dissent,
                    )
            elif await off_loop(
                services.conclude_consultation,
                engine,
                did,
                command.record,
                key=command.key,
            ):
                publish_markdown(
                    did,
                    "consult",
                    reports.consultation_report(did, routing, command.aggregate),
                    "Consultation report",
                )
        elif isinstance(command, RecordMinutes):
            payload: dict[str, Any] = {
                "positions": command.positions,
                "final_version": command.final_version,
            }
            if await self.note("discussion.minuted", payload, command.key):
                publish_markdown(did, "discuss", reports.minutes(view, command.tasks), "Minutes")
        elif isinstance(command, RecordTally):
            payload = {
                **command.resolution.model_dump(),
                "against_consensus": command.against_consensus,
            }
            if await self.note("vote.tallied", payload, command.key):
                publish_markdown(
                    did,
                    "decide",
                    reports.resolution_markdown(did, command.resolution, command.against_consensus),
                    command.resolution.explain(),
                )
        elif isinstance(command, Escalate):
            payload = {
                "task_id": command.task.id,
                "executor": command.task.assignee_id,
                "reason": command.reason,
            }
            await self.note("execution.escalated", payload, command.key)
        elif isinstance(command, RecordCycle):
            if await off_loop(services.record_cycle, engine, did, command.cycle, key=command.key):
                publish_markdown(
                    did,
                    "execute",
                    reports.execution_record(view, command.cycle.cycle),
                    f"Execution cycle {command.cycle.cycle}",
                )
        else:
            raise TypeError(f"{type(command).__name__} is not a stage's command")


def _form_criteria(view: DecisionView, task: Any) -> tuple[str, ...]:
    """What a task's form is made of: the class's criteria, or a tender evaluator's cells."""
    if task.kind is TaskKind.SCORE and view.tender is not None:
        from flows.tender import cells_of

        return cells_of(view.tender, task.assignee_id)
    return view.decision_class.criteria


async def carry_out_stage(ctx: FlowContext, decision_id: str, stage: str) -> str:
    """Take ``stage`` of the decision as far as the answers allow.

    Returns ``waiting`` when the stage waits for people, otherwise the decision's state
    once the stage is over (or the decision stalled in it).
    """
    step = StageStep(ctx, decision_id, stage)
    previous: list[Command] = []
    for _ in range(MAX_BATCHES):
        view = await step.view()
        if procedure.stage_for(view.decision.state) != stage:
            return view.decision.state.value
        commands = procedure.next_commands(view)
        if not commands:
            return view.decision.state.value
        if commands == previous:
            raise RuntimeError(
                f"The {stage} stage of {decision_id} made no progress: the store did not take "
                f"{type(commands[0]).__name__} (key {getattr(commands[0], 'key', '-')})."
            )
        previous = commands
        for command in commands:
            if isinstance(command, Transition):
                await step.transition(command)
            elif isinstance(command, Assign):
                await step.assign(command)
            elif isinstance(command, Route):
                await step.route(view, command)
            elif isinstance(command, Wait):
                await step.wait(view, command)
                return WAITING
            elif isinstance(command, TenderStep):
                from flows.tender import carry_out_tender  # the draw's libraries load here

                await carry_out_tender(step, view, command)
            else:
                await step.record(view, command)
    raise RuntimeError(
        f"The {stage} stage of {decision_id} did not settle after {MAX_BATCHES} steps."
    )
