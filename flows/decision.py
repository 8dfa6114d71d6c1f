"""The decision flow: takes one decision as far as it can go now, as the store says it stands.

It reads the decision's state and carries out the stage that state calls for
(:func:`decisions.procedure.stage_for`, :func:`flows.steps.carry_out_stage`), again and
again, so a decision returned by its body goes back to consultation. When a stage must wait
for people it returns ``waiting`` and this run ends: no process holds the decision while it
waits. The last answer of the step (or the deadline sweep) starts the next run of this
flow, which picks up where the store says the decision is. Every run publishes, in its own
run, the stage reports it wrote, the decision's dossier and its history with the chain's
head (:mod:`flows.dossier`), so the UI's record grows with the decision, and ends in a
``Completed`` state named for what the decision does next ("Waiting for 3 of 5 answers",
"Closed: approved", "Stalled"), so the list of a decision's runs tells its story; the run's
result stays ``waiting`` or the final state.

The stages run inside this run, not as child runs of it (the stage flows of
:mod:`flows.stages` remain for running one stage by hand). A child run cost Prefect's
server a flow run, a task run standing for it here, their state changes and reads, a
heartbeat and two logs — a dozen API calls per stage — and showed nothing that this run's
log ("… running the consult stage"), its tags and the stages' artifacts do not;
``bench/api_calls.py`` counts a step's calls.

A stage that fails (a bug, a lost database, a broken classes file) never strands its
decision: the procedure stalls it with a sentence naming the stage and the cause
(:func:`decisions.procedure.failure_stall`), which ``counsel status`` and the history show,
and ``counsel resume`` takes it on once the cause is fixed. Only when even that cannot be
written (the store is gone), or when Prefect's API cannot be reached (a stack restarting),
does this run fail; the deadline sweep continues the decision when they are back.
"""

from __future__ import annotations

from typing import cast
from zoneinfo import ZoneInfo

import httpx
from prefect import flow, get_client, get_run_logger
from prefect.context import get_run_context
from prefect.exceptions import PrefectHTTPStatusError

from decisions import procedure, services
from decisions.exceptions import CounselError
from decisions.model import State
from decisions.settings import load_settings
from flows.context import NO_RESULTS, FlowContext, flow_context, off_loop
from flows.dossier import publish_dossier, step_state
from flows.publishing import reports_of_step
from flows.steps import WAITING, carry_out_stage, run_tags

__all__ = ["decision_flow", "prefect_unreachable", "failure_cause"]

#: More stages than any decision runs in one go (a return goes round four or five).
MAX_STAGES = 20


def prefect_unreachable(err: BaseException) -> bool:
    """A failure of Prefect's own API (a server restarting, overloaded): the step runs again
    when the deadline sweep continues the decision, so it fails this run instead of stalling
    the decision."""
    if isinstance(err, httpx.TransportError):
        return True
    return isinstance(err, PrefectHTTPStatusError) and err.response.status_code >= 500


def failure_cause(err: BaseException) -> str:
    """What failed, for the planner: Counsel's own sentence, or the error's type and text."""
    text = " ".join(str(err).split())
    return text if isinstance(err, CounselError) else f"{type(err).__name__}: {text}"


async def _stall_on_failure(ctx: FlowContext, decision_id: str, stage: str, err: Exception) -> None:
    """Stall the decision with the failure's cause, as the procedure says; raise the failure
    when the decision cannot stall (it left the stages after its last step). If the store
    cannot be written this run fails, and the sweep continues the decision later."""
    decision = await off_loop(services.get_decision, ctx.engine, decision_id)
    if decision.state is State.STALLED:
        return
    position = await off_loop(services.event_count, ctx.engine, decision_id)
    stall = procedure.failure_stall(decision, stage, failure_cause(err), position)
    if stall is None:
        raise err
    await off_loop(
        services.apply_transition,
        ctx.engine,
        decision_id,
        stall.action,
        idempotency_key=stall.key,
        **stall.params,
    )


async def _tag_own_run(ctx: FlowContext, decision_id: str) -> None:
    """Give this run the decision's tags, however it was started (UI, CLI, deployment)."""
    decision = await off_loop(services.get_decision, ctx.engine, decision_id)
    run = get_run_context().flow_run  # type: ignore[union-attr]
    if run is None:
        return
    wanted = [t for t in run_tags(decision, "decision") if not t.startswith("stage:")]
    if set(wanted) <= set(run.tags):
        return  # started by a continuation, which tags its runs
    async with get_client() as client:
        await client.update_flow_run(run.id, tags=sorted({*run.tags, *wanted}))


@flow(name="decision", flow_run_name="{decision_id} · {title}", **NO_RESULTS)
async def decision_flow(decision_id: str, title: str = "") -> str:
    """Run the decision's stages until it waits for people or is closed, rejected,
    withdrawn or stalled; returns ``waiting`` or the final state."""
    logger = get_run_logger()
    async with flow_context() as ctx:
        await _tag_own_run(ctx, decision_id)
        with reports_of_step() as reports:
            await _carry_out_stages(ctx, decision_id)
        zone = ZoneInfo(load_settings().timezone)
        record = publish_dossier(ctx.engine, decision_id, zone, reports)
        decision = record.decision
        count, head_hash = record.head
        logger.info(
            "%s is %s; chain head %s events, %s.",
            decision_id,
            decision.state.value,
            count,
            head_hash[:16],
        )
        if decision.state is State.STALLED:
            logger.warning("%s stalled: %s", decision_id, decision.state_reason)
        result = WAITING if procedure.is_active(decision) else decision.state.value
        return _ends_in(step_state(record, zone, result))


async def _carry_out_stages(ctx: FlowContext, decision_id: str) -> None:
    """Carry out the stages the decision's state calls for until it waits or rests; a stage
    that fails stalls the decision with its cause."""
    logger = get_run_logger()
    for _ in range(MAX_STAGES):
        decision = await off_loop(services.get_decision, ctx.engine, decision_id)
        stage = procedure.stage_for(decision.state)
        if stage is None:
            return
        logger.info("%s is %s: running the %s stage.", decision_id, decision.state.value, stage)
        try:
            outcome = await carry_out_stage(ctx, decision_id, stage)
        except Exception as err:  # noqa: BLE001 - any other failure stalls, with its cause
            if prefect_unreachable(err):
                raise
            logger.exception("The %s stage of %s failed.", stage, decision_id)
            await _stall_on_failure(ctx, decision_id, stage, err)
            return
        if outcome == WAITING:
            return


def _ends_in(state: object) -> str:
    """Prefect makes a state a flow returns the run's final state and gives the flow's
    caller that state's data, so the step's callers still receive ``waiting`` or the final
    state (a string) while the run is named for what the decision does next."""
    return cast(str, state)
