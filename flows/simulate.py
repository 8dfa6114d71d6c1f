"""Simulated participants who answer through the real answer path (the answer service).

Used by ``counsel demo`` and the flow tests. A :class:`Participants` thread watches the
store for open tasks whose run is waiting, asks a *script* what each person answers, and
submits it with :func:`flows.answering.submit_answer` as that person, exactly as
``counsel answer`` does. The script returns the form's fields (the answer code is added),
``None`` to stay silent, or a ``dict`` with ``answer_code`` of its own to send a wrong one.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from decisions import services
from decisions.classes import ClassBook
from decisions.exceptions import CounselError
from decisions.model import Actor, Decision, Task
from flows.answering import submit_answer

__all__ = ["Participants", "Script", "Attempt", "wait_until_settled"]

SETTLED = {"closed", "rejected", "withdrawn", "stalled"}

Script = Callable[[Task, Decision, Actor], "dict[str, Any] | None"]


@dataclass
class Attempt:
    task_id: str
    actor_id: str
    data: dict[str, Any]
    outcome: str  # "recorded" or the refusal's sentence
    follow_up: str | None = None  # why the decision could not be continued at once


@dataclass
class Participants:
    """A background thread answering open tasks according to ``script``."""

    engine: Engine
    classes: ClassBook
    script: Script
    on_attempt: Callable[[Attempt], None] | None = None
    poll_s: float = 0.3
    attempts: list[Attempt] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _seen: dict[str, int] = field(default_factory=dict)

    def __enter__(self) -> Participants:
        # the caller's Prefect settings (its API URL) are context variables: carry them over
        context = contextvars.copy_context()
        self._thread = threading.Thread(
            target=context.run, args=(self._run,), name="participants", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            for actor in services.list_actors(self.engine):
                for task in services.open_tasks_for(self.engine, actor.id):
                    if task.flow_run_id is None:
                        continue  # no run waits yet; answer when the form is up
                    self._answer(task, actor)

    def _answer(self, task: Task, actor: Actor) -> None:
        tries = self._seen.get(task.id, 0)
        if tries >= 3:
            return
        decision = services.get_decision(self.engine, task.decision_id)
        data = self.script(task, decision, actor)
        if data is None:
            return
        self._seen[task.id] = tries + 1
        data = {"answer_code": services.answer_code_for(self.engine, task.id), **data}
        follow_up = None
        try:
            submitted = submit_answer(self.engine, task.id, data, actor=actor, classes=self.classes)
        except CounselError as refusal:
            outcome = str(refusal)
        else:
            outcome, follow_up = "recorded", submitted.follow_up
        attempt = Attempt(task.id, actor.id, data, outcome, follow_up)
        self.attempts.append(attempt)
        if self.on_attempt:
            self.on_attempt(attempt)


def wait_until_settled(engine: Engine, decision_id: str, *, timeout_s: float = 600) -> str:
    """Poll the store until the decision is closed, rejected, withdrawn or stalled; returns
    that state (or the state it was in when ``timeout_s`` ran out)."""
    deadline = time.monotonic() + timeout_s
    while True:
        state = services.get_decision(engine, decision_id).state.value
        if state in SETTLED or time.monotonic() > deadline:
            return state
        time.sleep(0.5)
