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
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

from flows.prefect_app import CLIENT_RETRIES

__all__ = ["embedded_prefect", "EmbeddedServer", "template_path"]


def template_path(cache: Path) -> Path:
    """Where the empty database of this Prefect version is kept under ``cache``."""
    return cache / f"prefect-{metadata.version('prefect')}.db"


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


class EmbeddedServer:
    """Prefect's API server as a subprocess of ours, writing to a log file in ``home``.

    :meth:`spawn` starts it and returns at once, so the caller can load Prefect and prepare
    its store while the server starts (seconds of imports of its own); :meth:`wait` waits
    until it answers. Nothing of Prefect is imported here until :meth:`wait`.
    """

    def __init__(
        self, home: Path, *, database_url: str | None = None, template: Path | None = None
    ) -> None:
        self.home = home
        self.database = home / "prefect.db"
        self.template = template
        self.env = {
            "PREFECT_HOME": str(home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_TO_API_BATCH_INTERVAL": "0.3",
        }
        self.fresh = False
        self.process: subprocess.Popen[bytes] | None = None
        self.api_url = ""
        self._database_url = database_url

    def spawn(self) -> EmbeddedServer:
        self.home.mkdir(parents=True, exist_ok=True)
        if self._database_url:
            self.env["PREFECT_API_DATABASE_CONNECTION_URL"] = self._database_url
        elif _copy_template(self.database, self.template):
            self.env["PREFECT_API_DATABASE_MIGRATE_ON_START"] = "false"
            self.env["PREFECT_API_BLOCKS_REGISTER_ON_START"] = "false"
        else:
            self.fresh = not self.database.exists()
        port = _free_port()
        self.api_url = f"http://127.0.0.1:{port}/api"
        child = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
        child.update(self.env)
        child.update(
            {
                "PREFECT_UI_ENABLED": "0",
                "PREFECT__SERVER_EPHEMERAL": "1",
                "PREFECT__SERVER_FINAL": "1",
            }
        )
        with (self.home / "server.log").open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "--factory",
                    "flows.prefect_app:create_app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--log-level",
                    "error",
                    "--lifespan",
                    "on",
                ],
                env=child,
                stdout=log,
                stderr=log,
            )
        return self

    def wait(self, timeout_s: float = 90) -> str:
        """Wait until the API answers; save the new database as the template."""
        import httpx

        if self.process is None:
            self.spawn()
        assert self.process is not None
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"Prefect's API server stopped at start; see {self.home / 'server.log'}."
                )
            try:
                if httpx.get(f"{self.api_url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"Prefect's API server did not answer within {timeout_s:.0f} s; "
                    f"see {self.home / 'server.log'}."
                )
            time.sleep(0.1)
        if self.fresh and self.template is not None and self.database.exists():
            _save_template(self.database, self.template)
        return self.api_url

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def embedded_prefect(
    home: Path,
    *,
    database_url: str | None = None,
    template: Path | None = None,
    server: EmbeddedServer | None = None,
) -> Iterator[str]:
    """Run an embedded Prefect API with its data and log in ``home`` (or ``server``, spawned
    earlier) and point this process at it; yields the API URL.

    ``database_url`` (e.g. ``postgresql+asyncpg://…``) puts Prefect's own tables on
    PostgreSQL instead of a SQLite file in ``home``. Otherwise a new SQLite database starts
    as a copy of ``template`` when there is one, and becomes it when there is none.
    """
    server = server or EmbeddedServer(home, database_url=database_url, template=template)
    if server.process is None:
        server.spawn()
    saved = {key: os.environ.get(key) for key in (*server.env, "PREFECT_API_URL")}
    try:
        api_url = server.wait()
        os.environ.update(server.env)
        os.environ["PREFECT_API_URL"] = api_url
        from prefect.settings import (
            PREFECT_API_URL,
            PREFECT_CLIENT_MAX_RETRIES,
            PREFECT_HOME,
            PREFECT_SERVER_ANALYTICS_ENABLED,
            temporary_settings,
        )

        with temporary_settings(
            updates={
                PREFECT_HOME: str(server.home),
                PREFECT_SERVER_ANALYTICS_ENABLED: False,
                PREFECT_API_URL: api_url,
                PREFECT_CLIENT_MAX_RETRIES: CLIENT_RETRIES,
            }
        ):
            yield api_url
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
