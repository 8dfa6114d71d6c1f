"""The audit chain's hashing and verification, on rows held in memory."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from decisions.audit import (
    GENESIS_HASH,
    Anchor,
    canonical_json,
    event_hash,
    verify_chain,
)


def build_chain(n: int) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    previous = GENESIS_HASH
    for seq in range(1, n + 1):
        payload = canonical_json(
            {"n": seq, "名": "王芳", "answer": {"ratings": {"cost": seq % 9 + 1}}}
        )
        fields = (
            seq,
            f"2026-11-26T07:00:{seq % 60:02d}.000000Z",
            f"actor-{seq % 3}",
            "task.answered.opinion",
            "D-2026-0001" if seq % 2 else None,
            f"key-{seq}" if seq % 4 else None,
            payload,
        )
        digest = event_hash(previous, *fields)
        rows.append((*fields, previous, digest))
        previous = digest
    return rows


def test_intact_chain_verifies_with_its_head() -> None:
    """An untouched chain verifies and reports its count and head hash."""
    rows = build_chain(20)
    report = verify_chain(rows)
    assert report.ok and report.count == 20 and report.head_hash == rows[-1][8]
    assert verify_chain(rows, anchor=report.anchor).ok


def test_empty_chain_verifies() -> None:
    """No events is a valid chain with the genesis hash as head."""
    report = verify_chain([])
    assert report.ok and report.count == 0 and report.head_hash == GENESIS_HASH


def test_canonical_json_is_stable_and_keeps_scripts() -> None:
    """Key order and spacing never change the text; Chinese stays readable."""
    assert canonical_json({"b": 1, "a": ["王", (1, 2)]}) == '{"a":["王",[1,2]],"b":1}'


def test_changed_payload_byte_is_named() -> None:
    """Changing one byte of a payload breaks the chain at that event."""
    rows = build_chain(10)
    row = list(rows[4])
    row[6] = row[6].replace('"n":5', '"n":6')
    rows[4] = tuple(row)
    report = verify_chain(rows)
    assert (report.ok, report.first_bad_seq) == (False, 5)
    assert report.reason == "event 5 was altered: its content no longer matches its hash"


def test_deleted_middle_row_is_named() -> None:
    """Removing an event shows as a gap at the missing sequence number."""
    rows = build_chain(10)
    del rows[3]
    report = verify_chain(rows)
    assert (report.first_bad_seq, report.reason) == (
        4,
        "event 4 is missing: the chain jumps from event 3 to 5",
    )


def test_truncated_tail_needs_and_finds_the_anchor() -> None:
    """A cut-off end verifies alone but fails against the anchored head."""
    rows = build_chain(10)
    anchor = verify_chain(rows).anchor
    assert verify_chain(rows[:7]).ok
    report = verify_chain(rows[:7], anchor=anchor)
    assert not report.ok
    assert "ends at event 7 but was anchored at 10 events: 3 event(s) are missing" in report.reason


def test_rewritten_chain_fails_against_the_anchor() -> None:
    """A chain recomputed from scratch with different content does not match the anchor."""
    anchor = verify_chain(build_chain(10)).anchor
    forged = build_chain(12)
    row = list(forged[0])
    row[2] = "forger"
    forged[0] = (*row[:7], GENESIS_HASH, event_hash(GENESIS_HASH, *row[:7]))
    previous = forged[0][8]
    for i in range(1, len(forged)):
        fields = forged[i][:7]
        forged[i] = (*fields, previous, event_hash(previous, *fields))
        previous = forged[i][8]
    assert verify_chain(forged).ok
    report = verify_chain(forged, anchor=anchor)
    assert (report.ok, report.first_bad_seq) == (False, 10)
    assert "does not match the anchored head hash" in report.reason


def test_separator_smuggled_into_a_field_is_caught() -> None:
    """Moving bytes between fields with the separator cannot keep a hash valid."""
    rows = build_chain(3)
    seq, at, actor, action, decision, key, payload, prev, digest = rows[1]
    # actor "actor-2" + action "task…" rewritten so that the joined text is unchanged
    forged = (
        seq,
        at,
        actor + "\x1f" + action[:4],
        action[5:],
        decision,
        key,
        payload,
        prev,
        digest,
    )
    rows[1] = forged
    assert not verify_chain(rows).ok


FIELD_NAMES = [
    "seq",
    "recorded_at",
    "actor",
    "action",
    "decision_id",
    "key",
    "payload",
    "prev",
    "hash",
]


@st.composite
def mutation(draw: st.DrawFn) -> tuple[int, int, Any]:
    n = draw(st.integers(min_value=1, max_value=12))
    index = draw(st.integers(min_value=0, max_value=n - 1))
    field = draw(st.integers(min_value=0, max_value=8))
    if field == 0:
        value: Any = draw(st.integers(min_value=-5, max_value=40))
    elif field in (4, 5):
        value = draw(st.one_of(st.none(), st.text(max_size=12)))
    elif field == 6:
        value = draw(st.text(max_size=30))
    else:
        value = draw(st.text(max_size=70))
    return n, index, (field, value)


@settings(max_examples=400, deadline=None)
@given(mutation())
def test_any_single_mutation_of_any_row_is_detected(case: tuple[int, int, Any]) -> None:
    """Whatever field of whatever stored event changes, verification fails."""
    n, index, (field, value) = case
    rows = build_chain(n)
    row = list(rows[index])
    if row[field] == value:
        return  # not a mutation
    row[field] = value
    rows[index] = tuple(row)
    rows.sort(key=lambda r: r[0])  # the store always reads in seq order
    anchor = Anchor(count=n, head_hash=build_chain(n)[-1][8])
    assert not verify_chain(rows, anchor=anchor).ok
