"""Real NATS servers for the transport tests (see ``tests/natsutil.py``).

- ``nats_server``: a fresh server per test (JetStream on, store under ``tmp_path``); kill,
  pause or restart it at will, it is stopped and reaped after the test.
- ``tcp_proxy``: a ``TcpProxy`` in front of ``nats_server``; connect clients to
  ``tcp_proxy.url`` to cut, blackhole and heal their link.
- ``nats_server_shared`` and ``url`` (the shared server, for tests that inject no
  faults) are in tests/conftest.py, shared with the observer's tests.
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
async def nats_server(tmp_path: Path) -> AsyncIterator[NatsServer]:
    async with NatsServer(name="test", store_dir=tmp_path / "nats-store") as server:
        yield server


@pytest.fixture
async def tcp_proxy(nats_server: NatsServer) -> AsyncIterator[TcpProxy]:
    async with TcpProxy.to(nats_server) as proxy:
        yield proxy
