"""What every fuzz test needs: the CLI run in-process, store snapshots, and the verdicts.

``counsel`` is run through :func:`cli.app.main` as its console script runs it, with
``sys.argv`` and the ``COUNSEL_*`` environment set for the call and stdout and stderr captured;
it is cheap enough to run a few thousand times. Each example works on a fresh copy of a
prepared store (:class:`Stores`), so examples never see each other's writes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import Engine, inspect, text

from decisions import services
from decisions.db import make_engine
from decisions.text import clean_text
from tests.inprocess import Outcome, invoke

__all__ = [
    "LARGE_REPORTS_WANTED",
    "FUZZ",
    "fuzz_settings",
    "Outcome",
    "Snapshot",
    "Stores",
    "OUTCOMES",
    "invoke",
    "snapshot",
    "assert_refused",
    "assert_clean_text",
    "changed_tables",
]

#: A failing example that holds a megabyte of text makes Hypothesis warn that its report is
#: large; the report is still wanted (each fuzz module's ``pytestmark``).
LARGE_REPORTS_WANTED = pytest.mark.filterwarnings(
    "ignore:Generating overly large repr:hypothesis.errors.HypothesisWarning"
)

#: How often each entry point ended in each branch, checked by each module's last test.
OUTCOMES: Counter[tuple[str, str]] = Counter()


@dataclass(frozen=True)
class Snapshot:
    """The store as a user could tell it apart: rows per table, a digest of every row, and
    the audit chain's head as ``services.verify`` reports it."""

    counts: dict[str, int]
    digests: dict[str, str]
    chain_count: int
    chain_head: str
    chain_ok: bool


def snapshot(engine: Engine) -> Snapshot:
    """Count and digest every table of the store and verify its chain."""
    counts: dict[str, int] = {}
    digests: dict[str, str] = {}
    with engine.connect() as conn:
        for table in sorted(inspect(conn).get_table_names()):
            counts[table] = conn.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one()
            rows = sorted(repr(tuple(r)) for r in conn.execute(text(f'SELECT * FROM "{table}"')))
            digests[table] = hashlib.sha256("\n".join(rows).encode("utf-8", "replace")).hexdigest()
    report = services.verify(engine)
    return Snapshot(counts, digests, report.count, report.head_hash, report.ok)


def changed_tables(before: Snapshot, after: Snapshot) -> dict[str, int]:
    """Tables whose rows changed, with how many rows they gained (0: changed in place)."""
    return {
        table: after.counts.get(table, 0) - before.counts.get(table, 0)
        for table in sorted(set(before.digests) | set(after.digests))
        if before.digests.get(table) != after.digests.get(table)
    }


def assert_refused(result: Outcome, *, why: str = "") -> None:
    """A refusal as a user must see it: exit status 1, a short message on stderr that
    reads as a sentence, and no traceback anywhere."""
    assert result.raised is None, f"{why}: an exception escaped main():\n{result.raised}"
    assert "Traceback" not in result.text, f"{why}: a traceback was printed:\n{result.text}"
    assert result.code == 1, f"{why}: exit status {result.code!r}, not 1:\n{result.text[:2000]}"
    message = result.err.strip()
    assert message, f"{why}: exit 1 with nothing on stderr; stdout: {result.out[:500]!r}"
    first = message.splitlines()[0]
    assert len(message) <= 20_000, (
        f"{why}: the refusal is {len(message):,} characters long, not a sentence: "
        f"{message[:300]!r}…"
    )
    assert first[:1].strip(), f"{why}: the message starts with a blank: {first[:200]!r}"


def assert_clean_text(value: object, *, where: str) -> None:
    """Every string in a recorded value already passes the text policy unchanged."""
    if isinstance(value, str):
        assert clean_text(value) == value, f"{where}: stored text breaks the policy: {value!r}"
    elif isinstance(value, Mapping):
        for key, item in value.items():
            assert_clean_text(item, where=f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            assert_clean_text(item, where=f"{where}[{i}]")


class Stores:
    """Fresh copies of a prepared SQLite store, one per example, in ``folder``.

    Each copy gets a new file name (a leftover WAL of an earlier copy must never be applied
    to the next one); :meth:`fresh` removes the previous copy first. Every copy is the
    template byte for byte, so :meth:`pristine`, its snapshot, is taken once (reading every
    row and verifying the chain took a sixth of each example).
    """

    def __init__(self, template: Path, folder: Path) -> None:
        self.template = template
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self._n = 0
        self._engine: Engine | None = None
        self._path: Path | None = None
        self._pristine: Snapshot | None = None

    def fresh(self) -> tuple[str, Engine]:
        """The URL of a new copy of the template, and an engine on it."""
        self.close()
        self._n += 1
        path = self.folder / f"store-{self._n}.db"
        shutil.copyfile(self.template, path)
        self._path = path
        self._engine = make_engine(f"sqlite:///{path}")
        if self._pristine is None:
            self._pristine = snapshot(self._engine)
        return f"sqlite:///{path}", self._engine

    def pristine(self) -> Snapshot:
        """The snapshot of a fresh copy, before anything writes to it (taken of the first)."""
        assert self._pristine is not None, "Stores.pristine() before the first fresh()"
        return self._pristine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
        if self._path is not None:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{self._path}{suffix}").unlink(missing_ok=True)
            self._path = None


def fuzz_settings() -> settings:
    """300 examples per entry point, derandomised so CI explores the same inputs each run;
    ``COUNSEL_FUZZ_EXAMPLES=N`` runs N random examples instead (see ``conftest.py``)."""
    wanted = os.environ.get("COUNSEL_FUZZ_EXAMPLES")
    return settings(
        max_examples=int(wanted) if wanted else 300,
        deadline=None,
        derandomize=not wanted,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


FUZZ = fuzz_settings()
