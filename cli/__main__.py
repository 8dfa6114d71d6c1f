"""``python -m cli``: the ``counsel`` command, as the console script runs it."""

from __future__ import annotations

from cli.app import main

main()
