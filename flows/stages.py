"""The four stage flows, for running one stage of a decision by hand (their deployments).

A decision's steps do not run these as child runs: the ``decision`` flow carries out the
stage its state calls for inside its own run (:func:`flows.steps.carry_out_stage`), which
spares Prefect's server a flow run, a task run and their state changes per stage
(:mod:`flows.decision`). Started from their deployments (``prefect.yaml``) or called, each
does one stage the same way. What a stage does is the procedure's
(:mod:`decisions.procedure`); how it is done — tasks, person runs, reports, events — is
:mod:`flows.steps`.

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
