"""The expertise database as a directory of CSV files, one per kind of record.

The directory holds the same records as the YAML document (:mod:`experts.io.yaml_document`)
and round-trips losslessly through :class:`~experts.model.ExpertiseData`; links are rows of
files of their own, which is what a spreadsheet exports. Each file is UTF-8 (a BOM is
accepted) with a header row: ``topics.csv`` (id,name,parent), ``topic_aliases.csv``
(topic,alias), ``districts.csv`` (id,name,kind,parent,profile), ``organisations.csv``
(id,name,kind,district), ``organisation_interests.csv`` (organisation,topic),
``experts.csv`` (id,name,title,available,workload_cap,active_assignments,lang,notify — the
expert's Apprise addresses, separated by spaces),
``affiliations.csv`` (expert,organisation,role,current), ``proficiencies.csv``
(expert,topic,weight,last_active) and ``local_knowledge.csv`` (expert,district,weight).
Only ``topics.csv`` and ``experts.csv`` are required; an empty cell is a field left out.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from experts.io.rows import Loc, Parsed, build_record, cross_check, shown
from experts.io.text import DEFAULT_ENCODING, read_text, refuse, text_codec
from experts.model import (
    Affiliation,
    District,
    Expert,
    ExpertiseData,
    LocalKnowledge,
    Organisation,
    Proficiency,
    Topic,
)

__all__ = ["CSV_FILES", "read_csv_dir", "write_csv_dir"]

#: The CSV files of a directory export and their columns, in write order.
CSV_FILES: dict[str, tuple[str, ...]] = {
    "topics.csv": ("id", "name", "parent"),
    "topic_aliases.csv": ("topic", "alias"),
    "districts.csv": ("id", "name", "kind", "parent", "profile"),
    "organisations.csv": ("id", "name", "kind", "district"),
    "organisation_interests.csv": ("organisation", "topic"),
    "experts.csv": (
        "id",
        "name",
        "title",
        "available",
        "workload_cap",
        "active_assignments",
        "lang",
        "notify",
    ),
    "affiliations.csv": ("expert", "organisation", "role", "current"),
    "proficiencies.csv": ("expert", "topic", "weight", "last_active"),
    "local_knowledge.csv": ("expert", "district", "weight"),
}
_REQUIRED_CSV = ("topics.csv", "experts.csv")


def _csv_rows(path: Path, parsed: Parsed, encoding: str) -> Iterator[tuple[dict[str, str], Loc]]:
    """Rows of one CSV file as {column: cell} with empty cells left out, checked for shape."""
    columns = CSV_FILES[path.name]
    name = str(path)
    with io.StringIO(read_text(path, encoding=encoding, allow_empty=True), newline="") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            parsed.problem(Loc(name, 1), "the file is empty; a header row is required")
            return
        except csv.Error as err:
            parsed.problem(Loc(name, 1), f"this is not valid CSV: {err}")
            return
        header = [h.strip() for h in header]
        missing = [
            c
            for c in columns
            if c not in header
            and c in ("id", "name", "expert", "topic", "organisation", "district", "alias")
        ]
        unknown = [h for h in header if h not in columns]
        if missing or unknown:
            why = (
                f"column {missing[0]!r} is missing"
                if missing
                else f"unknown column {shown(unknown[0])}; expected {', '.join(columns)}"
            )
            parsed.problem(Loc(name, 1), why)
            return
        line = reader.line_num + 1
        try:
            for cells in reader:
                loc = Loc(name, line)
                line = reader.line_num + 1
                if not any(c.strip() for c in cells):
                    continue
                if len(cells) != len(header):
                    parsed.problem(loc, f"expected {len(header)} cells, found {len(cells)}")
                    continue
                yield {h: c for h, c in zip(header, cells, strict=True) if c != ""}, loc
        except csv.Error as err:
            parsed.problem(Loc(name, line), f"this is not valid CSV: {err}")


def read_csv_dir(
    path: str | Path, *, known: ExpertiseData | None = None, encoding: str = DEFAULT_ENCODING
) -> ExpertiseData:
    """Read a directory of CSV files in the expertise format.

    Parameters
    ----------
    path : str or Path
        The directory (see the module docstring for its files).
    known : ExpertiseData, optional
        Records already in the database that rows may refer to (when merging).
    encoding : str
        The files' encoding (default UTF-8, with or without a BOM).

    Returns
    -------
    ExpertiseData

    Raises
    ------
    ExpertiseImportError
        If the folder is empty, a required file is missing or any row of any file is bad;
        :class:`~experts.exceptions.ExpertiseEncodingError` if a file is not in ``encoding``.
    """
    root = Path(path)
    parsed = Parsed()
    if not root.is_dir():
        raise refuse(root, "this is not a directory of CSV files")
    if not any(root.iterdir()):
        raise refuse(root, "the folder is empty; there is nothing to import")
    text_codec(encoding, root)
    for required in _REQUIRED_CSV:
        if (root / required).is_dir():
            parsed.problem(Loc(str(root / required), 0), "this is a folder, not a CSV file")
        elif not (root / required).is_file():
            parsed.problem(Loc(str(root / required), 0), "this required file is missing")

    def each(name: str) -> Iterator[tuple[dict[str, str], Loc]]:
        if (root / name).is_dir() and name not in _REQUIRED_CSV:
            parsed.problem(Loc(str(root / name), 0), "this is a folder, not a CSV file")
        if (root / name).is_file():
            yield from _csv_rows(root / name, parsed, encoding)

    def edge(raw: dict[str, str], key: str, loc: Loc) -> str | None:
        owner = raw.pop(key, None)
        if owner is None:
            parsed.problem(loc, f"{key}: this cell must not be empty")
        return owner

    for raw, loc in each("topics.csv"):
        if (topic := build_record(parsed, Topic, raw, loc)) is not None:
            parsed.topics.append((topic, loc))
    for raw, loc in each("topic_aliases.csv"):
        owner, alias = edge(raw, "topic", loc), edge(raw, "alias", loc)
        if owner is not None and alias is not None:
            parsed.aliases.append((owner, alias, loc))
    for raw, loc in each("districts.csv"):
        if (district := build_record(parsed, District, raw, loc)) is not None:
            parsed.districts.append((district, loc))
    for raw, loc in each("organisations.csv"):
        if (org := build_record(parsed, Organisation, raw, loc)) is not None:
            parsed.organisations.append((org, loc))
    for raw, loc in each("organisation_interests.csv"):
        owner, topic_id = edge(raw, "organisation", loc), edge(raw, "topic", loc)
        if owner is not None and topic_id is not None:
            parsed.interests.append((owner, topic_id, loc))
    for raw, loc in each("experts.csv"):
        if (expert := build_record(parsed, Expert, raw, loc)) is not None:
            parsed.experts.append((expert, loc))
    edge_files: tuple[tuple[str, type[BaseModel], list[Any]], ...] = (
        ("affiliations.csv", Affiliation, parsed.affiliations),
        ("proficiencies.csv", Proficiency, parsed.proficiencies),
        ("local_knowledge.csv", LocalKnowledge, parsed.knowledge),
    )
    for name, cls, sink in edge_files:
        for raw, loc in each(name):
            owner = edge(raw, "expert", loc)
            if owner is not None and (built := build_record(parsed, cls, raw, loc)) is not None:
                sink.append((owner, built, loc))
    return cross_check(parsed, known)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _csv_tables(data: ExpertiseData) -> dict[str, Iterable[tuple[object, ...]]]:
    return {
        "topics.csv": ((t.id, t.name, t.parent) for t in data.topics),
        "topic_aliases.csv": ((t.id, a) for t in data.topics for a in t.aliases),
        "districts.csv": ((d.id, d.name, d.kind, d.parent, d.profile) for d in data.districts),
        "organisations.csv": ((o.id, o.name, o.kind, o.district) for o in data.organisations),
        "organisation_interests.csv": ((o.id, t) for o in data.organisations for t in o.interests),
        "experts.csv": (
            (
                e.id,
                e.name,
                e.title,
                e.available,
                e.workload_cap,
                e.active_assignments,
                e.lang,
                " ".join(e.notify),
            )
            for e in data.experts
        ),
        "affiliations.csv": (
            (e.id, a.organisation, a.role, a.current) for e in data.experts for a in e.affiliations
        ),
        "proficiencies.csv": (
            (e.id, p.topic, p.weight, p.last_active) for e in data.experts for p in e.proficiencies
        ),
        "local_knowledge.csv": (
            (e.id, k.district, k.weight) for e in data.experts for k in e.districts
        ),
    }


def write_csv_dir(data: ExpertiseData, path: str | Path) -> None:
    """Write ``data`` as a directory of CSV files (created if needed, files overwritten)."""
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    for name, rows in _csv_tables(data).items():
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(CSV_FILES[name])
        writer.writerows([_cell(v) for v in row] for row in rows)
        (root / name).write_text(buf.getvalue(), encoding="utf-8")
