"""The ``counsel`` command run in-process, as its console script runs it.

:func:`invoke` calls :func:`cli.app.main` with ``sys.argv`` and the environment set for the
call and stdout and stderr captured: a few milliseconds where a new process costs most of a
second of CPU. The fuzz suite runs a few thousand commands this way, and the CLI tests all
but the ones that must be processes of their own (the demos).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

__all__ = ["Outcome", "environment", "invoke"]


@dataclass(frozen=True)
class Outcome:
    """What one in-process ``counsel`` call did."""

    code: int | str | None
    out: str
    err: str
    raised: str | None = None  # the traceback of anything but SystemExit escaping main()

    @property
    def text(self) -> str:
        return self.out + self.err


def _put(env: Mapping[str, str | None]) -> None:
    """Set each variable of ``env``; a None unsets it."""
    for key, value in env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@contextlib.contextmanager
def environment(env: Mapping[str, str | None]) -> Iterator[None]:
    """``os.environ`` with ``env`` set (a None unsets) inside the block, as it was after."""
    saved = {key: os.environ.get(key) for key in env}
    try:
        _put(env)
        yield
    finally:
        _put(saved)


def invoke(*args: str, env: Mapping[str, str | None]) -> Outcome:
    """Run ``counsel *args`` through ``cli.app.main`` with ``env``; never raises."""
    from cli.app import main

    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    code: int | str | None = 0
    raised = None
    sys.argv = ["counsel", *args]
    try:
        with (
            environment({"PREFECT_API_URL": None, "COLUMNS": "200", **env}),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            main()
    except SystemExit as exit_:
        code = exit_.code
    except BaseException:  # noqa: BLE001 - anything else escaping main() is the finding
        code = None
        raised = traceback.format_exc()
    finally:
        sys.argv = argv
    return Outcome(code, out.getvalue(), err.getvalue(), raised)
