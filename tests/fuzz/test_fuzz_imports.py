"""Fuzzing ``counsel experts import`` with YAML files and folders of CSV files.

An import is either refused in one sentence (the first problem, then the others indented)
with the store unchanged, or applied: the store then holds the file's records and nothing
outside the expertise tables changed, and importing the same file again changes nothing
more. A dry run never writes. Expert E031 holds an open task in the template store, so a
``--replace`` that would remove E031 must be refused.
"""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import event, given
from hypothesis import strategies as st
from sqlalchemy import Engine

from experts.io import CSV_FILES, dump_yaml_text, write_csv_dir
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
from experts.store import load_expertise
from tests.fuzz.conftest import Template
from tests.fuzz.harness import (
    FUZZ,
    LARGE_REPORTS_WANTED,
    OUTCOMES,
    Outcome,
    Snapshot,
    Stores,
    assert_refused,
    changed_tables,
    invoke,
    snapshot,
)
from tests.fuzz.hostile import (
    CJK,
    ENCODINGS,
    file_bytes,
    hostile_text,
    mostly,
    mutate_mapping,
    yaml_values,
)

pytestmark = LARGE_REPORTS_WANTED

#: A small file that refers to the sample database's records (merging) and brings its own.
BASE = ExpertiseData(
    topics=(
        Topic(id="night-cleaning", name="夜间保洁", parent="street-cleaning", aliases=("夜扫",)),
        Topic(id="snow-removal", name="Snow removal"),
    ),
    districts=(District(id="east-lakeside", name="湖滨街道", kind="street_office",
                        parent="east-district"),),  # fmt: skip
    organisations=(
        Organisation(id="night-clean-co", name="夜洁公司", kind="contractor",
                     interests=("night-cleaning",)),
    ),  # fmt: skip
    experts=(
        Expert(
            id="E901",
            name="韩梅",
            title="工程师",
            affiliations=(Affiliation(organisation="night-clean-co", role="engineer"),),
            proficiencies=(Proficiency(topic="night-cleaning", weight=0.8, last_active=2024),),
            districts=(LocalKnowledge(district="east-lakeside", weight=0.6),),
        ),
        Expert(id="E031", name="孟艳", title="讲师",
               affiliations=(Affiliation(organisation="city-university"),),
               proficiencies=(Proficiency(topic="street-cleaning", weight=0.7,
                                          last_active=2023),)),
    ),
)  # fmt: skip
FLAGS = st.sampled_from(
    [[], ["--merge"], ["--replace"], [], ["--dry-run"], ["--replace", "--dry-run"], [],
     ["--merge", "--replace"], []]
)  # fmt: skip
#: --encoding values: right, wrong, unknown, and codecs that are not text encodings.
ENCODING_OPTIONS = st.sampled_from(
    [None, "gb18030", None, "utf-8", "latin-1", None, "utf-16", "big5", None, "no-such",
     "rot13", None, "hex", "base64", "", None]
)  # fmt: skip
DANGLING = {
    "topic": "no-such-topic",
    "organisation": "no-such-org",
    "district": "no-such-district",
    "parent": "ghost",
}
TRICKY = st.sampled_from(
    [0, -0.5, 1.5, 1e309, 1899, 2201, "", " x", "x ", None, [], {}, True, "0.5", 10**30]
)


def _csv_of(data: ExpertiseData) -> dict[str, list[list[str]]]:
    with tempfile.TemporaryDirectory() as folder:
        write_csv_dir(data, Path(folder))
        return {
            p.name: list(csv.reader(io.StringIO(p.read_text(encoding="utf-8"))))
            for p in Path(folder).iterdir()
        }


BASE_CSV = _csv_of(BASE)


def _yaml_doc() -> dict[str, Any]:
    return yaml.safe_load(dump_yaml_text(BASE))


@st.composite
def expertise_docs(draw: st.DrawFn) -> dict[str, Any]:
    """The base file with records changed: hostile or tricky fields, duplicated ids,
    dangling references, dropped sections, unknown fields."""
    doc = _yaml_doc()
    if draw(st.booleans()):
        return doc
    for _ in range(draw(st.sampled_from([1, 1, 2, 3]))):
        section = draw(st.sampled_from(["topics", "districts", "organisations", "experts"]))
        rows = doc.get(section)
        action = draw(st.sampled_from(
            ["record", "record", "duplicate", "dangling", "edge", "drop", "section", "unknown"]
        ))  # fmt: skip
        if action == "drop":
            doc.pop(section, None)
        elif action == "section":
            doc[section] = draw(yaml_values)
        elif action == "unknown":
            doc[draw(st.sampled_from(["format", "expert", "notes"]))] = draw(yaml_values)
        elif not isinstance(rows, list) or not rows:
            continue
        elif action == "duplicate":
            row = draw(st.sampled_from(rows))
            rows.append(dict(row) if isinstance(row, dict) else row)
        elif action == "dangling":
            row = draw(st.sampled_from(rows))
            if not isinstance(row, dict):
                continue
            for key, ghost in DANGLING.items():
                if key in row:
                    row[key] = ghost
            for edges in ("affiliations", "proficiencies", "districts"):
                listed = row.get(edges)
                for edge in listed if isinstance(listed, list) else []:
                    for key, ghost in DANGLING.items():
                        if isinstance(edge, dict) and key in edge:
                            edge[key] = ghost
        elif action == "edge" and section == "experts":
            edges = draw(st.sampled_from(["affiliations", "proficiencies", "districts"]))
            row = draw(st.sampled_from(rows))
            if not isinstance(row, dict):
                continue
            items = row.setdefault(edges, []) or [{}]
            item = draw(st.sampled_from(items)) if isinstance(items, list) else {}
            if isinstance(item, dict):
                key = draw(st.sampled_from([*item, "weight", "extra"]))
                item[key] = draw(st.one_of(TRICKY, hostile_text))
        else:
            index = draw(st.integers(min_value=0, max_value=len(rows) - 1))
            row = rows[index]
            if isinstance(row, dict):
                rows[index] = draw(mutate_mapping(row, fields=[*row, "id", "name", "kind"]))
    return doc


def _encode(text: str, encoding: str) -> bytes:
    if encoding == "utf-8-sig":
        return b"\xef\xbb\xbf" + text.encode("utf-8", "surrogatepass")
    return text.encode(encoding, "surrogatepass" if encoding == "utf-8" else "replace")


def judge_import(
    entry: str,
    engine: Engine,
    before: Snapshot,
    result: Outcome,
    args: list[str],
    again: Any,
) -> str:
    """Check one import: refused with nothing written, a dry run that wrote nothing, or
    applied once (the file's records stored, nothing else touched, a second import idle)."""
    after = snapshot(engine)
    assert after.chain_ok, f"{entry}: the audit chain no longer verifies"
    changed = changed_tables(before, after)
    if result.code == 0:
        assert result.raised is None and "Traceback" not in result.text, result
        if "--dry-run" in args:
            assert not changed, f"{entry}: a dry run wrote {changed}"
            return "dry run"
        assert all(t.startswith("expertise_") for t in changed), changed
        with engine.connect() as conn:
            stored = load_expertise(conn)
        assert stored.experts, f"{entry}: the import left no experts"
        assert "E031" in {e.id for e in stored.experts}, f"{entry}: removed E031, in use"
        repeat = again()
        assert repeat.code == 0, repeat
        assert snapshot(engine) == after, f"{entry}: importing the same file again wrote"
        return "imported"
    assert_refused(result, why=entry)
    assert not changed, f"{entry}: a refused import wrote {changed}"
    return "refused"


def _import(url: str, token: str, args: list[str]) -> Outcome:
    return invoke(
        "experts", "import", *args, env={"COUNSEL_DATABASE_URL": url, "COUNSEL_TOKEN": token}
    )


def _options(flags: list[str], encoding: str | None) -> list[str]:
    return [*flags, *(["--encoding", encoding] if encoding is not None else [])]


@FUZZ
@given(
    doc=st.one_of(
        st.tuples(expertise_docs(), st.sampled_from(ENCODINGS)).map(
            lambda d: _encode(yaml.safe_dump(d[0], allow_unicode=True, width=10**6), d[1])
        ),
        expertise_docs().map(
            lambda d: yaml.safe_dump(d, allow_unicode=True, width=10**6).encode(
                "utf-8", "surrogatepass"
            )
        ),
        yaml_values.map(lambda v: yaml.safe_dump(v, allow_unicode=True).encode("utf-8", "replace")),
        file_bytes,
    ),
    suffix=st.sampled_from([".yaml", ".yaml", ".yml", ".YAML", ".json", ""]),
    flags=FLAGS,
    encoding=ENCODING_OPTIONS,
)
def test_import_yaml(
    doc: bytes,
    suffix: str,
    flags: list[str],
    encoding: str | None,
    template: Template,
    stores: Stores,
    workdir: Path,
) -> None:
    """`counsel experts import F.yaml` applies a file once or refuses it in a sentence with
    the store unchanged, whatever its encoding, size, shape or references."""
    url, engine = stores.fresh()
    path = workdir / f"experts{suffix}"
    if path.is_dir():
        shutil.rmtree(path)
    path.write_bytes(doc)
    args = [str(path), *_options(flags, encoding)]
    before = stores.pristine()
    result = _import(url, template.planner_token, args)
    branch = judge_import(
        "counsel experts import (YAML)", engine, before, result, args,
        lambda: _import(url, template.planner_token, args),
    )  # fmt: skip
    path.unlink()
    event(branch)
    OUTCOMES["import-yaml", branch] += 1


def _csv_text(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


@st.composite
def csv_folders(draw: st.DrawFn) -> dict[str, bytes | None]:
    """The base data as CSV files (name -> bytes; None: a folder of that name), with files
    removed, emptied, re-encoded, replaced by noise, or given hostile, duplicated, dangling
    or surplus rows and columns."""
    files = {name: [list(row) for row in rows] for name, rows in BASE_CSV.items()}
    out: dict[str, bytes | None] = {}
    encodings = dict.fromkeys(files, "utf-8")
    raw: dict[str, bytes | None] = {}
    for _ in range(draw(st.sampled_from([0, 1, 0, 1, 2, 0, 3, 0]))):
        name = draw(st.sampled_from(sorted(CSV_FILES)))
        rows = files.setdefault(name, [list(CSV_FILES[name])])
        action = draw(st.sampled_from(
            ["cell", "cell", "row", "duplicate", "dangling", "header", "delete", "empty",
             "noise", "encode", "folder"]
        ))  # fmt: skip
        if action == "cell" and len(rows) > 1:
            row = draw(st.sampled_from(rows[1:]))
            if row:
                i = draw(st.integers(min_value=0, max_value=len(row) - 1))
                row[i] = str(draw(st.one_of(TRICKY, hostile_text)))
        elif action == "row":
            width = len(rows[0]) + draw(st.sampled_from([0, 0, -1, 1]))
            rows.append([str(draw(mostly(st.sampled_from(CJK), hostile_text)))
                         for _ in range(max(width, 0))])  # fmt: skip
        elif action == "duplicate" and len(rows) > 1:
            rows.append(list(draw(st.sampled_from(rows[1:]))))
        elif action == "dangling" and len(rows) > 1:
            row = draw(st.sampled_from(rows[1:]))
            for i, column in enumerate(rows[0]):
                if column in DANGLING and i < len(row) and row[i]:
                    row[i] = DANGLING[column]
        elif action == "header":
            rows[0] = [*rows[0], draw(st.sampled_from(["notes", "ID", ""]))]
        elif action == "delete":
            files.pop(name, None)
            raw.pop(name, None)
        elif action == "empty":
            raw[name] = draw(st.sampled_from([b"", b"\n", b"\xef\xbb\xbf"]))
        elif action == "noise":
            raw[name] = draw(file_bytes)
        elif action == "encode":
            encodings[name] = draw(st.sampled_from(ENCODINGS))
        elif action == "folder":
            raw[name] = None
    for name, rows in files.items():
        out[name] = _encode(_csv_text(rows), encodings.get(name, "utf-8"))
    out.update(raw)
    return out


@FUZZ
@given(files=csv_folders(), flags=FLAGS, encoding=ENCODING_OPTIONS)
def test_import_csv(
    files: dict[str, bytes | None],
    flags: list[str],
    encoding: str | None,
    template: Template,
    stores: Stores,
    workdir: Path,
) -> None:
    """`counsel experts import FOLDER` applies a folder of CSV files once or refuses it in a
    sentence with the store unchanged."""
    url, engine = stores.fresh()
    folder = workdir / "csv"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    for name, content in files.items():
        if content is None:
            (folder / name).mkdir()
        else:
            (folder / name).write_bytes(content)
    args = [str(folder), *_options(flags, encoding)]
    before = stores.pristine()
    result = _import(url, template.planner_token, args)
    branch = judge_import(
        "counsel experts import (CSV)", engine, before, result, args,
        lambda: _import(url, template.planner_token, args),
    )  # fmt: skip
    event(branch)
    OUTCOMES["import-csv", branch] += 1


def test_every_import_branch_was_reached() -> None:
    """The fuzzing above both imported and refused YAML files and CSV folders."""
    ran = {entry for entry, _ in OUTCOMES if entry.startswith("import-")}
    if not ran:
        pytest.skip("the fuzz tests of this module did not run")
    for entry in sorted(ran):
        assert OUTCOMES[entry, "imported"] > 0, (entry, dict(OUTCOMES))
        assert OUTCOMES[entry, "refused"] > 0, (entry, dict(OUTCOMES))
