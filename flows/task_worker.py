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
from prefect.client.subscriptions import Subscription
from prefect.context import SyncClientContext
from prefect.logging import get_logger
from prefect.settings import (
    PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW,
    get_current_settings,
    temporary_settings,
)
from prefect.task_worker import TaskWorker
from websockets.exceptions import ConnectionClosedOK

from decisions.settings import load_settings
from flows.context import NO_RESULTS
from flows.notifier import notify_forever
from flows.sweep import deadline_sweep
from flows.warm import continue_decision, deferred, outside_task_run, without_heartbeats

__all__ = [
    "SWEEP_TASK",
    "FinishingTaskWorker",
    "hang_up",
    "serve_until",
    "sweep_deadlines",
    "queue_sweep",
    "sweep_windows",
    "serve_warm",
    "aserve_warm",
]

SWEEP_TASK = "sweep-deadlines"
RECONNECT_S = 2.0
#: How long a worker that stops waits for the server to acknowledge its hang-up.
HANG_UP_S = 2.0
#: Where a task worker subscribes to the task runs queued for it (Prefect's endpoint).
SUBSCRIPTION_PATH = "/task_runs/subscriptions/scheduled"
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
    """Prefect's task worker, which hangs up on the server when it stops and on SIGTERM
    lets the running task runs finish.

    Prefect's own handler ends the process at once: a step it was running waits out the
    lost window before the sweep takes it again, and the log shows a traceback. And
    Prefect's worker never closes its subscription: a worker stopped inside a process that
    goes on (the local runner of ``counsel demo`` and the tests, the reconnection after a
    lost server) still looks subscribed to the server, which hands it task runs that no one
    takes until the server's ping gives up on the socket, 20–40 s later."""

    def __init__(self, *tasks: Any, limit: int, on_sigterm: Callable[[], None]) -> None:
        super().__init__(*tasks, limit=limit)
        self._on_sigterm = on_sigterm
        self._subscription: Subscription[TaskRun] | None = None
        self._finishing = False

    def handle_sigterm(self, signum: int, frame: object) -> None:
        self._on_sigterm()

    @property
    def running(self) -> int:
        return sum(len(runs) for runs in self.in_flight_task_runs.values())

    async def _subscribe_to_task_scheduling(self) -> None:
        """Prefect's loop (take each task run the server hands over while a slot is free),
        keeping its subscription so that :meth:`finish` and a cancellation close it."""
        api_url = get_current_settings().api.url
        if api_url is None:
            raise ValueError("A task worker needs PREFECT_API_URL (a Prefect server).")
        subscription = self._subscription = Subscription(
            model=TaskRun,
            path=SUBSCRIPTION_PATH,
            keys=self.task_keys,
            client_id=self.client_id,
            base_url=api_url,
        )
        try:
            async for task_run in subscription:
                logger.info("Received task run %s (%s).", task_run.id, task_run.name)
                if await self._acquire_token(task_run.id):
                    assert self._runs_task_group is not None, "the worker was entered"
                    self._runs_task_group.start_soon(self._safe_submit_scheduled_task_run, task_run)
        except ConnectionClosedOK:
            if not self._finishing:
                raise  # the server closed it: the caller connects again
        finally:
            await hang_up(subscription)

    async def finish(self, within_s: float) -> None:
        """Hang up, so that the server hands this worker's share of task runs to the others,
        and wait up to ``within_s`` for the running ones to end."""
        self._finishing = True
        if self._subscription is not None:
            await hang_up(self._subscription)
        deadline = time.monotonic() + within_s
        while self.running and time.monotonic() < deadline:
            await asyncio.sleep(0.05)


async def hang_up(subscription: Subscription[TaskRun]) -> None:
    """Close a subscription's websocket, so the server stops handing it task runs at once
    (its loop notices a closed socket within a second); never raises."""
    try:
        websocket = subscription.websocket
    except RuntimeError:
        return  # never connected
    try:
        await asyncio.wait_for(websocket.close(), HANG_UP_S)
    except Exception:  # noqa: BLE001 - a server already gone: the socket is dropped below
        pass
    finally:
        websocket.transport.abort()  # a no-op once the close handshake is done


def logs_without_flow_run_dropped() -> contextlib.AbstractContextManager[object]:
    """A background task run belongs to no flow run, so Prefect's API keeps none of its
    own log records ("Finished in state Completed()"); say so quietly instead of with a
    warning per step (an error where warnings are errors, as in the tests). The step's
    flow run ships its logs as usual."""
    return temporary_settings(updates={PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW: "ignore"})


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
                with SyncClientContext.get_or_create(), logs_without_flow_run_dropped():
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
