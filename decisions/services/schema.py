"""Whether the store is there and current: ``counsel init`` and the check every command makes."""

from __future__ import annotations

from sqlalchemy import Engine, inspect

from decisions.db import current_revision, head_revision, migrate
from decisions.exceptions import StoreNotReady
from decisions.uow import NOT_READY

__all__ = ["init_store", "check_ready"]


def init_store(engine: Engine) -> tuple[str | None, str | None]:
    """Create or upgrade the schema; returns (revision before, revision after)."""
    before = current_revision(engine)
    migrate(engine)
    return before, current_revision(engine)


def check_ready(engine: Engine) -> None:
    """Raise :class:`StoreNotReady` unless the schema is at the newest revision."""
    if not inspect(engine).has_table("alembic_version"):
        raise StoreNotReady(NOT_READY)
    current, newest = current_revision(engine), head_revision(engine)
    if current != newest:
        raise StoreNotReady(
            f"The Counsel database is at revision {current} but this version of Counsel needs "
            f"{newest}: run `counsel init` to upgrade it."
        )
