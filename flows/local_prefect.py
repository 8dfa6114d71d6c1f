"""Prefect without a separately started server: an embedded API for demos and tests.

``embedded_prefect`` starts Prefect's own API server in a subprocess (what Prefect's
ephemeral mode does on first use), keeps its SQLite database under a folder of ours, and
points this process at it, so the demo and the flow tests need nothing started by hand and
leave the user's ``~/.prefect`` alone. A real stack uses ``prefect server start`` and workers
instead (see the README).

A new Prefect database takes Prefect's server ten seconds of migrations and block
registrations before it answers. So the first start saves the empty, migrated database as a
template (``template``), and later starts copy it and skip both.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flows.prefect_app import CLIENT_RETRIES

__all__ = ["embedded_prefect", "template_path"]


def template_path(cache: Path) -> Path:
    """Where the empty database of this Prefect version is kept under ``cache``."""
    import prefect

    return cache / f"prefect-{prefect.__version__}.db"


def _copy_template(database: Path, template: Path | None) -> bool:
    if template is None or database.exists() or not template.exists():
        return False
    shutil.copyfile(template, database)
    return True


def _save_template(database: Path, template: Path) -> None:
    """Copy the freshly migrated database (SQLite's online backup: the server is live)."""
    template.parent.mkdir(parents=True, exist_ok=True)
    partial = template.with_name(f"{template.name}.{os.getpid()}.partial")
    source, copy = sqlite3.connect(database), sqlite3.connect(partial)
    try:
        source.backup(copy)
    finally:
        source.close()
        copy.close()
    os.replace(partial, template)


@contextmanager
def embedded_prefect(
    home: Path, *, database_url: str | None = None, template: Path | None = None
) -> Iterator[str]:
    """Run an embedded Prefect API with its data and log in ``home``; yields the API URL.

    ``database_url`` (e.g. ``postgresql+asyncpg://…``) puts Prefect's own tables on
    PostgreSQL instead of a SQLite file in ``home``. Otherwise a new SQLite database starts
    as a copy of ``template`` when there is one, and becomes it when there is none.
    """
    home.mkdir(parents=True, exist_ok=True)
    overrides = {
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_TO_API_BATCH_INTERVAL": "0.3",
    }
    database = home / "prefect.db"
    fresh = not database_url and not database.exists()
    if database_url:
        overrides["PREFECT_API_DATABASE_CONNECTION_URL"] = database_url
    elif _copy_template(database, template):
        fresh = False
        overrides["PREFECT_API_DATABASE_MIGRATE_ON_START"] = "false"
        overrides["PREFECT_API_BLOCKS_REGISTER_ON_START"] = "false"
    saved = {key: os.environ.get(key) for key in (*overrides, "PREFECT_API_URL")}
    os.environ.update(overrides)
    os.environ.pop("PREFECT_API_URL", None)
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_CLIENT_MAX_RETRIES,
        PREFECT_HOME,
        PREFECT_SERVER_ANALYTICS_ENABLED,
        temporary_settings,
    )

    log_path = home / "server.log"

    class _QuietServer(SubprocessASGIServer):
        """Prefect's ephemeral server, writing to a log file instead of our terminal."""

        def _run_uvicorn_command(self) -> subprocess.Popen[bytes]:
            import prefect
            from prefect.settings import get_current_settings

            log = log_path.open("ab")
            return subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "--app-dir",
                    str(prefect.__module_path__.parent),
                    "--factory",
                    "flows.prefect_app:create_app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--log-level",
                    "error",
                    "--lifespan",
                    "on",
                ],
                env={
                    **os.environ,
                    "PREFECT_UI_ENABLED": "0",
                    "PREFECT__SERVER_EPHEMERAL": "1",
                    "PREFECT__SERVER_FINAL": "1",
                    **get_current_settings().to_environment_variables(exclude_unset=True),
                },
                stdout=log,
                stderr=log,
            )

    server = _QuietServer()
    try:
        with temporary_settings(
            updates={PREFECT_HOME: str(home), PREFECT_SERVER_ANALYTICS_ENABLED: False}
        ):
            server.start(timeout=90)
            if fresh and template is not None and database.exists():
                _save_template(database, template)
            os.environ["PREFECT_API_URL"] = server.api_url
            with temporary_settings(
                updates={
                    PREFECT_API_URL: server.api_url,
                    PREFECT_CLIENT_MAX_RETRIES: CLIENT_RETRIES,
                }
            ):
                yield server.api_url
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
