"""A task worker: the long-lived process that takes decisions' steps and the sweeps.

``counsel task-worker`` (and each one ``counsel up`` starts) serves two background tasks
from Prefect's queue, at most ``limit`` at a time: ``continue-decision``
(:mod:`flows.warm`) and ``sweep-deadlines``, a run of the ``deadline-sweep`` flow. Every
worker also asks for a sweep at the start of each interval of ``COUNSEL_SWEEP_EVERY_S``; the
interval is the sweep run's key, so however many workers ask, on however many machines, one
sweep runs per interval. Run as many workers as the machines allow: each one is a Prefect
client of the one server, and needs only ``PREFECT_API_URL`` and the store's
``COUNSEL_DATABASE_URL``.

Beside its tasks every worker runs a notifier (:mod:`flows.notifier`) that sends the
outbox's due messages every ``COUNSEL_NOTIFY_EVERY_S``; the notifiers of all workers share
the outbox through leases, so each message is sent once.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from typing import Any

from prefect import tags, task
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.objects import TaskRun
from prefect.context import SyncClientContext
from prefect.logging import get_logger
from prefect.task_worker import TaskWorker

from decisions.settings import load_settings
from flows.context import NO_RESULTS
from flows.notifier import notify_forever
from flows.sweep import deadline_sweep
from flows.warm import continue_decision, deferred, outside_task_run, without_heartbeats

__all__ = [
    "SWEEP_TASK",
    "FinishingTaskWorker",
    "serve_until",
    "sweep_deadlines",
    "queue_sweep",
    "sweep_windows",
    "serve_warm",
    "aserve_warm",
]

SWEEP_TASK = "sweep-deadlines"
RECONNECT_S = 2.0
#: How long a task worker told to stop (SIGTERM) lets the steps it runs finish: a step takes
#: a fraction of a second; ``counsel down`` kills what still runs after 20 s.
FINISH_S = 15.0

#: Prefect's logging setup shows its own loggers at INFO on the worker's console
logger = get_logger("counsel.task_worker")


def sweep_windows(every_s: float) -> tuple[float, float]:
    """A sweep every ``every_s`` takes a decision for stuck after twice that of quiet (at
    least 10 s) and a step for lost after three times that (at least 15 s: a step costs a
    fraction of a second of CPU, and one wrongly taken for lost runs twice but writes once)."""
    return max(2 * every_s, 10.0), max(3 * every_s, 15.0)


@task(name=SWEEP_TASK, **NO_RESULTS)
def sweep_deadlines() -> str:
    """One deadline sweep in this process, as a run of the ``deadline-sweep`` flow."""
    stale_s, lost_s = sweep_windows(load_settings().sweep_every_s)
    with tags("counsel"), without_heartbeats():
        return outside_task_run(lambda: deadline_sweep(stale_after_s=stale_s, lost_after_s=lost_s))


def queue_sweep(client: SyncPrefectClient, every_s: float) -> TaskRun:
    """Queue the sweep of the current interval: once, however many workers ask, unless two
    ask in the same few milliseconds (sweeps are idempotent)."""
    bucket = int(time.time() // every_s)
    return client.create_task_run(
        task=sweep_deadlines,
        flow_run_id=None,
        dynamic_key=f"counsel-sweep:{every_s:g}:{bucket}",
        name="sweep-deadlines",
        state=deferred(),
    )


def _ask_for_sweep(every_s: float) -> None:
    try:
        with get_client(sync_client=True) as client:
            queue_sweep(client, every_s)
    except Exception as err:  # noqa: BLE001 - the API may be restarting; the next interval asks
        logger.warning("Could not ask for a deadline sweep (%s); the next interval asks.", err)


async def _queue_sweeps(every_s: float) -> None:
    """Ask for a sweep early in every interval until cancelled, at a random moment so that
    workers rarely ask in the same instant (Prefect reads, then inserts: two askers in the
    same few milliseconds can both queue one)."""
    while True:
        await asyncio.to_thread(_ask_for_sweep, every_s)
        jitter = random.uniform(0.05, max(0.1, min(5.0, every_s / 10)))
        await asyncio.sleep(every_s - (time.time() % every_s) + jitter)


class FinishingTaskWorker(TaskWorker):
    """Prefect's task worker, which on SIGTERM takes no more task runs and lets the running
    ones finish. Prefect's own handler ends the process at once: a step it was running waits
    out the lost window before the sweep takes it again, and the log shows a traceback."""

    def __init__(self, *tasks: Any, limit: int, on_sigterm: Callable[[], None]) -> None:
        super().__init__(*tasks, limit=limit)
        self._on_sigterm = on_sigterm

    def handle_sigterm(self, signum: int, frame: object) -> None:
        self._on_sigterm()

    @property
    def running(self) -> int:
        return sum(len(runs) for runs in self.in_flight_task_runs.values())

    async def finish(self, within_s: float) -> None:
        """Take no more task runs (every slot is held) and wait up to ``within_s`` for the
        running ones to end. A run the server hands over meanwhile waits for a slot that
        never comes: it is lost with this worker, and the sweep queues its step again."""
        if self._limiter is not None:
            while self._limiter.available_tokens >= 1:
                self._limiter.acquire_on_behalf_of_nowait(object())
        deadline = time.monotonic() + within_s
        while self.running and time.monotonic() < deadline:
            await asyncio.sleep(0.05)


async def serve_until(worker: FinishingTaskWorker, stopping: asyncio.Event) -> None:
    """Serve until the worker ends (raising what ended it) or ``stopping`` is set; then
    let its running task runs finish before it stops."""
    serving = asyncio.create_task(worker.astart())
    stop = asyncio.create_task(stopping.wait())
    try:
        await asyncio.wait({serving, stop}, return_when=asyncio.FIRST_COMPLETED)
        if serving.done():
            serving.result()
            return
        await worker.finish(FINISH_S)
    finally:
        for each in (serving, stop):
            each.cancel()
        await asyncio.gather(serving, stop, return_exceptions=True)


async def aserve_warm(
    *,
    limit: int,
    sweep_every_s: float | None,
    notify_every_s: float | None = None,
    tasks: tuple[Any, ...] | None = None,
) -> None:
    """Serve ``continue-decision`` and ``sweep-deadlines`` until cancelled or SIGTERM (then
    the running steps finish first); with ``sweep_every_s``, also ask for a sweep every
    interval, and with ``notify_every_s`` send the outbox's due messages that often. A lost
    connection to the Prefect server (a restart) is taken up again; steps it cut short are
    the sweep's. ``tasks`` replaces what it serves (the tests serve their own)."""
    served = tasks or (continue_decision, sweep_deadlines)
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()

    def on_sigterm() -> None:
        logger.info("SIGTERM: taking no more task runs; the running ones finish first.")
        loop.call_soon_threadsafe(stopping.set)

    asker = asyncio.create_task(_queue_sweeps(sweep_every_s)) if sweep_every_s else None
    notifier = asyncio.create_task(notify_forever(notify_every_s)) if notify_every_s else None
    try:
        while not stopping.is_set():
            worker = FinishingTaskWorker(*served, limit=limit, on_sigterm=on_sigterm)
            try:
                # one API client for the task runs of this worker, instead of one each
                with SyncClientContext.get_or_create():
                    await serve_until(worker, stopping)
                return
            except Exception as err:  # noqa: BLE001 - reconnect rather than die
                logger.warning("Lost the Prefect server (%s); connecting again.", err)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), RECONNECT_S)
    finally:
        for helper in (asker, notifier):
            if helper is not None:
                helper.cancel()


def serve_warm(*, limit: int, sweep_every_s: float | None) -> None:
    """The task worker's main: serve, and notify every ``COUNSEL_NOTIFY_EVERY_S``, until
    SIGTERM or Ctrl-C."""
    every = load_settings().notify_every_s
    try:
        asyncio.run(aserve_warm(limit=limit, sweep_every_s=sweep_every_s, notify_every_s=every))
    except KeyboardInterrupt:
        pass
