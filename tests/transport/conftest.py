"""Real NATS servers for the transport tests (see ``tests/natsutil.py``).

- ``nats_server``: a fresh server per test (JetStream on, store under ``tmp_path``); kill,
  pause or restart it at will, it is stopped and reaped after the test.
- ``nats_server_shared``: one server for the whole session, for tests that inject no
  faults on it (never stop, pause or restart it). Started and stopped without a loop
  (``with NatsServer(...)``): each test runs on its own event loop (twice: asyncio and
  uvloop), so no loop lives as long as the session.
- ``tcp_proxy``: a ``TcpProxy`` in front of ``nats_server``; connect clients to
  ``tcp_proxy.url`` to cut, blackhole and heal their link.
- ``url``: the shared server's URL.
- ``logs`` (every test): the structlog events of the test, captured (not printed), to
  await one with ``logs.wait_for(...)``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.natsutil import NatsServer, TcpProxy
from tests.transport.nats_support import LogEvents


@pytest.fixture(autouse=True)
def logs() -> Iterator[LogEvents]:
    with LogEvents.capture() as events:
        yield events


@pytest.fixture
def url(nats_server_shared: NatsServer) -> str:
    return nats_server_shared.url


@pytest.fixture
async def nats_server(tmp_path: Path) -> AsyncIterator[NatsServer]:
    async with NatsServer(name="test", store_dir=tmp_path / "nats-store") as server:
        yield server


@pytest.fixture(scope="session")
def nats_server_shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    root = tmp_path_factory.mktemp("nats-shared")
    with NatsServer(
        name="test-shared", store_dir=root / "store", log_path=root / "nats-server.log"
    ) as server:
        yield server


@pytest.fixture
async def tcp_proxy(nats_server: NatsServer) -> AsyncIterator[TcpProxy]:
    async with TcpProxy.to(nats_server) as proxy:
        yield proxy
