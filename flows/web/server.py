"""Serving the answer page from this process with uvicorn (``counsel serve``).

uvicorn's own access log is off: it would write every link's token. The page logs each
request itself, the token left out (:func:`flows.web.app.redact`), to standard error. Behind
a reverse proxy or load balancer, set ``FORWARDED_ALLOW_IPS`` to its address so the rate
limit counts the people's addresses rather than the proxy's (uvicorn reads it).
"""

from __future__ import annotations

import logging
import sys

import uvicorn
from sqlalchemy import Engine

from decisions.settings import CounselSettings
from flows.web.app import create_app, log

__all__ = ["serve", "DEFAULT_PORT"]

#: The port of ``counsel serve`` and of the page ``counsel up`` starts
#: (``COUNSEL_PUBLIC_URL``'s default points to it).
DEFAULT_PORT = 8400


def serve(
    engine: Engine,
    settings: CounselSettings,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
) -> None:
    """Serve the answer page for ``engine``'s store on ``host:port`` until stopped."""
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    app = create_app(engine, settings=settings)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        access_log=False,  # it would log the tokens; the page logs requests without them
        server_header=False,
        proxy_headers=True,
        log_level="info",
    )
    uvicorn.Server(config).run()
