"""A slow actor never stalls its node: the NATS callback only enqueues (the bounded
mailbox's policy applies and is counted), so NATS never sees a slow consumer."""

from __future__ import annotations

import asyncio
from typing import Any

from actors import Actor, DeadLetter, Mailbox, Overflow
from tests.natsutil import NatsServer
from tests.transport.nats_support import Echo, Inbox, Note, Ping, Pong, ghost_ref, two_nodes


class Stuck(Actor):
    """Blocks on its first message until ``release`` is set."""

    def __init__(self, release: asyncio.Event) -> None:
        self.release = release

    async def receive(self, message: Any) -> None:
        await self.release.wait()


async def test_slow_actor_does_not_stall_node_and_overflow_is_counted(
    nats_server_shared: NatsServer,
) -> None:
    release = asyncio.Event()
    async with two_nodes(nats_server_shared.url) as (a, b):
        stuck = await a.spawn(
            Stuck, release, name="stuck", mailbox=Mailbox(10, Overflow.DROP_NEWEST)
        )
        await a.spawn(Echo, name="echo")
        remote_stuck, remote_echo = await b.lookup("stuck"), await b.lookup("echo")
        assert remote_stuck is not None and remote_echo is not None
        for n in range(3000):
            remote_stuck.tell(Note(str(n)))
        # Sent after all 3,000: answered only once the node took them all in, and the
        # node does so without waiting for the stuck actor.
        assert await remote_echo.ask(Ping(1), timeout=5) == Pong(2)
        release.set()
        dead = a.metrics().dead_letters
        assert 3000 - 10 - 1 <= dead <= 3000, dead  # dropped by policy, every one counted
        assert a.transport.counters["slow_consumers"] == 0
        assert stuck.is_alive()


async def test_message_for_an_actor_the_node_lacks_is_an_unknown_dead_letter(
    nats_server_shared: NatsServer,
) -> None:
    async with two_nodes(nats_server_shared.url) as (a, b):
        inbox = Inbox()
        collector = await b.spawn(Echo, inbox)
        await b.subscribe(collector, DeadLetter)
        ghost = ghost_ref(a, "n2", "nobody")  # node n2 exists, the actor does not
        ghost.tell(Note("hello?"))
        seen = await inbox.first(timeout=5)
        assert isinstance(seen.message, DeadLetter)
        assert seen.message.reason == "unknown"
        assert seen.message.actor == f"{a.name}/nobody"
