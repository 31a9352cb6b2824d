"""Faults with real processes: the server killed, restarted, paused; the link cut and
blackholed through a loopback proxy; a node process SIGKILLed; hostile and fuzzed bytes
on a node's subject. Every wait is on an event, a reply or a log event the transport
emits from its NATS callbacks, bounded; retries are of real work (asks, each with its
own timeout), never of a sleep."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import nats.js.errors
import pytest
from actors.transport import RemoteRef, TransportUnavailable
from actors.transport._codec import type_name
from actors.transport._frame import ERROR, parse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nats.aio.msg import Msg

from actors import ActorCrashed, ActorNotFound, ActorSystem, AskTimeout, Terminated
from actors.lowlevel import Reply
from tests.natsutil import NatsServer, TcpProxy
from tests.transport.nats_support import (
    PREFIX,
    WAIT,
    Big,
    Blob,
    ControlProbe,
    Echo,
    Inbox,
    LogEvents,
    NodeProcess,
    Note,
    Ping,
    Pong,
    Watcher,
    actor_subject,
    ask_until_answered,
    bucket,
    frame_of,
    framed,
    node,
    raw_client,
    read_frame,
    two_nodes,
    unique_system,
    watched,
)

HEARTBEAT, MISSES = 0.2, 3
SILENCE = HEARTBEAT * MISSES  # a node silent this long is down
CLEAR_ERRORS = (TransportUnavailable, AskTimeout, ActorNotFound)


async def bounded(coro: Any, timeout: float) -> Any:
    """Run ``coro``; a hang past ``timeout`` is a test failure, not a pass."""
    try:
        async with asyncio.timeout(timeout):
            return await coro
    except TimeoutError as exc:
        if isinstance(exc, AskTimeout):
            raise
        raise AssertionError(f"hung for more than {timeout} s") from exc


# ---------------------------------------------------------------------- server faults


async def test_server_killed_mid_traffic_asks_fail_clearly_then_succeed_after_restart(
    nats_server: NatsServer, logs: LogEvents
) -> None:
    async with two_nodes(nats_server.url) as (a, b):
        await a.spawn(Echo, name="echo")
        ref = await b.lookup("echo")
        assert ref is not None
        assert await ref.ask(Ping(0), timeout=WAIT) == Pong(1)

        in_flight = [
            asyncio.ensure_future(bounded(ref.ask(Ping(i), timeout=1.0), timeout=3.0))
            for i in range(1, 101)
        ]
        for i in range(100):
            ref.tell(Note(str(i)))
        mark = logs.mark()
        await nats_server.kill()
        results = await asyncio.gather(*in_flight, return_exceptions=True)
        for i, result in enumerate(results, start=1):
            if isinstance(result, BaseException):
                assert isinstance(result, CLEAR_ERRORS), f"ask {i}: {result!r}"
            else:
                assert result == Pong(i + 1)

        # Disconnected: an ask fails at once, whatever its timeout.
        await logs.wait_for("nats disconnected", after=mark, node="n2", connection="data")
        started = time.monotonic()
        with pytest.raises(TransportUnavailable, match=r"not connected to NATS"):
            await bounded(ref.ask(Ping(0), timeout=WAIT), timeout=1.0)
        assert time.monotonic() - started < 0.5

        await nats_server.start()
        await reconnected(logs, mark, ("n1", "n2"))
        assert await ask_until_answered(ref, Ping(7)) == Pong(8)
        # The registry survived in the server's JetStream store (read from n2: remote).
        assert await b.lookup("echo") == ref


@contextlib.asynccontextmanager
async def server_down(
    server: NatsServer, logs: LogEvents, nodes: tuple[str, ...] = ("n1", "n2")
) -> AsyncIterator[None]:
    """Stop the server until the block ends, then start it again and wait until every
    connection of ``nodes`` is back (so the systems close on a live server)."""
    mark = logs.mark()
    await server.stop()
    try:
        for node_id in nodes:
            for role in ("data", "control"):
                await logs.wait_for("nats disconnected", after=mark, node=node_id, connection=role)
        yield
    finally:
        await server.start()
        await reconnected(logs, mark, nodes)


async def reconnected(logs: LogEvents, mark: int, nodes: tuple[str, ...]) -> None:
    """Every connection (data and control) of ``nodes`` reconnected since ``mark``: only
    then may the systems close (a client closed while reconnecting leaks its tasks, see
    ``test_system_closed_while_server_down_leaves_no_task_behind``)."""
    for node_id in nodes:
        for role in ("data", "control"):
            await logs.wait_for("nats reconnected", after=mark, node=node_id, connection=role)


async def test_ask_while_disconnected_raises_transport_unavailable_at_once(
    nats_server: NatsServer, logs: LogEvents
) -> None:
    async with two_nodes(nats_server.url) as (a, b):
        echo = await a.spawn(Echo, name="echo")
        ref = await b.lookup("echo")
        assert ref is not None
        async with server_down(nats_server, logs):
            for timeout in (0.1, 5.0, 60.0):
                with pytest.raises(TransportUnavailable, match=r"not connected to NATS") as info:
                    await bounded(ref.ask(Ping(1), timeout=timeout), timeout=0.5)
                assert (info.value.actor, info.value.message_type) == (echo.path, "Ping")
            assert b.transport.counters["disconnects"] == 2  # data and control
        assert await ask_until_answered(ref, Ping(1)) == Pong(2)
        assert b.transport.counters["reconnects"] == 2


async def test_lookup_while_disconnected_raises_transport_unavailable_at_once(
    nats_server: NatsServer, logs: LogEvents
) -> None:
    """A lookup is a JetStream KV read: with no connection it must fail at once like an
    ask, not wait for the JetStream request's own timeout."""
    async with two_nodes(nats_server.url) as (a, b):
        await a.spawn(Echo, name="echo")
        async with server_down(nats_server, logs):
            with pytest.raises(TransportUnavailable):
                await bounded(b.lookup("echo"), timeout=1.0)
        assert await b.lookup("echo") is not None


async def test_system_closed_while_server_down_leaves_no_task_behind(
    nats_server: NatsServer, logs: LogEvents
) -> None:
    """Closing a system while NATS is unreachable must still close its NATS clients:
    none may keep reconnecting (with its tasks) after ``__aexit__``."""
    system = ActorSystem(unique_system(), transport=node(nats_server.url, "n1"))
    clients: list[Any] = []
    try:
        mark = logs.mark()
        async with system:
            transport = system.transport
            clients = [*transport.node.links.data, transport.node.links.control]
            await system.spawn(Echo)
            await nats_server.stop()
            for role in ("data", "control"):
                await logs.wait_for("nats disconnected", after=mark, node="n1", connection=role)
        leftover = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert not leftover, f"{len(leftover)} tasks left, e.g. {leftover[:2]}"
        assert all(client.is_closed for client in clients)
    finally:
        # Whatever the outcome, leave nothing running for the next test: close the
        # clients, and end what nats-py's close() leaves when it fails on a dead socket.
        for client in clients:
            if not client.is_closed:
                with contextlib.suppress(Exception):
                    await client.close()
        stray = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in stray:
            task.cancel()
        await asyncio.gather(*stray, return_exceptions=True)


async def test_transport_start_without_server_raises_transport_unavailable(
    nats_server: NatsServer,
) -> None:
    """No server at the URL: entering the system fails with TransportUnavailable within
    the connect timeout, instead of retrying the first connection forever."""
    await nats_server.stop()
    transport = node(nats_server.url, "n1", connect_timeout=0.5)
    try:
        with pytest.raises(TransportUnavailable, match=r"cannot connect to NATS"):
            async with asyncio.timeout(2.0):
                async with ActorSystem(unique_system(), transport=transport):
                    pass
        leftover = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert not leftover, f"{len(leftover)} tasks left, e.g. {leftover[:2]}"
    finally:
        stray = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in stray:
            task.cancel()
        await asyncio.gather(*stray, return_exceptions=True)


async def test_server_paused_asks_time_out_then_succeed_after_resume(
    nats_server: NatsServer,
) -> None:
    async with two_nodes(nats_server.url) as (a, b):
        await a.spawn(Echo, name="echo")
        ref = await b.lookup("echo")
        assert ref is not None
        assert await ref.ask(Ping(0), timeout=WAIT) == Pong(1)
        nats_server.pause()
        try:
            # SIGSTOP lands a moment after pause() returns: an ask may still be answered
            # in that moment, but the server freezes within a few attempts.
            outcomes: list[Any] = []
            for i in range(5):
                try:
                    outcomes.append(await bounded(ref.ask(Ping(i), timeout=0.2), timeout=1.0))
                except AskTimeout as exc:
                    outcomes.append(exc)
                    break
            assert isinstance(outcomes[-1], AskTimeout), outcomes
            assert str(outcomes[-1]).endswith("timed out after 0.2 s")
            with pytest.raises(AskTimeout):  # frozen: it stays so
                await bounded(ref.ask(Ping(5), timeout=0.2), timeout=1.0)
        finally:
            nats_server.resume()
        assert await ask_until_answered(ref, Ping(9)) == Pong(10)


# ---------------------------------------------------------------------- partitions


async def test_partition_cut_then_heal_asks_fail_at_once_then_succeed(
    nats_server: NatsServer, tcp_proxy: TcpProxy, logs: LogEvents
) -> None:
    system = unique_system()
    async with (
        ActorSystem(system, transport=node(nats_server.url, "n1")) as a,
        ActorSystem(system, transport=node(tcp_proxy.url, "n2")) as b,
    ):
        echo_a = await a.spawn(Echo, name="echo-a")
        await b.spawn(Echo, name="echo-b")
        a_to_b, b_to_a = await a.lookup("echo-b"), await b.lookup("echo-a")
        assert a_to_b is not None and b_to_a is not None
        assert await a_to_b.ask(Ping(1), timeout=WAIT) == Pong(2)

        mark = logs.mark()
        tcp_proxy.cut()
        await logs.wait_for("nats disconnected", after=mark, node="n2", connection="data")
        with pytest.raises(TransportUnavailable):
            await bounded(b_to_a.ask(Ping(1), timeout=WAIT), timeout=0.5)
        # Once the server has dropped n2's connection, its subscriptions are gone: no
        # responders. Until the server noticed, the ask goes into the dead link: timeout.
        with pytest.raises((ActorNotFound, AskTimeout)):
            await bounded(a_to_b.ask(Ping(1), timeout=0.3), timeout=1.0)
        assert await echo_a.ask(Ping(1), timeout=WAIT) == Pong(2)  # local work goes on

        tcp_proxy.heal()
        await reconnected(logs, mark, ("n2",))
        assert await ask_until_answered(b_to_a, Ping(5)) == Pong(6)
        assert await ask_until_answered(a_to_b, Ping(6)) == Pong(7)


async def test_partition_blackhole_watchers_get_nodedown_asks_time_out_then_heal(
    nats_server: NatsServer, tcp_proxy: TcpProxy
) -> None:
    system = unique_system()
    options = {"heartbeat": HEARTBEAT, "misses": MISSES}
    async with (
        raw_client(nats_server.url) as nc,
        ActorSystem(system, transport=node(nats_server.url, "n1", **options)) as a,
        ActorSystem(system, transport=node(tcp_proxy.url, "n2", **options)) as b,
    ):
        await b.spawn(Echo, name="echo-b")
        ref = await a.lookup("echo-b")
        assert isinstance(ref, RemoteRef)
        probe = await ControlProbe(nc, system, "n2").open()
        inbox = Inbox()
        await a.spawn(Watcher, ref, inbox)
        await watched(probe, ref)

        tcp_proxy.blackhole()
        started = time.monotonic()
        with pytest.raises(AskTimeout):
            await bounded(ref.ask(Ping(1), timeout=0.2), timeout=1.0)
        terminated = await inbox.first(timeout=SILENCE + 2.0)
        silent_for = time.monotonic() - started
        assert terminated == Terminated(ref, "nodedown")
        assert silent_for < SILENCE + 1.0, silent_for
        assert not ref.is_alive()
        assert await a.lookup("echo-b") is None  # its node is down

        tcp_proxy.heal()
        assert await ask_until_answered(ref, Ping(2)) == Pong(3)


async def test_health_is_not_ready_while_the_server_is_down_and_ready_again_after(
    nats_server: NatsServer, logs: LogEvents
) -> None:
    async with two_nodes(nats_server.url) as (a, _):
        assert a.health().ready
        assert a.metrics().transport["connected"] == 1
        async with server_down(nats_server, logs):
            health = a.health()
            assert health.live and not health.ready
            assert health.checks["system"] == "ok"
            assert "not connected to NATS" in health.checks["transport"]
            assert "control, data reconnecting" in health.checks["transport"]
            figures = a.metrics().transport
            assert figures["connected"] == 0
            assert figures["disconnects_total"] == 2
        health = a.health()
        assert health.ready and health.checks == {"system": "ok", "transport": "ok"}
        assert a.metrics().transport["reconnects_total"] == 2


# ---------------------------------------------------------------------- node processes


async def test_node_process_killed_watchers_get_nodedown_within_heartbeat_misses(
    nats_server: NatsServer, logs: LogEvents
) -> None:
    system = unique_system()
    options = {"heartbeat": HEARTBEAT, "misses": MISSES}
    async with (
        raw_client(nats_server.url) as nc,
        ActorSystem(system, transport=node(nats_server.url, "n1", **options)) as a,
    ):
        beats = await nc.subscribe(f"{PREFIX}.{system}.hb.victim-node")
        async with NodeProcess(nats_server.url, system, "victim-node", HEARTBEAT, MISSES) as proc:
            ref = await a.lookup("victim")
            assert isinstance(ref, RemoteRef) and ref.node == "victim-node"
            assert await ref.ask(Ping(1), timeout=WAIT) == Pong(2)
            probe = await ControlProbe(nc, system, "victim-node").open()
            inbox = Inbox()
            await a.spawn(Watcher, ref, inbox)
            await watched(probe, ref)
            for _ in range(2):  # n1 hears the node's heartbeats (it knows it is up)
                await beats.next_msg(timeout=WAIT)

            proc.kill()
            killed = time.monotonic()
            terminated = await inbox.first(timeout=SILENCE + 2.0)
            elapsed = time.monotonic() - killed
        assert terminated == Terminated(ref, "nodedown")
        assert elapsed < SILENCE + 1.0, f"nodedown {elapsed:.2f} s after the kill"
        assert not ref.is_alive()
        with pytest.raises(ActorNotFound):
            await bounded(ref.ask(Ping(1), timeout=WAIT), timeout=1.0)
        assert await a.lookup("victim") is None  # unreachable: not offered
        # Once its holder is down (silent for down_after), the name can be taken.
        await logs.wait_for("node down: no heartbeat", node="victim-node", timeout=WAIT)
        mine = await a.spawn(Echo, name="victim")
        assert await a.lookup("victim") == mine


async def registry_holds(url: str, system: str, name: str) -> bool:
    """Whether the registry bucket of ``system`` has an entry for ``name`` (read raw)."""
    async with raw_client(url) as nc:
        kv = await nc.jetstream().key_value(bucket(system))
        try:
            await kv.get(name)
        except nats.js.errors.KeyNotFoundError:
            return False
        return True


async def test_names_of_a_killed_node_are_released_by_a_survivor(
    nats_server: NatsServer, logs: LogEvents
) -> None:
    system = unique_system()
    options = {"heartbeat": HEARTBEAT, "misses": MISSES}
    async with (
        raw_client(nats_server.url) as nc,
        ActorSystem(system, transport=node(nats_server.url, "n1", **options)),
    ):
        beats = await nc.subscribe(f"{PREFIX}.{system}.hb.victim-node")
        async with NodeProcess(nats_server.url, system, "victim-node", HEARTBEAT, MISSES) as proc:
            await beats.next_msg(timeout=WAIT)
            await beats.next_msg(timeout=WAIT)  # n1 has heard it too: it knows it is up
            assert await registry_holds(nats_server.url, system, "victim")
            proc.kill()
            released = await logs.wait_for(
                "names of a down node released", node="victim-node", timeout=SILENCE + WAIT
            )
        assert released["names"] == 1
        assert not await registry_holds(nats_server.url, system, "victim")


async def test_a_node_started_after_a_holder_died_finds_its_names_free(
    nats_server: NatsServer, logs: LogEvents
) -> None:
    """Nobody saw the holder die: the newcomer asks the holder's node whether it is
    there, hears "no responders", and releases the name."""
    system = unique_system()
    async with NodeProcess(nats_server.url, system, "victim-node") as proc:
        assert await registry_holds(nats_server.url, system, "victim")
        proc.kill()
        assert proc.proc is not None
        await proc.proc.wait()
    async with ActorSystem(system, transport=node(nats_server.url, "n1")) as a:
        assert await a.lookup("victim") is None
        await logs.wait_for("node gone: no responders on its control subject", node="victim-node")
        assert not await registry_holds(nats_server.url, system, "victim")
        mine = await a.spawn(Echo, name="victim")
        assert await a.lookup("victim") == mine


async def test_a_name_held_by_a_dead_node_nobody_saw_die_can_be_taken(
    nats_server: NatsServer,
) -> None:
    system = unique_system()
    async with NodeProcess(nats_server.url, system, "victim-node") as proc:
        proc.kill()
        assert proc.proc is not None
        await proc.proc.wait()
    async with ActorSystem(system, transport=node(nats_server.url, "n1")) as a:
        mine = await a.spawn(Echo, name="victim")  # no lookup first: register takes over
        assert await a.lookup("victim") == mine


async def test_a_name_held_by_a_live_node_not_heard_from_yet_is_refused(
    nats_server: NatsServer,
) -> None:
    system = unique_system()
    async with (
        NodeProcess(nats_server.url, system, "holder-node", heartbeat=30.0),
        ActorSystem(system, transport=node(nats_server.url, "n1")) as a,
    ):
        with pytest.raises(ActorCrashed, match=r"already registered .* on node `holder-node`"):
            await a.spawn(Echo, name="victim")
        ref = await a.lookup("victim")
        assert isinstance(ref, RemoteRef) and ref.node == "holder-node"
        assert await ref.ask(Ping(1), timeout=WAIT) == Pong(2)


async def test_node_answer_int_beyond_msgpack_range_fails_asker_node_keeps_serving(
    nats_server: NatsServer,
) -> None:
    """The answering actor returns ``2**70``: the asker gets ActorCrashed at once (the
    answer cannot be encoded, as for any unencodable answer) and the answering node
    keeps serving. The answering node runs in its own process: in this one, the failure
    it caused (an exception escaping the actor's task) would cancel the test's task."""
    system = unique_system()
    async with (
        ActorSystem(system, transport=node(nats_server.url, "n1")) as a,
        NodeProcess(nats_server.url, system, "answerer"),
    ):
        ref = await a.lookup("victim")
        assert ref is not None
        with pytest.raises(ActorCrashed, match=r"^answer of type `int` cannot be encoded"):
            await bounded(ref.ask(Big(), timeout=1.0), timeout=2.0)
        assert await ref.ask(Ping(1), timeout=2.0) == Pong(2)


# ---------------------------------------------------------------------- hostile input


async def test_node_message_with_sender_node_but_no_sender_path_accounted(
    nats_server_shared: NatsServer,
) -> None:
    """A tell whose headers name a sender node but no sender path: delivered (without a
    sender) or a dead letter, never silently lost in the subscription callback."""
    system = unique_system()
    async with (
        raw_client(nats_server_shared.url) as nc,
        ActorSystem(system, transport=node(nats_server_shared.url, "n1")) as a,
    ):
        inbox = Inbox()
        echo = await a.spawn(Echo, inbox, name="echo")
        subject = actor_subject(system, "n1", echo.path)
        before = a.metrics().dead_letters
        await nc.publish(subject, frame_of(Ping(1), sender_node="elsewhere"))
        barrier = await nc.request(subject, frame_of(Ping(2)), timeout=WAIT)
        assert read_frame(barrier.data) == {"n": 3}
        delivered = [s.message for s in inbox.items]
        lost = delivered == [Ping(2)] and a.metrics().dead_letters == before
        assert not lost, f"lost: counters={a.transport.counters}"


async def test_node_deeply_nested_payload_ask_answered_with_codec_error(
    nats_server_shared: NatsServer,
) -> None:
    system = unique_system()
    async with (
        raw_client(nats_server_shared.url) as nc,
        ActorSystem(system, transport=node(nats_server_shared.url, "n1")) as a,
    ):
        echo = await a.spawn(Echo, name="echo")
        subject = actor_subject(system, "n1", echo.path)
        payload = b"\x81\xa4data" + b"\x91" * 100_000 + b"\xc0"
        reply = await nc.request(subject, framed(type_name(Blob), payload), timeout=1.0)
        assert parse(reply.data)[:2] == (b"undecodable", ERROR)
        assert a.transport.counters["undecodable"] == 1


def _is_error(reply: Msg) -> bool:
    """An error answer: an error frame, or the refusal of another version's frame."""
    if reply.headers and "Actor-Error" in reply.headers:
        return True
    return bool(parse(reply.data)[1] & ERROR)


# Text for the frame's fields (printable ASCII, as a header could carry before).
_header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=24)
_plain = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def _mutated(draw: st.DrawFn, payload: bytes) -> bytes:
    how = draw(st.sampled_from(["same", "same", "truncate", "flip", "append"]))
    if how == "same" or not payload:
        return payload
    at = draw(st.integers(0, len(payload) - 1))
    if how == "truncate":
        return payload[:at]
    if how == "flip":
        return payload[:at] + bytes([draw(st.integers(0, 255))]) + payload[at + 1 :]
    return payload + draw(st.binary(min_size=1, max_size=4))


@st.composite
def _fuzzed(draw: st.DrawFn) -> tuple[str, bytes, dict[str, str], bool]:
    """One hostile message: (path suffix, "" for the echo actor itself; frame; headers;
    sent as an ask?). Often a valid message with odd fields, often garbage, sometimes
    no frame of ours at all (another version, the header format of before)."""
    kind = draw(st.sampled_from(["ping", "note", "random"]))
    headers: dict[str, str] = {}
    name = ""
    if kind == "ping":
        name = type_name(Ping)
        n = draw(st.integers(-(2**63), 2**63 - 1))
        payload = draw(_mutated(msgspec.msgpack.encode(Ping(n))))
    elif kind == "note":
        name = type_name(Note)
        payload = draw(_mutated(msgspec.msgpack.encode(Note(draw(st.text(max_size=16))))))
    else:
        if draw(st.booleans()):
            names = [type_name(Ping), type_name(Note), type_name(Blob), "", "nowhere:Thing"]
            name = draw(st.one_of(st.sampled_from(names), _header_text))
        payload = draw(st.one_of(st.binary(max_size=64), _plain.map(msgspec.msgpack.encode)))
    extras: dict[str, str] = {}
    if draw(st.booleans()):
        extras["sender_node"] = draw(_header_text.filter(str.strip))
        if draw(st.booleans()):
            extras["sender_path"] = draw(_header_text)
    if draw(st.booleans()):
        headers[draw(st.from_regex(r"\AX-[A-Za-z0-9]{1,8}\Z"))] = draw(_header_text)
    how = draw(st.sampled_from(["frame", "frame", "frame", "mutated", "other-version", "headers"]))
    data = framed(name, payload, **extras)
    if how == "mutated":
        data = draw(_mutated(data))
    elif how == "other-version":
        data = bytes([draw(st.integers(0, 255).filter(lambda v: v != 1))]) + data[1:]
    elif how == "headers":
        data, headers = payload, {**headers, "Actor-Type": name or "x:Y"}
    suffix = draw(st.one_of(st.just(""), st.just(""), st.from_regex(r"\A[a-z0-9]{1,8}\Z")))
    return suffix, data, headers, draw(st.booleans())


@settings(
    max_examples=15,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(_fuzzed(), min_size=1, max_size=12))
async def test_node_fuzzed_bytes_on_actor_subject_keeps_serving_and_counts(
    nats_server_shared: NatsServer, batch: list[tuple[str, bytes, dict[str, str], bool]]
) -> None:
    """Hostile messages published by a raw client on a node's actor subjects: every ask
    is answered (a value or an error, never silence), every tell is either delivered or
    counted as a dead letter, and the node serves a normal ask from another node after."""
    url = nats_server_shared.url
    system = f"fuzz{uuid.uuid4().hex[:8]}"
    async with raw_client(url) as nc, two_nodes(url, system=system) as (a, b):
        inbox = Inbox()
        echo = await a.spawn(Echo, inbox, name="echo")
        base = actor_subject(system, "n1", echo.path)
        dead_before = a.metrics().dead_letters
        tells = error_answers = 0
        for suffix, payload, headers, ask in batch:
            subject = f"{base}.{suffix}" if suffix else base
            if ask:  # nc.request raises TimeoutError if the node stays silent
                reply = await nc.request(subject, payload, timeout=2.0, headers=headers or None)
                if _is_error(reply):
                    error_answers += 1
            else:
                tells += 1
                await nc.publish(subject, payload, headers=headers or None)
        # A barrier on the same connection and subscription: every tell was handled.
        reply = await nc.request(base, frame_of(Ping(0)))
        assert read_frame(reply.data) == {"n": 1}
        await echo.ask(Note("flush"), timeout=WAIT)  # and the actor received what was queued
        delivered_tells = sum(1 for s in inbox.items if not isinstance(s.sender, Reply))
        dead = a.metrics().dead_letters - dead_before
        # Every rejected ask is one dead letter and one error answer; the rest are tells.
        assert (delivered_tells, dead - error_answers) == (
            delivered_tells,
            tells - delivered_tells,
        ), f"tells={tells} delivered={delivered_tells} dead={dead} errors={error_answers} " + (
            f"counters={a.transport.counters}"
        )
        ref = await b.lookup("echo")
        assert ref is not None
        assert await ref.ask(Ping(41), timeout=WAIT) == Pong(42)
