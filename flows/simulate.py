"""Simulated participants who answer through the real answer paths.

A :class:`Participants` thread (the flow tests) watches the store for open tasks whose run
is waiting, asks a *script* what each person answers, and submits it with
:func:`flows.answering.submit_answer` as that person, exactly as ``counsel answer`` does.
The script returns the form's fields (the answer code is added), ``None`` to stay silent,
or a ``dict`` with ``answer_code`` of its own to send a wrong one.

:class:`PageParticipants` (``counsel demo``) walk the path a person walks: they read the
messages the notifier sent them (:class:`flows.sink.MessageSink`), open the personal link
in each, and post the answer page's form, as a browser would; what the page says of a
refused answer is what they report.
"""

from __future__ import annotations

import contextvars
import html
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import Engine

from decisions import services
from decisions.classes import ClassBook
from decisions.exceptions import CounselError
from decisions.links import BadLink, read_link
from decisions.model import Actor, Decision, Task, TaskStatus, utcnow
from decisions.services.personal import store_secret
from flows.answering import submit_answer
from flows.sink import MessageSink

__all__ = ["Participants", "PageParticipants", "Script", "Attempt", "wait_until_settled"]

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


#: What the answer page says of a refused answer: the items of its ``#problems`` box.
_PROBLEMS = re.compile(r'id="problems">(.*?)</div>', re.S)
_ITEM = re.compile(r"<li>(.*?)</li>", re.S)


def page_refusal(page: str) -> str:
    """The reasons the answer page gives for refusing an answer, as one line."""
    box = _PROBLEMS.search(page)
    items = _ITEM.findall(box.group(1)) if box else []
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", i)).strip() for i in items) or ("refused")


def page_form(task: Task, data: dict[str, Any]) -> dict[str, str | list[str]]:
    """A script's answer as the answer page's form posts it: measures done are ticked by
    their place in the task's list; nobody types a code or an id."""
    form: dict[str, str | list[str]] = {}
    for name, value in data.items():
        if name in ("answer_code", "your_id"):
            continue
        if name == "measures_done" and task.measures:
            done = {line.strip() for line in str(value).splitlines()}
            form[name] = [str(i) for i, m in enumerate(task.measures) if m in done]
        else:
            form[name] = str(value)
    return form


@dataclass
class PageParticipants:
    """A background thread of people answering from their messages on the answer page."""

    engine: Engine
    sink: MessageSink
    script: Script
    on_attempt: Callable[[Attempt], None] | None = None
    poll_s: float = 0.3
    attempts: list[Attempt] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _read: int = 0
    _links: dict[str, str] = field(default_factory=dict)  # task id -> its newest link
    _tries: dict[str, int] = field(default_factory=dict)

    def __enter__(self) -> PageParticipants:
        self._thread = threading.Thread(target=self._run, name="page-participants", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        secret = store_secret(self.engine)
        with httpx.Client(timeout=60) as browser:
            while not self._stop.wait(self.poll_s):
                for message in self.sink.since(self._read):
                    self._read += 1
                    link = message.task_link
                    if link is None:
                        continue
                    try:
                        grant = read_link(secret, link.rsplit("/", 1)[1], now=utcnow())
                    except BadLink:
                        continue
                    if grant.task_id:
                        self._links[grant.task_id] = link
                for task_id, link in list(self._links.items()):
                    if self._answer(browser, task_id, link):
                        del self._links[task_id]

    def _answer(self, browser: httpx.Client, task_id: str, link: str) -> bool:
        """Answer one task from its link; True when nothing more is to be done for it."""
        task = services.get_task(self.engine, task_id)
        if task.status is not TaskStatus.OPEN or self._tries.get(task_id, 0) >= 3:
            return True
        if task.flow_run_id is None:
            return False  # its step is still opening the forms: answer once it waits
        decision = services.get_decision(self.engine, task.decision_id)
        actor = services.get_actor(self.engine, task.assignee_id)
        data = self.script(task, decision, actor)
        if data is None:
            return True  # this person stays silent
        self._tries[task_id] = self._tries.get(task_id, 0) + 1
        browser.get(link).raise_for_status()  # the person reads the page first
        sent = browser.post(link, data=page_form(task, data))
        if sent.status_code == 303:
            outcome = "recorded"
        elif sent.status_code == 422:
            outcome = page_refusal(sent.text)
        else:
            sent.raise_for_status()
            outcome = f"the page answered {sent.status_code}"
        attempt = Attempt(task_id, actor.id, data, outcome)
        self.attempts.append(attempt)
        if self.on_attempt:
            self.on_attempt(attempt)
        return outcome == "recorded"


def wait_until_settled(engine: Engine, decision_id: str, *, timeout_s: float = 600) -> str:
    """Poll the store until the decision is closed, rejected, withdrawn or stalled; returns
    that state (or the state it was in when ``timeout_s`` ran out)."""
    deadline = time.monotonic() + timeout_s
    while True:
        state = services.get_decision(engine, decision_id).state.value
        if state in SETTLED or time.monotonic() > deadline:
            return state
        time.sleep(0.5)
