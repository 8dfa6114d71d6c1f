"""A stage whose run fails never strands its decision: it stalls with the cause, and resumes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from decisions import services
from decisions.model import State
from flows.decision import decision_flow
from tests.flows.conftest import Stage, proposal

pytestmark = [
    pytest.mark.flows,
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]

#: The moves that bring a new decision to each stage, and the stage's name in the reason.
TO_STAGE = {
    "consult": ([], State.SUBMITTED, "consultation"),
    "discuss": (["start_consultation", "open_discussion"], State.DISCUSSING, "discussion"),
    "decide": (["start_consultation", "open_discussion", "open_vote"], State.DECIDING, "vote"),
    "execute": (
        ["start_consultation", "open_discussion", "open_vote", "approve"],
        State.APPROVED,
        "execution",
    ),
}


def _decision_in(stage: Stage, where: str) -> str:
    planner = services.get_actor(stage.engine, "li-wei")
    decision = services.submit_proposal(
        stage.engine, proposal(title=f"Failure in {where}"), planner=planner, classes=stage.classes
    )
    moves, state, _ = TO_STAGE[where]
    for move in moves:
        services.apply_transition(stage.engine, decision.id, move)
    assert services.get_decision(stage.engine, decision.id).state is state
    return decision.id


@pytest.mark.parametrize("where", list(TO_STAGE))
def test_a_broken_classes_file_stalls_the_stage_with_its_cause_then_it_resumes(
    stage: Stage, where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the classes file broken under a running stack, each stage's run stalls its
    decision with a sentence naming the stage and the file's error; once the file is
    fixed, the planner's resume returns it to the stage it stalled in."""
    decision_id = _decision_in(stage, where)
    broken = tmp_path / "classes.yaml"
    broken.write_text("version: 1\nclasses: {standard: {experts: many}}\n", encoding="utf-8")
    monkeypatch.setenv("COUNSEL_CLASSES_FILE", str(broken))

    assert asyncio.run(decision_flow(decision_id)) == "stalled"

    decision = services.get_decision(stage.engine, decision_id)
    _, state, name = TO_STAGE[where]
    assert decision.state is State.STALLED and decision.stalled_from is state
    assert decision.state_reason is not None
    assert decision.state_reason.startswith(f"The {name} stage failed: ")
    assert "classes.yaml" in decision.state_reason
    assert f"`counsel resume {decision_id}`" in decision.state_reason
    stalls = [e for e in services.history(stage.engine, decision_id) if "stalled" in e.action]
    assert [e.data["reason"] for e in stalls] == [decision.state_reason]

    monkeypatch.delenv("COUNSEL_CLASSES_FILE")
    services.apply_transition(stage.engine, decision_id, "resume", actor_id="li-wei")
    assert services.get_decision(stage.engine, decision_id).state is state


def test_a_bug_in_a_stage_stalls_with_the_error_named(
    stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected error (here the store's reads failing inside the discussion) stalls
    the decision with the error's type and message, once, however often the run is retried."""
    decision_id = _decision_in(stage, "discuss")

    def broken_tasks(*_: object, **__: object) -> object:
        raise RuntimeError("disk I/O error")

    monkeypatch.setattr("flows.steps.services.load_view", broken_tasks)
    assert asyncio.run(decision_flow(decision_id)) == "stalled"
    assert asyncio.run(decision_flow(decision_id)) == "stalled"
    decision = services.get_decision(stage.engine, decision_id)
    assert decision.state_reason is not None
    assert decision.state_reason.startswith(
        "The discussion stage failed: RuntimeError: disk I/O error."
    )
    stalls = [e for e in services.history(stage.engine, decision_id) if "stalled" in e.action]
    assert len(stalls) == 1


def test_prefect_unreachable_fails_the_run_and_leaves_the_decision_to_the_sweep(
    stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When Prefect's API cannot be reached mid-stage (a stack restarting), the run fails
    and the decision is not stalled: the deadline sweep takes the step again later."""
    import httpx

    decision_id = _decision_in(stage, "decide")

    def unreachable(*_: object, **__: object) -> object:
        raise httpx.ConnectError("connection refused")

    monkeypatch.setattr("flows.steps.services.load_view", unreachable)
    with pytest.raises(httpx.ConnectError):
        asyncio.run(decision_flow(decision_id))
    assert services.get_decision(stage.engine, decision_id).state is State.DECIDING
