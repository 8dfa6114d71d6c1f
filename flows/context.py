"""What a flow run needs from its surroundings: the store and the decision classes.

Both come from settings (``COUNSEL_DATABASE_URL``, ``COUNSEL_CLASSES_FILE``) in the process
that runs the flow, so a worker on another machine finds the same store. Nothing is opened
at import: each flow run opens its engine when it starts and disposes of it when it ends.
The classes are read when a stage first needs them, so a broken classes file fails that
stage — and stalls the decision with the file's error — rather than the run around it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import ParamSpec, TypeVar

from sqlalchemy import Engine

from decisions.classes import ClassBook, load_classes
from decisions.db import make_engine
from decisions.settings import load_settings

__all__ = ["FlowContext", "flow_context", "off_loop"]

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class FlowContext:
    engine: Engine
    classes_file: Path | None = field(default=None)

    @cached_property
    def classes(self) -> ClassBook:
        return load_classes(self.classes_file)


@asynccontextmanager
async def flow_context() -> AsyncIterator[FlowContext]:
    """The store and classes for one flow run."""
    settings = load_settings()
    engine = make_engine(settings.resolved_database_url())
    try:
        yield FlowContext(engine=engine, classes_file=settings.classes_file)
    finally:
        engine.dispose()


async def off_loop(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run a blocking store call in a thread so paused siblings keep polling."""
    result: R = await asyncio.to_thread(fn, *args, **kwargs)
    return result
