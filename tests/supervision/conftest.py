"""Fixtures of the supervision tests; their test actors and helpers are in support.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from structlog.testing import capture_logs

from tests.supervision.support import Journal


@pytest.fixture(autouse=True)
def logs() -> Iterator[list[dict[str, Any]]]:
    """The structlog events of the test (and no crash tracebacks on the console)."""
    with capture_logs() as captured:
        yield captured


@pytest.fixture
def journal() -> Journal:
    return Journal()
