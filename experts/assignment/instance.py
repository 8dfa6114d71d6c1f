"""What every assignment mode shares: the instance it solves and the result it returns.

:func:`prepare` turns scores, counts, loads and conflicts into an :class:`Instance` (the
pairs that may be assigned, in array form) and refuses what counting alone shows cannot be
met. :func:`assignment_of` turns the pairs a mode chose into an :class:`Assignment`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NoReturn

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel

from experts.assignment.affinity import AffinityTable, FloatArray, IntArray
from experts.assignment.infeasible import check_counts, explain_infeasible
from experts.exceptions import InfeasibleAssignment

__all__ = ["Mode", "AssignedExpert", "Assignment", "Instance", "prepare", "assignment_of"]

#: The assignment modes: greatest total, worst-served item first, randomised under a cap.
Mode = Literal["optimal", "fair", "random"]

#: How :mod:`json` writes a string with ``ensure_ascii=False`` (its C encoder).
_encode_string = json.encoder.encode_basestring


def _float_text(value: float) -> str:
    """How :mod:`json` writes a float: its repr, or NaN, Infinity, -Infinity."""
    return float.__repr__(value) if math.isfinite(value) else json.dumps(value)


class AssignedExpert(BaseModel, frozen=True):
    """An expert given to an item, with the pair's score."""

    expert: str
    score: float


class Assignment(BaseModel, frozen=True):
    """An assignment: experts per item (best score first), total score, loads, and how.

    ``worst_item_score`` is the smallest total score of an item that needs experts (0 if
    none does). The fair mode also gives ``worst_item_bound``, a score no assignment's
    worst-served item can exceed (equal to ``worst_item_score`` when that is proven the best
    possible); the random mode gives its ``seed``, ``max_probability`` and
    ``expected_total``, the total score the draw has on average.
    """

    by_item: dict[str, tuple[AssignedExpert, ...]]
    total_score: float
    loads: dict[str, int]
    mode: Mode = "optimal"
    worst_item_score: float = 0.0
    worst_item_bound: float | None = None
    seed: str | None = None
    max_probability: float | None = None
    expected_total: float | None = None

    def to_json(self) -> dict[str, list[dict[str, str | float]]]:
        """``{item: [{"expert": ..., "score": ...}, ...]}``, the CLI's output form."""
        return {
            item: [{"expert": a.expert, "score": a.score} for a in chosen]
            for item, chosen in self.by_item.items()
        }

    def to_json_text(self) -> str:
        """:meth:`to_json` as ``json.dumps(..., ensure_ascii=False, indent=1)`` writes it.

        The same text, character for character, ten times faster: :mod:`json` encodes with an
        indent in pure Python, which took longer than solving for 15,000 pairs, so the lines
        are joined here around the C encoder's strings and :func:`repr` of the scores (as
        :mod:`json` writes a finite float).

        Examples
        --------
        >>> import json
        >>> a = Assignment(by_item={"bid-1": (AssignedExpert(expert="王芳", score=0.5),),
        ...                         'bid "2"': ()}, total_score=0.5, loads={"王芳": 1})
        >>> a.to_json_text() == json.dumps(a.to_json(), ensure_ascii=False, indent=1)
        True
        """
        if not self.by_item:
            return "{}"
        quote = _encode_string
        items = []
        for item, chosen in self.by_item.items():
            pairs = ",\n".join(
                f'  {{\n   "expert": {quote(a.expert)},\n   "score": {_float_text(a.score)}\n  }}'
                for a in chosen
            )
            items.append(f" {quote(item)}: [\n{pairs}\n ]" if chosen else f" {quote(item)}: []")
        return "{\n" + ",\n".join(items) + "\n}"


@dataclass(frozen=True, eq=False)
class Instance:
    """The pairs that may be assigned (scored, not conflicted) and the counts to meet.

    ``item``, ``expert`` and ``score`` have one entry per pair (positions in
    ``table.items`` and ``table.experts``); ``need`` per item; ``cap`` and ``floor`` (the
    max and min loads) per expert.
    """

    table: AffinityTable
    item: IntArray
    expert: IntArray
    score: FloatArray
    need: IntArray
    cap: IntArray
    floor: IntArray

    def item_totals(self, chosen: npt.NDArray[np.bool_]) -> FloatArray:
        """Each item's total score under the chosen pairs."""
        return np.asarray(
            np.bincount(
                self.item[chosen], weights=self.score[chosen], minlength=len(self.table.items)
            ),
            np.float64,
        )

    def explain_infeasible(
        self, *, unit: int = 1, pair_capacity: int = 1, why: str = ""
    ) -> NoReturn:
        """Raise the sentence that says which constraint cannot be met (a minimum cut).

        ``unit`` and ``pair_capacity`` are those of the flow that found no solution (see
        :func:`~experts.assignment.network.solve_flow`); ``why`` names what else limits it.
        """
        explain_infeasible(
            self.table,
            self.item,
            self.expert,
            self.need,
            self.cap,
            unit=unit,
            pair_capacity=pair_capacity,
            why=why,
        )

    def worst(self, chosen: npt.NDArray[np.bool_]) -> float:
        """The smallest total score among the items that need experts (0 if none does)."""
        served = self.need > 0
        return float(self.item_totals(chosen)[served].min()) if served.any() else 0.0


def _per(value: int | Mapping[str, int], labels: tuple[str, ...], what: str) -> IntArray:
    if isinstance(value, Mapping):
        arr = np.array([int(value.get(x, 0)) for x in labels], np.int64)
    else:
        arr = np.full(len(labels), int(value), np.int64)
    if (arr < 0).any():
        raise ValueError(f"{what} must not be negative.")
    return arr


def prepare(
    scores: AffinityTable | Iterable[tuple[str, str, float]],
    *,
    per_item: int | Mapping[str, int],
    max_load: int | Mapping[str, int],
    min_load: int | Mapping[str, int],
    conflicts: Iterable[tuple[str, str]],
) -> Instance:
    """The instance to solve: conflicted pairs dropped, counts checked.

    Raises
    ------
    InfeasibleAssignment
        If counting shows a constraint cannot be met (see
        :func:`~experts.assignment.infeasible.check_counts`).
    ValueError
        If a count is negative.
    """
    table = scores if isinstance(scores, AffinityTable) else AffinityTable.from_rows(scores)
    n_experts = len(table.experts)
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
    return Instance(table, item, expert, score, need, cap, floor)


def assignment_of(
    instance: Instance, chosen: npt.NDArray[np.bool_], *, mode: Mode = "optimal", **about: Any
) -> Assignment:
    """The :class:`Assignment` of the chosen pairs (a mask over ``instance``'s pairs).

    Each item's experts are listed best score first (ties by the expert's position in the
    table); ``about`` fills the mode's own fields of :class:`Assignment`.
    """
    table, item, expert, score = instance.table, instance.item, instance.expert, instance.score
    picked = np.flatnonzero(chosen)
    order = picked[np.lexsort((expert[picked], -score[picked], item[picked]))]
    names = table.experts
    by_item: dict[str, list[AssignedExpert]] = {i: [] for i in table.items}
    lists = list(by_item.values())
    make = AssignedExpert  # validating is faster than model_construct in pydantic 2
    for i, e, s in zip(
        item[order].tolist(), expert[order].tolist(), score[order].tolist(), strict=True
    ):
        lists[i].append(make(expert=names[e], score=s))
    counts = np.bincount(expert[picked], minlength=len(names)).tolist()
    return Assignment(
        by_item={k: tuple(v) for k, v in by_item.items()},
        total_score=float(score[picked].sum()),
        loads=dict(zip(names, counts, strict=True)),
        mode=mode,
        worst_item_score=instance.worst(chosen),
        **about,
    )
