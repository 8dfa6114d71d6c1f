"""The tender's ranking as a Markdown report, for the decision body and the record.

One table per lot (rank, bidder, price, each criterion's points, total), the winners, the
excluded bidders with every reason, and the evaluators' outlying points. Every text that came
from a planner or a bidder (names, ids, reasons quoting declared facts) is escaped, so a
bidder's name cannot add links, HTML, headings or table cells to the report.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal

from decisions.tender.common import Lang
from decisions.tender.rules import Qualification
from decisions.tender.scoring import Ranking, ScoringRules
from decisions.tender.spec import TenderSpec, bidder_name

__all__ = ["ranking_markdown", "md_text"]

_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|~&=^$:])")

_WORDS: Mapping[str, Mapping[str, str]] = {
    "en": {
        "title": "Tender ranking",
        "lot": "Lot",
        "office": "street office",
        "rank": "Rank",
        "bidder": "Bidder",
        "bid": "Bid",
        "price": "Price (yuan/year)",
        "total": "Total",
        "winner": "Winner",
        "no_winner": "No bid on this lot qualified; the lot has no winner.",
        "tie": "tie broken by",
        "winners": "Winners",
        "excluded": "Excluded bidders",
        "none_excluded": "Every bidder qualified.",
        "outliers": "Outlying scores",
        "outlier": "evaluator {e} gave bid {b} {p} on {c}; the median was {m}",
        "no_outliers": "No evaluator's score lay far from the others'.",
    },
    "zh": {
        "title": "评标排名",
        "lot": "标段",
        "office": "街道",
        "rank": "排名",
        "bidder": "投标人",
        "bid": "投标",
        "price": "报价（元/年）",
        "total": "总分",
        "winner": "中标",
        "no_winner": "本标段无合格投标，无中标人。",
        "tie": "同分排序依据",
        "winners": "中标结果",
        "excluded": "未通过资格审查的投标人",
        "none_excluded": "所有投标人均通过资格审查。",
        "outliers": "偏离评分",
        "outlier": "评委 {e} 对投标 {b} 的 {c} 评分为 {p}，中位数为 {m}",
        "no_outliers": "没有评委的评分明显偏离其他评委。",
    },
}


def md_text(text: str) -> str:
    """Text from a person as plain text on one line of Markdown (a table cell too): every
    Markdown character escaped, line breaks folded into `` / ``.

    >>> print(md_text("[x](http://evil) | # 洁净\\n- item"))
    \\[x\\]\\(http\\://evil\\) \\| \\# 洁净 / \\- item
    """
    escaped = _SPECIAL.sub(r"\\\1", text)
    return " / ".join(line.strip() for line in escaped.splitlines() if line.strip())


def _points(value: float) -> str:
    return f"{value:.2f}"


def _price(value: Decimal) -> str:
    return f"{value:,.2f}"


def ranking_markdown(
    spec: TenderSpec,
    qualification: Qualification,
    ranking: Ranking,
    lang: Lang = "en",
    *,
    scoring: ScoringRules | None = None,
) -> str:
    """The report of a tender's qualification and ranking, in ``lang`` (``zh`` or ``en``).

    ``scoring`` gives the criteria's labels for the table's columns; without it the columns
    are the criteria's keys.
    """
    w = _WORDS[lang]

    def criterion(key: str) -> str:
        if scoring is not None and key in scoring.criteria:
            return md_text(scoring.criteria[key].label(lang))
        return md_text(key)

    def who(bidder: str) -> str:
        return f"{md_text(bidder_name(spec, bidder))} ({md_text(bidder)})"

    lines = [f"# {w['title']}", ""]
    for lot_ranking in ranking.lots:
        lot = spec.lot(lot_ranking.lot)
        lines += [
            f"## {w['lot']} {md_text(lot.id)}: {md_text(lot.name)} "
            f"({w['office']}: {md_text(lot.street_office)})",
            "",
        ]
        if not lot_ranking.entries:
            lines += [w["no_winner"], ""]
            continue
        keys = list(lot_ranking.entries[0].points)
        header = [w["rank"], w["bidder"], w["bid"], w["price"], *map(criterion, keys), w["total"]]
        lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
        for entry in lot_ranking.entries:
            rank = str(entry.rank)
            if entry.tie_broken_by:
                rank += f" ({w['tie']} {md_text(entry.tie_broken_by)})"
            cells = [
                rank,
                who(entry.bidder),
                md_text(entry.bid),
                _price(entry.price),
                *(_points(entry.points[k]) for k in keys),
                f"**{_points(entry.total)}**",
            ]
            lines.append("| " + " | ".join(cells) + " |")
        winner = lot_ranking.entries[0]
        lines += ["", f"**{w['winner']}**: {who(winner.bidder)}, {md_text(winner.bid)}", ""]
        if lot_ranking.outliers:
            lines += [f"### {w['outliers']}", ""]
            lines += [
                "- "
                + w["outlier"].format(
                    e=md_text(o.evaluator),
                    b=md_text(o.bid),
                    c=criterion(o.criterion),
                    p=o.points,
                    m=f"{o.median:g}",
                )
                for o in lot_ranking.outliers
            ]
            lines.append("")
    lines += [f"## {w['winners']}", ""]
    for lot_ranking in ranking.lots:
        won = lot_ranking.winner
        bidder = spec.bid(won).bidder if won else None
        result = f"{who(bidder)}, {md_text(won)}" if won and bidder else w["no_winner"]
        lines.append(f"- {w['lot']} {md_text(lot_ranking.lot)}: {result}")
    lines += ["", f"## {w['excluded']}", ""]
    if not qualification.excluded_bidders:
        lines.append(w["none_excluded"])
    for bidder in qualification.excluded_bidders:
        lines.append(f"- {who(bidder)}")
        lines += [f"  - {md_text(reason)}" for reason in qualification.reasons(bidder, lang)]
    if not any(lot.outliers for lot in ranking.lots):
        lines += ["", w["no_outliers"]]
    return "\n".join(lines) + "\n"
