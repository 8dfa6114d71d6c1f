"""Engines and schema upgrades for the store.

SQLite is opened in WAL mode with ``synchronous=FULL`` so a committed event survives a
power cut, and write transactions start with ``BEGIN IMMEDIATE`` so two writers queue on the
busy timeout instead of failing half way. On PostgreSQL every write transaction takes one
advisory lock: the audit chain is a single line, so its appends are serialised by design.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry

__all__ = [
    "READ_ONLY",
    "CHAIN_LOCK_KEY",
    "normalise_url",
    "make_engine",
    "migrate",
    "current_revision",
    "head_revision",
    "take_write_lock",
]

#: Execution option that marks a unit of work as read-only (plain ``BEGIN`` on SQLite).
READ_ONLY = "counsel_read_only"
#: PostgreSQL advisory lock key held by every write transaction ("COUNSEL" in ASCII).
CHAIN_LOCK_KEY = 0x434F554E53454C
SQLITE_BUSY_TIMEOUT_S = 60.0


def normalise_url(url: str) -> str:
    """Map ``postgresql://`` and ``postgres://`` to the psycopg 3 driver SQLAlchemy needs."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Build the store's engine for ``url`` (SQLite file or PostgreSQL)."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
            **kwargs,
        )
        _install_sqlite_hooks(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _install_sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy's "begin" hook below choose the BEGIN statement.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def take_write_lock(conn: Connection) -> None:
    """Serialise writers on PostgreSQL (SQLite already did, with ``BEGIN IMMEDIATE``)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({CHAIN_LOCK_KEY})")


def _alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    import migrations

    config = Config()
    # __path__ rather than __file__: an editable install may see the folder as a namespace.
    config.set_main_option("script_location", str(Path(next(iter(migrations.__path__)))))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine) -> None:
    """Create the schema or upgrade it to the newest revision (what ``counsel init`` runs)."""
    from alembic import command

    command.upgrade(_alembic_config(engine), "head")


def head_revision(engine: Engine) -> str | None:
    """The newest revision the shipped migrations know."""
    return _shipped_head()


@cache
def _shipped_head() -> str | None:
    """Read once per process: every command checks the store against it, and Alembic reads
    and compiles every migration script to find it."""
    from alembic.script import ScriptDirectory

    import migrations

    return ScriptDirectory(str(Path(next(iter(migrations.__path__))))).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None before ``counsel init``."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
