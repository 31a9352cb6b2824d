"""Two nodes on one NATS server (the session's shared one: no faults injected here):
remote tell and ask, errors, order, refs in messages, the cluster-wide registry, remote
watch, what never touches NATS, and what the codec refuses on either side."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import nats.js.errors
import pytest
from actors.transport import CodecError, NatsTransport, RemoteRef
from actors.transport._codec import type_name
from actors.transport._frame import ERROR, head
from actors.transport._wire import PROBE, Unwatch
from nats.aio.client import Client
from nats.aio.msg import Msg

from actors import (
    Actor,
    ActorCrashed,
    ActorNotFound,
    ActorRef,
    ActorSystem,
    AskTimeout,
    DeadLetter,
    Mailbox,
    MailboxFull,
    Overflow,
    Terminated,
)
from tests.transport.nats_support import (
    PREFIX,
    TYPES,
    WAIT,
    Answer,
    Blob,
    Boom,
    ControlProbe,
    Echo,
    Extra,
    GetRef,
    Hello,
    Hold,
    Inbox,
    Note,
    Ping,
    Pong,
    Seen,
    Watcher,
    actor_subject,
    bucket,
    frame_of,
    framed,
    ghost_ref,
    node,
    raw_client,
    read_frame,
    server_caught_up,
    two_nodes,
    watched,
)

AT_ONCE = 1.0  # "fails at once": well under every ask timeout used below (5 s)


@pytest.fixture
async def nc(url: str) -> AsyncIterator[Client]:
    async with raw_client(url) as client:
        yield client


class WireTap:
    """Every message on the system's subjects, seen by a raw client, except heartbeats,
    the empty round trips a node sends itself to know the server caught up (when it
    registers a name, say) and the probe a lookup sends a node it has not heard from
    yet: none carries a message to an actor."""

    def __init__(self) -> None:
        self.seen = Inbox()

    async def open(self, nc: Client, system: str) -> WireTap:
        async def record(msg: Msg) -> None:
            if ".hb." in msg.subject or (".reply." in msg.subject and not msg.data):
                return
            if ".ctl." in msg.subject and msg.data == PROBE:
                return
            self.seen.put(msg)

        await nc.subscribe(f"{PREFIX}.{system}.>", cb=record)
        await server_caught_up(nc)
        return self

    async def until_subject(self, subject: str) -> list[Msg]:
        return await self.seen.until(lambda items: any(m.subject == subject for m in items))


# ---------------------------------------------------------------------- tell and ask


async def test_remote_tell_delivered_to_actor_on_other_node(url: str) -> None:
    async with two_nodes(url) as (a, b):
        inbox = Inbox()
        await a.spawn(Echo, inbox, name="echo")
        ref = await b.lookup("echo")
        assert isinstance(ref, RemoteRef)
        ref.tell(Note("hello"))
        seen = await inbox.first()
        assert seen == Seen(Note("hello"), None)  # told from outside any actor: no sender


async def test_remote_ask_registered_struct_answer_typed(url: str) -> None:
    async with two_nodes(url) as (a, b):
        await a.spawn(Echo, name="echo")
        ref = await b.lookup("echo")
        assert ref is not None
        answer = await ref.ask(Ping(41), timeout=WAIT)
        assert answer == Pong(42)
        assert type(answer) is Pong


@pytest.mark.parametrize(
    "value",
    [42, -1, 3.5, "text", "", True, None, [1, "a", None], {"k": [1, 2]}, b"\x00\xff"],
    ids=repr,
)
async def test_remote_ask_plain_value_answer_equal(url: str, value: Any) -> None:
    async with two_nodes(url) as (a, b):
        await a.spawn(Echo, name="echo")
        ref = await b.lookup("echo")
        assert ref is not None
        assert await ref.ask(Answer(value), timeout=WAIT) == value


async def test_remote_ask_answered_with_ref_returns_usable_ref(url: str) -> None:
    """An actor answering an ask with a ref (``return self.ref``, a registry's answer):
    the asker must get a ref it can use, not the ref's address as a plain list."""
    async with two_nodes(url) as (a, b):
        echo = await a.spawn(Echo, name="echo")
        ref = await b.lookup("echo")
        assert ref is not None
        answer = await ref.ask(GetRef(), timeout=WAIT)
        assert isinstance(answer, RemoteRef), f"got {answer!r}"
        assert answer == ref and answer.path == echo.path
        assert await answer.ask(Ping(1), timeout=WAIT) == Pong(2)


class ObjectAnswer(Actor):
    """Answers every ask with a value that cannot cross the wire."""

    async def receive(self, message: Any) -> Any:
        return object()


async def test_remote_ask_unencodable_answer_raises_actor_crashed(url: str) -> None:
    async with two_nodes(url) as (a, b):
        answerer = await a.spawn(ObjectAnswer, name="answerer")
        ref = await b.lookup("answerer")
        assert ref is not None
        with pytest.raises(ActorCrashed, match=r"^answer of type `object` cannot be encoded"):
            async with asyncio.timeout(AT_ONCE):
                await ref.ask(Note("anything"), timeout=WAIT)
        assert answerer.is_alive()  # the actor did nothing wrong: it serves on
        with pytest.raises(ActorCrashed):
            await ref.ask(Note("again"), timeout=WAIT)


async def test_remote_ask_crash_raises_actor_crashed_naming_actor_and_type(url: str) -> None:
    async with two_nodes(url) as (a, b):
        echo = await a.spawn(Echo, name="echo")
        ref = await b.lookup("echo")
        assert ref is not None
        expected = rf"^`{re.escape(echo.path)}` crashed handling `Boom`: ValueError: kaput$"
        with pytest.raises(ActorCrashed, match=expected) as info:
            await ref.ask(Boom("kaput"), timeout=WAIT)
        assert (info.value.actor, info.value.message_type) == (echo.path, "Boom")


async def test_remote_ask_stopped_actor_raises_actor_not_found_at_once(url: str) -> None:
    async with two_nodes(url) as (a, b):
        echo = await a.spawn(Echo, name="echo")
        ref = await b.lookup("echo")
        assert ref is not None
        await a.stop(echo)
        with pytest.raises(ActorNotFound, match=re.escape(echo.path)) as info:
            async with asyncio.timeout(AT_ONCE):
                await ref.ask(Ping(1), timeout=WAIT)
        assert info.value.actor == echo.path
        assert info.value.message_type == "Ping"


async def test_remote_ask_unknown_node_raises_actor_not_found_at_once(url: str) -> None:
    async with two_nodes(url) as (_, b):
        ghost = ghost_ref(b, "ghost", "nobody")
        with pytest.raises(ActorNotFound, match=r"no responders") as info:
            async with asyncio.timeout(AT_ONCE):
                await ghost.ask(Ping(1), timeout=WAIT)
        assert info.value.actor == f"{b.name}/nobody"


async def test_remote_ask_silent_actor_raises_ask_timeout(url: str) -> None:
    async with two_nodes(url) as (a, b):
        release = asyncio.Event()
        echo = await a.spawn(Echo, None, release, name="echo")
        ref = await b.lookup("echo")
        assert ref is not None
        with pytest.raises(AskTimeout, match=r"timed out after 0\.2 s") as info:
            await ref.ask(Hold(), timeout=0.2)
        assert isinstance(info.value, TimeoutError)
        assert (info.value.actor, info.value.message_type) == (echo.path, "Hold")
        release.set()  # the late answer is discarded; the actor serves on
        assert await ref.ask(Ping(1), timeout=WAIT) == Pong(2)


async def test_remote_named_ref_tell_and_ask_reach_registered_actor(url: str) -> None:
    async with two_nodes(url) as (a, b):
        inbox = Inbox()
        await a.spawn(Echo, inbox, name="echo")
        # A round trip on n1's connection: its subscription to the name's subject has
        # reached the server (see the next test for why this is needed).
        await a.lookup("nobody")
        named = b.transport.named("echo")
        named.tell(Note("by name"))
        assert await named.ask(Ping(1), timeout=WAIT) == Pong(2)
        assert [s.message for s in inbox.items] == [Note("by name"), Ping(1)]
        with pytest.raises(ActorNotFound, match=r"no responders"):
            async with asyncio.timeout(AT_ONCE):
                await b.transport.named("nobody").ask(Ping(1), timeout=WAIT)


async def test_remote_named_ref_ask_right_after_spawn_answered(url: str) -> None:
    """``spawn(name=...)`` returns once the name is registered cluster-wide; an ask by
    name from another node right then must reach the actor (not "no responders" because
    the name's subscription has not reached the server yet)."""
    async with two_nodes(url) as (a, b):
        for i in range(20):
            await a.spawn(Echo, name=f"echo{i}")
            answer = await b.transport.named(f"echo{i}").ask(Ping(i), timeout=WAIT)
            assert answer == Pong(i + 1)


async def test_remote_tells_and_asks_from_one_sender_keep_order(url: str) -> None:
    async with two_nodes(url) as (a, b):
        inbox = Inbox()
        await a.spawn(Echo, inbox, name="echo")
        ref = await b.lookup("echo")
        assert ref is not None
        sent: list[Any] = []
        for i in range(300):
            if i % 50 == 49:
                sent.append(Ping(i))
                assert await ref.ask(Ping(i), timeout=WAIT) == Pong(i + 1)
            else:
                sent.append(Note(str(i)))
                ref.tell(Note(str(i)))
        await inbox.count(len(sent))
        assert [s.message for s in inbox.items] == sent


class Sender(Actor):
    """Told a target, sends it ``count`` numbered Notes with an ask every ``every``
    messages, from inside an actor (so every message carries a sender)."""

    async def receive(self, message: Any) -> Any:
        target, count, every = message.data
        sent: list[Any] = []
        for i in range(count):
            if i % every == every - 1:
                sent.append(Ping(i))
                await target.ask(Ping(i), timeout=WAIT)
            else:
                sent.append(Note(str(i)))
                target.tell(Note(str(i)))
        return sent


async def test_remote_tells_and_asks_from_one_actor_keep_order(url: str) -> None:
    async with two_nodes(url) as (a, b):
        inbox = Inbox()
        await a.spawn(Echo, inbox, name="echo")
        target = await b.lookup("echo")
        sender = await b.spawn(Sender)
        sent = await sender.ask(Blob((target, 200, 40)), timeout=WAIT)
        await inbox.count(len(sent))
        assert [s.message for s in inbox.items] == sent
        assert {
            (s.sender.node, s.sender.path) for s in inbox.items if isinstance(s.sender, RemoteRef)
        } == {("n2", sender.path)}


# ---------------------------------------------------------------------- refs in messages


class Pinger(Actor):
    """Plays ``rounds`` rounds of Hello -> Pong with ``target``, answering each Pong to
    ``self.sender``; resolves ``done`` with the senders it saw."""

    def __init__(self, target: ActorRef, rounds: int, done: asyncio.Future[list[Any]]) -> None:
        self.target = target
        self.rounds = rounds
        self.done = done
        self.senders: list[Any] = []

    async def started(self) -> None:
        self.target.tell(Hello(self.ref, 0))

    async def receive(self, message: Any) -> None:
        if isinstance(message, Pong):
            self.senders.append(self.sender)
            if message.n + 1 < self.rounds:
                self.sender.tell(Hello(self.ref, message.n + 1))
            elif not self.done.done():
                self.done.set_result(self.senders)


async def test_remote_ref_in_message_lets_receiver_reply(url: str) -> None:
    async with two_nodes(url) as (a, b):
        inbox = Inbox()
        echo = await a.spawn(Echo, inbox, name="echo")
        target = await b.lookup("echo")
        assert target is not None
        done: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        pinger = await b.spawn(Pinger, target, 5, done)
        async with asyncio.timeout(WAIT):
            senders = await done
        # On n2, the Pongs came from echo: self.sender is a RemoteRef back to n1.
        assert len(senders) == 5
        for sender in senders:
            assert isinstance(sender, RemoteRef)
            assert (sender.node, sender.path) == ("n1", echo.path)
        # On n1, every Hello came from the pinger, and carried the pinger's ref.
        hellos = [s for s in inbox.items if isinstance(s.message, Hello)]
        assert [s.message.n for s in hellos] == [0, 1, 2, 3, 4]
        for seen in hellos:
            assert isinstance(seen.sender, RemoteRef)
            assert (seen.sender.node, seen.sender.path) == ("n2", pinger.path)
            assert seen.message.who == seen.sender


# ---------------------------------------------------------------------- registry


async def test_remote_lookup_finds_actor_on_other_node(url: str) -> None:
    async with two_nodes(url) as (a, b):
        echo = await a.spawn(Echo, name="echo")
        there = await b.lookup("echo")
        assert isinstance(there, RemoteRef)
        assert (there.node, there.path, there.name) == ("n1", echo.path, "echo")
        assert there.is_alive()
        assert await a.lookup("echo") == echo  # on its own node: the local ref
        assert b.whereis("echo") is None  # whereis stays local
        assert await b.lookup("echo") == there  # equal by address


async def test_remote_lookup_unknown_name_returns_none(url: str) -> None:
    async with two_nodes(url) as (a, b):
        assert await b.lookup("nobody") is None
        assert await a.lookup("nobody") is None
        assert await b.lookup("odd name/with.dots*") is None  # escaped, not an error


async def test_remote_spawn_duplicate_name_across_nodes_raises_actor_crashed(url: str) -> None:
    async with two_nodes(url) as (a, b):
        echo = await a.spawn(Echo, name="dup")
        with pytest.raises(ActorCrashed, match=r"failed to start: name `dup`") as info:
            await b.spawn(Echo, name="dup")
        cause = info.value.__cause__
        assert isinstance(cause, ValueError)
        assert re.search(rf"by `{re.escape(echo.path)}` on node `n1`", str(cause)), cause
        assert b.whereis("dup") is None
        found = await b.lookup("dup")
        assert isinstance(found, RemoteRef) and found.node == "n1"
        await b.spawn(Echo, name="other")  # the node serves on


async def test_remote_lookup_right_after_stop_returns_none(url: str) -> None:
    """``await system.stop(ref)`` returns once the actor has stopped; its name should be
    gone cluster-wide by then, as it is locally (``whereis``). Ten rounds, so a release
    that races the next lookup shows."""
    async with two_nodes(url) as (a, b):
        stale = []
        for i in range(10):
            echo = await a.spawn(Echo, name=f"gone{i}")
            assert await b.lookup(f"gone{i}") is not None
            await a.stop(echo)
            assert a.whereis(f"gone{i}") is None
            found = await b.lookup(f"gone{i}")
            if found is not None:
                stale.append(found)
        assert stale == [], f"{len(stale)} of 10 lookups found the stopped actor"


async def test_remote_name_released_after_stop_other_node_takes_it(url: str, nc: Client) -> None:
    async with two_nodes(url) as (a, b):
        kv = await nc.jetstream().key_value(bucket(a.name))
        watcher = await kv.watch("gone")
        try:
            echo = await a.spawn(Echo, name="gone")
            await a.stop(echo)
            async with asyncio.timeout(WAIT):  # the registry entry is deleted
                while True:
                    entry = await watcher.updates(timeout=WAIT)
                    if entry is not None and entry.operation == "DEL":
                        break
        finally:
            await watcher.stop()
        assert await b.lookup("gone") is None
        assert await a.lookup("gone") is None
        taken = await b.spawn(Echo, name="gone")
        there = await a.lookup("gone")
        assert isinstance(there, RemoteRef) and (there.node, there.path) == ("n2", taken.path)
        assert await there.ask(Ping(1), timeout=WAIT) == Pong(2)
        with pytest.raises(nats.js.errors.KeyNotFoundError):
            await kv.get("never-registered")


# ---------------------------------------------------------------------- remote watch


async def test_remote_watch_stopped_actor_delivers_terminated_shutdown(
    url: str, nc: Client
) -> None:
    async with two_nodes(url) as (a, b):
        echo = await a.spawn(Echo, name="echo")
        ref = await b.lookup("echo")
        assert ref is not None
        probe = await ControlProbe(nc, a.name, "n1").open()
        inbox = Inbox()
        await b.spawn(Watcher, ref, inbox)
        await watched(probe, ref)
        await a.stop(echo)
        assert await inbox.first() == Terminated(ref, "shutdown")


async def test_remote_watch_crashed_actor_delivers_terminated_with_crash_reason(
    url: str, nc: Client
) -> None:
    async with two_nodes(url) as (a, b):
        await a.spawn(Echo, name="echo")
        ref = await b.lookup("echo")
        assert ref is not None
        probe = await ControlProbe(nc, a.name, "n1").open()
        inbox = Inbox()
        await b.spawn(Watcher, ref, inbox)
        await watched(probe, ref)
        ref.tell(Boom("kaput"))
        terminated = await inbox.first()
        assert terminated == Terminated(ref, "ValueError: kaput")
        assert not terminated.normal


async def test_remote_watch_gone_actor_delivers_noproc(url: str) -> None:
    async with two_nodes(url) as (a, b):
        echo = await a.spawn(Echo, name="echo")
        ref = await b.lookup("echo")
        assert ref is not None
        await a.stop(echo)
        inbox = Inbox()
        await b.spawn(Watcher, ref, inbox)
        assert await inbox.first() == Terminated(ref, "noproc")


async def test_remote_unwatch_then_stop_delivers_nothing(url: str, nc: Client) -> None:
    async with two_nodes(url) as (a, b):
        echo = await a.spawn(Echo, name="echo")
        gone = await a.spawn(Echo, name="gone")
        ref, gone_ref = await b.lookup("echo"), await b.lookup("gone")
        assert ref is not None and gone_ref is not None
        await a.stop(gone)
        probe = await ControlProbe(nc, a.name, "n1").open()
        inbox = Inbox()
        watcher = await b.spawn(Watcher, ref, inbox)
        await watched(probe, ref)
        await watcher.ask(Note("unwatch"), timeout=WAIT)
        notice = await probe.notice()
        assert isinstance(notice, Unwatch) and notice.target == ref.path
        await probe.barrier()
        await a.stop(echo)
        # n1 sends its notices in order: had it sent a Terminated for echo, it would
        # arrive before the answer to this second watch (of an actor already gone).
        b_watcher = await b.spawn(Watcher, gone_ref, inbox)
        assert await inbox.first() == Terminated(gone_ref, "noproc")
        await b.stop(b_watcher)
        assert len(inbox.items) == 1


async def test_remote_watch_unknown_node_delivers_terminated(url: str) -> None:
    """Watching a ref on a node that never existed (or died before this node heard of
    it) must end in a Terminated ("noproc" or "nodedown"), as an Erlang monitor does;
    waiting ``heartbeat * misses`` is enough to decide."""
    async with two_nodes(url, heartbeat=0.2, misses=3) as (_, b):
        ghost = ghost_ref(b, "ghost", "nobody")
        inbox = Inbox()
        await b.spawn(Watcher, ghost, inbox)
        terminated = await inbox.first(timeout=1.5)
        assert terminated.ref == ghost
        assert terminated.reason in ("noproc", "nodedown")


async def test_remote_node_closed_watchers_get_shutdown_and_lookup_none(
    url: str, nc: Client
) -> None:
    async with two_nodes(url) as (a, b):
        inbox = Inbox()
        async with ActorSystem(a.name, transport=node(url, "n3")) as c:
            await c.spawn(Echo, name="leaving")
            ref = await b.lookup("leaving")
            assert ref is not None
            probe = await ControlProbe(nc, a.name, "n3").open()
            await b.spawn(Watcher, ref, inbox)
            await watched(probe, ref)
        assert await inbox.first() == Terminated(ref, "shutdown")
        assert await b.lookup("leaving") is None
        with pytest.raises(ActorNotFound):
            async with asyncio.timeout(AT_ONCE):
                await ref.ask(Ping(1), timeout=WAIT)


# ---------------------------------------------------------------------- what stays local


async def test_local_sends_never_touch_nats(url: str, nc: Client) -> None:
    async with two_nodes(url) as (a, b):
        tap = await WireTap().open(nc, a.name)
        inbox = Inbox()
        echo = await a.spawn(Echo, inbox, name="echo")
        other = await a.spawn(Echo)
        await b.spawn(Echo, name="remote")
        remote_on_a = await a.lookup("remote")
        assert remote_on_a is not None
        local = await a.lookup("echo")
        assert local == echo and not isinstance(local, RemoteRef)
        for i in range(100):
            echo.tell(Note(str(i)))
        assert await echo.ask(Ping(1), timeout=WAIT) == Pong(2)
        assert await echo.ask(GetRef(), timeout=WAIT) == echo
        other.tell(Hello(echo, 7))  # a ref in a message, between two local actors
        echo.tell(Note("last"))
        await inbox.until(lambda items: any(s.message == Note("last") for s in items))
        assert Seen(Pong(7), other) in inbox.items
        # A barrier: one remote tell. Everything n1 published before it arrives first.
        remote_on_a.tell(Note("barrier"))
        seen = await tap.until_subject(remote_on_a.subject)
        assert [m.subject for m in seen] == [remote_on_a.subject]


async def test_remote_tell_unencodable_raises_codec_error_and_sends_nothing(
    url: str, nc: Client
) -> None:
    async with two_nodes(url) as (a, b):
        tap = await WireTap().open(nc, a.name)
        inbox = Inbox()
        await a.spawn(Echo, inbox, name="echo")
        ref = await b.lookup("echo")
        assert ref is not None
        with pytest.raises(CodecError, match=r"^`object` is not registered with the transport"):
            ref.tell(object())
        with pytest.raises(CodecError, match=r"^`Blob` cannot be encoded: `object` is not"):
            ref.tell(Blob(object()))
        with pytest.raises(CodecError, match=r"^`Extra` is not registered with the transport"):
            await ref.ask(Extra(1), timeout=WAIT)
        ref.tell(Note("barrier"))
        seen = await tap.until_subject(ref.subject)
        assert len(seen) == 1
        await inbox.first()
        assert [s.message for s in inbox.items] == [Note("barrier")]


async def test_remote_tell_int_beyond_msgpack_range_raises_codec_error(url: str) -> None:
    async with two_nodes(url) as (a, b):
        await a.spawn(Echo, name="echo")
        ref = await b.lookup("echo")
        assert ref is not None
        with pytest.raises(CodecError, match=r"^`Ping` cannot be encoded"):
            ref.tell(Ping(2**64))


async def test_remote_message_unregistered_on_receiver_dead_letter_node_serves(
    url: str,
) -> None:
    async with two_nodes(url, types_b=[*TYPES, Extra]) as (a, b):
        inbox, letters = Inbox(), Inbox()
        echo = await a.spawn(Echo, inbox, name="echo")
        collector = await a.spawn(Echo, letters)
        await a.subscribe(collector, DeadLetter)
        ref = await b.lookup("echo")
        assert ref is not None
        before = a.metrics().dead_letters
        ref.tell(Extra(1))
        assert await ref.ask(Ping(1), timeout=WAIT) == Pong(2)  # after Extra, in order
        assert a.metrics().dead_letters == before + 1
        assert a.transport.counters["undecodable"] == 1
        assert [s.message for s in inbox.items] == [Ping(1)]
        letter = (await letters.first()).message
        assert isinstance(letter, DeadLetter)
        assert (letter.actor, letter.reason) == (echo.path, "undecodable")


async def test_remote_ask_unregistered_on_receiver_raises_codec_error(url: str) -> None:
    async with two_nodes(url, types_b=[*TYPES, Extra]) as (a, b):
        echo = await a.spawn(Echo, name="echo")
        ref = await b.lookup("echo")
        assert ref is not None
        wire_name = re.escape(type_name(Extra))
        with pytest.raises(
            CodecError, match=rf"^unknown message type `{wire_name}` \(not registered here\)$"
        ) as info:
            async with asyncio.timeout(AT_ONCE):
                await ref.ask(Extra(1), timeout=WAIT)
        assert (info.value.actor, info.value.message_type) == (echo.path, "Extra")
        assert await ref.ask(Ping(1), timeout=WAIT) == Pong(2)


class Picky(Echo):
    accepts = (Ping,)


async def test_remote_ask_type_actor_does_not_accept_raises_codec_error(url: str) -> None:
    async with two_nodes(url) as (a, b):
        picky = await a.spawn(Picky, name="picky")
        ref = await b.lookup("picky")
        assert ref is not None
        with pytest.raises(CodecError, match=rf"`{re.escape(picky.path)}` does not accept it"):
            await ref.ask(Note("no"), timeout=WAIT)
        assert await ref.ask(Ping(1), timeout=WAIT) == Pong(2)


@pytest.mark.parametrize(
    ("overflow", "expected"),
    [
        (Overflow.FAIL, r"^the mailbox of `{path}` is full$"),
        (Overflow.DROP_NEWEST, r"^`Ping` to `{path}` was dropped: the mailbox is full$"),
    ],
    ids=["fail", "drop-newest"],
)
async def test_remote_ask_full_bounded_mailbox_raises_mailbox_full(
    url: str, overflow: Overflow, expected: str
) -> None:
    async with two_nodes(url) as (a, b):
        inbox, release = Inbox(), asyncio.Event()
        mailbox = Mailbox(maxsize=1, overflow=overflow)
        echo = await a.spawn(Echo, inbox, release, name="echo", mailbox=mailbox)
        ref = await b.lookup("echo")
        assert ref is not None
        ref.tell(Hold())
        await inbox.first()  # in the handler: the mailbox is empty
        ref.tell(Note("fills the mailbox"))
        before = a.metrics().dead_letters
        with pytest.raises(MailboxFull, match=expected.format(path=re.escape(echo.path))):
            async with asyncio.timeout(AT_ONCE):
                await ref.ask(Ping(1), timeout=WAIT)
        assert a.metrics().dead_letters == before + 1
        release.set()
        assert await ref.ask(Ping(2), timeout=WAIT) == Pong(3)
        assert [s.message for s in inbox.items] == [Hold(), Note("fills the mailbox"), Ping(2)]


# ---------------------------------------------------------------------- malformed answers


async def _fake_node_answering(
    nc: Client, system: str, data: bytes, headers: dict[str, str] | None
) -> None:
    """A raw client posing as node ``fake``: answers every ask with ``data``/``headers``."""

    async def answer(msg: Msg) -> None:
        await nc.publish(msg.reply, data, headers=headers)

    await nc.subscribe(f"{PREFIX}.{system}.node.fake.>", cb=answer)
    await server_caught_up(nc)


def _error(kind: str, text: bytes) -> bytes:
    return head(kind, ERROR) + text


@pytest.mark.parametrize(
    ("data", "headers", "error", "match"),
    [
        (framed("nowhere:Thing", b"\x81\xa1n\x01"), None, CodecError, "unknown message type"),
        (framed(type_name(Pong), b"\xc1"), None, CodecError, r"^malformed `.*:Pong`"),
        (framed("", b"\xc1"), None, CodecError, r"^malformed answer"),
        (_error("crashed", b"went wrong"), None, ActorCrashed, r"^went wrong$"),
        (_error("not_found", b"gone"), None, ActorNotFound, r"^gone$"),
        (_error("weird", b"who knows"), None, ActorCrashed, r"^who knows$"),
        (_error("crashed", b"\xff\xfe"), None, ActorCrashed, None),
        (framed("", b"\x91" * 100_000 + b"\xc0"), None, CodecError, r"^malformed answer"),
        # A node of before the versioned format answers with headers and a bare body.
        (
            msgspec.msgpack.encode(Pong(2)),
            {"Actor-Type": type_name(Pong)},
            CodecError,
            r"unreadable: it came in the unversioned header format .*speaks wire version 1",
        ),
        (b"\x02\x00\x00\x90", None, CodecError, r"wire version 2; this node speaks wire version 1"),
        (b"\x01\x00\x09ab", None, CodecError, r"unreadable: a frame cut inside its type name"),
        (b"\x01\x80\x00\x90", None, CodecError, r"unreadable: unknown frame flags 0x80"),
        (b"", None, CodecError, r"unreadable: it came in an empty message"),
        # A node of another version refusing our ask: the version-independent shape.
        (b"refused: we speak 2", {"Actor-Error": "undecodable"}, CodecError, r"^refused"),
    ],
    ids=[
        "unknown-type",
        "malformed-typed",
        "malformed-plain",
        "crashed",
        "not-found",
        "unknown-error-kind",
        "error-text-not-utf8",
        "nested-too-deep",
        "header-format",
        "other-version",
        "truncated",
        "unknown-flags",
        "empty",
        "refused",
    ],
)
async def test_remote_ask_malformed_answer_raises_clear_error_at_once(
    url: str,
    nc: Client,
    data: bytes,
    headers: dict[str, str] | None,
    error: type,
    match: str | None,
) -> None:
    async with two_nodes(url) as (_, b):
        await _fake_node_answering(nc, b.name, data, headers)
        ref = ghost_ref(b, "fake", "anyone")
        with pytest.raises(error, match=match):
            async with asyncio.timeout(AT_ONCE):
                await ref.ask(Ping(1), timeout=WAIT)


# ---------------------------------------------------------------------- options and wire


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"heartbeat": 0}, r"need heartbeat > 0 and misses >= 1"),
        ({"misses": 0}, r"need heartbeat > 0 and misses >= 1"),
        ({"node_id": "a.b"}, r"node_id must match"),
        ({"node_id": "*"}, r"node_id must match"),
    ],
    ids=["heartbeat", "misses", "dotted-node", "wildcard-node"],
)
def test_transport_invalid_options_raise_value_error(options: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        NatsTransport(["nats://127.0.0.1:4222"], **options)


async def test_remote_answer_does_not_echo_request_headers(url: str, nc: Client) -> None:
    async with two_nodes(url) as (a, _):
        echo = await a.spawn(Echo, name="echo")
        subject = actor_subject(a.name, "n1", echo.path)
        reply = await nc.request(
            subject, frame_of(Ping(1)), timeout=WAIT, headers={"X-Request-Only": "1"}
        )
        assert not reply.headers  # the answer's type is in its frame
        assert read_frame(reply.data, Pong) == Pong(2)
