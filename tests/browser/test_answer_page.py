"""People answer on the personal answer page, in Chromium on a phone, with JavaScript off.

Two tests:

- The page (:func:`flows.web.app.create_app`) is served by uvicorn on a free local port over a
  SQLite store whose decision is in its second Delphi round (the world of
  ``tests/flows/test_answer_page.py``, its clock fixed so the page reads the same each run).
  The expert opens the link their notification carries, reads round 1's aggregate beside
  their own answer, answers round 2, and opens their inbox; a tampered link is refused.
- From the e-mail on: a decision runs on the flows (a local runner with its notifier, a real
  ``prefect server start``, the answer page in a thread of this process on a free port, which
  ``COUNSEL_PUBLIC_URL`` names). The routed experts and one member of the decision body have
  ``mailto://`` addresses on a local SMTP server (aiosmtpd); everyone else is simulated
  (:class:`flows.simulate.Participants`), the panel disagreeing on cost in round 1. The first
  routed expert reads her e-mail, follows its link and answers round 1 by clicking; then her
  round-2 e-mail, where the page shows round 1's aggregate and her own earlier answer; the
  member follows his e-mail and votes; a tampered link, an expired one and a link to another
  person's task made out to her are each refused with the one sentence; the decision closes.

Screenshots of the answer page and the inbox, in Chinese, go to the first test's ``tmp_path``;
with ``COUNSEL_UPDATE_SCREENSHOTS=1`` (or when they are missing) also to
``docs/screenshots/answer-page-zh.png`` and ``docs/screenshots/inbox-zh.png``, which the
README shows. The second test keeps its screenshots (each page it opened) in its ``tmp_path``.
"""

from __future__ import annotations

import email
import gc
import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as email_policy
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from decisions import services
from decisions.clock import utcnow
from decisions.db import make_engine, migrate
from decisions.links import REFUSAL, read_link, task_token
from decisions.model import Actor, Decision, Task, TaskKind, TaskStatus
from decisions.services.personal import store_secret
from flows.web.catalogue import REFUSAL_ZH

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page, ViewportSize
    from sqlalchemy import Engine

    from flows.local_runner import LocalRunner
    from flows.simulate import Participants
    from tests.flows.test_answer_page import World

    from .conftest import PrefectServer, Store

T = TypeVar("T")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    # the flow tests before this tier leave Prefect's keep-alive sockets to the garbage
    # collector, which may close them during this tier's first test (ResourceWarnings)
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
#: When the tasks were given (10:00 in Beijing); the page's clock is an hour later.
START = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
PHONE: ViewportSize = {"width": 412, "height": 915}
RATIONALE = "第一轮汇总显示经济性分歧较大。考虑到招标设置价格上限，我将经济性评分调整为 6 分。"


@pytest.fixture
def page(chromium: Browser, tmp_path: Path) -> Iterator[Page]:
    """A phone-sized page in Chinese, with JavaScript off (a screenshot lands in
    ``tmp_path`` on failure, as for the other browser test)."""
    context = chromium.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        java_script_enabled=False,
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@dataclass
class Served:
    url: str
    world: World
    log: list[str]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """The page on a free port, over a store in Delphi round 2 and a second decision with
    an open task for the same expert."""
    import logging

    import uvicorn

    from flows.web.app import create_app, log
    from tests.flows.test_answer_page import PROPOSAL, make_world, start_round_two

    engine = make_engine(f"sqlite:///{tmp_path / 'counsel.db'}")
    migrate(engine)
    world = make_world(engine, year=2026, start=START)
    start_round_two(world)
    second = services.submit_proposal(
        engine,
        services.Proposal.model_validate({**PROPOSAL, "title": "东区保洁责任区重新划分"}),
        planner=services.get_actor(engine, "li-wei"),
        classes=world.classes,
        year=2026,
    )
    services.apply_transition(engine, second.id, "start_consultation")
    services.assign_task(
        engine, second.id, TaskKind.CONSULT, "wang-fang", deadline=START + timedelta(days=6)
    )
    app = create_app(
        engine,
        classes=world.classes,
        notify_prefect=False,
        clock=lambda: START + timedelta(hours=1),
    )
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    keep, level = Keep(), log.level
    log.addHandler(keep)
    log.setLevel(logging.INFO)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, access_log=False, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the answer page did not start"
        time.sleep(0.05)
    try:
        yield Served(f"http://127.0.0.1:{port}", world, lines)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        log.removeHandler(keep)
        log.setLevel(level)
        engine.dispose()


def keep_screenshot(page: Page, name: str, tmp_path: Path) -> Path:
    """A full-page screenshot into ``tmp_path``, and into docs/screenshots when asked."""
    shot = tmp_path / name
    page.screenshot(path=str(shot), full_page=True)
    target = SCREENSHOTS / name
    if os.environ.get("COUNSEL_UPDATE_SCREENSHOTS") == "1" or not target.exists():
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)
    return shot


def test_an_expert_answers_round_two_on_a_phone_without_javascript(
    page: Page, served: Served, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    world = served.world
    task = world.task_of("wang-fang")
    link = served.url + world.link(task)

    # -- the link opens the task in Chinese: the decision, the deadline, round 1 beside hers
    response = page.goto(link)
    assert response is not None and response.status == 200
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    expect(page.get_by_role("heading", level=1)).to_have_text("道路保洁市场化：建设路与人民街")
    expect(page.get_by_text("D-2026-0001 · 方案第 1 版")).to_be_visible()
    expect(page.get_by_text("请于 2026年12月3日（周四）10:00（北京时间）前提交")).to_be_visible()
    expect(page.get_by_text("还剩 1 天 23 小时")).to_be_visible()
    aggregate = page.get_by_role("region", name="第 1 轮汇总结果（匿名，共 3 份答复）")
    expect(aggregate).to_be_visible()
    expect(aggregate.get_by_text("中位数 6，四分位距 2（5–7）")).to_be_visible()
    expect(aggregate.get_by_text("您上一轮：4 分")).to_be_visible()
    expect(aggregate.get_by_role("img", name="“经济性”评分分布", exact=False)).to_be_visible()
    expect(aggregate.get_by_text("预算偏紧，建议设置价格上限。")).to_be_visible()

    # -- without a rating the browser itself keeps the form (the fields are required) -----
    form = page.locator("form")
    form.get_by_role("button", name="提交答复").click()
    expect(page).to_have_url(link)
    assert services.answer_for(world.engine, task.id) is None

    # -- she answers: large buttons for the ratings and choices, her reasons ---------------
    for criterion, rating in (
        ("可行性", "7"),
        ("经济性", "6"),
        ("社会影响", "7"),
        ("环境影响", "7"),
    ):
        group = form.get_by_role("group", name=criterion)
        group.locator("label", has_text=rating).click()
        expect(group.get_by_role("radio", name=rating)).to_be_checked()
    form.get_by_role("group", name="您的建议").locator("label", has_text="有条件同意").click()
    form.get_by_label("附加条件").fill("招标文件设置价格上限\n保留人民菜场周边夜班保洁")
    form.get_by_label("理由").fill(RATIONALE)
    form.get_by_label("理由").blur()
    keep_screenshot(page, "answer-page-zh.png", tmp_path)
    form.get_by_role("button", name="提交答复").click()

    # -- the page says it is recorded and what happens next --------------------------------
    outcome = page.get_by_role("status")
    expect(outcome).to_contain_text("提交答复，谢谢！")
    expect(outcome).to_contain_text("本环节还有 2 人尚未作答")
    expect(outcome).to_contain_text("经济性：6 分")
    expect(page.locator("form")).to_have_count(0)
    recorded = services.answer_for(world.engine, task.id)
    assert recorded is not None and recorded.model_dump()["rationale"] == RATIONALE
    assert services.get_task(world.engine, task.id).status is TaskStatus.ANSWERED

    # -- her inbox lists the other decision's open task and what she answered --------------
    page.goto(served.url + world.inbox("wang-fang"))
    expect(page.get_by_role("heading", name="王芳的任务")).to_be_visible()
    waiting = page.get_by_role("region", name="待办任务")
    expect(waiting.get_by_text("东区保洁责任区重新划分")).to_be_visible()
    expect(page.get_by_role("region", name="近 30 天已结束的任务")).to_contain_text("已作答")
    keep_screenshot(page, "inbox-zh.png", tmp_path)
    waiting.get_by_role("link", name="打开").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("东区保洁责任区重新划分")
    expect(page.locator("form")).to_have_count(1)

    # -- a tampered link says the one sentence, and the log never shows a token -------------
    response = page.goto(link[:-4] + ("AAAA" if not link.endswith("AAAA") else "BBBB"))
    assert response is not None and response.status == 404
    expect(page.get_by_text(REFUSAL)).to_be_visible()
    expect(page.get_by_text(REFUSAL_ZH)).to_be_visible()
    token = link.rsplit("/", 1)[1]
    assert served.log and not any(token[:16] in line for line in served.log)


# -- from the e-mail on: a decision carried by the flows ----------------------------------

#: Hang guards: a step of the decision (Prefect runs in their own processes) takes seconds;
#: these only bound a test that would otherwise wait for ever.
MAIL_TIMEOUT_S = 180
SETTLE_TIMEOUT_S = 300
START_TIMEOUT_S = 120
STOP_TIMEOUT_S = 180
#: A personal task link in a message, on any answer page.
TASK_LINK = re.compile(r"https?://[^\s/]+/t/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
CRITERIA_ZH = {
    "feasibility": "可行性",
    "cost": "经济性",
    "social_impact": "社会影响",
    "environmental_impact": "环境影响",
}
ROUND_ONE = {"feasibility": 7, "cost": 4, "social_impact": 7, "environmental_impact": 7}
ROUND_ONE_RATIONALE = "夜间保洁的费用测算不足，经济性存疑；其余方面可行。"
ROUND_TWO = {"feasibility": 7, "cost": 6, "social_impact": 7, "environmental_impact": 7}
VOTE_RATIONALE = "专家两轮咨询意见一致，招标设置价格上限后财政可以承受。"


@dataclass(frozen=True)
class Mail:
    """One e-mail as its person got it: the envelope's recipients and the parsed message."""

    to: tuple[str, ...]
    subject: str
    body: str  # the plain text part

    @property
    def task_link(self) -> str:
        links: list[str] = TASK_LINK.findall(self.body)
        assert len(links) == 1, f"not one task link in {self.subject!r}:\n{self.body}"
        return links[0]


class MailCatcher:
    """A local SMTP server (aiosmtpd) keeping every message it is given, thread-safe."""

    def __init__(self) -> None:
        self._mails: list[Mail] = []
        self._lock = threading.Lock()
        self.port = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email_policy)
        assert isinstance(message, EmailMessage)
        plain = message.get_body(preferencelist=("plain",))
        body = plain.get_content() if plain is not None else ""
        mail = Mail(tuple(envelope.rcpt_tos), str(message["Subject"]), body)
        with self._lock:
            self._mails.append(mail)
        return "250 OK"

    def address(self, person: str) -> str:
        """The Apprise URL that delivers ``person``'s mail here."""
        return (
            f"mailto://127.0.0.1:{self.port}?mode=insecure"
            f"&from=counsel@district.example.cn&to={person}@example.cn"
        )

    def mails(self) -> list[Mail]:
        with self._lock:
            return list(self._mails)

    def to(self, person: str) -> list[Mail]:
        return [m for m in self.mails() if f"{person}@example.cn" in m.to]


@pytest.fixture
def smtp() -> Iterator[MailCatcher]:
    """aiosmtpd on a free port of 127.0.0.1, accepting any login without TLS."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    catcher = MailCatcher()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        catcher.port = sock.getsockname()[1]
    controller = Controller(
        catcher,
        hostname="127.0.0.1",
        port=catcher.port,
        authenticator=lambda *_: AuthResult(success=True),
        auth_require_tls=False,
    )
    controller.start()
    yield catcher
    controller.stop()


@dataclass
class Flowing:
    """A decision carried by the flows, with its answer page and its people's e-mail."""

    engine: Engine
    decision_id: str
    title: str
    page_url: str
    mail: MailCatcher
    runner: LocalRunner
    participants: Participants
    log: list[str]
    member: str = "wu-gang"
    _expert: str | None = None

    def problems(self) -> str:
        """What went wrong behind the page, for a failure's message."""
        refused = [a for a in self.participants.attempts if a.outcome != "recorded"]
        state = services.get_decision(self.engine, self.decision_id).state.value
        return (
            f"decision {self.decision_id} is {state}; runner errors: {self.runner.errors}; "
            f"refused simulated answers: {refused}; e-mails: "
            f"{[(m.to, m.subject) for m in self.mail.mails()]}"
        )

    def wait(self, what: str, found: Callable[[], T | None], timeout_s: float) -> T:
        """Poll ``found`` until it gives something, at most ``timeout_s`` seconds."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = found()
            if value is not None:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {timeout_s} s; {self.problems()}")
            time.sleep(0.2)

    def expert(self) -> str:
        """The first expert the consultation was routed to: the one in the browser."""
        if self._expert is None:

            def routed() -> str | None:
                events = services.history(self.engine, self.decision_id)
                event = next((e for e in events if e.action == "consultation.routed"), None)
                return None if event is None else str(event.data["experts"][0])

            self._expert = self.wait("routing of the consultation", routed, MAIL_TIMEOUT_S)
        return self._expert

    def wait_mail(self, person: str, subject: str) -> Mail:
        """The one e-mail to ``person`` whose subject holds ``subject``, once it arrived."""

        def arrived() -> Mail | None:
            mails = [m for m in self.mail.to(person) if subject in m.subject]
            assert len(mails) <= 1, f"{person} got {subject!r} {len(mails)} times"
            return mails[0] if mails else None

        return self.wait(f"e-mail {subject!r} to {person}", arrived, MAIL_TIMEOUT_S)


def participant_script(flowing: Callable[[], Flowing], criteria: tuple[str, ...]) -> Any:
    """What the simulated people answer: every expert but the one in the browser approves
    with conditions, rating 7 but cost 5, 6, 7, 8 in round 1 (with her 4: IQR 2, no
    consensus) and 6 in round 2; the member in the browser is left to vote there; the rest
    (discussion, the other votes, execution and acceptance) as in the demo."""
    from flows.demo import demo_script

    rest = demo_script(criteria)
    round_one_cost: dict[str, int] = {}

    def script(task: Task, decision: Decision, actor: Actor) -> dict[str, Any] | None:
        world = flowing()
        if task.kind is TaskKind.CONSULT:
            if actor.id == world.expert():
                return None
            if task.round == 1:
                cost = round_one_cost.setdefault(task.id, 5 + len(round_one_cost) % 4)
            else:
                cost = 6
            return {
                "recommendation": "approve_with_conditions",
                "conditions": "保留人民菜场周边夜班保洁",
                "rationale": f"第 {task.round} 轮：总体可行，价格上限需明确。",
                **{f"rating_{c}": 7 for c in criteria},
                "rating_cost": cost,
            }
        if task.kind is TaskKind.VOTE and actor.id == world.member:
            return None
        return rest(task, decision, actor)

    return script


@pytest.fixture
def flowing(
    store: Store,
    smtp: MailCatcher,
    prefect_server: PrefectServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Flowing]:
    """The decision of ``store`` started on the flows: a local runner (steps, the people's
    runs, the deadline sweep and the notifier) against ``prefect_server``, the answer page
    on a free port, the routed experts and one member reachable by e-mail on ``smtp``, and
    simulated people for everyone the browser does not answer for."""
    import logging

    from prefect import get_client
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

    from decisions.classes import load_classes
    from experts.sample import load_sample
    from experts.store import save_expertise
    from flows.demo import answer_page
    from flows.local_runner import local_runner
    from flows.simulate import Participants
    from flows.warm import start_decision_run
    from flows.web.app import log
    from tests.browser.conftest import prefect_clients_drained

    engine = store.engine
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("COUNSEL_DATABASE_URL", store.url)  # the flows open the store from it
    monkeypatch.setenv("COUNSEL_PUBLIC_URL", f"http://127.0.0.1:{port}")  # the links' page
    monkeypatch.setenv("COUNSEL_NOTIFY_EVERY_S", "0.5")
    # whoever the ranking routes (it routes at the first step) has an address, in Chinese
    sample = load_sample()
    experts = tuple(
        e.model_copy(update={"notify": (smtp.address(e.id.lower()),), "lang": "zh"})
        for e in sample.experts
    )
    with services.UnitOfWork(engine) as uow:
        save_expertise(uow.session, sample.model_copy(update={"experts": experts}))
    services.set_contacts(engine, "wu-gang", notify=[smtp.address("wu-gang")], lang="zh")
    decision = services.get_decision(engine, store.decision_id)
    classes = load_classes(os.environ.get("COUNSEL_CLASSES_FILE"))
    criteria = classes.get(decision.class_name, decision.district_type).criteria
    assert set(criteria) == set(CRITERIA_ZH), criteria  # the class this test was written for

    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    keep, level = Keep(), log.level
    log.addHandler(keep)
    log.setLevel(logging.INFO)
    holder: list[Flowing] = []
    failed: list[BaseException] = []
    ready, stop = threading.Event(), threading.Event()
    script = participant_script(lambda: holder[0], criteria)

    def carry() -> None:
        """Prefect's side, in a thread of its own: Playwright's sync API keeps an event loop
        running in the test's thread, where Prefect's sync-or-async methods (the runner's
        ``add_flow``) would hand back coroutines and register no deployment."""
        try:
            with (
                temporary_settings(
                    updates={
                        PREFECT_API_URL: prefect_server.api_url,
                        PREFECT_HOME: str(tmp_path / "prefect-client"),
                    }
                ),
                prefect_clients_drained(),
                answer_page(engine, port) as page_url,
                local_runner(sweep_every_s=1.0, stale_after_s=30, notify_every_s=0.5) as runner,
                Participants(engine, classes, script) as sim,
            ):
                holder.append(
                    Flowing(engine, decision.id, decision.title, page_url, smtp, runner, sim, lines)
                )
                with get_client(sync_client=True) as client:
                    start_decision_run(client, engine, decision.id)
                ready.set()
                stop.wait()
        except BaseException as err:  # noqa: BLE001 - handed to the test's thread
            failed.append(err)
        finally:
            ready.set()

    thread = threading.Thread(target=carry, name="decision-on-flows", daemon=True)
    thread.start()
    try:
        assert ready.wait(START_TIMEOUT_S), f"the flows did not start within {START_TIMEOUT_S} s"
        if failed:
            raise failed[0]
        yield holder[0]
    finally:
        stop.set()
        thread.join(timeout=STOP_TIMEOUT_S)
        log.removeHandler(keep)
        log.setLevel(level)
        # Prefect's clients leave keep-alive sockets to the garbage collector: let it take
        # them now, while this test ignores their ResourceWarnings (not at the session's end)
        gc.collect()
    assert not thread.is_alive(), f"the flows did not stop within {STOP_TIMEOUT_S} s"
    if failed:
        raise failed[0]


def refused_in_the_browser(page: Page, link: str, flowing: Flowing) -> None:
    """``link`` gets the one sentence, in Chinese and English, and nothing of any task."""
    from playwright.sync_api import expect

    response = page.goto(link)
    assert response is not None and response.status == 404, link
    expect(page.get_by_text(REFUSAL_ZH, exact=True).first).to_be_visible()
    expect(page.get_by_text(REFUSAL, exact=True)).to_be_visible()
    shown = page.locator("body").inner_text()
    for detail in (flowing.decision_id, flowing.title, "D-", "第 1 轮", "表决", "截止"):
        assert detail not in shown, f"the refusal of {link} shows {detail!r}"
    expect(page.locator("form")).to_have_count(0)


def rate(form: Locator, ratings: dict[str, int]) -> None:
    """Click each criterion's rating button (the large label around the radio)."""
    from playwright.sync_api import expect

    for criterion, rating in ratings.items():
        group = form.get_by_role("group", name=CRITERIA_ZH[criterion])
        group.locator("label", has_text=str(rating)).click()
        expect(group.get_by_role("radio", name=str(rating))).to_be_checked()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_an_expert_and_a_member_answer_from_their_e_mails_as_the_flows_carry_the_decision(
    page: Page, flowing: Flowing, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    engine = flowing.engine
    secret = store_secret(engine)
    expert = flowing.expert()

    # -- round 1: her e-mail, in Chinese, carries her link; she opens it and answers -------
    first = flowing.wait_mail(expert, "【待办】第 1 轮专家咨询")
    assert first.subject.endswith(f"{flowing.decision_id} {flowing.title}")
    assert first.body.splitlines()[0].endswith("您好：") and "截止时间：" in first.body
    link = first.task_link
    assert link.startswith(flowing.page_url + "/t/")
    grant = read_link(secret, link.rsplit("/", 1)[1], now=utcnow())
    assert grant.actor_id == expert and grant.task_id is not None
    task = services.get_task(engine, grant.task_id)
    assert (task.kind, task.round, task.assignee_id) == (TaskKind.CONSULT, 1, expert)

    response = page.goto(link)
    assert response is not None and response.status == 200
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    expect(page.get_by_role("heading", level=1)).to_have_text(flowing.title)
    expect(page.get_by_text(f"{flowing.decision_id} · 方案第 1 版")).to_be_visible()
    expect(page.get_by_text("第 1 轮专家咨询：请按 1–9 分")).to_be_visible()
    expect(page.get_by_role("region", name=re.compile("汇总结果"))).to_have_count(0)
    form = page.locator("form")
    rate(form, ROUND_ONE)
    form.get_by_role("group", name="您的建议").locator("label", has_text="有条件同意").click()
    form.get_by_label("附加条件").fill("招标文件设置价格上限")
    form.get_by_label("理由").fill(ROUND_ONE_RATIONALE)
    page.screenshot(path=str(tmp_path / "e-mail-round-1.png"), full_page=True)
    form.get_by_role("button", name="提交答复").click()
    outcome = page.get_by_role("status")
    expect(outcome).to_contain_text("提交答复，谢谢！")
    expect(outcome).to_contain_text("经济性：4 分")
    expect(page.locator("form")).to_have_count(0)
    recorded = services.answer_for(engine, task.id)
    assert recorded is not None
    assert recorded.model_dump()["ratings"] == ROUND_ONE

    # -- round 2: the panel disagreed on cost; her page shows round 1 beside her answer -----
    second = flowing.wait_mail(expert, "【待办】第 2 轮专家咨询")
    link2 = second.task_link
    grant2 = read_link(secret, link2.rsplit("/", 1)[1], now=utcnow())
    assert grant2.actor_id == expert and grant2.task_id not in (None, task.id)
    task2 = services.get_task(engine, grant2.task_id or "")
    assert (task2.kind, task2.round) == (TaskKind.CONSULT, 2)
    page.goto(link2)
    expect(page.get_by_role("heading", level=1)).to_have_text(flowing.title)
    heading = re.compile(r"^第 1 轮汇总结果（匿名，共 \d+ 份答复）$")
    aggregate = page.get_by_role("region", name=heading)
    expect(aggregate).to_be_visible()
    cost = aggregate.locator("div.criterion").filter(
        has=page.get_by_role("heading", name=re.compile("^经济性"))
    )
    expect(cost).to_contain_text("意见分歧较大")
    expect(cost).to_contain_text("中位数 6，四分位距 2（5–7）")
    expect(cost.get_by_text("您上一轮：4 分")).to_be_visible()
    expect(cost.get_by_role("img", name="“经济性”评分分布", exact=False)).to_be_visible()
    mine = aggregate.locator("div.mine")
    expect(mine.get_by_role("heading", name="您上一轮的答复")).to_be_visible()
    expect(mine).to_contain_text("有条件同意")
    expect(mine.get_by_text(ROUND_ONE_RATIONALE)).to_be_visible()
    form = page.locator("form")
    rate(form, ROUND_TWO)
    form.get_by_role("group", name="您的建议").locator("label", has_text="有条件同意").click()
    form.get_by_label("附加条件").fill("招标文件设置价格上限\n保留人民菜场周边夜班保洁")
    form.get_by_label("理由").fill(RATIONALE)
    page.screenshot(path=str(tmp_path / "e-mail-round-2.png"), full_page=True)
    form.get_by_role("button", name="提交答复").click()
    expect(page.get_by_role("status")).to_contain_text("提交答复，谢谢！")
    expect(page.get_by_role("status")).to_contain_text("经济性：6 分")
    recorded = services.answer_for(engine, task2.id)
    assert recorded is not None and recorded.model_dump()["rationale"] == RATIONALE

    # -- links that do not open: tampered, expired, another person's task made out to her --
    assert task2.deadline is not None
    tail = link2[-4:]
    tampered = link2[:-4] + ("AAAA" if tail != "AAAA" else "BBBB")
    expired = task_token(secret, task2.id, expert, utcnow() - timedelta(minutes=1))
    others = [
        t
        for t in services.tasks_of(engine, flowing.decision_id)
        if t.kind is TaskKind.CONSULT and t.round == 2 and t.assignee_id != expert
    ]
    assert others, "no other expert has a round-2 task"
    foreign = task_token(secret, others[0].id, expert, task2.deadline)
    for bad in (tampered, f"{flowing.page_url}/t/{expired}", f"{flowing.page_url}/t/{foreign}"):
        refused_in_the_browser(page, bad, flowing)
    page.screenshot(path=str(tmp_path / "e-mail-refused.png"), full_page=True)
    assert services.get_task(engine, others[0].id).assignee_id == others[0].assignee_id

    # -- the member's e-mail opens his vote: the experts' advice, then his vote -------------
    member = flowing.member
    vote_mail = flowing.wait_mail(member, "【待办】表决")
    vote_link = vote_mail.task_link
    vote_grant = read_link(secret, vote_link.rsplit("/", 1)[1], now=utcnow())
    assert vote_grant.actor_id == member and vote_grant.task_id is not None
    response = page.goto(vote_link)
    assert response is not None and response.status == 200
    expect(page.get_by_role("heading", level=1)).to_have_text(flowing.title)
    expect(page.get_by_role("heading", name="专家咨询意见")).to_be_visible()
    expect(page.get_by_text(re.compile(r"^有条件同意：\d+ 人$"))).to_be_visible()
    form = page.locator("form")
    form.get_by_role("group", name="您的表决").locator("label", has_text="赞成").click()
    form.get_by_label("理由").fill(VOTE_RATIONALE)
    page.screenshot(path=str(tmp_path / "e-mail-vote.png"), full_page=True)
    form.get_by_role("button", name="提交答复").click()
    outcome = page.get_by_role("status")
    expect(outcome).to_contain_text("提交答复，谢谢！")
    expect(outcome).to_contain_text("表决：赞成")
    vote = services.answer_for(engine, vote_grant.task_id)
    assert vote is not None and vote.model_dump()["choice"] == "approve"

    # -- the decision goes on to its end; each e-mail came once; no token in the page's log -
    final = flowing.wait(
        "end of the decision",
        lambda: (
            state
            if (state := services.get_decision(engine, flowing.decision_id).state.value)
            in {"closed", "rejected", "withdrawn", "stalled"}
            else None
        ),
        SETTLE_TIMEOUT_S,
    )
    assert final == "closed", flowing.problems()
    assert not flowing.runner.errors, flowing.runner.errors
    rounds = [
        (e.data["round"], e.data["consensus"])
        for e in services.history(engine, flowing.decision_id)
        if e.action == "consultation.round_aggregated"
    ]
    assert rounds == [(1, False), (2, True)]
    mails = flowing.mail.mails()
    assert len({(m.to, m.subject) for m in mails}) == len(mails), "an e-mail came twice"
    assert [m.subject for m in flowing.mail.to(member)] == [vote_mail.subject]
    tokens = [u.rsplit("/", 1)[1] for u in (link, link2, vote_link)]
    assert flowing.log and not any(t[:16] in line for t in tokens for line in flowing.log)
