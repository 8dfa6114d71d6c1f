"""Delphi aggregation against hand-computed values and SciPy's Friedman statistic."""

from __future__ import annotations

import random

import pytest
from scipy import stats

from decisions.classes import ConsensusRule
from decisions.consensus import aggregate_round, criterion_stats, kendall_w
from decisions.model import Opinion


@pytest.mark.parametrize(
    ("ratings", "median", "q1", "q3"),
    [
        ([7, 6, 8], 7.0, 6.5, 7.5),
        ([4, 6, 7], 6.0, 5.0, 6.5),
        ([1, 9], 5.0, 3.0, 7.0),
        ([5], 5.0, 5.0, 5.0),
        ([6, 6, 6, 7, 9], 6.0, 6.0, 7.0),
    ],
)
def test_quartiles_match_hand_computation(
    ratings: list[int], median: float, q1: float, q3: float
) -> None:
    """Median and quartiles interpolate linearly between order statistics."""
    s = criterion_stats(ratings, "cost")
    assert (s.median, s.q1, s.q3, s.iqr) == (median, q1, q3, q3 - q1)
    assert sum(s.distribution.values()) == len(ratings)


def test_kendall_w_hand_computed() -> None:
    """Three raters over three alternatives: rank sums 4, 5, 9 give W = 7/12."""
    rankings = [["a", "b", "c"], ["a", "b", "c"], ["b", "a", "c"]]
    # rank sums a=1+1+2=4, b=2+2+1=5, c=9; mean 6; S=4+1+9=14; W=12*14/(9*24)=0.777…
    assert kendall_w(rankings) == pytest.approx(12 * 14 / (9 * 24))


@pytest.mark.parametrize("seed", range(5))
def test_kendall_w_agrees_with_scipy_friedman(seed: int) -> None:
    """Friedman's chi-square equals m (n - 1) W for complete rankings without ties."""
    rng = random.Random(seed)
    items = [f"option-{i}" for i in range(5)]
    rankings = [rng.sample(items, len(items)) for _ in range(6)]
    w = kendall_w(rankings)
    ranks_per_item = [[r.index(item) + 1 for r in rankings] for item in items]
    chi2 = stats.friedmanchisquare(*ranks_per_item).statistic
    assert chi2 == pytest.approx(len(rankings) * (len(items) - 1) * w)


def test_kendall_w_refuses_mismatched_rankings() -> None:
    """Rankings of different alternatives cannot be compared."""
    with pytest.raises(ValueError, match="same alternatives"):
        kendall_w([["a", "b"], ["a", "c"]])


def opinion(cost: int, feasibility: int, ranking: tuple[str, ...] = ()) -> Opinion:
    return Opinion(
        recommendation="approve",
        ratings={"cost": cost, "feasibility": feasibility},
        rationale=f"cost {cost}",
        ranking=ranking,
    )


def test_consensus_holds_when_every_iqr_is_small() -> None:
    """All criteria within max_iqr means consensus and no dissent."""
    agg = aggregate_round(
        [opinion(6, 7), opinion(7, 7), opinion(6, 8)],
        ["cost", "feasibility"],
        ConsensusRule(max_iqr=1.0),
        round=2,
    )
    assert agg.consensus and agg.dissent == ()
    assert agg.rationales == ("cost 6", "cost 6", "cost 7")


def test_wide_criterion_is_named_as_dissent() -> None:
    """A criterion with a wide spread blocks consensus and is named."""
    agg = aggregate_round(
        [opinion(4, 7), opinion(6, 7), opinion(7, 7)],
        ["cost", "feasibility"],
        ConsensusRule(max_iqr=1.0),
        round=1,
    )
    assert not agg.consensus
    assert agg.dissent == ("cost (IQR 1.5 > 1)",)


def test_low_kendall_w_blocks_consensus() -> None:
    """Where alternatives are ranked, disagreement on the order is dissent too."""
    agg = aggregate_round(
        [opinion(6, 6, ("a", "b")), opinion(6, 6, ("b", "a"))],
        ["cost", "feasibility"],
        ConsensusRule(max_iqr=1.0, min_kendall_w=0.7),
        round=1,
    )
    assert agg.kendall_w == 0.0
    assert agg.dissent == ("ranking of alternatives (W 0.00 < 0.7)",)
