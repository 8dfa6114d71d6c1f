"""One answer path for every channel: the CLI, the answer page, the demo's participants,
and the UI form.

``submit_answer`` checks the form, records the answer through the store's service (which
applies the separation of powers and audits refusals), closes the task's suspended form in
Prefect and, when it was the last answer its step waited for, starts the decision's next
step. The ``answer-task`` flow records what the UI form brings with the same idempotency
key, so one answer is recorded once whichever channel delivers it.

Who answers is the channel's to say (the CLI's token, the answer page's link), never the
form's: a ``your_id`` an older answer file still carries is ignored, as it always was.

A command answers once and opens a Prefect client for it; a process that answers many
times (the answer page) keeps one :class:`SharedPrefectClient` for all its threads, so an
answer costs no new connection, TLS handshake or CSRF token.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from prefect import get_client
from prefect.client.orchestration import SyncPrefectClient
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from pydantic import ValidationError
from sqlalchemy import Engine

from decisions import services
from decisions.audit import canonical_json
from decisions.classes import ClassBook
from decisions.exceptions import TaskError, validation_sentence
from decisions.model import Actor, Decision, Task, TaskKind
from flows.forms import AnswerForm, form_for
from flows.runs import close_person_run
from flows.warm import continue_if_ready

__all__ = [
    "answer_key",
    "parse_form",
    "submit_answer",
    "Submitted",
    "InvalidAnswer",
    "SharedPrefectClient",
]


class InvalidAnswer(TaskError):
    """The answer file or options do not fit the task's form."""


def answer_key(task_id: str, answer: dict[str, Any]) -> str:
    """The idempotency key of one answer to one task, the same on every channel."""
    digest = hashlib.sha256(canonical_json(answer).encode()).hexdigest()[:16]
    return f"answer:{task_id}:{digest}"


def parse_form(task: Task, data: dict[str, Any], criteria: tuple[str, ...]) -> AnswerForm:
    """Validate ``data`` against the task's form, or raise :class:`InvalidAnswer`."""
    form_class = form_for(task.kind, criteria)
    try:
        form = form_class.model_validate({k: v for k, v in data.items() if k != "your_id"})
        form.to_answer()  # the lines of a list field are checked one by one here
    except ValidationError as err:
        raise InvalidAnswer(
            f"The answer to task {task.id} is not valid: {validation_sentence(err)}",
            decision_id=task.decision_id,
            task_id=task.id,
        ) from err
    return form


class SharedPrefectClient:
    """One Prefect client for every thread of a long-lived process, opened at its first use.

    ``get_client(sync_client=True)`` makes a new client (a new connection pool, and on a
    server with CSRF protection a token fetched before the first change) unless the
    calling thread is inside a ``SyncClientContext``; that context lives in a context
    variable, so the threads a web server answers from never share one. This keeps one
    client for the process instead: httpx's client is safe to use from many threads, and
    one with its pool of connections serves them all. :meth:`close` ends it (the page does
    when it stops).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._client: SyncPrefectClient | None = None

    def get(self) -> SyncPrefectClient:
        """The process's client, opened with the calling thread's Prefect settings the
        first time."""
        with self._lock:
            if self._client is None:
                client = get_client(sync_client=True)
                client.__enter__()
                self._client = client
            return self._client

    def close(self) -> None:
        """Close the client, if one was opened (the next :meth:`get` opens another)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.__exit__(None, None, None)


@contextmanager
def _client_for(shared: SharedPrefectClient | None) -> Iterator[SyncPrefectClient]:
    if shared is not None:
        yield shared.get()
        return
    with get_client(sync_client=True) as client:
        yield client


@dataclass
class Submitted:
    """What happened to one answer: recorded (or found recorded) and what followed."""

    recorded: services.RecordedAnswer
    continued: bool = False
    follow_up: str | None = None  # why the decision could not be continued right now


def submit_answer(
    engine: Engine,
    task_id: str,
    data: dict[str, Any],
    *,
    actor: Actor,
    classes: ClassBook,
    notify_prefect: bool = True,
    channel: str = "the CLI",
    task: Task | None = None,
    decision: Decision | None = None,
    criteria: tuple[str, ...] | None = None,
    prefect: SharedPrefectClient | None = None,
) -> Submitted:
    """Record ``actor``'s answer to a task, close its form, and continue the decision.

    The store comes first: once this returns, the answer is kept whatever Prefect does. Then
    the person's suspended run is marked answered and, if this was the last answer the
    decision's step waited for, its next step is started. When Prefect cannot be reached,
    the deadline sweep continues the decision later; ``follow_up`` says so. ``channel``
    names the way the answer came in the person's run's final message.

    A caller that has just read the task (``task``), its ``decision`` and what its form is
    made of (``criteria``: the class's, or a tender evaluator's cells) passes them, and
    they are not read again: they choose the form, and the task and decision let the store
    judge an answer they settle without reading them again (:class:`decisions.services.Seen`;
    the store still sees under its lock that the task is open and asks the separation of
    powers there). ``prefect`` is a long-lived process's client (one is opened for this
    answer otherwise).
    """
    if task is None or task.id != task_id:
        task = services.get_task(engine, task_id)
    if criteria is None and task.kind is TaskKind.SCORE:
        from flows.tender import score_fields  # a tender's evaluator scores their own bids

        criteria = score_fields(engine, task)
    if criteria is None:
        if decision is None or decision.id != task.decision_id:
            decision = services.get_decision(engine, task.decision_id)
        criteria = classes.get(decision.class_name, decision.district_type).criteria
    form = parse_form(task, data, criteria)
    answer = form.to_answer()
    recorded = services.record_answer(
        engine,
        task.id,
        answer,
        actor=actor,
        answer_code=form.answer_code,
        criteria=criteria,
        idempotency_key=answer_key(task.id, answer.model_dump(mode="json")),
        seen=(
            services.Seen(task, decision)
            if decision is not None and decision.id == task.decision_id
            else None
        ),
    )
    outcome = Submitted(recorded)
    if not notify_prefect:
        return outcome
    try:
        with _client_for(prefect) as client:
            close_person_run(
                client,
                recorded.task.flow_run_id or task.flow_run_id,
                f"Answered by {actor.id} through {channel}.",
                answered=True,
            )
            outcome.continued = continue_if_ready(client, engine, task.decision_id)
    except (httpx.HTTPError, PrefectHTTPStatusError, ObjectNotFound, RuntimeError) as err:
        outcome.follow_up = (
            f"Prefect could not be reached ({type(err).__name__}); the answer is kept and "
            "the deadline sweep will continue the decision."
        )
    return outcome
