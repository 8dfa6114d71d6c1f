"""What every command uses: the console, the store, who is acting, input files.

A command opens the store where its unit of work starts (:func:`open_engine`), never at
import; the actor is the one whose token is in ``COUNSEL_TOKEN``.

Importing this module loads Typer only. Rich loads with :data:`console`, the first time a
command asks for it; the store (SQLAlchemy, the decision services, the settings), YAML and
:mod:`cli.errors` (which names SQLAlchemy's errors) load when a function here first needs
them, so a command that never opens the store, such as ``counsel experts assign``, starts
without them: :class:`RefusingCommands` refuses a user's mistake as
:class:`cli.errors.RefusingGroup` does, and imports :mod:`cli.errors` only once a command
has failed.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from typer.core import TyperGroup
from typer.exceptions import Abort, Exit, TyperException

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy import Engine

    from decisions.audit import AuditEvent
    from decisions.model import Actor

__all__ = [
    "RefusingCommands",
    "acting_name",
    "console",
    "current_actor",
    "event_dict",
    "open_engine",
    "prefect_configured",
    "read_yaml",
    "refuse",
]

if TYPE_CHECKING:
    #: Where results go; a command's refusals go to :data:`cli.errors.stderr`. Made, and Rich
    #: imported, when first asked for (:func:`__getattr__`).
    console: Console


def __getattr__(name: str) -> Any:
    """Make :data:`console` when it is first asked for; ``experts assign`` never asks."""
    if name != "console":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from rich.console import Console

    made = globals()["console"] = Console(soft_wrap=True)
    return made


#: Typer's own ways out of a command (``typer.Exit``, ``--help``, a usage error, Ctrl-C);
#: Typer 0.29 raises these from its copy of Click.
_TYPER_EXITS = (Exit, Abort, TyperException)


def refuse(message: str) -> NoReturn:
    """:func:`cli.errors.refuse`: print ``message`` to stderr as typed and exit with status 1."""
    from cli.errors import refuse as refuse_now  # SQLAlchemy: only on the way out

    refuse_now(message)


class RefusingCommands(TyperGroup):
    """:class:`cli.errors.RefusingGroup` for a group whose commands may never load SQLAlchemy.

    A user's error (:data:`cli.errors.USER_ERRORS`) ends in :func:`refuse` with its sentence;
    any other exception keeps its traceback. :mod:`cli.errors` is imported only when a command
    has raised something other than Typer's own exits.
    """

    def invoke(self, ctx: Any) -> Any:  # a click Context
        try:
            return super().invoke(ctx)
        except _TYPER_EXITS:
            raise
        except Exception as err:
            from cli.errors import USER_ERRORS, sentence

            if isinstance(err, USER_ERRORS):
                refuse(sentence(err))
            raise
        finally:
            _close_engines()


#: The stores a command opened (:func:`open_engine`), closed when it ends: a process would
#: drop their connections on exit, but the tests run commands in-process.
_opened: list[Engine] = []


def _close_engines() -> None:
    while _opened:
        _opened.pop().dispose()


def open_engine(*, require_ready: bool = True) -> Engine:
    """The store named by the settings, checked to be initialised and up to date."""
    from decisions import services
    from decisions.db import make_engine
    from decisions.settings import load_settings

    engine = make_engine(load_settings().resolved_database_url())
    _opened.append(engine)
    if require_ready:
        services.check_ready(engine)
    return engine


def current_actor(engine: Engine) -> Actor:
    """The actor whose token is in ``COUNSEL_TOKEN``."""
    from decisions import services
    from decisions.settings import load_settings

    return services.authenticate(engine, load_settings().token)


def acting_name() -> str:
    """Who an administrative command is recorded as: the token's actor, else the OS user."""
    from decisions import services
    from decisions.settings import load_settings

    token = load_settings().token
    if token:
        return services.authenticate(open_engine(), token).id
    return f"local-admin:{getpass.getuser()}"


def prefect_configured() -> bool:
    """Whether a Prefect server is named (``PREFECT_API_URL``) for flows to run on."""
    return bool(os.environ.get("PREFECT_API_URL"))


def read_yaml(path: Path) -> dict[str, Any]:
    """The mapping in a UTF-8 YAML file, or :class:`InputFileError` saying what is wrong."""
    import yaml

    from cli.errors import InputFileError
    from decisions.text import decode_utf8
    from decisions.yamlfile import safe_load

    try:
        data = safe_load(decode_utf8(path.read_bytes(), source=str(path)))
    except OSError as err:
        raise InputFileError(f"Cannot read {path}: {err.strerror}.") from err
    except ValueError as err:  # not UTF-8: the sentence names the line, the byte and the fix
        raise InputFileError(str(err)) from err
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise InputFileError(f"{path} is not valid YAML{where}.") from err
    if not isinstance(data, dict):
        raise InputFileError(f"{path} must be a mapping of fields to values.")
    return data


def event_dict(event: AuditEvent) -> dict[str, object]:
    """One audit event as a JSON object, its payload included."""
    data = event.as_dict()
    data["payload"] = event.data
    return data
