"""The ``counsel`` command line: planners, experts, managers and administrators.

One Typer app per command group, joined here: the decision commands (:mod:`cli.decisions`)
and this machine's (:mod:`cli.local`) at the top level with ``counsel notifications``
(:mod:`cli.notifications`), ``counsel actors``, ``counsel audit`` and ``counsel experts`` as
groups. Every command parses its options, calls one service and prints the result. A user's
mistake (bad input, a refused action, a database that is not initialised) is printed as one
sentence and exits with status 1 (:mod:`cli.errors`); a traceback means a bug in Counsel.

Importing this module loads neither Prefect nor networkx nor SciPy: the commands that need
them import them when they run, so ``counsel --help``, ``status``, ``history``, ``tasks`` and
``audit verify`` start quickly (``tests/integration/decisions/test_cli_start.py`` keeps it so).
"""

from __future__ import annotations

import typer

from cli import actors, audit, decisions, experts, local, notifications
from cli.errors import RefusingGroup

__all__ = ["app", "main"]

app = typer.Typer(
    cls=RefusingGroup,
    help="Counsel: expert consultation and separated decisions for urban management.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(decisions.app)
app.add_typer(local.app)
app.add_typer(notifications.app)
app.add_typer(actors.app, name="actors")
app.add_typer(audit.app, name="audit")
app.add_typer(experts.app, name="experts")


def main() -> None:
    """Entry point of the ``counsel`` console script."""
    app()
