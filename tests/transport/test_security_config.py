"""The server configuration of docs/security.md, read from the page (so the two cannot
drift), runs a two-node cluster: names, asks and remote watches work under it, while
the server refuses a heartbeat forged by the application user ``web`` or by node ``n2``
in ``n1``'s name (a permissions violation), so the nodes never see one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from actors.transport import NatsTransport

from actors import ActorSystem, Terminated
from tests.docs.markdown import read_blocks
from tests.natsutil import NatsServer
from tests.transport.nats_support import (
    TYPES,
    WAIT,
    Echo,
    Inbox,
    Ping,
    Pong,
    Watcher,
    ghost_ref,
    raw_client,
)

PAGE = Path(__file__).resolve().parents[2] / "docs" / "security.md"
PASSWORDS = {"n1": "n1-pass-word", "n2": "n2-pass-word", "web": "web-pass-word"}
SECRET = "the cluster's control-plane secret"


def documented_config() -> str:
    (config,) = [block.code for block in read_blocks(PAGE) if block.lang == "conf"]
    return config


@pytest.fixture
async def confined(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[NatsServer]:
    for user, password in PASSWORDS.items():
        monkeypatch.setenv(f"{user.upper()}_PASSWORD", password)  # read by the server
    conf = tmp_path / "nats-server.conf"
    conf.write_text(documented_config())
    server = NatsServer(name="confined", store_dir=tmp_path / "store", args=["-c", str(conf)])
    await server.start()
    try:
        yield server
    finally:
        await server.aclose()


def node(url: str, node_id: str) -> NatsTransport:
    return NatsTransport(
        [url],
        types=TYPES,
        node_id=node_id,
        user=node_id,
        password=PASSWORDS[node_id],
        inbox_prefix=f"_INBOX_{node_id}",
        secret=SECRET,
    )


async def refused_heartbeat(url: str, user: str, subject: str) -> str:
    """Publish a goodbye heartbeat on ``subject`` as ``user``; the server's refusal."""
    refusal: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def on_error(error: Exception) -> None:
        if not refusal.done():
            refusal.set_result(str(error))

    async with raw_client(
        url,
        user=user,
        password=PASSWORDS[user],
        inbox_prefix=f"_INBOX_{user}",
        error_cb=on_error,
    ) as client:
        await client.publish(subject, b"", headers={"Bye": "1"})
        async with asyncio.timeout(WAIT):
            return await refusal


async def test_documented_config_confines_nodes_and_cluster_works(confined: NatsServer) -> None:
    url = confined.url
    async with (
        ActorSystem("shop", transport=node(url, "n1")) as a,
        ActorSystem("shop", transport=node(url, "n2")) as b,
    ):
        echo = await a.spawn(Echo, name="echo")
        ref = await b.lookup("echo")
        assert ref is not None
        assert await ref.ask(Ping(1), timeout=WAIT) == Pong(2)
        assert await b.transport.named("echo").ask(Ping(2), timeout=WAIT) == Pong(3)
        inbox, barrier = Inbox(), Inbox()
        await b.spawn(Watcher, ref, inbox)
        # b's watch notices reach n1 in order: once the one for an actor that does not
        # exist is answered, the one for echo was handled.
        ghost = ghost_ref(b, "n1", "nobody")
        await b.spawn(Watcher, ghost, barrier)
        assert await barrier.first() == Terminated(ghost, "noproc")

        for user in ("web", "n2"):
            refusal = await refused_heartbeat(url, user, "actors.shop.hb.n1")
            assert "permissions violation" in refusal.lower(), refusal
            assert "actors.shop.hb.n1" in refusal, refusal

        await a.stop(echo)
        assert await inbox.first() == Terminated(ref, "shutdown")
        assert b.transport.node.node_alive("n1")
        assert a.transport.metrics()["forged_total"] == 0
        assert b.transport.metrics()["forged_total"] == 0
