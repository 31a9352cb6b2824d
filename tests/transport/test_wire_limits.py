"""The wire is hostile (issue 12): limits on names, addresses from the wire checked
before use, sizes against the server's ``max_payload``, unguessable reply tokens, and
bounded state. Each test starts from what a raw NATS client (or a careless caller)
can do to a node, and ends with the node still connected and answering."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from actors.transport import InvalidAddress, MessageTooLarge, NatsTransport, RefAddress
from actors.transport._frame import ERROR, parse
from actors.transport._liveness import Liveness
from actors.transport._remote import RemoteWatchers
from actors.transport._wire import Registration, Watch
from nats.aio.client import Client

from actors import (
    Actor,
    ActorSystem,
    DeadLetter,
    MailboxFull,
)
from actors.lowlevel import cell_of
from tests.transport.nats_support import (
    PREFIX,
    WAIT,
    Blob,
    ControlProbe,
    Echo,
    Hold,
    Inbox,
    Note,
    Ping,
    Pong,
    Watcher,
    actor_subject,
    bucket,
    frame_of,
    framed,
    ghost_ref,
    raw_client,
    server_caught_up,
    two_nodes,
)

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

TWO_MB = 2 * 1024 * 1024


@pytest.fixture
async def nc(url: str) -> AsyncIterator[Client]:
    async with raw_client(url) as client:
        yield client


class Replier(Actor):
    """Answers every message by telling its sender ``Pong(0)``: it publishes to an
    address taken from the frame's sender fields."""

    async def receive(self, message: Any) -> Any:
        if self.sender is not None:
            self.sender.tell(Pong(0))
        return None


class Hoard(Actor):
    """Answers with ``size`` bytes: an answer larger than the server takes."""

    async def receive(self, message: Any) -> Any:
        match message:
            case Ping(size):
                return b"x" * size
        return None


async def _collect_dead_letters(system: ActorSystem) -> Inbox:
    letters = Inbox()
    collector = await system.spawn(Echo, letters)
    await system.subscribe(collector, DeadLetter)
    return letters


def _assert_healthy(transport: Any) -> None:
    assert transport.problem() is None
    assert transport.counters["disconnects"] == 0


# ---------------------------------------------------------------------- local limits


async def test_spawn_name_of_5000_characters_raises_value_error_stating_rule() -> None:
    async with ActorSystem("limits") as system:
        with pytest.raises(ValueError, match=r"at most 128 bytes in UTF-8, got 5000"):
            await system.spawn(Echo, name="x" * 5000)
        assert system.metrics().actors == 1  # the event bus only: nothing was spawned


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("é" * 65, r"at most 128 bytes in UTF-8, got 130"),  # counted in bytes
        ("a\nb", r"control characters"),
        ("a/b", r"must not contain '/'"),
        ("", r"must not be empty"),
    ],
    ids=["utf8-bytes", "newline", "slash", "empty"],
)
async def test_spawn_bad_name_raises_value_error(name: str, match: str) -> None:
    async with ActorSystem("limits") as system:
        with pytest.raises(ValueError, match=match):
            await system.spawn(Echo, name=name)


async def test_spawn_deep_path_beyond_limit_raises_value_error() -> None:
    class Nest(Actor):
        def __init__(self, depth: int) -> None:
            self.depth = depth

        async def receive(self, message: Any) -> Any:
            return await self.spawn(Nest, self.depth + 1, name=f"{self.depth + 1}" * 100)

    async with ActorSystem("limits") as system:
        ref: Any = await system.spawn(Nest, 0, name="0" * 100)
        with pytest.raises(Exception, match=r"actor path must be at most 512 bytes"):
            for _ in range(10):
                ref = await ref.ask(Note("deeper"), timeout=WAIT)


@pytest.mark.parametrize(
    ("name", "match"),
    [("s" * 65, r"at most 64 bytes"), ("a\tb", r"control characters")],
    ids=["long", "tab"],
)
def test_system_name_beyond_limits_raises_value_error(name: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ActorSystem(name)


@pytest.mark.parametrize("node_id", ["n" * 65, "a b", "*", ">"])
def test_node_id_beyond_limits_raises_value_error(node_id: str) -> None:
    with pytest.raises(ValueError, match=r"node_id must match \[-_a-zA-Z0-9\]\{1,64\}"):
        NatsTransport(node_id=node_id)


def test_servers_as_one_string_is_one_server() -> None:
    transport = NatsTransport(servers="nats://host:4222")
    assert transport.servers == ["nats://host:4222"]


async def test_servers_as_one_string_connects(url: str) -> None:
    async with ActorSystem("one-url", transport=NatsTransport(url)) as system:
        assert system.transport.problem() is None


# ---------------------------------------------------------------------- wire addresses


async def test_watch_with_5kb_path_from_raw_client_is_refused_node_stays_connected(
    url: str, nc: Client
) -> None:
    async with two_nodes(url) as (a, b):
        echo = await a.spawn(Echo, name="echo")
        probe = await ControlProbe(nc, a.name, "n1").open()
        long = "p" * 5000
        forged = Watch(f"{a.name}/{long}", RefAddress(a.name, long, f"{a.name}/{long}"))
        await nc.publish(f"{PREFIX}.{a.name}.ctl.n1", msgspec.msgpack.encode(forged))
        await probe.barrier()  # handled in order, on the control connection: still up
        assert a.transport.counters["invalid_address"] == 1
        _assert_healthy(a.transport)
        ref = await b.lookup("echo")
        assert ref is not None and ref.path == echo.path
        assert await ref.ask(Ping(1), timeout=WAIT) == Pong(2)


async def test_tell_with_5000_character_sender_path_is_dead_letter_never_published(
    url: str, nc: Client
) -> None:
    async with two_nodes(url) as (a, b):
        replier = await a.spawn(Replier, name="replier")
        letters = await _collect_dead_letters(a)
        data = frame_of(Note("hi"), sender_node="n2", sender_path=f"{a.name}/" + "x" * 5000)
        subject = actor_subject(a.name, "n1", replier.path)
        await nc.publish(subject, data)
        letter = (await letters.first()).message
        assert isinstance(letter, DeadLetter)
        assert (letter.actor, letter.reason) == (replier.path, "invalid_address")
        assert a.transport.counters["invalid_address"] == 1
        ref = await b.lookup("replier")
        assert ref is not None
        assert await ref.ask(Note("still here"), timeout=WAIT) == Pong(0)  # its sender: the ask
        _assert_healthy(a.transport)


@pytest.mark.parametrize("sender_node", ["*", ">", "a b", "a.b", "n" * 65])
async def test_wildcard_or_space_in_sender_node_is_dead_letter_never_published(
    url: str, nc: Client, sender_node: str
) -> None:
    async with two_nodes(url) as (a, _):
        replier = await a.spawn(Replier, name="replier")
        spy = await nc.subscribe(f"{PREFIX}.{a.name}.node.>")
        await server_caught_up(nc)
        subject = actor_subject(a.name, "n1", replier.path)
        data = frame_of(Note("hi"), sender_node=sender_node, sender_path=f"{a.name}/someone")
        reply = await nc.request(subject, data, timeout=WAIT)
        kind, flags, _, text = parse(reply.data)
        assert (kind, flags) == (b"invalid_address", ERROR)
        assert b"the frame's sender" in bytes(text)
        assert a.transport.counters["invalid_address"] == 1
        # Our own request is the only message on the node's subjects: no Pong was sent.
        await server_caught_up(nc)
        assert spy.pending_msgs == 1
        _assert_healthy(a.transport)


@pytest.mark.parametrize("watcher_node", ["*", ">", "a b"])
async def test_wildcard_in_watch_notice_node_is_refused_and_counted(
    url: str, nc: Client, watcher_node: str
) -> None:
    async with two_nodes(url) as (a, _):
        await a.spawn(Echo, name="echo")
        probe = await ControlProbe(nc, a.name, "n1").open()
        forged = Watch(f"{a.name}/gone", RefAddress(a.name, watcher_node, f"{a.name}/w"))
        await nc.publish(f"{PREFIX}.{a.name}.ctl.n1", msgspec.msgpack.encode(forged))
        await probe.barrier()
        assert a.transport.counters["invalid_address"] == 1
        _assert_healthy(a.transport)


async def test_ref_with_wildcard_node_inside_a_message_is_invalid_address(
    url: str, nc: Client
) -> None:
    async with two_nodes(url) as (a, _):
        echo = await a.spawn(Echo, name="echo")
        letters = await _collect_dead_letters(a)
        # A Hello carries a ref (``who``): encoded as a RefAddress.
        payload = msgspec.msgpack.encode({"who": [a.name, "*", f"{a.name}/x"], "n": 1})
        subject = actor_subject(a.name, "n1", echo.path)
        await nc.publish(subject, framed("tests.transport.nats_support:Hello", payload))
        letter = (await letters.first()).message
        assert (letter.actor, letter.reason) == (echo.path, "invalid_address")
        assert a.transport.counters["invalid_address"] == 1


async def test_answer_holding_a_ref_with_wildcard_node_fails_the_ask(url: str, nc: Client) -> None:
    async with two_nodes(url) as (a, _):
        fake = f"{PREFIX}.{a.name}.node.fake.>"

        async def answer(msg: Any) -> None:
            ref = RefAddress(a.name, "*", f"{a.name}/x")
            await nc.publish(msg.reply, frame_of(ref))

        await nc.subscribe(fake, cb=answer)
        await server_caught_up(nc)
        with pytest.raises(InvalidAddress, match="bad address"):
            await ghost_ref(a, "fake").ask(Note("who?"), timeout=WAIT)


# ---------------------------------------------------------------------- sizes


async def test_tell_larger_than_max_payload_raises_message_too_large_sends_nothing(
    url: str, nc: Client
) -> None:
    async with two_nodes(url) as (a, b):
        await a.spawn(Echo, name="echo")
        ref = await b.lookup("echo")
        assert ref is not None
        before = b.metrics().dead_letters
        with pytest.raises(MessageTooLarge, match=r"max_payload"):
            ref.tell(Blob(b"x" * TWO_MB))
        assert b.metrics().dead_letters == before
        assert b.transport.counters["publish_failures"] == 0
        assert await ref.ask(Ping(1), timeout=WAIT) == Pong(2)


async def test_ask_larger_than_max_payload_raises_message_too_large(url: str) -> None:
    async with two_nodes(url) as (a, b):
        await a.spawn(Echo, name="echo")
        ref = await b.lookup("echo")
        assert ref is not None
        with pytest.raises(
            MessageTooLarge, match=r"ask of `Blob`.*at most \d+ \(its max_payload\)"
        ):
            await ref.ask(Blob(b"x" * TWO_MB), timeout=WAIT)
        assert b.transport.metrics()["asks_pending"] == 0
        assert await ref.ask(Ping(1), timeout=WAIT) == Pong(2)


async def test_answer_larger_than_max_payload_fails_the_ask_at_once(url: str) -> None:
    async with two_nodes(url) as (a, b):
        await a.spawn(Hoard, name="hoard")
        ref = await b.lookup("hoard")
        assert ref is not None
        # The ask's own timeout is far beyond the test's: the error comes as an answer.
        with pytest.raises(MessageTooLarge, match=r"the answer \(`bytes`\) is \d+ bytes"):
            async with asyncio.timeout(WAIT):
                await ref.ask(Ping(TWO_MB), timeout=60.0)
        assert a.transport.counters["publish_failures"] == 0
        assert await ref.ask(Ping(10), timeout=WAIT) == b"x" * 10


# ---------------------------------------------------------------------- reply tokens


async def test_forged_reply_to_guessed_token_is_not_taken_as_the_answer(
    url: str, nc: Client
) -> None:
    async with two_nodes(url) as (a, b):
        inbox, release = Inbox(), asyncio.Event()
        await a.spawn(Echo, inbox, release, name="echo")
        ref = await b.lookup("echo")
        assert ref is not None
        asked = asyncio.create_task(ref.ask(Hold(), timeout=WAIT))
        await inbox.first()  # the ask is pending on node n2
        forged = msgspec.msgpack.encode("FORGED")
        for token in [*map(str, range(100)), *(f"s{n}" for n in range(100))]:
            await nc.publish(f"{PREFIX}.{a.name}.reply.n2.0.{token}", forged)
        await server_caught_up(nc)
        await b.transport.node.messaging.caught_up()  # n2 handled what reached it
        assert not asked.done()
        release.set()
        assert await asked == "released"


# ---------------------------------------------------------------------- bounded state


async def test_forged_watch_notices_kept_in_one_set_per_actor(url: str, nc: Client) -> None:
    async with two_nodes(url) as (a, _):
        echo = await a.spawn(Echo, name="echo")
        probe = await ControlProbe(nc, a.name, "n1").open()
        subject = f"{PREFIX}.{a.name}.ctl.n1"
        for i in range(8000):
            watcher = RefAddress(a.name, f"fake{i}", f"{a.name}/w")
            await nc.publish(subject, msgspec.msgpack.encode(Watch(echo.path, watcher)))
        await probe.barrier()
        watchers = a.transport.node.liveness.watched[echo.path]
        assert isinstance(watchers, RemoteWatchers)
        assert isinstance(watchers.addresses, dict)  # O(1) to add and remove
        assert len(watchers) == 8000
        # One entry in the actor's own watcher list stands for all of them.
        assert [w for w in cell_of(echo).watchers or () if isinstance(w, RemoteWatchers)] == [
            watchers
        ]


async def test_remote_watchers_per_actor_capped_and_counted(
    url: str, nc: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from actors.transport import _liveness

    monkeypatch.setattr(_liveness, "MAX_WATCHERS", 10)
    async with two_nodes(url) as (a, _):
        echo = await a.spawn(Echo, name="echo")
        probe = await ControlProbe(nc, a.name, "n1").open()
        for i in range(25):
            watcher = RefAddress(a.name, f"fake{i}", f"{a.name}/w")
            await nc.publish(
                f"{PREFIX}.{a.name}.ctl.n1", msgspec.msgpack.encode(Watch(echo.path, watcher))
            )
        await probe.barrier()
        assert len(a.transport.node.liveness.watched[echo.path]) == 10
        assert a.transport.counters["watchers_refused"] == 15


async def test_forged_heartbeats_of_unknown_nodes_bounded(
    url: str, nc: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from actors.transport import _liveness

    monkeypatch.setattr(_liveness, "MAX_PEERS", 4)
    async with two_nodes(url) as (a, _):
        probe = await ControlProbe(nc, a.name, "n1").open()
        for i in range(20):
            await nc.publish(f"{PREFIX}.{a.name}.hb.fake{i}", b"")
        await nc.publish(f"{PREFIX}.{a.name}.hb." + "n" * 100, b"")  # not a node id
        await server_caught_up(nc)
        await probe.barrier()  # heartbeats come on the same connection, before it
        liveness: Liveness = a.transport.node.liveness
        assert len(liveness.peers) == 4
        refused = a.transport.counters["peers_refused"]
        assert refused >= 16  # n2's own heartbeats may be among the first four or not
        assert a.transport.counters["invalid_address"] == 1


async def test_nodes_remembered_down_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from actors.transport import _liveness

    monkeypatch.setattr(_liveness, "MAX_DOWN", 3)
    transport = NatsTransport(node_id="here")
    liveness = transport.node.liveness
    async with ActorSystem("bounded") as system:  # MemberDown is published on its bus
        transport.node.system = system
        for i in range(10):
            liveness.node_down(f"gone{i}", release_names=False)
        assert list(liveness.down) == ["gone7", "gone8", "gone9"]
        assert len(liveness.peers) == 3


async def test_pending_asks_per_node_capped_and_counted(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from actors.transport import _messaging

    monkeypatch.setattr(_messaging, "MAX_ASKS_PER_NODE", 3)
    async with two_nodes(url) as (a, b):
        inbox, release = Inbox(), asyncio.Event()
        await a.spawn(Echo, inbox, release, name="echo")
        ref = await b.lookup("echo")
        assert ref is not None
        held = [asyncio.create_task(ref.ask(Hold(), timeout=WAIT)) for _ in range(3)]
        await inbox.first()
        with pytest.raises(MailboxFull, match=r"3 asks already wait on node `n1`"):
            await ref.ask(Ping(1), timeout=WAIT)
        assert b.transport.counters["asks_refused"] == 1
        release.set()
        assert await asyncio.gather(*held) == ["released"] * 3
        assert await ref.ask(Ping(1), timeout=WAIT) == Pong(2)  # the count went back down


async def test_lookup_of_registry_entry_with_wildcard_node_raises_invalid_address(
    url: str, nc: Client
) -> None:
    async with two_nodes(url) as (a, _):
        kv = await nc.jetstream().key_value(bucket(a.name))
        forged = Registration(RefAddress(a.name, "*", f"{a.name}/forged"))
        await kv.put("forged", msgspec.msgpack.encode(forged))
        with pytest.raises(InvalidAddress, match=r"looking up `forged`: .*node_id must match"):
            await a.lookup("forged")
        assert a.transport.counters["invalid_address"] == 1
        _assert_healthy(a.transport)


async def test_forged_no_responders_to_guessed_watch_token_delivers_nothing(
    url: str, nc: Client
) -> None:
    async with two_nodes(url) as (_, b):
        # A node "fake" that receives Watch notices and never answers them: the watch's
        # check stays pending, as it does while a real node's answer is on its way.
        seen = await nc.subscribe(f"{PREFIX}.{b.name}.ctl.fake")
        await server_caught_up(nc)
        watched_by = Inbox()
        target = ghost_ref(b, "fake", "target")
        await b.spawn(Watcher, target, watched_by)
        watch = await seen.next_msg(timeout=WAIT)
        assert watch.reply.startswith(f"{PREFIX}.{b.name}.reply.n2.0.")
        for token in [*map(str, range(50)), *(f"w{n}" for n in range(50))]:
            subject = f"{PREFIX}.{b.name}.reply.n2.0.{token}"
            await nc.publish(subject, b"", headers={"Status": "503"})
        await server_caught_up(nc)
        await b.transport.node.messaging.caught_up()
        assert watched_by.items == []  # no forged Terminated(noproc)
        # The real answer still counts: "no responders" for that very token.
        await nc.publish(watch.reply, b"", headers={"Status": "503"})
        terminated = await watched_by.first()
        assert terminated.reason == "noproc"
