"""Counsel on this machine: ``counsel init``, ``up``, ``down``, ``task-worker``, ``serve``
and ``demo``.

``up`` and ``down`` load :mod:`flows.stack` (and httpx), ``task-worker``, ``serve`` and
``demo`` load Prefect (``serve`` also Starlette and uvicorn), only when they run, so that
the other commands start without them.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Annotated

import typer

from cli.common import console, open_engine, prefect_configured
from cli.errors import RefusingGroup
from decisions import services
from decisions.exceptions import CounselError, StoreNotReady
from decisions.settings import load_settings

__all__ = ["app"]

app = typer.Typer(cls=RefusingGroup, pretty_exceptions_enable=False)

#: ``--sweep-every`` of ``up`` and ``task-worker``.
SweepEvery = Annotated[
    float | None,
    typer.Option(
        min=1,
        help="Seconds between deadline sweeps (default COUNSEL_SWEEP_EVERY_S, or 60).",
        show_default=False,
    ),
]


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
    sweep_every: SweepEvery = None,
    task_workers: Annotated[
        int | None,
        typer.Option(
            min=1, help="Task workers to start (default: one per core).", show_default=False
        ),
    ] = None,
    page_port: Annotated[
        int, typer.Option(min=1, max=65535, help="Port of the personal answer page.")
    ] = 8400,
    page_workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Processes serving the answer page (default: one per core).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Start a local stack: Prefect server, the counsel work pool and deployments, the
    personal answer page, a process worker for people's forms and task workers for
    decisions' steps."""
    from flows.stack import start_stack

    stack = start_stack(
        load_settings().home,
        port=port,
        prefect_database=prefect_database,
        sweep_every_s=sweep_every,
        task_workers=task_workers,
        page_port=page_port,
        page_workers=page_workers,
    )
    console.print(f"Prefect UI: {stack.ui_url}  (logs in {stack.folder})")
    console.print(
        f"Answer page: {stack.page_url}; people's links point to "
        f"{stack.env.get('COUNSEL_PUBLIC_URL', stack.page_url)}"
    )
    console.print(
        f"Deployments of prefect.yaml registered; a worker polls the counsel pool and "
        f"{len(stack.task_worker_pids)} task workers take decisions' steps."
    )
    console.print(f"In your shell: export PREFECT_API_URL={stack.api_url}")


@app.command("task-worker")
def task_worker(
    limit: Annotated[
        int, typer.Option(min=1, help="Steps this worker runs at once; more wait in the queue.")
    ] = 4,
    sweep_every: SweepEvery = None,
) -> None:
    """Take decisions' steps and deadline sweeps from the Prefect server, until stopped.

    Run one per core on each machine, with PREFECT_API_URL and COUNSEL_DATABASE_URL set."""
    if not prefect_configured():
        raise CounselError(
            "PREFECT_API_URL is not set: a task worker takes its work from a Prefect server "
            "(`counsel up` prints the address)."
        )
    # a background task run has no flow run to send its own few lines to; the steps' flow
    # runs keep their logs
    os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
    from flows.task_worker import serve_warm  # loads Prefect, which reads the setting above

    every = sweep_every or load_settings().sweep_every_s
    os.environ["COUNSEL_SWEEP_EVERY_S"] = str(every)  # the windows of this worker's sweeps
    console.print(
        f"Task worker: at most {limit} steps at once; a deadline sweep every {every:g} s."
    )
    serve_warm(limit=limit, sweep_every_s=every)


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8400,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Processes serving the page on this port, each using a core; the limit "
            "on refused links is counted per process.",
        ),
    ] = 1,
) -> None:
    """Serve the personal answer page: people's task links (/t/…) and inbox links (/me/…).

    Several may serve one store behind a load balancer; links point to COUNSEL_PUBLIC_URL."""
    settings = load_settings()
    engine = open_engine(require_ready=False)
    try:
        services.check_ready(engine)
    except StoreNotReady as not_yet:  # `counsel up` may start the page before `counsel init`
        console.print(f"{not_yet} Links open once it is done.")
    from flows.web.server import serve as serve_page  # loads Starlette, uvicorn and Prefect

    served_by = f" ({workers} processes)" if workers > 1 else ""
    console.print(
        f"Answer page on http://{host}:{port}{served_by}; people's links point to "
        f"{settings.public_url}. Ctrl+C stops it."
    )
    if not prefect_configured():
        console.print(
            "PREFECT_API_URL is not set: answers are recorded and the deadline sweep "
            "continues the decisions."
        )
    serve_page(engine, settings, host=host, port=port, workers=workers)


@app.command()
def down() -> None:
    """Stop the workers, the answer page and the Prefect server that `counsel up` started."""
    from flows.stack import stop_stack

    stack, killed = stop_stack(load_settings().home)
    page = f", the answer page at {stack.page_url}" if stack.page_url else ""
    console.print(f"Stopped the workers{page} and the Prefect server at {stack.ui_url}.")
    for each in killed:
        console.print(f"Killed {each}: it did not stop within 20 s of SIGTERM.")


@app.command()
def demo(
    tender: Annotated[
        bool,
        typer.Option(
            "--tender",
            help="Run a tender instead: qualification, a verifiable draw of evaluators, "
            "scoring, award and execution, ending with check-draw.",
        ),
    ] = False,
) -> None:
    """Run one decision through consult, discuss, decide and execute with Prefect flows."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")  # read when Prefect loads
    from flows.local_prefect import EmbeddedServer, template_path  # Prefect not loaded yet

    home = load_settings().home
    folder = home / "demo" / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    # the API server starts (seconds of imports) while this process loads Prefect
    server = EmbeddedServer(folder / "prefect", template=template_path(home / "cache")).spawn()
    try:
        if tender:
            from flows.demo_tender import run_tender_demo  # loads Prefect, as below

            verified = run_tender_demo(console, home, folder=folder, server=server)
        else:
            from flows.demo import run_demo  # loads Prefect, which reads the setting above

            verified = run_demo(console, home, folder=folder, server=server)
    finally:
        server.stop()
    if not verified:
        raise typer.Exit(1)
