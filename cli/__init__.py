"""The ``counsel`` command line (Typer): planners, experts, managers and administrators.

It imports ``flows``, ``decisions`` and ``experts``; nothing imports it.
"""
