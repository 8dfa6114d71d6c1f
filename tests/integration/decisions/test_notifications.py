"""The outbox on SQLite and PostgreSQL: messages queued with their cause, sent once through
Apprise to a local SMTP server and a local webhook, retried while the mail server is down,
shared by racing notifiers, and listed by ``counsel notifications``."""

from __future__ import annotations

import email
import json
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from sqlalchemy import Engine, func, select

from decisions import services
from decisions.db import make_engine
from decisions.links import Grant, read_link
from decisions.model import TaskKind, TaskStatus
from decisions.notifications import CAUSES, Notification
from decisions.notifications.delivery import FIRST_RETRY, GIVE_UP_AFTER, Outcome, send
from decisions.tables import AuditEventRow, NotificationRow
from tests.integration.decisions.conftest import World
from tests.integration.decisions.test_cli import assert_refused, counsel, url_of

pytestmark = [
    # Apprise's e-mail plugin imports imghdr (deprecated in 3.11, gone in 3.13) when it loads
    pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning"),
]

PUBLIC_URL = "https://counsel.example.cn"
ZONE = "Asia/Shanghai"
LINK = re.compile(r"https://counsel\.example\.cn/(t|me)/([A-Za-z0-9_.-]+)")


# -- local receivers ---------------------------------------------------------------------


@dataclass
class Received:
    """One message as its person got it: to whom, the subject and the plain text."""

    to: str
    subject: str
    body: str


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class MailServer:
    """aiosmtpd on a fixed port, started and stopped at will (a mail server that goes down)."""

    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    _controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email_policy)
        assert isinstance(message, EmailMessage)
        plain = message.get_body(preferencelist=("plain",))
        assert plain is not None
        self.received.append(
            Received(str(message["To"]), str(message["Subject"]), plain.get_content())
        )
        return "250 OK"

    def start(self) -> None:
        self._controller = Controller(
            self,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=lambda *_: AuthResult(success=True),  # any login, without TLS
            auth_require_tls=False,
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def address(self, person: str, *, password: str | None = None) -> str:
        """An Apprise mailto URL that delivers ``person``'s mail to this server."""
        user = f"counsel:{password}@" if password else ""
        return (
            f"mailto://{user}127.0.0.1:{self.port}?mode=insecure"
            f"&from=counsel@district.example.cn&to={person}@example.cn"
        )


class Webhook:
    """A local JSON receiver (Apprise's ``json://``), one path per person."""

    def __init__(self, *, delay_s: float = 0.0) -> None:
        self.received: list[Received] = []
        received, delay = self.received, delay_s

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                data = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                time.sleep(delay)
                person = self.path.rsplit("/", 1)[-1]
                received.append(Received(person, data["title"], data["message"]))
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
def mail() -> Iterator[MailServer]:
    server = MailServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


# -- helpers -----------------------------------------------------------------------------


def deliver_all(engine: Engine, *, now: datetime | None = None, limit: int = 20) -> list[str]:
    """Run notifier passes at ``now`` until nothing is due; the statuses they reached."""
    statuses: list[str] = []
    while True:
        batch = services.deliver_due(
            engine, send=send, public_url=PUBLIC_URL, zone=ZONE, now=now, limit=limit
        )
        statuses += [d.status for d in batch]
        if not batch:
            return statuses


def outbox(engine: Engine) -> list[Notification]:
    return list(reversed(services.list_notifications(engine, limit=10_000)))


def secret_of(engine: Engine) -> str:
    with services.UnitOfWork(engine, read_only=True) as uow:
        return uow.secret()


def count_rows(engine: Engine, table: type) -> int:
    with services.unit_of_work(engine, read_only=True) as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def in_three_days() -> datetime:
    return (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)


def full_decision(world: World, deadline: datetime) -> list[Callable[[], object]]:
    """Every write of a decision from its first round to closed, as steps that can be run
    again: a reminder, a task passed on at its deadline, one cancelled, a second round, a
    stall and its resumption, the discussion, the vote, execution and inspection."""
    e, d = world.engine, world.decision.id
    experts = [x.id for x in world.experts] + ["expert-3"]

    def assign(kind: TaskKind, who: str, key: str) -> Callable[[], object]:
        return lambda: services.assign_task(
            e, d, kind, who, deadline=deadline, idempotency_key=f"{d}:{key}"
        )

    def task_of(who: str, kind: TaskKind) -> str:
        return next(
            t.id for t in services.tasks_of(e, d) if t.assignee_id == who and t.kind is kind
        )

    def move(action: str, key: str, **arguments: Any) -> Callable[[], object]:
        return lambda: services.apply_transition(
            e, d, action, idempotency_key=f"{d}:{key}", **arguments
        )

    def remind(who: str) -> object:
        task = services.get_task(e, task_of(who, TaskKind.CONSULT))
        return services.append_event_once(
            e,
            actor=services.SYSTEM,
            action="task.reminded",
            decision_id=d,
            payload={"task_id": task.id, "assignee": who, "deadline": task.deadline},
            idempotency_key=f"{d}:remind:{task.id}",
        )

    def close(who: str, status: TaskStatus) -> object:
        return services.close_task_once(
            e,
            task_of(who, TaskKind.CONSULT),
            status,
            reason="No answer by the deadline.",
            idempotency_key=f"{d}:expire:{who}",
        )

    return [
        *(assign(TaskKind.CONSULT, x, f"consult:1:{x}") for x in experts[:3]),
        lambda: remind(experts[0]),
        assign(TaskKind.CONSULT, experts[3], f"consult:1:{experts[3]}"),
        lambda: close(experts[1], TaskStatus.REASSIGNED),
        lambda: close(experts[2], TaskStatus.CANCELLED),
        move("next_round", "round:2", max_rounds=3),
        move("open_discussion", "discuss"),
        move("stall", "stall", reason="Too few positions were given."),
        move("resume", "resume"),
        assign(TaskKind.DISCUSS, experts[0], "discuss:e0"),
        move("open_vote", "vote"),
        *(assign(TaskKind.VOTE, m.id, f"vote:{m.id}") for m in world.members),
        move("approve", "approve"),
        move("start_execution", "execute"),
        assign(TaskKind.EXECUTE, world.executor.id, "execute:1"),
        assign(TaskKind.INSPECT, world.inspector.id, "inspect:1"),
        move("accept_execution", "accepted"),
        move("close", "close"),
    ]


@pytest.fixture
def people(world: World, mail: MailServer, webhook: Webhook) -> dict[str, tuple[str, ...]]:
    """Everyone reachable, readers of Chinese and of English, by mail (one with a password
    in the address), by webhook, or both (member-0); one expert (expert-2) has no address."""
    e = world.engine
    services.add_actor(e, actor_id="expert-3", name="孙丽", roles=["expert"], affiliations=["i-3"])
    contacts = {
        "li-wei": ((mail.address("li-wei"),), "zh"),
        "expert-0": ((mail.address("expert-0", password="s3cret-pw"),), "zh"),
        "expert-1": ((webhook.address("expert-1"),), "en"),
        "expert-2": ((), "zh"),
        "expert-3": ((webhook.address("expert-3"),), "zh"),
        "member-0": ((mail.address("member-0"), webhook.address("member-0")), "zh"),
        "member-1": ((webhook.address("member-1"),), "en"),
        "street-office": ((mail.address("street-office"),), "en"),
        "inspector-zhou": ((webhook.address("inspector-zhou"),), "zh"),
    }
    for who, (addresses, lang) in contacts.items():
        services.set_contacts(e, who, notify=list(addresses), lang=lang)
    return {who: addresses for who, (addresses, _) in contacts.items()}


# -- tests -------------------------------------------------------------------------------


def test_a_full_decisions_messages_are_queued_once_with_their_cause(
    world: World, people: dict[str, tuple[str, ...]]
) -> None:
    """Every event that concerns a reachable person queues one message per address of
    theirs, in its own transaction; running every write again queues none and writes no
    event; the person without addresses gets none; no link is stored."""
    steps = full_decision(world, in_three_days())
    start = services.chain_head(world.engine)[0]
    for step in steps:
        step()
    events = [e for e in services.history(world.engine, world.decision.id) if e.seq > start]
    rows = outbox(world.engine)
    expected = set()
    for event in events:
        if event.action not in CAUSES:
            continue
        data = event.data
        if event.action.startswith("task."):
            who = services.get_task(world.engine, data["task_id"]).assignee_id
        else:
            who = world.planner.id
        expected |= {(event.seq, who, address) for address in people[who]}
    assert sorted((r.event_seq, r.recipient, r.address) for r in rows) == sorted(expected)
    kinds = Counter(r.kind for r in rows)
    assert kinds["task.reminded"] == 1 and kinds["task.reassigned"] == 1
    assert kinds["decision.stalled"] == 1 and kinds["decision.closed"] == 1
    assert kinds["task.assigned"] == 9  # member-0 twice: by mail and by webhook
    assert not any(r.recipient == "expert-2" for r in rows)
    assert all(r.status == "pending" and r.attempts == 0 for r in rows)
    assert not any("/t/" in json.dumps(r.params) for r in rows)

    head = services.chain_head(world.engine)
    for step in steps:
        step()
    assert services.chain_head(world.engine) == head
    assert count_rows(world.engine, NotificationRow) == len(rows)


def test_each_message_arrives_once_in_its_language_with_a_working_link(
    world: World, people: dict[str, tuple[str, ...]], mail: MailServer, webhook: Webhook
) -> None:
    """Mail to the local SMTP server and JSON to the local webhook: each message once, in
    the person's language, with a link the answer page accepts for that person (their task
    while they can answer it, otherwise their inbox); each delivery is an audit event that
    names the channel and the cause but holds neither the address nor the link."""
    for step in full_decision(world, in_three_days()):
        step()
    rows = outbox(world.engine)
    assert set(deliver_all(world.engine)) == {"sent"}
    assert deliver_all(world.engine) == []

    got = mail.received + webhook.received
    assert len(got) == len(rows)
    by_mail = Counter(r.to.split("@")[0] for r in mail.received)
    by_hook = Counter(r.to for r in webhook.received)
    for who in people:
        mine = [r for r in rows if r.recipient == who]
        assert by_mail[who] == sum(r.channel == "mailto" for r in mine), who
        assert by_hook[who] == sum(r.channel == "json" for r in mine), who

    secret, now = secret_of(world.engine), datetime.now(UTC)
    english = {"expert-1", "member-1", "street-office"}
    for message in got:
        who = message.to.split("@")[0]
        greeting = message.body.splitlines()[0]
        if who in english:
            assert greeting.startswith("Dear "), message
        else:
            assert greeting.endswith("您好：") and re.search("[\u4e00-\u9fff]", message.subject)
        assert world.decision.id in message.subject and world.decision.title in message.body
        links = LINK.findall(message.body)
        assert len(links) == 1, message.body
        scope, token = links[0]
        grant = read_link(secret, token, now=now)
        assert grant.actor_id == who
        if scope == "t":
            assert grant.scope == "task" and grant.task_id is not None
            assert services.get_task(world.engine, grant.task_id).assignee_id == who
        else:
            assert grant == Grant("inbox", who, None, grant.expires_at)
    task_links = Counter(m.to.split("@")[0] for m in got if "/t/" in m.body)
    for who in people:
        asked = [
            r for r in rows if r.recipient == who and r.kind in {"task.assigned", "task.reminded"}
        ]
        assert task_links[who] == len(asked), who

    deadline_text = next(
        m.body for m in mail.received if m.to.startswith("expert-0") and "待办" in m.subject
    )
    local = services.tasks_of(world.engine, world.decision.id)[0].deadline
    assert local is not None
    assert f"{local.astimezone(ZoneInfo(ZONE)):%Y-%m-%d %H:%M} (Asia/Shanghai)" in deadline_text

    sent = [e for e in services.export_events(world.engine) if e.action == "notification.sent"]
    assert len(sent) == len(rows)
    chain = " ".join(e.payload for e in sent)
    assert PUBLIC_URL not in chain and "s3cret-pw" not in chain and "@example.cn" not in chain
    assert {e.data["channel"] for e in sent} == {"mailto", "json"}
    causes = {r.event_seq for r in rows}
    assert {e.data["cause_seq"] for e in sent} == causes
    assert services.verify(world.engine).ok


def test_a_mail_server_that_is_down_delays_messages_and_loses_none(
    world: World, mail: MailServer
) -> None:
    """With the SMTP server down a message stays pending with its attempts and the time of
    its next attempt, backing off; once the server is up it is delivered, once."""
    mail.stop()
    services.set_contacts(world.engine, "expert-0", notify=[mail.address("expert-0")], lang="zh")
    services.assign_task(
        world.engine, world.decision.id, "consult", "expert-0", deadline=in_three_days()
    )
    t0 = datetime.now(UTC)
    assert deliver_all(world.engine, now=t0) == ["pending"]
    [row] = outbox(world.engine)
    assert row.status == "pending" and row.attempts == 1
    assert row.next_attempt_at == t0 + FIRST_RETRY
    assert row.last_error and "127.0.0.1" in row.last_error
    assert deliver_all(world.engine, now=t0 + FIRST_RETRY / 2) == []  # not due yet

    t1 = t0 + FIRST_RETRY
    assert deliver_all(world.engine, now=t1) == ["pending"]
    [row] = outbox(world.engine)
    assert row.attempts == 2 and row.next_attempt_at == t1 + 2 * FIRST_RETRY

    mail.start()
    assert deliver_all(world.engine, now=t1 + 2 * FIRST_RETRY) == ["sent"]
    assert deliver_all(world.engine, now=t1 + timedelta(hours=1)) == []
    assert len(mail.received) == 1 and "第 1 轮专家咨询" in mail.received[0].subject
    [row] = outbox(world.engine)
    assert row.status == "sent" and row.attempts == 3


def test_a_message_that_cannot_go_is_failed_and_audited(world: World, mail: MailServer) -> None:
    """An address Apprise does not know fails at once with a sentence saying so; one whose
    server stays down fails after the give-up time; each failure is an audit event and is
    what `--failed` lists."""
    mail.stop()
    services.set_contacts(
        world.engine, "expert-0", notify=["nosuchservice://key-0123456789"], lang="zh"
    )
    services.set_contacts(world.engine, "expert-1", notify=[mail.address("expert-1")], lang="en")
    for expert in ("expert-0", "expert-1"):
        services.assign_task(
            world.engine, world.decision.id, "consult", expert, deadline=in_three_days()
        )
    t0 = datetime.now(UTC)
    assert sorted(deliver_all(world.engine, now=t0)) == ["failed", "pending"]
    [unknown] = services.list_notifications(world.engine, failed=True)
    assert unknown.recipient == "expert-0" and unknown.attempts == 1
    assert unknown.last_error is not None
    assert "Apprise does not accept this nosuchservice:// address" in unknown.last_error
    assert "key-0123456789" not in unknown.last_error

    assert deliver_all(world.engine, now=t0 + GIVE_UP_AFTER) == ["failed"]
    failed = services.list_notifications(world.engine, failed=True)
    assert [f.recipient for f in failed] == ["expert-1", "expert-0"]
    audited = [e for e in services.export_events(world.engine) if e.action == "notification.failed"]
    assert sorted(e.data["recipient"] for e in audited) == ["expert-0", "expert-1"]
    assert all(e.data["cause_seq"] > 0 and e.data["kind"] == "task.assigned" for e in audited)


def test_two_notifiers_racing_send_each_message_once(world: World, db_url: str) -> None:
    """Two notifiers, each with its own engine, emptying one outbox at the same moment
    against a slow webhook: every message is sent once and recorded sent once."""
    hook = Webhook(delay_s=0.05)
    try:
        for member in world.members:
            services.set_contacts(
                world.engine, member.id, notify=[hook.address(member.id)], lang="zh"
            )
        for n in range(6):
            for member in world.members:
                services.assign_task(
                    world.engine,
                    world.decision.id,
                    "vote",
                    member.id,
                    deadline=in_three_days(),
                    idempotency_key=f"race:{n}:{member.id}",
                )
        rows = outbox(world.engine)
        assert len(rows) == 12
        engines = [make_engine(db_url), make_engine(db_url)]
        now = datetime.now(UTC)
        results: list[list[str]] = [[], []]
        barrier = threading.Barrier(2)

        def notifier(i: int) -> None:
            barrier.wait()
            results[i] = deliver_all(engines[i], now=now, limit=2)

        threads = [threading.Thread(target=notifier, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        for engine in engines:
            engine.dispose()
        assert results[0] and results[1], results  # both took part
        assert sorted(results[0] + results[1]) == ["sent"] * 12
        assert len(hook.received) == 12
        assert Counter(m.to for m in hook.received) == {m.id: 6 for m in world.members}
        with services.unit_of_work(world.engine, read_only=True) as session:
            audited = session.scalar(
                select(func.count())
                .select_from(AuditEventRow)
                .where(AuditEventRow.action == "notification.sent")
            )
        assert audited == 12
    finally:
        hook.close()


def test_a_hanging_server_cannot_make_a_message_go_twice(world: World, webhook: Webhook) -> None:
    """A pass starts sending only in the first half of its lease and hands the rest back
    unsent and uncounted, so a second notifier that claims them after the lease never
    sends a message the first is still sending."""
    services.set_contacts(world.engine, "expert-0", notify=[webhook.address("expert-0")], lang="zh")
    for n in range(3):
        services.assign_task(
            world.engine,
            world.decision.id,
            "consult",
            "expert-0",
            deadline=in_three_days(),
            idempotency_key=f"slow:{n}",
        )
    calls: list[str] = []

    def hanging(address: str, subject: str, body: str) -> Outcome:
        calls.append(subject)
        time.sleep(0.3)
        return Outcome(True)

    now = datetime.now(UTC)
    first = services.deliver_due(
        world.engine,
        send=hanging,
        public_url=PUBLIC_URL,
        zone=ZONE,
        now=now,
        lease=timedelta(seconds=0.4),
    )
    assert [d.status for d in first] == ["sent"] and len(calls) == 1
    handed_back = [n for n in outbox(world.engine) if n.status == "pending"]
    assert len(handed_back) == 2
    assert all(n.attempts == 0 and n.lease_until is None for n in handed_back)
    rest = services.deliver_due(
        world.engine, send=hanging, public_url=PUBLIC_URL, zone=ZONE, now=now
    )
    assert [d.status for d in rest] == ["sent", "sent"] and len(calls) == 3


def test_counsel_notifications_lists_them_without_addresses_or_links(
    world: World, people: dict[str, tuple[str, ...]], mail: MailServer
) -> None:
    """`counsel notifications` lists who, what, which decision, the channel's kind, status
    and attempts, never an address's secret parts or a link; `--failed` only the failed;
    a bad option is one sentence and exit status 1."""
    for step in full_decision(world, in_three_days())[:4]:
        step()
    mail.stop()
    deliver_all(world.engine)
    url = url_of(world)
    listing = counsel(url, "notifications", "--decision", world.decision.id)
    assert listing.returncode == 0, listing.stderr
    out = listing.stdout
    assert "expert-0" in out and "task.reminded" in out and "mailto" in out and "json" in out
    assert "retry" in out and "sent" in out
    assert "s3cret-pw" not in out and "@example.cn" not in out and PUBLIC_URL not in out

    nothing = counsel(url, "notifications", "--failed")
    assert nothing.returncode == 0 and "No failed messages." in nothing.stdout
    deliver_all(world.engine, now=datetime.now(UTC) + GIVE_UP_AFTER)
    failed = counsel(url, "notifications", "--failed")
    assert failed.returncode == 0, failed.stderr
    assert "expert-0" in failed.stdout and "failed" in failed.stdout
    assert "json" not in failed.stdout  # the webhook's messages went out

    assert_refused(counsel(url, "notifications", "--decision", "D-2099-0001"), "no decision")
    assert_refused(
        counsel(url, "notifications", "--decision", "not a decision"),
        "A decision id looks like D-2026-0001",
    )
    assert_refused(counsel(url, "notifications", "--limit", "0"), "--limit is how many")
