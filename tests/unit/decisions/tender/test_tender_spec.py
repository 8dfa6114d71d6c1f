"""Reading a tender: what a planner is told about a mistake, and what round-trips."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from decisions.exceptions import CounselError
from decisions.tender import InvalidTender, TenderSpec, bidder_facts, bidders, parse_tender


def tender(**changes: Any) -> dict[str, Any]:
    """A valid two-lot tender as data, with ``changes`` applied to its top level."""
    data: dict[str, Any] = {
        "lots": [
            {"id": "L1", "name": "东湖路段", "street_office": "东湖街道"},
            {"id": "L2", "name": "西城街巷", "street_office": "西城街道"},
        ],
        "bids": [
            {
                "id": "b1",
                "bidder": "jiejing",
                "bidder_name": "洁净环卫服务有限公司",
                "lots": ["L1", "L2"],
                "prices": {"L1": 100, "L2": 200},
                "plan": "两班制",
                "qualifications": {"sweepers": 6, "licences": ["road-sanitation"]},
            },
            {
                "id": "b2",
                "bidder": "lvyuan",
                "bidder_name": "绿源城市环境管理有限公司",
                "lots": ["L1"],
                "prices": {"L1": 90},
                "plan": "机扫为主",
            },
        ],
    }
    data.update(changes)
    return data


def parse(data: Any) -> TenderSpec:
    return parse_tender(yaml.safe_dump(data, allow_unicode=True), source="tender.yaml")


def refusal(data: Any) -> InvalidTender:
    with pytest.raises(InvalidTender) as caught:
        parse(data)
    return caught.value


def bid(i: int, **changes: Any) -> list[dict[str, Any]]:
    """The bids of :func:`tender` with ``changes`` to bid ``i``."""
    bids = tender()["bids"]
    bids[i] = {**bids[i], **changes}
    return bids


def test_a_valid_tender_parses_with_prices_as_decimals() -> None:
    """A valid tender parses; prices are decimals and bidders are listed once each."""
    spec = parse(tender())
    assert spec.bids[0].prices == {"L1": Decimal(100), "L2": Decimal(200)}
    assert bidders(spec) == ("jiejing", "lvyuan")
    assert spec.bids[0].qualifications["licences"] == ("road-sanitation",)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (tender(bids=bid(0, prices={"L1": 100})), r"bids\[0\]\.prices\.L2: missing; bid b1 is on"),
        (
            tender(bids=bid(1, prices={"L1": 90, "L2": 5})),
            r"bids\[1\]\.prices\.L2: bid b2 is not on lot L2",
        ),
        (
            tender(bids=bid(1, prices={"L1": -5})),
            r"bids\[1\]\.prices\.L1: Input should be greater than 0 \(got -5\)",
        ),
        (tender(bids=bid(1, lots=["L9"])), r"bids\[1\]\.lots\[0\]: there is no lot 'L9'"),
        (tender(bids=bid(1, lots=[])), r"bids\[1\]\.lots: .*at least 1 item"),
        (tender(bids=bid(1, id="b1")), r"bids\[1\]\.id: bid b1 is listed twice"),
        (tender(bids=bid(1, bidder="Not An Id")), r"bids\[1\]\.bidder: a bidder is .*'Not An Id'"),
        (tender(bids=bid(1, colour="red")), r"bids\[1\]\.colour: is not a field of a tender"),
        (tender(bids=bid(1, plan=None)), r"bids\[1\]\.plan: Input should be a valid string"),
        (
            tender(bids=bid(1, qualifications={"sweepers": {"a": 1}})),
            r"bids\[1\]\.qualifications\.sweepers: a declared fact is a number",
        ),
        (
            tender(bids=bid(1, bidder="jiejing", bidder_name="洁净", lots=["L2"])),
            r"bids\[1\]\.bidder_name: bidder jiejing is named '洁净环卫服务有限公司' in bids\[0\]",
        ),
        (
            tender(bids=bid(1, bidder="jiejing", bidder_name="洁净环卫服务有限公司")),
            r"bids\[1\]\.lots\[0\]: bidder jiejing already bids on lot L1 in bid b1",
        ),
        (
            tender(
                bids=bid(
                    1,
                    bidder="jiejing",
                    bidder_name="洁净环卫服务有限公司",
                    lots=["L2"],
                    prices={"L2": 1},
                    qualifications={"sweepers": 7},
                )
            ),
            r"bids\[1\]\.qualifications\.sweepers: bidder jiejing declares 7 here but 6",
        ),
        (tender(lots=[]), r"lots: .*at least 1 item"),
        ([1, 2], r"must be a mapping with 'lots' and 'bids'"),
    ],
)
def test_a_mistake_is_one_sentence_naming_the_field(data: Any, expected: str) -> None:
    """Each mistake is refused with a sentence that starts with the source and names the field."""
    err = refusal(data)
    assert str(err).startswith("tender.yaml")
    assert str(err).endswith(".")
    assert "Traceback" not in str(err)
    assert any(re.search(expected, p) for p in (str(err), *err.problems))


def test_the_refusal_is_a_counsel_error_with_the_key_path() -> None:
    """The CLI turns a CounselError into a sentence; the first field at fault is kept."""
    err = refusal(tender(bids=bid(0, prices={"L1": 100})))
    assert isinstance(err, CounselError) and isinstance(err, ValueError)
    assert err.key_path == "bids[0].prices.L2"


def test_every_problem_is_listed_and_counted() -> None:
    """Several problems are all kept, and the sentence says how many more there are."""
    err = refusal(tender(bids=bid(1, id="b1", prices={"L1": 90, "L3": 1})))
    assert len(err.problems) == 2
    assert "(and 1 more problem)" in str(err)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("lots: [", r"tender.yaml is not valid YAML at line 1"),
        ('{"lots": 3', r"tender.yaml is not valid JSON at line 1, column 11"),
        ("a: &x [1]\nb: *x\n", r"aliases \(\*name\) are not allowed"),
    ],
)
def test_unreadable_text_is_refused_with_where(text: str, expected: str) -> None:
    """Text that is not YAML or JSON is refused with the line and column."""
    with pytest.raises(InvalidTender, match=expected):
        parse_tender(text, source="tender.yaml")


def test_json_text_is_read_too() -> None:
    """A tender in JSON reads the same as in YAML."""
    spec = parse(tender())
    assert parse_tender(spec.to_json(), source="tender.json") == spec


def test_a_bidders_facts_are_merged_over_its_bids() -> None:
    """A bidder's facts are everything it declares in any of its bids."""
    bids = tender()["bids"] + [
        {
            "id": "b3",
            "bidder": "jiejing",
            "bidder_name": "洁净环卫服务有限公司",
            "lots": ["L1"],
            "prices": {"L1": 1},
            "plan": "p",
            "qualifications": {"blacklisted": False},
        }
    ]
    bids[0] = {**bids[0], "lots": ["L2"], "prices": {"L2": 200}}
    spec = parse(tender(bids=bids))
    assert dict(bidder_facts(spec, "jiejing")) == {
        "sweepers": 6,
        "licences": ("road-sanitation",),
        "blacklisted": False,
    }


facts = st.dictionaries(
    st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True),
    st.one_of(
        st.booleans(),
        st.integers(-(10**9), 10**9),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(st.characters(categories=["L", "N"]), max_size=20),
        st.lists(st.text(st.characters(categories=["L"]), max_size=8), max_size=4),
    ),
    max_size=6,
)
prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999999"), places=2)


@given(facts=facts, price=prices)
def test_round_trip_through_json(facts: dict[str, Any], price: Decimal) -> None:
    """Any valid tender survives to_json and model_validate(_json) unchanged."""
    data = tender(bids=bid(1, qualifications=facts, prices={"L1": str(price)}))
    spec = TenderSpec.model_validate(data)
    assert TenderSpec.model_validate_json(spec.to_json()) == spec
    assert TenderSpec.model_validate(spec.model_dump(mode="json")) == spec
