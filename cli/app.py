"""The ``counsel`` command line: planners, experts, managers and administrators.

Every command parses its options, calls one service and prints the result. A user's
mistake (bad input, a refused action, a database that is not initialised) is printed as one
sentence and exits with status 1; a traceback means a bug in Counsel.
"""

from __future__ import annotations

import getpass
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from decisions import services
from decisions.audit import Anchor, AuditEvent, ChainReport
from decisions.db import make_engine
from decisions.exceptions import AuditError, CounselError
from decisions.model import Role
from decisions.settings import load_settings
from cli import decisions as cli_decisions
from cli import experts as cli_experts

__all__ = ["app", "main"]

app = typer.Typer(
    help="Counsel: expert consultation and separated decisions for urban management.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
actors_app = typer.Typer(help="Add and list the people and units who act in Counsel.")
audit_app = typer.Typer(help="Verify and export the tamper-evident audit chain.")
app.add_typer(actors_app, name="actors")
app.add_typer(audit_app, name="audit")
app.add_typer(cli_experts.app, name="experts", help="The expertise database and expert routing.")
cli_decisions.register(app)

console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


def open_engine(*, require_ready: bool = True) -> Engine:
    """The store named by the settings, checked to be initialised and up to date."""
    engine = make_engine(load_settings().resolved_database_url())
    if require_ready:
        services.check_ready(engine)
    return engine


def acting_name() -> str:
    """Who an administrative command is recorded as: the token's actor, else the OS user."""
    token = load_settings().token
    if token:
        return services.authenticate(open_engine(), token).id
    return f"local-admin:{getpass.getuser()}"


@app.command()
def init() -> None:
    """Create the Counsel database, or upgrade it to this version's schema."""
    settings = load_settings()
    engine = open_engine(require_ready=False)
    before, after = services.init_store(engine)
    where = engine.url.render_as_string(hide_password=True)
    if before == after:
        console.print(f"The database at {where} is up to date (revision {after}).")
    elif before is None:
        console.print(f"Created the Counsel database at {where} (revision {after}).")
    else:
        console.print(f"Upgraded the database at {where} from {before} to {after}.")
    if settings.database_url is None:
        console.print("Set COUNSEL_DATABASE_URL to use PostgreSQL or another file.")


@actors_app.command("add")
def actors_add(
    actor_id: Annotated[str, typer.Argument(help="Short id, e.g. wang-fang.")],
    name: Annotated[str, typer.Option(help="Full name, in any script.")],
    role: Annotated[list[Role], typer.Option("--role", help="A role; repeat for several.")],
    org: Annotated[
        list[str] | None, typer.Option("--org", help="An affiliated organisation; repeatable.")
    ] = None,
    body: Annotated[
        list[str] | None, typer.Option("--body", help="A decision body they sit on; repeatable.")
    ] = None,
) -> None:
    """Add an actor and print their token once; only its hash is kept."""
    engine = open_engine()
    actor, token = services.add_actor(
        engine,
        actor_id=actor_id,
        name=name,
        roles=[r.value for r in role],
        affiliations=org or [],
        bodies=body or [],
        by=acting_name(),
    )
    console.print(
        f"Added {actor.name} ({actor.id}) as {', '.join(sorted(actor.roles))}.", markup=False
    )
    console.print("Their token, shown only now (give it to them to set as COUNSEL_TOKEN):")
    print(token)


@actors_app.command("token")
def actors_token(
    actor_id: Annotated[str, typer.Argument(help="Whose token to issue, e.g. e031.")],
) -> None:
    """Issue a new token for an actor (the old one stops working); printed once."""
    engine = open_engine()
    token = services.issue_token(engine, actor_id, by=acting_name())
    console.print(f"A new token for {actor_id}, shown only now:")
    print(token)


@actors_app.command("list")
def actors_list(
    role: Annotated[Role | None, typer.Option(help="Only actors with this role.")] = None,
) -> None:
    """List the actors with their roles, organisations and bodies."""
    actors = services.list_actors(open_engine(), role=role)
    table = Table("id", "name", "roles", "organisations", "bodies", title="Actors")
    for actor in actors:
        table.add_row(
            actor.id,
            escape(actor.name),
            ", ".join(sorted(actor.roles)),
            ", ".join(actor.affiliations),
            ", ".join(actor.bodies),
        )
    console.print(table)


def _event_dict(event: AuditEvent) -> dict[str, object]:
    data = event.as_dict()
    data["payload"] = event.data
    return data


@app.command()
def history(
    decision_id: Annotated[str, typer.Argument(help="Decision id, e.g. D-2026-0001.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Show every audit event of one decision, oldest first."""
    events = services.history(open_engine(), decision_id)
    if as_json:
        for event in events:
            print(json.dumps(_event_dict(event), ensure_ascii=False))
        return
    table = Table(
        "seq", "time (UTC)", "actor", "action", "details", title=f"History of {decision_id}"
    )
    for event in events:
        table.add_row(
            str(event.seq),
            event.recorded_at[:19].replace("T", " "),
            event.actor,
            event.action,
            escape(_summary(event)),
        )
    console.print(table)


def _summary(event: AuditEvent) -> str:
    data = event.data
    if "reason" in data:
        return str(data["reason"])
    if "answer" in data:
        answer = data["answer"]
        main = (
            answer.get("recommendation")
            or answer.get("choice")
            or answer.get("stance")
            or (answer.get("verdict") or answer.get("percent_complete"))
        )
        return f"{data.get('task_id')}: {main}"
    if "task_id" in data:
        return f"{data['task_id']} → {data.get('assignee', '')}".strip(" →")
    if "from" in data:
        return f"{data['from']} → {data['to']}"
    return ", ".join(f"{k}={v}" for k, v in sorted(data.items()) if v not in (None, [], ""))[:120]


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


@audit_app.command("verify")
def audit_verify(
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
        errors.print(
            f"[red]The audit chain is broken at event {report.first_bad_seq}[/red]: "
            f"{report.reason}. The {report.count} events before it verify."
        )


@audit_app.command("export")
def audit_export(
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
            out.write(json.dumps(_event_dict(event), ensure_ascii=False) + "\n")
        anchor = {
            "count": len(events),
            "head_hash": events[-1].hash if events else report.head_hash,
            "exported_at": datetime.now(UTC).isoformat(),
        }
        out.write(json.dumps({"anchor": anchor}) + "\n")
    tmp.replace(file)
    console.print(
        f"Exported {len(events)} events to {file}; head anchor {anchor['head_hash'][:16]}… "
        "(keep this file: `counsel audit verify --anchor` checks the chain still contains it)."
    )


@app.command()
def up(
    port: Annotated[int, typer.Option(help="Port of the Prefect server (UI and API).")] = 4200,
    prefect_database: Annotated[
        str | None,
        typer.Option(help="PostgreSQL for Prefect's own tables, postgresql+asyncpg://…"),
    ] = None,
    sweep_every: Annotated[
        float | None,
        typer.Option(
            min=1,
            help="Seconds between deadline sweeps (prefect.yaml says 60).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Start a local stack: Prefect server, the counsel work pool, deployments, a worker."""
    from flows.stack import start_stack

    stack = start_stack(
        load_settings().home,
        port=port,
        prefect_database=prefect_database,
        sweep_every_s=sweep_every,
    )
    console.print(f"Prefect UI: {stack.ui_url}  (logs in {stack.folder})")
    console.print("Deployments of prefect.yaml registered; a worker polls the counsel pool.")
    console.print(f"In your shell: export PREFECT_API_URL={stack.api_url}")


@app.command()
def down() -> None:
    """Stop the worker and the Prefect server that `counsel up` started."""
    from flows.stack import stop_stack

    stack = stop_stack(load_settings().home)
    console.print(f"Stopped the worker and the Prefect server at {stack.ui_url}.")


@app.command()
def demo() -> None:
    """Run one decision through consult, discuss, decide and execute with Prefect flows."""
    import os

    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from flows.demo import run_demo

    if not run_demo(console, load_settings().home):
        raise typer.Exit(1)


def main() -> None:
    """Entry point of the ``counsel`` console script."""
    try:
        app()
    except CounselError as err:
        errors.print(str(err), markup=False, highlight=False)
        sys.exit(1)
    except OperationalError as err:
        errors.print(
            f"Cannot use the Counsel database: {err.orig or err}.", markup=False, highlight=False
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
