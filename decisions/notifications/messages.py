"""What a message says, in the person's language: Chinese first, English on request.

Every message names what is asked (or what happened), of which decision (its id and title),
by when in local time, and carries the person's link. It is rendered when it is sent, from
the facts the outbox row keeps (:mod:`decisions.notifications.rules`) and a link made at that
moment, so the outbox and the audit chain never hold a link. The texts are plain: e-mail
shows them as written and chat bots (WeCom, DingTalk, Feishu) do not garble them.

>>> message = render(
...     "task.assigned", "zh",
...     {"decision_id": "D-2026-0001", "title": "道路保洁市场化", "task": "consult", "round": 2,
...      "deadline": "2026-12-03T09:00:00+00:00", "name": "王芳"},
...     link="https://counsel.example.cn/t/abc", zone="Asia/Shanghai")
>>> message.subject
'【待办】第 2 轮专家咨询：D-2026-0001 道路保洁市场化'
>>> "截止时间：2026-12-03 17:00 (Asia/Shanghai)" in message.body
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from decisions.clock import as_utc

__all__ = ["Message", "render", "local_time", "KINDS"]


@dataclass(frozen=True)
class Message:
    subject: str
    body: str


#: What each kind of task is called, as a noun phrase: (zh, en).
_TASK_NAMES = {
    "consult": ("第 {round} 轮专家咨询", "consultation round {round}"),
    "discuss": ("讨论发言", "discussion position"),
    "vote": ("表决", "vote"),
    "execute": ("执行情况报告", "execution report"),
    "inspect": ("验收检查", "inspection"),
    "score": ("投标评分", "scoring the bids"),
    "witness": ("评审专家抽取见证", "witnessing the draw of evaluators"),
}

#: What a person is asked to do on a task given to them: (zh, en).
_ASKS = {
    "consult": (
        "请您参加第 {round} 轮专家咨询，对方案逐项评分并说明理由。",
        "please take part in consultation round {round}: rate the proposal on each "
        "criterion and give your reasons.",
    ),
    "discuss": (
        "请您在讨论阶段提出您的立场和意见。",
        "please give your position in the discussion.",
    ),
    "vote": ("请您对该事项进行表决。", "please cast your vote."),
    "execute": ("请您提交执行情况报告。", "please report on the work done."),
    "inspect": (
        "请您对执行情况进行验收检查，并给出验收结论。",
        "please inspect the work done and give your verdict.",
    ),
    "score": (
        "您已被随机抽取为评审专家，请对您所评标段的合格投标逐项打分；如与投标人有利害关系，请选择回避。",
        "you were drawn at random as an evaluator: please score the qualified bids of your "
        "lots on each criterion, or decline if you have an interest in a bidder.",
    ),
    "witness": (
        "请您作为见证人输入见证值（如公证书编号），系统将据此与事先承诺的种子共同抽取评审专家。",
        "please enter, as the witness, the value (such as a certificate number) with which "
        "the evaluators are drawn together with the seed Counsel committed to beforehand.",
    ),
}

#: What a planner is told of their decision: (short zh, zh sentence, short en, en sentence).
_PLANNER = {
    "decision.consultation_started": (
        "进入专家咨询",
        "已进入专家咨询阶段（第 {round} 轮）。",
        "consultation started",
        "has entered expert consultation (round {round}).",
    ),
    "decision.round_started": (
        "开始第 {round} 轮咨询",
        "已开始第 {round} 轮专家咨询。",
        "round {round} started",
        "has started consultation round {round}.",
    ),
    "decision.discussion_opened": (
        "进入讨论",
        "专家咨询已结束，现进入讨论阶段。",
        "discussion opened",
        "has finished consultation and is now in discussion.",
    ),
    "decision.vote_opened": (
        "进入表决",
        "已提交决策机构表决。",
        "put to the vote",
        "has been put to the decision body's vote.",
    ),
    "decision.approved": (
        "表决通过",
        "已获表决通过。",
        "approved",
        "has been approved by vote.",
    ),
    "decision.returned": (
        "退回重新咨询",
        "已被决策机构退回，将重新征求专家意见。",
        "returned to consultation",
        "was returned to consultation by the decision body.",
    ),
    "decision.execution_started": (
        "进入执行",
        "已进入执行阶段。",
        "execution started",
        "is now being carried out.",
    ),
    "decision.execution_accepted": (
        "通过验收",
        "执行成果已通过验收。",
        "execution accepted",
        "has had its execution accepted by the inspectors.",
    ),
    "decision.resumed": (
        "恢复办理",
        "已恢复办理，回到{to}阶段。",
        "resumed",
        "has resumed in {to}.",
    ),
    "decision.stalled": (
        "停滞",
        "在{from}阶段停滞，需要处理后才能继续。",
        "stalled",
        "has stalled in {from} and needs attention before it can go on.",
    ),
    "decision.closed": ("已办结", "已办结。", "closed", "is closed."),
    "decision.rejected": (
        "未获通过",
        "未获表决通过，已否决。",
        "rejected",
        "was rejected by vote.",
    ),
    "decision.withdrawn": ("已撤回", "已撤回。", "withdrawn", "was withdrawn."),
}

#: Stage names, for "in the discussion stage": (zh, en).
_STAGES = {
    "submitted": ("受理", "filing"),
    "consulting": ("专家咨询", "consultation"),
    "discussing": ("讨论", "discussion"),
    "deciding": ("表决", "the vote"),
    "approved": ("批准", "approval"),
    "executing": ("执行", "execution"),
    "accepted": ("验收", "acceptance"),
    "returned": ("退回", "return to consultation"),
}

_ANSWER_LINK = (
    "请通过您的个人链接查看材料并作答（仅限本人使用，截止后失效，请勿转发）：",
    "Open your personal link to read the material and answer (it is yours alone and stops "
    "working at the deadline; please do not forward it):",
)
_OTHER_TASKS = ("您的个人页面（其他待办）：", "Your personal page, with your other tasks:")
_PAGE = ("您的个人页面：", "Your personal page:")
_FOOTER = (
    "此消息由 Counsel 决策咨询系统自动发送，请勿直接回复。",
    "Sent by Counsel; please do not reply.",
)

#: A task's messages: kind -> ((zh subject tag, zh lines, zh link line), (the same in en)).
#: ``{what}`` is the task's name, ``{ask}`` what it asks, ``{decision}`` the decision's id and
#: title, ``{due}`` the deadline in local time.
_TASK_WORDS: dict[str, tuple[tuple[str, tuple[str, ...], str], tuple[str, tuple[str, ...], str]]]
_TASK_WORDS = {
    "task.assigned": (
        ("待办", ("{decision}：{ask}", "截止时间：{due}"), _ANSWER_LINK[0]),
        ("To do", ("For {decision}, {ask}", "Deadline: {due}"), _ANSWER_LINK[1]),
    ),
    "task.reminded": (
        (
            "提醒",
            ("您在{decision}中的{what}任务尚未完成，请尽快处理。", "截止时间：{due}"),
            _ANSWER_LINK[0],
        ),
        (
            "Reminder",
            (
                "Your answer ({what}) for {decision} has not arrived yet; please send it soon.",
                "Deadline: {due}",
            ),
            _ANSWER_LINK[1],
        ),
    ),
    "task.reassigned": (
        (
            "已转交",
            (
                "截止时间 {due} 前未收到您的答复，您在{decision}中的{what}任务"
                "已转交他人办理，您无需再作答。感谢您的支持。",
            ),
            _OTHER_TASKS[0],
        ),
        (
            "Passed on",
            (
                "No answer arrived by the deadline, {due}, so your task ({what}) for {decision} "
                "has passed to someone else and you need not answer it. Thank you for your help.",
            ),
            _OTHER_TASKS[1],
        ),
    ),
    "task.cancelled": (
        ("已取消", ("您在{decision}中的{what}任务已取消，您无需再作答。",), _OTHER_TASKS[0]),
        (
            "Cancelled",
            ("Your task ({what}) for {decision} is cancelled; you need not answer it.",),
            _OTHER_TASKS[1],
        ),
    ),
}

#: Every kind of message there are words for.
KINDS = frozenset({*_TASK_WORDS, *_PLANNER})


def local_time(moment: str | datetime | None, zone: str, *, lang: str = "en") -> str:
    """A stored UTC moment (naive ones are UTC too) as people read it:
    ``2026-12-03 17:00 (Asia/Shanghai)``.

    >>> local_time("2026-12-03T09:00:00+00:00", "Asia/Shanghai")
    '2026-12-03 17:00 (Asia/Shanghai)'
    >>> local_time(None, "Asia/Shanghai", lang="zh")
    '无'
    """
    if moment is None:
        return "无" if lang == "zh" else "none"
    when = as_utc(datetime.fromisoformat(moment) if isinstance(moment, str) else moment)
    return f"{when.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M} ({zone})"


def render(kind: str, lang: str, params: Mapping[str, Any], *, link: str, zone: str) -> Message:
    """The subject and body of a message of ``kind`` in ``lang`` (``zh`` unless ``en``).

    Raises
    ------
    ValueError
        For a kind, or a kind of task, there are no words for (a bug: the rules and this
        module disagree).
    """
    i = 1 if lang == "en" else 0
    if kind in _TASK_WORDS:
        tag, lines, ending = _TASK_WORDS[kind][i]
        fields = _task_fields(i, params, zone)
        subject = ("【{tag}】{What}：{id} {title}", "[{tag}] {What}: {id} {title}")[i]
    elif kind in _PLANNER:
        tag, lines, ending = _planner_words(kind, i, params)
        fields = _planner_fields(kind, i, params)
        subject = ("【{tag}】{id} {title}：{short}", "[{tag}] {id} {title}: {short}")[i]
    else:
        raise ValueError(f"There are no words for a {kind!r} message.")
    # what people typed (the title, a reason) is only ever a value, never a template
    fields |= {"tag": tag, "id": str(params.get("decision_id")), "title": str(params.get("title"))}
    fields["decision"] = ("决策事项 {id}「{title}」", 'decision {id} "{title}"')[i].format(**fields)
    name = params.get("name")
    greeting = (f"{name}，您好：" if name else "您好：", f"Dear {name or 'colleague'},")[i]
    text = [line.format(**fields) for line in lines]
    body = "\n".join([greeting, "", *text, "", ending, link, "", _FOOTER[i]])
    return Message(subject.format(**fields), body)


def _task_fields(i: int, params: Mapping[str, Any], zone: str) -> dict[str, str]:
    task = params.get("task")
    if task not in _TASK_NAMES:
        raise ValueError(f"There are no words for a task of kind {task!r}.")
    number = params.get("round") or 1
    what = _TASK_NAMES[task][i].format(round=number)
    return {
        "what": what,
        "What": what[:1].upper() + what[1:],
        "ask": _ASKS[task][i].format(round=number),
        "due": local_time(params.get("deadline"), zone, lang=("zh", "en")[i]),
    }


def _planner_words(
    kind: str, i: int, params: Mapping[str, Any]
) -> tuple[str, tuple[str, ...], str]:
    if kind == "decision.stalled":
        tag = ("需处理", "Needs attention")[i]
    elif kind in {"decision.closed", "decision.rejected", "decision.withdrawn"}:
        tag = ("结果", "Outcome")[i]
    else:
        tag = ("进展", "Progress")[i]
    sentence = _PLANNER[kind][1 + 2 * i]
    lines: tuple[str, ...] = (("您提交的{decision}", "Your {decision} ")[i] + sentence,)
    if params.get("reason"):
        label = {
            "decision.returned": ("决策机构提出的问题：", "The body's questions: "),
            "decision.withdrawn": ("撤回理由：", "Reason given: "),
        }.get(kind, ("原因：", "Reason: "))[i]
        lines += (label + "{reason}",)
    return tag, lines, _PAGE[i]


def _planner_fields(kind: str, i: int, params: Mapping[str, Any]) -> dict[str, str]:
    fields = {
        key: _STAGES[value][i] if value in _STAGES else str(value)
        for key, value in (("from", params.get("from")), ("to", params.get("to")))
    }
    fields["round"] = str(params.get("round") or 1)
    fields["reason"] = str(params.get("reason") or "")
    fields["short"] = _PLANNER[kind][2 * i].format(**fields)
    return fields
