"""The tender a planner files: lots (cleaning responsibility zones) and the bids on them.

A lot is a zone of roads of one street office, contracted as a whole. A bid is one bidder's
offer for one or more lots, with a price per lot (yuan per year), a summary of its technical
plan and the facts the bidder declares about itself (registered capital, sweepers, licences,
past contracts, whether it is blacklisted...), which the qualification rules
(:mod:`.rules`) test. Bidders are organisations: their ids follow the rule of an actor's
affiliation (:data:`decisions.model.actors.ACTOR_ID_PATTERN`).

A tender arrives as YAML or JSON text (:func:`parse_tender`); a mistake is refused with one
sentence naming the field, e.g. ``tender.yaml: bids[2].prices.L1: missing; bid b3 is on lot
L1, so it needs a price for it.`` Indexes count from 0, as in JSON paths.

>>> spec = parse_tender('''
... lots: [{id: L1, name: 东湖路段, street_office: 东湖街道}]
... bids:
...   - {id: b1, bidder: jiejing, bidder_name: 洁净环卫有限公司, lots: [L1],
...      prices: {L1: 1200000}, plan: 两班制机扫加人工保洁, qualifications: {sweepers: 6}}
... ''', source="tender.yaml")
>>> bidders(spec), spec.bids[0].prices["L1"]
(('jiejing',), Decimal('1200000'))
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any

import yaml
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    model_validator,
)

from decisions.model.actors import ACTOR_ID_PATTERN
from decisions.tender.common import Key, ShortId, Strict
from decisions.tender.exceptions import InvalidTender
from decisions.text import LINE_MAX, Line, LongText, Name, checked_text, shown

__all__ = [
    "MAX_LOTS",
    "MAX_BIDS",
    "MAX_TENDER_CHARS",
    "Fact",
    "Lot",
    "Bid",
    "TenderSpec",
    "parse_tender",
    "bidders",
    "bidder_facts",
    "bidder_name",
]

MAX_LOTS = 50
MAX_BIDS = 500
#: The longest tender text read: 500 bids with a few pages of plan each.
MAX_TENDER_CHARS = 12_000_000
#: How many facts one bid may declare.
MAX_FACTS = 50


def _check_bidder(value: str) -> str:
    if not ACTOR_ID_PATTERN.match(value):
        raise ValueError(
            "a bidder is an organisation's id: 2-63 lowercase letters, digits, dots, dashes "
            f"or underscores starting with a letter or digit, not {shown(value)}"
        )
    return value


BidderId = Annotated[str, AfterValidator(_check_bidder)]
#: How many words a declared list (of licences, say) may hold.
MAX_FACT_ITEMS = 50


def _word(value: str) -> str:
    return checked_text(value, what="the declared text", limit=LINE_MAX)


def _check_fact(value: Any) -> bool | int | float | str | tuple[str, ...]:
    """A declared fact as it is kept; a list becomes a tuple, text is checked like a line."""
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"a declared number must be finite, not {shown(value)}")
        return value
    if isinstance(value, str):
        return _word(value)
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        if len(value) > MAX_FACT_ITEMS:
            raise ValueError(f"a declared list holds at most {MAX_FACT_ITEMS} items")
        return tuple(_word(v) for v in value)
    raise ValueError(
        f"a declared fact is a number, true or false, a word or a list of words, not {shown(value)}"
    )


#: A declared fact: a number, true or false, a word or a list of words (licences).
Fact = Annotated[
    StrictBool | StrictInt | StrictFloat | StrictStr | tuple[StrictStr, ...],
    BeforeValidator(_check_fact),
]
#: Yuan per year, to the fen.
Price = Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=2)]


class Lot(Strict):
    """A cleaning responsibility zone of one street office, contracted as a whole."""

    id: ShortId
    name: Name = Field(min_length=1)
    street_office: Name = Field(min_length=1)
    description: Line | None = None


class Bid(Strict):
    """One bidder's offer for one or more lots, with a price for each (yuan per year).

    Whether ``prices`` names exactly the lots bid on is checked by :class:`TenderSpec`,
    which knows the lots.
    """

    id: ShortId
    bidder: BidderId
    bidder_name: Name = Field(min_length=1)
    lots: tuple[ShortId, ...] = Field(min_length=1, max_length=MAX_LOTS)
    prices: dict[ShortId, Price] = Field(min_length=1, max_length=MAX_LOTS)
    plan: LongText = Field(min_length=1)
    qualifications: dict[Key, Fact] = Field(default_factory=dict, max_length=MAX_FACTS)


def _problems(spec: TenderSpec) -> list[tuple[str, str]]:
    """What is wrong across the lots and bids, each as (key path, what is wrong)."""
    problems: list[tuple[str, str]] = []
    lot_at: dict[str, int] = {}
    for i, lot in enumerate(spec.lots):
        if lot.id in lot_at:
            problems.append(
                (f"lots[{i}].id", f"lot {lot.id} is listed twice (first at lots[{lot_at[lot.id]}])")
            )
        lot_at.setdefault(lot.id, i)
    known = ", ".join(lot_at)
    bid_at: dict[str, int] = {}
    name_at: dict[str, tuple[str, int]] = {}
    fact_at: dict[tuple[str, str], tuple[Any, int]] = {}
    lot_of_bidder: dict[tuple[str, str], str] = {}
    for i, bid in enumerate(spec.bids):
        where = f"bids[{i}]"
        if bid.id in bid_at:
            problems.append(
                (f"{where}.id", f"bid {bid.id} is listed twice (first at bids[{bid_at[bid.id]}])")
            )
        bid_at.setdefault(bid.id, i)
        named, first = name_at.setdefault(bid.bidder, (bid.bidder_name, i))
        if named != bid.bidder_name:
            problems.append(
                (
                    f"{where}.bidder_name",
                    f"bidder {bid.bidder} is named {shown(named)} in bids[{first}], "
                    f"not {shown(bid.bidder_name)}",
                )
            )
        seen: set[str] = set()
        for j, lot_id in enumerate(bid.lots):
            if lot_id not in lot_at:
                problems.append(
                    (f"{where}.lots[{j}]", f"there is no lot {shown(lot_id)}; the lots are {known}")
                )
            elif lot_id in seen:
                problems.append((f"{where}.lots[{j}]", f"lot {lot_id} is listed twice"))
            elif (other := lot_of_bidder.get((bid.bidder, lot_id))) is not None:
                problems.append(
                    (
                        f"{where}.lots[{j}]",
                        f"bidder {bid.bidder} already bids on lot {lot_id} in bid {other}; "
                        "a bidder makes one bid per lot",
                    )
                )
            seen.add(lot_id)
            lot_of_bidder.setdefault((bid.bidder, lot_id), bid.id)
        problems += [
            (
                f"{where}.prices.{lot_id}",
                f"missing; bid {bid.id} is on lot {lot_id}, so it needs a price for it",
            )
            for lot_id in dict.fromkeys(bid.lots)
            if lot_id in lot_at and lot_id not in bid.prices
        ]
        problems += [
            (
                f"{where}.prices.{lot_id}",
                f"bid {bid.id} is not on lot {lot_id}; give prices only for the lots it bids on",
            )
            for lot_id in bid.prices
            if lot_id not in seen
        ]
        for key, value in bid.qualifications.items():
            declared, first = fact_at.setdefault((bid.bidder, key), (value, i))
            if not _same(declared, value):
                problems.append(
                    (
                        f"{where}.qualifications.{key}",
                        f"bidder {bid.bidder} declares {shown(value)} here but "
                        f"{shown(declared)} in bids[{first}]; a bidder's facts are the same "
                        "in all its bids",
                    )
                )
    return problems


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same kind: ``True`` is not ``1``."""
    return type(a) is type(b) and bool(a == b)


def _more(count: int) -> str:
    """`` (and 2 more problems)`` after the first of ``count + 1`` problems."""
    return f" (and {count} more problem{'s' if count > 1 else ''})" if count else ""


class TenderSpec(Strict):
    """The lots of a tender and the bids on them.

    Lot ids and bid ids are unique; every bid's lots exist, and its prices are exactly for
    the lots it bids on; a bidder makes one bid per lot, under one name, declaring the same
    facts in all its bids.
    """

    lots: tuple[Lot, ...] = Field(min_length=1, max_length=MAX_LOTS)
    bids: tuple[Bid, ...] = Field(min_length=1, max_length=MAX_BIDS)

    @model_validator(mode="after")
    def _check_consistency(self) -> TenderSpec:
        if problems := _problems(self):
            # one problem a line, ``path: what``; parse_tender reads them back apart
            raise ValueError("\n".join(f"{path}: {what}" for path, what in problems))
        return self

    def to_json(self) -> str:
        """The tender as JSON; :meth:`model_validate_json` reads it back equal."""
        return self.model_dump_json()

    def lot(self, lot_id: str) -> Lot:
        """The lot ``lot_id``; ``KeyError`` if there is none."""
        for lot in self.lots:
            if lot.id == lot_id:
                return lot
        raise KeyError(lot_id)

    def bid(self, bid_id: str) -> Bid:
        """The bid ``bid_id``; ``KeyError`` if there is none."""
        for bid in self.bids:
            if bid.id == bid_id:
                return bid
        raise KeyError(bid_id)

    def bids_on(self, lot_id: str) -> tuple[Bid, ...]:
        """The bids on lot ``lot_id``, in the order they were filed."""
        return tuple(bid for bid in self.bids if lot_id in bid.lots)


def bidders(spec: TenderSpec) -> tuple[str, ...]:
    """The organisations that bid, each once, in the order of their first bid."""
    return tuple(dict.fromkeys(bid.bidder for bid in spec.bids))


def bidder_name(spec: TenderSpec, bidder: str) -> str:
    """The name a bidder bids under; ``KeyError`` if it did not bid."""
    for bid in spec.bids:
        if bid.bidder == bidder:
            return bid.bidder_name
    raise KeyError(bidder)


def bidder_facts(spec: TenderSpec, bidder: str) -> Mapping[str, Fact]:
    """Everything a bidder declares, over all its bids (which never contradict each other)."""
    facts: dict[str, Fact] = {}
    for bid in spec.bids:
        if bid.bidder == bidder:
            facts.update(bid.qualifications)
    return facts


# -- reading a tender's text ---------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """Safe YAML without aliases: ``*name`` could make a few lines expand to gigabytes."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in a tender", event.start_mark
            )
        return super().compose_node(parent, index)


def _path(loc: tuple[Any, ...]) -> str:
    """``("bids", 2, "prices", "L1")`` as ``bids[2].prices.L1``."""
    text = ""
    for part in loc:
        if part == "[key]":
            continue
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _describe(error: Any) -> list[tuple[str, str]]:
    """One pydantic error as (key path, what is wrong) pairs: the cross checks of
    :class:`TenderSpec` come as one error with a line per problem, each naming its field."""
    path = _path(tuple(error["loc"]))
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "is not a field of a tender (check the spelling)"
    elif error["type"] == "missing":
        message = "missing"
    elif error["type"] != "value_error" and "input" in error:
        message = f"{message} (got {shown(error['input'])})"
    if path or error["type"] != "value_error":
        return [(path, message)]
    return [
        (where, what) for where, _, what in (line.partition(": ") for line in message.splitlines())
    ]


def _read(text: str, source: str) -> Any:
    if len(text) > MAX_TENDER_CHARS:
        raise InvalidTender(
            f"{source} is {len(text):,} characters long; a tender is at most {MAX_TENDER_CHARS:,}.",
            source=source,
        )
    if text.lstrip().startswith(("{", "[")):
        try:
            return json.loads(text)
        except json.JSONDecodeError as err:
            raise InvalidTender(
                f"{source} is not valid JSON at line {err.lineno}, column {err.colno}: {err.msg}.",
                source=source,
            ) from err
    try:
        return yaml.load(text, Loader=_Loader)  # a SafeLoader without aliases
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        raise InvalidTender(
            f"{source} is not valid YAML{where}: {problem}.", source=source
        ) from err


def parse_tender(text: str, *, source: str) -> TenderSpec:
    """Read a tender from YAML or JSON ``text``; ``source`` names it in refusals.

    Parameters
    ----------
    text
        The tender: a mapping with ``lots`` and ``bids`` (JSON if it starts with ``{``).
    source
        What the planner calls the text, usually its file name.

    Returns
    -------
    TenderSpec

    Raises
    ------
    InvalidTender
        With one sentence naming the source, the first field at fault and what is wrong,
        e.g. ``tender.yaml: bids[0].prices.L1: Input should be greater than 0 (got -5).``;
        ``problems`` lists every problem found.
    """
    raw = _read(text, source)
    if not isinstance(raw, dict):
        raise InvalidTender(
            f"{source} must be a mapping with 'lots' and 'bids' at the top, not {shown(raw)}.",
            source=source,
        )
    try:
        return TenderSpec.model_validate(raw)
    except ValidationError as err:
        errors = err.errors()
        # a list whose items failed is also "too short"; the items' errors say why
        errors = [
            e
            for e in errors
            if e["type"] != "too_short"
            or not any(o["loc"][: len(e["loc"])] == e["loc"] and o is not e for o in errors)
        ]
        described = [pair for e in errors for pair in _describe(e)]
        lines = tuple(f"{path}: {what}" if path else what for path, what in described)
        raise InvalidTender(
            f"{source}: {lines[0].rstrip('.')}{_more(len(lines) - 1)}.",
            source=source,
            key_path=described[0][0] or None,
            problems=lines,
        ) from err
