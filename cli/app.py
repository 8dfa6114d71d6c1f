"""The ``counsel`` command line: planners, experts, managers and administrators.

One Typer app per command group, joined here: the decision commands (:mod:`cli.decisions`)
and this machine's (:mod:`cli.local`) at the top level with ``counsel notifications``
(:mod:`cli.notifications`), ``counsel actors``, ``counsel audit`` and ``counsel experts`` as
groups. Every command parses its options, calls one service and prints the result. A user's
mistake (bad input, a refused action, a database that is not initialised) is printed as one
sentence and exits with status 1 (:mod:`cli.errors`); a traceback means a bug in Counsel.

The groups are loaded on demand (:class:`CounselGroup`): ``counsel experts assign`` imports
:mod:`cli.experts` alone, ``counsel status`` the three modules of top-level commands, and
``counsel --help`` every group, to list each with its help text. Importing this module loads
Typer only; no group loads Prefect, networkx or SciPy at import either (the commands that need
them import them when they run), so ``counsel --help``, ``status``, ``history``, ``tasks`` and
``audit verify`` start quickly (``tests/integration/decisions/test_cli_start.py`` keeps it so),
and ``experts assign`` starts without SQLAlchemy, the store or Rich (:mod:`cli.common`).
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer.main import get_group

from cli.common import RefusingCommands

__all__ = ["GROUPS", "CounselGroup", "app", "main"]

#: The command groups in the order ``counsel --help`` lists them: each module's ``app`` and
#: the name of its group, or None for a module whose commands sit at the top level.
GROUPS: tuple[tuple[str, str | None], ...] = (
    ("cli.decisions", None),
    ("cli.local", None),
    ("cli.notifications", None),
    ("cli.actors", "actors"),
    ("cli.audit", "audit"),
    ("cli.experts", "experts"),
)


class CounselGroup(RefusingCommands):
    """The ``counsel`` group: each module of :data:`GROUPS` is imported when first needed.

    A group's name imports its module alone; any other name imports the modules of the
    top-level commands (and, if it is none of theirs, every module, so that the refusal can
    suggest a close name); listing the commands (``--help``) imports every module.
    """

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self._loaded: dict[str, dict[str, Any]] = {}  # module -> its commands by name

    def _load(self, module: str, name: str | None) -> None:
        if module in self._loaded:
            return
        group = get_group(importlib.import_module(module).app)
        if name is None:
            commands = dict(group.commands)
        else:
            group.name = name
            commands = {name: group}
        self._loaded[module] = commands
        self.commands = {n: c for m, _ in GROUPS for n, c in self._loaded.get(m, {}).items()}

    def _load_all(self) -> None:
        for module, name in GROUPS:
            self._load(module, name)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        found = self.commands.get(cmd_name)
        if found is not None:
            return found
        for module, name in GROUPS:
            if name == cmd_name:
                self._load(module, name)
                return self.commands[cmd_name]
        for module, name in GROUPS:
            if name is None:
                self._load(module, name)
        if cmd_name not in self.commands:
            self._load_all()
        return self.commands.get(cmd_name)

    def list_commands(self, ctx: Any) -> list[str]:
        self._load_all()
        return list(self.commands)


app = typer.Typer(
    cls=CounselGroup,
    help="Counsel: expert consultation and separated decisions for urban management.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def counsel() -> None:
    """Nothing to do before a command (a callback makes Typer build the group at all)."""


def main() -> None:
    """Entry point of the ``counsel`` console script."""
    app()
