"""The UI forms: constraints the Prefect server enforces from their JSON Schema."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from decisions.model import Opinion, Recusal, TaskKind, Vote
from flows.forms import form_for

CRITERIA = ("feasibility", "cost")
BASE = {"your_id": "wang-fang", "answer_code": "ABCDE-23456"}


def test_opinion_form_has_one_rating_per_criterion_in_its_schema() -> None:
    """Each criterion of the class is a required 1-9 integer field of the form."""
    schema = form_for(TaskKind.CONSULT, CRITERIA).model_json_schema()
    for criterion in CRITERIA:
        field = schema["properties"][f"rating_{criterion}"]
        assert (field["minimum"], field["maximum"], field["type"]) == (1, 9, "integer")
        assert f"rating_{criterion}" in schema["required"]
    assert schema["properties"]["answer_code"]["pattern"] == "^[A-Z2-9]{5}-[A-Z2-9]{5}$"


def test_opinion_form_becomes_an_opinion() -> None:
    """A filled opinion form becomes the domain's Opinion with its ratings and conditions."""
    form = form_for(TaskKind.CONSULT, CRITERIA).model_validate(
        {
            **BASE,
            "recommendation": "approve_with_conditions",
            "rating_feasibility": 7,
            "rating_cost": 5,
            "conditions": "night shift\nweekly report",
            "rationale": "ok",
        }
    )
    assert form.to_answer() == Opinion(
        recommendation="approve_with_conditions",
        ratings={"feasibility": 7, "cost": 5},
        conditions=("night shift", "weekly report"),
        rationale="ok",
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"rating_cost": 12}, "rating_cost"),
        ({"recommendation": "maybe"}, "recommendation"),
        ({"answer_code": "abc"}, "answer_code"),
        ({"rationale": ""}, "rationale"),
    ],
)
def test_bad_opinion_input_is_refused(change: dict[str, object], field: str) -> None:
    """Out-of-range ratings, unknown choices, malformed codes and empty reasons are refused."""
    data = {
        **BASE,
        "recommendation": "approve",
        "rating_feasibility": 7,
        "rating_cost": 5,
        "rationale": "ok",
        **change,
    }
    with pytest.raises(ValidationError) as info:
        form_for(TaskKind.CONSULT, CRITERIA).model_validate(data)
    assert info.value.errors()[0]["loc"] == (field,)


def test_vote_form_recusal_and_vote() -> None:
    """'recuse' becomes a Recusal; other choices become a Vote with its justification."""
    form = form_for(TaskKind.VOTE)
    assert form.model_validate(
        {**BASE, "choice": "recuse", "rationale": "conflict"}
    ).to_answer() == (Recusal(reason="conflict"))
    vote = form.model_validate({**BASE, "choice": "reject", "rationale": "r", "justification": "j"})
    assert vote.to_answer() == Vote(choice="reject", rationale="r", justification="j")
