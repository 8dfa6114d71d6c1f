"""The answer page's parts without a store: the zh/en catalogue and local times, reading
and checking a posted form, the refusal limiter, and what the log may show of a path."""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime, timedelta

import pytest

from decisions.classes import load_classes
from decisions.model import TaskKind
from decisions.text import LONG_TEXT_MAX
from flows.forms import FIELD_TEXTS
from flows.web.app import redact
from flows.web.catalogue import TEXTS, local_time, text, time_left
from flows.web.fields import form_fields, problems, read_answer
from flows.web.limiter import RefusalLimiter

CRITERIA = ("feasibility", "cost")
LABELS = load_classes().labels
HAN = re.compile(r"[\u4e00-\u9fff]")


def places(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("key", sorted(TEXTS))
def test_every_sentence_is_in_both_languages_with_the_same_places(key: str) -> None:
    """Each catalogue entry has a Chinese and an English text with the same {places}, the
    Chinese one in Chinese, and neither holds markup (the templates escape them)."""
    zh, en = TEXTS[key]
    assert zh.strip() and en.strip()
    assert places(zh) == places(en), key
    if re.search(r"[A-Za-z]{3}", re.sub(r"\{\w+\}", "", en)) and key != "brand":
        assert HAN.search(zh), key
    assert not HAN.search(en), key
    assert "<" not in zh + en and ">" not in zh + en


def test_every_fields_title_and_hint_is_in_the_catalogue() -> None:
    """The field catalogue of the forms names only sentences the catalogue has."""
    for fields in FIELD_TEXTS.values():
        for spec in fields.values():
            assert spec.title in TEXTS and (spec.hint is None or spec.hint in TEXTS)


@pytest.mark.parametrize(
    ("zone", "lang", "expected"),
    [
        ("Asia/Shanghai", "zh", "2026年12月1日（周二）08:00（北京时间）"),
        ("Asia/Shanghai", "en", "Tue 1 Dec 2026, 08:00 (Asia/Shanghai)"),
        ("Asia/Urumqi", "zh", "2026年12月1日（周二）06:00（Asia/Urumqi）"),
        ("Europe/Berlin", "en", "Tue 1 Dec 2026, 01:00 (Europe/Berlin)"),
    ],
)
def test_deadlines_are_written_in_local_time(zone: str, lang: str, expected: str) -> None:
    """A UTC moment is written in the configured zone, named in the person's language."""
    assert local_time(datetime(2026, 12, 1, 0, 0, tzinfo=UTC), lang, zone) == expected


@pytest.mark.parametrize(
    ("left", "lang", "expected"),
    [
        (timedelta(days=3, hours=2), "zh", "还剩 3 天 2 小时"),
        (timedelta(hours=5, minutes=7), "en", "5 h 7 min left"),
        (timedelta(seconds=20), "zh", "还剩 1 分钟"),
        (timedelta(seconds=-1), "zh", "已过截止时间"),
    ],
)
def test_time_left(left: timedelta, lang: str, expected: str) -> None:
    """What is left until a deadline, or that it has passed."""
    now = datetime(2026, 12, 1, tzinfo=UTC)
    assert time_left(now + left, now, lang) == expected


def test_the_form_takes_what_the_page_sent_and_nothing_else() -> None:
    """Ratings become numbers, ticked measures their text in the task's order, and fields
    the form does not have (an id, an answer code, a stranger's field) are left out."""
    sent = {
        "rating_feasibility": ["7"],
        "rating_cost": ["x"],
        "recommendation": ["approve"],
        "rationale": ["ok"],
        "your_id": ["li-wei"],
        "answer_code": ["ABCDE-23456"],
        "ratings": ["9"],
    }
    data, typed = read_answer(TaskKind.CONSULT, CRITERIA, sent)
    assert data == {
        "rating_feasibility": 7,
        "rating_cost": "x",
        "recommendation": "approve",
        "rationale": "ok",
    }
    assert typed["rating_cost"] == ["x"] and "your_id" not in typed
    measures = ("保留夜班保洁", "每周通报", "设置投诉电话")
    data, _ = read_answer(
        TaskKind.EXECUTE,
        (),
        {"measures_done": ["2", "0", "7", "x"], "percent_complete": ["40"], "text": ["t"]},
        measures=measures,
    )
    assert data == {
        "measures_done": "保留夜班保洁\n设置投诉电话",
        "percent_complete": 40,
        "text": "t",
    }


@pytest.mark.parametrize(
    ("kind", "data", "expected"),
    [
        (
            TaskKind.CONSULT,
            {"rating_feasibility": 7, "recommendation": "approve", "rationale": "ok"},
            {"rating_cost": "请为“经济性”评分（1–9 分）。"},
        ),
        (
            TaskKind.CONSULT,
            {
                "rating_feasibility": 12,
                "rating_cost": 3,
                "recommendation": "maybe",
                "rationale": " ",
            },
            {
                "rating_feasibility": "“可行性”的评分应为 1 到 9 之间的整数。",
                "recommendation": "请选择“您的建议”。",
                "rationale": "请填写“理由”。",
            },
        ),
        (
            TaskKind.CONSULT,
            {
                "rating_feasibility": 7,
                "rating_cost": 7,
                "recommendation": "approve",
                "rationale": "x" * (LONG_TEXT_MAX + 1),
                "conditions": "y" * 1001,
            },
            {
                "rationale": "“理由”有 20,001 个字符，最多 20,000 个。",
                "conditions": "“附加条件”每条最多 1,000 个字符。",
            },
        ),
        (
            TaskKind.CONSULT,
            {
                "rating_feasibility": 7,
                "rating_cost": 7,
                "recommendation": "approve",
                "rationale": "ok",
                "conditions": "y" * 1001,
            },
            {"conditions": "“附加条件”每条最多 1,000 个字符。"},
        ),
        (
            TaskKind.CONSULT,
            {
                "rating_feasibility": 7,
                "recommendation": "approve",
                "rationale": "ok",
                "conditions": "\n".join(["c"] * 101),
            },
            {
                "rating_cost": "请为“经济性”评分（1–9 分）。",
                "conditions": "“附加条件”最多 100 条。",
            },
        ),
        (
            TaskKind.DISCUSS,
            {"stance": "support", "text": "evil\u202eexe"},
            {
                "text": "“意见”中含有不可见的控制字符（可能是从其他文档粘贴带入的），"
                "请删除后再提交。"
            },
        ),
        (
            TaskKind.EXECUTE,
            {"percent_complete": 140, "text": "t"},
            {"percent_complete": "“完成比例（%）”应为 0 到 100 之间的整数。"},
        ),
        (TaskKind.INSPECT, {"verdict": "accept", "findings": "checked"}, {}),
    ],
)
def test_what_is_wrong_is_said_in_the_persons_language(
    kind: TaskKind, data: dict[str, object], expected: dict[str, str]
) -> None:
    """A missing or out-of-range rating, a choice the form does not offer, blank or
    over-long text, too long a line of a list, a control character, a percentage over 100:
    each is said per field in Chinese; a good answer has nothing said."""
    assert dict(problems(kind, CRITERIA, data, LABELS, "zh")) == expected


def test_a_vote_against_the_experts_needs_its_justification_on_the_page() -> None:
    """The page applies the answer path's rule on votes against the experts' consensus."""
    vote = {"choice": "reject", "rationale": "too costly"}
    advice = {"approve_with_conditions": 4, "reject": 1}
    said = dict(problems(TaskKind.VOTE, (), vote, LABELS, "en", recommendations=advice))
    assert said == {
        "justification": "Your vote goes against the experts' consensus: write a "
        "justification before it can be recorded."
    }
    justified = {**vote, "justification": "The budget was cut."}
    assert problems(TaskKind.VOTE, (), justified, LABELS, "en", recommendations=advice) == []
    assert problems(TaskKind.VOTE, (), {"choice": "approve", "rationale": "ok"}, LABELS, "en") == []


def test_the_page_form_has_every_field_of_the_answer_form_labelled() -> None:
    """The HTML form asks for every field of the task's form (and nothing else), by label,
    each choice once with its label, ratings 1 to 9, what was typed filled in."""
    fields = form_fields(
        TaskKind.CONSULT,
        CRITERIA,
        LABELS,
        "zh",
        typed={"rating_cost": ["3"], "rationale": ["<b>原文</b>"]},
        wrong=("rating_cost",),
    )
    assert [f.name for f in fields] == [
        "rating_feasibility",
        "rating_cost",
        "recommendation",
        "conditions",
        "rationale",
    ]
    cost = fields[1]
    assert (cost.label, cost.widget, cost.wrong) == ("经济性", "rating", True)
    assert [o.value for o in cost.options] == [str(n) for n in range(1, 10)]
    assert [o.value for o in cost.options if o.checked] == ["3"]
    assert [o.label for o in fields[2].options] == ["同意", "有条件同意", "不同意"]
    assert fields[4].value == "<b>原文</b>" and fields[4].required and fields[4].limit == 20_000
    assert not fields[3].required
    vote = form_fields(TaskKind.VOTE, (), LABELS, "en")
    assert [o.value for o in vote[0].options] == [
        "approve",
        "approve_with_amendments",
        "reject",
        "return",
        "recuse",
    ]
    progress = form_fields(TaskKind.EXECUTE, (), LABELS, "zh", measures=("a", "b"))
    assert [(f.name, f.widget) for f in progress] == [
        ("percent_complete", "number"),
        ("text", "text"),
        ("measures_done", "ticks"),
    ]


def test_the_limiter_counts_each_client_over_a_sliding_minute() -> None:
    """A client is blocked after more than N refusals within a minute, for the rest of that
    minute only, and others are not; the clients it remembers are bounded."""
    now = [0.0]
    limiter = RefusalLimiter(per_minute=2, max_clients=3, clock=lambda: now[0])
    for _ in range(3):
        limiter.refused("a")
    assert limiter.blocked("a") and not limiter.blocked("b")
    now[0] = 30.0
    assert limiter.blocked("a")
    now[0] = 60.5
    assert not limiter.blocked("a")
    for client in ("b", "c", "d", "e"):
        limiter.refused(client)
    assert len(limiter._seen) == 3 and "b" not in limiter._seen


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/t/eyJhIjoid2FuZyJ9.c2lnbmF0dXJl", "/t/…"),
        ("/me/eyJhIjoid2FuZyJ9.c2ln", "/me/…"),
        ("/t/", "/t/…"),
        ("/healthz", "/healthz"),
        ("/tasks/x", "/tasks/x"),
    ],
)
def test_the_log_never_shows_a_token(path: str, shown: str) -> None:
    """A link's token is left out of the path the log shows."""
    assert redact(path) == shown


def test_text_fills_in_its_places() -> None:
    """A sentence comes back in the asked language, Chinese by default."""
    assert text("round", "zh", round=2) == "第 2 轮"
    assert text("round", "en", round=2) == "round 2"
    assert text("round", "fr", round=2) == "第 2 轮"


def test_the_page_keeps_one_prefect_client_for_all_its_threads() -> None:
    """Every thread of the page gets the same open Prefect client (no connection, TLS set-up
    or CSRF token per answer); closing it closes it, and the next answer opens another."""
    import contextvars
    from concurrent.futures import ThreadPoolExecutor

    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.answering import SharedPrefectClient

    shared = SharedPrefectClient()
    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        context = contextvars.copy_context()  # the page's threads run with its settings
        with ThreadPoolExecutor(8) as pool:
            clients = list(pool.map(lambda _: context.copy().run(shared.get), range(32)))
        first = clients[0]
        assert all(c is first for c in clients) and str(first.api_url).endswith(":9/api/")
        shared.close()
        assert first._closed
        assert shared.get() is not first
        shared.close()
