"""Scored (item, expert) pairs: the table the solver reads, and the CSV files it comes from.

Files use the form conference-review matchers use: ``item,expert,score`` rows for affinity
and ``item,expert,-1`` rows for conflicts, with or without a header row. A bad row is refused
with its file and line (:class:`~experts.exceptions.InvalidAffinity`), so a planner can fix
the spreadsheet it came from.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from experts.exceptions import InvalidAffinity

__all__ = ["IntArray", "FloatArray", "AffinityTable", "read_scores_csv", "read_conflicts_csv"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class AffinityTable:
    """Scored (item, expert) pairs in array form: labels and one row per pair."""

    items: tuple[str, ...]
    experts: tuple[str, ...]
    item: IntArray
    expert: IntArray
    score: FloatArray

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, float]]) -> AffinityTable:
        """Build a table from ``(item, expert, score)`` rows (labels in first-seen order).

        Raises
        ------
        ValueError
            If a pair is listed twice or a score is not a finite number.
        """
        items: dict[str, int] = {}
        experts: dict[str, int] = {}
        ii: list[int] = []
        ee: list[int] = []
        ss: list[float] = []
        seen: set[tuple[int, int]] = set()
        for item, expert, score in rows:
            i = items.setdefault(item, len(items))
            e = experts.setdefault(expert, len(experts))
            if (i, e) in seen:
                raise ValueError(f"The pair ({item!r}, {expert!r}) is scored twice.")
            if not math.isfinite(score):
                raise ValueError(f"The score of ({item!r}, {expert!r}) is not a finite number.")
            seen.add((i, e))
            ii.append(i)
            ee.append(e)
            ss.append(float(score))
        return cls(
            tuple(items),
            tuple(experts),
            np.array(ii, np.int64),
            np.array(ee, np.int64),
            np.array(ss, np.float64),
        )

    def __len__(self) -> int:
        return int(self.score.size)


def _rows(path: Path, width: tuple[int, ...]) -> Iterable[tuple[int, list[str]]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        line = 1
        for cells in reader:
            here, line = line, reader.line_num + 1
            cells = [c.strip() for c in cells]
            if not any(cells) or cells[0].startswith("#"):
                continue
            if len(cells) not in width:
                raise InvalidAffinity(
                    file=str(path),
                    line=here,
                    reason=(
                        f"expected item,expert,score ({' or '.join(map(str, width))} cells), "
                        f"found {len(cells)} cells"
                    ),
                )
            yield here, cells


def _is_header(cells: list[str]) -> bool:
    return cells[0].lower() in ("item", "paper", "paper_id", "item_id", "task")


def read_scores_csv(path: str | Path) -> AffinityTable:
    """Read ``item,expert,score`` rows (an optional header row is skipped).

    Raises
    ------
    InvalidAffinity
        For a row with the wrong number of cells, an empty label, a score that is not a
        finite number, or a pair scored twice (with file and line).
    """
    path = Path(path)
    rows: list[tuple[str, str, float]] = []
    where: dict[tuple[str, str], int] = {}
    first = True
    for line, cells in _rows(path, (3,)):
        if first and _is_header(cells):
            first = False
            continue
        first = False
        item, expert, raw = cells
        if not item or not expert:
            raise InvalidAffinity(
                file=str(path), line=line, reason="item and expert must not be empty"
            )
        try:
            score = float(raw)
        except ValueError:
            score = math.nan
        if not math.isfinite(score):
            raise InvalidAffinity(
                file=str(path), line=line, reason=f"the score {raw!r} is not a number"
            )
        if (item, expert) in where:
            raise InvalidAffinity(
                file=str(path),
                line=line,
                reason=(
                    f"the pair {item},{expert} was already scored on line {where[item, expert]}"
                ),
            )
        where[item, expert] = line
        rows.append((item, expert, score))
    return AffinityTable.from_rows(rows)


def read_conflicts_csv(path: str | Path) -> set[tuple[str, str]]:
    """Read ``item,expert,-1`` (or ``item,expert``) conflict rows into a set of pairs.

    Raises
    ------
    InvalidAffinity
        For a row with the wrong number of cells or a third cell other than ``-1``.
    """
    path = Path(path)
    out: set[tuple[str, str]] = set()
    first = True
    for line, cells in _rows(path, (2, 3)):
        if first and _is_header(cells):
            first = False
            continue
        first = False
        if not cells[0] or not cells[1]:
            raise InvalidAffinity(
                file=str(path), line=line, reason="item and expert must not be empty"
            )
        if len(cells) == 3:
            try:
                flag = float(cells[2])
            except ValueError:
                flag = 0.0
            if flag != -1:
                raise InvalidAffinity(
                    file=str(path),
                    line=line,
                    reason=(f"a conflict row ends in -1, not {cells[2]!r}"),
                )
        out.add((cells[0], cells[1]))
    return out
