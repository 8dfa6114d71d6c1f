"""Delphi aggregation: per-criterion medians and IQRs, Kendall's W, and the consensus rule.

After each consultation round every expert sees the anonymised aggregate of that round; the
class's :class:`~decisions.classes.ConsensusRule` says when to stop: every criterion's
interquartile range at most ``max_iqr`` and, where alternatives were ranked, Kendall's W at
least ``min_kendall_w``.

Quartiles use linear interpolation between order statistics (NumPy's and the ``inclusive``
method of :func:`statistics.quantiles`), the usual choice in Delphi studies.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence

from pydantic import BaseModel

from decisions.classes import ConsensusRule
from decisions.model import Opinion

__all__ = [
    "CriterionStats",
    "RoundAggregate",
    "criterion_stats",
    "kendall_w",
    "aggregate_round",
]


class CriterionStats(BaseModel, frozen=True):
    criterion: str
    median: float
    q1: float
    q3: float
    iqr: float
    distribution: dict[int, int]


class RoundAggregate(BaseModel, frozen=True):
    """What experts see of a round: no names, only the spread and the reasons."""

    round: int
    answers: int
    criteria: tuple[CriterionStats, ...]
    recommendations: dict[str, int]
    kendall_w: float | None
    rationales: tuple[str, ...]
    conditions: tuple[str, ...]
    consensus: bool
    dissent: tuple[str, ...]

    def summary(self) -> str:
        """One line per criterion, for forms and artifacts."""
        lines = [
            f"{c.criterion}: median {c.median:g}, IQR {c.iqr:g} ({c.q1:g}–{c.q3:g})"
            for c in self.criteria
        ]
        if self.kendall_w is not None:
            lines.append(f"Kendall's W of the rankings: {self.kendall_w:.2f}")
        return "\n".join(lines)


def criterion_stats(ratings: Sequence[int], criterion: str = "") -> CriterionStats:
    """Median, quartiles and distribution of one criterion's 1–9 ratings.

    Examples
    --------
    >>> s = criterion_stats([4, 6, 7])
    >>> (s.median, s.q1, s.q3, s.iqr)
    (6.0, 5.0, 6.5, 1.5)
    """
    if not ratings:
        raise ValueError(f"No ratings for {criterion or 'this criterion'}.")
    values = sorted(ratings)
    if len(values) == 1:
        q1 = q3 = float(values[0])
    else:
        q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return CriterionStats(
        criterion=criterion,
        median=float(statistics.median(values)),
        q1=float(q1),
        q3=float(q3),
        iqr=float(q3 - q1),
        distribution=dict(sorted(Counter(values).items())),
    )


def kendall_w(rankings: Sequence[Sequence[str]]) -> float:
    """Kendall's coefficient of concordance for complete rankings without ties.

    ``W = 12 S / (m² (n³ − n))`` with ``m`` raters, ``n`` alternatives and ``S`` the sum of
    squared deviations of the rank sums from their mean; ``W = 1`` is full agreement. The
    Friedman statistic is ``m (n − 1) W``.

    Raises ``ValueError`` unless every ranking orders the same alternatives once each.

    Examples
    --------
    >>> kendall_w([["a", "b", "c"], ["a", "b", "c"]])
    1.0
    >>> kendall_w([["a", "b"], ["b", "a"]])
    0.0
    """
    if len(rankings) < 2:
        raise ValueError("Kendall's W needs at least two rankings.")
    items = sorted(rankings[0])
    if len(set(items)) != len(items) or len(items) < 2:
        raise ValueError("Each ranking must order at least two distinct alternatives.")
    for ranking in rankings:
        if sorted(ranking) != items:
            raise ValueError("Every ranking must order the same alternatives, each exactly once.")
    m, n = len(rankings), len(items)
    sums = dict.fromkeys(items, 0)
    for ranking in rankings:
        for position, item in enumerate(ranking, start=1):
            sums[item] += position
    mean = m * (n + 1) / 2
    s = sum((total - mean) ** 2 for total in sums.values())
    return float(12 * s / (m**2 * (n**3 - n)))


def aggregate_round(
    opinions: Sequence[Opinion], criteria: Sequence[str], rule: ConsensusRule, *, round: int
) -> RoundAggregate:
    """The anonymised aggregate of one round and whether the consensus rule holds.

    Rationales and conditions are sorted, not listed in answer order, so nobody can tell
    which expert wrote which. A criterion whose IQR exceeds ``rule.max_iqr`` is dissent.
    """
    if not opinions:
        raise ValueError(f"Round {round} has no answers to aggregate.")
    stats = tuple(criterion_stats([o.ratings[c] for o in opinions], c) for c in criteria)
    dissent = [
        f"{s.criterion} (IQR {s.iqr:g} > {rule.max_iqr:g})" for s in stats if s.iqr > rule.max_iqr
    ]
    rankings = [o.ranking for o in opinions if o.ranking]
    w = kendall_w(rankings) if len(rankings) >= 2 and len(rankings) == len(opinions) else None
    if w is not None and rule.min_kendall_w is not None and w < rule.min_kendall_w:
        dissent.append(f"ranking of alternatives (W {w:.2f} < {rule.min_kendall_w:g})")
    return RoundAggregate(
        round=round,
        answers=len(opinions),
        criteria=stats,
        recommendations=dict(sorted(Counter(o.recommendation for o in opinions).items())),
        kendall_w=w,
        rationales=tuple(sorted(o.rationale for o in opinions)),
        conditions=tuple(sorted({c for o in opinions for c in o.conditions})),
        consensus=not dissent,
        dissent=tuple(dissent),
    )
