"""Personal links: a token opens exactly what it was signed for, until it expires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from decisions.links import (
    INBOX_LINK_DAYS,
    REFUSAL,
    BadLink,
    inbox_token,
    read_link,
    task_token,
    task_url,
)

SECRET = "store-secret"
NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
DEADLINE = NOW + timedelta(days=3)


def test_a_task_link_opens_its_task_for_its_person_until_the_deadline() -> None:
    token = task_token(SECRET, "D-2026-0001-T03", "wang-fang", DEADLINE)
    grant = read_link(SECRET, token, now=NOW)
    assert (grant.scope, grant.actor_id, grant.task_id) == ("task", "wang-fang", "D-2026-0001-T03")
    assert (
        read_link(SECRET, token, now=DEADLINE - timedelta(seconds=1)).task_id == "D-2026-0001-T03"
    )
    with pytest.raises(BadLink, match=REFUSAL):
        read_link(SECRET, token, now=DEADLINE)


def test_an_inbox_link_lasts_a_month_and_names_no_task() -> None:
    token = inbox_token(SECRET, "wang-fang", now=NOW)
    grant = read_link(SECRET, token, now=NOW + timedelta(days=INBOX_LINK_DAYS - 1))
    assert (grant.scope, grant.actor_id, grant.task_id) == ("inbox", "wang-fang", None)
    with pytest.raises(BadLink):
        read_link(SECRET, token, now=NOW + timedelta(days=INBOX_LINK_DAYS))


def test_another_stores_link_is_refused() -> None:
    token = task_token("other-store", "D-2026-0001-T03", "wang-fang", DEADLINE)
    with pytest.raises(BadLink, match=REFUSAL):
        read_link(SECRET, token, now=NOW)


def test_a_link_whose_claims_were_rewritten_is_refused() -> None:
    """Swapping in another task's claims under the first link's signature fails."""
    mine = task_token(SECRET, "D-2026-0001-T03", "wang-fang", DEADLINE)
    theirs = task_token(SECRET, "D-2026-0001-T04", "li-wei", DEADLINE)
    forged = theirs.split(".")[0] + "." + mine.split(".")[1]
    with pytest.raises(BadLink, match=REFUSAL):
        read_link(SECRET, forged, now=NOW)


@given(st.text(max_size=300))
def test_any_other_text_is_refused_with_the_same_sentence(text: str) -> None:
    with pytest.raises(BadLink) as refused:
        read_link(SECRET, text, now=NOW)
    assert str(refused.value) == REFUSAL


@given(st.integers(min_value=0, max_value=200), st.sampled_from("AZaz09-_."))
def test_changing_any_character_of_a_link_breaks_it(position: int, char: str) -> None:
    token = task_token(SECRET, "D-2026-0001-T03", "wang-fang", DEADLINE)
    i = position % len(token)
    if token[i] == char:
        return
    with pytest.raises(BadLink):
        read_link(SECRET, token[:i] + char + token[i + 1 :], now=NOW)


def test_links_point_at_the_answer_page() -> None:
    assert (
        task_url("https://counsel.example.cn/", "abc.def") == "https://counsel.example.cn/t/abc.def"
    )
