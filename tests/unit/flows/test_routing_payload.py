"""The consultation.routed payload and report stay bounded and say what routing could not do."""

from __future__ import annotations

import pytest

from experts.ranking import Exclusion, Routing, Shortfall
from flows.routing import (
    KEPT_OUT_LIMIT,
    RoutedExpert,
    routed_payload,
    routing_markdown,
    too_few_reason,
)

ROUTED = [RoutedExpert(actor_id="e001", expert_id="E001", name="王芳", reason="covers 道路清扫保洁",
                       alternates=("e002",))]


def routing(kept: int, shortfall: bool) -> Routing:
    return Routing(
        topics=("street-cleaning",), district=None, picks=(), uncovered=(),
        excluded=tuple(Exclusion(expert=f"E{i:03}", name=f"专家{i}", score=0.1,
                                 cause="organisation", reason="shares 单位0 with the pick 王芳")
                       for i in range(kept)),
        shortfall=Shortfall(asked=9, found=1, relevant=kept + 1, rules={"organisation": kept},
                            reason=f"asked for 9 experts, found 1: organisation diversity "
                                   f"kept out {kept} experts") if shortfall else None,
    )


@pytest.mark.parametrize("kept", [0, 3, KEPT_OUT_LIMIT, 400])
def test_payload_names_at_most_the_limit_and_counts_the_rest(kept: int) -> None:
    """Kept-out experts are named with id, name and rule up to the limit, then counted."""
    payload = routed_payload(1, ROUTED, routing(kept, shortfall=True))
    assert len(payload["kept_out"]) == min(kept, KEPT_OUT_LIMIT)
    assert payload["kept_out_count"] == kept
    assert all(set(x) == {"expert", "name", "rule", "reason"} for x in payload["kept_out"])
    assert payload["shortfall"]["asked"] == 9


@pytest.mark.parametrize("kept", [3, 400])
def test_report_shows_the_shortfall_and_a_few_kept_out(kept: int) -> None:
    """The report says fewer experts were found, lists the first few kept out and counts more."""
    text = routing_markdown(routed_payload(1, ROUTED, routing(kept, shortfall=True)))
    text = text.replace("\\", "")  # as rendered: markdown escapes removed
    assert "**Fewer experts than asked:** asked for 9 experts, found 1" in text
    assert "专家0 (`E000`), organisation: shares 单位0" in text
    assert ("and 390 more" in text) == (kept == 400)


def test_report_reads_payloads_written_before_shortfalls_were_recorded() -> None:
    """An old routed event without shortfall or kept-out keys still renders."""
    old = {"experts": ["e001"], "alternates": {"e001": []}, "reasons": {"e001": "王芳: x"}}
    assert routing_markdown(old) == "- **王芳\\: x** (`e001`); alternates none"


def test_report_escapes_markdown_in_names() -> None:
    """A name from the expertise database cannot add links or emphasis to the report."""
    payload = routed_payload(1, ROUTED, routing(1, shortfall=False))
    payload["kept_out"][0]["name"] = "[x](http://evil)"
    assert "\\[x\\]\\(http" in routing_markdown(payload)


def test_a_stall_at_routing_gives_the_shortfall() -> None:
    """Too few experts to consult: the stall reason says which rule kept the others out."""
    reason = too_few_reason(ROUTED, routing(8, shortfall=True), 6)
    assert reason.startswith("Only 1 experts could be routed but the class needs 6 answers: ")
    assert "organisation diversity kept out 8 experts." in reason
