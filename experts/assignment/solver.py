"""The optimal mode: the assignment with the greatest total score, as a min-cost flow.

Each item (a tender bid to evaluate, a consultation question) needs ``per_item`` experts;
each expert takes between ``min_load`` and ``max_load`` items; conflicted pairs are
forbidden; only scored pairs may be assigned. Among all assignments that satisfy this the
one with the greatest total score is returned.

The problem is a transportation problem, a min-cost flow source -> items -> experts -> sink
whose optimal flows are integral (:mod:`.network`); it is solved by OR-Tools' min-cost flow
solver on integer costs (scores scaled to 40 significant bits, see :mod:`.network` for the
bound this puts on the total). Counsel used to solve the same problem as a linear programme
with HiGHS's dual simplex (:func:`scipy.optimize.linprog`), whose vertex solutions are
integral for the same reason; that path is kept as ``solver="lp"``, the exact reference the
tests and ``bench/assignment.py`` compare the flow with.

When the constraints cannot all be met, :class:`~experts.exceptions.InfeasibleAssignment`
says which one, naming items or experts: an item with too few candidates, too little total
capacity, an expert who cannot reach the minimum load, or a group of items whose candidates
cannot take them all (found as a minimum cut, :mod:`.infeasible`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

import numpy as np
import numpy.typing as npt

from experts.assignment.affinity import AffinityTable
from experts.assignment.instance import Assignment, Instance, assignment_of, prepare
from experts.assignment.network import solve_flow
from experts.exceptions import ExpertsError

__all__ = ["assign_experts", "optimal_pairs"]


def optimal_pairs(instance: Instance) -> npt.NDArray[np.bool_]:
    """The pairs of a greatest-total assignment of ``instance`` (a mask over its pairs).

    Raises
    ------
    InfeasibleAssignment
        If the counts, loads and conflicts cannot all be met, naming what fails.
    """
    flow = solve_flow(instance)
    if flow is None:
        instance.explain_infeasible()
    assert flow is not None
    return flow > 0


def _lp_pairs(instance: Instance) -> npt.NDArray[np.bool_]:
    """The same optimum by HiGHS's dual simplex: Counsel's solver before OR-Tools."""
    import scipy.sparse as sp  # type: ignore[import-untyped]
    from scipy.optimize import (  # type: ignore[import-untyped]
        Bounds,
        LinearConstraint,
        linprog,
        milp,
    )

    item, expert, score = instance.item, instance.expert, instance.score
    need, cap, floor = instance.need, instance.cap, instance.floor
    n = item.size
    if n == 0:
        return np.zeros(0, bool)
    cols = np.arange(n)
    a_items = sp.csr_array((np.ones(n), (item, cols)), shape=(need.size, n))
    a_experts = sp.csr_array((np.ones(n), (expert, cols)), shape=(cap.size, n))
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
        instance.explain_infeasible()
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
    return np.asarray(x > 0.5)


def assign_experts(
    scores: AffinityTable | Iterable[tuple[str, str, float]],
    *,
    per_item: int | Mapping[str, int] = 3,
    max_load: int | Mapping[str, int] = 3,
    min_load: int | Mapping[str, int] = 0,
    conflicts: Iterable[tuple[str, str]] = (),
    solver: Literal["flow", "lp"] = "flow",
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
    solver : {"flow", "lp"}
        OR-Tools' min-cost flow (the default), or SciPy's HiGHS linear programme that
        Counsel used before (slower; kept as the exact reference).

    Returns
    -------
    Assignment
        An optimal assignment: no other satisfying the constraints has a higher total score
        (with ``solver="flow"``, up to the bound in :mod:`.network`).

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
    instance = prepare(
        scores, per_item=per_item, max_load=max_load, min_load=min_load, conflicts=conflicts
    )
    chosen = _lp_pairs(instance) if solver == "lp" else optimal_pairs(instance)
    return assignment_of(instance, chosen, mode="optimal")
