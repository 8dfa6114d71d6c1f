"""Tenders: lots of road-cleaning work put out to bid, qualified, scored and ranked.

The district marketised road cleaning: each street office's cleaning responsibility zones
are put out to tender as lots, under the district's qualification rules for bidding on road
sanitation work. This package is the pure domain of it (no I/O, no Prefect); the flows draw
the evaluators, collect their scores and put the ranking to the decision body's vote.

==================  =======================================================================
:mod:`.spec`        ``Lot``, ``Bid``, ``TenderSpec``, ``parse_tender``, ``bidders``: the
                    tender a planner files, read from YAML or JSON
:mod:`.rules`       ``Rule``, ``QualificationRules``, ``qualify``, ``Qualification``,
                    ``Exclusion``: who may bid, as data, with every reason for an exclusion
:mod:`.scoring`     ``ScoringRules``, ``Criterion``, ``score_lots``, ``check_scores``,
                    ``Ranking``, ``LotRanking``, ``RankedBid``, ``Outlier``: weighted scores,
                    price formulas, ties and outliers
:mod:`.report`      ``ranking_markdown``: the ranking as a Markdown report
:mod:`.config`      ``TenderRules``: a decision class's ``tender:`` section
:mod:`.exceptions`  ``TenderError``, ``InvalidTender``, ``InvalidScores``
==================  =======================================================================

The steps, in order::

    spec = parse_tender(text, source="tender.yaml")
    rules = TenderRules.model_validate(section)
    qualification = qualify(spec, rules.qualification.for_district_type("west"))
    check_scores(spec, qualification.qualified, lots, rules.scoring.evaluator_criteria, form)
    ranking = score_lots(spec, qualification.qualified, scores, rules.scoring)
    report = ranking_markdown(spec, qualification, ranking, "zh", scoring=rules.scoring)
"""

from __future__ import annotations

from decisions.tender.common import Label
from decisions.tender.config import EXAMPLE_YAML, TenderRules
from decisions.tender.exceptions import InvalidScores, InvalidTender, TenderError
from decisions.tender.report import md_text, ranking_markdown
from decisions.tender.rules import (
    DistrictRules,
    Exclusion,
    Qualification,
    QualificationRules,
    Rule,
    qualify,
)
from decisions.tender.scoring import (
    Criterion,
    LotRanking,
    Outlier,
    RankedBid,
    Ranking,
    ScoringRules,
    check_scores,
    price_points,
    score_lots,
)
from decisions.tender.spec import (
    Bid,
    Lot,
    TenderSpec,
    bidder_facts,
    bidder_name,
    bidders,
    parse_tender,
)

__all__ = [
    "Label",
    "Lot",
    "Bid",
    "TenderSpec",
    "parse_tender",
    "bidders",
    "bidder_name",
    "bidder_facts",
    "Rule",
    "DistrictRules",
    "QualificationRules",
    "Exclusion",
    "Qualification",
    "qualify",
    "Criterion",
    "ScoringRules",
    "Outlier",
    "RankedBid",
    "LotRanking",
    "Ranking",
    "score_lots",
    "check_scores",
    "price_points",
    "ranking_markdown",
    "md_text",
    "TenderRules",
    "EXAMPLE_YAML",
    "TenderError",
    "InvalidTender",
    "InvalidScores",
]
