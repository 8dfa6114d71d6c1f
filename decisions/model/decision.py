"""The decision aggregate: a proposal carried through consult, discuss, decide and execute.

A :class:`Decision` changes state only through its methods; each method checks the lifecycle
table (:mod:`decisions.model.lifecycle`), changes the state and records a past-tense
:class:`DomainEvent` that the store writes to the audit chain in the same transaction. The
proposal's texts are kept as numbered :class:`ProposalVersion` s, version 1 being what the
planner filed.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from decisions.clock import utcnow
from decisions.exceptions import DecisionError, InvalidProposal, InvalidTransition
from decisions.model.lifecycle import (
    EVENT_NAMES,
    TRANSITIONS,
    WITHDRAWABLE_WHEN_STALLED_IN,
    State,
)
from decisions.text import (
    REASON_MAX,
    Document,
    Reason,
    Title,
    checked_text,
    plain_text,
    shown,
)

__all__ = ["DECISION_ID_PATTERN", "DomainEvent", "ProposalVersion", "Decision"]

DECISION_ID_PATTERN = re.compile(r"^D-(\d{4})-(\d{4,})$")


class DomainEvent(BaseModel, frozen=True):
    """Something that happened to a decision; the store turns it into one audit event."""

    name: str
    decision_id: str
    payload: dict[str, Any] = Field(default_factory=dict)


class ProposalVersion(BaseModel, frozen=True):
    """One numbered text of the proposal; version 1 is what the planner filed."""

    number: int = Field(ge=1)
    title: Title = Field(min_length=1)
    text: Document = Field(min_length=1)
    author_id: str
    note: Reason = ""
    created_at: datetime = Field(default_factory=utcnow)


class Decision(BaseModel):
    """A major question carried through consult, discuss, decide and execute."""

    model_config = ConfigDict(validate_assignment=False)

    id: str
    title: Title = Field(min_length=1)
    description: Document = Field(min_length=1)
    class_name: str = Field(min_length=1)
    district: str = Field(min_length=1)
    district_type: str | None = None
    topics: list[str] = Field(default_factory=list)
    stakeholder_orgs: list[str] = Field(default_factory=list)
    bidder_orgs: list[str] = Field(default_factory=list)
    executor_orgs: list[str] = Field(default_factory=list)
    planner_id: str
    state: State = State.SUBMITTED
    round: int = Field(default=0, ge=0)
    state_reason: str | None = None
    stalled_from: State | None = None
    versions: list[ProposalVersion] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    events: list[DomainEvent] = Field(default_factory=list, exclude=True, repr=False)

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not DECISION_ID_PATTERN.match(value):
            raise ValueError(f"decision ids look like D-2026-0001, not {shown(value)}")
        return value

    @classmethod
    def file(
        cls,
        *,
        id: str,
        title: str,
        description: str,
        class_name: str,
        district: str,
        planner_id: str,
        district_type: str | None = None,
        topics: list[str] | None = None,
        stakeholder_orgs: list[str] | None = None,
        bidder_orgs: list[str] | None = None,
        executor_orgs: list[str] | None = None,
        text: str | None = None,
    ) -> Decision:
        """A new decision in ``submitted`` with its proposal as version 1."""
        decision = cls(
            id=id,
            title=title,
            description=description,
            class_name=class_name,
            district=district,
            district_type=district_type,
            planner_id=planner_id,
            topics=list(topics or []),
            stakeholder_orgs=list(stakeholder_orgs or []),
            bidder_orgs=list(bidder_orgs or []),
            executor_orgs=list(executor_orgs or []),
        )
        version = ProposalVersion(
            number=1, title=title, text=text or description, author_id=planner_id
        )
        decision.versions.append(version)
        decision._record(
            "submitted",
            title=title,
            class_name=class_name,
            district=district,
            district_type=district_type,
            planner_id=planner_id,
            topics=decision.topics,
            stakeholder_orgs=decision.stakeholder_orgs,
            bidder_orgs=decision.bidder_orgs,
            executor_orgs=decision.executor_orgs,
            version=1,
        )
        return decision

    # -- queries ---------------------------------------------------------------------------

    @property
    def current_version(self) -> ProposalVersion:
        return self.versions[-1]

    @property
    def is_final(self) -> bool:
        return self.state in {State.CLOSED, State.REJECTED, State.WITHDRAWN}

    def allowed_actions(self) -> tuple[str, ...]:
        """The lifecycle actions possible from the current state, in table order."""
        return tuple(
            action for action, (sources, _) in TRANSITIONS.items() if self.state in sources
        )

    # -- transitions -----------------------------------------------------------------------

    def start_consultation(self) -> None:
        """Begin consultation round 1 (or, after a return, the next round)."""
        self._move("start_consultation", State.CONSULTING)
        self.round += 1

    def next_round(self, *, max_rounds: int | None = None) -> None:
        """Begin the next Delphi round; refused past the class's ``max_rounds``."""
        self._check("next_round")
        if max_rounds is not None and self.round >= max_rounds:
            raise DecisionError(
                f"Decision {self.id} is already in round {self.round} of at most {max_rounds}; "
                "close the consultation with its dissent instead of starting another round.",
                decision_id=self.id,
            )
        self._move("next_round", State.CONSULTING, round=self.round + 1)
        self.round += 1

    def open_discussion(self) -> None:
        self._move("open_discussion", State.DISCUSSING)

    def open_vote(self) -> None:
        self._move("open_vote", State.DECIDING)

    def approve(self, *, with_amendments: bool = False) -> None:
        self._move("approve", State.APPROVED, with_amendments=with_amendments)

    def reject(self) -> None:
        self._move("reject", State.REJECTED)

    def return_to_consultation(self, questions: str) -> None:
        """The body sends the proposal back to the experts with its questions."""
        if not questions.strip():
            raise InvalidProposal(
                f"Returning decision {self.id} to consultation needs the body's questions.",
                decision_id=self.id,
            )
        questions = plain_text(questions, limit=REASON_MAX)
        self._move("return_to_consultation", State.RETURNED, reason=questions)

    def start_execution(self) -> None:
        self._move("start_execution", State.EXECUTING)

    def accept_execution(self) -> None:
        self._move("accept_execution", State.ACCEPTED)

    def close(self) -> None:
        self._move("close", State.CLOSED)

    def withdraw(self, reason: str) -> None:
        """The planner withdraws the proposal; only possible before the vote."""
        if self.state is State.STALLED and self.stalled_from not in WITHDRAWABLE_WHEN_STALLED_IN:
            raise InvalidTransition(
                decision_id=self.id,
                state=f"stalled in {self.stalled_from}",
                action="withdraw",
                allowed=("resume",),
            )
        try:
            reason = checked_text(reason, what="The reason for withdrawing", limit=REASON_MAX)
        except ValueError as err:
            raise InvalidProposal(str(err), decision_id=self.id) from err
        self._move("withdraw", State.WITHDRAWN, reason=reason)

    def stall(self, reason: str) -> None:
        """A stage could not complete (quorum missed, too few answers); keeps the reason."""
        if not reason.strip():
            raise DecisionError(
                f"Stalling decision {self.id} needs a reason the planner can read.",
                decision_id=self.id,
            )
        previous = self.state
        self._move("stall", State.STALLED, reason=plain_text(reason, limit=REASON_MAX))
        self.stalled_from = previous

    def resume(self) -> None:
        """Return a stalled decision to the stage it stalled in."""
        self._check("resume")
        target = self.stalled_from or State.CONSULTING
        self._move("resume", target)
        self.stalled_from = None

    def amend(self, *, title: str, text: str, author_id: str, note: str = "") -> ProposalVersion:
        """Publish an amended proposal version (the planner, in discussion)."""
        self._check("amend")
        try:
            version = ProposalVersion(
                number=len(self.versions) + 1,
                title=title,
                text=text,
                author_id=author_id,
                note=note,
            )
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            message = str(first["msg"]).removeprefix("Value error, ")
            raise InvalidProposal(
                f"The amended proposal's {where}: {message}.", decision_id=self.id
            ) from err
        self.versions.append(version)
        self.title = version.title
        self.updated_at = utcnow()
        self._record("amended", version=version.number, title=version.title, note=version.note)
        return version

    # -- internals -------------------------------------------------------------------------

    def _check(self, action: str) -> None:
        sources, _ = TRANSITIONS[action]
        if self.state not in sources:
            raise InvalidTransition(
                decision_id=self.id,
                state=self.state.value,
                action=action,
                allowed=self.allowed_actions(),
            )

    def _move(self, action: str, target: State, **payload: Any) -> None:
        self._check(action)
        source = self.state
        self.state = target
        reason = payload.get("reason")
        self.state_reason = reason if isinstance(reason, str) else None
        self.updated_at = utcnow()
        self._record(EVENT_NAMES[action], **{"from": source.value, "to": target.value}, **payload)

    def _record(self, name: str, **payload: Any) -> None:
        self.events.append(
            DomainEvent(name=f"decision.{name}", decision_id=self.id, payload=payload)
        )
