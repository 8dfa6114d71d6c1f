"""Import plans, their safety checks, reading files in other encodings, ambiguous names."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest

from experts.exceptions import AmbiguousExpert, ExpertiseEncodingError, UnsafeImport
from experts.graph import build_graph, resolve_expert
from experts.importing import check_import, plan_import, some
from experts.io import read_expertise, read_text
from experts.model import Expert, ExpertiseData

STORED = ExpertiseData(experts=tuple(Expert(id=f"E{i}", name=f"专家{i}") for i in range(10)))


@pytest.mark.parametrize(
    ("incoming", "replace", "added", "changed", "removed"),
    [
        (ExpertiseData(experts=(Expert(id="N", name="新"),)), False, ["N"], [], []),
        (
            ExpertiseData(experts=(Expert(id="N", name="新"),)),
            True,
            ["N"],
            [],
            [f"E{i}" for i in range(10)],
        ),
        (ExpertiseData(experts=(Expert(id="E1", name="改"),)), False, [], ["E1"], []),
        (STORED, True, [], [], []),
    ],
    ids=["merge-adds", "replace-removes", "merge-changes", "replace-same"],
)
def test_plan_lists_added_changed_removed(
    incoming: ExpertiseData, replace: bool, added: list[str], changed: list[str], removed: list[str]
) -> None:
    """A merge never removes; a replace removes what the file lacks; equal records are unchanged."""
    plan = plan_import(STORED, incoming, replace=replace)
    assert [r.id for r in plan.added] == added
    assert [r.id for r in plan.changed] == changed
    assert [r.id for r in plan.removed] == removed
    assert plan.writes == bool(added or changed or removed)


@pytest.mark.parametrize("stored", [STORED, ExpertiseData()], ids=["full", "empty"])
def test_a_plan_without_experts_is_refused(stored: ExpertiseData) -> None:
    """An import that leaves no experts is refused whether or not any were stored."""
    with pytest.raises(UnsafeImport, match="would be left without experts"):
        check_import(plan_import(stored, ExpertiseData(), replace=True), in_use={})


@pytest.mark.parametrize("n_in_use", [1, 5, 9])
def test_removing_experts_in_use_is_refused_naming_a_handful(n_in_use: int) -> None:
    """The refusal names at most five experts in use with why, then how many more."""
    plan = plan_import(STORED, ExpertiseData(experts=(Expert(id="N", name="新"),)), replace=True)
    in_use = {f"E{i}": f"holds open task T-{i}" for i in range(n_in_use)}
    with pytest.raises(UnsafeImport) as caught:
        check_import(plan, in_use=in_use)
    assert caught.value.in_use == in_use
    assert "专家0 (E0, holds open task T-0)" in str(caught.value)
    assert ("and 4 more" in str(caught.value)) == (n_in_use == 9)


def test_some_counts_the_rest() -> None:
    """Lists longer than the limit end in "and N more"."""
    assert some(list("abcdefg")) == "a, b, c, d, e and 2 more"
    assert some(["a"]) == "a"


@pytest.mark.parametrize("encoding", ["gb18030", "gbk", "big5"])
def test_a_file_in_another_encoding_names_line_byte_and_the_fix(
    tmp_path: Path, encoding: str
) -> None:
    """Reading a non-UTF-8 file names its first bad line and byte and an iconv command."""
    path = tmp_path / "e.yaml"
    path.write_bytes("topics:\n  - {id: t1, name: 道路}\n".encode(encoding))
    with pytest.raises(ExpertiseEncodingError) as caught:
        read_text(path)
    err = caught.value
    assert (err.line, err.column, err.offset) == (2, 20, 27)
    assert "iconv -f" in str(err) and "--encoding" in str(err) and str(path) in str(err)
    assert read_expertise(path, encoding=encoding).topics[0].name == "道路"


def test_a_name_shared_by_two_experts_is_ambiguous() -> None:
    """A name two experts share is refused with both ids; ids and unique names resolve."""
    G: nx.Graph[str] = build_graph(
        ExpertiseData(
            experts=(
                Expert(id="E1", name="王建国"),
                Expert(id="E2", name="王建国"),
                Expert(id="E3", name="李强"),
            )
        ),
        as_of=2025,
    )
    with pytest.raises(AmbiguousExpert, match="2 experts are called '王建国': E1 .*; E2 "):
        resolve_expert(G, "王建国")
    assert resolve_expert(G, "E2") == "expert:E2"
    assert resolve_expert(G, "李强") == "expert:E3"
