"""``counsel experts``: import, export, browse and route the expertise database.

Every command parses its options, calls the ``experts`` package once and prints the result;
a user's mistake (a bad file, an unknown topic, an infeasible assignment, an uninitialised
database) is printed as one sentence by :mod:`cli.errors`. The graph, ranking and assignment
modules (networkx, NumPy, SciPy, OR-Tools) are loaded by the commands that route or assign,
when they run, so that ``counsel --help`` and the other commands start without them; the
store (SQLAlchemy), the YAML and CSV readers of the database and Rich (tables, and
:data:`cli.common.console`) are loaded by the commands that use them, so that ``assign``,
which reads two CSV files and writes one JSON file, loads Typer (with pydantic), NumPy and
OR-Tools only.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli import common
from cli.common import RefusingCommands, open_engine, refuse

if TYPE_CHECKING:
    import networkx as nx

    from experts.assignment import Assignment
    from experts.importing import ImportPlan
    from experts.model import ExpertiseData

__all__ = ["app"]

app = typer.Typer(
    cls=RefusingCommands,
    help="The expertise database and expert routing.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def check_names(data: ExpertiseData, *, source: str) -> None:
    """Refuse names that break the text policy (:mod:`decisions.text`): they would reach the
    store as actors' names when the expert is routed, and show in every report."""
    from decisions.text import NAME_MAX, checked_text
    from experts.exceptions import InvalidExpertise

    records = [
        *(("expert", r.id, r.name) for r in data.experts),
        *(("expert", r.id, r.title) for r in data.experts if r.title),
        *(("organisation", r.id, r.name) for r in data.organisations),
        *(("topic", r.id, r.name) for r in data.topics),
        *(("district", r.id, r.name) for r in data.districts),
    ]
    for kind, record_id, name in records:
        try:
            checked_text(name, what=f"The name of {kind} {record_id!r}", limit=NAME_MAX)
        except ValueError as err:
            raise InvalidExpertise(f"{source}: {err}") from err


def stored_data() -> ExpertiseData:
    """Everything in the expertise tables (one read-only unit of work)."""
    from experts.store import load_expertise

    engine = open_engine()
    try:
        with engine.connect() as conn:
            return load_expertise(conn)
    finally:
        engine.dispose()


def graph_of(data: ExpertiseData, as_of: int | None = None) -> nx.Graph[str]:
    """The expertise graph of ``data``, recency measured from ``as_of`` (default: this year)."""
    from experts.graph import build_graph  # networkx: only for commands that walk the graph

    return build_graph(data, as_of=as_of or date.today().year)


def graph_for(sample: bool, as_of: int | None) -> tuple[ExpertiseData, nx.Graph[str]]:
    """The data and graph to route on: the shipped sample or the database."""
    from experts.sample import load_sample

    data = load_sample() if sample else stored_data()
    if not data.experts:
        refuse(
            "The expertise database is empty; run `counsel experts import FILE` "
            "(or `counsel experts import --sample`), or pass --sample."
        )
    return data, graph_of(data, as_of)


def _plan_lines(plan: ImportPlan, *, dry_run: bool) -> list[str]:
    """What an import did, or would do, expert by expert (the first few) and kind by kind."""
    from experts.importing import some

    lines = []
    for done, do in (("added", "add"), ("changed", "change"), ("removed", "remove")):
        refs = getattr(plan, done)
        word = f"Would {do}" if dry_run else done.capitalize()
        noun = "expert" if len(refs) == 1 else "experts"
        lines.append(f"{word} {len(refs)} {noun}" + (f": {some(refs)}." if refs else "."))
    words = ("to add", "to change", "to remove") if dry_run else ("added", "changed", "removed")
    counts = [
        f"{kind}: "
        + ", ".join(f"{n} {w}" for n, w in zip((c.added, c.changed, c.removed), words, strict=True))
        for kind, c in plan.kinds.items()
        if kind != "experts"
    ]
    joined = "; ".join(counts)
    lines.append(joined[:1].upper() + joined[1:] + ".")
    return lines


@app.command("import")
def import_(
    path: Annotated[
        Path | None, typer.Argument(help="A .yaml file or a directory of CSV files.")
    ] = None,
    merge: Annotated[
        bool,
        typer.Option(
            help="Add the file's records and update those with the same id; keep "
            "the rest (the default)."
        ),
    ] = False,
    replace: Annotated[
        bool,
        typer.Option(
            help="Make the database hold exactly the file: remove stored records it "
            "lacks (refused for experts in use)."
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option(help="Print what would be added, changed and removed; write nothing.")
    ] = False,
    encoding: Annotated[
        str, typer.Option(help="The file's encoding, e.g. gb18030 for GBK files.")
    ] = "utf-8",
    sample: Annotated[
        bool, typer.Option(help="Import the sample database shipped with Counsel.")
    ] = False,
) -> None:
    """Import experts, topics, districts and organisations; a bad row imports nothing.

    By default the file is merged in: its records are added or update those with the same
    id, and nothing is removed. --replace removes what the file lacks, but never experts who
    hold open tasks or were routed to a decision, and never leaves the database without
    experts.
    """
    from decisions.db import READ_ONLY, take_write_lock
    from decisions.usage import experts_in_use
    from experts.importing import check_import, plan_import
    from experts.io import read_expertise
    from experts.sample import load_sample
    from experts.store import load_expertise, save_expertise

    if (path is None) == (not sample):
        refuse("Give either a file to import or --sample, not both or neither.")
    if merge and replace:
        refuse("Give --merge or --replace, not both.")
    engine = open_engine()
    bind = engine.execution_options(**{READ_ONLY: True}) if dry_run else engine
    try:
        with bind.begin() as conn:
            if not dry_run:
                take_write_lock(conn)
            stored = load_expertise(conn)
            incoming = (
                load_sample()
                if sample
                else read_expertise(
                    path or Path(), known=None if replace else stored, encoding=encoding
                )
            )
            check_names(incoming, source=str(path) if path else "the sample")
            plan = plan_import(stored, incoming, replace=replace)
            check_import(plan, in_use=experts_in_use(conn, [r.id for r in plan.removed]))
            if not dry_run and plan.writes:
                save_expertise(conn, plan.result, replace=True)
    finally:
        engine.dispose()
    source = "the sample database" if sample else str(path)
    if dry_run:
        head = (
            f"Dry run, nothing was written: importing {source} ({plan.mode}) would "
            f"leave {len(plan.result.experts)} experts in the database."
        )
    else:
        head = (
            f"Imported {len(incoming.experts)} experts, {len(incoming.topics)} topics, "
            f"{len(incoming.organisations)} organisations and {len(incoming.districts)} "
            f"districts from {source} ({plan.mode}); the database holds "
            f"{len(plan.result.experts)} experts."
        )
    common.console.print(
        "\n".join([head, *_plan_lines(plan, dry_run=dry_run)]), markup=False, highlight=False
    )


@app.command("export")
def export(
    path: Annotated[Path, typer.Argument(help="A .yaml file, or a directory for CSV files.")],
) -> None:
    """Export the whole expertise database as YAML or CSV (lossless)."""
    from experts.io import write_expertise

    data = stored_data()
    write_expertise(data, path)
    common.console.print(
        f"Exported {len(data.experts)} experts to {path}.", markup=False, highlight=False
    )


@app.command("list")
def list_(
    topic: Annotated[
        str | None, typer.Option(help="Only experts proficient in this topic.")
    ] = None,
    organisation: Annotated[
        str | None, typer.Option(help="Only this organisation's staff.")
    ] = None,
    sample: Annotated[bool, typer.Option(help="List the shipped sample instead.")] = False,
) -> None:
    """List experts with their organisations, topics, availability and load."""
    from rich.table import Table

    from experts.sample import load_sample

    data = load_sample() if sample else stored_data()
    topics = {t.id: t for t in data.topics}
    orgs = {o.id: o for o in data.organisations}
    wanted: str | None = None
    if topic is not None:
        from experts.graph import resolve_topic

        G = graph_of(data)
        wanted = G.nodes[resolve_topic(G, topic)]["id"]
    table = Table(title="Experts")
    for col in ("id", "name", "title", "organisations", "topics", "available", "load"):
        table.add_column(col)
    shown = 0
    for e in data.experts:
        if wanted is not None and wanted not in {p.topic for p in e.proficiencies}:
            continue
        if organisation is not None and organisation not in {
            a.organisation for a in e.affiliations if a.current
        }:
            continue
        shown += 1
        table.add_row(
            e.id,
            e.name,
            e.title,
            ", ".join(orgs[a.organisation].name for a in e.affiliations if a.current),
            ", ".join(f"{topics[p.topic].name} {p.weight:.2f}" for p in e.proficiencies),
            "yes" if e.available else "no",
            f"{e.active_assignments}/{e.workload_cap}",
        )
    common.console.print(table)
    common.console.print(f"{shown} experts.", markup=False, highlight=False)


@app.command("show")
def show(
    expert: Annotated[str, typer.Argument(help="An expert's id or name.")],
    sample: Annotated[bool, typer.Option(help="Look in the shipped sample instead.")] = False,
) -> None:
    """Show one expert: affiliations, proficiencies (weight, last active), local knowledge."""
    from rich.table import Table

    from experts.graph import resolve_expert
    from experts.sample import load_sample

    data = load_sample() if sample else stored_data()
    G = graph_of(data)
    eid = G.nodes[resolve_expert(G, expert)]["id"]
    (e,) = [x for x in data.experts if x.id == eid]
    names = {
        **{t.id: t.name for t in data.topics},
        **{d.id: d.name for d in data.districts},
        **{o.id: o.name for o in data.organisations},
    }
    common.console.print(f"[bold]{e.name}[/bold] ({e.id}) {e.title}")
    common.console.print(
        f"available: {'yes' if e.available else 'no'}; load "
        f"{e.active_assignments} of {e.workload_cap}",
        highlight=False,
    )
    table = Table(show_header=True)
    for col in ("edge", "to", "detail"):
        table.add_column(col)
    for a in e.affiliations:
        table.add_row(
            "affiliation", names[a.organisation], f"{a.role}{'' if a.current else ' (former)'}"
        )
    for p in e.proficiencies:
        table.add_row("proficiency", names[p.topic], f"{p.weight:.2f}, last active {p.last_active}")
    for k in e.districts:
        table.add_row("local knowledge", names[k.district], f"{k.weight:.2f}")
    common.console.print(table)


@app.command("match")
def match(
    topic: Annotated[
        list[str], typer.Option(help="A required topic (id, name or alias); repeat for several.")
    ],
    district: Annotated[str | None, typer.Option(help="District or street office.")] = None,
    k: Annotated[int, typer.Option(min=1, help="How many experts to pick.")] = 5,
    alternates: Annotated[int, typer.Option(min=0, help="Alternates per pick.")] = 2,
    stakeholder: Annotated[
        list[str] | None,
        typer.Option(help="Organisation id that is a stakeholder or bidder; repeat for several."),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option(help="Expert id with a declared conflict; repeat for several."),
    ] = None,
    explain: Annotated[bool, typer.Option(help="Show each pick's graph path in full.")] = False,
    sample: Annotated[bool, typer.Option(help="Route on the shipped sample database.")] = False,
    as_of: Annotated[int | None, typer.Option(help="Year recency is measured from.")] = None,
) -> None:
    """Route experts to a decision's topics and district, with alternates and reasons."""
    from rich.table import Table

    from experts.ranking import RULES, rank_experts  # networkx, NumPy

    _, G = graph_for(sample, as_of)
    routing = rank_experts(
        G,
        topic,
        district=district,
        k=k,
        alternates=alternates,
        stakeholders=stakeholder or (),
        exclude=exclude or (),
    )
    table = Table(
        title=f"Experts for {', '.join(routing.topics)}"
        + (f" in {routing.district}" if routing.district else "")
    )
    for col in ("#", "expert", "organisation", "score", "covers", "alternates", "reason"):
        table.add_column(col, overflow="fold")
    org_names = {n: d["name"] for n, d in G.nodes(data=True) if d["kind"] == "organisation"}
    for p in routing.picks:
        reason = p.reason if explain else p.explanation.text
        if explain:
            reason += "\npath: " + " → ".join(G.nodes[n]["name"] for n in p.explanation.nodes)
        table.add_row(
            str(p.rank),
            f"{p.name} ({p.expert})",
            ", ".join(org_names.get(f"org:{o}", o) for o in p.organisations),
            f"{p.score:.4f}",
            ", ".join(p.covers),
            ", ".join(f"{a.name} ({a.expert})" for a in p.alternates),
            reason,
        )
    common.console.print(table)
    for u in routing.uncovered:
        common.console.print(
            f"Not covered: {u.name} ({u.topic}) — {u.reason}.", markup=False, highlight=False
        )
    for x in routing.excluded:
        common.console.print(
            f"Excluded: {x.name} ({x.expert}) {x.reason} — {RULES[x.cause]}.",
            markup=False,
            highlight=False,
        )
    if routing.shortfall is not None:
        common.console.print(
            f"Fewer experts than asked: {routing.shortfall.reason}.",
            markup=False,
            highlight=False,
        )


#: The assignment modes ``assign`` offers (see :mod:`experts.assignment`).
ASSIGN_MODES = ("optimal", "fair", "random")


@app.command("assign")
def assign(
    scores: Annotated[Path, typer.Option(help="CSV of item,expert,score rows.")],
    out: Annotated[Path, typer.Option(help="Where to write the assignment JSON.")],
    conflicts: Annotated[Path | None, typer.Option(help="CSV of item,expert,-1 rows.")] = None,
    per_item: Annotated[int, typer.Option(min=0, help="Experts per item.")] = 3,
    max_load: Annotated[int, typer.Option(min=0, help="Most items per expert.")] = 3,
    min_load: Annotated[int, typer.Option(min=0, help="Fewest items per expert.")] = 0,
    mode: Annotated[
        str,
        typer.Option(
            help="optimal: the greatest total score; fair: the worst-served item as well "
            "as possible first, then the greatest total; random: a seeded draw in which no "
            "expert lands on an item with a probability above --max-probability."
        ),
    ] = "optimal",
    seed: Annotated[
        str | None,
        typer.Option(
            help="The random mode's seed (any text, e.g. a notary's number); the same "
            "files, options and seed give the same assignment."
        ),
    ] = None,
    max_probability: Annotated[
        float | None,
        typer.Option(
            help="The random mode's cap on any expert's probability of landing on a given "
            "item, above 0 and at most 1.",
            show_default="0.5",
        ),
    ] = None,
    solver: Annotated[
        str,
        typer.Option(
            hidden=True,
            help="lp: the optimal mode as Counsel ran it before OR-Tools (the row-by-row CSV "
            "reader and SciPy's HiGHS linear programme), kept for bench/assignment.py.",
        ),
    ] = "flow",
) -> None:
    """Assign experts to many items at once: the greatest total score, fair, or random.

    The optimal mode (the default) maximises the total score as a min-cost flow. --mode fair
    serves the worst-served item as well as possible first. --mode random --seed S draws an
    assignment in which no expert lands on a given item with a probability above
    --max-probability (default 0.5), with the best expected total; the same seed gives the
    same draw.
    """
    if mode not in ASSIGN_MODES:
        refuse(f"Unknown mode {mode!r}; give --mode optimal, fair or random.")
    if mode == "random" and seed is None:
        refuse("Give --seed with --mode random, so that the draw can be replayed.")
    if mode != "random" and (seed is not None or max_probability is not None):
        refuse("--seed and --max-probability belong to --mode random; leave them out.")
    cap = 0.5 if max_probability is None else max_probability
    if not (0 < cap <= 1):
        refuse(f"--max-probability must be above 0 and at most 1, not {cap:g}.")
    if solver not in ("flow", "lp") or (solver == "lp" and mode != "optimal"):
        refuse("--solver is flow, or lp with --mode optimal.")
    # NumPy and pydantic only; OR-Tools (and SciPy for --solver lp) load when solving, and
    # the fair and random modes' modules only for those modes.
    from experts.assignment import read_conflicts_csv, read_scores_csv

    if mode == "random":
        from experts.assignment.randomized import probability_fraction

        try:
            probability_fraction(cap)
        except ValueError as err:  # below 1/1,000
            refuse(str(err))

    bulk = solver == "flow"
    table = read_scores_csv(scores, bulk=bulk)
    forbidden = read_conflicts_csv(conflicts, bulk=bulk) if conflicts is not None else set()
    counts = {"per_item": per_item, "max_load": max_load, "min_load": min_load}
    result: Assignment
    if mode == "fair":
        from experts.assignment import assign_fair

        result = assign_fair(table, conflicts=forbidden, **counts)
    elif mode == "random":
        from experts.assignment import assign_random

        assert seed is not None
        result = assign_random(table, seed=seed, max_probability=cap, conflicts=forbidden, **counts)
    else:
        from experts.assignment import assign_experts

        result = assign_experts(
            table, conflicts=forbidden, solver="lp" if solver == "lp" else "flow", **counts
        )
    out.write_text(result.to_json_text() + "\n", encoding="utf-8")
    pairs = f"{sum(len(v) for v in result.by_item.values()):,} pairs"
    items = f"{len(result.by_item):,} items"
    if result.mode == "random":
        head = (
            f"Drew {pairs} for {items} with seed {result.seed!r} (total score "
            f"{result.total_score:.4f}, expected {result.expected_total:.4f}; no expert "
            f"above probability {result.max_probability:g} for an item)"
        )
    elif result.mode == "fair":
        bound = result.worst_item_bound
        best = (
            "the best possible"
            if bound is not None and bound - result.worst_item_score <= 1e-9 * max(1.0, bound)
            else f"no assignment serves its worst item above {bound:.4f}"
        )
        head = (
            f"Assigned {pairs} to {items} (worst-served item {result.worst_item_score:.4f}, "
            f"{best}; total score {result.total_score:.4f})"
        )
    else:
        head = f"Assigned {pairs} to {items} (total score {result.total_score:.4f})"
    typer.echo(f"{head}; wrote {out}.")  # as typed, like console.print(markup=False); no Rich
