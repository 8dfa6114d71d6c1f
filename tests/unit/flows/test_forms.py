"""The UI forms: constraints the Prefect server enforces from their JSON Schema."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from decisions.classes import load_classes
from decisions.model import Opinion, Recusal, TaskKind, Vote
from flows.forms import FIELD_TEXTS, form_for, personal_form

CRITERIA = ("feasibility", "cost")
BASE = {"answer_code": "ABCDE-23456"}


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
        and name != "answer_code"
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


@pytest.mark.parametrize("kind", list(TaskKind))
def test_no_form_asks_who_answers(kind: TaskKind) -> None:
    """The person is the run's (or the CLI's token's, or the link's): no form has a field for
    an id, and Prefect's server refuses one sent anyway (the schema allows no other field)."""
    schema = personal_form(
        kind, CRITERIA, "wang-fang", labels=load_classes().labels
    ).model_json_schema()
    assert not {"your_id", "person", "actor", "actor_id"} & set(schema["properties"])
    assert schema["additionalProperties"] is False
    assert personal_form(kind, CRITERIA, "wang-fang").person == "wang-fang"


def test_the_personal_form_speaks_the_persons_language_with_the_class_labels() -> None:
    """In Chinese the ratings are titled with the criteria's labels, the choices say what
    each value means, and the text fields carry the catalogue's titles; in English too."""
    labels = load_classes().labels
    zh = personal_form(TaskKind.CONSULT, CRITERIA, "wang-fang", labels=labels, lang="zh")
    props = zh.model_json_schema()["properties"]
    assert props["rating_feasibility"]["title"] == "可行性"
    assert props["rating_cost"]["title"] == "经济性"
    assert props["rating_cost"]["description"] == "1 分最差，9 分最好"
    assert props["recommendation"]["title"] == "您的建议"
    assert "approve_with_conditions = 有条件同意" in props["recommendation"]["description"]
    assert props["rationale"]["title"] == "理由"
    assert props["answer_code"]["title"] == "答复码"
    en = personal_form(TaskKind.VOTE, (), "lin-tao", labels=labels, lang="en")
    props = en.model_json_schema()["properties"]
    assert props["choice"]["title"] == "Your vote"
    assert "recuse = Recuse" in props["choice"]["description"]
    assert props["justification"]["title"] == "Justification"


@pytest.mark.parametrize("kind", list(TaskKind))
def test_labels_change_only_what_a_field_is_called(kind: TaskKind) -> None:
    """The labelled form keeps every constraint of the plain one (Prefect's server enforces
    the same schema), and every field but the ratings has a catalogue entry."""
    plain = form_for(kind, CRITERIA).model_json_schema()
    labelled = personal_form(
        kind, CRITERIA, "wang-fang", labels=load_classes().labels
    ).model_json_schema()
    drop = {"title", "description"}
    assert {
        name: {k: v for k, v in field.items() if k not in drop}
        for name, field in plain["properties"].items()
    } == {
        name: {k: v for k, v in field.items() if k not in drop}
        for name, field in labelled["properties"].items()
    }
    assert plain["required"] == labelled["required"]
    named = set(FIELD_TEXTS[kind]) | {"answer_code"} | {f"rating_{c}" for c in CRITERIA}
    assert set(plain["properties"]) <= named
