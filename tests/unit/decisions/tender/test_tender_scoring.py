"""Scoring: price formulas by worked numbers, consolidation, ties, outliers, refused scores."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from decisions.tender import (
    InvalidScores,
    ScoringRules,
    TenderSpec,
    check_scores,
    price_points,
    score_lots,
)

LABEL = {"zh": "标签", "en": "Label"}


def scoring(**changes: Any) -> ScoringRules:
    data: dict[str, Any] = {
        "criteria": {
            "technical": {"weight": 0.5, "label": LABEL},
            "price": {"weight": 0.5, "source": "price", "label": LABEL},
        }
    }
    return ScoringRules.model_validate({**data, **changes})


def spec_of(*bids: tuple[str, int], lots: tuple[str, ...] = ("L1",)) -> TenderSpec:
    """A tender whose bids (id, price) are all on every lot, each from its own bidder."""
    return TenderSpec.model_validate(
        {
            "lots": [{"id": lot, "name": lot, "street_office": "东湖街道"} for lot in lots],
            "bids": [
                {
                    "id": bid,
                    "bidder": f"co-{bid}",
                    "bidder_name": f"Company {bid}",
                    "lots": list(lots),
                    "prices": {lot: price for lot in lots},
                    "plan": "p",
                }
                for bid, price in bids
            ],
        }
    )


def one_evaluator(technical: dict[str, int]) -> dict[str, dict[str, dict[str, int]]]:
    return {"e1": {bid: {"technical": points} for bid, points in technical.items()}}


def test_lowest_price_points_by_worked_numbers() -> None:
    """lowest_price: 100 × 80 / p gives 100, 80 and 64 for prices 80, 100 and 125."""
    points = price_points({"a": Decimal(80), "b": Decimal(100), "c": Decimal(125)})
    assert {k: float(v) for k, v in points.items()} == {"a": 100.0, "b": 80.0, "c": 64.0}


@pytest.mark.parametrize(
    ("prices", "k", "expected"),
    [
        ((90, 100, 110), 1.0, (90.0, 100.0, 90.0)),  # benchmark 100, 10 % off each way
        ((90, 100, 110), 2.0, (80.0, 100.0, 80.0)),
        ((10, 100, 190), 1.0, (10.0, 100.0, 10.0)),  # 90 % off
        ((10, 100, 190), 2.0, (0.0, 100.0, 0.0)),  # floored at 0, not -80
    ],
)
def test_average_deviation_points_by_worked_numbers(
    prices: tuple[int, ...], k: float, expected: tuple[float, ...]
) -> None:
    """average_deviation: 100 − k × |p − mean| / mean × 100, floored at 0."""
    points = price_points(
        {str(i): Decimal(p) for i, p in enumerate(prices)}, "average_deviation", penalty=k
    )
    assert tuple(float(v) for v in points.values()) == expected


def test_score_lots_uses_the_formula_over_qualified_bids_only() -> None:
    """The lowest price is the lowest among the qualified bids; an excluded bid is not ranked."""
    spec = spec_of(("a", 100), ("b", 125), ("x", 50))
    ranking = score_lots(spec, ["a", "b"], one_evaluator({"a": 60, "b": 90}), scoring())
    entries = ranking.lots[0].entries
    assert [(e.bid, e.points["price"], e.total) for e in entries] == [
        ("b", 80.0, 85.0),
        ("a", 100.0, 80.0),
    ]
    assert ranking.winners == {"L1": "b"}
    assert entries[0].price == Decimal(125) and entries[0].bidder == "co-b"


def test_average_deviation_in_score_lots() -> None:
    """With average_deviation a bid at the benchmark gets full price points."""
    spec = spec_of(("a", 90), ("b", 100), ("c", 110))
    ranking = score_lots(
        spec,
        ["a", "b", "c"],
        one_evaluator({"a": 80, "b": 80, "c": 80}),
        scoring(price_formula="average_deviation"),
    )
    assert ranking.lots[0].entries[0].bid == "b"
    assert ranking.lots[0].entries[0].total == 90.0


@pytest.mark.parametrize(
    ("tie_rule", "order", "broken_by"),
    [
        ("lower_price", ["a", "z"], "lower_price"),
        ("higher_technical", ["z", "a"], "higher_technical"),
        ("earlier_bid", ["z", "a"], "earlier_bid"),
    ],
)
def test_ties_are_broken_by_the_rule(tie_rule: str, order: list[str], broken_by: str) -> None:
    """Equal totals (80 each) are ordered by the tie rule, which the entries name."""
    # z: filed first, price 125 (80 points), technical 80; a: price 100 (100), technical 60
    spec = spec_of(("z", 125), ("a", 100))
    ranking = score_lots(
        spec, ["z", "a"], one_evaluator({"z": 80, "a": 60}), scoring(tie_rule=tie_rule)
    )
    entries = ranking.lots[0].entries
    assert [e.bid for e in entries] == order
    assert [e.rank for e in entries] == [1, 2]
    assert {e.total for e in entries} == {80.0}
    assert {e.tie_broken_by for e in entries} == {broken_by}


def test_ties_the_rule_cannot_break_fall_back_to_the_bid_id() -> None:
    """Two bids alike in every way are ordered by bid id."""
    spec = spec_of(("m", 100), ("k", 100), ("c", 200))
    ranking = score_lots(
        spec, ["m", "k", "c"], one_evaluator({"m": 50, "k": 50, "c": 50}), scoring()
    )
    entries = ranking.lots[0].entries
    assert [(e.bid, e.tie_broken_by) for e in entries] == [
        ("k", "bid_id"),
        ("m", "bid_id"),
        ("c", None),
    ]


def test_five_evaluators_drop_the_highest_and_lowest_and_outliers_are_flagged() -> None:
    """With 5 evaluators the mean leaves out 10 and 100; 10 lies over 20 from the median 80."""
    spec = spec_of(("a", 100))
    points = [10, 70, 80, 90, 100]
    scores = {f"e{i}": {"a": {"technical": p}} for i, p in enumerate(points)}
    lot = score_lots(spec, ["a"], scores, scoring()).lots[0]
    assert lot.entries[0].points["technical"] == 80.0
    assert [(o.evaluator, o.points, o.median) for o in lot.outliers] == [("e0", 10, 80.0)]


def test_fewer_than_five_evaluators_take_the_plain_mean() -> None:
    """With 4 evaluators every score counts: (10 + 70 + 80 + 90) / 4 = 62.5."""
    spec = spec_of(("a", 100))
    scores = {f"e{i}": {"a": {"technical": p}} for i, p in enumerate([10, 70, 80, 90])}
    lot = score_lots(spec, ["a"], scores, scoring()).lots[0]
    assert lot.entries[0].points["technical"] == 62.5
    assert [o.evaluator for o in lot.outliers] == ["e0"]  # 10 is 65 from the median 75


def test_a_lot_without_qualified_bids_has_no_winner() -> None:
    """A lot whose bids were all excluded is listed with no entries and no winner."""
    spec = spec_of(("a", 100))
    ranking = score_lots(spec, [], {}, scoring())
    assert ranking.lots[0].entries == () and ranking.lots[0].winner is None


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        (
            {"e1": {"x": {"technical": 50}}},
            r"Evaluator e1 scored bid 'x', which is not a qualified",
        ),
        ({"e1": {}}, r"No evaluator scored bid a \(Company a\)"),
        ({"e1": {"a": {}}}, r"of evaluator e1 for bid a leave out technical"),
        ({"e1": {"a": {"technical": 101}}}, r"on technical is 101; a score is a whole number"),
    ],
)
def test_score_lots_refuses_scores_it_cannot_use(scores: Any, expected: str) -> None:
    """Scores for unqualified bids, missing scores and out-of-range points are refused."""
    with pytest.raises(InvalidScores, match=expected):
        score_lots(spec_of(("a", 100), ("x", 90)), ["a"], scores, scoring())


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"criteria": {"technical": {"weight": 0.5, "label": LABEL}}}, r"add up to 1, not 0\.5"),
        (
            {
                "criteria": {
                    "technical": {"weight": 0.5, "label": LABEL},
                    "p1": {"weight": 0.25, "source": "price", "label": LABEL},
                    "p2": {"weight": 0.25, "source": "price", "label": LABEL},
                }
            },
            r"at most one criterion is computed from the price, not 2",
        ),
        (
            {"criteria": {"price": {"weight": 1, "source": "price", "label": LABEL}}},
            r"at least one criterion must be scored by the evaluators",
        ),
        ({"tie_rule": "coin"}, r"tie_rule\n  Input should be 'lower_price'"),
    ],
)
def test_bad_scoring_rules_are_refused(change: dict[str, Any], expected: str) -> None:
    """Weights off 1, two price criteria, no evaluators' criterion, unknown tie rule: refused."""
    with pytest.raises(ValidationError, match=expected):
        scoring(**change)


def test_weights_within_a_rounding_error_of_one_are_accepted() -> None:
    """0.1 + 0.2 + 0.7 is not exactly 1 in floating point, and is accepted."""
    rules = scoring(
        criteria={
            "a": {"weight": 0.1, "label": LABEL},
            "b": {"weight": 0.2, "label": LABEL},
            "price": {"weight": 0.7, "source": "price", "label": LABEL},
        }
    )
    assert rules.evaluator_criteria == ("a", "b") and rules.price_criterion == "price"


TWO_LOTS = TenderSpec.model_validate(
    {
        "lots": [
            {"id": "L1", "name": "a", "street_office": "东湖街道"},
            {"id": "L2", "name": "b", "street_office": "西城街道"},
        ],
        "bids": [
            {
                "id": b,
                "bidder": f"co-{b}",
                "bidder_name": b.upper(),
                "lots": lots,
                "prices": dict.fromkeys(lots, 100),
                "plan": "p",
            }
            for b, lots in [("a", ["L1"]), ("b", ["L1", "L2"]), ("c", ["L2"]), ("x", ["L1"])]
        ],
    }
)
OK = {"technical": 70, "commercial": 80}


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ({"a": OK}, r"leave out bid b \(B, on L1\); score every qualified bid on your lots \(L1\)"),
        ({"a": OK, "b": OK, "c": OK}, r"Bid 'c' is not a qualified bid on your lots \(L1\)"),
        ({"a": OK, "b": OK, "x": OK}, r"Bid 'x' is not a qualified bid"),
        ({"a": OK, "b": {"technical": 70}}, r"for bid b leave out commercial; score every"),
        ({"a": OK, "b": {**OK, "price": 9}}, r"give 'price', which evaluators do not score"),
        ({"a": OK, "b": {**OK, "technical": -1}}, r"on technical is -1; a score is a whole"),
        ({"a": OK, "b": {**OK, "technical": 7.5}}, r"on technical is 7\.5"),
        ({"a": OK, "b": {**OK, "technical": True}}, r"on technical is True"),
    ],
)
def test_check_scores_refuses_a_bad_answer(scores: Any, expected: str) -> None:
    """Missing, extra, unqualified bids and missing, extra, out-of-range points are refused."""
    with pytest.raises(InvalidScores, match=expected):
        check_scores(TWO_LOTS, ["a", "b", "c"], ["L1"], ["technical", "commercial"], scores)


def test_check_scores_accepts_exactly_the_bids_on_the_evaluators_lots() -> None:
    """An evaluator of L1 and L2 scores a, b and c, and nothing else is asked."""
    scores = {"a": OK, "b": OK, "c": OK}
    check_scores(TWO_LOTS, ["a", "b", "c"], ["L1", "L2"], ["technical", "commercial"], scores)
    with pytest.raises(InvalidScores, match="There is no lot 'L9'"):
        check_scores(TWO_LOTS, ["a"], ["L9"], ["technical"], {})


@given(st.lists(st.tuples(st.integers(1, 10**6), st.integers(0, 100)), min_size=1, max_size=8))
def test_ranking_invariants(bids: list[tuple[int, int]]) -> None:
    """Ranks run 1..n, totals never rise down the table, rank 1 wins, points stay in 0..100."""
    spec = spec_of(*((f"b{i}", price) for i, (price, _) in enumerate(bids)))
    scores = one_evaluator({f"b{i}": t for i, (_, t) in enumerate(bids)})
    lot = score_lots(spec, [b.id for b in spec.bids], scores, scoring()).lots[0]
    assert [e.rank for e in lot.entries] == list(range(1, len(bids) + 1))
    totals = [e.total for e in lot.entries]
    assert totals == sorted(totals, reverse=True)
    assert lot.winner == lot.entries[0].bid
    assert all(0 <= p <= 100 for e in lot.entries for p in e.points.values())
