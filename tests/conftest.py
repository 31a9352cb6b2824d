"""Shared fixtures: every test runs on uvloop and on the stock loop, and fails if it
leaves a task of ours running."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping

import pytest
import uvloop


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}


@pytest.fixture(autouse=True)
async def no_task_left_behind() -> AsyncIterator[None]:
    """Structured concurrency, asserted: when a test is over, every task it started
    (actor tasks included) has finished."""
    yield
    current = asyncio.current_task()
    leftover = [task for task in asyncio.all_tasks() if task is not current]
    assert not leftover, f"tasks left behind: {leftover}"
