"""The example tender and the example ``tender:`` section, shared by the tender tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from decisions.tender import EXAMPLE_YAML, TenderRules, TenderSpec, parse_tender

EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "tender-road-cleaning.yaml"


@pytest.fixture(scope="session")
def example_spec() -> TenderSpec:
    return parse_tender(EXAMPLE.read_text(encoding="utf-8"), source=EXAMPLE.name)


@pytest.fixture(scope="session")
def example_rules() -> TenderRules:
    return TenderRules.model_validate(yaml.safe_load(EXAMPLE_YAML)["tender"])
