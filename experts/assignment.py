"""Batch assignment of many items to many experts as a min-cost flow.

Each item (a tender bid to evaluate, a consultation question) needs ``per_item`` experts;
each expert takes between ``min_load`` and ``max_load`` items; conflicted pairs are
forbidden; only scored pairs may be assigned. Among all assignments that satisfy this the
one with the greatest total score is returned.

The problem is a transportation problem (a min-cost flow source -> items -> experts -> sink):
its constraint matrix is the incidence matrix of a bipartite graph, totally unimodular, so
the linear programme has integral vertices. It is solved with HiGHS's dual simplex through
:func:`scipy.optimize.linprog`, which returns a vertex, hence an integral optimum (checked;
should a solution ever come back fractional, it is re-solved as an integer programme).

When the constraints cannot all be met, :class:`~experts.exceptions.InfeasibleAssignment`
says which one, naming items or experts: an item with too few candidates, too little total
capacity, an expert who cannot reach the minimum load, or a group of items whose candidates
cannot take them all (found as a minimum cut with :func:`scipy.sparse.csgraph.maximum_flow`).

Files use the form conference-review matchers use: ``item,expert,score`` rows for affinity
and ``item,expert,-1`` rows for conflicts, with or without a header row.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp  # type: ignore[import-untyped]
from pydantic import BaseModel
from scipy.optimize import (  # type: ignore[import-untyped]
    Bounds,
    LinearConstraint,
    linprog,
    milp,
)
from scipy.sparse.csgraph import (  # type: ignore[import-untyped]
    breadth_first_order,
    maximum_flow,
)

from experts.exceptions import ExpertsError, InfeasibleAssignment, InvalidAffinity

__all__ = [
    "AffinityTable",
    "AssignedExpert",
    "Assignment",
    "read_scores_csv",
    "read_conflicts_csv",
    "assign_experts",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class AffinityTable:
    """Scored (item, expert) pairs in array form: labels and one row per pair."""

    items: tuple[str, ...]
    experts: tuple[str, ...]
    item: IntArray
    expert: IntArray
    score: FloatArray

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, float]]) -> AffinityTable:
        """Build a table from ``(item, expert, score)`` rows (labels in first-seen order).

        Raises
        ------
        ValueError
            If a pair is listed twice or a score is not a finite number.
        """
        items: dict[str, int] = {}
        experts: dict[str, int] = {}
        ii: list[int] = []
        ee: list[int] = []
        ss: list[float] = []
        seen: set[tuple[int, int]] = set()
        for item, expert, score in rows:
            i = items.setdefault(item, len(items))
            e = experts.setdefault(expert, len(experts))
            if (i, e) in seen:
                raise ValueError(f"The pair ({item!r}, {expert!r}) is scored twice.")
            if not math.isfinite(score):
                raise ValueError(f"The score of ({item!r}, {expert!r}) is not a finite number.")
            seen.add((i, e))
            ii.append(i)
            ee.append(e)
            ss.append(float(score))
        return cls(tuple(items), tuple(experts), np.array(ii, np.int64), np.array(ee, np.int64),
                   np.array(ss, np.float64))

    def __len__(self) -> int:
        return int(self.score.size)


class AssignedExpert(BaseModel, frozen=True):
    """An expert given to an item, with the pair's score."""

    expert: str
    score: float


class Assignment(BaseModel, frozen=True):
    """The optimal assignment: experts per item (best score first), total score, loads."""

    by_item: dict[str, tuple[AssignedExpert, ...]]
    total_score: float
    loads: dict[str, int]

    def to_json(self) -> dict[str, list[dict[str, str | float]]]:
        """``{item: [{"expert": ..., "score": ...}, ...]}``, the CLI's output form."""
        return {item: [{"expert": a.expert, "score": a.score} for a in chosen]
                for item, chosen in self.by_item.items()}


def _rows(path: Path, width: tuple[int, ...]) -> Iterable[tuple[int, list[str]]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        line = 1
        for cells in reader:
            here, line = line, reader.line_num + 1
            cells = [c.strip() for c in cells]
            if not any(cells) or cells[0].startswith("#"):
                continue
            if len(cells) not in width:
                raise InvalidAffinity(file=str(path), line=here, reason=(
                    f"expected item,expert,score ({' or '.join(map(str, width))} cells), "
                    f"found {len(cells)} cells"))
            yield here, cells


def _is_header(cells: list[str]) -> bool:
    return cells[0].lower() in ("item", "paper", "paper_id", "item_id", "task")


def read_scores_csv(path: str | Path) -> AffinityTable:
    """Read ``item,expert,score`` rows (an optional header row is skipped).

    Raises
    ------
    InvalidAffinity
        For a row with the wrong number of cells, an empty label, a score that is not a
        finite number, or a pair scored twice (with file and line).
    """
    path = Path(path)
    rows: list[tuple[str, str, float]] = []
    where: dict[tuple[str, str], int] = {}
    first = True
    for line, cells in _rows(path, (3,)):
        if first and _is_header(cells):
            first = False
            continue
        first = False
        item, expert, raw = cells
        if not item or not expert:
            raise InvalidAffinity(file=str(path), line=line,
                                  reason="item and expert must not be empty")
        try:
            score = float(raw)
        except ValueError:
            score = math.nan
        if not math.isfinite(score):
            raise InvalidAffinity(file=str(path), line=line,
                                  reason=f"the score {raw!r} is not a number")
        if (item, expert) in where:
            raise InvalidAffinity(file=str(path), line=line, reason=(
                f"the pair {item},{expert} was already scored on line {where[item, expert]}"))
        where[item, expert] = line
        rows.append((item, expert, score))
    return AffinityTable.from_rows(rows)


def read_conflicts_csv(path: str | Path) -> set[tuple[str, str]]:
    """Read ``item,expert,-1`` (or ``item,expert``) conflict rows into a set of pairs.

    Raises
    ------
    InvalidAffinity
        For a row with the wrong number of cells or a third cell other than ``-1``.
    """
    path = Path(path)
    out: set[tuple[str, str]] = set()
    first = True
    for line, cells in _rows(path, (2, 3)):
        if first and _is_header(cells):
            first = False
            continue
        first = False
        if not cells[0] or not cells[1]:
            raise InvalidAffinity(file=str(path), line=line,
                                  reason="item and expert must not be empty")
        if len(cells) == 3:
            try:
                flag = float(cells[2])
            except ValueError:
                flag = 0.0
            if flag != -1:
                raise InvalidAffinity(file=str(path), line=line, reason=(
                    f"a conflict row ends in -1, not {cells[2]!r}"))
        out.add((cells[0], cells[1]))
    return out


def _per(value: int | Mapping[str, int], labels: tuple[str, ...], what: str) -> IntArray:
    if isinstance(value, Mapping):
        arr = np.array([int(value.get(x, 0)) for x in labels], np.int64)
    else:
        arr = np.full(len(labels), int(value), np.int64)
    if (arr < 0).any():
        raise ValueError(f"{what} must not be negative.")
    return arr


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def assign_experts(
    scores: AffinityTable | Iterable[tuple[str, str, float]],
    *,
    per_item: int | Mapping[str, int] = 3,
    max_load: int | Mapping[str, int] = 3,
    min_load: int | Mapping[str, int] = 0,
    conflicts: Iterable[tuple[str, str]] = (),
) -> Assignment:
    """Assign experts to items maximising total score under counts, loads and conflicts.

    Parameters
    ----------
    scores : AffinityTable or iterable of (item, expert, score)
        The scored pairs; only these may be assigned. Items and experts are those named here.
    per_item : int or mapping of item to int
        Experts each item needs (exactly).
    max_load, min_load : int or mapping of expert to int
        Most and fewest items per expert (a mapping gives 0 to experts it omits).
    conflicts : iterable of (item, expert)
        Pairs that must not be assigned.

    Returns
    -------
    Assignment
        An optimal assignment: no other satisfying the constraints has a higher total score.

    Raises
    ------
    InfeasibleAssignment
        If the constraints cannot all be met; the message names the constraint and the items
        or experts concerned.
    ValueError
        If a count is negative.

    Examples
    --------
    >>> a = assign_experts([("bid-1", "E1", 0.9), ("bid-1", "E2", 0.5), ("bid-2", "E1", 0.8)],
    ...                    per_item=1, max_load=1)
    >>> {item: [x.expert for x in chosen] for item, chosen in a.by_item.items()}
    {'bid-1': ['E2'], 'bid-2': ['E1']}
    """
    table = scores if isinstance(scores, AffinityTable) else AffinityTable.from_rows(scores)
    n_items, n_experts = len(table.items), len(table.experts)
    need = _per(per_item, table.items, "per_item")
    cap = _per(max_load, table.experts, "max_load")
    floor = _per(min_load, table.experts, "min_load")
    bad = np.flatnonzero(floor > cap)
    if bad.size:
        raise InfeasibleAssignment(
            f"Expert {table.experts[bad[0]]!r} has a min load of {floor[bad[0]]} above their "
            f"max load of {cap[bad[0]]}.", constraint="min_load")

    keep = np.ones(len(table), bool)
    forbidden = set(conflicts)
    if forbidden:
        item_pos = {x: i for i, x in enumerate(table.items)}
        expert_pos = {x: i for i, x in enumerate(table.experts)}
        codes = {item_pos[i] * n_experts + expert_pos[e] for i, e in forbidden
                 if i in item_pos and e in expert_pos}
        if codes:
            keep = ~np.isin(table.item * n_experts + table.expert,
                            np.fromiter(codes, np.int64, len(codes)))
    item, expert, score = table.item[keep], table.expert[keep], table.score[keep]
    _check_counts(table, item, expert, need, cap, floor)

    n = item.size
    cols = np.arange(n)
    a_items = sp.csr_array((np.ones(n), (item, cols)), shape=(n_items, n))
    a_experts = sp.csr_array((np.ones(n), (expert, cols)), shape=(n_experts, n))
    if n == 0:
        x = np.zeros(0)
    else:
        if floor.any():
            a_ub = sp.vstack([a_experts, -a_experts]).tocsr()
            b_ub = np.concatenate([cap, -floor]).astype(float)
        else:
            a_ub, b_ub = a_experts, cap.astype(float)
        result = linprog(-score, A_ub=a_ub, b_ub=b_ub, A_eq=a_items, b_eq=need.astype(float),
                         bounds=(0.0, 1.0), method="highs-ds")
        if result.status == 2:
            _explain_infeasible(table, item, expert, need, cap, floor)
        if result.status != 0 or result.x is None:
            raise ExpertsError(f"The assignment solver stopped: {result.message}")
        x = np.asarray(result.x)
        if np.abs(x - np.round(x)).max(initial=0.0) > 1e-6:  # pragma: no cover - TU matrix
            a = sp.vstack([a_items, a_experts]).tocsr()
            lo = np.concatenate([need, floor]).astype(float)
            hi = np.concatenate([need, cap]).astype(float)
            exact = milp(-score, constraints=LinearConstraint(a, lo, hi),
                         integrality=np.ones(n), bounds=Bounds(0, 1))
            x = np.asarray(exact.x)
    chosen = np.flatnonzero(x > 0.5)
    order = chosen[np.lexsort((expert[chosen], -score[chosen], item[chosen]))]
    by_item: dict[str, list[AssignedExpert]] = {i: [] for i in table.items}
    loads = dict.fromkeys(table.experts, 0)
    for c in order:
        e = table.experts[expert[c]]
        by_item[table.items[item[c]]].append(AssignedExpert(expert=e, score=float(score[c])))
        loads[e] += 1
    return Assignment(by_item={k: tuple(v) for k, v in by_item.items()},
                      total_score=float(score[chosen].sum()), loads=loads)


def _check_counts(table: AffinityTable, item: IntArray, expert: IntArray, need: IntArray,
                  cap: IntArray, floor: IntArray) -> None:
    """Raise with a clear sentence for the infeasibilities visible from counts alone."""
    n_items, n_experts = len(table.items), len(table.experts)
    have = np.bincount(item, minlength=n_items)
    short = np.flatnonzero(have < need)
    if short.size:
        i = short[0]
        others = f" ({_plural(short.size - 1, 'other item')} too)" if short.size > 1 else ""
        raise InfeasibleAssignment(
            f"Item {table.items[i]!r} needs {need[i]} experts but only "
            f"{_plural(int(have[i]), 'expert')} scored for it without a conflict{others}.",
            constraint="per_item")
    degree = np.bincount(expert, minlength=n_experts)
    demand = int(need.sum())
    capacity = int(np.minimum(cap, degree).sum())
    if demand > capacity:
        raise InfeasibleAssignment(
            f"The {_plural(n_items, 'item')} need {demand:,} assignments but the experts can "
            f"take at most {capacity:,} under the max load.", constraint="max_load")
    low = np.flatnonzero(degree < floor)
    if low.size:
        e = low[0]
        raise InfeasibleAssignment(
            f"Expert {table.experts[e]!r} must get at least {_plural(int(floor[e]), 'item')} "
            "(min load) but is "
            f"scored without a conflict for only {_plural(int(degree[e]), 'item')}.",
            constraint="min_load")
    if int(floor.sum()) > demand:
        raise InfeasibleAssignment(
            f"The min load asks for at least {int(floor.sum()):,} assignments but the items "
            f"need only {demand:,}.", constraint="min_load")


def _explain_infeasible(table: AffinityTable, item: IntArray, expert: IntArray, need: IntArray,
                        cap: IntArray, floor: IntArray) -> None:
    """Find which constraint fails (a minimum cut) and raise with that sentence."""
    n_items, n_experts = len(table.items), len(table.experts)
    source, sink = 0, n_items + n_experts + 1
    rows = np.concatenate([np.zeros(n_items, np.int64), 1 + item,
                           1 + n_items + np.arange(n_experts)])
    cols = np.concatenate([1 + np.arange(n_items), 1 + n_items + expert,
                           np.full(n_experts, sink)])
    caps = np.concatenate([need, np.ones(item.size, np.int64), cap]).astype(np.int32)
    size = sink + 1
    graph = sp.csr_array((caps, (rows, cols)), shape=(size, size))
    flow = maximum_flow(sp.csr_matrix(graph), source, sink)
    demand = int(need.sum())
    if flow.flow_value >= demand:
        raise InfeasibleAssignment(
            "Every item can get its experts within the max load, but not while every expert "
            "also gets their min load; lower the min load or raise the max load.",
            constraint="min_load")
    # scipy's flow matrix is antisymmetric, so capacity minus flow is the residual graph,
    # reverse edges included.
    residual = (sp.csr_matrix(graph) - sp.csr_matrix(flow.flow)).maximum(0).tocsr()
    residual.eliminate_zeros()
    reach = breadth_first_order(residual, source, directed=True, return_predecessors=False)
    reached = set(int(v) for v in reach)
    group = np.array([i for i in range(n_items) if 1 + i in reached], np.int64)
    inside = np.zeros(n_experts, bool)
    inside[[e for e in range(n_experts) if 1 + n_items + e in reached]] = True
    # What the group can get: the full capacity of its saturated candidates plus one per
    # edge to a candidate outside the cut (the min cut's capacity restricted to the group).
    in_group = np.isin(item, group)
    can = int(cap[inside].sum()) + int(np.count_nonzero(in_group & ~inside[expert]))
    names = ", ".join(repr(table.items[i]) for i in group[:5])
    more = f" and {_plural(len(group) - 5, 'more item')}" if len(group) > 5 else ""
    wanted = int(need[group].sum())
    raise InfeasibleAssignment(
        f"Items {names}{more} need {wanted:,} assignments between them but their candidates "
        f"can take only {can:,} of them under the max load and conflicts.",
        constraint="max_load")
