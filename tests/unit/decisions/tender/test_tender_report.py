"""The ranking report: each lot and winner, excluded bidders, outliers, user text escaped."""

from __future__ import annotations

import re

from decisions.tender import (
    Qualification,
    Rule,
    ScoringRules,
    TenderRules,
    TenderSpec,
    md_text,
    qualify,
    ranking_markdown,
    score_lots,
)


def evaluators(
    spec: TenderSpec, qualified: tuple[str, ...]
) -> dict[str, dict[str, dict[str, int]]]:
    """Three evaluators who agree except that e3 marks every technical plan down to 20."""
    return {
        e: {b: {"technical": 20 if e == "e3" else 80, "commercial": 75} for b in qualified}
        for e in ("e1", "e2", "e3")
    }


def test_report_lists_each_lot_winner_exclusion_and_outlier(
    example_spec: TenderSpec, example_rules: TenderRules
) -> None:
    """The English report has a table per lot, the winners, every reason and flagged scores."""
    q = qualify(example_spec, example_rules.qualification.for_district_type(None))
    ranking = score_lots(
        example_spec, q.qualified, evaluators(example_spec, q.qualified), example_rules.scoring
    )
    text = ranking_markdown(example_spec, q, ranking, scoring=example_rules.scoring)
    for lot in example_spec.lots:
        assert f"## Lot {md_text(lot.id)}: {md_text(lot.name)}" in text
    assert "| Rank | Bidder | Bid | Price (yuan/year) | Technical plan | Commercial terms |" in text
    for lot, winner in ranking.winners.items():
        assert f"- Lot {lot}: " in text and f", {winner}" in text
    assert "requires at least 6" in text and "鑫达物业服务有限公司 (xinda)" in text
    assert "evaluator e3 gave bid B01 20 on Technical plan; the median was 80" in text


def test_report_in_chinese(example_spec: TenderSpec, example_rules: TenderRules) -> None:
    """The Chinese report uses Chinese headings, labels and reasons."""
    q = qualify(example_spec, example_rules.qualification.for_district_type(None))
    ranking = score_lots(
        example_spec, q.qualified, evaluators(example_spec, q.qualified), example_rules.scoring
    )
    text = ranking_markdown(example_spec, q, ranking, "zh", scoring=example_rules.scoring)
    assert "# 评标排名" in text and "| 排名 | 投标人 |" in text and "技术方案" in text
    assert "投标人 寰宇保洁有限公司（huanyu）申报 sweepers 为 3" in text
    assert "## 中标结果" in text


def test_report_escapes_what_people_typed() -> None:
    """A bidder's or a lot's name cannot add table cells, links, HTML or lines to the report."""
    spec = TenderSpec.model_validate(
        {
            "lots": [{"id": "L1", "name": "Roads | <b>x</b>", "street_office": "[East](http://e)"}],
            "bids": [
                {
                    "id": "b1",
                    "bidder": "evil",
                    "bidder_name": "A | B\n# Boss ![i](x)",
                    "lots": ["L1"],
                    "prices": {"L1": 1},
                    "plan": "p",
                },
            ],
        }
    )
    rules = ScoringRules.model_validate(
        {"criteria": {"technical": {"weight": 1, "label": {"zh": "技|术", "en": "Tech|nical"}}}}
    )
    ranking = score_lots(spec, ["b1"], {"e1": {"b1": {"technical": 50}}}, rules)
    text = ranking_markdown(
        spec, Qualification(qualified=("b1",), excluded=()), ranking, scoring=rules
    )
    assert "A \\| B / \\# Boss \\!\\[i\\]\\(x\\)" in text
    assert "Roads \\| \\<b\\>x\\</b\\>" in text and "\\[East\\]\\(http\\://e\\)" in text
    assert "Tech\\|nical" in text
    row = next(line for line in text.splitlines() if line.startswith("| 1 |"))
    assert len(re.findall(r"(?<!\\)\|", row)) == 7  # six cells: rank, bidder .. total
    assert "\n# Boss" not in text
    assert "Every bidder qualified." in text


def test_a_lot_without_a_winner_says_so() -> None:
    """A lot whose only bidder was excluded is reported without a winner, with the reason."""
    spec = TenderSpec.model_validate(
        {
            "lots": [{"id": "L1", "name": "a", "street_office": "东湖街道"}],
            "bids": [
                {
                    "id": "b1",
                    "bidder": "xinda",
                    "bidder_name": "鑫达",
                    "lots": ["L1"],
                    "prices": {"L1": 1},
                    "plan": "p",
                    "qualifications": {"blacklisted": True},
                }
            ],
        }
    )
    rule = Rule.model_validate(
        {
            "id": "clean",
            "fact": "blacklisted",
            "test": "is_false",
            "label": {"zh": "未列入失信名单", "en": "Not blacklisted"},
        }
    )
    q = qualify(spec, [rule])
    rules = ScoringRules.model_validate(
        {"criteria": {"technical": {"weight": 1, "label": {"zh": "技术", "en": "Technical"}}}}
    )
    text = ranking_markdown(spec, q, score_lots(spec, q.qualified, {}, rules))
    assert text.count("No bid on this lot qualified; the lot has no winner.") == 2
    assert "rule clean \\(Not blacklisted\\) requires it to be false" in text
