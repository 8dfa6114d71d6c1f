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
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped]
from pydantic import BaseModel
from scipy.optimize import (  # type: ignore[import-untyped]
    Bounds,
    LinearConstraint,
    linprog,
    milp,
)

from experts.assignment.affinity import AffinityTable, IntArray
from experts.assignment.infeasible import check_counts, explain_infeasible
from experts.exceptions import ExpertsError, InfeasibleAssignment

__all__ = ["AssignedExpert", "Assignment", "assign_experts"]


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
        return {
            item: [{"expert": a.expert, "score": a.score} for a in chosen]
            for item, chosen in self.by_item.items()
        }


def _per(value: int | Mapping[str, int], labels: tuple[str, ...], what: str) -> IntArray:
    if isinstance(value, Mapping):
        arr = np.array([int(value.get(x, 0)) for x in labels], np.int64)
    else:
        arr = np.full(len(labels), int(value), np.int64)
    if (arr < 0).any():
        raise ValueError(f"{what} must not be negative.")
    return arr


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
            f"max load of {cap[bad[0]]}.",
            constraint="min_load",
        )

    keep = np.ones(len(table), bool)
    forbidden = set(conflicts)
    if forbidden:
        item_pos = {x: i for i, x in enumerate(table.items)}
        expert_pos = {x: i for i, x in enumerate(table.experts)}
        codes = {
            item_pos[i] * n_experts + expert_pos[e]
            for i, e in forbidden
            if i in item_pos and e in expert_pos
        }
        if codes:
            keep = ~np.isin(
                table.item * n_experts + table.expert, np.fromiter(codes, np.int64, len(codes))
            )
    item, expert, score = table.item[keep], table.expert[keep], table.score[keep]
    check_counts(table, item, expert, need, cap, floor)

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
        result = linprog(
            -score,
            A_ub=a_ub,
            b_ub=b_ub,
            A_eq=a_items,
            b_eq=need.astype(float),
            bounds=(0.0, 1.0),
            method="highs-ds",
        )
        if result.status == 2:
            explain_infeasible(table, item, expert, need, cap, floor)
        if result.status != 0 or result.x is None:
            raise ExpertsError(f"The assignment solver stopped: {result.message}")
        x = np.asarray(result.x)
        if np.abs(x - np.round(x)).max(initial=0.0) > 1e-6:  # pragma: no cover - TU matrix
            a = sp.vstack([a_items, a_experts]).tocsr()
            lo = np.concatenate([need, floor]).astype(float)
            hi = np.concatenate([need, cap]).astype(float)
            exact = milp(
                -score,
                constraints=LinearConstraint(a, lo, hi),
                integrality=np.ones(n),
                bounds=Bounds(0, 1),
            )
            x = np.asarray(exact.x)
    chosen = np.flatnonzero(x > 0.5)
    order = chosen[np.lexsort((expert[chosen], -score[chosen], item[chosen]))]
    by_item: dict[str, list[AssignedExpert]] = {i: [] for i in table.items}
    loads = dict.fromkeys(table.experts, 0)
    for c in order:
        e = table.experts[expert[c]]
        by_item[table.items[item[c]]].append(AssignedExpert(expert=e, score=float(score[c])))
        loads[e] += 1
    return Assignment(
        by_item={k: tuple(v) for k, v in by_item.items()},
        total_score=float(score[chosen].sum()),
        loads=loads,
    )
