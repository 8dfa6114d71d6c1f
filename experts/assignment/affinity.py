"""Scored (item, expert) pairs: the table the solvers read, and the CSV files it comes from.

Files use the form conference-review matchers use: ``item,expert,score`` rows for affinity
and ``item,expert,-1`` rows for conflicts, with or without a header row, UTF-8 with or
without a BOM. A bad row is refused with its file and line
(:class:`~experts.exceptions.InvalidAffinity`), so a planner can fix the spreadsheet it
came from.

Two readers, one result. A matcher's file has hundreds of thousands of rows, and reading
them one by one through :mod:`csv` took longer than solving the assignment, so a file in
the plain form (no quotes, no ``#`` comments, no blank lines, ``\\n`` or ``\\r\\n`` line ends,
the same number of cells on every line) is read in bulk: NumPy checks where the commas and
line ends fall. In an ASCII file with no blank to strip (the usual matcher file) the cells
are then read where they lie, without making a string of each: every label's bytes are
gathered as 8-byte words, hashed, numbered by :func:`numpy.unique` and checked against the
first cell of their number, and NumPy converts the scores' bytes with the parser
:class:`float` uses. In other plain files :meth:`str.split` cuts the cells, which are
stripped, dictionaries number the labels and :class:`float` reads the scores. Anything the
bulk read finds wrong or unusual — a quoted cell, a comment, a ragged line, an empty label,
a score that is not a finite number, a pair scored twice — sends the file to the row-by-row
reader, which accepts the same files, gives the same table, and names the line of the
first bad row. ``tests/unit/experts`` checks that the readers agree on random files.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from experts.exceptions import InvalidAffinity

__all__ = [
    "IntArray",
    "FloatArray",
    "AffinityTable",
    "read_scores_csv",
    "read_conflicts_csv",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: First cells that mark a header row (compared in lower case).
HEADER_CELLS = ("item", "paper", "paper_id", "item_id", "task")


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


# -- reading a file's text ---------------------------------------------------------------


def _file_text(path: Path) -> tuple[bytes, str]:
    """The file's UTF-8 bytes and text (a BOM dropped, ``\\r\\n`` read as ``\\n``).

    Raises
    ------
    InvalidAffinity
        If the file is binary or not UTF-8 (with the line of the first bad byte).
    OSError
        If it cannot be read (missing, a folder, no permission).
    """
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise InvalidAffinity(
            file=str(path),
            line=line,
            reason=(
                f"byte 0x{data[err.start]:02X} is not UTF-8; save the file as UTF-8 "
                f"(for a GBK file: iconv -f GB18030 -t UTF-8 {path} > {path.stem}.utf8.csv)"
            ),
        ) from err
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise InvalidAffinity(file=str(path), line=line, reason="this is a binary file, not text")
    return data, text


def _bulk_layout(
    data: bytes, text: str, widths: tuple[int, ...]
) -> tuple[int, bytes, IntArray] | None:
    """A plain file's row width, its bytes and where each cell ends; None if not plain.

    Plain: no quote, ``#`` or lone ``\\r``, and every line (the last may lack its ``\\n``)
    has the same number of cells, one of ``widths``. ``data`` is ``text`` in UTF-8, where a
    comma or line end is one byte that no other character contains. The bytes returned end
    with ``\\n``; each cell ends at its comma or line end, at the offsets returned.
    """
    if not text or '"' in text or "#" in text or "\r" in text:
        return None
    if not data.endswith(b"\n"):
        data += b"\n"
    raw = np.frombuffer(data, np.uint8)
    cut = raw == ord(",")
    np.bitwise_or(cut, raw == ord("\n"), out=cut)
    ends = np.flatnonzero(cut)
    del cut
    kinds = raw[ends]
    lines = int(np.count_nonzero(kinds == ord("\n")))
    for width in widths:
        if kinds.size != lines * width:
            continue
        grid = kinds.reshape(lines, width)
        if (grid[:, -1] == ord("\n")).all() and (grid[:, :-1] == ord(",")).all():
            return width, data, ends
    return None


def _needs_strip(text: str) -> bool:
    """Whether a cell of ``text`` may have blanks around it that the row reader strips."""
    return not text.isascii() or any(c in text for c in " \t\v\f\x1c\x1d\x1e\x1f")


def _bulk_cells(data: bytes, text: str, widths: tuple[int, ...]) -> tuple[int, list[str]] | None:
    """All cells of a plain file (:func:`_bulk_layout`), row after row, and the row width;
    None if not plain. Cells are stripped of surrounding blanks as the row reader strips them.
    """
    layout = _bulk_layout(data, text, widths)
    if layout is None:
        return None
    width = layout[0]
    if not text.endswith("\n"):
        text += "\n"
    cells = text.replace("\n", ",").split(",")
    cells.pop()  # the empty string after the last line end
    if _needs_strip(text):
        cells = [c.strip() for c in cells]
    return width, cells


#: ``_KEEP[k]``: the mask of the first ``k`` bytes of a little-endian 64-bit word.
_KEEP = np.array([(1 << (8 * k)) - 1 for k in range(9)], np.uint64)


def _span_words(
    at: npt.NDArray[np.uint64], starts: IntArray, lens: IntArray
) -> npt.NDArray[np.uint64]:
    """The cells at ``starts`` (``lens`` bytes each) as rows of 8-byte words, zero-padded.

    ``at[i]`` is the little-endian word of the 8 bytes from offset ``i`` (an overlapping view
    of the file's bytes), so a cell's ``j``-th word is one gather and a mask.
    """
    n_words = -(-int(lens.max(initial=0)) // 8)
    words = np.empty((starts.size, n_words), np.uint64)
    for j in range(n_words):
        np.bitwise_and(at[starts + 8 * j], _KEEP[np.clip(lens - 8 * j, 0, 8)], out=words[:, j])
    return words


def _span_codes(
    at: npt.NDArray[np.uint64], data: bytes, starts: IntArray, ends: IntArray
) -> tuple[tuple[str, ...], IntArray] | None:
    """Distinct labels in first-seen order and each cell's position among them, from the
    cells' byte spans in ``data`` (``at``: see :func:`_span_words`); None if one is empty.

    Each label's bytes, zero-padded to whole 8-byte words, are hashed to one 64-bit key and
    the keys are numbered by :func:`numpy.unique`; every cell is then compared with the first
    cell of its key, so two labels that share a key send the file to the split reader rather
    than being merged.
    """
    lens = ends - starts
    if lens.size == 0 or int(lens.min()) == 0:
        return None
    words = _span_words(at, starts, lens)
    key = words[:, 0].copy()
    for j in range(1, words.shape[1]):
        key *= np.uint64(0x9E3779B97F4A7C15)  # wraps around: any odd multiplier mixes
        key ^= words[:, j]
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    if words.shape[1] > 1 and not np.array_equal(words, words[first[inverse]]):
        return None
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    heads = first[order]
    labels = tuple(
        data[a:b].decode("ascii")
        for a, b in zip(starts[heads].tolist(), ends[heads].tolist(), strict=True)
    )
    return labels, rank[inverse].astype(np.int64, copy=False)


def _span_floats(at: npt.NDArray[np.uint64], starts: IntArray, ends: IntArray) -> FloatArray | None:
    """The cells at the byte spans read as :class:`float` reads them (NumPy's conversion of
    bytes calls the same parser), or None if one is not a finite number."""
    lens = ends - starts
    if lens.size == 0:
        return np.zeros(0, np.float64)
    if int(lens.min()) == 0:
        return None
    words = _span_words(at, starts, lens)
    try:
        values = words.view(f"S{8 * words.shape[1]}").ravel().astype(np.float64)
    except ValueError:
        return None
    return values if np.isfinite(values).all() else None


def _csv_rows(path: Path, text: str, widths: tuple[int, ...]) -> Iterator[tuple[int, list[str]]]:
    """Rows with their line numbers, blank and ``#`` comment rows skipped, widths checked."""
    reader = csv.reader(io.StringIO(text, newline=""))
    line = 1
    for cells in reader:
        here, line = line, reader.line_num + 1
        cells = [c.strip() for c in cells]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if len(cells) not in widths:
            raise InvalidAffinity(
                file=str(path),
                line=here,
                reason=(
                    f"expected item,expert,score ({' or '.join(map(str, widths))} cells), "
                    f"found {len(cells)} cells"
                ),
            )
        yield here, cells


def _is_header(first_cell: str) -> bool:
    return first_cell.lower() in HEADER_CELLS


def _floats(cells: list[str]) -> FloatArray | None:
    """``cells`` read by :class:`float`, or None if one is not a finite number."""
    try:
        values = np.fromiter(map(float, cells), np.float64, len(cells))
    except ValueError:
        return None
    return values if np.isfinite(values).all() else None


def _codes(labels: list[str]) -> tuple[tuple[str, ...], IntArray]:
    """Distinct labels in first-seen order and each cell's position among them."""
    index = {label: i for i, label in enumerate(dict.fromkeys(labels))}
    return tuple(index), np.fromiter(map(index.__getitem__, labels), np.int64, len(labels))


# -- scores --------------------------------------------------------------------------------


def _bulk_scores(data: bytes, text: str) -> AffinityTable | None:
    """The table of a plain scores file, or None if the row reader must look at it."""
    if _needs_strip(text):
        return _split_scores(data, text)
    layout = _bulk_layout(data, text, (3,))
    if layout is None:
        return None
    _, data, ends = layout
    grid = ends.reshape(-1, 3)
    line_end = grid[:, 2]
    line_start = np.concatenate([np.zeros(1, np.int64), line_end[:-1] + 1])
    skip = 1 if grid.size and _is_header(data[: int(grid[0, 0])].decode("ascii")) else 0
    grid, line_start, line_end = grid[skip:], line_start[skip:], line_end[skip:]
    longest = int((line_end - line_start).max(initial=0))
    padded = np.frombuffer(data + bytes(longest + 8), np.uint8)
    at = np.ndarray((padded.size - 7,), "<u8", padded, strides=(1,))  # see _span_words
    items = _span_codes(at, data, line_start, grid[:, 0])
    experts = _span_codes(at, data, grid[:, 0] + 1, grid[:, 1])
    score = _span_floats(at, grid[:, 1] + 1, line_end)
    del at, padded
    if items is None or experts is None or score is None:
        return _split_scores(data, text)
    return _checked_table(items, experts, score)


def _split_scores(data: bytes, text: str) -> AffinityTable | None:
    """:func:`_bulk_scores` for a file whose cells may need stripping: :meth:`str.split`
    cuts the cells, dictionaries number the labels and :class:`float` reads the scores."""
    bulk = _bulk_cells(data, text, (3,))
    if bulk is None:
        return None
    _, cells = bulk
    start = 3 if cells and _is_header(cells[0]) else 0
    item_cells, expert_cells = cells[start::3], cells[start + 1 :: 3]
    score = _floats(cells[start + 2 :: 3])
    del cells
    if score is None:
        return None
    return _checked_table(_codes(item_cells), _codes(expert_cells), score)


def _checked_table(
    items: tuple[tuple[str, ...], IntArray],
    experts: tuple[tuple[str, ...], IntArray],
    score: FloatArray,
) -> AffinityTable | None:
    """The table of coded labels and scores; None if a label is empty or a pair repeats."""
    (item_labels, item), (expert_labels, expert) = items, experts
    if "" in item_labels or "" in expert_labels:
        return None
    pair = np.sort(item * len(expert_labels) + expert)
    if pair.size and (pair[1:] == pair[:-1]).any():
        return None
    return AffinityTable(item_labels, expert_labels, item, expert, score)


def _row_scores(path: Path, text: str) -> AffinityTable:
    """Read the scores row by row; the first bad row raises with its line."""
    rows: list[tuple[str, str, float]] = []
    where: dict[tuple[str, str], int] = {}
    first = True
    for line, cells in _csv_rows(path, text, (3,)):
        if first and _is_header(cells[0]):
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


def read_scores_csv(path: str | Path, *, bulk: bool = True) -> AffinityTable:
    """Read ``item,expert,score`` rows (an optional header row is skipped).

    Parameters
    ----------
    path : str or Path
        The file, UTF-8 with or without a BOM.
    bulk : bool
        Read a plain file in bulk (the default). False reads every file row by row, as
        Counsel did before the bulk reader; the result is the same, only slower.

    Returns
    -------
    AffinityTable
        Items and experts in the order they first appear.

    Raises
    ------
    InvalidAffinity
        For a file that is not UTF-8 text, a row with the wrong number of cells, an empty
        label, a score that is not a finite number, or a pair scored twice (with file and
        line).
    OSError
        If the file cannot be read.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.csv"
    >>> _ = p.write_text("item,expert,score\\nbid-1,E1,0.9\\nbid-1,E2,0.5\\n")
    >>> t = read_scores_csv(p)
    >>> t.items, t.experts, t.score.tolist()
    (('bid-1',), ('E1', 'E2'), [0.9, 0.5])
    """
    path = Path(path)
    data, text = _file_text(path)
    table = _bulk_scores(data, text) if bulk else None
    del data
    return table if table is not None else _row_scores(path, text)


# -- conflicts -----------------------------------------------------------------------------


def _bulk_conflicts(data: bytes, text: str) -> set[tuple[str, str]] | None:
    """The pairs of a plain conflicts file, or None if the row reader must look at it."""
    bulk = _bulk_cells(data, text, (3, 2))
    if bulk is None:
        return None
    width, cells = bulk
    start = width if cells and _is_header(cells[0]) else 0
    items, experts = cells[start::width], cells[start + 1 :: width]
    if "" in items or "" in experts:
        return None
    if width == 3:
        flags = _floats(cells[start + 2 :: 3])
        if flags is None or (flags != -1).any():
            return None
    return set(zip(items, experts, strict=True))


def _row_conflicts(path: Path, text: str) -> set[tuple[str, str]]:
    """Read the conflicts row by row; the first bad row raises with its line."""
    out: set[tuple[str, str]] = set()
    first = True
    for line, cells in _csv_rows(path, text, (2, 3)):
        if first and _is_header(cells[0]):
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


def read_conflicts_csv(path: str | Path, *, bulk: bool = True) -> set[tuple[str, str]]:
    """Read ``item,expert,-1`` (or ``item,expert``) conflict rows into a set of pairs.

    ``bulk`` is as for :func:`read_scores_csv`.

    Raises
    ------
    InvalidAffinity
        For a file that is not UTF-8 text, a row with the wrong number of cells or a third
        cell other than ``-1``.
    OSError
        If the file cannot be read.
    """
    path = Path(path)
    data, text = _file_text(path)
    pairs = _bulk_conflicts(data, text) if bulk else None
    del data
    return pairs if pairs is not None else _row_conflicts(path, text)
