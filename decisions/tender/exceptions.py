"""Errors of tenders, each with a sentence a planner or an evaluator can act on.

The tree (under Counsel's own, :mod:`decisions.exceptions`)::

    CounselError
    └── TenderError                          something is wrong with a tender
        ├── InvalidTender (ValueError)       a filed tender breaks a rule; names the field
        └── InvalidScores (ValueError)       an evaluator's scores cannot be recorded

A user never sees a traceback for these: the CLI prints the sentence and exits 1.
"""

from __future__ import annotations

from decisions.exceptions import CounselError

__all__ = ["TenderError", "InvalidTender", "InvalidScores"]


class TenderError(CounselError):
    """A problem with a tender, its rules or its scores."""


class InvalidTender(TenderError, ValueError):
    """A tender's text is not YAML or JSON, or breaks a rule of :class:`~.spec.TenderSpec`.

    ``key_path`` names the first field at fault (``bids[2].prices.L1``); ``problems`` holds
    every problem found, each as ``key path: what is wrong``.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str,
        key_path: str | None = None,
        problems: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.source = source
        self.key_path = key_path
        self.problems = problems


class InvalidScores(TenderError, ValueError):
    """An evaluator's scores leave out a bid or a criterion, add one, or are out of range."""

    def __init__(self, message: str, *, evaluator: str | None = None) -> None:
        super().__init__(message)
        self.evaluator = evaluator
