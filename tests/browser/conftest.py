"""Fixtures of the browser test: a real Prefect server with its UI, Chromium, a Counsel store.

The test needs Playwright (the Python package; its bundled driver is used) and Debian's
Chromium at ``/usr/bin/chromium`` — browsers are never downloaded. Without either, the test
is skipped with a message saying which is missing, except under CI (``CI=true``), where
that is an error so that a green run means the browser test ran (as for PostgreSQL in
``tests/conftest.py``).

The Prefect server is ``prefect server start`` on a free port of 127.0.0.1, with its own
``PREFECT_HOME``, its own copy of the UI's static files, analytics off, and no other
``PREFECT_*`` setting of the calling environment. It serves the API and the UI in one
process and is stopped after the module's tests.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from sqlalchemy import Engine

from decisions import services
from decisions.classes import load_classes
from decisions.db import make_engine

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # without these Chromium's own background connections are refused on a closed network
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
DRIVER = Path(__file__).resolve().parent / "drive_decision.py"
SERVER_START_TIMEOUT_S = 90


def pytest_configure(config: pytest.Config) -> None:
    # registered here too, so the test runs under --strict-markers before pyproject has it
    config.addinivalue_line("markers", "browser: drives the Prefect UI in Chromium")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """On a failed test, save a screenshot of its page into its ``tmp_path`` at once, before
    the fixtures' teardown (which stops the flow and the server) changes what it shows."""
    report = yield
    funcargs = getattr(item, "funcargs", {})
    page = funcargs.get("page")
    tmp_path = funcargs.get("tmp_path")
    if report.when == "call" and report.failed and page is not None and tmp_path is not None:
        shot = Path(tmp_path) / "failure.png"
        try:
            page.screenshot(path=str(shot), full_page=True)
            report.sections.append(("browser", f"screenshot of {page.url} at failure: {shot}"))
        except Exception as err:  # noqa: BLE001 - a screenshot must not hide the failure
            report.sections.append(("browser", f"no screenshot: {err}"))
        server, driver = funcargs.get("prefect_server"), funcargs.get("decision_driver")
        if server is not None:
            report.sections.append(("browser", f"Prefect server log: {server.log}"))
        if driver is not None:
            report.sections.append(("browser", f"decision flow log: {driver.log}"))
    return report


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _missing_requirement(message: str) -> None:
    if _in_ci():
        pytest.fail(message + " (CI requires the browser test to run)")
    pytest.skip(message + "; browser test skipped")


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright's bundled driver."""
    if importlib.util.find_spec("playwright") is None:
        _missing_requirement("The playwright package is not installed (pip install playwright)")
    if not CHROMIUM.exists():
        _missing_requirement(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium: Browser, tmp_path: Path) -> Iterator[Page]:
    """A fresh browser context and page (a screenshot lands in ``tmp_path`` on failure)."""
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without any ``PREFECT_*`` setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(extra)
    return env


@dataclass
class PrefectServer:
    url: str  # the UI, e.g. http://127.0.0.1:4242
    api_url: str  # http://127.0.0.1:4242/api
    log: Path


def _wait_healthy(api_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"prefect server start exited with {process.returncode}:\n"
                + log.read_text(errors="replace")[-3000:]
            )
        try:
            with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError(
        f"prefect server did not answer {api_url}/health within {SERVER_START_TIMEOUT_S} s:\n"
        + log.read_text(errors="replace")[-3000:]
    )


@pytest.fixture(scope="module")
def prefect_database() -> Iterator[str | None]:
    """A fresh PostgreSQL database for Prefect's own tables, or None (SQLite) when the server
    cannot be reached: on SQLite, Prefect's server hits lock retries under a decision's
    concurrent pauses, which can hold up the UI's Resume for seconds."""
    import uuid

    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from tests.conftest import POSTGRES_URL, _admin_engine

    admin = _admin_engine()
    name = f"prefect_ui_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception:  # noqa: BLE001 - unreachable PostgreSQL: Prefect keeps SQLite
        admin.dispose()
        yield None
        return
    url = make_url(POSTGRES_URL).set(drivername="postgresql+asyncpg", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def prefect_server(
    chromium: Browser, tmp_path_factory: pytest.TempPathFactory, prefect_database: str | None
) -> Iterator[PrefectServer]:
    """``prefect server start`` (API and UI) on a free local port, for the module's tests."""
    home = tmp_path_factory.mktemp("prefect-server")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    api_url = f"{url}/api"
    env = clean_environment(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_API_URL=api_url,
        PREFECT_UI_API_URL=api_url,
        PREFECT_UI_URL=url,
        # the server copies the UI's files before serving them: into our folder, not the venv
        PREFECT_UI_STATIC_DIRECTORY=str(home / "ui"),
        PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT="false",
        PREFECT_SERVER_LOGGING_LEVEL="WARNING",
    )
    if prefect_database:
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = prefect_database
    log = home / "server.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start"]
            + ["--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=home,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_healthy(api_url, process, log)
        yield PrefectServer(url=url, api_url=api_url, log=log)
    finally:
        stop_process(process)


@contextmanager
def prefect_clients_drained() -> Iterator[None]:
    """Send this process's queued Prefect events and logs when the block ends.

    Prefect's events and log workers are per process and keep the server they first
    connected to: used inside ``temporary_settings`` of a server this suite stops later,
    they would go on sending there. The session's harness drains every worker at its end,
    and events still queued for a stopped server retry for about ten seconds each (a 43 s
    teardown). Drained here, the next use starts workers for the current server.
    """
    try:
        yield
    finally:
        from prefect.events.worker import EventsWorker

        EventsWorker.drain_all(timeout=30)  # the services share one registry: logs too


def stop_process(process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """Stop a process this suite started (and its own session's children), by its id."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout)


@dataclass
class Store:
    engine: Engine
    url: str
    decision_id: str


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A SQLite store as ``counsel demo`` sets it up: sample expertise database, the example
    people, and ``examples/proposal.yaml`` filed by li-wei."""
    url = f"sqlite:///{tmp_path / 'counsel.db'}"
    from flows.demo import prepare_store  # imported here: Prefect stays out of collection

    engine = make_engine(url)
    prepare_store(engine, by="browser-test")
    proposal = services.Proposal.model_validate(
        yaml.safe_load((EXAMPLES / "proposal.yaml").read_text(encoding="utf-8"))
    )
    decision = services.submit_proposal(
        engine,
        proposal,
        planner=services.get_actor(engine, "li-wei"),
        classes=load_classes(os.environ.get("COUNSEL_CLASSES_FILE")),
    )
    yield Store(engine, url, decision.id)
    engine.dispose()


@dataclass
class Driver:
    """The decision flow running in a subprocess (``drive_decision.py``)."""

    process: subprocess.Popen[bytes]
    handoff: Path  # written when the browser's task is waiting: {"actor": .., "task": ..}
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_handoff(self, timeout: float) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while not self.handoff.exists():
            if self.process.poll() is not None:
                raise AssertionError(
                    "the decision flow ended before handing a task to the browser:\n"
                    + self.output()[-4000:]
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no task was handed to the browser within {timeout} s:\n"
                    + self.output()[-4000:]
                )
            time.sleep(0.2)
        data: dict[str, str] = json.loads(self.handoff.read_text(encoding="utf-8"))
        return data

    def wait_final(self, timeout: float) -> str:
        """Wait for the flow to end; its final decision state (``closed``)."""
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"the decision flow did not end within {timeout} s:\n" + self.output()[-4000:]
            ) from None
        lines = [line for line in self.output().splitlines() if line.startswith("final: ")]
        assert code == 0 and lines, f"the decision flow failed ({code}):\n{self.output()[-4000:]}"
        return lines[-1].removeprefix("final: ")


@pytest.fixture
def decision_driver(
    prefect_server: PrefectServer, store: Store, tmp_path: Path
) -> Iterator[Driver]:
    """Start the decision flow of ``store`` against ``prefect_server`` in a subprocess."""
    log = tmp_path / "decision-flow.log"
    handoff = tmp_path / "handoff.json"
    env = clean_environment(
        PREFECT_HOME=str(tmp_path / "prefect-client"),
        PREFECT_API_URL=prefect_server.api_url,
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_TO_API_BATCH_INTERVAL="0.3",
        COUNSEL_DATABASE_URL=store.url,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])),
    )
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, str(DRIVER), store.decision_id, str(handoff)],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield Driver(process, handoff, log)
    finally:
        stop_process(process)
