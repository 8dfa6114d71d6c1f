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


@pytest.mark.parametrize("kind", list(TaskKind))
def test_every_text_field_of_every_form_carries_the_text_policy_in_its_schema(
    kind: TaskKind,
) -> None:
    """Prefect's server refuses over-long or control-character text from the schema alone:
    every free-text field has a maxLength and the safe-text pattern."""
    from decisions.text import SAFE_TEXT_PATTERN

    schema = form_for(kind, CRITERIA).model_json_schema()
    free_text = {
        name: field
        for name, field in schema["properties"].items()
        if field.get("type") == "string"
        and "enum" not in field
        and "const" not in field
        and name not in {"your_id", "answer_code"}
    }
    assert free_text
    for name, field in free_text.items():
        assert field["pattern"] == SAFE_TEXT_PATTERN, name
        assert 0 < field["maxLength"] <= 20_000, name


def test_the_schema_refuses_what_the_server_would_refuse() -> None:
    """Validated as Prefect's server does (JSON Schema), a NUL or 20,001 characters fail."""
    import jsonschema

    schema = form_for(TaskKind.DISCUSS).model_json_schema()
    good = {**BASE, "stance": "support", "text": "同意。"}
    jsonschema.validate(good, schema)
    for bad in ("a\x00b", "x" * 20_001, "\u2066isolate"):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**good, "text": bad}, schema)
