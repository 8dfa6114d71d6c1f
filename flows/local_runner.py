"""Workers inside this process, for the embedded default (``counsel demo``, the flow tests).

On a real stack task workers take decisions' steps and sweeps (:mod:`flows.task_worker`)
and a Prefect worker executes the runs of the ``answer-task`` deployment when a person
submits a form. Here one loop serves both: a task worker for ``continue-decision`` with its
notifier (the outbox's messages, every ``COUNSEL_NOTIFY_EVERY_S`` unless ``notify_every_s``
says otherwise), and a Prefect ``Runner`` for the ``decision`` and ``answer-task``
deployments (each run in its own subprocess, as a process worker would start it); a thread
sweeps deadlines every few seconds. Between steps no run of a decision is alive.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

__all__ = ["local_runner", "LocalRunner"]


@dataclass
class LocalRunner:
    sweeps: int = 0
    errors: list[str] = field(default_factory=list)
    _loop: asyncio.AbstractEventLoop | None = None


@contextmanager
def local_runner(
    *,
    sweep_every_s: float | None = 2.0,
    stale_after_s: float = 30.0,
    limit: int = 4,
    notify_every_s: float | None = None,
) -> Iterator[LocalRunner]:
    """Serve steps (at most ``limit`` at once), ``decision`` and ``answer-task`` from this
    process, and send notifications every ``notify_every_s`` (the settings' interval when
    None), until the block ends."""
    import os

    from prefect import get_client
    from prefect.runner import Runner

    from decisions.classes import load_classes
    from decisions.db import make_engine
    from decisions.settings import load_settings
    from flows.decision import decision_flow
    from flows.people import answer_task
    from flows.sweep import sweep
    from flows.task_worker import aserve_warm

    os.environ.setdefault("PREFECT_RUNNER_POLL_FREQUENCY", "1")
    notify_every = notify_every_s or load_settings().notify_every_s
    state = LocalRunner()
    runner = Runner(name="counsel-local", query_seconds=1, limit=None)
    # _sync: called from a thread with a running event loop (Playwright's sync API leaves
    # one), Prefect's add_flow would return an un-awaited coroutine and register nothing
    runner.add_flow(decision_flow, name="decision", _sync=True)  # type: ignore[call-arg]
    runner.add_flow(answer_task, name="answer-task", _sync=True)  # type: ignore[call-arg]
    started = threading.Event()

    def serve() -> None:
        async def main() -> None:
            state._loop = asyncio.get_running_loop()
            started.set()
            await asyncio.gather(
                runner.start(),
                aserve_warm(limit=limit, sweep_every_s=None, notify_every_s=notify_every),
            )

        try:
            asyncio.run(main())
        except asyncio.CancelledError:
            pass  # stopped at the end of the block
        except Exception as err:  # noqa: BLE001 - reported by the caller's checks
            state.errors.append(f"runner: {err}")
            started.set()

    stop = threading.Event()

    def sweeper() -> None:
        settings = load_settings()
        engine = make_engine(settings.resolved_database_url())
        classes = load_classes(settings.classes_file)
        try:
            while not stop.wait(sweep_every_s or 1.0):
                try:
                    with get_client(sync_client=True) as client:
                        sweep(
                            engine,
                            classes,
                            client,
                            stale_after=timedelta(seconds=stale_after_s),
                            lost_after=timedelta(seconds=4 * stale_after_s),
                        )
                    state.sweeps += 1
                except Exception as err:  # noqa: BLE001 - keep sweeping; the next pass retries
                    state.errors.append(f"sweep: {err}")
        finally:
            engine.dispose()

    # threads start with Prefect's import-time settings: give them the caller's (its API URL)
    thread = threading.Thread(
        target=contextvars.copy_context().run, args=(serve,), name="counsel-runner", daemon=True
    )
    thread.start()
    started.wait(30)
    sweeping = None
    if sweep_every_s:
        sweeping = threading.Thread(
            target=contextvars.copy_context().run,
            args=(sweeper,),
            name="counsel-sweep",
            daemon=True,
        )
        sweeping.start()
    try:
        yield state
        _drain(timeout_s=60)
    finally:
        stop.set()
        if sweeping is not None:
            sweeping.join(timeout=30)
        if state._loop is not None:
            future = asyncio.run_coroutine_threadsafe(_stop(runner), state._loop)
            try:
                future.result(timeout=30)
            except Exception:  # noqa: BLE001 - the runner is going away either way
                pass
        thread.join(timeout=30)


async def _stop(runner: Any) -> None:
    """Stop the runner and cancel the task worker (which runs nothing after the drain)."""
    if runner.started:
        await runner.astop()
    current = asyncio.current_task()
    for pending in asyncio.all_tasks():
        if pending is not current:
            pending.cancel()


def _drain(*, timeout_s: float) -> None:
    """Let runs already started finish (a last step publishing its history) before stopping."""
    import time

    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState
    from prefect.client.schemas.filters import FlowRunFilterStateType as ByType
    from prefect.client.schemas.objects import StateType

    busy = FlowRunFilter(
        state=FlowRunFilterState(type=ByType(any_=[StateType.RUNNING, StateType.PENDING]))
    )
    deadline = time.monotonic() + timeout_s
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline and client.read_flow_runs(flow_run_filter=busy):
            time.sleep(0.5)
