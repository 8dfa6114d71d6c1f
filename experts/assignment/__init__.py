"""Batch assignment of many items to many experts, in three modes.

Each item (a tender bid or lot to evaluate, a consultation question) needs ``per_item``
experts; each expert takes between ``min_load`` and ``max_load`` items; conflicted pairs are
forbidden; only scored pairs may be assigned. Within those rules:

* :func:`assign_experts` (``optimal``) gives the greatest total score, a min-cost flow
  solved by OR-Tools (:mod:`.solver`, :mod:`.network`);
* :func:`assign_fair` (``fair``) serves the worst-served item as well as possible first, then
  maximises the total (:mod:`.fair`);
* :func:`assign_random` (``random``) draws an assignment at random so that no expert reaches
  a given item with a probability above a cap, maximising the expected total, seeded and
  replayable (:mod:`.randomized`).

Every function is pure: tables, counts and a seed in, an :class:`Assignment` out; nothing is
read, written or logged, so a tender can call them and replay a draw from what it recorded.

The surface (import from here; the modules are how it is kept):

=====================  ==============================================================
:mod:`.solver`         ``assign_experts``
:mod:`.fair`           ``assign_fair``
:mod:`.randomized`     ``assign_random``, ``assignment_probabilities``,
                       ``draw_assignment``, ``PairProbabilities``
:mod:`.instance`       ``Assignment``, ``AssignedExpert``, ``Mode``
:mod:`.affinity`       ``AffinityTable``, ``read_scores_csv``, ``read_conflicts_csv``
:mod:`.network`        the flow network and how scores become integer costs
:mod:`.infeasible`     which constraint cannot be met, as a sentence
=====================  ==============================================================

Importing this package loads nothing: each name below loads its module when first used (PEP
562), so ``counsel experts assign`` in the optimal mode never loads the fair and random
modes. Those modules load NumPy and pydantic only: OR-Tools is loaded by the first solve,
SciPy only to explain an infeasible instance, by the fair mode's exact search and by
``solver="lp"``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from experts.assignment.affinity import AffinityTable, read_conflicts_csv, read_scores_csv
    from experts.assignment.fair import assign_fair
    from experts.assignment.instance import AssignedExpert, Assignment, Mode
    from experts.assignment.randomized import (
        PairProbabilities,
        assign_random,
        assignment_probabilities,
        draw_assignment,
    )
    from experts.assignment.solver import assign_experts

#: Where each public name lives; :func:`__getattr__` imports the module on first use.
_HOMES = {
    "AffinityTable": "experts.assignment.affinity",
    "read_conflicts_csv": "experts.assignment.affinity",
    "read_scores_csv": "experts.assignment.affinity",
    "assign_fair": "experts.assignment.fair",
    "AssignedExpert": "experts.assignment.instance",
    "Assignment": "experts.assignment.instance",
    "Mode": "experts.assignment.instance",
    "PairProbabilities": "experts.assignment.randomized",
    "assign_random": "experts.assignment.randomized",
    "assignment_probabilities": "experts.assignment.randomized",
    "draw_assignment": "experts.assignment.randomized",
    "assign_experts": "experts.assignment.solver",
}

__all__ = [
    "AffinityTable",
    "AssignedExpert",
    "Assignment",
    "Mode",
    "PairProbabilities",
    "read_scores_csv",
    "read_conflicts_csv",
    "assign_experts",
    "assign_fair",
    "assign_random",
    "assignment_probabilities",
    "draw_assignment",
]


def __getattr__(name: str) -> object:
    """Import a public name's module the first time the name is asked for."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
