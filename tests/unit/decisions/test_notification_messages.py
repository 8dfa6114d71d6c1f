"""What people are told: which events tell whom, the words in zh and en, and the back-off."""

from __future__ import annotations

import doctest
import re
from datetime import UTC, datetime, timedelta
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from decisions.audit import AuditEvent
from decisions.model import Decision, State, Task, TaskKind
from decisions.notifications import CAUSES, delivery, messages, outbox, rules
from decisions.notifications.delivery import (
    FIRST_RETRY,
    GIVE_UP_AFTER,
    MAX_ATTEMPTS,
    MAX_RETRY,
    gives_up,
    retry_delay,
    scrub,
)
from decisions.notifications.messages import KINDS, local_time, render
from decisions.notifications.rules import ENDINGS, STAGE_CHANGES, STALLS, TASK_CAUSES, notices_for

ZONE = "Asia/Shanghai"
LINK = "https://counsel.example.cn/t/abc.def"
HAN = re.compile("[\u4e00-\u9fff]")
DEADLINE = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def params(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "decision_id": "D-2026-0001",
        "title": "道路保洁市场化：建设路与人民街",
        "task": "consult",
        "round": 2,
        "deadline": DEADLINE.isoformat(),
        "name": "王芳",
        "from": "consulting",
        "to": "discussing",
        "reason": None,
    }
    return {**base, **changes}


@pytest.mark.parametrize("module", [messages, delivery, outbox, rules], ids=lambda m: m.__name__)
def test_the_modules_examples_hold(module: ModuleType) -> None:
    """The examples in the notification modules' docstrings run as written."""
    failed, _ = doctest.testmod(module)
    assert failed == 0


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_message_names_the_decision_and_ends_with_the_link(kind: str, lang: str) -> None:
    """Every kind of message, in both languages, names the decision's id and title in its
    subject and body and carries the person's link once."""
    message = render(kind, lang, params(), link=LINK, zone=ZONE)
    for text in (message.subject, message.body):
        assert "D-2026-0001" in text and "道路保洁市场化：建设路与人民街" in text
    assert message.body.count(LINK) == 1
    assert message.body.startswith("王芳，您好：" if lang == "zh" else "Dear 王芳,")


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_chinese_messages_are_written_in_chinese(kind: str) -> None:
    """A Chinese reader gets no English sentence: once the decision's own words and the link
    are taken out, what is left has no Latin words beyond the time zone's name."""
    message = render(kind, "zh", params(title="标题"), link=LINK, zone=ZONE)
    rest = message.subject + message.body
    for own in (LINK, "D-2026-0001", "Asia/Shanghai", "Counsel"):
        rest = rest.replace(own, "")
    assert not re.search("[A-Za-z]{2,}", rest), rest
    assert HAN.search(message.subject)


@pytest.mark.parametrize(
    ("task", "zh", "en"),
    [
        ("consult", "第 2 轮专家咨询", "consultation round 2"),
        ("discuss", "讨论发言", "discussion position"),
        ("vote", "表决", "vote"),
        ("execute", "执行情况报告", "execution report"),
        ("inspect", "验收检查", "inspection"),
        ("score", "投标评分", "scoring the bids"),
        ("witness", "评审专家抽取见证", "witnessing the draw"),
    ],
)
def test_a_task_message_says_what_is_asked_and_by_when_in_local_time(
    task: str, zh: str, en: str
) -> None:
    """A task's message names the kind of task (and the round of a consultation) and the
    deadline in the configured zone, e.g. 2026-12-03 17:00 (Asia/Shanghai)."""
    chinese = render("task.assigned", "zh", params(task=task), link=LINK, zone=ZONE)
    english = render("task.assigned", "en", params(task=task), link=LINK, zone=ZONE)
    assert zh in chinese.subject and "截止时间：2026-12-03 17:00 (Asia/Shanghai)" in chinese.body
    assert en in english.subject.lower() and "Deadline: 2026-12-03 17:00 (Asia/Shanghai)" in (
        english.body
    )
    tokyo = render("task.assigned", "en", params(task=task), link=LINK, zone="Asia/Tokyo")
    assert "2026-12-03 18:00 (Asia/Tokyo)" in tokyo.body


@pytest.mark.parametrize("kind", list(TaskKind))
def test_every_kind_of_task_has_words_in_both_languages(kind: TaskKind) -> None:
    """A kind of task added without its message would fail every delivery of it."""
    for lang in ("zh", "en"):
        render("task.assigned", lang, params(task=kind.value), link=LINK, zone=ZONE)


def test_a_stalled_decision_tells_its_planner_where_and_why() -> None:
    """The planner reads the stage it stalled in and the recorded reason."""
    message = render(
        "decision.stalled",
        "zh",
        params(**{"from": "deciding", "to": "stalled", "reason": "未达到法定人数。"}),
        link=LINK,
        zone=ZONE,
    )
    assert message.subject.startswith("【需处理】")
    assert "在表决阶段停滞" in message.body and "原因：未达到法定人数。" in message.body


@given(st.text(min_size=1, max_size=60))
def test_what_people_typed_is_never_a_template(title: str) -> None:
    """A title with braces, markup or anything else is shown as typed, never read as a
    template or markup: rendering never fails on it."""
    for kind in ("task.reminded", "decision.returned"):
        message = render(kind, "en", params(title=title, reason=title), link=LINK, zone=ZONE)
        assert title in message.body


def test_a_kind_without_words_is_refused() -> None:
    """A kind of message, or of task, with no words is a bug, said as such."""
    with pytest.raises(ValueError, match="no words"):
        render("vote.tallied", "zh", params(), link=LINK, zone=ZONE)
    with pytest.raises(ValueError, match="no words"):
        render("task.assigned", "zh", params(task="dance"), link=LINK, zone=ZONE)


def test_local_time_reads_naive_or_aware_moments_and_none() -> None:
    """Deadlines are written in the configured zone; a naive moment is UTC; none is none."""
    assert local_time(DEADLINE, "UTC") == "2026-12-03 09:00 (UTC)"
    assert local_time("2026-12-03T09:00:00", ZONE) == "2026-12-03 17:00 (Asia/Shanghai)"
    assert local_time(None, ZONE) == "none"


def test_the_rules_have_words_for_every_cause() -> None:
    """Every event the rules act on has a message in both languages."""
    assert CAUSES == KINDS
    assert not (TASK_CAUSES & STAGE_CHANGES) and STALLS | ENDINGS <= CAUSES


class Facts:
    """An in-memory store for the rules."""

    def __init__(self) -> None:
        self.decision_ = Decision.file(
            id="D-2026-0001",
            title="建设路保洁",
            description="d",
            class_name="major",
            district="east",
            planner_id="li-wei",
        )
        self.task_ = Task(
            id="D-2026-0001-C001",
            decision_id="D-2026-0001",
            kind=TaskKind.CONSULT,
            assignee_id="wang-fang",
            round=1,
            deadline=DEADLINE,
            answer_code_hash="x",
        )

    def task(self, task_id: str) -> Task | None:
        return self.task_ if task_id == self.task_.id else None

    def decision(self, decision_id: str) -> Decision | None:
        return self.decision_ if decision_id == self.decision_.id else None


def event(action: str, payload: str, decision_id: str | None = "D-2026-0001") -> AuditEvent:
    return AuditEvent(
        41, "2026-11-30T08:00:00.000000Z", "system", action, decision_id, None, payload, "", ""
    )


@pytest.mark.parametrize("action", sorted(TASK_CAUSES))
def test_task_events_tell_the_tasks_person(action: str) -> None:
    """Assigned, reminded, reassigned and cancelled tell the task's assignee, with the facts
    the message states (and never a link)."""
    [notice] = notices_for(event(action, '{"task_id": "D-2026-0001-C001"}'), Facts())
    assert (notice.recipient, notice.kind, notice.task_id) == (
        "wang-fang",
        action,
        "D-2026-0001-C001",
    )
    assert notice.params == {
        "decision_id": "D-2026-0001",
        "title": "建设路保洁",
        "task": "consult",
        "round": 1,
        "deadline": DEADLINE.isoformat(),
    }


@pytest.mark.parametrize("action", sorted(STAGE_CHANGES | STALLS | ENDINGS))
def test_decision_events_tell_the_planner_who_filed_it(action: str) -> None:
    """Stage changes, a stall and the endings tell the planner, with the stages and reason."""
    payload = '{"from": "consulting", "to": "stalled", "reason": "r"}'
    [notice] = notices_for(event(action, payload), Facts())
    assert (notice.recipient, notice.kind, notice.task_id) == ("li-wei", action, None)
    assert notice.params["from"] == "consulting" and notice.params["reason"] == "r"


@pytest.mark.parametrize(
    ("action", "payload", "decision_id"),
    [
        ("decision.submitted", "{}", "D-2026-0001"),  # the planner's own filing
        ("decision.amended", "{}", "D-2026-0001"),
        ("task.answered.opinion", '{"task_id": "D-2026-0001-C001"}', "D-2026-0001"),
        ("task.assigned", '{"task_id": "D-2026-0001-C999"}', "D-2026-0001"),  # no such task
        ("decision.closed", "{}", "D-2026-0002"),  # no such decision
        ("decision.closed", "[1, 2]", "D-2026-0001"),  # not an object
    ],
)
def test_other_events_tell_nobody(action: str, payload: str, decision_id: str) -> None:
    """Other events, and events whose task or decision cannot be read, tell nobody."""
    assert notices_for(event(action, payload, decision_id), Facts()) == []


def test_a_planners_notice_reads_the_state_it_reached() -> None:
    """An event without a ``to`` (a resumption) names the state the decision reached."""
    facts = Facts()
    facts.decision_.state = State.CONSULTING
    [notice] = notices_for(event("decision.resumed", '{"from": "stalled"}'), facts)
    assert notice.params["to"] == "consulting"


def test_retries_back_off_from_thirty_seconds_to_an_hour() -> None:
    """Retries wait 30 s, 1 min, 2 min … doubling, never more than an hour apart."""
    delays = [retry_delay(n) for n in range(1, 10)]
    assert delays[:4] == [FIRST_RETRY, 2 * FIRST_RETRY, 4 * FIRST_RETRY, 8 * FIRST_RETRY]
    assert delays == sorted(delays) and delays[-1] == MAX_RETRY


def test_a_message_is_given_up_after_its_attempts_or_two_days() -> None:
    """A message fails for good after MAX_ATTEMPTS attempts or GIVE_UP_AFTER, not before."""
    queued = datetime(2026, 11, 30, tzinfo=UTC)
    assert not gives_up(MAX_ATTEMPTS - 1, queued, queued + timedelta(hours=1))
    assert gives_up(MAX_ATTEMPTS, queued, queued + timedelta(hours=1))
    assert gives_up(2, queued, queued + GIVE_UP_AFTER)


@pytest.mark.parametrize(
    ("address", "secret"),
    [
        ("mailto://wang:pa55word@smtp.example.cn?to=wang@example.cn", "pa55word"),
        ("wecombot://0123456789abcdefkey", "0123456789abcdefkey"),
        ("dingtalk://token123456/secret99", "token123456"),
        ("json://hooks.example.cn/in/abcdef123456?token=xyzzy12345", "xyzzy12345"),
    ],
)
def test_an_error_never_repeats_an_addresss_secret_parts(address: str, secret: str) -> None:
    """A last error keeps the channel's kind but drops passwords, keys and tokens."""
    said = scrub(f"Failed to reach {address} ({secret}) for {secret}", address)
    assert secret not in said and "Failed to reach" in said
    assert outbox.channel_of(address) in said
