"""Errors raised by the decision store, each with a message a planner can read.

The tree::

    CounselError
    ├── ConfigurationError (ValueError)       a settings or policy file is wrong
    │   └── ClassFileError                    the decision-classes YAML names a bad key or value
    ├── StoreNotReady (RuntimeError)          the database was never initialised or is outdated
    ├── AuthenticationError (PermissionError) no token, or a token nobody holds
    ├── ActorError (ValueError)               an actor cannot be added or does not exist
    │   └── ActorNotFound (LookupError)
    ├── AuditError                            the audit chain or an anchor is unusable
    └── DecisionError                         something is wrong with one decision
        ├── InvalidTransition (ValueError)    the lifecycle forbids the step from this state
        ├── PermissionDenied (PermissionError) the separation of powers refuses the actor
        ├── DecisionNotFound (LookupError)
        ├── TaskError (ValueError)            a task cannot take this answer
        │   └── TaskNotFound (LookupError)
        └── InvalidProposal (ValueError)      a proposal's content breaks a rule
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError

__all__ = [
    "CounselError",
    "ConfigurationError",
    "ClassFileError",
    "StoreNotReady",
    "AuthenticationError",
    "ActorError",
    "ActorNotFound",
    "AuditError",
    "DecisionError",
    "InvalidTransition",
    "PermissionDenied",
    "DecisionNotFound",
    "TaskError",
    "TaskNotFound",
    "InvalidProposal",
    "validation_sentence",
]


class CounselError(Exception):
    """Base class of every error Counsel raises on purpose."""


class ConfigurationError(CounselError, ValueError):
    """A settings value or a policy file cannot be used."""


class ClassFileError(ConfigurationError):
    """The decision-classes file is wrong; the message names the file and the key path."""

    def __init__(self, message: str, *, path: str, key_path: str | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.key_path = key_path


class StoreNotReady(CounselError, RuntimeError):
    """The database has no schema yet, or an older one: run ``counsel init``."""


class AuthenticationError(CounselError, PermissionError):
    """The caller did not present a token that belongs to an actor."""


class ActorError(CounselError, ValueError):
    """An actor cannot be created or used as asked."""


class ActorNotFound(ActorError, LookupError):
    """No actor has this id."""

    def __init__(self, actor_id: str) -> None:
        super().__init__(f"There is no actor with id {actor_id!r}.")
        self.actor_id = actor_id


class AuditError(CounselError):
    """The audit chain or an anchor file cannot be used."""


class DecisionError(CounselError):
    """A problem with one decision."""

    def __init__(self, message: str, *, decision_id: str | None = None) -> None:
        super().__init__(message)
        self.decision_id = decision_id


class InvalidTransition(DecisionError, ValueError):
    """The lifecycle does not allow ``action`` from the decision's current ``state``."""

    def __init__(
        self, *, decision_id: str, state: str, action: str, allowed: tuple[str, ...]
    ) -> None:
        options = ", ".join(allowed) if allowed else "nothing (it is final)"
        super().__init__(
            f"Decision {decision_id} is {state!r}, so it cannot {action.replace('_', ' ')}; "
            f"from {state!r} it can only: {options}.",
            decision_id=decision_id,
        )
        self.state = state
        self.action = action
        self.allowed = allowed


class PermissionDenied(DecisionError, PermissionError):
    """The separation of powers forbids this actor this action on this decision."""

    def __init__(self, reason: str, *, decision_id: str, actor_id: str, action: str) -> None:
        super().__init__(reason, decision_id=decision_id)
        self.actor_id = actor_id
        self.action = action


class DecisionNotFound(DecisionError, LookupError):
    """No decision has this id."""

    def __init__(self, decision_id: str) -> None:
        super().__init__(f"There is no decision {decision_id!r}.", decision_id=decision_id)


class TaskError(DecisionError, ValueError):
    """A task cannot be created, answered or changed as asked."""

    def __init__(self, message: str, *, decision_id: str | None = None, task_id: str) -> None:
        super().__init__(message, decision_id=decision_id)
        self.task_id = task_id


class TaskNotFound(TaskError, LookupError):
    """No task has this id."""

    def __init__(self, task_id: str) -> None:
        super().__init__(f"There is no task {task_id!r}.", task_id=task_id)


class InvalidProposal(DecisionError, ValueError):
    """A proposal or amendment breaks a rule (unknown class, empty title, …)."""


def validation_sentence(err: ValidationError) -> str:
    """The first problem of a pydantic error as ``where: what.`` — e.g.
    ``rationale: String should have at most 20000 characters.``"""
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ").rstrip(".")
    return f"{where}: {message}." if where else f"{message}."
