"""Qualification rules for bidders, as data: which declared facts a bidder must meet.

The district's "qualification rules for bidding on road sanitation work" are a list of
:class:`Rule`, each testing one fact a bidder declares in its bids (``registered_capital``
in 10,000 yuan, ``sweepers``, ``licences``, ``past_contracts``, ``years_in_business``,
``blacklisted``...):

=============  ==========================================  ====================
test           passes when the declared fact ...           value
=============  ==========================================  ====================
``at_least``   is a number >= value                        a number
``at_most``    is a number <= value                        a number
``equals``     is value (numbers compare as numbers)       a number, word, bool
``includes``   is a list of words holding value (or value) a word
``is_true``    is true                                     none
``is_false``   is false                                    none
=============  ==========================================  ====================

A fact the bidder does not declare fails every rule that tests it: the burden of proof lies
with the bidder. Qualification is per bidder: a bidder that fails any rule is excluded with
all its bids, and every rule it fails is listed with a sentence naming the bidder, the rule
and the fact, so the planner can tell the bidder why.

A district type may adjust the rules (:meth:`QualificationRules.for_district_type`): replace a
rule's value (the new-town west requires fewer sweepers), add rules, or remove some.

>>> rules = QualificationRules.model_validate({
...     "rules": [{"id": "min-sweepers", "fact": "sweepers", "test": "at_least", "value": 6,
...                "label": {"zh": "清扫车不少于6台", "en": "At least 6 sweepers"}}],
...     "district_types": {"west": {"replace": {"min-sweepers": 4}}}})
>>> [r.value for r in rules.for_district_type("west")]
[4]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BeforeValidator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    ValidationError,
    model_validator,
)

from decisions.tender.common import DistrictType, Key, Label, ShortId, Strict
from decisions.tender.spec import Fact, TenderSpec, bidder_facts, bidder_name, bidders
from decisions.text import Line, shown

__all__ = [
    "Test",
    "TESTS",
    "Rule",
    "DistrictRules",
    "QualificationRules",
    "Exclusion",
    "Qualification",
    "qualify",
]

Test = Literal["at_least", "at_most", "equals", "includes", "is_false", "is_true"]
TESTS: tuple[str, ...] = get_args(Test)
#: How many rules one set may hold.
MAX_RULES = 100


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"a rule's value must be a finite number, not {shown(value)}")
    return value


RuleValue = Annotated[StrictBool | StrictInt | StrictFloat | Line | None, BeforeValidator(_finite)]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _fmt(value: Any) -> str:
    """A fact or a rule's value as a sentence shows it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, tuple):
        return ", ".join(shown(v) for v in value) if value else "none"
    return shown(value)


class Rule(Strict):
    """One qualification rule: ``fact`` must pass ``test`` (against ``value``)."""

    id: ShortId
    label: Label
    fact: Key
    test: Test
    value: RuleValue = None

    @model_validator(mode="after")
    def _check_value(self) -> Rule:
        if self.test in ("at_least", "at_most") and not _is_number(self.value):
            raise ValueError(
                f"the test {self.test} compares numbers, so value must be a number, "
                f"not {shown(self.value)}"
            )
        if self.test == "equals" and self.value is None:
            raise ValueError("the test equals needs a value to compare the fact with")
        if self.test == "includes" and not isinstance(self.value, str):
            raise ValueError(
                "the test includes looks for a word in a list, so value must be a word, "
                f"not {shown(self.value)}"
            )
        if self.test in ("is_true", "is_false") and self.value is not None:
            raise ValueError(f"the test {self.test} takes no value (got {shown(self.value)})")
        return self

    def requirement(self, lang: str = "en") -> str:
        """What the rule asks, as the end of a sentence: ``requires at least 6``."""
        v = _fmt(self.value)
        en = {
            "at_least": f"requires at least {v}",
            "at_most": f"requires at most {v}",
            "equals": f"requires {v}",
            "includes": f"requires it to include {v}",
            "is_true": "requires it to be true",
            "is_false": "requires it to be false",
        }
        zh = {
            "at_least": f"要求不少于 {v}",
            "at_most": f"要求不超过 {v}",
            "equals": f"要求为 {v}",
            "includes": f"要求包含 {v}",
            "is_true": "要求为“是”",
            "is_false": "要求为“否”",
        }
        return (en if lang == "en" else zh)[self.test]

    def passes(self, facts: Mapping[str, Fact]) -> bool:
        """Whether the declared ``facts`` meet this rule (a missing fact never does)."""
        return self._judge(facts) is None

    def _judge(self, facts: Mapping[str, Fact]) -> tuple[str, str] | None:
        """None if ``facts`` pass; else what was declared, in English and Chinese."""
        if self.fact not in facts:
            return f"does not declare {self.fact}", f"未申报 {self.fact}"
        fact = facts[self.fact]
        declared = f"declares {self.fact}: {_fmt(fact)}", f"申报 {self.fact} 为 {_fmt(fact)}"
        passed: bool
        if self.test in ("at_least", "at_most"):
            if not _is_number(fact):
                return f"{declared[0]}, which is not a number", f"{declared[1]}，不是数字"
            assert isinstance(fact, int | float) and isinstance(self.value, int | float)
            passed = fact >= self.value if self.test == "at_least" else fact <= self.value
        elif self.test in ("is_true", "is_false"):
            if not isinstance(fact, bool):
                return f"{declared[0]}, which is not true or false", f"{declared[1]}，不是是或否"
            passed = fact is (self.test == "is_true")
        elif self.test == "includes":
            if isinstance(fact, str):
                passed = fact == self.value
            elif isinstance(fact, tuple):
                passed = self.value in fact
            else:
                return f"{declared[0]}, which is not a list of words", f"{declared[1]}，不是列表"
        else:
            passed = (
                fact == self.value
                if _is_number(fact) and _is_number(self.value)
                else (type(fact) is type(self.value) and fact == self.value)
            )
        return None if passed else declared


class DistrictRules(Strict):
    """How a district type adjusts the rules: new values for some, rules added or removed."""

    replace: dict[ShortId, RuleValue] = Field(default_factory=dict)
    add: tuple[Rule, ...] = Field(default=(), max_length=MAX_RULES)
    remove: tuple[ShortId, ...] = ()


def _adjusted(
    rules: tuple[Rule, ...], district_type: str, change: DistrictRules
) -> tuple[tuple[Rule, ...], list[str]]:
    """The rules as ``change`` adjusts them, and what is wrong with the change."""
    where = f"district_types.{district_type}"
    known = {rule.id: rule for rule in rules}
    listed = ", ".join(known) or "none"
    problems: list[str] = []
    for verb, ids in (("replace", tuple(change.replace)), ("remove", change.remove)):
        problems += [
            f"{where}.{verb}.{rule_id}: there is no rule {rule_id} to {verb}; "
            f"the rules are {listed}"
            for rule_id in ids
            if rule_id not in known
        ]
    problems += [
        f"{where}.replace.{rule_id}: the rule is also removed; do one or the other"
        for rule_id in change.replace
        if rule_id in change.remove
    ]
    result: list[Rule] = []
    for rule in rules:
        if rule.id in change.remove:
            continue
        if rule.id in change.replace:
            try:
                rule = Rule.model_validate({**rule.model_dump(), "value": change.replace[rule.id]})
            except ValidationError as err:
                message = str(err.errors()[0]["msg"]).removeprefix("Value error, ")
                problems.append(f"{where}.replace.{rule.id}: {message}")
                continue
        result.append(rule)
    present = {rule.id for rule in result}
    for i, rule in enumerate(change.add):
        if rule.id in present:
            problems.append(
                f"{where}.add[{i}].id: there is already a rule {rule.id}; "
                "replace its value instead, or remove it first"
            )
        present.add(rule.id)
        result.append(rule)
    return tuple(result), problems


class QualificationRules(Strict):
    """The qualification rules of a tender class, and how district types adjust them."""

    rules: tuple[Rule, ...] = Field(default=(), max_length=MAX_RULES)
    district_types: dict[DistrictType, DistrictRules] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> QualificationRules:
        problems: list[str] = []
        first: dict[str, int] = {}
        for i, rule in enumerate(self.rules):
            if rule.id in first:
                problems.append(
                    f"rules[{i}].id: rule {rule.id} is listed twice "
                    f"(first at rules[{first[rule.id]}])"
                )
            first.setdefault(rule.id, i)
        if not problems:
            for name, change in self.district_types.items():
                problems += _adjusted(self.rules, name, change)[1]
        if problems:
            more = len(problems) - 1
            raise ValueError(problems[0] + (f" (and {more} more problems)" if more else ""))
        return self

    def for_district_type(self, district_type: str | None = None) -> tuple[Rule, ...]:
        """The rules for ``district_type`` (``east``, ``middle``, ``west``; None for the
        rules as written).

        Raises
        ------
        ValueError
            If ``district_type`` is not one of the district types.
        """
        if district_type is None:
            return self.rules
        if district_type not in get_args(DistrictType):
            raise ValueError(
                f"There is no district type {shown(district_type)}; the district types are "
                f"{', '.join(get_args(DistrictType))}."
            )
        change = self.district_types.get(district_type)  # type: ignore[call-overload]
        return self.rules if change is None else _adjusted(self.rules, district_type, change)[0]


class Exclusion(Strict):
    """One rule one bid fails, because its bidder fails it; ``reason`` is a sentence."""

    bid: str
    bidder: str
    rule: str
    reason: str
    reason_zh: str


class Qualification(Strict):
    """Which bids go on to scoring, and why the others do not."""

    qualified: tuple[str, ...]
    excluded: tuple[Exclusion, ...]

    @property
    def excluded_bidders(self) -> tuple[str, ...]:
        """The bidders excluded, each once, in the order of their first bid."""
        return tuple(dict.fromkeys(e.bidder for e in self.excluded))

    def reasons(self, bidder: str, lang: str = "en") -> tuple[str, ...]:
        """Why ``bidder`` is excluded: one sentence per rule it fails (none if it is not)."""
        return tuple(
            dict.fromkeys(
                e.reason if lang == "en" else e.reason_zh
                for e in self.excluded
                if e.bidder == bidder
            )
        )


def qualify(spec: TenderSpec, rules: Sequence[Rule]) -> Qualification:
    """Test every bidder of ``spec`` against ``rules``.

    Parameters
    ----------
    spec
        The tender.
    rules
        The rules, usually ``QualificationRules.for_district_type(t)``.

    Returns
    -------
    Qualification
        ``qualified``: the bids of bidders that meet every rule, in the order filed;
        ``excluded``: for every bid of every other bidder, one :class:`Exclusion` per rule
        the bidder fails.

    Examples
    --------
    >>> from decisions.tender.spec import parse_tender
    >>> spec = parse_tender('''
    ... lots: [{id: L1, name: 东湖路段, street_office: 东湖街道}]
    ... bids:
    ...   - {id: b1, bidder: jiejing, bidder_name: Jiejing Cleaning Co., lots: [L1],
    ...      prices: {L1: 1200000}, plan: two shifts, qualifications: {sweepers: 3}}
    ... ''', source="tender.yaml")
    >>> rule = Rule(id="min-sweepers", fact="sweepers", test="at_least", value=6,
    ...             label={"zh": "清扫车不少于6台", "en": "At least 6 sweepers"})
    >>> print(qualify(spec, [rule]).excluded[0].reason)  # doctest: +NORMALIZE_WHITESPACE
    Bidder Jiejing Cleaning Co. (jiejing) declares sweepers: 3; rule min-sweepers
    (At least 6 sweepers) requires at least 6.
    """
    failures: dict[str, list[tuple[Rule, str, str]]] = {}
    for bidder in bidders(spec):
        facts = bidder_facts(spec, bidder)
        name = bidder_name(spec, bidder)
        for rule in rules:
            if (declared := rule._judge(facts)) is not None:
                en = (
                    f"Bidder {name} ({bidder}) {declared[0]}; rule {rule.id} "
                    f"({rule.label.en}) {rule.requirement('en')}."
                )
                zh = (
                    f"投标人 {name}（{bidder}）{declared[1]}；规则 {rule.id}"
                    f"（{rule.label.zh}）{rule.requirement('zh')}。"
                )
                failures.setdefault(bidder, []).append((rule, en, zh))
    return Qualification(
        qualified=tuple(bid.id for bid in spec.bids if bid.bidder not in failures),
        excluded=tuple(
            Exclusion(bid=bid.id, bidder=bid.bidder, rule=rule.id, reason=en, reason_zh=zh)
            for bid in spec.bids
            for rule, en, zh in failures.get(bid.bidder, ())
        ),
    )
