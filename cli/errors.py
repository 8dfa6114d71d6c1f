"""A user's mistake as one sentence: exit status 1, never a traceback.

Every command group of ``counsel`` is a :class:`RefusingGroup`, so an error a user can cause
is caught in one place, whichever command raised it:

* :class:`~decisions.exceptions.CounselError` and :class:`~experts.exceptions.ExpertsError`
  carry their own sentence (an import's further bad rows follow it, one a line);
* a pydantic ``ValidationError`` (settings, a file's fields) becomes
  :func:`~decisions.exceptions.validation_sentence`;
* SQLAlchemy errors say the database cannot be used, and why;
* ``OSError`` names the file.

The sentence goes to stderr without Rich markup, so text a user typed is shown as typed.
Anything else is a bug in Counsel and keeps its traceback.
"""

from __future__ import annotations

from typing import Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from typer.core import TyperGroup

from decisions.exceptions import CounselError, validation_sentence
from experts.exceptions import ExpertiseImportError, ExpertsError

__all__ = ["InputFileError", "RefusingGroup", "refuse", "sentence", "stderr"]

#: Where refusals and warnings go.
stderr = Console(stderr=True, soft_wrap=True)

#: The errors a user can cause; any other exception is a bug and keeps its traceback.
USER_ERRORS = (CounselError, ExpertsError, ValidationError, SQLAlchemyError, OSError)

#: How many of an import's bad rows are listed under its sentence.
MORE_PROBLEMS = 19


class InputFileError(CounselError, ValueError):
    """A YAML input file cannot be read or is not valid."""


def sentence(err: Exception) -> str:
    """What ``counsel`` tells a user about ``err``, one of :data:`USER_ERRORS`."""
    if isinstance(err, ExpertiseImportError):
        more = [f"  {problem}" for problem in err.problems[1 : 1 + MORE_PROBLEMS]]
        return "\n".join([str(err), *more])
    if isinstance(err, CounselError | ExpertsError):
        return str(err)
    if isinstance(err, ValidationError):
        return validation_sentence(err)
    if isinstance(err, OperationalError):
        return f"Cannot use the Counsel database: {err.orig or err}."
    if isinstance(err, SQLAlchemyError):
        first = str(err).splitlines()[0]
        return f"The database could not be used: {err.__class__.__name__}: {first}"
    if isinstance(err, OSError):
        return f"Cannot use {err.filename or 'the file'}: {err.strerror or err}."
    raise TypeError(f"{err!r} is not an error a user can cause") from err


def refuse(message: str) -> NoReturn:
    """Print ``message`` to stderr as typed and exit with status 1."""
    stderr.print(message, markup=False, highlight=False)
    raise typer.Exit(1)


class RefusingGroup(TyperGroup):
    """A command group whose commands' user errors end in :func:`refuse`."""

    def invoke(self, ctx: Any) -> Any:  # a click Context: Typer's own copy of click, or click
        try:
            return super().invoke(ctx)
        except USER_ERRORS as err:
            refuse(sentence(err))
