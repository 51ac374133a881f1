"""Shared test set-up: the bundled data's location and the `slow` marker policy (skipped unless --runslow)."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FACES = REPO / "assets" / "faces"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", help="also run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
