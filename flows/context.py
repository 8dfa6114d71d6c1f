"""What a flow run needs from its surroundings: the store and the decision classes.

Both come from settings (``COUNSEL_DATABASE_URL``, ``COUNSEL_CLASSES_FILE``) in the process
that runs the flow, so a worker on another machine finds the same store. Nothing is opened
at import. A process keeps one engine per store (:func:`store_engine`), so the runs of a
long-lived task worker — a step's decision run and its stage runs, step after step — share
its pooled connections instead of each opening its own (on PostgreSQL a new connection is a
new server process, a TLS handshake and cold catalogue caches).
The classes are read when a stage first needs them, so a broken classes file fails that
stage — and stalls the decision with the file's error — rather than the run around it.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from prefect.settings import get_current_settings
from sqlalchemy import Engine

from decisions.classes import ClassBook, load_classes
from decisions.db import make_engine
from decisions.settings import load_settings

__all__ = ["FlowContext", "flow_context", "off_loop", "store_engine", "NO_RESULTS"]

#: How Counsel's flows and tasks keep their results: not at all (nobody reads them back),
#: in a storage named here, so Prefect does not ask its server for a default result storage
#: at each flow and task run (an API call apiece, three per step).
NO_RESULTS: dict[str, Any] = {
    "persist_result": False,
    "result_storage": Path(get_current_settings().results.local_storage_path),
}

#: Stores a process keeps engines for at once: one in production, a few in a test session.
KEPT_ENGINES = 4
_engines: OrderedDict[str, Engine] = OrderedDict()
_engines_lock = threading.Lock()

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class FlowContext:
    engine: Engine
    classes_file: Path | None = field(default=None)

    @cached_property
    def classes(self) -> ClassBook:
        return load_classes(self.classes_file)


def store_engine(url: str) -> Engine:
    """This process's engine for the store at ``url``, made on first use; the least
    recently used beyond :data:`KEPT_ENGINES` stores is disposed of."""
    with _engines_lock:
        engine = _engines.pop(url, None) or make_engine(url)
        _engines[url] = engine
        while len(_engines) > KEPT_ENGINES:
            _url, oldest = _engines.popitem(last=False)
            oldest.dispose()
        return engine


@asynccontextmanager
async def flow_context() -> AsyncIterator[FlowContext]:
    """The store and classes for one flow run."""
    settings = load_settings()
    yield FlowContext(
        engine=store_engine(settings.resolved_database_url()),
        classes_file=settings.classes_file,
    )


async def off_loop(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run a blocking store call in a thread so paused siblings keep polling."""
    result: R = await asyncio.to_thread(fn, *args, **kwargs)
    return result
