"""The ``tender:`` section of a decision class: qualification, scoring and the panel draw.

A class that tenders work carries a ``tender:`` section in ``classes.yaml``: the shipped
``tender`` class is one, and :data:`EXAMPLE_YAML` is one to start from.

It is read with ``TenderRules.model_validate(section)``; every model refuses keys it does not
know, and each refusal is a sentence (``scoring: the criteria's weights must add up to 1, not
0.9 (technical 0.5, commercial 0.1, price 0.3)``).

The draw settings are for the flows that draw the evaluators (the draw itself is elsewhere):
``panel`` evaluators and ``alternates`` in reserve; each lot is scored by ``per_lot`` of them,
each evaluator serves at most ``max_lots_per_evaluator`` lots and at most ``per_organisation``
evaluators come from one organisation; ``mode`` is ``random`` (each evaluator reaches a lot with
probability at most ``max_probability``), ``fair`` (the worst-served lot first) or ``optimal``;
the seed's witness is a member of ``witness_body``. ``former_staff_years`` is for an expertise
database that records when an affiliation ended; the one Counsel keeps records no end year, so
every past affiliation with a bidder keeps an expert out (:mod:`experts.pool`). Whether the
panel can cover every lot (``per_lot`` × lots ≤ ``panel`` × ``max_lots_per_evaluator``)
depends on the tender and is checked when drawing.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from decisions.tender.common import Strict
from decisions.tender.rules import QualificationRules
from decisions.tender.scoring import ScoringRules

__all__ = ["TenderRules", "EXAMPLE_YAML"]

#: A ``tender:`` section to start from (the module's docstring explains it).
EXAMPLE_YAML = """\
tender:
  qualification:
    rules:
      - {id: min-capital, fact: registered_capital, test: at_least, value: 500,
         label: {zh: 注册资本不少于500万元, en: Registered capital of at least 5 million yuan}}
      - {id: min-sweepers, fact: sweepers, test: at_least, value: 6,
         label: {zh: 机扫车辆不少于6台, en: At least 6 road sweepers}}
      - {id: sanitation-licence, fact: licences, test: includes, value: road-sanitation,
         label: {zh: 持有道路保洁服务许可, en: Holds a road sanitation licence}}
      - {id: not-blacklisted, fact: blacklisted, test: is_false,
         label: {zh: 未列入失信名单, en: Not on the blacklist}}
    district_types:
      west: {replace: {min-sweepers: 4}}
  scoring:
    criteria:
      technical: {weight: 0.5, source: evaluators, label: {zh: 技术方案, en: Technical plan}}
      commercial: {weight: 0.2, source: evaluators, label: {zh: 商务, en: Commercial terms}}
      price: {weight: 0.3, source: price, label: {zh: 价格, en: Price}}
    price_formula: lowest_price
    tie_rule: lower_price
  panel: 5
  per_lot: 3
"""


class TenderRules(Strict):
    """Everything a tender class says: who qualifies, how bids are scored, how the
    evaluators are drawn."""

    qualification: QualificationRules
    scoring: ScoringRules
    panel: int = Field(default=5, ge=1, le=200)
    alternates: int = Field(default=3, ge=0, le=200)
    per_lot: int = Field(default=3, ge=1, le=50)
    max_lots_per_evaluator: int = Field(default=3, ge=1, le=50)
    per_organisation: int = Field(default=1, ge=1, le=50)
    mode: Literal["random", "fair", "optimal"] = "random"
    max_probability: float = Field(default=0.75, gt=0, le=1)
    witness_body: str = Field(default="district-notary-office", min_length=1, max_length=100)
    former_staff_years: int = Field(default=3, ge=0, le=30)

    @model_validator(mode="after")
    def _check(self) -> TenderRules:
        if self.per_lot > self.panel:
            raise ValueError(
                f"per_lot ({self.per_lot}) cannot exceed panel ({self.panel}): each lot is "
                "scored by per_lot evaluators of the panel"
            )
        return self
