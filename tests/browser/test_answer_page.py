"""An expert answers on the personal answer page, in Chromium on a phone, with JavaScript off.

The page (:func:`flows.web.app.create_app`) is served by uvicorn on a free local port over a
SQLite store whose decision is in its second Delphi round (the world of
``tests/flows/test_answer_page.py``, its clock fixed so the page reads the same each run).
The expert opens the link their notification carries, reads round 1's aggregate beside their
own answer, answers round 2, and opens their inbox; a tampered link is refused.

Screenshots of the answer page and the inbox, in Chinese, go to this test's ``tmp_path``;
with ``COUNSEL_UPDATE_SCREENSHOTS=1`` (or when they are missing) also to
``docs/screenshots/answer-page-zh.png`` and ``docs/screenshots/inbox-zh.png``, which the
README shows.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from decisions import services
from decisions.db import make_engine, migrate
from decisions.links import REFUSAL
from decisions.model import TaskKind, TaskStatus
from flows.web.catalogue import REFUSAL_ZH

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from tests.flows.test_answer_page import World

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
#: When the tasks were given (10:00 in Beijing); the page's clock is an hour later.
START = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
PHONE = {"width": 412, "height": 915}
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
