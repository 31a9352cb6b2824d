"""Shared fixtures: every test runs on uvloop and on the stock loop, and fails if it
leaves a task of ours running.

``nats_server_shared`` is one real nats-server for the whole session (``url`` is its
URL), for tests that inject no faults on it (never stop, pause or restart it): the
transport's and the observer's. It is started and stopped without a loop (``with
NatsServer(...)``): each test runs on its own event loop (twice: asyncio and uvloop),
so no loop lives as long as the session. The per-test servers and the fault tools are
in tests/transport/conftest.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Mapping

import pytest
import uvloop

from tests.natsutil import NatsServer


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


@pytest.fixture(scope="session")
def nats_server_shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    root = tmp_path_factory.mktemp("nats-shared")
    with NatsServer(
        name="test-shared", store_dir=root / "store", log_path=root / "nats-server.log"
    ) as server:
        yield server


@pytest.fixture
def url(nats_server_shared: NatsServer) -> str:
    return nats_server_shared.url
