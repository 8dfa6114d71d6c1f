"""Import and export the expertise database as YAML or as a directory of CSV files.

Both formats hold the same records and round-trip losslessly through :class:`ExpertiseData`
(names in any script, floats exactly, record order kept).

YAML is one document::

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

CSV is a directory with one file per record kind (UTF-8, a header row, a BOM is accepted):
``topics.csv`` (id,name,parent), ``topic_aliases.csv`` (topic,alias), ``districts.csv``
(id,name,kind,parent,profile), ``organisations.csv`` (id,name,kind,district),
``organisation_interests.csv`` (organisation,topic), ``experts.csv`` (id,name,title,available,
workload_cap,active_assignments), ``affiliations.csv`` (expert,organisation,role,current),
``proficiencies.csv`` (expert,topic,weight,last_active) and ``local_knowledge.csv``
(expert,district,weight). Only ``topics.csv`` and ``experts.csv`` are required.

Reading checks every row: its fields, and that everything it names exists. Any bad row
raises :class:`~experts.exceptions.ExpertiseImportError` listing file, line and reason for
each problem, and nothing is returned, so nothing of the file can be imported.

Files are UTF-8 unless ``encoding`` says otherwise (e.g. ``"gb18030"`` for files saved by
Chinese Excel or Notepad as GBK). A file that is not in its encoding is refused with the
first bad line and byte and how to convert it (:class:`~experts.exceptions.ExpertiseEncodingError`);
so are a missing file, a folder where a file should be, a binary file, and an empty file,
folder or document.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from experts.exceptions import ExpertiseEncodingError, ExpertiseImportError, RowProblem
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

__all__ = [
    "FORMAT",
    "CSV_FILES",
    "read_expertise",
    "write_expertise",
    "read_yaml",
    "write_yaml",
    "read_csv_dir",
    "read_text",
    "DEFAULT_ENCODING",
    "write_csv_dir",
    "parse_yaml_text",
    "dump_yaml_text",
]

FORMAT = "counsel-expertise/1"

#: The CSV files of a directory export and their columns, in write order.
CSV_FILES: dict[str, tuple[str, ...]] = {
    "topics.csv": ("id", "name", "parent"),
    "topic_aliases.csv": ("topic", "alias"),
    "districts.csv": ("id", "name", "kind", "parent", "profile"),
    "organisations.csv": ("id", "name", "kind", "district"),
    "organisation_interests.csv": ("organisation", "topic"),
    "experts.csv": ("id", "name", "title", "available", "workload_cap", "active_assignments"),
    "affiliations.csv": ("expert", "organisation", "role", "current"),
    "proficiencies.csv": ("expert", "topic", "weight", "last_active"),
    "local_knowledge.csv": ("expert", "district", "weight"),
}
_REQUIRED_CSV = ("topics.csv", "experts.csv")
#: The encoding files are read in unless the caller says otherwise (a BOM is accepted).
DEFAULT_ENCODING = "utf-8"


def _refuse(file: str | Path, reason: str, line: int = 0) -> ExpertiseImportError:
    return ExpertiseImportError(problems=(RowProblem(file=str(file), line=line, reason=reason),))


def _codec(encoding: str, path: str | Path) -> str:
    """The codec to read ``encoding`` with (UTF-8 also accepts a BOM)."""
    try:
        info = codecs.lookup(encoding)
        if not getattr(info, "_is_text_encoding", True):  # rot13, hex, base64 … are codecs
            raise LookupError(encoding)  # but not text encodings
        name = info.name
    except LookupError as err:
        raise _refuse(path, f"{encoding!r} is not a text encoding Python knows "
                            "(try utf-8 or gb18030)") from err
    return "utf-8-sig" if name in ("utf-8", "utf-8-sig") else name


def read_text(path: str | Path, *, encoding: str = DEFAULT_ENCODING,
              allow_empty: bool = False) -> str:
    """The text of a file to import, or a refusal that says what is wrong with it.

    Parameters
    ----------
    path : str or Path
        The file.
    encoding : str
        Its encoding (default UTF-8, with or without a BOM).
    allow_empty : bool
        Return ``""`` for an empty file instead of refusing it.

    Raises
    ------
    ExpertiseEncodingError
        If the bytes are not text in ``encoding``: the first bad line and byte, and how to
        convert the file.
    ExpertiseImportError
        If the file is missing, is a folder, is binary, or is empty.
    """
    path = Path(path)
    codec = _codec(encoding, path)
    if path.is_dir():
        raise _refuse(path, "this is a folder, where a file is expected")
    if not path.exists():
        raise _refuse(path, "this file does not exist")
    data = path.read_bytes()
    if not data.strip() and not allow_empty:
        raise _refuse(path, "the file is empty; there is nothing to import")
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as err:
        if b"\x00" in data[:4096]:
            raise _refuse(path, "this is a binary file, not text") from err
        raise _encoding_error(path, data, err, encoding) from err
    if "\x00" in text:
        raise _refuse(path, "this is a binary file, not text")
    return text


def _encoding_error(path: Path, data: bytes, err: UnicodeDecodeError,
                    encoding: str) -> ExpertiseEncodingError:
    """Where ``data`` stops being ``encoding``, and what to do about it."""
    start = err.start
    line = data.count(b"\n", 0, start) + 1
    column = start - (data.rfind(b"\n", 0, start) + 1) + 1
    guess: str | None = None
    for candidate in ("gb18030", "big5", "utf-16"):
        if candidate == encoding.lower():
            continue
        try:
            data.decode(candidate)
        except UnicodeDecodeError:
            continue
        guess = candidate
        break
    return ExpertiseEncodingError(file=str(path), line=line, column=column, offset=start,
                                  byte=data[start], encoding=encoding, guess=guess)


@dataclass(frozen=True)
class _Loc:
    file: str
    line: int


@dataclass
class _Parsed:
    """Rows as read, each with where it came from, before cross-checking."""

    problems: list[RowProblem] = field(default_factory=list)
    topics: list[tuple[Topic, _Loc]] = field(default_factory=list)
    aliases: list[tuple[str, str, _Loc]] = field(default_factory=list)
    districts: list[tuple[District, _Loc]] = field(default_factory=list)
    organisations: list[tuple[Organisation, _Loc]] = field(default_factory=list)
    interests: list[tuple[str, str, _Loc]] = field(default_factory=list)
    experts: list[tuple[Expert, _Loc]] = field(default_factory=list)
    affiliations: list[tuple[str, Affiliation, _Loc]] = field(default_factory=list)
    proficiencies: list[tuple[str, Proficiency, _Loc]] = field(default_factory=list)
    knowledge: list[tuple[str, LocalKnowledge, _Loc]] = field(default_factory=list)

    def problem(self, loc: _Loc, reason: str) -> None:
        self.problems.append(RowProblem(file=loc.file, line=loc.line, reason=reason))


_M = TypeVar("_M", bound=BaseModel)


def _describe(err: ValidationError) -> str:
    """The first validation error as a sentence fragment a person can act on."""
    first = err.errors(include_url=False)[0]
    where = ".".join(str(p) for p in first["loc"])
    value = first.get("input")
    shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:79] + "…"
    got = "" if isinstance(value, dict) else f" (got {shown})"
    msg = first["msg"]
    if first["type"] == "string_pattern_mismatch":
        msg = "must not be empty or start or end with a blank"
    elif first["type"] == "extra_forbidden":
        return f"unknown field {where!r}"
    return f"{where}: {msg[0].lower() + msg[1:]}{got}" if where else f"{msg}{got}"


def _build(parsed: _Parsed, cls: type[_M], raw: Any, loc: _Loc) -> _M | None:
    if not isinstance(raw, Mapping):
        parsed.problem(loc, f"expected a record with named fields, found {type(raw).__name__}")
        return None
    unknown = sorted(str(k) for k in raw if k not in cls.model_fields)
    if unknown:
        parsed.problem(loc, f"unknown field {unknown[0]!r}")
        return None
    try:
        return cls.model_validate(dict(raw))
    except ValidationError as err:
        parsed.problem(loc, _describe(err))
        return None


# ---------------------------------------------------------------------------------------- YAML


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


def parse_yaml_text(text: str, *, file: str = "<yaml>", known: ExpertiseData | None = None
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
    parsed = _Parsed()
    try:
        doc = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(err, "problem", None) or str(err)
        raise ExpertiseImportError(
            problems=(RowProblem(file=file, line=line,
                                 reason=f"this is not valid YAML: {problem}"),)
        ) from err
    if doc is None:
        raise ExpertiseImportError(problems=(RowProblem(
            file=file, line=0, reason="the document is empty; there is nothing to import"),))
    if not isinstance(doc, Mapping):
        raise ExpertiseImportError(problems=(RowProblem(
            file=file, line=1, reason="the document must be a mapping with topics, experts …"),))
    top = _Loc(file, _line(doc, 1))
    fmt = doc.get("format", FORMAT)
    if fmt != FORMAT:
        parsed.problem(top, f"unknown format {fmt!r}; expected {FORMAT!r}")
    sections = ("topics", "districts", "organisations", "experts")
    for key in doc:
        if key not in (*sections, "format"):
            parsed.problem(top, f"unknown section {key!r}")
    for section in sections:
        rows = doc.get(section) or []
        if not isinstance(rows, list):
            parsed.problem(top, f"section {section!r} must be a list")
            continue
        for raw in rows:
            loc = _Loc(file, _line(raw, top.line))
            _parse_yaml_row(parsed, section, raw, loc)
    return _finish(parsed, known)


def _parse_yaml_row(parsed: _Parsed, section: str, raw: Any, loc: _Loc) -> None:
    if section == "topics":
        topic = _build(parsed, Topic, raw, loc)
        if topic is not None:
            parsed.topics.append((topic, loc))
    elif section == "districts":
        district = _build(parsed, District, raw, loc)
        if district is not None:
            parsed.districts.append((district, loc))
    elif section == "organisations":
        org = _build(parsed, Organisation, raw, loc)
        if org is not None:
            parsed.organisations.append((org.model_copy(update={"interests": ()}), loc))
            parsed.interests.extend((org.id, t, loc) for t in org.interests)
    else:
        if not isinstance(raw, Mapping):
            parsed.problem(loc, "expected a record with named fields")
            return
        edges = {k: raw.get(k) or [] for k in ("affiliations", "proficiencies", "districts")}
        head = {k: v for k, v in raw.items() if k not in edges}
        expert = _build(parsed, Expert, head, loc)
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
                eloc = _Loc(loc.file, _line(item, loc.line))
                edge = _build(parsed, cls, item, eloc)
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


def read_yaml(path: str | Path, *, known: ExpertiseData | None = None,
              encoding: str = DEFAULT_ENCODING) -> ExpertiseData:
    """Read a YAML file of the expertise format (see :func:`parse_yaml_text`, :func:`read_text`)."""
    path = Path(path)
    text = read_text(path, encoding=encoding)
    return parse_yaml_text(text, file=str(path), known=known)


def write_yaml(data: ExpertiseData, path: str | Path) -> None:
    """Write ``data`` to a YAML file (UTF-8)."""
    Path(path).write_text(dump_yaml_text(data), encoding="utf-8")


# ----------------------------------------------------------------------------------------- CSV


def _csv_rows(path: Path, parsed: _Parsed, encoding: str
              ) -> Iterator[tuple[dict[str, str], _Loc]]:
    """Rows of one CSV file as {column: cell} with empty cells left out, checked for shape."""
    columns = CSV_FILES[path.name]
    name = str(path)
    with io.StringIO(read_text(path, encoding=encoding, allow_empty=True), newline="") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            parsed.problem(_Loc(name, 1), "the file is empty; a header row is required")
            return
        except csv.Error as err:
            parsed.problem(_Loc(name, 1), f"this is not valid CSV: {err}")
            return
        header = [h.strip() for h in header]
        missing = [c for c in columns if c not in header and c in ("id", "name", "expert",
                                                                   "topic", "organisation",
                                                                   "district", "alias")]
        unknown = [h for h in header if h not in columns]
        if missing or unknown:
            why = (f"column {missing[0]!r} is missing" if missing
                   else f"unknown column {unknown[0]!r}; expected {', '.join(columns)}")
            parsed.problem(_Loc(name, 1), why)
            return
        line = reader.line_num + 1
        try:
            for cells in reader:
                loc = _Loc(name, line)
                line = reader.line_num + 1
                if not any(c.strip() for c in cells):
                    continue
                if len(cells) != len(header):
                    parsed.problem(loc, f"expected {len(header)} cells, found {len(cells)}")
                    continue
                yield {h: c for h, c in zip(header, cells, strict=True) if c != ""}, loc
        except csv.Error as err:
            parsed.problem(_Loc(name, line), f"this is not valid CSV: {err}")


def read_csv_dir(path: str | Path, *, known: ExpertiseData | None = None,
                 encoding: str = DEFAULT_ENCODING) -> ExpertiseData:
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
    parsed = _Parsed()
    if not root.is_dir():
        raise _refuse(root, "this is not a directory of CSV files")
    if not any(root.iterdir()):
        raise _refuse(root, "the folder is empty; there is nothing to import")
    _codec(encoding, root)
    for required in _REQUIRED_CSV:
        if (root / required).is_dir():
            parsed.problem(_Loc(str(root / required), 0), "this is a folder, not a CSV file")
        elif not (root / required).is_file():
            parsed.problem(_Loc(str(root / required), 0), "this required file is missing")

    def each(name: str) -> Iterator[tuple[dict[str, str], _Loc]]:
        if (root / name).is_dir() and name not in _REQUIRED_CSV:
            parsed.problem(_Loc(str(root / name), 0), "this is a folder, not a CSV file")
        if (root / name).is_file():
            yield from _csv_rows(root / name, parsed, encoding)

    def edge(raw: dict[str, str], key: str, loc: _Loc) -> str | None:
        owner = raw.pop(key, None)
        if owner is None:
            parsed.problem(loc, f"{key}: this cell must not be empty")
        return owner

    for raw, loc in each("topics.csv"):
        if (topic := _build(parsed, Topic, raw, loc)) is not None:
            parsed.topics.append((topic, loc))
    for raw, loc in each("topic_aliases.csv"):
        owner, alias = edge(raw, "topic", loc), edge(raw, "alias", loc)
        if owner is not None and alias is not None:
            parsed.aliases.append((owner, alias, loc))
    for raw, loc in each("districts.csv"):
        if (district := _build(parsed, District, raw, loc)) is not None:
            parsed.districts.append((district, loc))
    for raw, loc in each("organisations.csv"):
        if (org := _build(parsed, Organisation, raw, loc)) is not None:
            parsed.organisations.append((org, loc))
    for raw, loc in each("organisation_interests.csv"):
        owner, topic_id = edge(raw, "organisation", loc), edge(raw, "topic", loc)
        if owner is not None and topic_id is not None:
            parsed.interests.append((owner, topic_id, loc))
    for raw, loc in each("experts.csv"):
        if (expert := _build(parsed, Expert, raw, loc)) is not None:
            parsed.experts.append((expert, loc))
    edge_files: tuple[tuple[str, type[BaseModel], list[Any]], ...] = (
        ("affiliations.csv", Affiliation, parsed.affiliations),
        ("proficiencies.csv", Proficiency, parsed.proficiencies),
        ("local_knowledge.csv", LocalKnowledge, parsed.knowledge),
    )
    for name, cls, sink in edge_files:
        for raw, loc in each(name):
            owner = edge(raw, "expert", loc)
            if owner is not None and (built := _build(parsed, cls, raw, loc)) is not None:
                sink.append((owner, built, loc))
    return _finish(parsed, known)


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
        "experts.csv": ((e.id, e.name, e.title, e.available, e.workload_cap, e.active_assignments)
                        for e in data.experts),
        "affiliations.csv": ((e.id, a.organisation, a.role, a.current)
                             for e in data.experts for a in e.affiliations),
        "proficiencies.csv": ((e.id, p.topic, p.weight, p.last_active)
                              for e in data.experts for p in e.proficiencies),
        "local_knowledge.csv": ((e.id, k.district, k.weight)
                                for e in data.experts for k in e.districts),
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


# ------------------------------------------------------------------------------ either format


def read_expertise(path: str | Path, *, known: ExpertiseData | None = None,
                   encoding: str = DEFAULT_ENCODING) -> ExpertiseData:
    """Read YAML (``.yaml``/``.yml``) or a CSV directory, whichever ``path`` is.

    Parameters
    ----------
    path : str or Path
        A ``.yaml``/``.yml`` file or a folder of CSV files.
    known : ExpertiseData, optional
        Records already in the database that rows may refer to (when merging).
    encoding : str
        The encoding of the file or files (default UTF-8, with or without a BOM).

    Returns
    -------
    ExpertiseData
        Never empty.

    Raises
    ------
    ExpertiseImportError
        If the file cannot be read, has bad rows or holds no records.
    """
    path = Path(path)
    yaml_suffix = path.suffix.lower() in (".yaml", ".yml")
    if path.is_dir() and not yaml_suffix:
        data = read_csv_dir(path, known=known, encoding=encoding)
    elif yaml_suffix:
        data = read_yaml(path, known=known, encoding=encoding)
    elif not path.exists():
        raise _refuse(path, "there is no file or folder here")
    else:
        raise _refuse(path, "give a .yaml file or a directory of CSV files")
    if not (data.topics or data.districts or data.organisations or data.experts):
        raise _refuse(path, "it holds no topics, districts, organisations or experts; "
                            "there is nothing to import")
    return data


def write_expertise(data: ExpertiseData, path: str | Path) -> None:
    """Write YAML if ``path`` ends in ``.yaml``/``.yml``, else a CSV directory there."""
    path = Path(path)
    if path.suffix.lower() in (".yaml", ".yml"):
        write_yaml(data, path)
    else:
        write_csv_dir(data, path)


# ------------------------------------------------------------------------------ cross-checks


def _finish(parsed: _Parsed, known: ExpertiseData | None) -> ExpertiseData:
    """Check references between rows and assemble the data, or raise with every problem."""
    known = known or ExpertiseData()

    def ids(rows: list[tuple[Any, _Loc]], what: str) -> dict[str, _Loc]:
        seen: dict[str, _Loc] = {}
        for record, loc in rows:
            if record.id in seen:
                parsed.problem(loc, f"{what} id {record.id!r} is already used on line "
                                    f"{seen[record.id].line} of {seen[record.id].file}")
            else:
                seen[record.id] = loc
        return seen

    topic_ids = ids(parsed.topics, "topic")
    ids(parsed.districts, "district")
    org_ids = ids(parsed.organisations, "organisation")
    expert_ids = ids(parsed.experts, "expert")
    all_topics = {t.id: t.parent for t in known.topics}
    for t, _ in reversed(parsed.topics):  # the first of duplicate rows wins
        all_topics[t.id] = t.parent
    all_districts = {d.id: d for d in known.districts} | {d.id: d for d, _ in parsed.districts}
    all_orgs = {o.id for o in known.organisations} | set(org_ids)

    for topic, loc in parsed.topics:
        if topic.parent is not None and topic.parent not in all_topics:
            parsed.problem(loc, f"parent topic {topic.parent!r} is not defined")
        elif topic.parent is not None and _in_cycle(topic.id, all_topics):
            parsed.problem(loc, f"topic {topic.id!r} is its own ancestor")
    for district, loc in parsed.districts:
        parent = all_districts.get(district.parent) if district.parent else None
        if district.kind == "street_office":
            if district.parent is None:
                parsed.problem(loc, f"street office {district.id!r} needs a parent district")
            elif parent is None:
                parsed.problem(loc, f"parent district {district.parent!r} is not defined")
            elif parent.kind != "district":
                parsed.problem(loc, f"the parent of {district.id!r} must be a district, "
                                    f"not the street office {parent.id!r}")
        elif district.parent is not None:
            parsed.problem(loc, "a district has no parent; use kind street_office")
    for org, loc in parsed.organisations:
        if org.district is not None and org.district not in all_districts:
            parsed.problem(loc, f"district {org.district!r} is not defined")

    def refs(rows: list[tuple[str, str, _Loc]], owners: set[str], what: str,
             targets: Mapping[str, object] | set[str], target_what: str
             ) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for owner, target, loc in rows:
            if owner not in owners:
                parsed.problem(loc, f"{what} {owner!r} is not defined")
            elif target not in targets:
                parsed.problem(loc, f"{target_what} {target!r} is not defined")
            elif target in out.setdefault(owner, []):
                parsed.problem(loc, f"{target_what} {target!r} is listed twice for {owner!r}")
            else:
                out[owner].append(target)
        return out

    aliases = refs(parsed.aliases, set(topic_ids), "topic", {a for _, a, _ in parsed.aliases},
                   "alias")
    interests = refs(parsed.interests, set(org_ids), "organisation", all_topics, "topic")

    def edges(rows: list[tuple[str, Any, _Loc]], attr: str,
              targets: Mapping[str, object] | set[str], target_what: str) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        seen: set[tuple[str, str]] = set()
        for owner, edge, loc in rows:
            target = getattr(edge, attr)
            if owner not in expert_ids:
                parsed.problem(loc, f"expert {owner!r} is not defined in this file")
            elif target not in targets:
                parsed.problem(loc, f"{target_what} {target!r} is not defined")
            elif (owner, target) in seen:
                parsed.problem(loc, f"{target_what} {target!r} is listed twice for expert "
                                    f"{owner!r}")
            else:
                seen.add((owner, target))
                out.setdefault(owner, []).append(edge)
        return out

    affiliations = edges(parsed.affiliations, "organisation", all_orgs, "organisation")
    proficiencies = edges(parsed.proficiencies, "topic", all_topics, "topic")
    knowledge = edges(parsed.knowledge, "district", all_districts, "district")

    if parsed.problems:
        # Whole-file problems (line 0) first: they explain the row problems after them.
        problems = sorted(parsed.problems, key=lambda p: (p.line > 0, p.file, p.line))
        raise ExpertiseImportError(problems=tuple(problems))
    return ExpertiseData(
        topics=tuple(t.model_copy(update={"aliases": tuple(aliases[t.id])}) if t.id in aliases
                     else t for t, _ in parsed.topics),
        districts=tuple(d for d, _ in parsed.districts),
        organisations=tuple(
            o.model_copy(update={"interests": tuple(interests.get(o.id, ()))})
            for o, _ in parsed.organisations),
        experts=tuple(
            e.model_copy(update={
                "affiliations": tuple(affiliations.get(e.id, ())),
                "proficiencies": tuple(proficiencies.get(e.id, ())),
                "districts": tuple(knowledge.get(e.id, ())),
            }) for e, _ in parsed.experts),
    )


def _in_cycle(start: str, parents: Mapping[str, str | None]) -> bool:
    """Whether ``start`` is among its own ancestors."""
    seen: set[str] = set()
    node = parents.get(start)
    while node is not None and node not in seen:
        if node == start:
            return True
        seen.add(node)
        node = parents.get(node)
    return False
