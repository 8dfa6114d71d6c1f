"""The notifier beside the flows: a decision carried by the flows tells each of its people
once, in their language, with a working link; each delivery is a Prefect event; notifier
loops racing share the outbox."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from prefect.events.clients import AssertingEventsClient
from prefect.events.worker import EventsWorker
from prefect.testing.fixtures import asserting_events_worker  # noqa: F401 - a fixture
from sqlalchemy import Engine

from decisions import services
from decisions.links import read_link
from decisions.model import Actor, Decision, State, Task, TaskKind
from decisions.notifications import Notification
from decisions.settings import CounselSettings
from experts.sample import load_sample
from experts.store import save_expertise
from flows.local_runner import local_runner
from flows.notifier import notify_forever, notify_once
from flows.simulate import Participants, wait_until_settled
from flows.warm import start_decision_run
from tests.flows.conftest import Stage, proposal

pytestmark = [
    pytest.mark.flows,
    # Apprise's e-mail plugin imports imghdr (deprecated in 3.11, gone in 3.13) when it loads
    pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]

PUBLIC_URL = "https://counsel.example.cn"
LINK = re.compile(r"https://counsel\.example\.cn/(t|me)/([A-Za-z0-9_.-]+)")


class Webhook:
    """A local JSON receiver (Apprise's ``json://``): what arrived at each path."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                data = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                received.append((self.path, data))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def address(self, person: str) -> str:
        return f"json://127.0.0.1:{self.port}/hooks/{person}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> CounselSettings:
    """Links point at the public answer page; the notifier looks twice a second."""
    monkeypatch.setenv("COUNSEL_PUBLIC_URL", PUBLIC_URL)
    monkeypatch.setenv("COUNSEL_NOTIFY_EVERY_S", "0.5")
    return CounselSettings()


def pending(engine: Engine) -> list[Notification]:
    return [n for n in services.list_notifications(engine, limit=10_000) if n.status == "pending"]


def wait_until_sent(engine: Engine, *, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while pending(engine) and time.monotonic() < deadline:
        time.sleep(0.2)


def everyone_reachable(stage: Stage, webhook: Webhook) -> None:
    """Every expert of the expertise database (alternately Chinese and English readers) and
    every person of the example decision has a webhook address of their own."""
    sample = load_sample()
    experts = [
        expert.model_copy(
            update={"notify": (webhook.address(expert.id),), "lang": ("zh", "en")[n % 2]}
        )
        for n, expert in enumerate(sample.experts)
    ]
    with services.UnitOfWork(stage.engine) as uow:
        save_expertise(uow.session, sample.model_copy(update={"experts": tuple(experts)}))
    for actor in services.list_actors(stage.engine):
        services.set_contacts(stage.engine, actor.id, notify=[webhook.address(actor.id)], lang="zh")


def agreeable(criteria: tuple[str, ...]) -> Any:
    """Everyone answers at once and agrees: consensus in round 1, approved, accepted."""

    def script(task: Task, _decision: Decision, _actor: Actor) -> dict[str, Any]:
        if task.kind is TaskKind.CONSULT:
            return {
                "recommendation": "approve",
                "rationale": "sound",
                **{f"rating_{c}": 7 for c in criteria},
            }
        if task.kind is TaskKind.DISCUSS:
            return {"stance": "support", "text": "ok"}
        if task.kind is TaskKind.VOTE:
            return {"choice": "approve", "rationale": "as the experts advise"}
        if task.kind is TaskKind.EXECUTE:
            return {"percent_complete": 100, "text": "done", "measures_done": "all"}
        return {"verdict": "accept", "findings": "checked"}

    return script


@pytest.mark.slow
def test_a_decision_carried_by_the_flows_tells_each_person_once_with_a_working_link(
    stage: Stage, webhook: Webhook, settings: CounselSettings
) -> None:
    """A decision run by the flows on the local runner, whose notifier sends the outbox: every
    message queued is delivered once, to its own person's address, in their language, with a
    link the answer page accepts for them; the audit chain records each delivery."""
    everyone_reachable(stage, webhook)
    engine = stage.engine
    planner = services.get_actor(engine, "li-wei")
    decision = services.submit_proposal(engine, proposal(), planner=planner, classes=stage.classes)
    criteria = stage.classes.get(decision.class_name, decision.district_type).criteria
    with (
        Participants(engine, stage.classes, agreeable(criteria)),
        local_runner(sweep_every_s=1.0, stale_after_s=30, notify_every_s=0.5) as runner,
    ):
        from prefect import get_client

        with get_client(sync_client=True) as client:
            start_decision_run(client, engine, decision.id)
        final = wait_until_settled(engine, decision.id, timeout_s=300)
        wait_until_sent(engine)
    assert not runner.errors, runner.errors
    assert final == State.CLOSED.value

    rows = services.list_notifications(engine, decision_id=decision.id, limit=10_000)
    assert {r.status for r in rows} == {"sent"} and all(r.attempts == 1 for r in rows)
    kinds = Counter(r.kind for r in rows)
    assert kinds["task.assigned"] >= 3 + 3 + 1 + 1  # experts, members, executor, inspector
    assert kinds["decision.closed"] == 1 and kinds["decision.vote_opened"] == 1
    arrived = Counter(path for path, _ in webhook.received)
    assert arrived == Counter(r.address.split(str(webhook.port), 1)[1] for r in rows)

    with services.UnitOfWork(engine, read_only=True) as uow:
        secret = uow.secret()
    langs = {r.address.rsplit("/", 1)[1]: (r.recipient, r.lang) for r in rows}
    for path, data in webhook.received:
        recipient, lang = langs[path.rsplit("/", 1)[1]]
        [(scope, token)] = LINK.findall(data["message"])
        grant = read_link(secret, token, now=datetime.now(UTC))
        assert grant.actor_id == recipient
        if scope == "t":
            assert services.get_task(engine, grant.task_id or "").assignee_id == recipient
        greeting = data["message"].splitlines()[0]
        assert greeting.startswith("Dear ") if lang == "en" else greeting.endswith("您好：")
    sent = [e for e in services.history(engine, decision.id) if e.action == "notification.sent"]
    assert len(sent) == len(rows)
    assert not any(PUBLIC_URL in e.payload or "json://" in e.payload for e in sent)


def test_each_delivery_is_a_prefect_event_naming_the_person_and_the_decision(
    stage: Stage,
    webhook: Webhook,
    settings: CounselSettings,
    asserting_events_worker: EventsWorker,  # noqa: F811 - the fixture imported above
) -> None:
    """A message sent is `counsel.notification.sent`, one that cannot go is
    `counsel.notification.failed`; each has the person and the decision as related resources
    and holds neither the address nor the link."""
    engine = stage.engine
    services.set_contacts(engine, "wu-gang", notify=[webhook.address("wu-gang")], lang="zh")
    services.set_contacts(engine, "zheng-hua", notify=["nosuchservice://k-123456"], lang="en")
    planner = services.get_actor(engine, "li-wei")
    decision = services.submit_proposal(engine, proposal(), planner=planner, classes=stage.classes)
    for member in ("wu-gang", "zheng-hua"):
        services.assign_task(
            engine, decision.id, "vote", member, deadline=datetime.now(UTC) + timedelta(days=2)
        )
    deliveries = notify_once(engine, settings)
    assert sorted(d.status for d in deliveries) == ["failed", "sent"]

    asserting_events_worker.drain()
    client = asserting_events_worker._client
    assert isinstance(client, AssertingEventsClient)
    events = {e.event: e for e in client.events if e.event.startswith("counsel.notification.")}
    assert set(events) == {"counsel.notification.sent", "counsel.notification.failed"}
    for name, person in (("sent", "wu-gang"), ("failed", "zheng-hua")):
        event = events[f"counsel.notification.{name}"]
        related = {(r.id, r.role) for r in event.related}
        assert related == {
            (f"counsel.actor.{person}", "recipient"),
            (f"counsel.decision.{decision.id}", "decision"),
        }
        assert event.payload["kind"] == "task.assigned"
        text = event.model_dump_json()
        assert "127.0.0.1" not in text and PUBLIC_URL not in text and "k-123456" not in text
    assert events["counsel.notification.failed"].payload["error"].startswith("Apprise does not")


def test_notifier_loops_racing_send_each_message_once(
    stage: Stage, webhook: Webhook, settings: CounselSettings
) -> None:
    """Three notifier loops against one store, as three task workers run them, send each of
    many messages once."""
    engine = stage.engine
    for member in ("wu-gang", "zheng-hua", "feng-yan"):
        services.set_contacts(engine, member, notify=[webhook.address(member)], lang="zh")
    planner = services.get_actor(engine, "li-wei")
    decision = services.submit_proposal(engine, proposal(), planner=planner, classes=stage.classes)
    for n in range(15):
        for member in ("wu-gang", "zheng-hua", "feng-yan"):
            services.assign_task(
                engine,
                decision.id,
                "vote",
                member,
                deadline=datetime.now(UTC) + timedelta(days=2),
                idempotency_key=f"race:{n}:{member}",
            )

    async def race() -> None:
        loops = [asyncio.create_task(notify_forever(0.05, settings=settings)) for _ in range(3)]
        deadline = time.monotonic() + 60
        while pending(engine) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        for loop in loops:
            loop.cancel()
        await asyncio.gather(*loops, return_exceptions=True)

    asyncio.run(race())
    assert not pending(engine)
    assert len(webhook.received) == 45
    assert Counter(path for path, _ in webhook.received) == {
        f"/hooks/{member}": 15 for member in ("wu-gang", "zheng-hua", "feng-yan")
    }
