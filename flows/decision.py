"""The decision flow: takes one decision as far as it can go now, as the store says it stands.

It reads the decision's state and runs the stage that state calls for, again and again, so
a decision returned by its body goes back to consultation. When a stage must wait for
people it returns ``waiting`` and this run ends: no process holds the decision while it
waits. The last answer of the step (or the deadline sweep) starts the next run of this
flow, which picks up where the store says the decision is. Every run publishes the history
artifact with the chain's head, so the UI's record grows with the decision.

A stage whose run fails (a bug, a lost database, a broken classes file) never strands its
decision: the decision goes ``stalled`` with a sentence naming the stage and the cause, which
``counsel status`` and the history show, and ``counsel resume`` takes it on once the cause is
fixed. Only when even that cannot be written (the store is gone), or when Prefect's API
cannot be reached (a stack restarting), does this run fail; the deadline sweep continues the
decision when they are back.
"""

from __future__ import annotations

from typing import Any

import httpx
from prefect import flow, get_run_logger, tags
from prefect.exceptions import PrefectHTTPStatusError

from decisions import services
from decisions.exceptions import CounselError
from decisions.model import TRANSITIONS, State
from flows.context import flow_context, off_loop
from flows.publishing import publish_history
from flows.stages import (
    WAITING,
    decision_vote,
    discussion,
    execution,
    expert_consultation,
    run_tags,
)

__all__ = ["decision_flow", "STAGE_FOR_STATE", "failure_reason"]

STAGE_FOR_STATE: dict[State, tuple[str, Any]] = {
    State.SUBMITTED: ("consult", expert_consultation),
    State.RETURNED: ("consult", expert_consultation),
    State.CONSULTING: ("consult", expert_consultation),
    State.DISCUSSING: ("discuss", discussion),
    State.DECIDING: ("decide", decision_vote),
    State.APPROVED: ("execute", execution),
    State.EXECUTING: ("execute", execution),
}
MAX_STAGES = 20


def prefect_unreachable(err: BaseException) -> bool:
    """A failure of Prefect's own API (a server restarting, overloaded): the step runs again
    when the deadline sweep continues the decision, so it fails this run instead of stalling
    the decision."""
    if isinstance(err, httpx.TransportError):
        return True
    return isinstance(err, PrefectHTTPStatusError) and err.response.status_code >= 500
STAGE_NAMES = {
    "consult": "consultation",
    "discuss": "discussion",
    "decide": "vote",
    "execute": "execution",
}


def failure_reason(decision_id: str, stage: str, err: BaseException) -> str:
    """The sentence a planner reads when a stage's run failed."""
    cause = " ".join(str(err).split()).rstrip(".") or "no message"
    if not isinstance(err, CounselError):
        cause = f"{type(err).__name__}: {cause}"
    return (
        f"The {STAGE_NAMES.get(stage, stage)} stage failed: {cause}. Once the cause is fixed, "
        f"`counsel resume {decision_id}` takes the decision on from there."
    )


async def _stall_on_failure(ctx: Any, decision_id: str, stage: str, err: Exception) -> None:
    """Stall the decision with the failure's cause, keyed so a retried run stalls it once.

    If the decision already left the stages (the failure came after its last step) the
    failure is raised as it is; if the store cannot be written it fails this run, and the
    sweep continues the decision later.
    """
    decision = await off_loop(services.get_decision, ctx.engine, decision_id)
    if decision.state not in TRANSITIONS["stall"][0]:
        if decision.state is State.STALLED:
            return
        raise err
    seen = await off_loop(services.event_count, ctx.engine, decision_id)
    await off_loop(
        services.apply_transition,
        ctx.engine,
        decision_id,
        "stall",
        idempotency_key=f"{decision_id}:stall:failed:{stage}:{seen}",
        reason=failure_reason(decision_id, stage, err),
    )


async def _tag_own_run(ctx: Any, decision_id: str) -> None:
    """Give this run the decision's tags, however it was started (UI, CLI, deployment)."""
    from prefect import get_client
    from prefect.context import get_run_context

    decision = await off_loop(services.get_decision, ctx.engine, decision_id)
    run = get_run_context().flow_run  # type: ignore[union-attr]
    if run is None:
        return
    wanted = [t for t in run_tags(decision, "decision") if not t.startswith("stage:")]
    if set(wanted) <= set(run.tags):
        return  # started by a continuation, which tags its runs
    async with get_client() as client:
        await client.update_flow_run(run.id, tags=sorted({*run.tags, *wanted}))


@flow(name="decision", flow_run_name="{decision_id} · {title}")
async def decision_flow(decision_id: str, title: str = "") -> str:
    """Run the decision's stages until it waits for people or is closed, rejected,
    withdrawn or stalled; returns ``waiting`` or the final state."""
    logger = get_run_logger()
    async with flow_context() as ctx:
        await _tag_own_run(ctx, decision_id)
        for _ in range(MAX_STAGES):
            decision = await off_loop(services.get_decision, ctx.engine, decision_id)
            if decision.state not in STAGE_FOR_STATE:
                break
            stage, stage_flow = STAGE_FOR_STATE[decision.state]
            logger.info("%s is %s: running the %s stage.", decision_id, decision.state.value, stage)
            try:
                with tags(*run_tags(decision, stage)):
                    outcome = await stage_flow(decision_id)
            except Exception as err:  # noqa: BLE001 - any other failure stalls, with its cause
                if prefect_unreachable(err):
                    raise
                logger.exception("The %s stage of %s failed.", stage, decision_id)
                await _stall_on_failure(ctx, decision_id, stage, err)
                break
            if outcome == WAITING:
                break
        decision = await off_loop(services.get_decision, ctx.engine, decision_id)
        head = publish_history(ctx.engine, decision_id)
        logger.info(
            "%s is %s; chain head %s events, %s.",
            decision_id,
            decision.state.value,
            head["count"],
            head["head_hash"][:16],
        )
        if decision.state is State.STALLED:
            logger.warning("%s stalled: %s", decision_id, decision.state_reason)
        return WAITING if decision.state in STAGE_FOR_STATE else decision.state.value
