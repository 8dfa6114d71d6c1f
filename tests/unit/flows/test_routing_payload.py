"""A routing's record and report stay bounded and say what routing could not do."""

from __future__ import annotations

import pytest

from decisions.classes import load_classes
from decisions.model import Decision
from decisions.procedure import DecisionView, after_routing
from decisions.progress import Routing as Record
from decisions.progress import Slot
from experts.ranking import Exclusion, Routing, Shortfall
from flows.reports import routing_markdown
from flows.routing import KEPT_OUT_LIMIT, RoutedExpert, routing_record, shortfall_cause

ROUTED = [
    RoutedExpert(
        actor_id="e001",
        expert_id="E001",
        name="王芳",
        reason="covers 道路清扫保洁",
        alternates=("e002",),
    )
]


def routing(kept: int, shortfall: bool) -> Routing:
    return Routing(
        topics=("street-cleaning",),
        district=None,
        picks=(),
        uncovered=(),
        excluded=tuple(
            Exclusion(
                expert=f"E{i:03}",
                name=f"专家{i}",
                score=0.1,
                cause="organisation",
                reason="shares 单位0 with the pick 王芳",
            )
            for i in range(kept)
        ),
        shortfall=Shortfall(
            asked=9,
            found=1,
            relevant=kept + 1,
            rules={"organisation": kept},
            reason=f"asked for 9 experts, found 1: organisation diversity kept out {kept} experts",
        )
        if shortfall
        else None,
    )


@pytest.mark.parametrize("kept", [0, 3, KEPT_OUT_LIMIT, 400])
def test_payload_names_at_most_the_limit_and_counts_the_rest(kept: int) -> None:
    """Kept-out experts are named with id, name and rule up to the limit, then counted."""
    record = routing_record(1, ROUTED, routing(kept, shortfall=True))
    assert record.slots == (
        Slot(number=0, expert="e001", alternates=("e002",), reason="王芳: covers 道路清扫保洁"),
    )
    payload = record.notes
    assert len(payload["kept_out"]) == min(kept, KEPT_OUT_LIMIT)
    assert payload["kept_out_count"] == kept
    assert all(set(x) == {"expert", "name", "rule", "reason"} for x in payload["kept_out"])
    assert payload["shortfall"]["asked"] == 9


@pytest.mark.parametrize("kept", [3, 400])
def test_report_shows_the_shortfall_and_a_few_kept_out(kept: int) -> None:
    """The report says fewer experts were found, lists the first few kept out and counts more."""
    text = routing_markdown(routing_record(1, ROUTED, routing(kept, shortfall=True)))
    text = text.replace("\\", "")  # as rendered: markdown escapes removed
    assert "**Fewer experts than asked:** asked for 9 experts, found 1" in text
    assert "专家0 (`E000`), organisation: shares 单位0" in text
    assert ("and 390 more" in text) == (kept == 400)


def test_report_reads_routings_recorded_before_shortfalls_were() -> None:
    """A routing migrated from an event without shortfall or kept-out keys still renders."""
    old = Record(first_round=1, slots=(Slot(number=0, expert="e001", reason="王芳: x"),))
    assert routing_markdown(old) == "- **王芳\\: x** (`e001`); alternates none"


def test_report_escapes_markdown_in_names() -> None:
    """A name from the expertise database cannot add links or emphasis to the report."""
    record = routing_record(1, ROUTED, routing(1, shortfall=False))
    record.notes["kept_out"][0]["name"] = "[x](http://evil)"
    assert "\\[x\\]\\(http" in routing_markdown(record)


def test_a_stall_at_routing_gives_the_shortfall() -> None:
    """Too few experts to consult: the stall reason says which rule kept the others out."""
    decision = Decision.file(
        id="D-2026-0001",
        title="t",
        description="d",
        class_name="major",
        district="east",
        planner_id="li-wei",
    )
    view = DecisionView(decision, load_classes().get("major").model_copy(update={"min_answers": 6}))
    stall = after_routing(view, 1, len(ROUTED), shortfall_cause(routing(8, shortfall=True)))
    assert stall is not None and stall.reason is not None
    reason = stall.reason
    assert reason.startswith("Only 1 experts could be routed but the class needs 6 answers: ")
    assert "organisation diversity kept out 8 experts." in reason
