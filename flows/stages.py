"""The four stage flows. Each carries out the procedure's commands for its stage.

Each stage is its own flow, so the Prefect UI shows a decision's consultation, discussion,
vote and execution as child runs of its ``decision`` run, with their own names and
artifacts. What a stage does is the procedure's (:mod:`decisions.procedure`); how it is
done — tasks, person runs, reports, events — is :mod:`flows.steps`.

A stage never waits in a process. Each run reads the decision from the store, redoes
nothing that is recorded (every write has a key), goes as far as the answers allow, gives
every open task a suspended person run (:mod:`flows.runs`) and returns ``waiting``. The
last answer a step waits for starts the next run; deadlines (reminders, alternates,
cancellation) are the deadline sweep's (:mod:`flows.sweep`).
"""

from __future__ import annotations

from prefect import flow

from flows.context import NO_RESULTS, flow_context
from flows.steps import WAITING, carry_out_stage, run_tags

__all__ = [
    "expert_consultation",
    "discussion",
    "decision_vote",
    "execution",
    "STAGE_FLOWS",
    "run_tags",
    "WAITING",
]


@flow(name="expert-consultation", flow_run_name="expert-consultation · {decision_id}", **NO_RESULTS)
async def expert_consultation(decision_id: str) -> str:
    """Consult routed experts in Delphi rounds until consensus or the class's last round."""
    async with flow_context() as ctx:
        return await carry_out_stage(ctx, decision_id, "consult")


@flow(name="discussion", flow_run_name="discussion · {decision_id}", **NO_RESULTS)
async def discussion(decision_id: str) -> str:
    """Collect positions from the consulted experts and stakeholder representatives."""
    async with flow_context() as ctx:
        return await carry_out_stage(ctx, decision_id, "discuss")


@flow(name="decision-vote", flow_run_name="decision-vote · {decision_id}", **NO_RESULTS)
async def decision_vote(decision_id: str) -> str:
    """The class's decision body votes; the tally decides the resolution."""
    async with flow_context() as ctx:
        return await carry_out_stage(ctx, decision_id, "decide")


@flow(name="execution", flow_run_name="execution · {decision_id}", **NO_RESULTS)
async def execution(decision_id: str) -> str:
    """Executors report progress; independent inspectors accept or send the work back."""
    async with flow_context() as ctx:
        return await carry_out_stage(ctx, decision_id, "execute")


#: The flow of each stage of :data:`decisions.procedure.lifecycle.STAGES`.
STAGE_FLOWS = {
    "consult": expert_consultation,
    "discuss": discussion,
    "decide": decision_vote,
    "execute": execution,
}
