"""Which constraint of a batch assignment cannot be met, in a sentence that names it.

A solver only says "infeasible"; a planner needs to know what to change. :func:`check_counts`
catches what counting shows (an item with too few candidates, too little total capacity, an
expert who cannot reach the minimum load). What counting cannot show, a group of items whose
candidates cannot take them all, :func:`explain_infeasible` finds as a minimum cut of the
flow network source -> items -> experts -> sink (:func:`scipy.sparse.csgraph.maximum_flow`),
and names the items of the group. SciPy is imported only then, so that solving a feasible
instance does not load it.
"""

from __future__ import annotations

from typing import NoReturn

import numpy as np

from experts.assignment.affinity import AffinityTable, IntArray
from experts.exceptions import InfeasibleAssignment

__all__ = ["check_counts", "explain_infeasible"]


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def check_counts(
    table: AffinityTable,
    item: IntArray,
    expert: IntArray,
    need: IntArray,
    cap: IntArray,
    floor: IntArray,
) -> None:
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
            constraint="per_item",
        )
    degree = np.bincount(expert, minlength=n_experts)
    demand = int(need.sum())
    capacity = int(np.minimum(cap, degree).sum())
    if demand > capacity:
        raise InfeasibleAssignment(
            f"The {_plural(n_items, 'item')} need {demand:,} assignments but the experts can "
            f"take at most {capacity:,} under the max load.",
            constraint="max_load",
        )
    low = np.flatnonzero(degree < floor)
    if low.size:
        e = low[0]
        raise InfeasibleAssignment(
            f"Expert {table.experts[e]!r} must get at least {_plural(int(floor[e]), 'item')} "
            "(min load) but is "
            f"scored without a conflict for only {_plural(int(degree[e]), 'item')}.",
            constraint="min_load",
        )
    if int(floor.sum()) > demand:
        raise InfeasibleAssignment(
            f"The min load asks for at least {int(floor.sum()):,} assignments but the items "
            f"need only {demand:,}.",
            constraint="min_load",
        )


def explain_infeasible(
    table: AffinityTable,
    item: IntArray,
    expert: IntArray,
    need: IntArray,
    cap: IntArray,
    *,
    unit: int = 1,
    pair_capacity: int = 1,
    why: str = "",
) -> NoReturn:
    """Find which constraint fails (a minimum cut) and raise with that sentence.

    ``unit`` and ``pair_capacity`` are those of :func:`~experts.assignment.network.solve_flow`
    (each pair carries at most ``pair_capacity / unit`` of an expert); ``why`` names what
    else limits the pairs in the sentence (e.g. the cap on probabilities).
    """
    import scipy.sparse as sp  # type: ignore[import-untyped]
    from scipy.sparse.csgraph import (  # type: ignore[import-untyped]
        breadth_first_order,
        maximum_flow,
    )

    n_items, n_experts = len(table.items), len(table.experts)
    source, sink = 0, n_items + n_experts + 1
    rows = np.concatenate(
        [np.zeros(n_items, np.int64), 1 + item, 1 + n_items + np.arange(n_experts)]
    )
    cols = np.concatenate([1 + np.arange(n_items), 1 + n_items + expert, np.full(n_experts, sink)])
    caps = np.concatenate(
        [need * unit, np.full(item.size, pair_capacity, np.int64), cap * unit]
    ).astype(np.int32)
    size = sink + 1
    graph = sp.csr_array((caps, (rows, cols)), shape=(size, size))
    flow = maximum_flow(sp.csr_matrix(graph), source, sink)
    demand = int(need.sum())
    if flow.flow_value >= demand * unit:
        raise InfeasibleAssignment(
            "Every item can get its experts within the max load, but not while every expert "
            "also gets their min load; lower the min load or raise the max load.",
            constraint="min_load",
        )
    # scipy's flow matrix is antisymmetric, so capacity minus flow is the residual graph,
    # reverse edges included.
    residual = (sp.csr_matrix(graph) - sp.csr_matrix(flow.flow)).maximum(0).tocsr()
    residual.eliminate_zeros()
    reach = breadth_first_order(residual, source, directed=True, return_predecessors=False)
    reached = set(int(v) for v in reach)
    group = np.array([i for i in range(n_items) if 1 + i in reached], np.int64)
    inside = np.zeros(n_experts, bool)
    inside[[e for e in range(n_experts) if 1 + n_items + e in reached]] = True
    # What the group can get: the full capacity of its saturated candidates plus what the
    # edges to candidates outside the cut carry (the min cut's capacity restricted to it).
    in_group = np.isin(item, group)
    can = int(cap[inside].sum()) * unit + int(np.count_nonzero(in_group & ~inside[expert])) * (
        pair_capacity
    )
    names = ", ".join(repr(table.items[i]) for i in group[:5])
    more = f" and {_plural(len(group) - 5, 'more item')}" if len(group) > 5 else ""
    wanted = int(need[group].sum())
    amount = f"{can // unit:,}" if can % unit == 0 else f"{can / unit:,.2f}"
    raise InfeasibleAssignment(
        f"Items {names}{more} need {wanted:,} assignments between them but their candidates "
        f"can take only {amount} of them under the max load{why} and conflicts.",
        constraint="max_load",
    )
