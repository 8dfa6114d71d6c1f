"""Shared fixtures: fresh, migrated databases on SQLite and on PostgreSQL.

``db_url`` is parametrized over both back ends. PostgreSQL is found at
``COUNSEL_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``); each
test gets its own database cloned from a migrated template. When the server cannot be
reached the PostgreSQL cases are skipped with a message saying so, except under CI
(``CI=true``), where an unreachable server is an error so that a green run means they ran.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from decisions.db import make_engine, migrate, normalise_url

#: The test folders that run Prefect (its test harness, servers, workers): ``make test`` runs
#: them in one pytest worker and everything else in another.
PREFECT_FOLDERS = ("tests/flows/", "tests/browser/")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``make test``'s two workers (pytest-xdist, ``-n 2 --dist loadgroup``): the Prefect
    tests, which mostly wait on servers and people, beside the store's, which keep a core
    busy. Each group stays in one process and in its order, so Hypothesis never runs where
    Prefect's background threads draw from ``random``, and the flow tests share one Prefect
    test harness. (xdist's own ``xdist_group`` marks do not group under pytest 9.2, which no
    longer reads the node id they rewrite.)"""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class PrefectBesideStore(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "prefect" if nodeid.startswith(PREFECT_FOLDERS) else "store"

    return PrefectBesideStore(config, log)


POSTGRES_URL = normalise_url(
    os.environ.get("COUNSEL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
)
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _admin_engine() -> Engine:
    return create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", poolclass=None)


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A migrated PostgreSQL database used as the template for each test's database."""
    admin = _admin_engine()
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as err:  # noqa: BLE001 - any connection failure means "not reachable"
        admin.dispose()
        message = f"PostgreSQL is not reachable at {POSTGRES_URL}: {err.__class__.__name__}"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message + " (CI requires the PostgreSQL tests to run)")
        pytest.skip(message + "; PostgreSQL tests skipped")
    name = f"counsel_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file copied for each test."""
    path = tmp_path_factory.mktemp("template") / "counsel.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()  # closing the last connection checkpoints the WAL into the file
    return path


def _fresh_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "counsel.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    template_name: str = request.getfixturevalue("postgres_template")
    name = f"counsel_t_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh database, migrated to the newest revision."""
    yield from _fresh_url(request.param, request, tmp_path)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on the fresh database of ``db_url``."""
    engine = make_engine(db_url)
    yield engine
    engine.dispose()
