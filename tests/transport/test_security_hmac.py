"""The signed control plane (``NatsTransport(secret=...)``), attacked from a bare nats-py
client on the same server: forged goodbyes, forged ``Down`` notices, unsigned, badly
signed, stale and replayed control messages are dropped and counted (``forged``),
never acted on; signed ones from the nodes keep working (issue 12, observation 4)."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections.abc import AsyncIterator

import msgspec
import pytest
from actors.transport import RefAddress
from actors.transport._wire import Down
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from actors import ActorRef, ActorSystem, Terminated
from tests.transport.nats_support import (
    PREFIX,
    WAIT,
    Echo,
    Inbox,
    LogEvents,
    Watcher,
    ghost_ref,
    raw_client,
    server_caught_up,
    two_nodes,
)

SECRET = b"a shared secret of the cluster, 32b"
WINDOW = 30.0


@pytest.fixture
async def nc(url: str) -> AsyncIterator[Client]:
    async with raw_client(url) as client:
        yield client


def forged(system: ActorSystem) -> float:
    return system.transport.metrics()["forged_total"]


async def watching(
    a: ActorSystem, b: ActorSystem, nc: Client
) -> tuple[ActorRef, ActorRef, Inbox, ActorRef]:
    """An ``echo`` on ``a`` (node n1, its local ref then ``b``'s) watched by a
    ``Watcher`` on ``b`` (returned last): returns once the watch notice is on the wire
    (``b`` records its watch before sending it)."""
    sub = await nc.subscribe(f"{PREFIX}.{a.name}.ctl.n1")
    await server_caught_up(nc)
    echo = await a.spawn(Echo, name="echo")
    ref = await b.lookup("echo")
    assert ref is not None
    inbox = Inbox()
    watcher = await b.spawn(Watcher, ref, inbox)
    await sub.next_msg(timeout=WAIT)
    await sub.unsubscribe()
    # Signed watch notices reach n1 in order: once the one for an actor that does not
    # exist is answered, the one for echo was handled.
    barrier = Inbox()
    ghost = ghost_ref(b, "n1", "nobody")
    await b.spawn(Watcher, ghost, barrier)
    assert await barrier.first() == Terminated(ghost, "noproc")
    return echo, ref, inbox, watcher


def seal(subject: str, payload: bytes, headers: dict[str, str], stamp_ms: int) -> str:
    """The documented seal (docs/security.md), computed independently of the transport."""
    nonce = uuid.uuid4().hex
    signed = msgspec.msgpack.encode(
        (subject, str(stamp_ms), nonce, sorted(headers.items()), payload)
    )
    mac = hmac.new(SECRET, signed, hashlib.sha256).hexdigest()
    return f"{stamp_ms}:{nonce}:{mac}"


async def next_dropped(logs: LogEvents, after: int, subject: str) -> str:
    event = await logs.wait_for("control message dropped", after=after, subject=subject)
    reason: str = event["reason"]
    return reason


async def test_forged_goodbye_is_dropped_and_counted_watcher_keeps_watching(
    url: str, nc: Client, logs: LogEvents
) -> None:
    async with two_nodes(url, secret=SECRET) as (a, b):
        echo, ref, inbox, _ = await watching(a, b, nc)
        mark = logs.mark()
        subject = f"{PREFIX}.{a.name}.hb.n1"
        await nc.publish(subject, b"", headers={"Bye": "1"})
        assert await next_dropped(logs, mark, subject) == "unsigned"
        assert forged(b) >= 1
        assert inbox.items == []
        assert b.transport.node.node_alive("n1")
        await a.stop(echo)  # the real, signed Down still arrives
        assert await inbox.first() == Terminated(ref, "shutdown")


async def test_forged_down_is_dropped_and_counted_watcher_gets_the_real_one(
    url: str, nc: Client, logs: LogEvents
) -> None:
    async with two_nodes(url, secret=SECRET) as (a, b):
        echo, ref, inbox, watcher = await watching(a, b, nc)
        down = Down(RefAddress(a.name, "n1", ref.path), watcher.path, "forged")
        subject = f"{PREFIX}.{b.name}.ctl.n2"
        mark = logs.mark()
        await nc.publish(subject, msgspec.msgpack.encode(down))
        assert await next_dropped(logs, mark, subject) == "unsigned"
        assert forged(b) == 1
        assert inbox.items == []
        await a.stop(echo)  # the real, signed Down is accepted
        assert await inbox.first() == Terminated(ref, "shutdown")
        assert inbox.items == [Terminated(ref, "shutdown")]


async def test_badly_signed_stale_and_replayed_heartbeats_are_dropped(
    url: str, nc: Client, logs: LogEvents
) -> None:
    async with two_nodes(url, secret=SECRET) as (a, b):
        subject = f"{PREFIX}.{a.name}.hb.n1"
        captured: list[Msg] = []
        sub: Subscription = await nc.subscribe(subject)
        await server_caught_up(nc)
        captured.append(await sub.next_msg(timeout=WAIT * 2))  # a real, signed heartbeat
        await sub.unsubscribe()
        before = forged(b)

        mark = logs.mark()
        bad = seal(subject, b"", {}, time.time_ns() // 1_000_000).rsplit(":", 1)[0] + ":00"
        await nc.publish(subject, b"", headers={"Actor-Seal": bad})
        assert await next_dropped(logs, mark, subject) == "bad signature"

        mark = logs.mark()
        stale_ms = time.time_ns() // 1_000_000 - int(2 * WINDOW * 1000)
        await nc.publish(subject, b"", headers={"Actor-Seal": seal(subject, b"", {}, stale_ms)})
        assert await next_dropped(logs, mark, subject) == "outside the replay window"

        mark = logs.mark()
        await nc.publish(subject, b"", headers=captured[0].headers)
        assert await next_dropped(logs, mark, subject) == "replayed"

        mark = logs.mark()
        wrong_subject = f"{PREFIX}.{a.name}.hb.n3"  # n1's heartbeat, replayed as n3's
        await nc.publish(wrong_subject, b"", headers=captured[0].headers)
        # Both nodes check n3's heartbeat (n1's own subject only b): wait for both verdicts.
        assert await next_dropped(logs, mark, wrong_subject) == "bad signature"
        first = next(
            i
            for i, entry in enumerate(logs.entries[mark:], mark)
            if entry.get("event") == "control message dropped"
            and entry.get("subject") == wrong_subject
        )
        assert await next_dropped(logs, first + 1, wrong_subject) == "bad signature"
        assert "n3" not in b.transport.node.liveness.peers
        assert "n3" not in a.transport.node.liveness.peers
        assert forged(b) >= before + 4


async def test_a_message_signed_as_documented_is_accepted(
    url: str, nc: Client, logs: LogEvents
) -> None:
    """The documented format is the one the nodes check: a heartbeat sealed by hand
    makes an unknown node ``n3`` a peer (and its signed goodbye removes it)."""
    async with two_nodes(url, secret=SECRET) as (a, b):
        subject = f"{PREFIX}.{a.name}.hb.n3"
        now_ms = time.time_ns() // 1_000_000
        await nc.publish(subject, b"", headers={"Actor-Seal": seal(subject, b"", {}, now_ms)})
        mark = logs.mark()
        bye = seal(subject, b"", {"Bye": "1"}, now_ms + 1)
        await nc.publish(subject, b"", headers={"Bye": "1", "Actor-Seal": bye})
        await logs.wait_for("node left", after=mark, node="n3")
        assert any(s.transport.node.liveness.is_down("n3") for s in (a, b))
        assert forged(a) == forged(b) == 0


async def test_signed_goodbye_of_a_closing_node_still_gives_nodedown(url: str, nc: Client) -> None:
    async with two_nodes(url, secret=SECRET) as (a, b):
        _, ref, inbox, _ = await watching(a, b, nc)
        await a.transport.close()
        assert await inbox.first() == Terminated(ref, "nodedown")
        assert forged(b) == 0


async def test_without_secret_control_messages_are_unsigned_and_accepted(
    url: str, nc: Client
) -> None:
    """The documented risk of running without ``secret``: a forged goodbye works."""
    async with two_nodes(url) as (a, b):
        _, ref, inbox, _ = await watching(a, b, nc)
        await nc.publish(f"{PREFIX}.{a.name}.hb.n1", b"", headers={"Bye": "1"})
        assert await inbox.first() == Terminated(ref, "nodedown")
        assert forged(b) == 0


@pytest.mark.parametrize(
    ("secret", "error"),
    [
        (b"short", ValueError),
        ("", ValueError),
        (12345, TypeError),
    ],
)
def test_bad_secret_refused_with_the_rule(secret: object, error: type[Exception]) -> None:
    from actors.transport import NatsTransport

    with pytest.raises(error, match="secret"):
        NatsTransport(secret=secret)  # type: ignore[arg-type]


def test_bad_replay_window_refused() -> None:
    from actors.transport import NatsTransport

    with pytest.raises(ValueError, match="replay_window"):
        NatsTransport(secret=SECRET, replay_window=0)
