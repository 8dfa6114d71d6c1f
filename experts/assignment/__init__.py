"""Batch assignment of many items to many experts: :func:`assign_experts`.

Each item (a tender bid to evaluate, a consultation question) needs ``per_item`` experts;
each expert takes between ``min_load`` and ``max_load`` items; conflicted pairs are
forbidden; only scored pairs may be assigned. Among all assignments that satisfy this the
one with the greatest total score is returned, solved as a min-cost flow (see
:mod:`.solver` for why that gives an integral optimum).

The surface (import from here; the modules are how it is kept):

=====================  ==============================================================
:mod:`.solver`         ``assign_experts``, ``Assignment``, ``AssignedExpert``
:mod:`.affinity`       ``AffinityTable``, ``read_scores_csv``, ``read_conflicts_csv``
:mod:`.infeasible`     which constraint cannot be met, as a sentence
=====================  ==============================================================
"""

from __future__ import annotations

from experts.assignment.affinity import AffinityTable, read_conflicts_csv, read_scores_csv
from experts.assignment.solver import AssignedExpert, Assignment, assign_experts

__all__ = [
    "AffinityTable",
    "AssignedExpert",
    "Assignment",
    "read_scores_csv",
    "read_conflicts_csv",
    "assign_experts",
]
