"""``counsel audit``: verify and export the tamper-evident audit chain."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from cli.common import console, event_dict, open_engine
from cli.errors import RefusingGroup, stderr
from decisions import services
from decisions.audit import Anchor, ChainReport
from decisions.exceptions import AuditError

__all__ = ["app", "read_anchor"]

app = typer.Typer(
    cls=RefusingGroup,
    help="Verify and export the tamper-evident audit chain.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def read_anchor(path: Path) -> Anchor:
    """The head anchor on the last line of an export file."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise AuditError(f"Cannot read the anchor file {path}: {err.strerror}.") from err
    try:
        last = json.loads(lines[-1]) if lines else {}
        return Anchor.model_validate(last["anchor"])
    except (ValueError, KeyError, TypeError) as err:
        raise AuditError(
            f"{path} does not end with a head anchor line; use a file made by "
            "`counsel audit export`."
        ) from err


@app.command("verify")
def verify(
    decision: Annotated[
        str | None, typer.Option(help="Also report on this decision's events.")
    ] = None,
    anchor: Annotated[
        Path | None,
        typer.Option(help="An export file whose head anchor the chain must still contain."),
    ] = None,
) -> None:
    """Walk the whole chain and name the first event that breaks it."""
    engine = open_engine()
    expected = read_anchor(anchor) if anchor else None
    report = services.verify(engine, anchor=expected)
    own = services.history(engine, decision) if decision else []
    _print_report(report, expected)
    if decision:
        bad = [
            e.seq for e in own if report.first_bad_seq is not None and e.seq >= report.first_bad_seq
        ]
        if not bad:
            console.print(f"Decision {decision}: {len(own)} events, all intact.")
        else:
            console.print(
                f"Decision {decision}: {len(own)} events; events from {bad[0]} on come after "
                "the break and cannot be trusted."
            )
    if not report.ok:
        raise typer.Exit(1)


def _print_report(report: ChainReport, anchor: Anchor | None) -> None:
    if report.ok:
        against = f", and it contains the anchored head at event {anchor.count}" if anchor else ""
        console.print(
            f"[green]The audit chain verified[/green]: {report.count} events, head hash "
            f"{report.head_hash[:16]}…{against}."
        )
    else:
        stderr.print(
            f"[red]The audit chain is broken at event {report.first_bad_seq}[/red]: "
            f"{report.reason}. The {report.count} events before it verify."
        )


@app.command("check-draw")
def check_draw(
    decision: Annotated[str, typer.Argument(help="The tender decision, e.g. D-2026-0001.")],
) -> None:
    """Replay a tender's draw of evaluators from the audit chain and say whether it matches.

    Recomputes the draw from the recorded pool, the committed and revealed server seed, the
    witness's value and the algorithm version, and the replacements of those who declined;
    checks the chain too, since the draw is only as good as the events it is read from.
    """
    from flows.tender import check_draw as replay  # the draw's libraries load here

    engine = open_engine()
    services.get_decision(engine, decision)  # a sentence, not a traceback, for a wrong id
    report = services.verify(engine)
    problems = replay(engine, decision)
    if not report.ok:
        problems.insert(
            0,
            f"The audit chain is broken at event {report.first_bad_seq} ({report.reason}): "
            "the recorded draw cannot be trusted.",
        )
    if problems:
        for problem in problems:
            stderr.print(f"[red]✗[/red] {problem}", markup=True, highlight=False)
        raise typer.Exit(1)
    console.print(
        f"[green]The draw of {decision} matches[/green]: the revealed seed is the one committed "
        "before the pool was fixed, and the pool, the witness's value and the algorithm give "
        "the recorded panel, alternates, lots and replacements.",
        highlight=False,
    )


@app.command("export")
def export(
    file: Annotated[Path, typer.Argument(help="Where to write the JSON lines.")],
) -> None:
    """Write every event as JSON lines, ending with the head anchor (count and hash)."""
    engine = open_engine()
    if file.exists():
        raise AuditError(f"{file} already exists; choose a new file so no export is overwritten.")
    report = services.verify(engine)
    if not report.ok:
        _print_report(report, None)
        raise typer.Exit(1)
    events = services.export_events(engine)
    tmp = file.with_name(file.name + ".partial")
    with tmp.open("w", encoding="utf-8") as out:
        for event in events:
            out.write(json.dumps(event_dict(event), ensure_ascii=False) + "\n")
        head_hash = events[-1].hash if events else report.head_hash
        anchor = {
            "count": len(events),
            "head_hash": head_hash,
            "exported_at": datetime.now(UTC).isoformat(),
        }
        out.write(json.dumps({"anchor": anchor}) + "\n")
    tmp.replace(file)
    console.print(
        f"Exported {len(events)} events to {file}; head anchor {head_hash[:16]}… "
        "(keep this file: `counsel audit verify --anchor` checks the chain still contains it)."
    )
