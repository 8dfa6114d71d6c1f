"""A tender evaluator's and a witness's forms: one field per bid and criterion, on the
Prefect form and the answer page alike."""

from __future__ import annotations

from decisions.classes import load_classes
from decisions.model import BidScores, Declination, TaskKind, WitnessEntry
from flows.forms import form_for, score_cells
from flows.web.fields import form_fields, problems, read_answer

CELLS = score_cells(("B01", "B03"), ("technical", "commercial"))
LABELS = load_classes().labels
CODE = {"answer_code": "ABCDE-23456"}


def test_the_scoring_form_asks_each_bid_on_each_criterion_and_builds_the_scores() -> None:
    """Four cells make four points fields whose answer maps bid to criterion to points."""
    form = form_for(TaskKind.SCORE, CELLS)
    answer = form.model_validate(
        {**CODE, "points_0": 80, "points_1": 70, "points_2": 90, "points_3": 60, "rationale": "r"}
    ).to_answer()
    assert answer == BidScores(
        scores={
            "B01": {"technical": 80, "commercial": 70},
            "B03": {"technical": 90, "commercial": 60},
        },
        rationale="r",
    )
    declined = form.model_validate({**CODE, "decline": True, "rationale": "conflict"})
    assert declined.to_answer() == Declination(reason="conflict")


def test_a_witness_enters_one_line() -> None:
    """The witness form takes a value, trimmed; the schema refuses control characters."""
    form = form_for(TaskKind.WITNESS)
    assert form.model_validate({**CODE, "value": " 04117 "}).to_answer() == WitnessEntry(
        value="04117"
    )
    assert "pattern" in form.model_json_schema()["properties"]["value"]


def test_the_answer_page_labels_each_cell_and_reads_it_back() -> None:
    """On the page each cell is a 0-100 number named by bid and criterion in the person's
    language; declining is one tick; a blank cell is flagged unless the evaluator declines."""
    fields = form_fields(TaskKind.SCORE, CELLS, LABELS, "zh")
    numbers = [f for f in fields if f.widget == "number"]
    assert [f.label for f in numbers] == [
        "B01 · 技术方案",
        "B01 · 商务条款",
        "B03 · 技术方案",
        "B03 · 商务条款",
    ]
    assert all((f.low, f.high, f.required) == (0, 100, False) for f in numbers)
    assert all("0 到 100" in (f.hint or "") for f in numbers)
    assert any(f.widget == "ticks" and f.name == "decline" for f in fields)
    sent = {"points_0": ["80"], "points_1": ["70"], "points_2": ["90"], "rationale": ["r"]}
    data, _ = read_answer(TaskKind.SCORE, CELLS, sent)
    assert data["points_0"] == 80
    wrong = dict(problems(TaskKind.SCORE, CELLS, data, LABELS, "en"))
    assert list(wrong) == ["points_3"] and "B03 · Commercial terms" in wrong["points_3"]
    data, _ = read_answer(TaskKind.SCORE, CELLS, {"decline": ["true"], "rationale": ["conflict"]})
    assert data["decline"] is True
    assert problems(TaskKind.SCORE, CELLS, data, LABELS, "en") == []
