"""The sample expertise database shipped with the package (``experts/data/sample.yaml``).

A fictional city: 98 experts (two with non-Chinese names) across urban planning,
construction management, city appearance and sanitation, transport, environment, law,
finance and community governance; bureaus, design institutes, universities, sanitation and
construction contractors; the developed east, the middle and the new-town west districts
with their street offices. Sanitation contractors have commercial interests in street
cleaning, waste transfer and market-based contracting, so their staff — and two professors
who consult for them — are conflicted on decisions about those topics.
"""

from __future__ import annotations

from importlib.resources import files

from experts.io import parse_yaml_text
from experts.model import ExpertiseData

__all__ = ["SAMPLE_FILE", "sample_text", "load_sample"]

SAMPLE_FILE = "sample.yaml"


def sample_text() -> str:
    """The sample database's YAML text."""
    return files("experts.data").joinpath(SAMPLE_FILE).read_text(encoding="utf-8")


def load_sample() -> ExpertiseData:
    """The sample database, parsed and checked.

    Returns
    -------
    ExpertiseData

    Examples
    --------
    >>> len(load_sample().experts) >= 80
    True
    """
    return parse_yaml_text(sample_text(), file="experts/data/sample.yaml")
