"""Scoring the qualified bids of each lot and ranking them, as the decision body will see it.

The class's :class:`ScoringRules` weigh criteria: those the evaluators score (a technical
plan, commercial terms...) and at most one computed from the price. Evaluators give whole
points from 0 to 100 to every criterion of theirs, for every qualified bid on their lots.

**Consolidation.** A bid's points on an evaluators' criterion are the mean of its
evaluators' points; with five evaluators or more, the single highest and the single lowest
are dropped first (the trimmed mean of Chinese bid evaluation practice, which blunts one
evaluator's favour or grudge without discarding a minority view of a small panel). Points
further than ``outlier_points`` from the median of that bid's points on that criterion are
flagged as :class:`Outlier` for the record; they are not dropped for being flagged.

**Price.** Among the qualified bids of a lot, with p the bid's price for the lot:

* ``lowest_price``: points = 100 × min(p) / p; the lowest price gets 100;
* ``average_deviation``: benchmark b = mean(p); points = max(0, 100 − k × |p − b| / b × 100),
  with k = ``price_deviation_penalty`` (1 by default): a bid 10 % off the benchmark, above
  or below, gets 90; it discourages bids priced too low to be carried out.

**Total and ties.** total = Σ weight × points. Totals are computed exactly (with fractions),
so equal totals really are equal; they are ordered by the ``tie_rule``: ``lower_price``
(the lower price for the lot first), ``higher_technical`` (the higher weighted points of the
evaluators' criteria first) or ``earlier_bid`` (the bid filed first), and then by bid id.
The entry's ``tie_broken_by`` says which separated it from a bid of equal total.

>>> from decisions.tender.spec import parse_tender
>>> spec = parse_tender('''
... lots: [{id: L1, name: 东湖路段, street_office: 东湖街道}]
... bids:
...   - {id: a, bidder: aa, bidder_name: A, lots: [L1], prices: {L1: 80}, plan: p}
...   - {id: b, bidder: bb, bidder_name: B, lots: [L1], prices: {L1: 100}, plan: p}
... ''', source="t.yaml")
>>> rules = ScoringRules.model_validate({"criteria": {
...     "technical": {"weight": 0.5, "label": {"zh": "技术", "en": "Technical"}},
...     "price": {"weight": 0.5, "source": "price", "label": {"zh": "价格", "en": "Price"}}}})
>>> ranking = score_lots(spec, ["a", "b"], {"e1": {"a": {"technical": 60},
...                                                "b": {"technical": 90}}}, rules)
>>> [(e.bid, e.points["price"], e.total) for e in ranking.lots[0].entries]
[('b', 80.0, 85.0), ('a', 100.0, 80.0)]
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

from pydantic import Field, model_validator

from decisions.tender.common import Key, Label, Strict
from decisions.tender.exceptions import InvalidScores
from decisions.tender.spec import TenderSpec
from decisions.text import shown

__all__ = [
    "MAX_POINTS",
    "TRIM_FROM",
    "Criterion",
    "ScoringRules",
    "Outlier",
    "RankedBid",
    "LotRanking",
    "Ranking",
    "score_lots",
    "check_scores",
    "price_points",
]

#: An evaluator's points are whole numbers from 0 to this.
MAX_POINTS = 100
#: From this many evaluators on, the highest and the lowest points are dropped.
TRIM_FROM = 5
#: How far the weights may sum from 1.
WEIGHT_TOLERANCE = 1e-9

PriceFormula = Literal["lowest_price", "average_deviation"]
TieRule = Literal["lower_price", "higher_technical", "earlier_bid"]


class Criterion(Strict):
    """One weighted criterion: scored by the evaluators, or computed from the price."""

    weight: float = Field(gt=0, le=1)
    label: Label
    source: Literal["evaluators", "price"] = "evaluators"


class ScoringRules(Strict):
    """How bids are scored and ranked (see the module's docstring for the formulas)."""

    criteria: dict[Key, Criterion] = Field(min_length=1, max_length=20)
    price_formula: PriceFormula = "lowest_price"
    price_deviation_penalty: float = Field(default=1.0, gt=0, le=100)
    outlier_points: float = Field(default=20, gt=0, le=MAX_POINTS)
    tie_rule: TieRule = "lower_price"

    @model_validator(mode="after")
    def _check(self) -> ScoringRules:
        total = sum(c.weight for c in self.criteria.values())
        if abs(total - 1) > WEIGHT_TOLERANCE:
            weights = ", ".join(f"{k} {c.weight:g}" for k, c in self.criteria.items())
            raise ValueError(f"the criteria's weights must add up to 1, not {total:g} ({weights})")
        priced = [k for k, c in self.criteria.items() if c.source == "price"]
        if len(priced) > 1:
            raise ValueError(
                f"at most one criterion is computed from the price, not {len(priced)} "
                f"({', '.join(priced)})"
            )
        if not self.evaluator_criteria:
            raise ValueError(
                "at least one criterion must be scored by the evaluators (source: evaluators)"
            )
        return self

    @property
    def evaluator_criteria(self) -> tuple[str, ...]:
        """The criteria the evaluators score, in the order written."""
        return tuple(k for k, c in self.criteria.items() if c.source == "evaluators")

    @property
    def price_criterion(self) -> str | None:
        """The criterion computed from the price, if there is one."""
        return next((k for k, c in self.criteria.items() if c.source == "price"), None)


class Outlier(Strict):
    """An evaluator's points far from the median of a bid's points on a criterion."""

    evaluator: str
    bid: str
    criterion: str
    points: int
    median: float


class RankedBid(Strict):
    """One qualified bid's place in a lot: its points per criterion and weighted total."""

    rank: int
    bid: str
    bidder: str
    price: Decimal
    points: dict[str, float]
    total: float
    tie_broken_by: str | None = None


class LotRanking(Strict):
    """The qualified bids on one lot, best first; no winner if no bid qualified."""

    lot: str
    entries: tuple[RankedBid, ...]
    winner: str | None
    outliers: tuple[Outlier, ...] = ()


class Ranking(Strict):
    """The consolidated ranking of every lot, in the order of the tender's lots."""

    lots: tuple[LotRanking, ...]

    @property
    def winners(self) -> dict[str, str | None]:
        """The winning bid of each lot (None where no bid qualified)."""
        return {lot.lot: lot.winner for lot in self.lots}

    def lot(self, lot_id: str) -> LotRanking:
        """The ranking of lot ``lot_id``; ``KeyError`` if there is none."""
        for lot in self.lots:
            if lot.lot == lot_id:
                return lot
        raise KeyError(lot_id)


def price_points(
    prices: Mapping[str, Decimal],
    formula: PriceFormula = "lowest_price",
    *,
    penalty: float = 1.0,
) -> dict[str, Fraction]:
    """The price points of each bid among ``prices`` (bid -> its price for one lot), exact.

    >>> points = price_points({"a": Decimal(90), "b": Decimal(110)}, "average_deviation")
    >>> {bid: float(p) for bid, p in points.items()}
    {'a': 90.0, 'b': 90.0}
    """
    exact = {bid: Fraction(price) for bid, price in prices.items()}
    if not exact:
        return {}
    if formula == "lowest_price":
        lowest = min(exact.values())
        return {bid: 100 * lowest / p for bid, p in exact.items()}
    benchmark = sum(exact.values(), Fraction(0)) / len(exact)
    k = Fraction(penalty)
    return {
        bid: max(Fraction(0), 100 - k * abs(p - benchmark) / benchmark * 100)
        for bid, p in exact.items()
    }


def _check_points(bid: str, points: Mapping[str, Any], criteria: Sequence[str], who: str) -> None:
    """One evaluator's points for one bid: exactly ``criteria``, whole numbers 0..100."""
    missing = [c for c in criteria if c not in points]
    if missing:
        raise InvalidScores(
            f"The scores {who}for bid {bid} leave out {', '.join(missing)}; "
            f"score every criterion: {', '.join(criteria)}."
        )
    extra = [c for c in points if c not in criteria]
    if extra:
        raise InvalidScores(
            f"The scores {who}for bid {bid} give {', '.join(shown(c) for c in extra)}, which "
            f"evaluators do not score; the criteria are {', '.join(criteria)}."
        )
    for criterion in criteria:
        value = points[criterion]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_POINTS:
            raise InvalidScores(
                f"The score {who}for bid {bid} on {criterion} is {shown(value)}; a score is a "
                f"whole number from 0 to {MAX_POINTS}."
            )


def check_scores(
    spec: TenderSpec,
    qualified: Sequence[str],
    lots_of_evaluator: Sequence[str],
    criteria: Sequence[str],
    scores: Mapping[str, Mapping[str, int]],
) -> None:
    """Refuse one evaluator's scores (bid -> criterion -> points) before they are recorded.

    The scores must cover exactly the qualified bids on the evaluator's lots, each with
    exactly ``criteria`` (the evaluators' criteria), in whole points from 0 to 100.

    Raises
    ------
    InvalidScores
        A ``ValueError`` whose sentence says which bid or criterion is missing, extra or
        out of range.
    """
    lots = list(dict.fromkeys(lots_of_evaluator))
    known = {lot.id for lot in spec.lots}
    if unknown := [lot for lot in lots if lot not in known]:
        raise InvalidScores(f"There is no lot {', '.join(shown(lot) for lot in unknown)}.")
    yours = ", ".join(lots) or "none"
    allowed = set(qualified)
    expected = [
        bid for bid in spec.bids if bid.id in allowed and any(lot in bid.lots for lot in lots)
    ]
    if missing := [bid for bid in expected if bid.id not in scores]:
        listed = "; ".join(
            f"{bid.id} ({bid.bidder_name}, on {', '.join(lt for lt in bid.lots if lt in lots)})"
            for bid in missing
        )
        raise InvalidScores(
            f"The scores leave out {'bid' if len(missing) == 1 else 'bids'} {listed}; "
            f"score every qualified bid on your lots ({yours})."
        )
    wanted = {bid.id for bid in expected}
    if extra := [bid for bid in scores if bid not in wanted]:
        raise InvalidScores(
            f"{'Bid' if len(extra) == 1 else 'Bids'} {', '.join(shown(b) for b in extra)} "
            f"{'is not a qualified bid' if len(extra) == 1 else 'are not qualified bids'} "
            f"on your lots ({yours}); remove {'its' if len(extra) == 1 else 'their'} scores."
        )
    for bid in expected:
        _check_points(bid.id, scores[bid.id], criteria, "")


def _consolidate(points: Sequence[int]) -> Fraction:
    """The mean; from :data:`TRIM_FROM` points on, without the highest and the lowest."""
    kept = sorted(points)[1:-1] if len(points) >= TRIM_FROM else list(points)
    return Fraction(sum(kept), len(kept))


def score_lots(
    spec: TenderSpec,
    qualified: Sequence[str],
    scores: Mapping[str, Mapping[str, Mapping[str, int]]],
    rules: ScoringRules,
) -> Ranking:
    """Rank the qualified bids of every lot of ``spec``.

    Parameters
    ----------
    spec
        The tender.
    qualified
        The qualified bids (:attr:`.rules.Qualification.qualified`); the others are not ranked.
    scores
        evaluator -> bid -> criterion -> points, for the evaluators' criteria of ``rules``.
    rules
        The class's scoring rules.

    Returns
    -------
    Ranking
        Per lot, its qualified bids best first with their points and totals, the winner
        (None if no bid on the lot qualified) and the outlying points.

    Raises
    ------
    InvalidScores
        If a scored bid is not qualified, a qualified bid has no scores, or an evaluator's
        scores for a bid do not cover exactly the evaluators' criteria in 0..100.
    """
    allowed = set(qualified)
    if unknown := [b for b in qualified if b not in {bid.id for bid in spec.bids}]:
        raise InvalidScores(f"There is no bid {', '.join(shown(b) for b in unknown)}.")
    criteria = rules.evaluator_criteria
    given: dict[str, dict[str, list[tuple[str, int]]]] = {}
    for evaluator, by_bid in scores.items():
        for bid_id, points in by_bid.items():
            if bid_id not in allowed:
                raise InvalidScores(
                    f"Evaluator {evaluator} scored bid {shown(bid_id)}, which is not a "
                    "qualified bid of this tender.",
                    evaluator=evaluator,
                )
            _check_points(bid_id, points, criteria, f"of evaluator {evaluator} ")
            for criterion in criteria:
                given.setdefault(bid_id, {}).setdefault(criterion, []).append(
                    (evaluator, points[criterion])
                )
    if unscored := [bid for bid in spec.bids if bid.id in allowed and bid.id not in given]:
        raise InvalidScores(
            f"No evaluator scored bid {unscored[0].id} ({unscored[0].bidder_name}); every "
            "qualified bid needs scores."
        )
    consolidated = {
        bid: {c: _consolidate([p for _, p in given[bid][c]]) for c in criteria} for bid in given
    }
    outliers: dict[str, list[Outlier]] = {}
    for bid in spec.bids:
        for criterion in criteria if bid.id in given else ():
            median = statistics.median(p for _, p in given[bid.id][criterion])
            outliers.setdefault(bid.id, []).extend(
                Outlier(
                    evaluator=evaluator,
                    bid=bid.id,
                    criterion=criterion,
                    points=points,
                    median=float(median),
                )
                for evaluator, points in given[bid.id][criterion]
                if abs(points - median) > rules.outlier_points
            )
    return Ranking(
        lots=tuple(
            _rank_lot(spec, lot.id, allowed, consolidated, outliers, rules) for lot in spec.lots
        )
    )


def _rank_lot(
    spec: TenderSpec,
    lot: str,
    allowed: set[str],
    consolidated: Mapping[str, Mapping[str, Fraction]],
    outliers: Mapping[str, Sequence[Outlier]],
    rules: ScoringRules,
) -> LotRanking:
    order = {bid.id: i for i, bid in enumerate(spec.bids)}
    bids = [bid for bid in spec.bids_on(lot) if bid.id in allowed]
    prices = {bid.id: bid.prices[lot] for bid in bids}
    priced = price_points(prices, rules.price_formula, penalty=rules.price_deviation_penalty)
    weight = {k: Fraction(str(c.weight)) for k, c in rules.criteria.items()}
    rows = []
    for bid in bids:
        points = {
            c: priced[bid.id] if c == rules.price_criterion else consolidated[bid.id][c]
            for c in rules.criteria
        }
        technical = sum((weight[c] * points[c] for c in rules.evaluator_criteria), Fraction(0))
        total = sum((weight[c] * p for c, p in points.items()), Fraction(0))
        tie: Any = {
            "lower_price": prices[bid.id],
            "higher_technical": -technical,
            "earlier_bid": order[bid.id],
        }[rules.tie_rule]
        rows.append((bid, points, total, tie))
    rows.sort(key=lambda row: (-row[2], row[3], row[0].id))
    entries = []
    for rank, (bid, points, total, tie) in enumerate(rows, start=1):
        level = [r for r in rows if r[2] == total]
        broken_by = None
        if len(level) > 1:
            broken_by = rules.tie_rule if [r[3] for r in level].count(tie) == 1 else "bid_id"
        entries.append(
            RankedBid(
                rank=rank,
                bid=bid.id,
                bidder=bid.bidder,
                price=prices[bid.id],
                points={c: float(p) for c, p in points.items()},
                total=float(total),
                tie_broken_by=broken_by,
            )
        )
    return LotRanking(
        lot=lot,
        entries=tuple(entries),
        winner=entries[0].bid if entries else None,
        outliers=tuple(o for bid in bids for o in outliers.get(bid.id, ())),
    )
