"""The Prefect form for staff: a refused answer comes back with the reason and what was typed."""

from __future__ import annotations

import json
import time

import pytest

from decisions import services
from decisions.model import TaskKind
from tests.flows.conftest import Stage, proposal

pytestmark = [
    pytest.mark.flows,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]

#: A hang guard, not a target.
GUARD_S = 300


def _until(what: str, check, guard_s: float = GUARD_S):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + guard_s
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {guard_s} s")
        time.sleep(0.3)


def test_a_refused_answer_in_the_prefect_form_comes_back_as_it_was_typed(stage: Stage) -> None:
    from prefect import get_client

    from flows.local_runner import local_runner
    from flows.warm import start_decision_run

    planner = services.get_actor(stage.engine, "li-wei")
    decision = services.submit_proposal(
        stage.engine, proposal(), planner=planner, classes=stage.classes
    )
    criteria = stage.classes.get(decision.class_name, decision.district_type).criteria
    with local_runner(sweep_every_s=None) as runner, get_client(sync_client=True) as client:
        start_decision_run(client, stage.engine, decision.id)

        def waiting_form() -> str | None:
            for task in services.tasks_of(stage.engine, decision.id):
                if task.kind is TaskKind.CONSULT and task.flow_run_id:
                    state = client.read_flow_run(task.flow_run_id).state
                    if state is not None and state.name == "Suspended":
                        return task.flow_run_id
            return None

        run_id = _until("a consultation form waits", waiting_form)
        typed = {
            "answer_code": "WRONG-CODES",
            "recommendation": "approve_with_conditions",
            "conditions": "夜间保洁两小时\nCap the price",
            "rationale": "可行，但需核算夜班费用。",
            **{f"rating_{c}": 6 for c in criteria},
        }
        client.resume_flow_run(run_id, run_input=typed)

        def asked_again() -> dict[str, object] | None:
            run = client.read_flow_run(run_id)
            keyset = run.state.state_details.run_input_keyset if run.state else None
            if not keyset or not keyset.get("schema", "").endswith("answer-2-schema"):
                return None  # Prefect names them suspended-answer-2-schema, …-description
            schema = client.read_flow_run_input(run_id, keyset["schema"])
            description = client.read_flow_run_input(run_id, keyset["description"])
            return {"schema": json.loads(schema), "description": json.loads(description)}

        again = _until("the form is asked again", asked_again)
    assert not runner.errors, runner.errors
    properties = again["schema"]["properties"]  # type: ignore[index]
    assert {name: properties[name].get("default") for name in typed} == typed
    assert properties["rationale"]["title"] == "理由"  # still the person's language
    assert "answer code" in str(again["description"]).lower()  # the reason, above the form
