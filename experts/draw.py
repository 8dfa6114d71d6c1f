"""The verifiable random draw of a tender's evaluation panel (algorithm ``counsel-draw-sha256/1``).

Chinese tendering practice draws the evaluators of a tender at random from the expert
database, among the experts of the right speciality, leaving out anyone with an interest in
a bidder. Counsel makes the draw verifiable: nobody, operator included, can choose its
outcome, and anyone holding the record can replay it. This docstring is the public
description of the algorithm; everything below is enough to re-implement it.

Conventions: every string is hashed as its UTF-8 bytes; ``SHA-256(x)`` is written as 64
lowercase hexadecimal digits; ``"\\n"`` is the single byte 0x0A; "sorted" means by Unicode
code point (as Python compares strings).

The steps, in the order a tender takes them:

1. **Commit.** The server draws a secret *server seed*, 64 lowercase hex digits
   (``secrets.token_hex(32)``), and publishes only ``SHA-256(server seed)``
   (:func:`commitment`) in the audit chain, before the pool is fixed.
2. **Fix the pool.** The eligible experts (:func:`eligible_pool`: conflicted experts out, at
   most ``per_organisation`` per organisation) are recorded, each with an id and a score
   (its relevance to the tender's speciality). The *pool digest* (:func:`pool_digest`) is
   ``SHA-256`` of the JSON text of the list ``[{"id": ..., "score": ...}, ...]``, one object
   per member, sorted by id, keys in that order, no whitespace (separators ``,`` and
   ``:``), non-ASCII characters written as themselves (not ``\\u`` escapes), each score a
   JSON number written as Python writes a float: the shortest decimal that reads back as
   the same IEEE-754 double, always with a fraction or an exponent (``1.0``, ``0.75``,
   ``1e-05``). For example the pool {E1: 1.0, E2: 0.5} is
   ``[{"id":"E1","score":1.0},{"id":"E2","score":0.5}]``. The organisation is not part of
   the digest (it only decided who is eligible).
3. **Witness.** A witness (a notary) enters a value after the pool is fixed. The caller
   normalises it (strips surrounding white space); this module uses it verbatim and refuses
   an empty one.
4. **Seed.** The *draw seed* (:func:`draw_seed`) is
   ``SHA-256(algorithm + "\\n" + server seed + "\\n" + witness + "\\n" + pool digest)``,
   ``algorithm`` being :data:`ALGORITHM`. The server could not choose it (it committed to
   its seed before it knew the witness's value) and neither could the witness (it does not
   know the server seed).
5. **Order.** Each pool member gets the key ``SHA-256(draw seed + "\\n" + id)``; the *draw
   order* (:func:`draw_order`) lists the ids by key ascending (as hex strings, which is the
   same as numerically), ties by id. Keys of distinct ids are independent and uniform for a
   hash modelled as a random oracle, so the order is a uniformly random permutation of the
   pool; a tie would need a SHA-256 collision.
6. **Panel and alternates.** The *panel* is the first ``panel_size`` ids of the order; the
   *alternates* are the next ``alternates`` (fewer if the pool runs out), in order.
7. **Lots.** The panel is assigned to the tender's lots (each lot needing a number of
   evaluators, no evaluator on more than ``max_lots_per_evaluator`` lots) by the batch
   assignment of :mod:`experts.assignment`, with the pairs ``(lot, member, member's score)``
   for every lot and panel member, in lot id order then panel order:

   * ``"random"``: :func:`~experts.assignment.assign_random` with ``seed`` = the draw seed
     and the cap ``max_probability`` (algorithm ``counsel-dependent-rounding-sha256/1``,
     documented in :mod:`experts.assignment.randomized`): no member reaches a given lot with
     probability above the cap;
   * ``"fair"``: :func:`~experts.assignment.assign_fair` (the worst-served lot first);
   * ``"optimal"``: :func:`~experts.assignment.assign_experts` (the greatest total score).

   Each lot's evaluators are listed in panel order. The fair and optimal modes are
   deterministic; where several assignments are equally good, the one chosen is fixed by
   the version of OR-Tools (and for the fair mode SciPy), so replay on the same versions.
   (The fair mode's exact search stops after 10 s per programme; a panel of tens of
   members over a few lots settles in well under a second.)
8. **Replacements.** A panel member who declines or turns out to be conflicted is replaced
   (:func:`replace`): declined members are taken in panel order, each by the first
   alternate in order not yet used and not declined; the replacement takes over the
   declined member's lots (:func:`with_replacements`).
9. **Reveal and check.** The server seed is revealed; :func:`verify_draw` (behind
   ``counsel audit check-draw``) checks it against the commitment, recomputes the digest,
   seed, order, panel, alternates, lots and replacements, and says in sentences what
   differs.

Everything here is pure: strings, members and counts in, a :class:`Draw` out; nothing is
read, written, logged or taken from a clock or a random source.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Literal

from pydantic import BaseModel, Field

from experts.assignment import Assignment, assign_experts, assign_fair, assign_random
from experts.exceptions import ExpertsError, InfeasibleAssignment

__all__ = [
    "ALGORITHM",
    "KNOWN_ALGORITHMS",
    "DrawError",
    "PoolMember",
    "Draw",
    "commitment",
    "pool_digest",
    "draw_seed",
    "draw_order",
    "draw_panel",
    "replace",
    "with_replacements",
    "verify_draw",
    "eligible_pool",
]

#: The name and version of the draw; a change to any rule above gets a new version.
ALGORITHM = "counsel-draw-sha256/1"

#: The algorithm versions this code can draw and replay.
KNOWN_ALGORITHMS: tuple[str, ...] = (ALGORITHM,)

_SERVER_SEED = re.compile(r"[0-9a-f]{64}")


class DrawError(ExpertsError, ValueError):
    """A panel cannot be drawn, or a replacement found, as asked; the message says why."""


class PoolMember(BaseModel, frozen=True):
    """An eligible expert: id, organisation (if any) and relevance to the tender's speciality.

    The score weighs the lot assignment (step 7 of the module docstring); it must be finite.
    """

    id: str
    organisation: str | None = None
    score: float = Field(default=1.0, allow_inf_nan=False)


class Draw(BaseModel, frozen=True):
    """A drawn panel and everything needed to check it.

    ``order`` is the whole pool in draw order; ``panel`` and ``alternates`` are its first
    ids; ``lots`` gives each lot's evaluators (in panel order); ``max_probability`` is the
    random mode's cap (``None`` in the other modes).
    """

    algorithm: str
    seed: str
    pool_digest: str
    order: tuple[str, ...]
    panel: tuple[str, ...]
    alternates: tuple[str, ...]
    lots: dict[str, tuple[str, ...]]
    mode: Literal["random", "fair", "optimal"]
    max_probability: float | None


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def commitment(server_seed: str) -> str:
    """The commitment to a server seed: ``SHA-256`` of its UTF-8 bytes, in hex.

    Examples
    --------
    >>> commitment("0" * 64)[:16]
    '60e05bd1b195af2f'
    """
    return _sha256(server_seed)


def _unique(pool: Iterable[PoolMember]) -> list[PoolMember]:
    members = sorted(pool, key=lambda m: m.id)
    for a, b in zip(members, members[1:], strict=False):
        if a.id == b.id:
            raise DrawError(f"The pool lists expert {a.id!r} twice; each expert may be in it once.")
    return members


def pool_digest(pool: Iterable[PoolMember]) -> str:
    """The pool's digest: ``SHA-256`` of its canonical JSON (step 2 of the module docstring).

    Raises
    ------
    DrawError
        If an id appears twice.

    Examples
    --------
    >>> pool_digest([PoolMember(id="E2", score=0.5), PoolMember(id="E1")]) == hashlib.sha256(
    ...     b'[{"id":"E1","score":1.0},{"id":"E2","score":0.5}]').hexdigest()
    True
    """
    rows = [{"id": m.id, "score": float(m.score)} for m in _unique(pool)]
    text = json.dumps(rows, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return _sha256(text)


def draw_seed(server_seed: str, witness: str, digest: str, algorithm: str = ALGORITHM) -> str:
    """The draw seed: ``SHA-256`` of algorithm, server seed, witness and digest, joined by "\\n".

    Exactly ``SHA-256(algorithm + "\\n" + server_seed + "\\n" + witness + "\\n" + digest)``
    over the UTF-8 bytes, in lowercase hex.

    Parameters
    ----------
    server_seed : str
        The server's secret seed, 64 lowercase hex digits, committed to beforehand.
    witness : str
        The witness's value, used verbatim (the caller strips it).
    digest : str
        The pool digest (:func:`pool_digest`).
    algorithm : str
        The algorithm version, :data:`ALGORITHM` by default.

    Examples
    --------
    >>> s = draw_seed("0" * 64, "notary-7391", "ab" * 32)
    >>> s == hashlib.sha256(("counsel-draw-sha256/1\\n" + "0" * 64 + "\\nnotary-7391\\n"
    ...                      + "ab" * 32).encode()).hexdigest()
    True
    """
    return _sha256(f"{algorithm}\n{server_seed}\n{witness}\n{digest}")


def draw_order(pool: Iterable[PoolMember], seed: str) -> tuple[str, ...]:
    """The pool's ids in draw order: by ``SHA-256(seed + "\\n" + id)`` ascending, then by id.

    Examples
    --------
    >>> pool = [PoolMember(id=f"E{i}") for i in range(5)]
    >>> order = draw_order(pool, "ab" * 32)
    >>> sorted(order) == sorted(m.id for m in pool), order == draw_order(pool[::-1], "ab" * 32)
    (True, True)
    """
    ids = [m.id for m in _unique(pool)]
    return tuple(sorted(ids, key=lambda i: (_sha256(f"{seed}\n{i}"), i)))


def _check_counts(
    pool_size: int,
    panel_size: int,
    alternates: int,
    lots: Mapping[str, int],
    max_lots_per_evaluator: int,
) -> None:
    if panel_size < 1:
        raise DrawError(f"The panel must have at least 1 evaluator, not {panel_size}.")
    if alternates < 0:
        raise DrawError(f"The number of alternates must not be negative, not {alternates}.")
    if pool_size < panel_size:
        raise DrawError(
            f"The pool has {pool_size} eligible experts, fewer than the {panel_size} the panel "
            "needs; widen the speciality or lower the panel size."
        )
    for lot, need in lots.items():
        if need < 0:
            raise DrawError(f"Lot {lot!r} must not need a negative number of evaluators ({need}).")
        if need > panel_size:
            raise DrawError(
                f"Lot {lot!r} needs {need} evaluators, more than the panel's {panel_size}."
            )
    if lots and max_lots_per_evaluator < 1:
        raise DrawError(
            f"Each evaluator must be allowed at least 1 lot, not {max_lots_per_evaluator}."
        )
    total = sum(lots.values())
    if total > panel_size * max_lots_per_evaluator:
        raise DrawError(
            f"The lots need {total} evaluations in all, but {panel_size} evaluators with at "
            f"most {max_lots_per_evaluator} lot(s) each can make only "
            f"{panel_size * max_lots_per_evaluator}; enlarge the panel or allow more lots "
            "per evaluator."
        )


def _assign_lots(
    panel: tuple[str, ...],
    scores: Mapping[str, float],
    *,
    seed: str,
    lots: Mapping[str, int],
    max_lots_per_evaluator: int,
    mode: str,
    max_probability: float | None,
) -> dict[str, tuple[str, ...]]:
    lot_ids = sorted(lots)
    if not lot_ids:
        return {}
    rows = [(lot, member, scores[member]) for lot in lot_ids for member in panel]
    per_item = {lot: int(lots[lot]) for lot in lot_ids}
    try:
        assignment: Assignment
        if mode == "random":
            assert max_probability is not None
            assignment = assign_random(
                rows,
                seed=seed,
                per_item=per_item,
                max_load=max_lots_per_evaluator,
                max_probability=max_probability,
            )
        elif mode == "fair":
            assignment = assign_fair(rows, per_item=per_item, max_load=max_lots_per_evaluator)
        elif mode == "optimal":
            assignment = assign_experts(rows, per_item=per_item, max_load=max_lots_per_evaluator)
        else:
            raise DrawError(
                f"The assignment mode must be 'random', 'fair' or 'optimal', not {mode!r}."
            )
    except InfeasibleAssignment as err:
        raise DrawError(f"The panel cannot cover the lots: {err}") from err
    except ValueError as err:
        if isinstance(err, DrawError):
            raise
        raise DrawError(f"The panel cannot be assigned to the lots: {err}") from err
    position = {member: n for n, member in enumerate(panel)}
    return {
        lot: tuple(
            sorted((a.expert for a in assignment.by_item.get(lot, ())), key=position.__getitem__)
        )
        for lot in lot_ids
    }


def draw_panel(
    pool: Iterable[PoolMember],
    *,
    server_seed: str,
    witness: str,
    panel_size: int,
    alternates: int,
    lots: Mapping[str, int],
    max_lots_per_evaluator: int,
    mode: Literal["random", "fair", "optimal"] = "random",
    max_probability: float = 0.5,
    algorithm: str = ALGORITHM,
) -> Draw:
    """Draw a panel, its alternates and its lots from a fixed pool (steps 4-7 of the module).

    Parameters
    ----------
    pool : iterable of PoolMember
        The eligible experts, as recorded (order does not matter; ids must be unique).
    server_seed : str
        The committed server seed, 64 lowercase hex digits.
    witness : str
        The witness's value, already normalised; used verbatim, must not be empty.
    panel_size : int
        Evaluators on the panel, at least 1 and at most the pool's size.
    alternates : int
        Alternates to draw after the panel (fewer if the pool has fewer left), at least 0.
    lots : mapping of lot id to int
        Evaluators each lot needs; may be empty (no lot assignment).
    max_lots_per_evaluator : int
        Most lots any panel member evaluates.
    mode : {"random", "fair", "optimal"}
        How the panel is assigned to the lots (step 7 of the module docstring).
    max_probability : float
        The random mode's cap on any member's probability of reaching a given lot.
    algorithm : str
        The algorithm version; one of :data:`KNOWN_ALGORITHMS`.

    Returns
    -------
    Draw
        The draw, with everything :func:`verify_draw` compares.

    Raises
    ------
    DrawError
        If the pool is smaller than the panel, a count is invalid, the lots cannot be
        covered (under the cap in the random mode), the server seed is not 64 lowercase hex
        digits, the witness is empty, or the algorithm is unknown.

    Examples
    --------
    >>> pool = [PoolMember(id=f"E{i:02}", score=0.5 + i / 100) for i in range(30)]
    >>> d = draw_panel(pool, server_seed="0" * 64, witness="notary-7391", panel_size=5,
    ...                alternates=2, lots={"lot-1": 2, "lot-2": 2}, max_lots_per_evaluator=1)
    >>> len(d.panel), len(d.alternates), sorted(len(v) for v in d.lots.values())
    (5, 2, [2, 2])
    >>> d.order[:5] == d.panel and set(d.lots["lot-1"]).isdisjoint(d.lots["lot-2"])
    True
    """
    if algorithm not in KNOWN_ALGORITHMS:
        raise DrawError(
            f"The draw algorithm {algorithm!r} is not one this version of Counsel knows "
            f"({', '.join(KNOWN_ALGORITHMS)})."
        )
    if not _SERVER_SEED.fullmatch(server_seed):
        raise DrawError("The server seed must be 64 lowercase hexadecimal digits.")
    if not witness:
        raise DrawError("The witness value is empty; the witness must enter a value.")
    if mode == "random" and not (0 < max_probability <= 1):  # also refuses NaN
        raise DrawError(
            f"The max probability must be above 0 and at most 1, not {max_probability}."
        )
    members = _unique(pool)
    _check_counts(len(members), panel_size, alternates, lots, max_lots_per_evaluator)
    digest = pool_digest(members)
    seed = draw_seed(server_seed, witness, digest, algorithm)
    order = draw_order(members, seed)
    panel = order[:panel_size]
    scores = {m.id: m.score for m in members}
    assigned = _assign_lots(
        panel,
        scores,
        seed=seed,
        lots=lots,
        max_lots_per_evaluator=max_lots_per_evaluator,
        mode=mode,
        max_probability=max_probability if mode == "random" else None,
    )
    return Draw(
        algorithm=algorithm,
        seed=seed,
        pool_digest=digest,
        order=order,
        panel=panel,
        alternates=order[panel_size : panel_size + alternates],
        lots=assigned,
        mode=mode,
        max_probability=max_probability if mode == "random" else None,
    )


def replace(draw: Draw, declined: Iterable[str]) -> dict[str, str]:
    """Who replaces each declined (or conflicted) panel member: the next unused alternate.

    Declined panel members are taken in panel order; each gets the first alternate, in draw
    order, not already used and not declined itself. Declined alternates are only skipped.

    Parameters
    ----------
    draw : Draw
        The draw.
    declined : iterable of str
        Ids of panel members and alternates who declined or are conflicted.

    Returns
    -------
    dict of str to str
        ``{declined panel member: replacement}``, in panel order.

    Raises
    ------
    DrawError
        If an id is neither on the panel nor an alternate, or the alternates run out.

    Examples
    --------
    >>> d = Draw(algorithm=ALGORITHM, seed="s", pool_digest="p", order=("A", "B", "C", "D"),
    ...          panel=("A", "B"), alternates=("C", "D"), lots={}, mode="random",
    ...          max_probability=0.5)
    >>> replace(d, ["B", "C", "A"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    experts.draw.DrawError: The draw has no alternate left to replace 'B': ...
    >>> replace(d, ["B", "C"])
    {'B': 'D'}
    """
    out = set(declined)
    known = set(draw.panel) | set(draw.alternates)
    unknown = sorted(out - known)
    if unknown:
        raise DrawError(
            f"{', '.join(map(repr, unknown))} is neither on the panel nor an alternate of "
            "this draw, so cannot decline it."
        )
    free = [a for a in draw.alternates if a not in out]
    result: dict[str, str] = {}
    for member in draw.panel:
        if member not in out:
            continue
        if not free:
            raise DrawError(
                f"The draw has no alternate left to replace {member!r}: "
                f"{len(draw.alternates)} were drawn and all are used or declined. "
                "Draw a new panel, or more alternates."
            )
        result[member] = free.pop(0)
    return result


def with_replacements(draw: Draw, replacements: Mapping[str, str]) -> Draw:
    """The draw after replacements: each replacement takes its member's panel place and lots.

    Replacements leave the alternates; the order, seed and digest are those of the draw.

    Examples
    --------
    >>> d = Draw(algorithm=ALGORITHM, seed="s", pool_digest="p", order=("A", "B", "C"),
    ...          panel=("A", "B"), alternates=("C",), lots={"lot-1": ("B",)}, mode="fair",
    ...          max_probability=None)
    >>> e = with_replacements(d, {"B": "C"})
    >>> e.panel, e.alternates, e.lots
    (('A', 'C'), (), {'lot-1': ('C',)})
    """

    def sub(members: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(replacements.get(m, m) for m in members)

    used = set(replacements.values())
    return draw.model_copy(
        update={
            "panel": sub(draw.panel),
            "alternates": tuple(a for a in draw.alternates if a not in used),
            "lots": {lot: sub(members) for lot, members in draw.lots.items()},
        }
    )


def _first_difference(recorded: tuple[str, ...], replayed: tuple[str, ...]) -> str:
    for n, (a, b) in enumerate(zip(recorded, replayed, strict=False), start=1):
        if a != b:
            return f"at position {n} (recorded {a!r}, replayed {b!r})"
    return f"in length (recorded {len(recorded)}, replayed {len(replayed)})"


def verify_draw(
    *,
    server_seed: str,
    commitment_hex: str,
    witness: str,
    pool: Iterable[PoolMember],
    recorded: Draw,
    declined: Iterable[str] = (),
    recorded_replacements: Mapping[str, str] | None = None,
    panel_size: int,
    alternates: int,
    lots: Mapping[str, int],
    max_lots_per_evaluator: int,
) -> list[str]:
    """Replay a draw from its record and say, in sentences, everything that does not match.

    The assignment mode and cap are the recorded draw's; everything else is recomputed from
    the revealed server seed, the witness's value and the recorded pool.

    Parameters
    ----------
    server_seed : str
        The revealed server seed.
    commitment_hex : str
        The commitment recorded in the audit chain before the pool was fixed.
    witness : str
        The witness's value as recorded (normalised).
    pool : iterable of PoolMember
        The pool as recorded.
    recorded : Draw
        The draw as recorded.
    declined : iterable of str
        Members recorded as declining or conflicted after the draw.
    recorded_replacements : mapping of str to str, optional
        The replacements recorded (none by default).
    panel_size, alternates, lots, max_lots_per_evaluator
        As recorded, as for :func:`draw_panel`.

    Returns
    -------
    list of str
        One sentence per mismatch; empty when the draw is confirmed.

    Examples
    --------
    >>> pool = [PoolMember(id=f"E{i}") for i in range(8)]
    >>> args = dict(panel_size=3, alternates=2, lots={"lot-1": 1}, max_lots_per_evaluator=1)
    >>> d = draw_panel(pool, server_seed="1" * 64, witness="w-42", **args)
    >>> verify_draw(server_seed="1" * 64, commitment_hex=commitment("1" * 64), witness="w-42",
    ...             pool=pool, recorded=d, **args)
    []
    >>> verify_draw(server_seed="1" * 64, commitment_hex=commitment("1" * 64), witness="w-43",
    ...             pool=pool, recorded=d, **args)[0]  # doctest: +ELLIPSIS
    "The draw seed differs from the one recorded: the server seed, the witness's value, ..."
    """
    problems: list[str] = []
    members = list(pool)
    if commitment(server_seed) != commitment_hex.strip().lower():
        problems.append(
            "The revealed server seed does not match the commitment recorded before the pool "
            "was fixed."
        )
    try:
        digest = pool_digest(members)
    except DrawError as err:
        return [*problems, f"The recorded pool cannot be digested: {err}"]
    if digest != recorded.pool_digest:
        problems.append(
            "The pool's digest differs from the one recorded: the pool (its members or their "
            "scores) is not the pool the draw was made from."
        )
    if recorded.algorithm not in KNOWN_ALGORITHMS:
        problems.append(
            f"The draw's algorithm {recorded.algorithm!r} is not one this version of Counsel "
            f"knows ({', '.join(KNOWN_ALGORITHMS)}), so the draw cannot be replayed."
        )
        return problems
    if recorded.mode == "random" and recorded.max_probability is None:
        return [*problems, "The draw is recorded in the random mode without its max probability."]
    try:
        replay = draw_panel(
            members,
            server_seed=server_seed,
            witness=witness,
            panel_size=panel_size,
            alternates=alternates,
            lots=lots,
            max_lots_per_evaluator=max_lots_per_evaluator,
            mode=recorded.mode,
            max_probability=recorded.max_probability or 0.5,
            algorithm=recorded.algorithm,
        )
    except DrawError as err:
        return [*problems, f"The draw cannot be replayed: {err}"]
    if replay.seed != recorded.seed:
        problems.append(
            "The draw seed differs from the one recorded: the server seed, the witness's "
            "value, the pool or the algorithm is not what the draw was made from."
        )
    if replay.order != recorded.order:
        problems.append(
            "The recorded draw order differs from the replay "
            f"{_first_difference(recorded.order, replay.order)}."
        )
    if replay.panel != recorded.panel:
        problems.append(
            "The recorded panel differs from the replay "
            f"{_first_difference(recorded.panel, replay.panel)}."
        )
    if replay.alternates != recorded.alternates:
        problems.append(
            "The recorded alternates differ from the replay "
            f"{_first_difference(recorded.alternates, replay.alternates)}."
        )
    if replay.lots != recorded.lots:
        differing = sorted(
            lot
            for lot in set(replay.lots) | set(recorded.lots)
            if replay.lots.get(lot) != recorded.lots.get(lot)
        )
        problems.append(
            "The recorded lot assignment differs from the replay for "
            f"{', '.join(map(repr, differing))}."
        )
    try:
        replacements = replace(replay, declined)
    except DrawError as err:
        problems.append(f"The replacements cannot be replayed: {err}")
    else:
        recorded_map = dict(recorded_replacements or {})
        if replacements != recorded_map:
            wrong = sorted(
                m
                for m in set(replacements) | set(recorded_map)
                if replacements.get(m) != recorded_map.get(m)
            )
            detail = "; ".join(
                f"{m!r}: recorded {recorded_map.get(m)!r}, replayed {replacements.get(m)!r}"
                for m in wrong
            )
            problems.append(f"The recorded replacements differ from the replay ({detail}).")
    return problems


def eligible_pool(
    candidates: Iterable[PoolMember],
    *,
    conflicted: Mapping[str, str],
    per_organisation: int | None = 1,
) -> tuple[tuple[PoolMember, ...], dict[str, str]]:
    """The eligible pool: conflicted candidates out, at most ``per_organisation`` per organisation.

    Parameters
    ----------
    candidates : iterable of PoolMember
        The experts of the right speciality (ids unique).
    conflicted : mapping of id to reason
        Candidates with an interest in a bidder, and why; they are left out.
    per_organisation : int or None
        Most members from one organisation, the highest scores kept (then the smallest
        ids); ``None`` for no limit. Members with no organisation are never limited.

    Returns
    -------
    tuple
        The pool, sorted by id, and ``{id: reason}`` for each candidate left out (by id).

    Raises
    ------
    DrawError
        If a candidate appears twice or ``per_organisation`` is below 1.

    Examples
    --------
    >>> pool, out = eligible_pool(
    ...     [PoolMember(id="E1", organisation="Tongji", score=0.9),
    ...      PoolMember(id="E2", organisation="Tongji", score=0.7),
    ...      PoolMember(id="E3", score=0.8)],
    ...     conflicted={"E1": "declared an interest in bidder B-2"})
    >>> [m.id for m in pool], out
    (['E2', 'E3'], {'E1': 'declared an interest in bidder B-2'})
    """
    if per_organisation is not None and per_organisation < 1:
        raise DrawError(
            f"At least 1 expert per organisation must be allowed, not {per_organisation}."
        )
    members = _unique(candidates)
    excluded: dict[str, str] = {m.id: conflicted[m.id] for m in members if m.id in conflicted}
    kept: list[PoolMember] = []
    taken: dict[str, int] = {}
    for m in sorted((m for m in members if m.id not in excluded), key=lambda m: (-m.score, m.id)):
        org = m.organisation
        if org is not None and per_organisation is not None:
            if taken.get(org, 0) >= per_organisation:
                excluded[m.id] = (
                    f"another expert of organisation {org} is in the pool"
                    if per_organisation == 1
                    else f"{per_organisation} other experts of organisation {org} are in the pool"
                )
                continue
            taken[org] = taken.get(org, 0) + 1
        kept.append(m)
    return (
        tuple(sorted(kept, key=lambda m: m.id)),
        {i: excluded[i] for i in sorted(excluded)},
    )
