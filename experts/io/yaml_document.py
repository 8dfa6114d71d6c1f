"""The expertise database as one YAML document.

The document holds the same records as the CSV directory (:mod:`experts.io.csv_directory`)
and round-trips losslessly through :class:`~experts.model.ExpertiseData` (names in any
script, floats exactly, record order kept); each expert carries its links inline, which
is what a person editing by hand wants::

    format: counsel-expertise/1
    topics:
      - {id: city-sanitation, name: 市容环卫, aliases: [city appearance and sanitation]}
      - {id: street-cleaning, name: 道路清扫保洁, parent: city-sanitation}
    districts:
      - {id: east, name: 东区, profile: developed}
      - {id: east-riverside, name: 滨江街道, kind: street_office, parent: east}
    organisations:
      - {id: huanjie, name: 环洁环境服务公司, kind: contractor, interests: [street-cleaning]}
    experts:
      - id: E001
        name: 张伟
        affiliations: [{organisation: huanjie, role: engineer}]
        proficiencies: [{topic: street-cleaning, weight: 0.9, last_active: 2024}]
        districts: [{district: east, weight: 0.7}]

The loader remembers the line each mapping starts on, so a problem names the line of the
record or link that has it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from experts.exceptions import ExpertiseImportError, RowProblem
from experts.io.rows import Loc, Parsed, build_record, cross_check, shown
from experts.io.text import DEFAULT_ENCODING, read_text
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

__all__ = ["FORMAT", "dump_yaml_text", "parse_yaml_text", "read_yaml", "write_yaml"]

#: The ``format`` a document declares (one that omits it is taken to be this).
FORMAT = "counsel-expertise/1"


class _LineDict(dict[str, Any]):
    line = 0


class _LineLoader(yaml.SafeLoader):
    """A safe loader whose mappings remember the line they start on."""


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> Iterator[_LineDict]:
    data = _LineDict()
    data.line = node.start_mark.line + 1
    yield data
    data.update({str(k): v for k, v in loader.construct_mapping(node).items()})


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)


def _line(obj: Any, default: int) -> int:
    return obj.line if isinstance(obj, _LineDict) else default


def parse_yaml_text(
    text: str, *, file: str = "<yaml>", known: ExpertiseData | None = None
) -> ExpertiseData:
    """Parse and check a YAML document of the expertise format.

    Parameters
    ----------
    text : str
        The document.
    file : str
        The name used in problem reports.
    known : ExpertiseData, optional
        Records already in the database that rows may refer to (when merging).

    Returns
    -------
    ExpertiseData

    Raises
    ------
    ExpertiseImportError
        If the document is not valid YAML or any row is bad.
    """
    parsed = Parsed()
    try:
        doc = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(err, "problem", None) or str(err)
        raise ExpertiseImportError(
            problems=(
                RowProblem(file=file, line=line, reason=f"this is not valid YAML: {problem}"),
            )
        ) from err
    if doc is None:
        raise ExpertiseImportError(
            problems=(
                RowProblem(
                    file=file, line=0, reason="the document is empty; there is nothing to import"
                ),
            )
        )
    if not isinstance(doc, Mapping):
        raise ExpertiseImportError(
            problems=(
                RowProblem(
                    file=file,
                    line=1,
                    reason="the document must be a mapping with topics, experts …",
                ),
            )
        )
    top = Loc(file, _line(doc, 1))
    fmt = doc.get("format", FORMAT)
    if fmt != FORMAT:
        parsed.problem(top, f"unknown format {shown(fmt)}; expected {FORMAT!r}")
    sections = ("topics", "districts", "organisations", "experts")
    for key in doc:
        if key not in (*sections, "format"):
            parsed.problem(top, f"unknown section {shown(key)}")
    for section in sections:
        rows = doc.get(section) or []
        if not isinstance(rows, list):
            parsed.problem(top, f"section {section!r} must be a list")
            continue
        for raw in rows:
            loc = Loc(file, _line(raw, top.line))
            _parse_yaml_row(parsed, section, raw, loc)
    return cross_check(parsed, known)


def _parse_yaml_row(parsed: Parsed, section: str, raw: Any, loc: Loc) -> None:
    if section == "topics":
        topic = build_record(parsed, Topic, raw, loc)
        if topic is not None:
            parsed.topics.append((topic, loc))
    elif section == "districts":
        district = build_record(parsed, District, raw, loc)
        if district is not None:
            parsed.districts.append((district, loc))
    elif section == "organisations":
        org = build_record(parsed, Organisation, raw, loc)
        if org is not None:
            parsed.organisations.append((org.model_copy(update={"interests": ()}), loc))
            parsed.interests.extend((org.id, t, loc) for t in org.interests)
    else:
        if not isinstance(raw, Mapping):
            parsed.problem(loc, "expected a record with named fields")
            return
        edges = {k: raw.get(k) or [] for k in ("affiliations", "proficiencies", "districts")}
        head = {k: v for k, v in raw.items() if k not in edges}
        expert = build_record(parsed, Expert, head, loc)
        if expert is None:
            return
        parsed.experts.append((expert, loc))
        kinds: tuple[tuple[str, type[BaseModel], list[Any]], ...] = (
            ("affiliations", Affiliation, parsed.affiliations),
            ("proficiencies", Proficiency, parsed.proficiencies),
            ("districts", LocalKnowledge, parsed.knowledge),
        )
        for key, cls, sink in kinds:
            if not isinstance(edges[key], list):
                parsed.problem(loc, f"{key} must be a list")
                continue
            for item in edges[key]:
                eloc = Loc(loc.file, _line(item, loc.line))
                edge = build_record(parsed, cls, item, eloc)
                if edge is not None:
                    sink.append((expert.id, edge, eloc))


def _plain(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_defaults=True)


def dump_yaml_text(data: ExpertiseData) -> str:
    """The YAML document for ``data`` (names unescaped, records in order)."""
    doc: dict[str, Any] = {
        "format": FORMAT,
        "topics": [_plain(t) for t in data.topics],
        "districts": [_plain(d) for d in data.districts],
        "organisations": [_plain(o) for o in data.organisations],
        "experts": [_plain(e) for e in data.experts],
    }
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=100)


def read_yaml(
    path: str | Path, *, known: ExpertiseData | None = None, encoding: str = DEFAULT_ENCODING
) -> ExpertiseData:
    """Read a YAML file of the expertise format (see :func:`parse_yaml_text`, :func:`read_text`)."""
    path = Path(path)
    text = read_text(path, encoding=encoding)
    return parse_yaml_text(text, file=str(path), known=known)


def write_yaml(data: ExpertiseData, path: str | Path) -> None:
    """Write ``data`` to a YAML file (UTF-8)."""
    Path(path).write_text(dump_yaml_text(data), encoding="utf-8")
