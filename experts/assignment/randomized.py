"""The random mode: a seeded draw in which no expert reaches an item with probability above P.

A deterministic assignment tells anyone who knows the scores which experts will evaluate
which bid; a bidder who wants a friendly evaluator needs only to shape the scores. The
random mode bounds what anyone can arrange in advance: every expert lands on a given item
with probability at most ``P`` (``max_probability``), while the expected total score is as
high as that cap allows. This is the randomized assignment of Jecmen, Zhang, Liu, Shah,
Conitzer and Fang, "Mitigating manipulation in peer review via randomized reviewer
assignments" (NeurIPS 2020), which OpenReview offers as its randomized solver. Two steps:

1. **Probabilities** (:func:`assignment_probabilities`). The fractional assignment with the
   greatest expected total, each pair at most ``P``: the same counts and loads, each pair's
   variable in ``[0, P]``. With ``P = p/q`` this is the min-cost flow of :mod:`.network`
   with supplies and loads times ``q`` and pair capacities ``p``; its integral optimal flow
   ``f`` gives each pair the probability ``f/q``, exactly, as a fraction. ``P`` is taken as
   the fraction with a denominator of at most 1,000 nearest to it that does not exceed it
   (by more than 1e-12): 0.5 is 1/2, 0.3333 is 1/3, 0.37 is 37/100.
2. **Draw** (:func:`draw_assignment`). Dependent rounding on the bipartite graph (Gandhi,
   Khuller, Parthasarathy and Srinivasan, JACM 2006), in integers: while a pair's numerator
   is strictly between 0 and ``q``, walk along such pairs to a cycle or a maximal path
   (starting at an expert with one such pair when there is one), split its pairs
   alternately into A and B, and with probability ``β/(α+β)`` move ``α`` from B to A, else
   ``β`` from A to B, where ``α`` and ``β`` are the largest moves that keep every pair in
   ``[0, q]``. Each step makes at least one pair whole (0 or 1) and leaves every pair's
   expected value unchanged, so **each pair is drawn with exactly its probability**; every
   item keeps its count (its fractional count is whole, so it is never the end of a path),
   and every expert's load is its fractional load rounded up or down, so within the loads.

The draw's randomness is a stream of SHA-256 blocks, ``SHA-256(ALGORITHM, 0, seed, 0,
block number)``, read as 64-bit integers and turned into a choice below ``α+β`` by
rejection, so the same probabilities and seed give the same assignment on any machine and
any Python. The walk visits pairs in the order of the table, so a draw is a pure function of
the table, the counts, ``P`` and the seed; a tender records those (and :data:`ALGORITHM`)
and replays the draw. The probabilities come from OR-Tools' flow, whose choice among equally
good fractional solutions is fixed for a given version of OR-Tools; a replay on another
version can record and pass the probabilities themselves (:class:`PairProbabilities`).
"""

from __future__ import annotations

import hashlib
import heapq
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from experts.assignment.affinity import AffinityTable, FloatArray, IntArray
from experts.assignment.instance import Assignment, Instance, assignment_of, prepare
from experts.assignment.network import solve_flow
from experts.exceptions import InfeasibleAssignment

__all__ = [
    "ALGORITHM",
    "PairProbabilities",
    "DrawStream",
    "probability_fraction",
    "assignment_probabilities",
    "draw_assignment",
    "assign_random",
]

#: The name and version of the draw; a change to the draw's rules gets a new version.
ALGORITHM = "counsel-dependent-rounding-sha256/1"

#: The largest denominator of the cap ``P``.
MAX_DENOMINATOR = 1_000


def probability_fraction(max_probability: float) -> Fraction:
    """The cap ``P`` as a fraction (denominator at most 1,000, never above ``P``).

    Raises
    ------
    ValueError
        If ``max_probability`` is not above 0 and at most 1, or below 1/1,000.

    Examples
    --------
    >>> probability_fraction(0.5), probability_fraction(1 / 3), probability_fraction(0.37)
    (Fraction(1, 2), Fraction(1, 3), Fraction(37, 100))
    """
    if not (0 < max_probability <= 1):  # also refuses NaN
        raise ValueError(
            f"The max probability must be above 0 and at most 1, not {max_probability}."
        )
    cap = Fraction(max_probability).limit_denominator(MAX_DENOMINATOR)
    if cap > max_probability + 1e-12:
        cap = Fraction(math.floor(max_probability * MAX_DENOMINATOR), MAX_DENOMINATOR)
    if cap == 0:
        raise ValueError(
            f"The max probability must be at least 1/{MAX_DENOMINATOR:,}, not {max_probability}."
        )
    return cap


@dataclass(frozen=True, eq=False)
class PairProbabilities:
    """Each pair's probability of being drawn: ``numerator / denominator``, at most the cap.

    ``instance`` holds the pairs (see :class:`~experts.assignment.instance.Instance`);
    ``numerator`` has one entry per pair.
    """

    instance: Instance
    numerator: IntArray
    denominator: int
    max_probability: Fraction

    @property
    def probability(self) -> FloatArray:
        """Each pair's probability as a float."""
        return self.numerator / self.denominator

    @property
    def expected_total(self) -> float:
        """The expected total score of a draw (the fractional optimum)."""
        return float(self.instance.score @ self.numerator) / self.denominator

    def as_table(self) -> dict[tuple[str, str], float]:
        """``{(item, expert): probability}`` for the pairs with a probability above 0."""
        table = self.instance.table
        inst = self.instance
        return {
            (table.items[i], table.experts[e]): n / self.denominator
            for i, e, n in zip(
                inst.item.tolist(), inst.expert.tolist(), self.numerator.tolist(), strict=True
            )
            if n
        }


class DrawStream:
    """Uniform random integers from SHA-256 in counter mode, the same on every machine.

    Examples
    --------
    >>> s, t = DrawStream("notary-2026-0042"), DrawStream("notary-2026-0042")
    >>> [s.below(6) for _ in range(8)] == [t.below(6) for _ in range(8)]
    True
    """

    def __init__(self, seed: int | str) -> None:
        self._prefix = f"{ALGORITHM}\x00{seed}\x00".encode()
        self._block = 0
        self._words: list[int] = []

    def _word(self) -> int:
        if not self._words:
            digest = hashlib.sha256(self._prefix + self._block.to_bytes(8, "big")).digest()
            self._block += 1
            self._words = [int.from_bytes(digest[i : i + 8], "big") for i in (24, 16, 8, 0)]
        return self._words.pop()

    def below(self, n: int) -> int:
        """A uniform integer in ``[0, n)`` (rejection sampling on 64-bit words)."""
        limit = 2**64 - 2**64 % n
        while True:
            word = self._word()
            if word < limit:
                return word % n


def assignment_probabilities(
    scores: AffinityTable | Iterable[tuple[str, str, float]],
    *,
    per_item: int | Mapping[str, int] = 3,
    max_load: int | Mapping[str, int] = 3,
    min_load: int | Mapping[str, int] = 0,
    conflicts: Iterable[tuple[str, str]] = (),
    max_probability: float = 0.5,
) -> PairProbabilities:
    """Each pair's probability in the random mode: step 1 of the module docstring.

    Parameters
    ----------
    scores, per_item, max_load, min_load, conflicts
        As for :func:`~experts.assignment.assign_experts`.
    max_probability : float
        The cap ``P`` on every pair's probability, above 0 and at most 1.

    Returns
    -------
    PairProbabilities
        Probabilities with the greatest expected total score under the cap.

    Raises
    ------
    InfeasibleAssignment
        If the counts, loads and conflicts cannot all be met, or not under the cap (e.g. an
        item needing 3 experts with 5 candidates under a cap of 0.5).
    ValueError
        If a count is negative or ``max_probability`` is out of range.

    Examples
    --------
    >>> p = assignment_probabilities([("bid-1", "E1", 0.9), ("bid-1", "E2", 0.5)],
    ...                              per_item=1, max_load=1, max_probability=0.5)
    >>> p.as_table()
    {('bid-1', 'E1'): 0.5, ('bid-1', 'E2'): 0.5}
    """
    cap = probability_fraction(max_probability)
    instance = prepare(
        scores, per_item=per_item, max_load=max_load, min_load=min_load, conflicts=conflicts
    )
    p, q = cap.numerator, cap.denominator
    candidates = np.bincount(instance.item, minlength=instance.need.size)
    short = np.flatnonzero(candidates * p < instance.need * q)
    if short.size:
        i = int(short[0])
        others = f" ({short.size - 1:,} other items too)" if short.size > 1 else ""
        raise InfeasibleAssignment(
            f"Item {instance.table.items[i]!r} needs {instance.need[i]} experts, but with a "
            f"max probability of {float(cap):g} its {candidates[i]} candidates give it at "
            f"most {candidates[i] * float(cap):g}{others}; raise --max-probability or add "
            "candidates.",
            constraint="max_probability",
        )
    flow = solve_flow(instance, unit=q, pair_capacity=p)
    if flow is None:
        if solve_flow(instance) is None:
            instance.explain_infeasible()
        instance.explain_infeasible(
            unit=q, pair_capacity=p, why=f", the max probability of {float(cap):g}"
        )
    assert flow is not None
    return PairProbabilities(instance, flow, q, cap)


def _round(numerator: list[int], q: int, cycle: list[int], stream: DrawStream) -> list[int]:
    """One dependent-rounding step on ``cycle`` (pairs alternately in A and B, in order).

    Returns the pairs that became whole (0 or ``q``).
    """
    a, b = cycle[0::2], cycle[1::2]
    up = min(min(q - numerator[x] for x in a), min((numerator[x] for x in b), default=q))
    down = min(min(numerator[x] for x in a), min((q - numerator[x] for x in b), default=q))
    move = up if stream.below(up + down) < down else -down
    for x in a:
        numerator[x] += move
    for x in b:
        numerator[x] -= move
    return [x for x in cycle if numerator[x] in (0, q)]


def draw_assignment(probabilities: PairProbabilities, *, seed: int | str) -> Assignment:
    """Draw an assignment with each pair at its probability: step 2 of the module docstring.

    Parameters
    ----------
    probabilities : PairProbabilities
        From :func:`assignment_probabilities` (or recorded from an earlier run).
    seed : int or str
        The draw's seed; the same probabilities and seed always give the same assignment.

    Returns
    -------
    Assignment
        ``mode="random"``, with its ``seed``, ``max_probability`` and ``expected_total``.

    Examples
    --------
    >>> p = assignment_probabilities([("bid-1", "E1", 0.9), ("bid-1", "E2", 0.5)],
    ...                              per_item=1, max_load=1)
    >>> draw_assignment(p, seed=7) == draw_assignment(p, seed="7")
    True
    """
    inst = probabilities.instance
    q = probabilities.denominator
    n_items = len(inst.table.items)
    numerator = probabilities.numerator.tolist()
    ends = list(
        zip(inst.item.tolist(), (n_items + inst.expert).tolist(), strict=True)
    )  # node numbers: items, then experts
    adjacent: list[dict[int, None]] = [{} for _ in range(n_items + len(inst.table.experts))]
    for x, (u, v) in enumerate(ends):
        if 0 < numerator[x] < q:
            adjacent[u][x] = None
            adjacent[v][x] = None
    leaves = [v for v in range(len(adjacent)) if len(adjacent[v]) == 1]
    heapq.heapify(leaves)
    stream = DrawStream(seed)
    scan = 0
    while True:
        while leaves and len(adjacent[leaves[0]]) != 1:
            heapq.heappop(leaves)
        if leaves:
            start = leaves[0]
        else:
            while scan < len(adjacent) and not adjacent[scan]:
                scan += 1
            if scan == len(adjacent):
                break
            start = scan
        at, came, path = start, -1, {start: 0}
        edges: list[int] = []
        while True:
            step = next((x for x in adjacent[at] if x != came), -1)
            if step < 0:  # a dead end: a maximal path if it began at a leaf
                if len(adjacent[start]) == 1:
                    run = edges
                    break
                came, path, edges, start = -1, {at: 0}, [], at
                continue
            u, v = ends[step]
            nxt = v if u == at else u
            edges.append(step)
            if nxt in path:  # a cycle: from nxt's first visit round to here
                run = edges[path[nxt] :]
                break
            path[nxt] = len(edges)
            at, came = nxt, step
        for x in _round(numerator, q, run, stream):
            for node in ends[x]:
                del adjacent[node][x]
                if len(adjacent[node]) == 1:
                    heapq.heappush(leaves, node)
    chosen = np.array(numerator, np.int64) == q
    return assignment_of(
        inst,
        chosen,
        mode="random",
        seed=str(seed),
        max_probability=float(probabilities.max_probability),
        expected_total=probabilities.expected_total,
    )


def assign_random(
    scores: AffinityTable | Iterable[tuple[str, str, float]],
    *,
    seed: int | str,
    per_item: int | Mapping[str, int] = 3,
    max_load: int | Mapping[str, int] = 3,
    min_load: int | Mapping[str, int] = 0,
    conflicts: Iterable[tuple[str, str]] = (),
    max_probability: float = 0.5,
) -> Assignment:
    """Draw a random assignment, no pair above ``max_probability``, best expected total.

    The composition of :func:`assignment_probabilities` and :func:`draw_assignment`; the
    parameters are theirs.

    Examples
    --------
    >>> rows = [(f"lot-{i}", f"E{e}", 1.0) for i in range(3) for e in range(4)]
    >>> a = assign_random(rows, seed="witness-7391", per_item=1, max_load=1,
    ...                   max_probability=0.5)
    >>> a == assign_random(rows, seed="witness-7391", per_item=1, max_load=1,
    ...                    max_probability=0.5), a.mode, a.total_score
    (True, 'random', 3.0)
    """
    probabilities = assignment_probabilities(
        scores,
        per_item=per_item,
        max_load=max_load,
        min_load=min_load,
        conflicts=conflicts,
        max_probability=max_probability,
    )
    return draw_assignment(probabilities, seed=seed)
