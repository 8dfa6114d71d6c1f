"""The answer page's sentences, in Chinese (``zh``) and English (``en``), and local times.

Every sentence a person reads on the page (and the titles of the Prefect form) is here,
once per language, with ``{named}`` places for what varies; names of criteria, choices and
stages come from the decision classes (:class:`decisions.classes.Labels`). The texts are
plain: the templates escape them with everything else.

>>> text("due", "zh", when="2026年12月3日（周四）18:00（北京时间）")
'请于 2026年12月3日（周四）18:00（北京时间）前提交'
>>> from datetime import UTC, datetime
>>> local_time(datetime(2026, 12, 3, 10, 0, tzinfo=UTC), "zh", "Asia/Shanghai")
'2026年12月3日（周四）18:00（北京时间）'
>>> local_time(datetime(2026, 12, 3, 10, 0, tzinfo=UTC), "en", "Asia/Shanghai")
'Thu 3 Dec 2026, 18:00 (Asia/Shanghai)'
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

__all__ = [
    "TEXTS",
    "REFUSAL_ZH",
    "text",
    "local_time",
    "short_time",
    "time_left",
    "html_lang",
]

#: :data:`decisions.links.REFUSAL` in Chinese, shown beside it.
REFUSAL_ZH = "此链接无效或已过期。"

#: key -> (Chinese, English)
TEXTS: dict[str, tuple[str, str]] = {
    # -- the page around everything ---------------------------------------------------------
    "brand": ("Counsel 决策咨询", "Counsel"),
    "personal_note": (
        "此链接为您个人专用，请勿转发。",
        "This link is yours alone; please do not forward it.",
    ),
    "too_many": (
        "来自您所在网络的无效链接过多，请一分钟后再试。",
        "Too many links that do not open came from your network; try again in a minute.",
    ),
    "error": (
        "页面暂时无法打开，请稍后再试。",
        "The page cannot be shown right now; please try again in a moment.",
    ),
    "too_large": (
        "提交的内容过多，无法处理。请缩短后重新提交。",
        "What was sent is too large to take; please shorten it and send it again.",
    ),
    # -- the task and what it asks ---------------------------------------------------------
    "decision_line": ("{id} · 方案第 {version} 版", "{id} · proposal version {version}"),
    "read_proposal": ("查看方案全文", "Read the full proposal"),
    "background": ("背景", "Background"),
    "proposal_text": ("方案第 {version} 版", "Proposal, version {version}"),
    "round": ("第 {round} 轮", "round {round}"),
    "cycle": ("第 {round} 期", "cycle {round}"),
    "asked_consult": (
        "第 {round} 轮专家咨询：请按 1–9 分为各项指标评分（1 分最差，9 分最好），"
        "提出您的建议并说明理由。",
        "Consultation, round {round}: rate each criterion from 1 (poor) to 9 (excellent), "
        "give your recommendation and your reasons.",
    ),
    "asked_discuss": (
        "讨论：请表明您对本方案的立场，并发表意见。",
        "Discussion: state your position on the proposal, with your comments.",
    ),
    "asked_vote": (
        "表决：请对本方案投票并说明理由。表决意见与专家共识相左的，须另附说明；"
        "如与本事项存在利益冲突，请选择“{recuse}”。",
        "Vote: cast your vote on the proposal and give your reasons. A vote against the "
        "experts' consensus needs a justification; if you have a conflict of interest, "
        "choose “{recuse}”.",
    ),
    "asked_execute": (
        "执行情况报告：请报告工作进展、完成比例和已落实的措施。",
        "Progress report: report the work done, how far it has come and which measures are "
        "in place.",
    ),
    "asked_inspect": (
        "验收：请检查执行情况，给出验收结论，并写明检查内容和发现的问题。",
        "Inspection: check the work, give your verdict, and write what you checked and found.",
    ),
    "asked_score": (
        "投标评分：请按评分细则为您所评标段的每个合格投标逐项打分（0–100），并写明理由。",
        "Scoring the bids: score each qualified bid of your lots on each criterion (0–100), "
        "and say why.",
    ),
    "asked_witness": (
        "抽取见证：请输入您当场给出的见证值（如公证书编号）。评审专家将由系统事先承诺的种子与此值共同抽取，"
        "任何人都可事后核验。",
        "Witnessing the draw: enter the value you give now (such as a certificate number). "
        "The evaluators are drawn with it and the seed Counsel committed to beforehand; "
        "anyone can check the draw afterwards.",
    ),
    "zone": ("责任区域：{zone}", "Zone: {zone}"),
    "measures_heading": ("需落实的措施", "Measures to carry out"),
    "report_line": ("{zone}：完成 {percent}%", "{zone}: {percent}% done"),
    "due": ("请于 {when}前提交", "Please answer by {when}"),
    "no_deadline": ("本任务没有截止时间", "This task has no deadline"),
    "left_days": ("还剩 {days} 天 {hours} 小时", "{days} d {hours} h left"),
    "left_hours": ("还剩 {hours} 小时 {minutes} 分钟", "{hours} h {minutes} min left"),
    "left_minutes": ("还剩 {minutes} 分钟", "{minutes} min left"),
    "overdue": ("已过截止时间", "past the deadline"),
    "in_brackets": ("（{what}）", " ({what})"),
    # -- what the member reads before voting -------------------------------------------------
    "experts_said": ("专家咨询意见", "What the experts recommended"),
    "count_of": ("{label}：{count} 人", "{label}: {count}"),
    "experts_conditions": ("专家提出的条件", "The experts' conditions"),
    # -- the previous Delphi round -----------------------------------------------------------
    "previous_round": (
        "第 {round} 轮汇总结果（匿名，共 {answers} 份答复）",
        "Round {round} at a glance (anonymous, {answers} answers)",
    ),
    "criterion_stats": (
        "中位数 {median}，四分位距 {iqr}（{q1}–{q3}）",
        "median {median}, IQR {iqr} ({q1}–{q3})",
    ),
    "diverged": ("意见分歧较大", "opinions diverged"),
    "converged": ("意见基本一致", "opinions agreed"),
    "consensus_rule": (
        "四分位距不超过 {max_iqr} 视为意见一致。",
        "Opinions agree on a criterion when its IQR is at most {max_iqr}.",
    ),
    "chart_legend": (
        "图中虚线为中位数，浅蓝色区域为四分位区间，深蓝色柱为您上一轮的评分，柱上数字为人数。",
        "In the charts the dashed line is the median, the light band the interquartile range, "
        "the dark bar your own rating last round; the number on a bar is how many gave it.",
    ),
    "your_rating": ("您上一轮：{rating} 分", "You last round: {rating}"),
    "chart_label": ("“{criterion}”评分分布：{parts}", "Ratings of {criterion}: {parts}"),
    "chart_part": ("{score} 分 {count} 人", "{count} × {score}"),
    "chart_you": ("其中您上一轮评 {rating} 分", "yours was {rating}"),
    "recommendations_heading": ("专家建议", "Recommendations"),
    "rationales_heading": (
        "各位专家的理由（匿名，按文字排序）",
        "The experts' reasons (anonymous, sorted)",
    ),
    "conditions_heading": ("提出的条件", "Conditions proposed"),
    "your_previous_answer": ("您上一轮的答复", "Your answer last round"),
    "revise_hint": (
        "请参考上一轮的汇总结果给出本轮评分：可以坚持原来的判断，也可以修改。",
        "With the panel's results in mind, rate again for this round: keep your earlier "
        "judgement or revise it.",
    ),
    # -- the form ------------------------------------------------------------------------------
    "your_answer_heading": ("您的答复", "Your answer"),
    "ratings_heading": ("评分（1 分最差，9 分最好）", "Ratings (1 poor, 9 excellent)"),
    "rating_scale": ("1 分最差，9 分最好", "1 (poor) to 9 (excellent)"),
    "scale_low": ("最差", "poor"),
    "scale_high": ("最好", "excellent"),
    "field_recommendation": ("您的建议", "Your recommendation"),
    "field_conditions": ("附加条件", "Conditions"),
    "hint_conditions": ("选填，每行一条", "optional, one per line"),
    "field_rationale": ("理由", "Your reasons"),
    "field_stance": ("您的立场", "Your position"),
    "field_comments": ("意见", "Your comments"),
    "field_vote": ("您的表决", "Your vote"),
    "hint_vote_rationale": (
        "选择回避的，请写明利益冲突的情况",
        "to recuse, describe the conflict",
    ),
    "field_justification": ("与专家共识相左的说明", "Justification"),
    "hint_justification": (
        "表决意见与专家共识相左时必填",
        "required when your vote goes against the experts' consensus",
    ),
    "field_percent": ("完成比例（%）", "Percent complete"),
    "hint_percent": ("0 到 100 的整数", "a whole number from 0 to 100"),
    "field_progress": ("已完成和尚待完成的工作", "What was done, and what remains"),
    "field_measures_done": ("已落实的措施", "Measures in place"),
    "hint_measures_done": ("选填，每行一条", "optional, one per line"),
    "field_verdict": ("验收结论", "Your verdict"),
    "field_findings": ("检查内容与发现", "What you checked and found"),
    "hint_scores_rationale": (
        "评分理由；选择回避的，请写明原因",
        "why you scored the bids so; to decline, say why",
    ),
    "field_decline": (
        "回避（与投标人有利害关系或无法参加）",
        "Decline (a conflict, or unavailable)",
    ),
    "hint_decline": (
        "选择回避后，由下一位备选专家接替",
        "the next alternate of the draw takes your place",
    ),
    "hint_points": (
        "0 到 100 的整数；仅在选择回避时可不填",
        "a whole number from 0 to 100; leave it blank only to decline",
    ),
    "field_witness_value": ("见证值", "Witness value"),
    "hint_witness_value": (
        "公证员当场给出的数值（如公证书编号），将与系统种子一起决定抽取结果",
        "the value the notary gives now (such as a certificate number); it decides the draw "
        "together with Counsel's committed seed",
    ),
    "field_answer_code": ("答复码", "Answer code"),
    "hint_answer_code": (
        "随任务发给您的答复码，形如 ABCDE-23456",
        "The code you received with this task, like ABCDE-23456.",
    ),
    "choices_are": ("选项含义：{choices}", "What the choices mean: {choices}"),
    "optional": ("选填", "optional"),
    "required_mark": ("必填", "required"),
    "submit": ("提交答复", "Send my answer"),
    # -- what is wrong with an answer --------------------------------------------------------
    "problem_heading": ("您的答复尚未提交：", "Your answer was not recorded:"),
    "missing_rating": ("请为“{field}”评分（1–9 分）。", "Rate “{field}” from 1 to 9."),
    "bad_rating": (
        "“{field}”的评分应为 1 到 9 之间的整数。",
        "A rating of “{field}” is a whole number from 1 to 9.",
    ),
    "missing_choice": ("请选择“{field}”。", "Choose “{field}”."),
    "missing_text": ("请填写“{field}”。", "Fill in “{field}”."),
    "too_long": (
        "“{field}”有 {length} 个字符，最多 {limit} 个。",
        "“{field}” is {length} characters long; at most {limit} are kept.",
    ),
    "line_too_long": (
        "“{field}”每条最多 {limit} 个字符。",
        "Each line of “{field}” is at most {limit} characters long.",
    ),
    "too_many_lines": (
        "“{field}”最多 {limit} 条。",
        "“{field}” takes at most {limit} lines.",
    ),
    "bad_characters": (
        "“{field}”中含有不可见的控制字符（可能是从其他文档粘贴带入的），请删除后再提交。",
        "“{field}” holds an invisible control character (perhaps pasted from another "
        "document); remove it and send again.",
    ),
    "bad_percent": (
        "“{field}”应为 0 到 100 之间的整数。",
        "“{field}” is a whole number from 0 to 100.",
    ),
    "bad_points": (
        "“{field}”：请填写 0 到 100 的整数。",
        "“{field}”: a whole number from 0 to 100.",
    ),
    "bad_field": ("“{field}”：{reason}", "“{field}”: {reason}"),
    "needs_justification": (
        "您的表决意见与专家共识相左，请填写“与专家共识相左的说明”后再提交。",
        "Your vote goes against the experts' consensus: write a justification before it can "
        "be recorded.",
    ),
    "unreadable": (
        "表单内容无法读取，请重新填写后提交。",
        "The form could not be read; please fill it in again.",
    ),
    "store_refused": ("系统未能记录您的答复：{reason}", "{reason}"),
    "powers_refused": (
        "根据分权规则，您不能对此事项作答：{reason}",
        "The separation of powers does not let you answer this: {reason}",
    ),
    # -- after the answer, or a task that is over ----------------------------------------------
    "answered": ("您已于 {when}提交答复，谢谢！", "You answered on {when}. Thank you."),
    "reassigned": (
        "此任务已于 {when}超过截止时间，转由其他专家作答，您无需再提交。",
        "This task passed to another expert on {when}, after its deadline; there is nothing "
        "left for you to answer.",
    ),
    "cancelled": (
        "此任务已于 {when}取消，您无需再提交。",
        "This task was cancelled on {when}; there is nothing left for you to answer.",
    ),
    "next_waiting": (
        "本环节还有 {count} 人尚未作答；最后一份答复收到后（或截止时间一到），决定将自动继续。",
        "{count} more answers are awaited in this step; the decision continues by itself "
        "when the last one is in (or at the deadline).",
    ),
    "next_all_in": (
        "本环节的答复已全部收齐，决定将自动继续。",
        "Every answer of this step is in; the decision continues by itself.",
    ),
    "after_consult": (
        "本轮汇总结果将匿名发给各位专家；如评分未达成共识，将请您参加下一轮。",
        "The round's results go to every expert, anonymously; if the ratings do not agree, "
        "you will be asked again in the next round.",
    ),
    "after_discuss": (
        "讨论结束后，方案将提交表决。",
        "After the discussion the proposal goes to the vote.",
    ),
    "after_vote": (
        "全部表决完成后将统计票数，形成决议。",
        "When every member has voted, the votes are tallied into a resolution.",
    ),
    "after_execute": (
        "执行情况报告将交由验收人员检查。",
        "Inspectors check the work next.",
    ),
    "after_inspect": (
        "验收意见全部收齐后，将确定验收是否通过。",
        "When every inspector has answered, the work is accepted or sent back for rework.",
    ),
    "after_score": (
        "全部评审专家打分后，将汇总排名并公开抽取种子，供任何人核验抽取过程。",
        "When every evaluator has scored, the bids are ranked and the draw's seed is revealed "
        "so anyone can check the draw.",
    ),
    "after_witness": (
        "系统将据此抽取评审专家，抽取结果记入审计链。",
        "The evaluators are drawn with it now, and the draw is recorded in the audit chain.",
    ),
    "your_points": ("{bid} · {criterion}：{points} 分", "{bid} · {criterion}: {points} points"),
    "close_page": ("您可以关闭此页面。", "You can close this page."),
    "your_recommendation": ("建议：{label}", "Recommendation: {label}"),
    "your_choice": ("表决：{label}", "Vote: {label}"),
    "your_stance": ("立场：{label}", "Position: {label}"),
    "your_verdict": ("验收结论：{label}", "Verdict: {label}"),
    "your_percent": ("完成比例：{percent}%", "Percent complete: {percent}%"),
    "your_rating_now": ("{criterion}：{rating} 分", "{criterion}: {rating}"),
    "recused": ("回避：{reason}", "Recused: {reason}"),
    # -- the inbox -----------------------------------------------------------------------------
    "inbox_title": ("{name}的任务", "Tasks of {name}"),
    "inbox_note": (
        "这里列出您在各项决定中的任务。页面中的链接均为您个人专用，请勿转发。",
        "Your tasks across decisions. These links are yours alone; please do not forward them.",
    ),
    "open_tasks": ("待办任务", "Open tasks"),
    "recent_tasks": ("近 {days} 天已结束的任务", "Closed in the last {days} days"),
    "no_open": ("目前没有需要您处理的任务。", "Nothing is waiting for you."),
    "open_link": ("打开", "Open"),
    "see_link": ("查看", "See"),
    "status_answered": ("已作答", "answered"),
    "status_reassigned": ("已转交", "passed on"),
    "status_cancelled": ("已取消", "cancelled"),
    "your_condition": ("条件：{text}", "Condition: {text}"),
    "your_measure": ("已落实：{text}", "In place: {text}"),
}

_ZH_WEEKDAYS = "一二三四五六日"
_ZONE_NAMES_ZH = {"Asia/Shanghai": "北京时间", "Asia/Chongqing": "北京时间"}


def text(key: str, lang: str, /, **values: object) -> str:
    """The sentence ``key`` in ``lang`` (Chinese unless ``en``), its places filled in."""
    zh, en = TEXTS[key]
    return (en if lang == "en" else zh).format(**values)


def html_lang(lang: str) -> str:
    """The page's ``lang`` attribute: ``zh-CN`` or ``en``."""
    return "en" if lang == "en" else "zh-CN"


def local_time(moment: datetime, lang: str, zone: str) -> str:
    """A moment as people read it where the decision is made (``settings.timezone``)."""
    here = moment.astimezone(ZoneInfo(zone))
    if lang == "en":
        return f"{here:%a} {here.day} {here:%b %Y, %H:%M} ({zone})"
    name = _ZONE_NAMES_ZH.get(zone, zone)
    weekday = _ZH_WEEKDAYS[here.weekday()]
    return f"{here.year}年{here.month}月{here.day}日（周{weekday}）{here:%H:%M}（{name}）"


def short_time(moment: datetime, lang: str, zone: str) -> str:
    """A moment in a list, in local time, without the year or the zone.

    >>> from datetime import UTC, datetime
    >>> short_time(datetime(2026, 12, 3, 10, 5, tzinfo=UTC), "zh", "Asia/Shanghai")
    '12月3日 18:05'
    """
    here = moment.astimezone(ZoneInfo(zone))
    if lang == "en":
        return f"{here.day} {here:%b %H:%M}"
    return f"{here.month}月{here.day}日 {here:%H:%M}"


def time_left(deadline: datetime, now: datetime, lang: str) -> str:
    """How long is left until ``deadline``, roughly (days and hours, or hours and minutes).

    >>> from datetime import UTC, datetime, timedelta
    >>> now = datetime(2026, 12, 1, tzinfo=UTC)
    >>> time_left(now + timedelta(days=2, hours=5, minutes=3), now, "zh")
    '还剩 2 天 5 小时'
    >>> time_left(now + timedelta(minutes=90), now, "en")
    '1 h 30 min left'
    """
    seconds = int((deadline - now).total_seconds())
    if seconds <= 0:
        return text("overdue", lang)
    minutes, hours, days = seconds // 60 % 60, seconds // 3600 % 24, seconds // 86400
    if days:
        return text("left_days", lang, days=days, hours=hours)
    if hours:
        return text("left_hours", lang, hours=hours, minutes=minutes)
    return text("left_minutes", lang, minutes=max(minutes, 1))
