"""Counsel on this machine: ``counsel init``, ``up``, ``down`` and ``demo``.

``up`` and ``down`` load :mod:`flows.stack` (and httpx), ``demo`` loads :mod:`flows.demo` (and
Prefect), only when they run, so that the other commands start without them.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from cli.common import console, open_engine
from cli.errors import RefusingGroup
from decisions import services
from decisions.settings import load_settings

__all__ = ["app"]

app = typer.Typer(cls=RefusingGroup, pretty_exceptions_enable=False)


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
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")  # read when Prefect loads
    from flows.demo import run_demo  # loads Prefect, which reads the setting above

    if not run_demo(console, load_settings().home):
        raise typer.Exit(1)
