"""Warm steps: a decision's next step runs as a background task on a long-lived task worker.

Starting a Python process that imports Prefect costs 2–3 s of CPU, far more than a step
itself. So a decision's next step is a run of the ``continue-decision`` background task:
a task worker (``counsel task-worker``; several on several machines against one Prefect
server and one store) takes it from the server's queue and calls the ``decision`` flow in
its own process, where it is a flow run like any other, with the usual name
(``<id> · <title>``), tags and artifacts. The deadline sweep runs the same way
(:mod:`flows.task_worker`).

Two choices keep this as safe as a deployment run:

- **Once per position.** The task run's dynamic key is the continuation key
  (:func:`decisions.procedure.keys.continuation`), and Prefect returns the run already
  queued under a key, so callers that retry or come later queue one step. Two callers in
  the same few milliseconds can still queue two (Prefect reads, then inserts); the step's
  writes are keyed, so the second finds nothing left to do.
- **Nothing but the run itself.** Background tasks with parameters keep them in the
  submitting machine's result storage, which a worker elsewhere cannot read. These tasks
  take none: which decision to continue is in the run's name, ``continue · <id>``. The
  run carries no tags either (see :func:`flows.publishing.untagged`); the decision's flow
  run does.

A worker killed mid-step leaves its task run and the decision's flow run unfinished; the
deadline sweep takes both for lost after its ``lost`` window and queues the step again
(:func:`flows.sweep.sweep`). Each worker runs at most ``limit`` steps at once, so a burst of
last answers queues on the server instead of starting a process per decision.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import certifi
from prefect import tags, task
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.objects import State, TaskRun
from prefect.context import (
    AsyncClientContext,
    SettingsContext,
    SyncClientContext,
    TaskRunContext,
    get_settings_context,
)
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, Settings, get_current_settings
from prefect.states import Scheduled
from sqlalchemy import Engine

from decisions import procedure, services
from decisions.model import Decision
from decisions.settings import load_settings
from flows.context import NO_RESULTS, store_engine
from flows.decision import decision_flow

__all__ = [
    "CONTINUE_TASK",
    "CONTINUE_RUN_NAME",
    "continue_run_name",
    "continue_decision",
    "take_step",
    "without_heartbeats",
    "queue_continuation",
    "start_decision_run",
    "continue_if_ready",
    "is_ready",
    "decision_of",
    "decision_tags",
    "deferred",
    "outside_task_run",
]

R = TypeVar("R")

CONTINUE_TASK = "continue-decision"
#: The name every ``continue-decision`` run starts with (``continue · <decision id>``).
CONTINUE_RUN_NAME = "continue · "
DECISION_TAG = "decision:"


def continue_run_name(decision_id: str) -> str:
    return f"{CONTINUE_RUN_NAME}{decision_id}"


def decision_of(run_name: str) -> str:
    """The decision a ``continue-decision`` run continues, from its name."""
    if not run_name.startswith(CONTINUE_RUN_NAME) or run_name == CONTINUE_RUN_NAME:
        raise ValueError(f"{run_name!r} is not the name of a continue-decision run.")
    return run_name.removeprefix(CONTINUE_RUN_NAME)


def decision_tags(decision: Decision) -> list[str]:
    """The tags a step's runs carry, so the UI's Tags filter finds them per decision."""
    return [
        "counsel",
        f"{DECISION_TAG}{decision.id}",
        f"class:{decision.class_name}",
        f"district:{decision.district}",
    ]


@task(name=CONTINUE_TASK, log_prints=False, **NO_RESULTS)
def continue_decision() -> str:
    """Take the decision's next step in this process: a run of the ``decision`` flow."""
    context = TaskRunContext.get()
    if context is None:
        raise RuntimeError("continue-decision runs only as a Prefect task run.")
    decision_id = decision_of(context.task_run.name)
    engine = store_engine(load_settings().resolved_database_url())
    return take_step(services.get_decision(engine, decision_id))


def take_step(decision: Decision) -> str:
    """The decision's next step in this thread: a run of the ``decision`` flow with the
    decision's tags, outside any task run; returns ``waiting`` or the final state."""
    with tags(*decision_tags(decision)), without_heartbeats():
        return outside_task_run(lambda: asyncio.run(_take_step(decision)))


#: This process's settings without flow heartbeats, per settings in force (by identity).
_quiet_settings: dict[int, tuple[Settings, Settings]] = {}


def without_heartbeats() -> SettingsContext:
    """The settings in force, with no flow-run heartbeats: nothing in Counsel or in
    Prefect's server watches them (the deadline sweep takes a step for lost by its
    history), and each run's would cost a thread and an event. Made once per settings, as
    ``temporary_settings`` would rebuild them from the environment at every step (a fifth
    of a step's CPU)."""
    context = get_settings_context()
    known = _quiet_settings.get(id(context.settings))
    if known is None or known[0] is not context.settings:
        quiet = context.settings.copy_with_update(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None})
        if len(_quiet_settings) > 8:
            _quiet_settings.clear()
        known = _quiet_settings[id(context.settings)] = (context.settings, quiet)
    return SettingsContext(profile=context.profile, settings=known[1])


async def _take_step(decision: Decision) -> str:
    """The decision flow, with one Prefect client for the whole step: the flow, its stage
    flows and their tasks share it instead of each making its own (a TLS context and a
    version check apiece)."""
    with SyncClientContext.get_or_create():
        async with step_client():
            return await decision_flow(decision.id, decision.title)


@asynccontextmanager
async def step_client() -> AsyncIterator[AsyncClientContext]:
    """This event loop's Prefect client context, made with the process's one TLS context.

    Each step runs in a new event loop, so it needs a new asynchronous client, and Prefect
    makes each client a TLS context of its own by loading the certificate bundle: 14-17 ms
    of CPU, a sixth of what a task worker spent per step in a burst. Prefect hands a
    context's client to ``get_client()`` (as the flow engine calls it) only when that
    context was made without httpx settings (its private ``_httpx_settings``), so the
    context is made with the shared TLS context and then recorded as made without.
    ``tests/flows/test_api_calls.py`` goes red if a step makes a TLS context or a client
    of its own again.
    """
    context = AsyncClientContext.get()
    if context is not None and asyncio.get_running_loop() is context.client.loop:
        yield context
        return
    context = AsyncClientContext(httpx_settings={"verify": shared_tls_context()})
    context._httpx_settings = None
    async with context:
        yield context


def shared_tls_context() -> ssl.SSLContext:
    """The TLS context Prefect's client would make under the settings in force, made once
    per process and settings. httpx only reads a context, so clients may share it."""
    api = get_current_settings().api
    return _tls_context(bool(api.tls_insecure_skip_verify), api.ssl_cert_file)


@functools.cache
def _tls_context(skip_verify: bool, cert_file: str | None) -> ssl.SSLContext:
    """Prefect's rule: no verification if asked, else the configured certificate file,
    else certifi's."""
    if skip_verify:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=cert_file or certifi.where())


def outside_task_run(run: Callable[[], R]) -> R:
    """Call ``run`` (a flow) with this thread's Prefect context but not its task run: the
    flow's run logger then writes to the flow run, where the UI shows it, instead of to
    the task run."""
    context = contextvars.copy_context()
    context.run(TaskRunContext.__var__.set, None)  # type: ignore[arg-type]
    return context.run(run)


def deferred() -> State[Any]:
    """A background task run's first state: queued for a task worker."""
    state: State[Any] = Scheduled()
    state.state_details.deferred = True
    return state


def queue_continuation(client: SyncPrefectClient, decision: Decision, key: str) -> TaskRun:
    """Queue the decision's next step for a task worker, once per ``key``; returns the
    queued run (the one already queued under that key, if any)."""
    return client.create_task_run(
        task=continue_decision,
        flow_run_id=None,
        dynamic_key=key,
        name=continue_run_name(decision.id),
        state=deferred(),
    )


def start_decision_run(
    client: SyncPrefectClient, engine: Engine, decision_id: str, *, key_suffix: str = ""
) -> TaskRun:
    """Queue the decision's next step, once per position of its history (``key_suffix``
    lets the deadline sweep queue again a step that was lost)."""
    decision = services.get_decision(engine, decision_id)
    key = services.continuation_key(engine, decision_id, key_suffix)
    return queue_continuation(client, decision, key)


def is_ready(engine: Engine, decision_id: str) -> bool:
    """True when the decision's next step can be taken now
    (:func:`decisions.procedure.ready_to_continue`)."""
    return procedure.ready_to_continue(
        services.get_decision(engine, decision_id), services.tasks_of(engine, decision_id)
    )


def continue_if_ready(client: SyncPrefectClient, engine: Engine, decision_id: str) -> bool:
    """Queue the decision's next step if nothing is left to wait for; True if queued."""
    if not is_ready(engine, decision_id):
        return False
    start_decision_run(client, engine, decision_id)
    return True
