"""The store's own secret, kept in its metadata table: one per store, made by migration 0001.

Answer codes are derived from it (:func:`decisions.credentials.answer_code`), so a retried
assignment gives the same code again while the tasks table keeps only the code's hash.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from decisions.tables import StoreMetaRow

__all__ = ["store_secret"]


def store_secret(session: Session) -> str:
    """The per-store secret answer codes are derived from (created by migration 0001)."""
    value = session.get(StoreMetaRow, "answer_code_secret")
    if value is None:  # pragma: no cover - only if someone deleted the row by hand
        raise LookupError("The store has no answer-code secret; run `counsel init`.")
    return value.value
