"""Separation of powers: may actor A do action X on decision D, and if not, why.

Pure: no database, no clock. The store builds the :class:`Parties` of a decision (who filed
it, who was asked to consult, vote, execute and inspect, which organisations have a stake)
and calls :func:`may` when a task is assigned and again when its answer arrives. Refusals
are written to the audit chain by the caller.

Rules, in the order they are checked:

1. the actor must hold the role the action needs (an expert consults, a member votes …);
2. only the decision's planner amends or withdraws it;
3. the planner may not vote on their own proposal nor accept its execution;
4. consulted experts, voting members, executors and inspectors are four separate groups per
   decision: whoever is in one may not act in another ("those who advise do not decide");
5. an actor affiliated with a stakeholder, bidder or executor organisation of the decision is
   conflicted and may not consult, vote or inspect on it.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from decisions.model import Actor, Role, TaskKind

__all__ = ["Action", "Parties", "Ruling", "may", "ACTION_FOR_TASK", "ROLES_FOR_ACTION"]


class Action(StrEnum):
    SUBMIT = "submit"
    AMEND = "amend"
    WITHDRAW = "withdraw"
    RESUME = "resume"
    CONSULT = "consult"
    DISCUSS = "discuss"
    VOTE = "vote"
    EXECUTE = "execute"
    INSPECT = "inspect"
    REVIEW = "review"
    WITNESS = "witness"


ACTION_FOR_TASK: dict[TaskKind, Action] = {
    TaskKind.CONSULT: Action.CONSULT,
    TaskKind.DISCUSS: Action.DISCUSS,
    TaskKind.VOTE: Action.VOTE,
    TaskKind.EXECUTE: Action.EXECUTE,
    TaskKind.INSPECT: Action.INSPECT,
    # a tender's evaluators advise: they are consulted experts, kept apart like them
    TaskKind.SCORE: Action.CONSULT,
    TaskKind.WITNESS: Action.WITNESS,
}

ROLES_FOR_ACTION: dict[Action, frozenset[Role]] = {
    Action.SUBMIT: frozenset({Role.PLANNER}),
    Action.AMEND: frozenset({Role.PLANNER}),
    Action.WITHDRAW: frozenset({Role.PLANNER}),
    Action.RESUME: frozenset({Role.PLANNER, Role.MANAGER}),
    Action.CONSULT: frozenset({Role.EXPERT}),
    Action.DISCUSS: frozenset({Role.EXPERT, Role.STAKEHOLDER, Role.PLANNER, Role.EXECUTOR}),
    Action.VOTE: frozenset({Role.MEMBER}),
    Action.EXECUTE: frozenset({Role.EXECUTOR}),
    Action.INSPECT: frozenset({Role.INSPECTOR}),
    Action.REVIEW: frozenset({Role.MANAGER}),
    Action.WITNESS: frozenset({Role.WITNESS}),
}

#: The four groups kept apart, with how a refusal names them.
_SEPARATED: dict[Action, str] = {
    Action.CONSULT: "advised on it as a consulted expert",
    Action.VOTE: "votes on it as a member of the decision body",
    Action.EXECUTE: "executes it",
    Action.INSPECT: "inspects its execution",
}
_VERB: dict[Action, str] = {
    Action.SUBMIT: "file a proposal",
    Action.AMEND: "amend it",
    Action.WITHDRAW: "withdraw it",
    Action.RESUME: "resume it",
    Action.CONSULT: "advise on it",
    Action.DISCUSS: "join its discussion",
    Action.VOTE: "vote on it",
    Action.EXECUTE: "execute it",
    Action.INSPECT: "inspect or accept its execution",
    Action.REVIEW: "review its history",
    Action.WITNESS: "witness its draw",
}
_ON_DECISION: dict[Action, str] = {
    Action.SUBMIT: "file decision {d}",
    Action.AMEND: "amend decision {d}",
    Action.WITHDRAW: "withdraw decision {d}",
    Action.RESUME: "resume decision {d}",
    Action.CONSULT: "advise on decision {d}",
    Action.DISCUSS: "join the discussion of decision {d}",
    Action.VOTE: "vote on decision {d}",
    Action.EXECUTE: "execute decision {d}",
    Action.INSPECT: "inspect or accept the execution of decision {d}",
    Action.REVIEW: "review the history of decision {d}",
    Action.WITNESS: "witness the draw of decision {d}",
}
_CONFLICT_CHECKED = frozenset({Action.CONSULT, Action.VOTE, Action.INSPECT, Action.WITNESS})


class Parties(BaseModel, frozen=True):
    """Who is involved in one decision, as the powers policy needs to know."""

    decision_id: str
    planner_id: str
    stakeholder_orgs: frozenset[str] = frozenset()
    bidder_orgs: frozenset[str] = frozenset()
    executor_orgs: frozenset[str] = frozenset()
    consulted: frozenset[str] = Field(default=frozenset(), description="experts given a task")
    voters: frozenset[str] = frozenset()
    executors: frozenset[str] = frozenset()
    inspectors: frozenset[str] = frozenset()

    def group(self, action: Action) -> frozenset[str]:
        return {
            Action.CONSULT: self.consulted,
            Action.VOTE: self.voters,
            Action.EXECUTE: self.executors,
            Action.INSPECT: self.inspectors,
        }.get(action, frozenset())


class Ruling(BaseModel, frozen=True):
    """The policy's answer: allowed, or refused with a sentence and the rule's name."""

    allowed: bool
    reason: str = ""
    rule: str = ""

    def __bool__(self) -> bool:
        return self.allowed


_ALLOWED = Ruling(allowed=True)


def may(actor: Actor, action: Action | str, parties: Parties) -> Ruling:
    """Decide whether ``actor`` may do ``action`` on the decision described by ``parties``.

    Parameters
    ----------
    actor : Actor
        Who asks, with their roles and organisation affiliations.
    action : Action or str
        What they want to do (``"consult"``, ``"vote"``, ``"inspect"`` …).
    parties : Parties
        The decision's planner, the groups already holding a task on it, and its
        stakeholder, bidder and executor organisations.

    Returns
    -------
    Ruling
        ``Ruling(allowed=True)``, or ``allowed=False`` with a reason a person can read.

    Examples
    --------
    >>> from decisions.model import Actor, Role
    >>> planner = Actor(id="li-wei", name="Li Wei", roles={Role.PLANNER, Role.MEMBER})
    >>> may(planner, "vote", Parties(decision_id="D-2026-0001", planner_id="li-wei")).reason
    'Li Wei filed decision D-2026-0001, so they may not vote on it.'
    """
    action = Action(action)
    d = parties.decision_id
    who = actor.name

    needed = ROLES_FOR_ACTION[action]
    if not needed & actor.roles:
        roles = " or ".join(sorted(r.value for r in needed))
        return Ruling(
            allowed=False,
            rule="role",
            reason=f"{who} may not {_ON_DECISION[action].format(d=d)}: "
            f"that needs the {roles} role, which they do not hold.",
        )

    if action in {Action.AMEND, Action.WITHDRAW} and actor.id != parties.planner_id:
        return Ruling(
            allowed=False,
            rule="planner-only",
            reason=f"Only the planner who filed decision {d} may {_VERB[action]}; "
            f"{who} did not file it.",
        )

    if (
        action is Action.RESUME
        and actor.id != parties.planner_id
        and Role.MANAGER not in actor.roles
    ):
        return Ruling(
            allowed=False,
            rule="planner-only",
            reason=f"Only the planner who filed decision {d} or a manager may {_VERB[action]}; "
            f"{who} is neither.",
        )

    if actor.id == parties.planner_id and action in {Action.VOTE, Action.INSPECT}:
        return Ruling(
            allowed=False,
            rule="own-proposal",
            reason=f"{who} filed decision {d}, so they may not {_VERB[action]}.",
        )

    if action in _SEPARATED:
        for other, description in _SEPARATED.items():
            if other is not action and actor.id in parties.group(other):
                return Ruling(
                    allowed=False,
                    rule="separation",
                    reason=f"{who} {description.replace('it', f'decision {d}', 1)}, so they "
                    f"may not also {_VERB[action]}: advising, deciding, executing and "
                    "inspecting are kept apart.",
                )

    if action in _CONFLICT_CHECKED:
        stakes = (
            ("an executor", parties.executor_orgs),
            ("a bidder", parties.bidder_orgs),
            ("a stakeholder", parties.stakeholder_orgs),
        )
        for label, orgs in stakes:
            shared = sorted(set(actor.affiliations) & orgs)
            if shared:
                return Ruling(
                    allowed=False,
                    rule="conflict",
                    reason=f"{who} is affiliated with {shared[0]}, {label} of decision {d}, "
                    f"so they have a conflict of interest and may not {_VERB[action]}.",
                )

    return _ALLOWED
