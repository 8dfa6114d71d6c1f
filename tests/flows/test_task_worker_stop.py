"""A task worker told to stop (SIGTERM) takes no more task runs and lets the running ones
finish, then exits with status 0. Prefect's own handler exits at once: the step cut short
waits out the lost window before the sweep takes it again, and a traceback is logged.

A worker that stops hangs up on the server, so the server hands what is queued to the
workers still serving. Prefect's worker left its subscription open: stopped inside a process
that went on (the local runner, a reconnection), it still looked subscribed, and a step the
server handed it waited 20–40 s for the server's ping to give up on the socket."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from prefect import get_client
from prefect.settings import PREFECT_API_URL

from flows.task_worker import FinishingTaskWorker, serve_until
from tests.flows.slow_worker import slow_step

pytestmark = [
    pytest.mark.flows,
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]

ROOT = Path(__file__).resolve().parents[2]
#: how long a wait may take before the test calls it a hang (the machine may be busy)
GUARD_S = 180


def test_a_step_running_at_sigterm_finishes_then_the_worker_exits(
    prefect_api: None, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "tests.flows.slow_worker"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        queued = slow_step.delay(str(tmp_path), 3.0)
        deadline = time.monotonic() + GUARD_S
        while not (tmp_path / "running").exists():
            assert worker.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "the worker ran no step"
            time.sleep(0.1)
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(timeout=GUARD_S)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    output = log.read_text(errors="replace")
    assert code == 0 and "Traceback" not in output, output
    assert (tmp_path / "finished").exists(), f"the step was cut short:\n{output}"
    with get_client(sync_client=True) as client:
        state = client.read_task_run(queued.task_run_id).state
    assert state is not None and state.is_completed(), state


async def _subscribed(client_id: str) -> bool:
    """Whether the server counts the worker ``client_id`` among those it hands runs to."""
    async with get_client() as client:
        response = await client.request(
            "POST",
            "/task_workers/filter",
            json={"task_worker_filter": {"task_keys": [slow_step.task_key]}},
        )
    return client_id in {worker["identifier"] for worker in response.json()}


async def _until(condition: Callable[[], Awaitable[bool]], hang: str) -> None:
    deadline = time.monotonic() + GUARD_S
    while not await condition():
        assert time.monotonic() < deadline, hang
        await asyncio.sleep(0.1)


def test_a_stopped_worker_hangs_up_and_what_is_queued_next_goes_to_the_next(
    prefect_api: None, tmp_path: Path
) -> None:
    async def scenario() -> None:
        first = FinishingTaskWorker(slow_step, limit=2, on_sigterm=lambda: None)
        first_stops = asyncio.Event()
        first_serves = asyncio.create_task(serve_until(first, first_stops))
        await _until(lambda: _subscribed(first.client_id), "the first worker never subscribed")
        first_stops.set()
        await first_serves

        # this process goes on, as the local runner's does: the server must forget the worker
        async def forgotten() -> bool:
            return not await _subscribed(first.client_id)

        await _until(forgotten, "the server still hands task runs to the stopped worker")

        second = FinishingTaskWorker(slow_step, limit=2, on_sigterm=lambda: None)
        second_stops = asyncio.Event()
        second_serves = asyncio.create_task(serve_until(second, second_stops))
        try:
            await _until(lambda: _subscribed(second.client_id), "the second never subscribed")
            await asyncio.to_thread(slow_step.delay, str(tmp_path), 0.0)

            async def finished() -> bool:
                return (tmp_path / "finished").exists()

            await _until(finished, "the step queued after the first worker stopped never ran")
        finally:
            second_stops.set()
            await second_serves

    asyncio.run(scenario())
