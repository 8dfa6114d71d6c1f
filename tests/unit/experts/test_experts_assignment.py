"""Batch assignment: every constraint holds, the total equals the exact optimum, clear refusals."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, milp

from experts.assignment import (
    AffinityTable,
    Assignment,
    assign_experts,
    read_conflicts_csv,
    read_scores_csv,
)
from experts.exceptions import InfeasibleAssignment, InvalidAffinity


def exact_optimum(
    rows: list[tuple[str, str, float]],
    conflicts: set[tuple[str, str]],
    per_item: int,
    max_load: int,
    min_load: int,
) -> float | None:
    """The optimum by SciPy's integer programming (``milp``), or None if infeasible."""
    table = AffinityTable.from_rows(rows)
    keep = [
        i
        for i in range(len(table))
        if (table.items[table.item[i]], table.experts[table.expert[i]]) not in conflicts
    ]
    n = len(keep)
    if n == 0:
        return None if per_item or min_load else 0.0
    cols = np.arange(n)
    a = sp.vstack(
        [
            sp.csr_array((np.ones(n), (table.item[keep], cols)), shape=(len(table.items), n)),
            sp.csr_array((np.ones(n), (table.expert[keep], cols)), shape=(len(table.experts), n)),
        ]
    )
    lo = np.r_[np.full(len(table.items), per_item), np.full(len(table.experts), min_load)]
    hi = np.r_[np.full(len(table.items), per_item), np.full(len(table.experts), max_load)]
    res = milp(
        -table.score[keep],
        constraints=LinearConstraint(a, lo, hi),
        integrality=np.ones(n),
        bounds=Bounds(0, 1),
    )
    return None if res.status != 0 else float(-res.fun)


def check_constraints(
    result: Assignment,
    rows: list[tuple[str, str, float]],
    conflicts: set[tuple[str, str]],
    per_item: int,
    max_load: int,
    min_load: int,
) -> None:
    """Assert every item has its count, every load is in range, no conflict, scores match."""
    scores = {(i, e): s for i, e, s in rows}
    loads: dict[str, int] = {}
    total = 0.0
    for item, chosen in result.by_item.items():
        assert len(chosen) == per_item
        assert len({c.expert for c in chosen}) == per_item
        for c in chosen:
            assert (item, c.expert) not in conflicts
            assert scores[item, c.expert] == c.score
            loads[c.expert] = loads.get(c.expert, 0) + 1
            total += c.score
    experts = {e for _, e, _ in rows}
    for e in experts:
        assert min_load <= loads.get(e, 0) <= max_load
    assert result.total_score == pytest.approx(total)


@st.composite
def instances(
    draw: st.DrawFn,
) -> tuple[list[tuple[str, str, float]], set[tuple[str, str]], int, int, int]:
    """A small random instance: sparse scores, a few conflicts and the limits."""
    n_items, n_experts = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    pairs = [(f"i{i}", f"e{e}") for i in range(n_items) for e in range(n_experts)]
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True, min_size=1))
    rows = [(i, e, draw(st.integers(-3, 20)) / 4) for i, e in chosen]
    conflicts = set(draw(st.lists(st.sampled_from(chosen), max_size=3)))
    per_item = draw(st.integers(0, 3))
    max_load = draw(st.integers(0, 4))
    min_load = draw(st.integers(0, max_load))
    return rows, conflicts, per_item, max_load, min_load


@settings(max_examples=150, deadline=None)
@given(instances())
def test_assignment_meets_constraints_and_equals_exact_optimum(
    instance: tuple[list[tuple[str, str, float]], set[tuple[str, str]], int, int, int],
) -> None:
    """On small random instances the result satisfies every constraint and matches milp."""
    rows, conflicts, per_item, max_load, min_load = instance
    best = exact_optimum(rows, conflicts, per_item, max_load, min_load)
    if best is None:
        with pytest.raises(InfeasibleAssignment):
            assign_experts(
                rows, conflicts=conflicts, per_item=per_item, max_load=max_load, min_load=min_load
            )
        return
    result = assign_experts(
        rows, conflicts=conflicts, per_item=per_item, max_load=max_load, min_load=min_load
    )
    check_constraints(result, rows, conflicts, per_item, max_load, min_load)
    assert result.total_score == pytest.approx(best, abs=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_assignment_equals_brute_force(seed: int) -> None:
    """On dense 4x4 instances the result equals the best of all possible assignments."""
    rng = np.random.default_rng(seed)
    rows = [(f"i{i}", f"e{e}", float(rng.integers(0, 10))) for i in range(4) for e in range(4)]
    scores = {(i, e): s for i, e, s in rows}
    experts = [f"e{e}" for e in range(4)]
    best = -1.0
    for choice in itertools.product(itertools.combinations(experts, 2), repeat=4):
        loads = [sum(e in c for c in choice) for e in experts]
        if max(loads) <= 2:
            best = max(best, sum(scores[f"i{i}", e] for i, c in enumerate(choice) for e in c))
    result = assign_experts(rows, per_item=2, max_load=2)
    assert result.total_score == best


def test_item_with_too_few_candidates_is_named() -> None:
    """An item left with too few non-conflicted candidates is named in the refusal."""
    rows = [("bid-7", "E1", 1.0), ("bid-7", "E2", 0.5), ("bid-8", "E1", 1.0)]
    with pytest.raises(
        InfeasibleAssignment,
        match="Item 'bid-7' needs 2 experts but only 1 expert scored for it without a conflict",
    ) as info:
        assign_experts(rows, per_item=2, max_load=5, conflicts={("bid-7", "E2")})
    assert info.value.constraint == "per_item"


def test_group_short_of_capacity_is_named() -> None:
    """Items whose shared candidates cannot take them all are named with the shortfall."""
    rows = [(i, e, 1.0) for i in ("a", "b", "c") for e in ("E1", "E2")] + [
        ("c", "E3", 1.0),
        ("d", "E3", 1.0),
        ("d", "E4", 1.0),
        ("d", "E5", 1.0),
    ]
    with pytest.raises(InfeasibleAssignment, match="max load") as info:
        assign_experts(rows, per_item=2, max_load=2)
    assert (
        "'a', 'b', 'c' need 6 assignments between them but their candidates can take "
        "only 5 of them" in str(info.value)
    )
    assert info.value.constraint == "max_load"


def test_unreachable_min_load_is_named() -> None:
    """An expert scored for fewer items than the min load is named."""
    rows = [("a", "E1", 1.0), ("b", "E1", 1.0), ("a", "E2", 1.0)]
    with pytest.raises(InfeasibleAssignment, match="Expert 'E2' must get at least 2 items"):
        assign_experts(rows, per_item=1, max_load=2, min_load=2)


def test_csv_files_in_matcher_form(tmp_path: Path) -> None:
    """Scores and conflicts CSV files with and without headers read as the matcher form."""
    scores = tmp_path / "s.csv"
    scores.write_text(
        "item,expert,score\nbid-1,张伟,0.9\nbid-1,E2,0.5\nbid-2,张伟,0.75\n", encoding="utf-8"
    )
    conflicts = tmp_path / "c.csv"
    conflicts.write_text("bid-2,张伟,-1\n", encoding="utf-8")
    table = read_scores_csv(scores)
    assert table.items == ("bid-1", "bid-2") and len(table) == 3
    assert read_conflicts_csv(conflicts) == {("bid-2", "张伟")}
    with pytest.raises(InfeasibleAssignment, match="Item 'bid-2'"):
        assign_experts(table, per_item=1, max_load=1, conflicts=read_conflicts_csv(conflicts))


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("a,E1,0.5\nb,E1,high\n", 2, "the score 'high' is not a number"),
        ("a,E1,0.5\na,E1,0.7\n", 2, "already scored on line 1"),
        ("a,E1\n", 1, "found 2 cells"),
    ],
)
def test_bad_score_rows_name_file_and_line(
    tmp_path: Path, text: str, line: int, reason: str
) -> None:
    """A bad scores row raises with the file, line and reason."""
    path = tmp_path / "s.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidAffinity, match=reason) as info:
        read_scores_csv(path)
    assert (info.value.file, info.value.line) == (str(path), line)


def test_conflict_rows_must_end_in_minus_one(tmp_path: Path) -> None:
    """A conflicts row whose third cell is not -1 is refused."""
    path = tmp_path / "c.csv"
    path.write_text("a,E1,-1\na,E2,0.4\n", encoding="utf-8")
    with pytest.raises(InvalidAffinity, match="ends in -1"):
        read_conflicts_csv(path)
