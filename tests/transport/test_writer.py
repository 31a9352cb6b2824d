"""The writer's hand-over of a batch to the NATS client (``Writer._hand_over``), on a
stand-in client that records what reaches its pending buffer: PUB commands exactly as
nats-py writes them, the queue's order kept across messages that must go through
``publish`` (headers, over the payload limit, a subject nats-py refuses), and nothing
handed over to a client that is not connected."""

from __future__ import annotations

import asyncio
from typing import Any

import nats.errors
from actors.transport import _wire
from nats.protocol.command import hpub_cmd, pub_cmd


class FakeClient:
    """What the writer uses of nats-py's ``Client``; ``publish`` writes, as nats-py
    does, into the same pending buffer the hand-over fills."""

    def __init__(self, connected: bool = True) -> None:
        self.is_connected = connected
        self.max_payload = 64
        self._pending: list[bytes] = []
        self._pending_data_size = 0
        self.stats = {"out_msgs": 0, "out_bytes": 0}
        self.published: list[str] = []

    async def publish(
        self, subject: str, payload: bytes, reply: str = "", headers: Any = None
    ) -> None:
        self.published.append(subject)
        if " " in subject + reply or len(payload) > self.max_payload:
            raise nats.errors.BadSubjectError
        command = (
            pub_cmd(subject, reply, payload)
            if headers is None
            else hpub_cmd(subject, reply, b"NATS/1.0\r\n\r\n", payload)
        )
        self._pending.append(command)
        self._pending_data_size += len(command)
        self.stats["out_msgs"] += 1
        self.stats["out_bytes"] += len(payload)


class FakeMessaging:
    def __init__(self) -> None:
        self.failed: list[str] = []

    def publish_failed(self, subject: str, reply: str, about: Any, exc: Exception) -> None:
        self.failed.append(subject)


class FakeNode:
    def __init__(self) -> None:
        self.messaging = FakeMessaging()


async def _drain(client: FakeClient, items: list[tuple[Any, ...]]) -> FakeNode:
    node = FakeNode()
    writer = _wire.Writer(node, client, "r.")  # type: ignore[arg-type]
    for item in items:
        writer.publish(*item)
    writer.close()
    await asyncio.wait_for(writer.run(), 5)
    return node


async def test_a_batch_reaches_the_buffer_as_nats_py_would_write_it() -> None:
    client = FakeClient()
    items = [("a.b", b"x" * n, "", None, None) for n in range(5)] + [
        ("a.c", b"q", "r.t1", None, None)
    ]
    items.insert(3, ("a.d", b"ask", "r.tok", None, None))
    await _drain(client, items)
    assert client._pending == [pub_cmd(s, r, p) for s, p, r, _, _ in items]
    assert client.published == ["a.c"]  # only the last went through publish
    assert client._pending_data_size == sum(map(len, client._pending))
    assert client.stats == {
        "out_msgs": len(items),
        "out_bytes": sum(len(p) for _, p, _, _, _ in items),
    }


async def test_messages_that_must_go_through_publish_keep_the_order() -> None:
    client = FakeClient()
    items = [
        ("s.1", b"1", "", None, None),
        ("s.2", b"2", "", {"K": "v"}, None),  # headers
        ("s.3", b"3", "", None, None),
        ("s.4", b"4" * 65, "", None, None),  # over the payload limit: refused by publish
        ("s.5", b"5", "", None, None),
        ("s 6", b"6", "", None, None),  # a subject nats-py refuses
        ("s.7", b"7", "", None, None),
        ("s.8", b"8", "r 8", None, None),  # so is this reply subject
        ("s.9", b"9", "", None, None),
    ]
    node = await _drain(client, items)
    assert node.messaging.failed == ["s.4", "s 6", "s.8"]
    sent = [command.split(b" ", 2)[1].decode() for command in client._pending]
    assert sent == ["s.1", "s.2", "s.3", "s.5", "s.7", "s.9"]
    assert client.published == ["s.2", "s.4", "s 6", "s.8", "s.9"]


async def test_nothing_is_handed_to_a_client_that_is_not_connected() -> None:
    client = FakeClient(connected=False)
    items = [("a.b", bytes([n]), "", None, None) for n in range(4)]
    await _drain(client, items)
    assert client.published == ["a.b"] * 4
