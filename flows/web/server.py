"""Serving the answer page with uvicorn (``counsel serve``): in this process, or in
``workers`` processes sharing one port.

One process answers from one core (Python runs one thread at a time); the page keeps no
state between requests, so ``workers`` processes share the load on one listening socket,
each with its own connections to the store and its own Prefect client. uvicorn starts them
(``spawn``), each building the application from the environment with :func:`page_app`,
and replaces one that dies. The refusal limit (:mod:`flows.web.limiter`) is counted per
process: with N workers a client may have up to N times ``refusals_per_minute`` links
refused in a minute before every worker answers it 429.

uvicorn's own access log is off: it would write every link's token. The page logs each
request itself, the token left out (:func:`flows.web.app.redact`), to standard error. Behind
a reverse proxy or load balancer, set ``FORWARDED_ALLOW_IPS`` to its address so the rate
limit counts the people's addresses rather than the proxy's (uvicorn reads it).
"""

from __future__ import annotations

import logging
import logging.config
import sys
from typing import Any

import uvicorn
from sqlalchemy import Engine
from starlette.applications import Starlette

from decisions.settings import CounselSettings
from flows.web.app import create_app, log, page_engine

__all__ = ["serve", "page_app", "DEFAULT_PORT"]

#: The port of ``counsel serve`` and of the page ``counsel up`` starts
#: (``COUNSEL_PUBLIC_URL``'s default points to it).
DEFAULT_PORT = 8400
#: What each worker process imports and calls to build its application.
FACTORY = f"{__name__}:page_app"


def _log_to_stderr() -> None:
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


def page_app() -> Starlette:
    """The answer page of the store the environment names (``COUNSEL_DATABASE_URL`` and
    the other settings), logging to standard error: what each worker of ``counsel serve
    --workers N`` runs."""
    _log_to_stderr()
    # a worker imports this module (and Prefect, whose logging set-up takes over uvicorn's
    # loggers) after uvicorn configured its logging: configure it again
    logging.config.dictConfig(uvicorn.config.LOGGING_CONFIG)
    logging.getLogger("uvicorn.access").handlers = []  # never an access line (tokens)
    return create_app()


def serve(
    engine: Engine,
    settings: CounselSettings,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    workers: int = 1,
) -> None:
    """Serve the answer page for ``engine``'s store on ``host:port`` until stopped.

    The page opens its own engine to ``engine``'s store (:func:`flows.web.app.page_engine`,
    a connection per thread answering requests). With ``workers`` above 1, that many
    processes serve it, each opening the store the settings name (the environment's, as
    ``engine``'s).
    """
    _log_to_stderr()
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "access_log": False,  # it would log the tokens; the page logs requests without them
        "server_header": False,
        "proxy_headers": True,
        "log_level": "info",
    }
    if workers > 1:
        uvicorn.run(FACTORY, factory=True, workers=workers, **options)
        return
    page = page_engine(engine.url.render_as_string(hide_password=False))
    try:
        uvicorn.Server(uvicorn.Config(create_app(page, settings=settings), **options)).run()
    finally:
        page.dispose()
