"""The personal answer page against a real store, on SQLite and on PostgreSQL.

Starlette's TestClient drives the application (:func:`flows.web.app.create_app`) as a
browser would: it follows a person's link, reads the page, posts the HTML form and follows
the redirect. Answers go through the one answer path (``flows.answering.submit_answer``);
Prefect's part of it (closing the person's run, continuing the decision) is left out here
(``notify_prefect=False``) except in the tests that say they use it.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    # Starlette 1.10 asks for the httpx2 package for its test client; httpx (which Prefect
    # installs) still works, and the warning is all that differs
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

from decisions import services
from decisions.classes import ClassBook, load_classes
from decisions.clock import utcnow
from decisions.links import REFUSAL, inbox_token, task_token
from decisions.model import Decision, Opinion, Task, TaskKind, TaskStatus
from decisions.progress import Routing, Slot
from decisions.services.personal import open_personal_task, store_secret
from decisions.uow import UnitOfWork
from flows.web.app import create_app
from flows.web.catalogue import REFUSAL_ZH

pytestmark = [
    pytest.mark.flows,
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]

TITLE = "道路保洁市场化：建设路与人民街"
PROPOSAL = {
    "title": TITLE,
    "description": "建设路、人民街道路保洁服务通过公开招标委托专业公司承担，合同期三年。",
    "class": "standard",
    "district": "east-district",
    "district_type": "east",
    "topics": ["street-cleaning", "market-based-contracting"],
    "stakeholders": ["jianshe-residents-committee"],
    "bidders": ["cleanco"],
    "executors": ["jianshe-street-office"],
    "text": "一、保洁范围：建设路（全长2.1公里）、人民街（全长1.4公里）。\n二、合同期三年。",
}
EXPERTS = {"wang-fang": "王芳", "zhao-lei": "赵磊", "chen-jing": "陈静"}
CRITERIA = ("feasibility", "cost", "social_impact", "environmental_impact")
#: round-1 ratings of cost: the IQR is 2 > 1, so the panel is asked again
ROUND1_COST = {"wang-fang": 4, "zhao-lei": 6, "chen-jing": 8}
RATIONALES = {
    "wang-fang": "可行，但需保留人民菜场周边的夜班保洁。",
    "zhao-lei": "预算偏紧，建议设置价格上限。",
    "chen-jing": "Feasible if the tender caps the price.",
}


@dataclass
class World:
    """A store with one decision of class ``standard`` in consultation, three experts (one
    reading English), two members, an executor and an inspector."""

    engine: Engine
    classes: ClassBook
    decision: Decision
    secret: str
    #: when tasks are given (deadlines are 48 hours later); now, unless a test fixes it
    start: datetime | None = None

    def tasks(self, kind: TaskKind | None = None, round: int | None = None) -> list[Task]:
        return [
            t
            for t in services.tasks_of(self.engine, self.decision.id)
            if (kind is None or t.kind is kind) and (round is None or t.round == round)
        ]

    def task_of(self, person: str, kind: TaskKind = TaskKind.CONSULT) -> Task:
        found = [t for t in self.tasks(kind) if t.assignee_id == person]
        return max(found, key=lambda t: t.round)

    def link(self, task: Task) -> str:
        """The task's personal link, as a notification carries it (path only)."""
        assert task.deadline is not None
        return f"/t/{task_token(self.secret, task.id, task.assignee_id, task.deadline)}"

    def inbox(self, person: str) -> str:
        return f"/me/{inbox_token(self.secret, person, now=utcnow())}"

    def assign(self, kind: TaskKind, person: str, **extra: Any) -> Task:
        return services.assign_task(
            self.engine,
            self.decision.id,
            kind,
            person,
            deadline=(self.start or utcnow()) + timedelta(hours=48),
            **extra,
        ).task


def make_world(
    engine: Engine,
    *,
    english: str = "chen-jing",
    year: int | None = None,
    start: datetime | None = None,
) -> World:
    """The world of these tests (the browser test builds the same one, with its decision's
    ``year`` and the ``start`` of its tasks fixed)."""
    planner, _ = services.add_actor(
        engine, actor_id="li-wei", name="李伟", roles=["planner"], affiliations=["east-bureau"]
    )
    for person, name in EXPERTS.items():
        services.add_actor(
            engine,
            actor_id=person,
            name=name,
            roles=["expert"],
            affiliations=[f"{person}-institute"],
            lang="en" if person == english else "zh",
        )
    for person, name in {"lin-tao": "林涛", "gao-yu": "高宇"}.items():
        services.add_actor(
            engine, actor_id=person, name=name, roles=["member"], bodies=["district-office-meeting"]
        )
    services.add_actor(
        engine,
        actor_id="jianshe-office",
        name="建设路街道办事处",
        roles=["executor"],
        affiliations=["jianshe-street-office"],
    )
    services.add_actor(engine, actor_id="zhou-min", name="周敏", roles=["inspector"])
    classes = load_classes()
    decision = services.submit_proposal(
        engine,
        services.Proposal.model_validate(PROPOSAL),
        planner=planner,
        classes=classes,
        year=year,
    )
    decision = services.apply_transition(engine, decision.id, "start_consultation")
    slots = tuple(Slot(number=i, expert=e) for i, e in enumerate(EXPERTS))
    services.record_routing(
        engine, decision.id, Routing(first_round=1, slots=slots), key=f"{decision.id}:route:1"
    )
    world = World(engine, classes, decision, store_secret(engine), start)
    for person in EXPERTS:
        world.assign(TaskKind.CONSULT, person, round=1)
    return world


def opinion_form(cost: int, rationale: str, **extra: str) -> dict[str, str]:
    """What an expert's browser posts: the ratings, a recommendation and the texts."""
    form = {f"rating_{c}": "7" for c in CRITERIA}
    form["rating_cost"] = str(cost)
    return {
        **form,
        "recommendation": "approve_with_conditions",
        "conditions": "保留夜班保洁\n每周通报保洁质量",
        "rationale": rationale,
        **extra,
    }


def answer_round_one(world: World, rationales: dict[str, str] = RATIONALES) -> None:
    """Every expert answers round 1 through the store's answer path; the IQR of cost is 2."""
    for person in EXPERTS:
        task = world.task_of(person)
        ratings = dict.fromkeys(CRITERIA, 7) | {"cost": ROUND1_COST[person]}
        services.record_answer(
            world.engine,
            task.id,
            Opinion(
                recommendation="approve_with_conditions",
                ratings=ratings,
                conditions=("保留夜班保洁",),
                rationale=rationales[person],
            ),
            actor=services.get_actor(world.engine, person),
            answer_code=services.answer_code_for(world.engine, task.id),
            criteria=CRITERIA,
        )


def start_round_two(world: World, rationales: dict[str, str] = RATIONALES) -> None:
    """Round 1 answered without consensus on cost: round 2 asks the same panel again."""
    answer_round_one(world, rationales)
    services.apply_transition(world.engine, world.decision.id, "next_round", max_rounds=2)
    for person in EXPERTS:
        world.assign(TaskKind.CONSULT, person, round=2)


@pytest.fixture
def world(engine: Engine) -> World:
    return make_world(engine)


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    app = create_app(world.engine, classes=world.classes, notify_prefect=False)
    with TestClient(app, follow_redirects=True) as http:
        yield http


def form_html(html: str) -> str:
    match = re.search(r"<form.*?</form>", html, re.S)
    return match.group(0) if match else ""


def test_the_task_page_says_what_is_asked_and_by_when_in_chinese(
    world: World, client: TestClient
) -> None:
    """An expert's link opens their task in Chinese: the decision's title and proposal
    version, what is asked, the deadline in Beijing time, and a form whose ratings are the
    class's criteria by their labels; no id and no answer code are asked."""
    task = world.task_of("wang-fang")
    response = client.get(world.link(task))
    assert response.status_code == 200
    html = response.text
    assert '<html lang="zh-CN">' in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert TITLE in html and f"{world.decision.id} · 方案第 1 版" in html
    assert "第 1 轮专家咨询：请按 1–9 分为各项指标评分" in html
    assert task.deadline is not None
    local = task.deadline.astimezone(ZoneInfo("Asia/Shanghai"))
    assert f"请于 {local.year}年{local.month}月{local.day}日" in html
    assert f"{local:%H:%M}（北京时间）前提交" in html
    form = form_html(html)
    for label in ("可行性", "经济性", "社会影响", "环境影响", "您的建议", "有条件同意", "理由"):
        assert label in form, label
    for criterion in CRITERIA:
        assert len(re.findall(rf'name="rating_{criterion}" value="\d"', form)) == 9
    assert "answer_code" not in form and "your_id" not in form and "<script" not in html


def test_an_english_reader_gets_the_page_in_english(world: World, client: TestClient) -> None:
    """A person whose language is English reads the same page in English, labels included."""
    html = client.get(world.link(world.task_of("chen-jing"))).text
    assert '<html lang="en">' in html
    assert "Consultation, round 1: rate each criterion from 1 (poor) to 9 (excellent)" in html
    form = form_html(html)
    for label in ("Feasibility", "Cost", "Social impact", "Approve with conditions", "Send"):
        assert label in form, label
    assert "可行性" not in html


def answers_of(world: World, task: Task) -> list[dict[str, Any]]:
    return [
        e.data
        for e in services.history(world.engine, world.decision.id)
        if e.action.startswith("task.answered") and e.data["task_id"] == task.id
    ]


def test_an_answer_is_recorded_once_and_the_page_says_what_happens_next(
    world: World, client: TestClient
) -> None:
    """Posting the form records the answer through the answer path as the link's person,
    with no code typed; the page that follows says it is recorded, how many others are
    awaited and what follows; sending it again, or the same answer from the CLI's path,
    records nothing more."""
    task = world.task_of("wang-fang")
    sent = opinion_form(5, "可行，但需保留人民菜场周边的夜班保洁。")
    response = client.post(world.link(task), data=sent)
    assert response.status_code == 200 and response.history[0].status_code == 303
    html = response.text
    assert "提交答复，谢谢！" in html
    assert "本环节还有 2 人尚未作答" in html and "如评分未达成共识，将请您参加下一轮" in html
    assert "<form" not in html
    assert "有条件同意" in html and "经济性：5 分" in html and "保留夜班保洁" in html
    recorded = answers_of(world, task)
    assert len(recorded) == 1
    assert recorded[0]["answer"]["ratings"]["cost"] == 5
    assert recorded[0]["answer"]["conditions"] == ["保留夜班保洁", "每周通报保洁质量"]
    events = [e for e in services.history(world.engine, world.decision.id) if e.seq > 0]
    assert [e.actor for e in events if e.action == "task.answered.opinion"] == ["wang-fang"]

    again = client.post(world.link(task), data=sent)
    assert again.status_code == 200 and "提交答复，谢谢！" in again.text
    from flows.answering import submit_answer

    by_cli = submit_answer(
        world.engine,
        task.id,
        {**sent, "rating_cost": 5, "answer_code": services.answer_code_for(world.engine, task.id)}
        | {f"rating_{c}": 7 for c in CRITERIA if c != "cost"},
        actor=services.get_actor(world.engine, "wang-fang"),
        classes=world.classes,
        notify_prefect=False,
    )
    assert not by_cli.recorded.created
    assert len(answers_of(world, task)) == 1


def test_each_request_opens_its_task_once_with_its_person_alone(
    world: World, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An answer opens the task once, and the page it redirects to opens nothing (it is
    made from what the answer's write read); an opening reads the person it is for, not
    every actor of the store."""
    import flows.web.pages as pages

    opened: list[Any] = []

    def counted(*args: Any) -> Any:
        opened.append(found := open_personal_task(*args))
        return found

    monkeypatch.setattr(pages, "open_personal_task", counted)
    task = world.task_of("wang-fang")
    response = client.post(world.link(task), data=opinion_form(6, "同意。"))
    assert "提交答复，谢谢！" in response.text and response.history[0].status_code == 303
    assert len(opened) == 1
    assert opened[0].actor.id == "wang-fang" and opened[0].view.actors == (opened[0].actor,)
    assert opened[0].task.status is TaskStatus.OPEN
    client.get(world.link(task))  # a reload reads the store
    assert len(opened) == 2 and opened[1].task.status is TaskStatus.ANSWERED


def _page_text(html: str) -> str:
    """A page's text without its markup and its moving parts (the time left)."""
    plain = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    return re.sub(r"\d+ ?(天|小时|分钟|days?|hours?|minutes?)", "…", plain)


@pytest.mark.parametrize("answering_last", [False, True])
def test_the_page_after_an_answer_is_the_page_the_store_shows(
    world: World, client: TestClient, answering_last: bool
) -> None:
    """The page an answer redirects to, made from what the answer's write read, says what
    the task's link shows when it is opened afresh from the store: the answer, and how many
    answers the step still waits for (none, after its last)."""
    people = ["wang-fang", "zhao-lei", "chen-jing"]
    if answering_last:
        for person in people[1:]:
            client.post(world.link(world.task_of(person)), data=opinion_form(6, "Agreed."))
    task = world.task_of(people[0])
    after = client.post(world.link(task), data=opinion_form(7, "同意，附条件。"))
    assert after.history[0].status_code == 303
    afresh = client.get(world.link(task))
    assert _page_text(after.text) == _page_text(afresh.text)
    waiting = "本环节的答复已全部收齐" if answering_last else "本环节还有 2 人尚未作答"
    assert waiting in _page_text(after.text)


def test_the_last_answer_says_every_answer_is_in(world: World, client: TestClient) -> None:
    """After the step's last answer the page says every answer is in and the decision
    continues by itself (here to the English reader, who answers last)."""
    for person in ("wang-fang", "zhao-lei"):
        client.post(world.link(world.task_of(person)), data=opinion_form(6, "同意。"))
    last = client.post(world.link(world.task_of("chen-jing")), data=opinion_form(6, "Agreed."))
    assert "You answered on" in last.text
    assert "Every answer of this step is in; the decision continues by itself." in last.text


def test_a_refused_answer_comes_back_with_the_reason_and_what_was_typed(
    world: World, client: TestClient
) -> None:
    """A form missing a rating, with an over-long condition list or a control character, is
    shown again with the reasons above it, in Chinese, and everything typed kept; nothing
    reaches the store."""
    task = world.task_of("wang-fang")
    before = services.event_count(world.engine, world.decision.id)
    sent = opinion_form(5, "理由<写在这里>\u0007")
    del sent["rating_social_impact"]
    response = client.post(world.link(task), data=sent)
    assert response.status_code == 422
    html = response.text
    problems = re.search(r'<div class="card problem".*?</div>', html, re.S)
    assert problems is not None
    assert "您的答复尚未提交" in problems.group(0)
    assert "请为“社会影响”评分（1–9 分）。" in problems.group(0)
    assert "“理由”中含有不可见的控制字符" in problems.group(0)
    form = form_html(html)
    assert html.index("您的答复尚未提交") < html.index("<form")
    assert 'name="rating_cost" value="5" checked' in form
    assert 'name="recommendation" value="approve_with_conditions" checked' in form
    assert "保留夜班保洁\n每周通报保洁质量</textarea>" in form
    assert "理由&lt;写在这里&gt;\u0007</textarea>" in form  # kept, and escaped
    assert services.event_count(world.engine, world.decision.id) == before
    assert services.get_task(world.engine, task.id).status is TaskStatus.OPEN


def test_a_refusal_by_the_store_is_shown_above_the_form(world: World, client: TestClient) -> None:
    """When the store refuses (here the separation of powers: the expert has since joined a
    bidder), the page says so above the form, keeps what was typed, and the refusal is
    audited; the task keeps waiting."""
    task = world.task_of("zhao-lei")
    with UnitOfWork(world.engine) as uow:
        uow.actors.set_affiliations("zhao-lei", ["cleanco"])
    response = client.post(world.link(task), data=opinion_form(6, "预算偏紧。"))
    assert response.status_code == 422
    assert "根据分权规则，您不能对此事项作答：" in response.text
    assert "cleanco" in response.text
    assert "预算偏紧。</textarea>" in response.text
    refused = [
        e.data
        for e in services.history(world.engine, world.decision.id)
        if e.action == "task.answer_refused"
    ]
    assert [r["rule"] for r in refused] == ["powers"]
    assert services.get_task(world.engine, task.id).status is TaskStatus.OPEN


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (TaskStatus.REASSIGNED, "超过截止时间，转由其他专家作答，您无需再提交"),
        (TaskStatus.CANCELLED, "取消，您无需再提交"),
    ],
)
def test_a_closed_task_shows_what_became_of_it_not_the_form(
    world: World, client: TestClient, status: TaskStatus, expected: str
) -> None:
    """A reassigned or cancelled task says so, with no form; posting to it records
    nothing."""
    task = world.task_of("wang-fang")
    services.set_task_status(world.engine, task.id, status, reason="deadline")
    html = client.get(world.link(task)).text
    assert expected in html and "<form" not in html
    before = services.event_count(world.engine, world.decision.id)
    response = client.post(world.link(task), data=opinion_form(5, "迟到的答复。"))
    assert response.status_code == 200 and expected in response.text
    assert services.event_count(world.engine, world.decision.id) == before


def test_round_two_shows_the_previous_round_beside_the_persons_own_answer(
    world: World, client: TestClient
) -> None:
    """In round 2 the page shows round 1's anonymous aggregate — medians, IQRs, where the
    panel diverged, a chart of each criterion's ratings, the sorted rationales — beside the
    person's own round-1 answer, and names no other expert."""
    start_round_two(world)
    html = client.get(world.link(world.task_of("wang-fang"))).text
    assert "第 1 轮汇总结果（匿名，共 3 份答复）" in html
    assert "中位数 6，四分位距 2（5–7）" in html and "意见分歧较大" in html
    assert "您上一轮：4 分" in html and "您上一轮的答复" in html
    assert html.count('<svg class="chart"') == len(CRITERIA)
    assert "“经济性”评分分布：4 分 1 人，6 分 1 人，8 分 1 人；其中您上一轮评 4 分" in html
    for rationale in RATIONALES.values():
        assert rationale in html
    for person, name in EXPERTS.items():
        assert name not in html and person not in html.replace("wang-fang", "")
    assert "第 2 轮专家咨询" in html


def member_world(world: World) -> Task:
    """The decision after its consultation (every expert approving with conditions) and
    discussion, with lin-tao's vote open."""
    answer_round_one(world)
    for action in ("open_discussion", "open_vote"):
        services.apply_transition(world.engine, world.decision.id, action)
    return world.assign(TaskKind.VOTE, "lin-tao")


def test_a_member_sees_the_experts_advice_and_must_justify_a_vote_against_it(
    world: World, client: TestClient
) -> None:
    """A member's page shows what the experts recommended; a vote against it without a
    justification is refused on the page, with one it is recorded."""
    task = member_world(world)
    html = client.get(world.link(task)).text
    assert "专家咨询意见" in html and "有条件同意：3 人" in html
    assert "如与本事项存在利益冲突，请选择“回避”" in html
    for label in ("赞成", "修改后通过", "反对", "退回专家重新论证", "回避"):
        assert label in form_html(html)
    against = {"choice": "reject", "rationale": "预算不足。", "justification": ""}
    response = client.post(world.link(task), data=against)
    assert response.status_code == 422
    assert "您的表决意见与专家共识相左，请填写“与专家共识相左的说明”后再提交。" in response.text
    assert 'value="reject" checked' in response.text
    response = client.post(
        world.link(task), data={**against, "justification": "区财政预算压减三成。"}
    )
    assert "提交答复，谢谢！" in response.text and "表决：反对" in response.text
    assert answers_of(world, task)[0]["answer"]["justification"] == "区财政预算压减三成。"


@pytest.mark.parametrize(
    ("kind", "person", "sent", "shown", "stored"),
    [
        (
            TaskKind.DISCUSS,
            "wang-fang",
            {"stance": "support_with_changes", "text": "建议增加夜班频次。"},
            "立场：修改后支持",
            {"stance": "support_with_changes", "text": "建议增加夜班频次。"},
        ),
        (
            TaskKind.EXECUTE,
            "jianshe-office",
            {"percent_complete": "60", "text": "建设路已完成。", "measures_done": ["1"]},
            "完成比例：60%",
            {"percent_complete": 60, "measures_done": ["每周通报保洁质量"]},
        ),
        (
            TaskKind.INSPECT,
            "zhou-min",
            {"verdict": "accept", "findings": "抽查四次，路面洁净。"},
            "验收结论：验收合格",
            {"verdict": "accept"},
        ),
    ],
)
def test_every_kind_of_task_is_answered_on_its_own_form(
    world: World,
    client: TestClient,
    kind: TaskKind,
    person: str,
    sent: dict[str, Any],
    shown: str,
    stored: dict[str, Any],
) -> None:
    """A discussion, a progress report (its measures ticked from the task's list) and an
    inspection each have their form with the class's labels, and are recorded as sent."""
    task = world.assign(kind, person, zone="建设路", measures=("保留夜班保洁", "每周通报保洁质量"))
    html = client.get(world.link(task)).text
    if kind is TaskKind.EXECUTE:
        assert "责任区域：建设路" in html
        assert 'type="checkbox" name="measures_done" value="1"' in form_html(html)
    if kind is TaskKind.INSPECT:
        assert "执行情况报告" not in html  # nothing reported yet in this cycle
        report = world.assign(TaskKind.EXECUTE, "jianshe-office", zone="建设路")
        client.post(world.link(report), data={"percent_complete": "80", "text": "夜班已落实。"})
        html = client.get(world.link(task)).text
        assert "执行情况报告" in html and "建设路：完成 80%" in html and "夜班已落实。" in html
    response = client.post(world.link(task), data=sent)
    assert response.status_code == 200, response.text
    assert shown in response.text
    answer = answers_of(world, task)[0]["answer"]
    assert {k: answer[k] for k in stored} == stored


def test_links_that_do_not_open_are_refused_with_one_sentence(
    world: World, client: TestClient
) -> None:
    """A tampered, cut, expired or foreign token, an inbox token used for a task, a task
    token for a task of another person, and a task token used as an inbox link all get the
    same 404 page with the one sentence, naming no task."""
    task = world.task_of("wang-fang")
    assert task.deadline is not None
    good = world.link(task)
    token = good.removeprefix("/t/")
    other = world.task_of("zhao-lei")
    links = [
        good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB"),
        good[:40],
        "/t/" + task_token("another store", task.id, "wang-fang", task.deadline),
        "/t/" + task_token(world.secret, task.id, "wang-fang", utcnow() - timedelta(seconds=1)),
        "/t/" + inbox_token(world.secret, "wang-fang", now=utcnow()),
        "/t/" + task_token(world.secret, other.id, "wang-fang", task.deadline),
        "/t/" + task_token(world.secret, "D-2099-0001-C001", "wang-fang", task.deadline),
        "/me/" + token,
        "/me/" + inbox_token(world.secret, "nobody-here", now=utcnow()),
        "/t/%E4%BD%A0%00",
    ]
    bodies = set()
    for link in links:
        response = client.get(link)
        assert response.status_code == 404, link
        assert REFUSAL in response.text and REFUSAL_ZH in response.text
        assert world.decision.id not in response.text and TITLE not in response.text
        bodies.add(response.text)
    assert len(bodies) == 1
    expired = create_app(
        world.engine,
        classes=world.classes,
        notify_prefect=False,
        clock=lambda: task.deadline + timedelta(seconds=1),  # type: ignore[operator]
    )
    with TestClient(expired) as late:
        assert late.get(good).status_code == 404
        assert late.post(good, data=opinion_form(5, "迟了。")).status_code == 404
    assert services.get_task(world.engine, task.id).status is TaskStatus.OPEN


def test_too_many_refusals_from_one_client_are_answered_429(world: World) -> None:
    """More than N refused links a minute from one client are answered 429 on every link,
    good ones too, so trying teaches nothing; other clients are not affected."""
    app = create_app(
        world.engine, classes=world.classes, notify_prefect=False, refusals_per_minute=3
    )
    good = world.link(world.task_of("wang-fang"))
    with TestClient(app) as http:
        for _ in range(4):
            assert http.get("/t/not-a-token").status_code == 404
        assert http.get("/t/not-a-token").status_code == 429
        blocked = http.get(good)
        assert blocked.status_code == 429 and blocked.headers["retry-after"] == "60"
        assert "请一分钟后再试" in blocked.text
    with TestClient(app, client=("10.0.0.9", 50000)) as another:
        assert another.get(good).status_code == 200


def test_the_inbox_lists_open_and_recent_tasks_across_decisions(
    world: World, client: TestClient
) -> None:
    """The inbox link lists the person's open tasks across decisions, each with a link that
    opens it, and the tasks they answered, in their language; no one else's."""
    second = services.submit_proposal(
        world.engine,
        services.Proposal.model_validate({**PROPOSAL, "title": "划分保洁责任区"}),
        planner=services.get_actor(world.engine, "li-wei"),
        classes=world.classes,
    )
    services.apply_transition(world.engine, second.id, "start_consultation")
    other = services.assign_task(
        world.engine,
        second.id,
        TaskKind.CONSULT,
        "wang-fang",
        deadline=utcnow() + timedelta(days=5),
    ).task
    client.post(world.link(world.task_of("wang-fang")), data=opinion_form(6, "同意。"))
    html = client.get(world.inbox("wang-fang")).text
    assert "王芳的任务" in html and '<html lang="zh-CN">' in html
    open_part = html[html.index("待办任务") : html.index("近 30 天已结束的任务")]
    assert "划分保洁责任区" in open_part and second.id in open_part
    recent = html[html.index("近 30 天已结束的任务") :]
    assert TITLE in recent and "已作答" in recent
    assert "赵磊" not in html and "zhao-lei" not in html
    links = re.findall(r'href="\.\./t/([^"]+)"', open_part)
    assert len(links) == 1
    opened = client.get(f"/t/{links[0]}")
    assert opened.status_code == 200 and "划分保洁责任区" in opened.text
    assert other.id not in html  # task ids are not shown; the link opens the task


def test_everything_people_wrote_is_escaped(world: World, client: TestClient) -> None:
    """Titles, proposal texts and rationales are shown as text: markup in them never becomes
    markup on the page, and the page shows the proposal's current version."""
    hostile = "<script>alert('x')</script><img src=x onerror=alert(1)>"
    start_round_two(world, rationales={**RATIONALES, "zhao-lei": f"预算偏紧{hostile}"})
    html = client.get(world.link(world.task_of("wang-fang"))).text
    assert "<script" not in html and "<img" not in html
    assert "预算偏紧&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&lt;img" in html
    services.apply_transition(world.engine, world.decision.id, "open_discussion")
    services.amend_proposal(
        world.engine,
        world.decision.id,
        actor=services.get_actor(world.engine, "li-wei"),
        title=f"第二稿{hostile}",
        text=f"正文 & {hostile}",
    )
    task = world.assign(TaskKind.DISCUSS, "wang-fang")
    html = client.get(world.link(task)).text
    assert f"{world.decision.id} · 方案第 2 版" in html
    assert "<script" not in html and "<img" not in html
    assert "第二稿&lt;script&gt;" in html and "正文 &amp; &lt;script&gt;" in html


def test_pages_are_plain_private_and_the_log_never_holds_a_token(
    world: World, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Every page is plain HTML without script, never cached, sends no referrer and allows
    no outside resource; the request log names a link as /t/… and never its token."""
    link = world.link(world.task_of("wang-fang"))
    with caplog.at_level(logging.INFO, logger="counsel.web"):
        page = client.get(link)
        client.post(link, data=opinion_form(6, "同意。"))
        client.get("/t/forged.token")
        client.get(world.inbox("wang-fang"))
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "<script" not in page.text and 'name="referrer" content="no-referrer"' in page.text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for line in ('"GET /t/…" 200', '"POST /t/…" 303', '"GET /t/…" 404', '"GET /me/…" 200'):
        assert line in logged, logged
    token = link.removeprefix("/t/")
    assert token not in logged and token[:20] not in logged and "forged" not in logged


# -- with Prefect: the page is one channel of the answer path -----------------------------


def page_answer(task: Task, html: str) -> dict[str, Any]:
    """What a person fills in on their task's page in the whole-decision test."""
    number = int(task.id.rsplit("-", 1)[1][1:])
    if task.kind is TaskKind.CONSULT:
        ratings = re.findall(r'name="(rating_[a-z_]+)" value="1"', html)
        cost = {1: 4, 2: 6, 3: 7, 4: 5, 5: 8}.get(number, 6) if task.round == 1 else 6
        form: dict[str, Any] = {name: "7" for name in ratings} | {"rating_cost": str(cost)}
        return form | {
            "recommendation": "approve_with_conditions",
            "conditions": "保留人民菜场周边夜班保洁",
            "rationale": f"第 {task.round} 轮意见：总体可行。",
        }
    if task.kind is TaskKind.DISCUSS:
        return {"stance": "support", "text": "支持，按专家条件实施。"}
    if task.kind is TaskKind.VOTE:
        if "回避" in html and task.assignee_id == "feng-yan":
            return {"choice": "recuse", "rationale": "本人亲属在投标单位任职。"}
        return {"choice": "approve", "rationale": "与专家意见一致。"}
    if task.kind is TaskKind.EXECUTE:
        ticks = re.findall(r'name="measures_done" value="(\d+)"', html)
        return {"percent_complete": "100", "text": "已全部完成。", "measures_done": ticks}
    return {"verdict": "accept", "findings": "抽查四次，符合标准。"}


@pytest.mark.slow
def test_a_whole_decision_is_answered_through_the_page(stage: Any) -> None:
    """Every person of a decision answers only through their link on the page — experts in
    two Delphi rounds (round 2 shows round 1 beside their own answer), the discussion, the
    members' votes, the executor's report, the inspector's acceptance: each answer is
    recorded once, closes the person's Prefect run, and the last of each step continues the
    decision, which closes."""
    import gc
    import threading
    import uuid

    from prefect import get_client

    from tests.flows.conftest import proposal, run_to_the_end

    engine, classes = stage.engine, stage.classes
    planner = services.get_actor(engine, "li-wei")
    decision = services.submit_proposal(engine, proposal(), planner=planner, classes=classes)
    secret = store_secret(engine)
    seen: dict[str, str] = {}
    errors: list[str] = []
    stop = threading.Event()

    def people() -> None:
        app = create_app(engine, classes=classes)  # Prefect is named: answers continue it
        with TestClient(app) as http:
            while not stop.wait(0.5):
                for task in services.open_tasks(engine):
                    if task.flow_run_id is None or task.id in seen or task.deadline is None:
                        continue
                    link = f"/t/{task_token(secret, task.id, task.assignee_id, task.deadline)}"
                    html = http.get(link).text
                    response = http.post(link, data=page_answer(task, html))
                    seen[task.id] = html
                    if response.status_code != 200 or "<form" in response.text:
                        errors.append(f"{task.id}: {response.status_code} {response.text[-600:]}")

    thread = threading.Thread(target=people, daemon=True)
    thread.start()
    try:
        final = run_to_the_end(engine, decision.id)
    finally:
        stop.set()
        thread.join(timeout=30)
        # the page's Prefect clients leave keep-alive sockets to the garbage collector: let
        # it take them now, while this test ignores their ResourceWarnings
        gc.collect()
    assert not errors, errors
    assert final == "closed"
    tasks = services.tasks_of(engine, decision.id)
    events = services.history(engine, decision.id)
    answered = [e.data["task_id"] for e in events if e.action.startswith("task.answered")]
    assert (
        len(answered)
        == len(set(answered))
        == sum(1 for t in tasks if t.status is TaskStatus.ANSWERED)
    )
    # every kind of task this class gives (a tender's: tests/flows/test_tender.py)
    assert {t.kind for t in tasks if t.status is TaskStatus.ANSWERED} == set(TaskKind) - {
        TaskKind.SCORE,
        TaskKind.WITNESS,
    }
    rounds = [e.data for e in events if e.action == "consultation.round_aggregated"]
    assert [(r["round"], r["consensus"]) for r in rounds] == [(1, False), (2, True)]
    second = [t for t in tasks if t.kind is TaskKind.CONSULT and t.round == 2]
    assert second and all("第 1 轮汇总结果" in seen[t.id] for t in second)
    assert all(
        "您上一轮" in seen[t.id]
        for t in second
        if t.assignee_id
        in {u.assignee_id for u in tasks if u.kind is TaskKind.CONSULT and u.round == 1}
    )
    with get_client(sync_client=True) as client:
        for task in tasks:
            if task.status is TaskStatus.ANSWERED and task.flow_run_id:
                state = client.read_flow_run(uuid.UUID(task.flow_run_id)).state
                assert state is not None and state.is_completed(), task.id
                assert state.message and "through the answer page" in state.message, task.id
    assert services.verify(engine).ok


@pytest.mark.parametrize("workers", [1, 2])
def test_counsel_serve_serves_links_and_logs_no_token(
    world: World, db_url: str, workers: int
) -> None:
    """`counsel serve` answers a person's link over HTTP, from one process or from
    ``--workers`` processes on one port, and what it writes (uvicorn's lines and the
    page's own request log) never holds the link's token."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["COUNSEL_DATABASE_URL"] = db_url
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    link = world.link(world.task_of("wang-fang"))
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                    assert response.read() == b"ok"
                    break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        with urllib.request.urlopen(base + link, timeout=10) as response:
            assert response.status == 200 and TITLE in response.read().decode()
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(base + link[:-2] + "xx", timeout=10)
        refused.value.close()
        assert refused.value.code == 404
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output = process.communicate(timeout=30)[0].decode()
    assert "Answer page on http://127.0.0.1:" in output
    assert '"GET /t/…" 200' in output and '"GET /t/…" 404' in output
    assert link.removeprefix("/t/")[:12] not in output
    assert len(set(re.findall(r"Started server process \[(\d+)\]", output))) == workers
