"""The transportation network of an assignment, solved as a min-cost flow by OR-Tools.

The network is source -> items -> experts -> sink: the source gives each item ``need``
units, each scored, unconflicted pair is an arc item -> expert of capacity one, and each
expert passes at most ``cap`` units to the sink. An expert's min load ``floor`` is a lower
bound on its sink arc, written the usual way: the expert's node demands ``floor`` units
itself and its sink arc keeps ``cap - floor``, so only assignments that meet every min load
balance the network. The constraint matrix is a network matrix (totally unimodular), so an
optimal flow with integer capacities is integral: the min-cost flow *is* the optimal
assignment, with no rounding of a fractional solution.

The solver is OR-Tools' :class:`~ortools.graph.python.min_cost_flow.SimpleMinCostFlow`
(Goldberg's cost-scaling push-relabel), which solves the 5,000 x 7,500 benchmark network
(about 490,000 arcs) in about 0.2 s on one core of the project's machines, where HiGHS's
dual simplex took about 2 s for the same problem written as a linear programme.

**Integer costs.** The solver takes integer arc costs, so a weight ``w`` (the score, or a
weighted score in the fair mode) becomes the cost ``-round(w * S)`` with

    S = 2**b / max|w|,   b = min(40, log2(2**62 / max(2 * (nodes + 1), total_flow)))

rounded down to whole bits: the largest weight maps to ``2**b``, so every weight keeps ``b``
significant bits (40 unless the network has more than about 2**21 nodes), and neither the
solver's internal scaling of costs by the number of nodes nor the total cost can overflow a
64-bit integer. The flow found is optimal for the rounded costs; each rounding is at most
half a unit, so its total weight is within ``k * max|w| / 2**b`` of the true optimum, where
``k`` is the number of pairs assigned: for the 15,000 pairs of the benchmark and scores in
[0, 1] that is 1.4e-8, far inside the 1e-6 relative agreement with the LP that the tests
and ``bench/assignment.py`` check (on scores with fewer significant bits, such as the tests'
multiples of 1/4, the optimum is exact). Should the solver still report a cost range it
cannot handle, ``b`` is lowered by 8 bits and the network solved again.

**Scaled capacities.** The random mode solves the fractional problem with each pair at most
``P = p/q``: the same network with supplies and loads multiplied by ``q`` and each pair arc
of capacity ``p`` (``unit=q``, ``pair_capacity=p``). Its integral optimal flow divided by
``q`` is an optimal fractional solution.
"""

from __future__ import annotations

import math

import numpy as np

from experts.assignment.affinity import FloatArray, IntArray
from experts.assignment.instance import Instance
from experts.exceptions import ExpertsError

__all__ = ["COST_BITS", "cost_scale", "solve_flow"]

#: Significant bits kept of the largest weight when weights become integer costs.
COST_BITS = 40


def cost_scale(weights: FloatArray, *, nodes: int, total_flow: int, bits: int = COST_BITS) -> float:
    """The factor ``S`` that turns weights into integer costs (see the module docstring)."""
    top = float(np.abs(weights).max(initial=0.0))
    if top == 0.0:
        return 1.0
    room = math.floor(math.log2(2.0**62 / max(2 * (nodes + 1), total_flow, 1)))
    return 2.0 ** min(bits, room) / top


def solve_flow(
    instance: Instance,
    weights: FloatArray | None = None,
    *,
    unit: int = 1,
    pair_capacity: int = 1,
) -> IntArray | None:
    """The flow on each pair of a maximum-weight assignment, or None if none exists.

    Parameters
    ----------
    instance : Instance
        The pairs, counts and loads.
    weights : array of float, optional
        What to maximise per pair (default: the scores).
    unit, pair_capacity : int
        Supplies and loads are multiplied by ``unit`` and each pair carries at most
        ``pair_capacity`` (1 and 1: an assignment; ``q`` and ``p``: the fractional problem
        with a cap ``p/q`` per pair, see the module docstring).

    Returns
    -------
    array of int or None
        The flow on each of ``instance``'s pairs (0 or 1 for an assignment), or None if the
        counts, loads and conflicts cannot all be met.

    Raises
    ------
    ExpertsError
        If the solver fails for another reason (a bug, not a user's mistake).
    """
    from ortools.graph.python.min_cost_flow import (  # type: ignore[import-untyped]
        SimpleMinCostFlow,
    )

    n_items, n_experts = len(instance.table.items), len(instance.table.experts)
    item, expert = instance.item, instance.expert
    w = instance.score if weights is None else weights
    source, sink = 0, n_items + n_experts + 1
    nodes, n = sink + 1, item.size
    supply = int(instance.need.sum()) * unit
    floor = instance.floor * unit
    tails = np.concatenate(
        [np.zeros(n_items, np.int64), 1 + item, 1 + n_items + np.arange(n_experts)]
    )
    heads = np.concatenate(
        [1 + np.arange(n_items), 1 + n_items + expert, np.full(n_experts, sink, np.int64)]
    )
    capacities = np.concatenate(
        [instance.need * unit, np.full(n, pair_capacity, np.int64), instance.cap * unit - floor]
    )
    supplies = np.zeros(nodes, np.int64)
    supplies[source] = supply
    supplies[1 + n_items : sink] = -floor
    supplies[sink] = -(supply - int(floor.sum()))
    bits = COST_BITS
    while True:
        scale = cost_scale(w, nodes=nodes, total_flow=supply, bits=bits)
        costs = np.concatenate(
            [
                np.zeros(n_items, np.int64),
                -np.rint(w * scale).astype(np.int64),
                np.zeros(n_experts, np.int64),
            ]
        )
        flow = SimpleMinCostFlow()
        arcs = flow.add_arcs_with_capacity_and_unit_cost(tails, heads, capacities, costs)
        flow.set_nodes_supplies(np.arange(nodes), supplies)
        status = flow.solve()
        if status == flow.OPTIMAL:
            return np.asarray(flow.flows(arcs[n_items : n_items + n]), np.int64)
        if status == flow.INFEASIBLE:
            return None
        if status == flow.BAD_COST_RANGE and bits > 8:
            bits -= 8
            continue
        raise ExpertsError(f"The min-cost flow solver stopped with status {status.name}.")
