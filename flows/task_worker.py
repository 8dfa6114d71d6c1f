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
import logging
import random
import time

from prefect import tags, task
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.objects import TaskRun
from prefect.context import SyncClientContext
from prefect.task_worker import StopTaskWorker, TaskWorker

from decisions.settings import load_settings
from flows.context import NO_RESULTS
from flows.notifier import notify_forever
from flows.sweep import deadline_sweep
from flows.warm import continue_decision, deferred, outside_task_run, without_heartbeats

__all__ = [
    "SWEEP_TASK",
    "sweep_deadlines",
    "queue_sweep",
    "sweep_windows",
    "serve_warm",
    "aserve_warm",
]

SWEEP_TASK = "sweep-deadlines"
RECONNECT_S = 2.0

logger = logging.getLogger("counsel.task_worker")


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


async def aserve_warm(
    *, limit: int, sweep_every_s: float | None, notify_every_s: float | None = None
) -> None:
    """Serve ``continue-decision`` and ``sweep-deadlines`` until cancelled; with
    ``sweep_every_s``, also ask for a sweep every interval, and with ``notify_every_s``
    send the outbox's due messages that often. A lost connection to the Prefect server (a
    restart) is taken up again; steps it cut short are the sweep's."""
    asker = asyncio.create_task(_queue_sweeps(sweep_every_s)) if sweep_every_s else None
    notifier = asyncio.create_task(notify_forever(notify_every_s)) if notify_every_s else None
    try:
        while True:
            worker = TaskWorker(continue_decision, sweep_deadlines, limit=limit)
            try:
                # one API client for the task runs of this worker, instead of one each
                with SyncClientContext.get_or_create():
                    await worker.astart()
                return
            except StopTaskWorker:
                return
            except Exception as err:  # noqa: BLE001 - reconnect rather than die
                logger.warning("Lost the Prefect server (%s); connecting again.", err)
                await asyncio.sleep(RECONNECT_S)
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
