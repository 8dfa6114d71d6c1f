"""The pieces of the warm path that need no Prefect server: which decision a step run
continues, the sweep's windows, the busy-retry hint and the embedded API's template."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from flows.local_prefect import _copy_template, _save_template
from flows.prefect_app import BUSY_RETRY_AFTER_S, BusyRetryHint
from flows.task_worker import sweep_windows
from flows.warm import continue_run_name, decision_of


def test_a_step_run_continues_the_decision_its_name_names() -> None:
    assert decision_of(continue_run_name("D-2026-0007")) == "D-2026-0007"
    assert decision_of("continue · D:x") == "D:x"


@pytest.mark.parametrize("name", ["continue-decision", "continue · ", "D-2026-0007"])
def test_a_run_of_another_name_is_refused_with_a_sentence(name: str) -> None:
    with pytest.raises(ValueError, match="is not the name of a continue-decision run"):
        decision_of(name)


@pytest.mark.parametrize(
    ("every_s", "windows"),
    [(60, (120.0, 180.0)), (10, (20.0, 30.0)), (5, (10.0, 15.0)), (1, (10.0, 15.0))],
)
def test_sweep_windows_are_two_and_three_intervals_with_floors(
    every_s: float, windows: tuple[float, float]
) -> None:
    assert sweep_windows(every_s) == windows


def _app() -> Starlette:
    async def busy(_: Request) -> JSONResponse:
        return JSONResponse({"exception_message": "Service Unavailable"}, status_code=503)

    async def down(_: Request) -> JSONResponse:
        return JSONResponse({"detail": "maintenance"}, status_code=503)

    async def fine(_: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/busy", busy), Route("/down", down), Route("/fine", fine)])
    app.add_middleware(BusyRetryHint)
    return app


def _get(path: str) -> httpx.Response:
    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            return await client.get(path)

    return asyncio.run(get())


def test_a_retryable_503_carries_a_short_retry_hint_and_others_are_unchanged() -> None:
    busy = _get("/busy")
    assert busy.status_code == 503
    low, high = BUSY_RETRY_AFTER_S
    assert low <= float(busy.headers["retry-after"]) <= high
    assert busy.json() == {"exception_message": "Service Unavailable"}
    down = _get("/down")
    assert down.status_code == 503 and "retry-after" not in down.headers
    fine = _get("/fine")
    assert fine.status_code == 200 and "retry-after" not in fine.headers
    assert fine.json() == {"ok": True}


def _database(path: Path, rows: int) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS flow (id INTEGER PRIMARY KEY)")
        conn.executemany("INSERT INTO flow VALUES (NULL)", [()] * rows)


def _rows(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM flow").fetchone()[0])


def test_the_first_start_saves_its_database_as_the_template_and_later_ones_copy_it(
    tmp_path: Path,
) -> None:
    template = tmp_path / "cache" / "prefect-x.db"
    first = tmp_path / "first" / "prefect.db"
    first.parent.mkdir()
    assert not _copy_template(first, template)  # no template yet
    _database(first, rows=3)
    live = sqlite3.connect(first)  # the server still has it open
    try:
        _save_template(first, template)
    finally:
        live.close()
    assert _rows(template) == 3
    assert not list(template.parent.glob("*.partial"))
    second = tmp_path / "second" / "prefect.db"
    second.parent.mkdir()
    assert _copy_template(second, template)
    assert _rows(second) == 3
    # a database that exists is never overwritten
    _database(second, rows=2)
    assert not _copy_template(second, template)
    assert _rows(second) == 5
