"""The fair mode: serve the worst-served item as well as possible, then maximise the total.

An item's *service* is the total score of the experts it gets. The fair mode looks for the
assignment whose worst-served item (among those that need experts) has the highest service,
and among those, the greatest total score, under the same counts, loads and conflicts as the
optimal mode. This is the aim of FairFlow (Kobren, Saha and McCallum, "Paper matching with
local fairness constraints", KDD 2019), which OpenReview offers for reviewer matching.

The first aim is NP-hard in general (three experts per item and interchangeable experts make
it 3-partition), so no flow computes it; the method, in three steps:

1. **Start from the optimum.** The optimal mode's assignment is the first candidate, so the
   fair mode's worst item is never served worse than the optimal mode's. An upper bound
   comes for free: no item can do better than the sum of its ``need`` best candidates, so the
   smallest such sum bounds every assignment's worst item. If the optimal assignment reaches
   it, it is the answer (best worst item, and the greatest total of all).
2. **Threshold search (FairFlow-like).** A binary search on a threshold ``T`` between the
   best worst item found and the bound. For each ``T``, up to 12 rounds of a max-weight
   flow in which every item still below ``T`` has its weight multiplied by 4 (its scores
   count 4, 16, 64… times as much), so the flow serves the needy items first and trades
   away score elsewhere. The threshold is raised when some round brings every item to ``T``
   and lowered when none does. Each round is one min-cost flow (:mod:`.network`), about
   0.07 s for 2,000 items x 3,000 experts; the search stops after 60 flows or when the
   interval is below 1e-9 of the scores. Among the assignments visited that reach the best
   worst item, the one with the greatest total is kept; three more flows relax the
   weights of that one towards 1 (square roots) and keep any that raise the total without
   lowering the worst item.
3. **Exact search on small instances.** With at most :data:`EXACT_PAIRS` pairs, a mixed
   integer programme (HiGHS branch and bound, :func:`scipy.optimize.milp`) settles both aims
   in turn: maximise ``t`` with every item's service at least ``t`` (``t`` no less than
   step 2's result), then maximise the total with every item at least that ``t``. Within
   ``time_limit`` seconds this is exact; the tests compare it with brute force.

The result's ``worst_item_score`` is its worst item's service; ``worst_item_bound`` is the
best proven bound (the sum bound of step 1, or the programme's bound), equal to
``worst_item_score`` when the worst item is proven served as well as possible.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import numpy.typing as npt

from experts.assignment.affinity import AffinityTable, FloatArray
from experts.assignment.instance import Assignment, Instance, assignment_of, prepare
from experts.assignment.network import solve_flow

__all__ = ["EXACT_PAIRS", "assign_fair"]

#: Instances with at most this many (unconflicted) pairs are settled by the exact search.
EXACT_PAIRS = 2_000

#: The threshold search's budget, in min-cost flows.
MAX_FLOWS = 60

Mask = npt.NDArray[np.bool_]


def _best_sums_bound(instance: Instance) -> float:
    """The smallest, over items that need experts, of the sum of their ``need`` best scores."""
    served = instance.need > 0
    if not served.any():
        return 0.0
    order = np.lexsort((-instance.score, instance.item))
    item, score = instance.item[order], instance.score[order]
    starts = np.searchsorted(item, np.arange(len(instance.table.items)))
    rank = np.arange(item.size) - starts[item]
    top = rank < instance.need[item]
    sums = np.bincount(item[top], weights=score[top], minlength=len(instance.table.items))
    return float(sums[served].min())


class _Search:
    """The candidates seen so far, and the best by worst item first, then total."""

    def __init__(self, instance: Instance, tolerance: float) -> None:
        self.instance = instance
        self.tolerance = tolerance
        self.flows = 0
        self.best: Mask | None = None
        self.best_worst = -np.inf
        self.best_total = -np.inf

    def offer(self, chosen: Mask) -> float:
        """Consider ``chosen``; return its worst item's service."""
        worst = self.instance.worst(chosen)
        total = float(self.instance.score[chosen].sum())
        tol = self.tolerance
        if worst > self.best_worst + tol or (
            worst >= self.best_worst - tol and total > self.best_total + tol
        ):
            self.best, self.best_worst, self.best_total = chosen, worst, total
        return worst

    def flow(self, weight: FloatArray) -> tuple[Mask, float]:
        """The max-weight assignment with item weights ``weight``, offered; and its worst."""
        self.flows += 1
        flow = solve_flow(self.instance, self.instance.score * weight[self.instance.item])
        assert flow is not None  # the unweighted instance is feasible
        chosen = flow > 0
        return chosen, self.offer(chosen)


def _threshold_search(search: _Search, low: float, high: float) -> None:
    """Step 2 of the module docstring: binary search on the worst item's threshold."""
    instance, tol = search.instance, search.tolerance
    n_items = len(instance.table.items)
    served = instance.need > 0
    kept_weight = np.ones(n_items)
    while high - low > tol and search.flows < MAX_FLOWS:
        target = (low + high) / 2
        weight = np.ones(n_items)
        reached = False
        for _ in range(12):
            if search.flows >= MAX_FLOWS:
                break
            chosen, worst = search.flow(weight)
            if worst >= target - tol:
                reached = True
                if worst >= search.best_worst - tol:
                    kept_weight = weight.copy()
                break
            below = served & (instance.item_totals(chosen) < target - tol)
            weight[below] = np.minimum(weight[below] * 4.0, 4.0**10)
        if reached:
            low = max(target, search.best_worst)
        else:
            high = target
    for _ in range(3):
        if search.flows >= MAX_FLOWS + 3 or (kept_weight == 1.0).all():
            break
        kept_weight = np.sqrt(kept_weight)
        search.flow(kept_weight)


def _exact_search(search: _Search, bound: float, time_limit: float) -> float:
    """Step 3: both aims by mixed integer programming; returns the proven bound."""
    import scipy.sparse as sp  # type: ignore[import-untyped]
    from scipy.optimize import Bounds, LinearConstraint, milp  # type: ignore[import-untyped]

    instance, tol = search.instance, search.tolerance
    item, expert, score = instance.item, instance.expert, instance.score
    n, n_items, n_experts = item.size, len(instance.table.items), len(instance.table.experts)
    served = np.flatnonzero(instance.need > 0)
    cols = np.arange(n)
    a_items = sp.csr_array((np.ones(n), (item, cols)), shape=(n_items, n))
    a_experts = sp.csr_array((np.ones(n), (expert, cols)), shape=(n_experts, n))
    a_service = sp.csr_array((score, (item, cols)), shape=(n_items, n))[served]
    counts = [
        LinearConstraint(a_items, instance.need, instance.need),
        LinearConstraint(a_experts, instance.floor, instance.cap),
    ]
    # Aim 1: maximise t, every served item's service - t >= 0.
    with_t = sp.hstack([a_service, sp.csr_array(-np.ones((served.size, 1)))]).tocsr()
    pad = sp.csr_array((n_items, 1)), sp.csr_array((n_experts, 1))
    first = milp(
        np.r_[np.zeros(n), -1.0],
        constraints=[
            LinearConstraint(sp.hstack([a_items, pad[0]]), instance.need, instance.need),
            LinearConstraint(sp.hstack([a_experts, pad[1]]), instance.floor, instance.cap),
            LinearConstraint(with_t, 0.0, np.inf),
        ],
        integrality=np.r_[np.ones(n), 0],
        bounds=Bounds(np.r_[np.zeros(n), search.best_worst - tol], np.r_[np.ones(n), bound]),
        options={"time_limit": time_limit, "mip_rel_gap": 0.0},
    )
    if first.x is None:
        return bound
    proven = first.status == 0
    worst = search.offer(np.asarray(first.x[:n] > 0.5))
    dual = getattr(first, "mip_dual_bound", None)
    if dual is not None and np.isfinite(dual):
        bound = min(bound, -float(dual))
    if proven:
        bound = min(bound, max(worst, search.best_worst))
    # Aim 2: maximise the total with every served item at least the worst found.
    second = milp(
        -score,
        constraints=[*counts, LinearConstraint(a_service, search.best_worst - tol, np.inf)],
        integrality=np.ones(n),
        bounds=Bounds(0, 1),
        options={"time_limit": time_limit, "mip_rel_gap": 0.0},
    )
    if second.x is not None:
        search.offer(np.asarray(second.x > 0.5))
    return bound


def assign_fair(
    scores: AffinityTable | Iterable[tuple[str, str, float]],
    *,
    per_item: int | Mapping[str, int] = 3,
    max_load: int | Mapping[str, int] = 3,
    min_load: int | Mapping[str, int] = 0,
    conflicts: Iterable[tuple[str, str]] = (),
    time_limit: float = 10.0,
) -> Assignment:
    """Assign experts serving the worst-served item best first, then maximising the total.

    Parameters
    ----------
    scores, per_item, max_load, min_load, conflicts
        As for :func:`~experts.assignment.assign_experts`.
    time_limit : float
        Seconds for each of the exact search's two programmes (instances of at most
        :data:`EXACT_PAIRS` pairs); larger instances use the threshold search alone.

    Returns
    -------
    Assignment
        ``mode="fair"``; its ``worst_item_score`` is at least the optimal mode's, and
        ``worst_item_bound`` says how far it could still be from the best possible (the two
        are equal when it is proven the best).

    Raises
    ------
    InfeasibleAssignment
        If the constraints cannot all be met, naming what fails.
    ValueError
        If a count is negative.

    Examples
    --------
    Two bids, four experts, each expert on one bid. The optimal mode gives bid-1 the two
    weak experts (total 2.2, worst bid 0.5); the fair mode gives each bid a strong one:

    >>> rows = [("bid-1", "E1", 0.9), ("bid-1", "E2", 0.8), ("bid-1", "E3", 0.3),
    ...         ("bid-1", "E4", 0.2), ("bid-2", "E1", 0.9), ("bid-2", "E2", 0.8),
    ...         ("bid-2", "E3", 0.2), ("bid-2", "E4", 0.1)]
    >>> a = assign_fair(rows, per_item=2, max_load=1)
    >>> round(a.worst_item_score, 6), round(a.total_score, 6), round(a.worst_item_bound, 6)
    (1.0, 2.1, 1.0)
    """
    instance = prepare(
        scores, per_item=per_item, max_load=max_load, min_load=min_load, conflicts=conflicts
    )
    flow = solve_flow(instance)
    if flow is None:
        instance.explain_infeasible()
    assert flow is not None
    scale = float(np.abs(instance.score).max(initial=0.0))
    search = _Search(instance, tolerance=1e-9 * max(scale, 1e-300))
    search.offer(flow > 0)
    bound = _best_sums_bound(instance)
    if search.best_worst < bound - search.tolerance:
        _threshold_search(search, search.best_worst, bound)
        if search.best_worst < bound - search.tolerance and instance.item.size <= EXACT_PAIRS:
            bound = _exact_search(search, bound, time_limit)
    assert search.best is not None
    return assignment_of(
        instance,
        search.best,
        mode="fair",
        worst_item_bound=max(bound, search.best_worst),
    )
