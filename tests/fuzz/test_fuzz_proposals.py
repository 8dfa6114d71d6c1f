"""Fuzzing ``counsel submit --no-run`` with proposal files and with decision-classes files
(``COUNSEL_CLASSES_FILE``, read by ``decisions.classes.load_classes``).

A proposal is either filed as exactly one decision (and filing the same file again files
nothing more), or refused in one sentence with the store unchanged. A classes file is either
a valid :class:`ClassBook` or a :class:`ClassFileError` naming the file; never a traceback.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import event, example, given
from hypothesis import strategies as st
from sqlalchemy import Engine

from decisions import services
from decisions.classes import ClassBook, load_classes
from decisions.exceptions import ClassFileError
from flows.demo import examples_dir
from tests.fuzz.conftest import Template
from tests.fuzz.harness import (
    FUZZ,
    LARGE_REPORTS_WANTED,
    OUTCOMES,
    Outcome,
    Snapshot,
    Stores,
    assert_clean_text,
    assert_refused,
    changed_tables,
    invoke,
    snapshot,
)
from tests.fuzz.hostile import (
    ENCODINGS,
    encode_document,
    file_bytes,
    hostile_text,
    mostly,
    mutate_mapping,
    yaml_values,
)

pytestmark = LARGE_REPORTS_WANTED

PROPOSAL = yaml.safe_load((examples_dir() / "proposal.yaml").read_text(encoding="utf-8"))
FIELDS = ["title", "description", "class", "district", "district_type", "topics",
          "stakeholders", "bidders", "executors", "text"]  # fmt: skip
NAMES = {
    "class": ["major", "standard", "urgent", "Standard", "standrd", "minor"],
    "district": ["east-district", "东区", "east-distrct", "middle-district", "nowhere"],
    "district_type": ["east", "middle", "west", "north", None],
}
TOPICS = ["street-cleaning", "procurement-law", "zoning", "道路清扫保洁", "no-such-topic", "street"]
ORGS = ["cleanco", "tongji-univ", "jianshe-residents-committee", "brand-new-committee", "CLEANCO"]


@st.composite
def proposals(draw: st.DrawFn) -> dict[str, Any]:
    """A proposal: the example one with names changed, some of them dangling, and a few
    fields made hostile, wrongly typed, or unknown."""
    data = dict(PROPOSAL)
    for field, options in NAMES.items():
        if draw(st.integers(min_value=0, max_value=3)) == 0:
            data[field] = draw(st.sampled_from(options))
    if draw(st.booleans()):
        return data  # names only: valid, resolvable, misspelt or dangling
    if draw(st.booleans()):
        data["topics"] = draw(st.lists(mostly(st.sampled_from(TOPICS), hostile_text), max_size=4))
    for field in ("stakeholders", "bidders", "executors"):
        if draw(st.integers(min_value=0, max_value=3)) == 0:
            data[field] = draw(st.lists(mostly(st.sampled_from(ORGS), hostile_text), max_size=3))
    return draw(mutate_mapping(data, fields=FIELDS))


def judge_submit(entry: str, engine: Engine, before: Snapshot, result: Outcome, again: Any) -> str:
    """Check one `counsel submit`: one decision filed once, or refused with nothing written."""
    after = snapshot(engine)
    assert after.chain_ok, f"{entry}: the audit chain no longer verifies"
    changed = changed_tables(before, after)
    if result.code == 0:
        assert result.raised is None and "Traceback" not in result.text, result
        assert changed.get("decisions") == 1, changed
        assert set(changed) <= {"decisions", "proposal_versions", "audit_events"}, changed
        filed = re.search(r"Filed (D-\d{4}-\d{4})", result.out)
        assert filed, result.out
        decision = services.get_decision(engine, filed.group(1))
        assert_clean_text(decision.model_dump(mode="json"), where=f"{entry}: the decision")
        repeat = again()
        assert repeat.code == 0 and filed.group(1) in repeat.out, repeat
        assert snapshot(engine) == after, f"{entry}: filing the same file again wrote"
        return "accepted"
    assert_refused(result, why=entry)
    assert not changed, f"{entry}: a refused proposal wrote {changed}"
    return "refused"


def _submit(url: str, token: str, path: Path, classes: Path | None = None) -> Outcome:
    env = {"COUNSEL_DATABASE_URL": url, "COUNSEL_TOKEN": token}
    env["COUNSEL_CLASSES_FILE"] = str(classes) if classes else None  # type: ignore[assignment]
    return invoke("submit", "--no-run", str(path), env=env)


@FUZZ
@given(
    doc=st.one_of(
        st.tuples(proposals(), st.sampled_from(ENCODINGS)).map(lambda d: encode_document(*d)),
        st.tuples(proposals(), st.just("utf-8")).map(lambda d: encode_document(*d)),
        yaml_values.map(lambda v: encode_document(v, "utf-8")),
        file_bytes,
    )
)
def test_submit_proposal(doc: bytes, template: Template, stores: Stores, workdir: Path) -> None:
    """`counsel submit --no-run F` files one decision for a proposal file, once, or refuses
    it in a sentence with the store unchanged."""
    url, engine = stores.fresh()
    path = workdir / "proposal.yaml"
    path.write_bytes(doc)
    before = stores.pristine()
    result = _submit(url, template.planner_token, path)
    branch = judge_submit(
        "counsel submit", engine, before, result,
        lambda: _submit(url, template.planner_token, path),
    )  # fmt: skip
    event(branch)
    OUTCOMES["submit", branch] += 1


SHIPPED = yaml.safe_load(
    resources.files("decisions").joinpath("classes.yaml").read_text(encoding="utf-8")
)
TRICKY = st.sampled_from([
    "2/3", "2/0", "1/0", "3/2", "-1/3", "1/3", "0", 0, 1.5, "1e309", "nan",
    "72h", "0h", "-1d", "1.5h", "99999999999d", "999999999d", "10000000000000000000000s",
    [], ["cost", "cost"], [None], {}, 10**30, -1, True,
])  # fmt: skip


def _paths(node: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, str(key)))
    return out


PATHS = _paths(SHIPPED)


def _with(doc: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """A copy of ``doc`` with the setting at ``dotted`` set to ``value``."""
    copy = yaml.safe_load(yaml.safe_dump(doc))
    *parents, last = dotted.split(".")
    node = copy
    for key in parents:
        node = node[key]
    node[last] = value
    return copy


@st.composite
def class_files(draw: st.DrawFn) -> dict[str, Any]:
    """The shipped classes file with a few settings dropped or set to hostile, tricky or
    wrongly typed values, or new settings added."""
    doc = yaml.safe_load(yaml.safe_dump(SHIPPED))
    if draw(st.booleans()):
        return doc
    for _ in range(draw(st.sampled_from([1, 1, 2, 3]))):
        path = draw(st.sampled_from(PATHS))
        parent = doc
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if not isinstance(parent, dict):
            continue
        action = draw(st.sampled_from(["tricky", "tricky", "value", "drop", "add"]))
        if action == "drop":
            parent.pop(path[-1], None)
        elif action == "add":
            parent[draw(st.sampled_from(["extra", "Experts", "quorun"]))] = draw(yaml_values)
        else:
            parent[path[-1]] = draw(TRICKY if action == "tricky" else yaml_values)
    return doc


@FUZZ
@given(
    doc=st.one_of(
        st.tuples(class_files(), st.sampled_from(ENCODINGS)).map(lambda d: encode_document(*d)),
        st.tuples(class_files(), st.just("utf-8")).map(lambda d: encode_document(*d)),
        yaml_values.map(lambda v: encode_document(v, "utf-8")),
        file_bytes,
    )
)
@example(doc=encode_document(_with(SHIPPED, "classes.standard.durations.execute", "99999999999d"),
                             "utf-8"))  # fmt: skip
def test_classes_file(doc: bytes, template: Template, stores: Stores, workdir: Path) -> None:
    """A decision-classes file is loaded or refused with ClassFileError, and `counsel submit`
    under COUNSEL_CLASSES_FILE files one decision or refuses in a sentence, store unchanged."""
    classes = workdir / "classes.yaml"
    classes.write_bytes(doc)
    try:
        book = load_classes(classes)
    except ClassFileError as err:
        assert str(classes) in str(err), err
        loaded = "refused"
    else:
        assert isinstance(book, ClassBook)
        loaded = "loaded"
    event(f"load_classes: {loaded}")
    OUTCOMES["classes-load", loaded] += 1
    url, engine = stores.fresh()
    before = stores.pristine()
    proposal = examples_dir() / "proposal.yaml"
    result = _submit(url, template.planner_token, proposal, classes)
    branch = judge_submit(
        "counsel submit with COUNSEL_CLASSES_FILE", engine, before, result,
        lambda: _submit(url, template.planner_token, proposal, classes),
    )  # fmt: skip
    if loaded == "refused":
        assert branch == "refused", "a classes file load_classes refuses was used to file"
    event(branch)
    OUTCOMES["classes-submit", branch] += 1


def test_every_proposal_branch_was_reached() -> None:
    """The fuzzing above both accepted and refused proposals and classes files."""
    ran = {entry for entry, _ in OUTCOMES if entry.startswith(("submit", "classes"))}
    if not ran:
        pytest.skip("the fuzz tests of this module did not run")
    for entry in sorted(ran):
        accepted = OUTCOMES[entry, "accepted"] + OUTCOMES[entry, "loaded"]
        assert accepted > 0 and OUTCOMES[entry, "refused"] > 0, (entry, dict(OUTCOMES))
