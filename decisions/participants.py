"""Who takes part in each stage of a decision, chosen from the registered actors.

Pure functions over actors and a decision: the flows call them, then assign tasks, and the
powers policy checks each assignment. Experts are routed by ``experts.rank_experts``; these
cover the other stages.
"""

from __future__ import annotations

from collections.abc import Iterable

from decisions.classes import DecisionClass
from decisions.model import Actor, Decision, Role

__all__ = ["body_members", "stakeholder_representatives", "executors_for", "inspectors_for"]


def _by_id(actors: Iterable[Actor]) -> list[Actor]:
    return sorted(actors, key=lambda a: a.id)


def body_members(actors: Iterable[Actor], decision_class: DecisionClass) -> list[Actor]:
    """Members of the class's decision body, in id order."""
    return _by_id(
        a for a in actors if Role.MEMBER in a.roles and decision_class.decision_body in a.bodies
    )


def stakeholder_representatives(actors: Iterable[Actor], decision: Decision) -> list[Actor]:
    """Stakeholder actors affiliated with one of the decision's stakeholder organisations."""
    orgs = set(decision.stakeholder_orgs)
    return _by_id(a for a in actors if Role.STAKEHOLDER in a.roles and orgs & set(a.affiliations))


def executors_for(actors: Iterable[Actor], decision: Decision) -> list[Actor]:
    """Executors from the decision's executor organisations (any executor if none are named)."""
    orgs = set(decision.executor_orgs)
    executors = [a for a in actors if Role.EXECUTOR in a.roles]
    if orgs:
        executors = [a for a in executors if orgs & set(a.affiliations)]
    return _by_id(executors)


def inspectors_for(actors: Iterable[Actor], decision_class: DecisionClass) -> list[Actor]:
    """Inspectors in id order; the powers policy drops any with a stake in the work."""
    del decision_class  # every inspector is a candidate; the class says how many are needed
    return _by_id(a for a in actors if Role.INSPECTOR in a.roles)
