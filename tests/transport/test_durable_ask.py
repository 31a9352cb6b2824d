"""Issue 17: a durable actor is told and asked like any other, by every kind of ref.

docs/distributed.md promises that a durable actor's tells are stored in JetStream
(from its own node or any other) and that its asks "are not durable; they go to the
actor directly". Each combination is checked: tell and ask, by ``lookup``, by
``named(...)`` and by ``durable(...)`` refs, from the actor's own node (``a``) and from
another (``b``). And an answer that cannot be decoded names what arrived.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
import pytest
from actors.transport import CodecError, NatsTransport
from nats.aio.msg import Msg

from actors import Actor, ActorRef, ActorSystem
from tests.transport.nats_support import (
    PREFIX,
    WAIT,
    Inbox,
    Note,
    Ping,
    Pong,
    raw_client,
    server_caught_up,
    two_nodes,
)

How = Literal["lookup", "named", "durable"]
Where = Literal["own", "other"]


class Seen(msgspec.Struct, frozen=True):
    """A message the ledger handled, and whether it came with a sender (a durable
    message's sender is its JetStream acknowledgement; a plain tell from outside any
    actor has none)."""

    message: Any
    with_sender: bool


class Ledger(Actor):
    """Durable; answers ``Ping(n)`` with ``Pong(n + 1)``, records everything."""

    durable = True

    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    async def receive(self, message: Any) -> Any:
        self.inbox.put(Seen(message, self.sender is not None))
        if isinstance(message, Ping):
            return Pong(message.n + 1)
        return None


def transport_of(system: ActorSystem) -> NatsTransport:
    transport = system.transport
    assert isinstance(transport, NatsTransport)
    return transport


async def ref_to(system: ActorSystem, how: How) -> ActorRef:
    if how == "lookup":
        ref = await system.lookup("ledger")
        assert ref is not None
        return ref
    if how == "named":
        return transport_of(system).named("ledger")
    return transport_of(system).durable("ledger")


def messages(inbox: Inbox) -> list[Any]:
    return [seen.message for seen in inbox.items]


async def handled_once(system: ActorSystem, inbox: Inbox, message: Any) -> None:
    """``message`` was handled exactly once: not also stored as a durable tell. A
    durable tell sent now comes after any such stored copy in the mailbox's stream, so
    once it has been handled, a copy would have been too."""
    marker = Note(f"after {message!r}")
    transport_of(system).durable("ledger").tell(marker)
    await inbox.until(lambda items: any(seen.message == marker for seen in items))
    assert messages(inbox).count(message) == 1, messages(inbox)


def sides(a: ActorSystem, b: ActorSystem, where: Where) -> ActorSystem:
    return a if where == "own" else b


@pytest.mark.parametrize("where", ["own", "other"])
@pytest.mark.parametrize("how", ["lookup", "named", "durable"])
async def test_a_durable_actor_is_told(url: str, how: How, where: Where) -> None:
    async with two_nodes(url) as (a, b):
        inbox = Inbox()
        await a.spawn(Ledger, inbox, name="ledger")
        ref = await ref_to(sides(a, b, where), how)
        ref.tell(Note("hello"))
        [seen] = await inbox.count(1)
        assert seen.message == Note("hello")
        # By the durable mailbox (the message came with its acknowledgement as sender),
        # except by name: a named ref is the plain subject of the name, not the mailbox.
        assert seen.with_sender == (how != "named")


@pytest.mark.parametrize(
    ("how", "where"),
    [
        ("lookup", "own"),
        ("lookup", "other"),
        ("named", "own"),
        ("named", "other"),
        ("durable", "own"),
        ("durable", "other"),
    ],
)
async def test_a_durable_actor_is_asked(url: str, how: How, where: Where) -> None:
    async with two_nodes(url) as (a, b):
        inbox = Inbox()
        await a.spawn(Ledger, inbox, name="ledger")
        ref = await ref_to(sides(a, b, where), how)
        assert await ref.ask(Ping(1), timeout=WAIT) == Pong(2)
        await handled_once(a, inbox, Ping(1))


async def test_an_answer_that_cannot_be_decoded_names_what_arrived(url: str) -> None:
    """The answer is what JetStream answers a request published to a stream's subject
    (its publish acknowledgement: JSON, no headers), as the asker saw in issue 17."""
    async with two_nodes(url) as (a, b), raw_client(url) as nc:

        async def forge(msg: Msg) -> None:
            # publish, not respond(): nats-py's respond() echoes the request's headers
            await nc.publish(msg.reply, b'{"stream":"FORGED","seq":1}')

        await nc.subscribe(f"{PREFIX}.{a.name}.name.forger", cb=forge)
        await server_caught_up(nc)
        with pytest.raises(CodecError) as caught:
            await transport_of(b).named("forger").ask(Ping(1), timeout=WAIT)
        assert '{"stream":"FORGED","seq":1}' in str(caught.value)
