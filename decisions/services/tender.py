"""A tender's store-side pieces: its server seed, its recorded facts, its answers' check.

The server seed is derived from the store's secret and the decision's id (an HMAC), so it
need not be kept anywhere: Counsel commits to it before the pool is fixed and reveals it
once the panel has scored. Knowing it in advance would not let anyone choose the panel:
the draw's seed also mixes in a witness's value entered after the pool is fixed.
"""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import Engine

from decisions.progress import TenderRecord
from decisions.services.progress import tender_record
from decisions.uow import UnitOfWork

__all__ = ["server_seed", "tender_of", "scored_bids"]


def server_seed(engine: Engine, decision_id: str) -> str:
    """The tender's server seed: 64 hex characters, the same every time for the decision."""
    with UnitOfWork(engine, read_only=True) as uow:
        secret = uow.secret()
    message = f"counsel-tender-seed:{decision_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def tender_of(engine: Engine, decision_id: str) -> TenderRecord | None:
    """What the tender of ``decision_id`` has recorded (None if it is not a tender)."""
    with UnitOfWork(engine, read_only=True) as uow:
        return tender_record(uow, decision_id)


def scored_bids(record: TenderRecord, holder: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The lots the seat ``holder`` holds and the qualified bids in them, which their
    scores must cover (bid ids in the tender's order)."""
    seat = next((m for m in record.panel if record.holder(m) == holder), None)
    if seat is None:
        return (), ()
    lots = record.lots_of(seat)
    qualified = set(record.qualified)
    bids = tuple(
        bid["id"]
        for bid in record.spec.get("bids", ())
        if bid["id"] in qualified and set(bid["lots"]) & set(lots)
    )
    return lots, bids
