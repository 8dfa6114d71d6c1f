"""Batch assignment: every constraint holds, the total equals the exact optimum, clear refusals.

Also the CSV readers: the bulk reader and the row-by-row reader agree on any file, and a bad
file is refused with its line.
"""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
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
from experts.assignment.affinity import HEADER_CELLS
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


@st.composite
def float_instances(
    draw: st.DrawFn,
) -> tuple[list[tuple[str, str, float]], set[tuple[str, str]], int, int, int]:
    """A random instance with arbitrary float scores (negative, tiny and large ones too)."""
    rows, conflicts, per_item, max_load, min_load = draw(instances())
    scale = draw(st.sampled_from([1e-6, 1.0, 1e6]))
    floats = st.floats(-1.0, 1.0, allow_nan=False, allow_subnormal=False)
    return (
        [(i, e, draw(floats) * scale) for i, e, _ in rows],
        conflicts,
        per_item,
        max_load,
        min_load,
    )


@settings(max_examples=150, deadline=None)
@given(float_instances())
def test_flow_total_equals_the_linear_programme(
    instance: tuple[list[tuple[str, str, float]], set[tuple[str, str]], int, int, int],
) -> None:
    """OR-Tools' flow on 40-bit integer costs reaches the LP's optimum, at any magnitude."""
    rows, conflicts, per_item, max_load, min_load = instance
    counts = {"per_item": per_item, "max_load": max_load, "min_load": min_load}
    try:
        exact = assign_experts(rows, conflicts=conflicts, solver="lp", **counts)
    except InfeasibleAssignment as err:
        with pytest.raises(InfeasibleAssignment, match=re.escape(str(err))):
            assign_experts(rows, conflicts=conflicts, **counts)
        return
    flow = assign_experts(rows, conflicts=conflicts, **counts)
    check_constraints(flow, rows, conflicts, per_item, max_load, min_load)
    top = max((abs(s) for _, _, s in rows), default=1.0)
    # Never below the LP (beyond the flow's rounding bound, 2**-40 of the top score per
    # pair); above it only by HiGHS's own tolerance, which is absolute (about 1e-7).
    assert flow.total_score >= exact.total_score - 1e-9 * top
    assert flow.total_score == pytest.approx(exact.total_score, rel=1e-6, abs=1e-6)


def test_worst_item_score_is_reported() -> None:
    """The optimal mode reports its worst-served item's score (here below the fair 0.4)."""
    rows = [("a", "E1", 0.9), ("a", "E2", 0.4), ("b", "E1", 0.5), ("b", "E2", 0.3)]
    result = assign_experts(rows, per_item=1, max_load=1)
    assert result.mode == "optimal"
    assert (result.total_score, result.worst_item_score) == pytest.approx((1.2, 0.3))


def test_importing_the_package_loads_neither_scipy_nor_ortools() -> None:
    """The CLI starts without SciPy or OR-Tools: they load when a solve needs them."""
    code = (
        "import sys, experts.assignment as a; "
        "print(sorted(m for m in ('scipy', 'ortools') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


# -- the readers -------------------------------------------------------------------------

labels = st.sampled_from(["bid-1", "bid-2", "E1", "E2", "张伟", "Street office 3", " E1 "])
scores = st.sampled_from(["0.5", "-1", "1e-3", " 2 ", "1_0", "-1.0"])
minus_ones = st.sampled_from(["-1", " -1 ", "-1.0", "-1e0"])
odd_cells = st.sampled_from(["", "#x", '"q,uoted"', "high", "nan", "inf", "item", "\u3000E2"])


@st.composite
def csv_texts(
    draw: st.DrawFn, widths: tuple[int, ...] = (3,), numbers: st.SearchStrategy[str] = scores
) -> str:
    """Files in the matcher form, mostly plain, with every irregularity a file can have."""
    rows = []
    for _ in range(draw(st.integers(0, 6))):
        width = (
            draw(st.sampled_from(widths)) if draw(st.integers(0, 15)) else draw(st.integers(1, 4))
        )
        cells = [draw(labels), draw(labels), draw(numbers), draw(numbers)][:width]
        if not draw(st.integers(0, 5)):
            cells[draw(st.integers(0, width - 1))] = draw(odd_cells)
        rows.append(",".join(cells))
        if not draw(st.integers(0, 15)):
            rows.append(draw(st.sampled_from(["", "   ", "# note,a,b", ",,"])))
    if rows and draw(st.booleans()):
        rows.insert(0, draw(st.sampled_from(HEADER_CELLS)) + ",expert,score")
    end = draw(st.sampled_from(["\n", "\r\n"]))
    text = end.join(rows) + (end if draw(st.booleans()) else "")
    return ("\ufeff" if draw(st.booleans()) else "") + text


def read_both(reader: object, path: Path) -> tuple[object, object]:
    """What the bulk reader and the row reader make of ``path`` (a result or the error)."""
    out = []
    for bulk in (True, False):
        try:
            got = reader(path, bulk=bulk)  # type: ignore[operator]
        except InvalidAffinity as err:
            got = ("refused", str(err))
        if hasattr(got, "score"):
            got = (
                got.items,
                got.experts,
                got.item.tolist(),
                got.expert.tolist(),
                got.score.tolist(),
            )
        out.append(got)
    return out[0], out[1]


@settings(max_examples=300, deadline=None)
@given(text=csv_texts())
def test_bulk_scores_reader_agrees_with_row_reader(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    """Any scores file gives the same table, or the same refusal, read in bulk or by rows."""
    path = tmp_path_factory.mktemp("csv") / "s.csv"
    path.write_bytes(text.encode("utf-8"))
    bulk, rows = read_both(read_scores_csv, path)
    assert bulk == rows


@settings(max_examples=200, deadline=None)
@given(text=csv_texts(widths=(2, 3), numbers=minus_ones))
def test_bulk_conflicts_reader_agrees_with_row_reader(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    """Any conflicts file gives the same pairs, or the same refusal, read either way."""
    path = tmp_path_factory.mktemp("csv") / "c.csv"
    path.write_bytes(text.encode("utf-8"))
    bulk, rows = read_both(read_conflicts_csv, path)
    assert bulk == rows


def test_bulk_reader_reads_a_large_plain_file(tmp_path: Path) -> None:
    """A plain file of many rows reads in bulk to the same table as row by row."""
    rng = np.random.default_rng(3)
    lines = ["item,expert,score"] + [
        f"bid-{i},E{e},{s!r}"
        for i in range(200)
        for e, s in zip(
            rng.choice(300, 20, replace=False).tolist(), rng.random(20).tolist(), strict=True
        )
    ]
    path = tmp_path / "s.csv"
    path.write_text("\r\n".join(lines), encoding="utf-8")
    bulk, rows = read_both(read_scores_csv, path)
    assert bulk == rows and len(bulk[4]) == 4_000  # type: ignore[index]


def test_gbk_scores_file_is_refused_with_its_line(tmp_path: Path) -> None:
    """A scores file saved as GBK is refused with the line of its first bad byte."""
    path = tmp_path / "s.csv"
    path.write_bytes("bid-1,E1,0.5\nbid-2,张伟,0.7\n".encode("gb18030"))
    with pytest.raises(InvalidAffinity, match="is not UTF-8; save the file as UTF-8") as info:
        read_scores_csv(path)
    assert info.value.line == 2
