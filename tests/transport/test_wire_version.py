"""The versioned wire format (docs/wire.md) against a real server: a node refuses, clearly
and boundedly, what another version sends (a tell is a dead letter and a count, logged
once per version seen; an ask is answered with an error naming both versions; a peer's
heartbeat stating another version is reported once), keeps serving, and sizes messages
by their frame (no header bytes), durable tells included."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from actors.transport import MessageTooLarge, NatsTransport
from actors.transport._codec import type_name
from actors.transport._frame import VERSION, head, parse
from nats.aio.client import Client

from actors import Actor, ActorSystem, DeadLetter
from tests.natsutil import NatsServer
from tests.transport.nats_support import (
    PREFIX,
    WAIT,
    Blob,
    Echo,
    Inbox,
    LogEvents,
    Note,
    Ping,
    Pong,
    actor_subject,
    frame_of,
    node,
    raw_client,
    read_frame,
    server_caught_up,
    two_nodes,
    unique_system,
)


@pytest.fixture
async def nc(url: str) -> AsyncIterator[Client]:
    async with raw_client(url) as client:
        yield client


class Letters(Actor):
    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    async def receive(self, message: Any) -> None:
        self.inbox.put(message)


async def _letters(system: ActorSystem) -> Inbox:
    inbox = Inbox()
    await system.subscribe(await system.spawn(Letters, inbox), DeadLetter)
    return inbox


def _other_version(message: Any) -> bytes:
    """``message`` framed as a version-2 node might: our layout, another version byte."""
    return bytes([VERSION + 1]) + frame_of(message)[1:]


@pytest.mark.parametrize(
    ("data", "headers", "seen"),
    [
        (_other_version(Note("hi")), None, "wire version 2"),
        (
            msgspec.msgpack.encode(Note("hi")),
            {"Actor-Type": type_name(Note)},
            "the unversioned header format (a node of before wire version 1)",
        ),
    ],
    ids=["version-2", "header-format"],
)
async def test_a_tell_of_another_version_is_a_counted_dead_letter_logged_once(
    url: str, nc: Client, logs: LogEvents, data: bytes, headers: dict[str, str] | None, seen: str
) -> None:
    async with two_nodes(url) as (a, b):
        echo = await a.spawn(Echo, name="echo")
        letters = await _letters(a)
        subject = actor_subject(a.name, "n1", echo.path)
        for _ in range(3):
            await nc.publish(subject, data, headers=headers)
        items = await letters.count(3)
        assert {(letter.actor, letter.reason) for letter in items} == {(echo.path, "undecodable")}
        assert a.transport.counters["wrong_version"] == 3
        refused = logs.events("message of another wire version refused")
        assert [(e["seen"], e["spoken"]) for e in refused] == [(seen, VERSION)]  # once
        ref = await b.lookup("echo")
        assert ref is not None
        assert await ref.ask(Ping(1), timeout=WAIT) == Pong(2)  # it keeps serving


async def test_an_ask_of_another_version_is_answered_with_an_error_naming_both(
    url: str, nc: Client
) -> None:
    async with two_nodes(url) as (a, _):
        echo = await a.spawn(Echo, name="echo")
        subject = actor_subject(a.name, "n1", echo.path)
        # A node of before the versioned format reads an error from Actor-Error.
        old = {"Actor-Type": type_name(Ping)}
        reply = await nc.request(subject, msgspec.msgpack.encode(Ping(1)), WAIT, headers=old)
        assert reply.headers == {"Actor-Error": "undecodable", "Actor-Wire": str(VERSION)}
        text = reply.data.decode()
        assert "unversioned header format" in text
        assert f"this node speaks wire version {VERSION}" in text
        reply = await nc.request(subject, _other_version(Ping(1)), WAIT)
        assert reply.headers is not None and reply.headers["Actor-Error"] == "undecodable"
        assert f"wire version 2; this node speaks wire version {VERSION}" in reply.data.decode()
        assert a.transport.counters["wrong_version"] == 2
        assert read_frame((await nc.request(subject, frame_of(Ping(3)), WAIT)).data) == {"n": 4}


async def test_a_malformed_frame_of_our_version_is_undecodable_not_another_version(
    url: str, nc: Client
) -> None:
    async with two_nodes(url) as (a, _):
        echo = await a.spawn(Echo, name="echo")
        subject = actor_subject(a.name, "n1", echo.path)
        reply = await nc.request(subject, bytes([VERSION, 0x40, 0]), WAIT)
        kind, _, _, text = parse(reply.data)
        assert kind == b"undecodable"
        assert "unknown frame flags 0x40" in bytes(text).decode()
        assert a.transport.counters["undecodable"] == 1
        assert a.transport.counters["wrong_version"] == 0


REPORT = "node speaks another wire version: actor messages between them are refused"


@pytest.mark.parametrize("wire", [None, "2"], ids=["header-format", "version-2"])
async def test_a_peer_heartbeating_another_version_is_reported_once(
    url: str, nc: Client, logs: LogEvents, wire: str | None
) -> None:
    async with ActorSystem(unique_system(), transport=node(url, "n1")) as a:
        headers = {"Incarnation": "i1", "Names": "0"}
        if wire is not None:
            headers["Wire"] = wire
        for _ in range(3):
            await nc.publish(f"{PREFIX}.{a.name}.hb.old", b"", headers=headers)
        await server_caught_up(nc)
        seen = "the unversioned header format" if wire is None else f"version {wire}"
        event = await logs.wait_for(REPORT, node="old")
        assert (event["seen"], event["spoken"]) == (seen, VERSION)
        await a.transport.node.messaging.caught_up()
        # Three heartbeats, one report; the peers of our version are never reported.
        assert len(logs.events(REPORT)) == 1


async def test_an_event_of_another_version_is_counted_and_dropped(url: str, nc: Client) -> None:
    async with two_nodes(url) as (a, b):
        inbox = Inbox()
        await a.subscribe(await a.spawn(Letters, inbox), Note)
        await nc.publish(f"{PREFIX}.{a.name}.event.x", _other_version(Note("forged")))
        b.publish(Note("real"))
        assert await inbox.first() == Note("real")
        assert a.transport.counters["wrong_version"] == 1


async def test_message_too_large_counts_the_frame_not_headers(url: str) -> None:
    async with two_nodes(url) as (a, b):
        inbox = Inbox()
        await a.spawn(Echo, inbox, name="echo")
        ref = await b.lookup("echo")
        assert ref is not None
        limit = b.transport.node.data.max_payload  # type: ignore[union-attr]
        overhead = len(frame_of(Blob(b""))) - len(head(type_name(Blob)))  # Blob's own
        # A body that fills the server's limit exactly with its frame: it fits.
        fits = Blob(b"x" * (limit - len(head(type_name(Blob))) - overhead - 3))
        assert len(frame_of(fits)) == limit
        ref.tell(fits)
        assert (await inbox.first()).message == fits
        with pytest.raises(MessageTooLarge, match=rf"is {limit + 1} bytes framed; .* at most"):
            ref.tell(Blob(fits.data + b"x"))


class Ledger(Actor):
    durable = True

    async def receive(self, message: Any) -> None:
        pass


async def test_a_durable_tell_larger_than_max_payload_raises_at_once(
    nats_server: NatsServer,
) -> None:
    transport = node(nats_server.url, "n1")
    async with ActorSystem("bank", transport=transport) as system:
        ref = await system.spawn(Ledger, name="ledger")
        assert isinstance(system.transport, NatsTransport)
        before = system.transport.counters["publish_failures"]
        with pytest.raises(MessageTooLarge, match=r"durable tell of `.*Blob` to .* header"):
            ref.tell(Blob(b"x" * (2 * 1024 * 1024)))
        assert system.transport.counters["publish_failures"] == before  # nothing queued
