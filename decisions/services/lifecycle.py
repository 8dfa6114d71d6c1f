"""A decision's life: filing a proposal, its transitions, amendments.

Each call is one unit of work: the domain model decides (an illegal step raises
:class:`~decisions.exceptions.InvalidTransition`), the decision is saved and its domain
events are written to the chain in the same transaction. The steps a person asks for are
ruled on by the separation of powers first; a refusal is audited and committed before
:class:`~decisions.exceptions.PermissionDenied` is raised.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Engine

from decisions.classes import ClassBook, DecisionClass
from decisions.exceptions import InvalidProposal, validation_sentence
from decisions.model import Actor, Decision, utcnow
from decisions.powers import Action, Parties, may
from decisions.services.common import SYSTEM, parties, refuse, write_events
from decisions.store import NewEvent
from decisions.text import Document, Name, Title
from decisions.uow import UnitOfWork, new_key

__all__ = [
    "Proposal",
    "submit_proposal",
    "apply_transition",
    "apply_transition_once",
    "amend_proposal",
]


class Proposal(BaseModel):
    """What a planner files: the ``SubmitProposal`` command, e.g. from ``proposal.yaml``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    title: Title = Field(min_length=1)
    description: Document = Field(min_length=1)
    class_name: Name = Field(alias="class", min_length=1)
    district: Name = Field(min_length=1)
    district_type: Name | None = None
    topics: list[Name] = Field(default_factory=list, max_length=50)
    stakeholder_orgs: list[Name] = Field(default_factory=list, alias="stakeholders", max_length=100)
    bidder_orgs: list[Name] = Field(default_factory=list, alias="bidders", max_length=100)
    executor_orgs: list[Name] = Field(default_factory=list, alias="executors", max_length=100)
    text: Document | None = None
    #: a tender's lots and bids (:class:`decisions.tender.TenderSpec`), for a tender class
    tender: dict[str, Any] | None = None


def _tender_spec(proposal: Proposal, decision_class: DecisionClass) -> dict[str, Any] | None:
    """The tender's lots and bids, checked, when the class is a tender's (None otherwise)."""
    from decisions.tender import TenderSpec

    if decision_class.tender is None:
        if proposal.tender is not None:
            raise InvalidProposal(
                f"Only a tender class takes lots and bids; {decision_class.name} is not one."
            )
        return None
    if proposal.tender is None:
        raise InvalidProposal(
            f"A proposal of the tender class {decision_class.name} lists its lots and bids "
            "under `tender:` (see examples/tender-road-cleaning.yaml)."
        )
    try:
        spec = TenderSpec.model_validate(proposal.tender)
    except ValidationError as err:
        raise InvalidProposal(f"The tender's lots and bids: {validation_sentence(err)}") from err
    return spec.model_dump(mode="json")


def submit_proposal(
    engine: Engine,
    proposal: Proposal,
    *,
    planner: Actor,
    classes: ClassBook,
    idempotency_key: str | None = None,
    year: int | None = None,
) -> Decision:
    """File a proposal: a new decision in ``submitted`` with its audit event.

    Raises
    ------
    InvalidProposal
        If the proposal names no topic (no expert could be routed to it).
    PermissionDenied
        If ``planner`` may not file proposals (the refusal is audited).
    """
    decision_class = classes.get(proposal.class_name, proposal.district_type)
    if not proposal.topics:
        raise InvalidProposal("A proposal needs at least one topic so experts can be routed to it.")
    tender = _tender_spec(proposal, decision_class)
    bidders = list(proposal.bidder_orgs)
    if tender is not None:  # every bidder has an interest: the powers keep their staff out
        bidders += [
            b for b in dict.fromkeys(b["bidder"] for b in tender["bids"]) if b not in bidders
        ]
    key = new_key(idempotency_key)
    with UnitOfWork(engine) as uow:
        if done := uow.recorded(key):
            return uow.decisions.get(done.decision_id or "")
        decision_id = uow.decisions.next_id(year or utcnow().year)
        filed = Parties(decision_id=decision_id, planner_id=planner.id)
        ruling = may(planner, Action.SUBMIT, filed)
        if not ruling:
            denial = refuse(uow, planner, Action.SUBMIT, filed, ruling.reason, ruling.rule, key)
            uow.commit()
            raise denial
        decision = Decision.file(
            id=decision_id,
            title=proposal.title,
            description=proposal.description,
            class_name=decision_class.name,
            district=proposal.district,
            district_type=proposal.district_type,
            planner_id=planner.id,
            topics=proposal.topics,
            stakeholder_orgs=proposal.stakeholder_orgs,
            bidder_orgs=bidders,
            executor_orgs=proposal.executor_orgs,
            text=proposal.text,
        )
        uow.decisions.add(decision)
        write_events(uow, decision, actor=planner.id, key=key)
        if tender is not None:
            uow.record(
                NewEvent(
                    actor=planner.id,
                    action="tender.filed",
                    decision_id=decision.id,
                    payload=tender,
                    idempotency_key=f"{key}#tender",
                )
            )
    return decision


#: Transitions a person may ask for, with the power that allows them.
_PEOPLES_ACTIONS = {"withdraw": Action.WITHDRAW, "resume": Action.RESUME}


def apply_transition(
    engine: Engine,
    decision_id: str,
    action: str,
    *,
    actor_id: str = SYSTEM,
    idempotency_key: str | None = None,
    **arguments: Any,
) -> Decision:
    """Run one lifecycle method (``open_vote``, ``stall`` …) and record its event.

    ``withdraw`` and ``resume``, when a person asks for them, are checked against the
    separation of powers; the other transitions are the engine's own steps and are recorded
    as done by ``actor_id``.

    Raises
    ------
    InvalidTransition
        If the lifecycle forbids ``action`` from the decision's state.
    PermissionDenied
        If the person asking may not (the refusal is audited).
    ValueError
        If ``action`` is not a lifecycle method.
    """
    decision, _ = apply_transition_once(
        engine, decision_id, action, actor_id=actor_id, idempotency_key=idempotency_key, **arguments
    )
    return decision


def apply_transition_once(
    engine: Engine,
    decision_id: str,
    action: str,
    *,
    actor_id: str = SYSTEM,
    idempotency_key: str | None = None,
    **arguments: Any,
) -> tuple[Decision, bool]:
    """:func:`apply_transition`, also saying whether this call wrote the transition (True)
    or found it recorded under its key (False): of any number of racing callers, only the
    one that wrote it sends what goes with it."""
    key = new_key(idempotency_key)
    with UnitOfWork(engine) as uow:
        if uow.recorded(key):
            return uow.decisions.get(decision_id), False
        decision = uow.decisions.get(decision_id)
        if action in _PEOPLES_ACTIONS and actor_id != SYSTEM:
            actor = uow.actors.get(actor_id)
            involved = parties(uow, decision)
            power = _PEOPLES_ACTIONS[action]
            ruling = may(actor, power, involved)
            if not ruling:
                denial = refuse(uow, actor, power, involved, ruling.reason, ruling.rule, key)
                uow.commit()
                raise denial
        method = getattr(decision, action, None)
        if action.startswith("_") or action == "amend" or not callable(method):
            raise ValueError(f"{action!r} is not a lifecycle action.")
        method(**arguments)
        uow.decisions.save(decision)
        write_events(uow, decision, actor=actor_id, key=key)
    return decision, True


def amend_proposal(
    engine: Engine,
    decision_id: str,
    *,
    actor: Actor,
    title: str,
    text: str,
    note: str = "",
    idempotency_key: str | None = None,
) -> Decision:
    """The planner publishes an amended proposal version during discussion."""
    key = new_key(idempotency_key)
    with UnitOfWork(engine) as uow:
        if uow.recorded(key):
            return uow.decisions.get(decision_id)
        decision = uow.decisions.get(decision_id)
        involved = parties(uow, decision)
        ruling = may(actor, Action.AMEND, involved)
        if not ruling:
            denial = refuse(uow, actor, Action.AMEND, involved, ruling.reason, ruling.rule, key)
            uow.commit()
            raise denial
        decision.amend(title=title, text=text, author_id=actor.id, note=note)
        uow.decisions.save(decision)
        write_events(uow, decision, actor=actor.id, key=key)
    return decision
