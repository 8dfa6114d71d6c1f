"""The verifiable random draw of tender evaluators (experts.draw)."""

from __future__ import annotations

import doctest
import hashlib
import math
import re
from collections import Counter
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import experts.draw
from experts.draw import (
    ALGORITHM,
    Draw,
    DrawError,
    PoolMember,
    commitment,
    draw_order,
    draw_panel,
    draw_seed,
    eligible_pool,
    pool_digest,
    replace,
    verify_draw,
    with_replacements,
)

SERVER_SEED = hashlib.sha256(b"server-seed-for-tests").hexdigest()
WITNESS = "notary-2026-0042"
SETTINGS: dict[str, Any] = {
    "panel_size": 7,
    "alternates": 4,
    "lots": {"lot-1": 3, "lot-2": 3, "lot-3": 2},
    "max_lots_per_evaluator": 2,
}


def seed_of(n: int) -> str:
    """A server seed derived deterministically from an integer."""
    return hashlib.sha256(f"test-server-seed-{n}".encode()).hexdigest()


@pytest.fixture
def pool() -> tuple[PoolMember, ...]:
    """Forty eligible experts with scores between 0.5 and 0.89."""
    return tuple(
        PoolMember(id=f"E{i:03}", organisation=f"Org-{i}", score=0.5 + i / 100) for i in range(40)
    )


def draw(pool: tuple[PoolMember, ...], **changes: Any) -> Draw:
    """A draw with the test settings, overridden by ``changes``."""
    kwargs: dict[str, Any] = {"server_seed": SERVER_SEED, "witness": WITNESS, **SETTINGS}
    kwargs.update(changes)
    return draw_panel(pool, **kwargs)


def verify(members: tuple[PoolMember, ...], recorded: Draw, **changes: Any) -> list[str]:
    """verify_draw with the test settings and the honest record, overridden by ``changes``."""
    kwargs: dict[str, Any] = {
        "server_seed": SERVER_SEED,
        "commitment_hex": commitment(SERVER_SEED),
        "witness": WITNESS,
        "pool": members,
        "recorded": recorded,
        **SETTINGS,
    }
    kwargs.update(changes)
    return verify_draw(**kwargs)


def test_doctests() -> None:
    """The module's examples run as written."""
    failed, attempted = doctest.testmod(experts.draw)
    assert attempted > 0
    assert failed == 0


def test_commitment_is_sha256_of_the_seed() -> None:
    """The commitment is the SHA-256 hex digest of the seed's UTF-8 bytes."""
    assert commitment(SERVER_SEED) == hashlib.sha256(SERVER_SEED.encode()).hexdigest()


def test_pool_digest_ignores_order_but_not_scores(pool: tuple[PoolMember, ...]) -> None:
    """The digest does not depend on the pool's order, but changes with any score."""
    assert pool_digest(pool) == pool_digest(reversed(pool))
    changed = (pool[0].model_copy(update={"score": pool[0].score + 0.01}), *pool[1:])
    assert pool_digest(changed) != pool_digest(pool)


def test_pool_digest_canonical_json() -> None:
    """The digest is of the documented JSON text, non-ASCII ids written as themselves."""
    members = [PoolMember(id="专家-2", score=0.75), PoolMember(id="E1")]
    text = '[{"id":"E1","score":1.0},{"id":"专家-2","score":0.75}]'
    assert pool_digest(members) == hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_draw_seed_is_documented_hash() -> None:
    """The draw seed hashes algorithm, server seed, witness and digest joined by newlines."""
    text = f"{ALGORITHM}\n{SERVER_SEED}\n{WITNESS}\n{'ab' * 32}"
    assert draw_seed(SERVER_SEED, WITNESS, "ab" * 32) == hashlib.sha256(text.encode()).hexdigest()
    assert draw_seed(SERVER_SEED, WITNESS, "ab" * 32, "counsel-draw-sha256/2") != draw_seed(
        SERVER_SEED, WITNESS, "ab" * 32
    )


def test_same_inputs_give_the_same_draw(pool: tuple[PoolMember, ...]) -> None:
    """The same pool, seed and witness give the same draw, whatever the pool's order."""
    assert draw(pool) == draw(pool[::-1])


def test_panel_and_alternates_follow_the_order(pool: tuple[PoolMember, ...]) -> None:
    """The panel is the order's head and the alternates the ids right after it."""
    d = draw(pool)
    assert d.panel == d.order[:7]
    assert d.alternates == d.order[7:11]
    assert sorted(d.order) == sorted(m.id for m in pool)
    assert {len(members) for members in d.lots.values()} == {2, 3}
    assert all(set(members) <= set(d.panel) for members in d.lots.values())


def test_different_witnesses_give_different_orders(pool: tuple[PoolMember, ...]) -> None:
    """Twenty witness values give twenty different draw orders."""
    orders = {draw(pool, witness=f"notary-{n}", lots={}).order for n in range(20)}
    assert len(orders) == 20


def test_draw_order_is_sorted_by_hash_keys() -> None:
    """The order sorts ids by SHA-256 of seed, newline and id."""
    members = [PoolMember(id=f"E{i}") for i in range(10)]
    keys = {m.id: hashlib.sha256(f"s\n{m.id}".encode()).hexdigest() for m in members}
    assert draw_order(members, "s") == tuple(sorted(keys, key=keys.__getitem__))


@pytest.mark.parametrize("mode", ["random", "fair", "optimal"])
def test_unchanged_replay_verifies(pool: tuple[PoolMember, ...], mode: str) -> None:
    """Replaying an untouched record finds no mismatch, in every assignment mode."""
    assert verify(pool, draw(pool, mode=mode)) == []


def _add_member(pool: tuple[PoolMember, ...]) -> dict[str, Any]:
    return {"pool": (*pool, PoolMember(id="E999"))}


def _remove_member(pool: tuple[PoolMember, ...]) -> dict[str, Any]:
    return {"pool": pool[1:]}


def _change_score(pool: tuple[PoolMember, ...]) -> dict[str, Any]:
    return {"pool": (pool[0].model_copy(update={"score": 0.2}), *pool[1:])}


def _other_seed(pool: tuple[PoolMember, ...]) -> dict[str, Any]:
    return {"server_seed": seed_of(1)}


def _other_seed_recommitted(pool: tuple[PoolMember, ...]) -> dict[str, Any]:
    return {"server_seed": seed_of(1), "commitment_hex": commitment(seed_of(1))}


def _other_witness(pool: tuple[PoolMember, ...]) -> dict[str, Any]:
    return {"witness": WITNESS + "1"}


@pytest.mark.parametrize(
    ("change", "sentence"),
    [
        (_add_member, "The pool's digest differs from the one recorded"),
        (_remove_member, "The pool's digest differs from the one recorded"),
        (_change_score, "The pool's digest differs from the one recorded"),
        (_other_seed, "The revealed server seed does not match the commitment"),
        (_other_seed_recommitted, "The draw seed differs from the one recorded"),
        (_other_witness, "The draw seed differs from the one recorded"),
    ],
    ids=["add", "remove", "score", "seed", "seed-recommitted", "witness"],
)
def test_any_change_to_the_inputs_is_a_mismatch(
    pool: tuple[PoolMember, ...], change: Any, sentence: str
) -> None:
    """Changing the pool, a score, the server seed or the witness makes the replay fail."""
    problems = verify(pool, draw(pool), **change(pool))
    assert any(p.startswith(sentence) for p in problems), problems


def test_unknown_algorithm_is_a_mismatch(pool: tuple[PoolMember, ...]) -> None:
    """A record naming an algorithm this code does not know is reported, not replayed."""
    recorded = draw(pool).model_copy(update={"algorithm": "counsel-draw-sha256/2"})
    (problem,) = verify(pool, recorded)
    assert problem.startswith("The draw's algorithm 'counsel-draw-sha256/2' is not one")


@pytest.mark.parametrize(
    ("field", "sentence"),
    [
        ("seed", "The draw seed differs"),
        ("order", "The recorded draw order differs from the replay at position 1"),
        ("panel", "The recorded panel differs from the replay at position 1"),
        ("alternates", "The recorded alternates differ from the replay at position 1"),
        ("lots", "The recorded lot assignment differs from the replay for 'lot-1'"),
    ],
)
def test_a_tampered_record_is_a_mismatch(
    pool: tuple[PoolMember, ...], field: str, sentence: str
) -> None:
    """Altering the recorded seed, order, panel, alternates or lots is reported by name."""
    honest = draw(pool)
    tampered: dict[str, Any] = {
        "seed": "0" * 64,
        "order": (honest.order[1], honest.order[0], *honest.order[2:]),
        "panel": (honest.alternates[0], *honest.panel[1:]),
        "alternates": honest.alternates[::-1],
        "lots": {**honest.lots, "lot-1": honest.panel[-3:]}
        if honest.lots["lot-1"] != honest.panel[-3:]
        else {**honest.lots, "lot-1": honest.panel[:3]},
    }
    problems = verify(pool, honest.model_copy(update={field: tampered[field]}))
    assert [p for p in problems if p.startswith(sentence)], problems


def test_mode_is_replayed_from_the_record(pool: tuple[PoolMember, ...]) -> None:
    """A record whose mode was changed after the draw no longer matches its lots."""
    honest = draw(pool, mode="optimal")
    problems = verify(pool, honest.model_copy(update={"mode": "random", "max_probability": 0.5}))
    assert any(p.startswith("The recorded lot assignment differs") for p in problems), problems


@given(
    st.lists(
        st.tuples(st.sampled_from([None, "A", "B", "C"]), st.integers(0, 9), st.booleans()),
        min_size=1,
        max_size=30,
    ),
    st.one_of(st.none(), st.integers(1, 3)),
)
def test_conflicted_experts_are_never_eligible(
    rows: list[tuple[str | None, int, bool]], per_organisation: int | None
) -> None:
    """No conflicted expert is in the pool, hence drawn; no organisation exceeds its share."""
    candidates = [
        PoolMember(id=f"E{n}", organisation=org, score=score / 10)
        for n, (org, score, _) in enumerate(rows)
    ]
    conflicted = {f"E{n}": "has an interest in a bidder" for n, row in enumerate(rows) if row[2]}
    pool, excluded = eligible_pool(
        candidates, conflicted=conflicted, per_organisation=per_organisation
    )
    ids = [m.id for m in pool]
    assert ids == sorted(ids)
    assert not set(ids) & set(conflicted)
    assert set(ids) | set(excluded) == {m.id for m in candidates}
    assert not set(ids) & set(excluded)
    per_org = Counter(m.organisation for m in pool if m.organisation is not None)
    if per_organisation is not None:
        assert all(count <= per_organisation for count in per_org.values())
    assert all(m.id in ids for m in candidates if m.organisation is None and m.id not in conflicted)
    if pool:
        d = draw_panel(
            pool,
            server_seed=SERVER_SEED,
            witness=WITNESS,
            panel_size=len(pool),
            alternates=0,
            lots={},
            max_lots_per_evaluator=1,
        )
        assert not set(d.panel) & set(conflicted)


def test_eligible_pool_keeps_the_best_of_an_organisation() -> None:
    """Per organisation the highest score is kept and the rest are excluded with a reason."""
    pool, excluded = eligible_pool(
        [
            PoolMember(id="E1", organisation="Tongji", score=0.7),
            PoolMember(id="E2", organisation="Tongji", score=0.9),
            PoolMember(id="E3", organisation="Tongji", score=0.9),
        ],
        conflicted={},
    )
    assert [m.id for m in pool] == ["E2"]
    assert excluded == {
        "E1": "another expert of organisation Tongji is in the pool",
        "E3": "another expert of organisation Tongji is in the pool",
    }


def test_panel_frequency_is_uniform() -> None:
    """Over 4,000 seeded draws each of 20 experts sits on a 5-panel in 25% ± 2.74% of them.

    Each expert is on the panel with probability p = 5/20 = 0.25, so its frequency over
    N = 4,000 independent draws has standard deviation sqrt(p(1-p)/N) = 0.00685; the
    tolerance is 4 of those, 0.0274 (a fair draw exceeds it for one of the 20 experts with
    probability about 20 x 6.3e-5 = 0.13%; the seeds are fixed, so the test is deterministic).
    """
    members = tuple(PoolMember(id=f"E{i:02}", score=0.5 + i / 40) for i in range(20))
    n, k = 4_000, 5
    counts: Counter[str] = Counter()
    for i in range(n):
        d = draw_panel(
            members,
            server_seed=seed_of(i),
            witness=f"witness-{i}",
            panel_size=k,
            alternates=0,
            lots={},
            max_lots_per_evaluator=1,
        )
        counts.update(d.panel)
    p = k / len(members)
    tolerance = 4 * math.sqrt(p * (1 - p) / n)
    assert round(tolerance, 4) == 0.0274
    for m in members:
        assert abs(counts[m.id] / n - p) <= tolerance, (m.id, counts[m.id] / n)


def test_random_mode_caps_each_lot_probability() -> None:
    """Over 2,000 draws no evaluator reaches a lot in more than 40% + 4.38% of them.

    The whole pool of 6 is the panel, so only the lot assignment is random. The cap is 0.4;
    a pair drawn with probability at most 0.4 exceeds 0.4 + 4 sqrt(0.4 x 0.6 / 2,000) =
    0.4438 with probability below 4e-5 (the seeds are fixed, so the test is deterministic).
    The best-scored experts would take the lots every time without the cap; with it their
    pairs are drawn close to 0.4 (above 0.35), so the cap is what binds.
    """
    members = tuple(PoolMember(id=f"E{i}", score=1.0 - i / 10) for i in range(6))
    lots = {"lot-A": 2, "lot-B": 1}
    n = 2_000
    pairs: Counter[tuple[str, str]] = Counter()
    for i in range(n):
        d = draw_panel(
            members,
            server_seed=seed_of(i),
            witness=f"witness-{i}",
            panel_size=6,
            alternates=0,
            lots=lots,
            max_lots_per_evaluator=1,
            max_probability=0.4,
        )
        pairs.update((lot, member) for lot, chosen in d.lots.items() for member in chosen)
    tolerance = 4 * math.sqrt(0.4 * 0.6 / n)
    assert round(tolerance, 4) == 0.0438
    frequencies = {pair: count / n for pair, count in pairs.items()}
    assert max(frequencies.values()) <= 0.4 + tolerance, frequencies
    assert max(frequencies.values()) > 0.35, frequencies


def test_a_large_pool_draws_a_panel_for_many_lots() -> None:
    """A pool of 300 gives a panel of 10 covering 8 lots of 3 evaluators each."""
    members = tuple(PoolMember(id=f"E{i:03}", score=(i % 17) / 17) for i in range(300))
    d = draw_panel(
        members,
        server_seed=SERVER_SEED,
        witness=WITNESS,
        panel_size=10,
        alternates=5,
        lots={f"lot-{j}": 3 for j in range(8)},
        max_lots_per_evaluator=3,
    )
    assert sorted(len(v) for v in d.lots.values()) == [3] * 8
    assert max(Counter(m for v in d.lots.values() for m in v).values()) <= 3


def test_replacement_follows_the_draw_order(pool: tuple[PoolMember, ...]) -> None:
    """Declined panel members, in panel order, get the next alternates not declined."""
    d = draw(pool)
    declined = [d.panel[4], d.alternates[0], d.panel[1]]
    assert replace(d, declined) == {d.panel[1]: d.alternates[1], d.panel[4]: d.alternates[2]}
    assert list(replace(d, declined)) == [d.panel[1], d.panel[4]]


def test_replacement_takes_over_the_lots(pool: tuple[PoolMember, ...]) -> None:
    """The replacement sits where the declined member sat, on the same lots."""
    d = draw(pool)
    member = d.lots["lot-1"][0]
    replacements = replace(d, [member])
    after = with_replacements(d, replacements)
    substitute = replacements[member]
    assert after.panel[d.panel.index(member)] == substitute
    assert substitute not in after.alternates
    for lot, chosen in d.lots.items():
        assert (substitute in after.lots[lot]) == (member in chosen)
        assert member not in after.lots[lot]


def test_replacements_are_verifiable(pool: tuple[PoolMember, ...]) -> None:
    """Recorded replacements replay; a different replacement is reported."""
    d = draw(pool)
    declined = [d.panel[2], d.panel[0]]
    honest = replace(d, declined)
    assert verify(pool, d, declined=declined, recorded_replacements=honest) == []
    wrong = {**honest, d.panel[0]: d.alternates[3]}
    problems = verify(pool, d, declined=declined, recorded_replacements=wrong)
    assert len(problems) == 1
    assert problems[0].startswith(
        f"The recorded replacements differ from the replay ({d.panel[0]!r}"
    )


def test_running_out_of_alternates_is_refused(pool: tuple[PoolMember, ...]) -> None:
    """When every alternate is used or declined, replacing one more member is refused."""
    d = draw(pool, alternates=2)
    with pytest.raises(DrawError, match=r"^The draw has no alternate left to replace '"):
        replace(d, [*d.panel[:2], d.alternates[0]])


def test_declining_someone_not_drawn_is_refused(pool: tuple[PoolMember, ...]) -> None:
    """An id neither on the panel nor an alternate cannot decline."""
    with pytest.raises(DrawError, match="is neither on the panel nor an alternate"):
        replace(draw(pool), ["E999"])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"panel_size": 41}, "The pool has 40 eligible experts, fewer than the 41"),
        ({"panel_size": 0}, "The panel must have at least 1 evaluator, not 0."),
        ({"alternates": -1}, "The number of alternates must not be negative, not -1."),
        ({"lots": {"lot-1": 8}}, "Lot 'lot-1' needs 8 evaluators, more than the panel's 7."),
        ({"lots": {"lot-1": 5, "lot-2": 5}, "max_lots_per_evaluator": 1}, "The lots need 10"),
        ({"lots": {"lot-1": 5}, "max_probability": 0.5}, "The panel cannot cover the lots: "),
        ({"max_probability": 0.0}, "The max probability must be above 0 and at most 1"),
        ({"server_seed": "XYZ"}, "The server seed must be 64 lowercase hexadecimal digits."),
        ({"witness": ""}, "The witness value is empty"),
        ({"algorithm": "counsel-draw-sha256/0"}, "The draw algorithm 'counsel-draw-sha256/0'"),
    ],
)
def test_impossible_draws_are_refused(
    pool: tuple[PoolMember, ...], changes: dict[str, Any], message: str
) -> None:
    """A draw that cannot be made as asked raises a DrawError sentence saying why."""
    with pytest.raises(DrawError, match="^" + re.escape(message)):
        draw(pool, **changes)


def test_a_duplicated_pool_member_is_refused(pool: tuple[PoolMember, ...]) -> None:
    """A pool listing the same expert twice is refused."""
    with pytest.raises(DrawError, match="The pool lists expert 'E000' twice"):
        draw((*pool, pool[0]))


def test_alternates_stop_at_the_end_of_the_pool(pool: tuple[PoolMember, ...]) -> None:
    """With fewer experts left than alternates asked for, all of them are alternates."""
    d = draw(pool, alternates=100)
    assert d.alternates == d.order[7:]
