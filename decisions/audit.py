"""The tamper-evident audit chain: canonical payloads, event hashes and verification.

Each event's hash is SHA-256 over its previous event's hash and its own fields, so changing,
removing, reordering or inserting a stored event breaks the chain at that point, and
:func:`verify_chain` names the first event where it breaks. Cutting events off the end
leaves a valid but shorter chain; that is caught against an :class:`Anchor` (event count and
head hash) recorded outside the database: in every export, and in Prefect artifacts.

The chain proves integrity and order relative to its anchors; it is not a signature: whoever
can write the database and knows this scheme could append well-formed events after the last
anchor. Publishing anchors often (exports, artifacts) bounds that window.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel

__all__ = [
    "GENESIS_HASH",
    "FIELD_SEPARATOR",
    "AuditEvent",
    "Anchor",
    "ChainReport",
    "canonical_json",
    "format_timestamp",
    "event_hash",
    "verify_chain",
]

GENESIS_HASH = "0" * 64
FIELD_SEPARATOR = "\x1f"
_FIELDS_PER_EVENT = 8


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"{type(value).__name__} cannot be written to the audit chain")


def canonical_json(value: Any) -> str:
    """JSON with sorted keys, no spaces and raw UTF-8: one text for one value."""
    return json.dumps(
        value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_default,
    )


def format_timestamp(moment: datetime) -> str:
    """UTC time as ``2026-11-26T06:50:49.123456Z`` (the form that is hashed)."""
    if moment.tzinfo is None:
        raise ValueError("audit times must carry a time zone")
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def event_hash(
    prev_hash: str,
    seq: int,
    recorded_at: str,
    actor: str,
    action: str,
    decision_id: str | None,
    idempotency_key: str | None,
    payload: str,
) -> str:
    """SHA-256 of the previous hash and the event's fields joined by the unit separator.

    Canonical JSON escapes control characters, and ids and actions are checked to hold none,
    so the separator cannot be smuggled into a field to shift bytes between fields.
    """
    data = FIELD_SEPARATOR.join(
        (
            prev_hash,
            str(seq),
            recorded_at,
            actor,
            action,
            decision_id or "",
            idempotency_key or "",
            payload,
        )
    )
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One stored event of the chain (a plain dataclass: histories build thousands)."""

    seq: int
    recorded_at: str
    actor: str
    action: str
    decision_id: str | None
    idempotency_key: str | None
    payload: str
    prev_hash: str
    hash: str

    @property
    def data(self) -> Any:
        """The payload, parsed."""
        return json.loads(self.payload)

    def as_dict(self) -> dict[str, Any]:
        """The stored fields, for exports (payload kept as the hashed text)."""
        return {name: getattr(self, name) for name in self.__slots__}


class Anchor(BaseModel, frozen=True):
    """The chain's head as recorded outside the database: how many events, the last hash."""

    count: int
    head_hash: str


@dataclass(frozen=True, slots=True)
class ChainReport:
    """What :func:`verify_chain` found."""

    ok: bool
    count: int
    head_hash: str
    first_bad_seq: int | None = None
    reason: str = ""
    first_prev: str | None = None  # the first walked event's previous hash (for segments)

    @property
    def anchor(self) -> Anchor:
        return Anchor(count=self.count, head_hash=self.head_hash)


Row = tuple[int, str, str, str, str | None, str | None, str, str, str]


def verify_chain(
    rows: Iterable[Row],
    *,
    anchor: Anchor | None = None,
    start: int = 1,
    previous: str | None = GENESIS_HASH,
) -> ChainReport:
    """Walk stored events in ``seq`` order and report the first that breaks the chain.

    Parameters
    ----------
    rows : iterable of tuples
        ``(seq, recorded_at, actor, action, decision_id, idempotency_key, payload,
        prev_hash, hash)`` ordered by ``seq``, as the store yields them.
    anchor : Anchor, optional
        A head recorded earlier outside the database. Without it a cut-off tail cannot be seen.
    start, previous : int, str or None
        Where the walk starts and the hash the first event must follow; ``previous=None``
        walks a segment whose link to the events before it the caller checks
        (:func:`decisions.ledger.verify_store` splits long chains over processes).

    Returns
    -------
    ChainReport
        ``ok`` with the count and head hash, or the first bad event's ``seq`` and the reason.

    Examples
    --------
    >>> verify_chain([]).ok
    True
    """
    sha256 = hashlib.sha256
    sep = FIELD_SEPARATOR
    expected = start
    first_prev: str | None = None
    anchor_seen = anchor is None or anchor.count < start
    for seq, recorded_at, actor, action, decision_id, key, payload, prev_hash, stored in rows:
        if first_prev is None:
            first_prev = prev_hash
            if previous is None:
                previous = prev_hash  # the caller checks this segment's link
        if seq != expected:
            reason = (
                f"event {expected} is missing: the chain jumps from event {expected - 1} to {seq}"
                if seq > expected
                else f"event {seq} appears out of order after event {expected - 1}"
            )
            return ChainReport(False, expected - 1, previous or "", expected, reason, first_prev)
        if prev_hash != previous:
            return ChainReport(
                False,
                seq - 1,
                previous or "",
                seq,
                f"event {seq} does not follow event {seq - 1}: its previous-hash field does not "
                "match (an event before it was removed, replaced or reordered)",
                first_prev,
            )
        data = sep.join(
            (prev_hash, str(seq), recorded_at, actor, action, decision_id or "", key or "", payload)
        )
        if (
            data.count(sep) != _FIELDS_PER_EVENT - 1
            or decision_id == ""  # the store writes NULL, never "", so "" is an edit
            or key == ""
            or sha256(data.encode()).hexdigest() != stored
        ):
            return ChainReport(
                False,
                seq - 1,
                previous or "",
                seq,
                f"event {seq} was altered: its content no longer matches its hash",
                first_prev,
            )
        if anchor is not None and seq == anchor.count:
            if stored != anchor.head_hash:
                return ChainReport(
                    False,
                    seq - 1,
                    previous or "",
                    seq,
                    f"event {seq} does not match the anchored head hash: the chain was rewritten "
                    "up to the anchor",
                    first_prev,
                )
            anchor_seen = True
        previous = stored
        expected = seq + 1
    count = expected - 1
    if not anchor_seen and anchor is not None:
        return ChainReport(
            False,
            count,
            previous or "",
            count + 1,
            f"the chain ends at event {count} but was anchored at {anchor.count} events: "
            f"{anchor.count - count} event(s) are missing from its end",
            first_prev,
        )
    return ChainReport(True, count, previous or "", first_prev=first_prev)
