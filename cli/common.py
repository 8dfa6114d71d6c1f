"""What every command uses: the console, the store, who is acting, input files.

A command opens the store where its unit of work starts (:func:`open_engine`), never at
import; the actor is the one whose token is in ``COUNSEL_TOKEN``.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from sqlalchemy import Engine

from cli.errors import InputFileError
from decisions import services
from decisions.audit import AuditEvent
from decisions.db import make_engine
from decisions.model import Actor
from decisions.settings import load_settings
from decisions.text import decode_utf8

__all__ = [
    "acting_name",
    "console",
    "current_actor",
    "event_dict",
    "open_engine",
    "prefect_configured",
    "read_yaml",
]

#: Where results go; a command's refusals go to :data:`cli.errors.stderr`.
console = Console(soft_wrap=True)


def open_engine(*, require_ready: bool = True) -> Engine:
    """The store named by the settings, checked to be initialised and up to date."""
    engine = make_engine(load_settings().resolved_database_url())
    if require_ready:
        services.check_ready(engine)
    return engine


def current_actor(engine: Engine) -> Actor:
    """The actor whose token is in ``COUNSEL_TOKEN``."""
    return services.authenticate(engine, load_settings().token)


def acting_name() -> str:
    """Who an administrative command is recorded as: the token's actor, else the OS user."""
    token = load_settings().token
    if token:
        return services.authenticate(open_engine(), token).id
    return f"local-admin:{getpass.getuser()}"


def prefect_configured() -> bool:
    """Whether a Prefect server is named (``PREFECT_API_URL``) for flows to run on."""
    return bool(os.environ.get("PREFECT_API_URL"))


def read_yaml(path: Path) -> dict[str, Any]:
    """The mapping in a UTF-8 YAML file, or :class:`InputFileError` saying what is wrong."""
    try:
        data = yaml.safe_load(decode_utf8(path.read_bytes(), source=str(path)))
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
