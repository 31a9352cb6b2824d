"""``ActorSystem(tracing=...)`` across two nodes on a real nats-server: one trace, its
spans parented across the wire by the ``traceparent`` header, each span naming its node.

Each node has its own ``TracerProvider`` and exporter, as two processes would: the only
thing joining their spans is the trace context the messages carry.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import msgspec
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import actors
from actors import Actor, ActorRef, ActorSystem
from tests.transport.nats_support import WAIT, node, unique_system


class Order(msgspec.Struct, frozen=True):
    item: str


class Audit(msgspec.Struct, frozen=True):
    item: str


class Reserve(msgspec.Struct, frozen=True):
    item: str


class Entry(msgspec.Struct, frozen=True):
    item: str


TYPES = [Order, Audit, Reserve, Entry]


class Front(Actor):
    """On node a: tells the remote stock an ``Audit``, then asks it to ``Reserve``."""

    def __init__(self, stock: ActorRef) -> None:
        self.stock = stock

    async def receive(self, message: Order) -> str:
        self.stock.tell(Audit(message.item))
        answer: str = await self.stock.ask(Reserve(message.item), timeout=WAIT)
        return answer


class Stock(Actor):
    """On node b: files a ``Reserve`` with the local ledger (a tell) and answers."""

    def __init__(self, ledger: ActorRef) -> None:
        self.ledger = ledger

    async def receive(self, message: Audit | Reserve) -> str | None:
        if isinstance(message, Reserve):
            self.ledger.tell(Entry(message.item))
            return f"reserved {message.item}"
        return None


class Ledger(Actor):
    async def receive(self, message: Entry) -> None:
        pass


ACTORS = {"Front", "Stock", "Ledger"}


class Exporter(InMemorySpanExporter):
    """The in-memory exporter, plus ``until(n)``: wait (no polling) until n spans of the
    test's own actors are finished. The spans of the runtime's actors (the event bus
    handling a ``MemberUp`` as the other node joins, in a trace of its own) are not
    counted: when they come depends on heartbeats."""

    def __init__(self) -> None:
        super().__init__()
        self.waiters: list[tuple[int, asyncio.Future[None]]] = []

    def ours(self) -> list[ReadableSpan]:
        return [span for span in self.get_finished_spans() if span.name.split()[0] in ACTORS]

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = super().export(spans)
        count = len(self.ours())
        for wanted, waiter in self.waiters:
            if count >= wanted and not waiter.done():
                waiter.set_result(None)
        return result

    async def until(self, count: int) -> list[ReadableSpan]:
        if len(self.ours()) < count:
            waiter = asyncio.get_running_loop().create_future()
            self.waiters.append((count, waiter))
            await asyncio.wait_for(waiter, WAIT)
        return self.ours()


def provider(exporter: Exporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def attributes(span: ReadableSpan) -> dict[str, Any]:
    assert span.attributes is not None
    return dict(span.attributes)


async def test_one_trace_crosses_two_nodes_parented_over_the_wire(url: str) -> None:
    on_a, on_b = Exporter(), Exporter()
    name = unique_system()
    async with (
        ActorSystem(name, transport=node(url, "n1", TYPES), tracing=provider(on_a)) as a,
        ActorSystem(name, transport=node(url, "n2", TYPES), tracing=provider(on_b)) as b,
    ):
        ledger = await b.spawn(Ledger, name="ledger")
        await b.spawn(Stock, ledger, name="stock")
        stock = await a.lookup("stock")
        assert stock is not None
        front = await a.spawn(Front, stock, name="front")
        with actors.trace() as request:
            assert await front.ask(Order("book"), timeout=WAIT) == "reserved book"
        (front_span,) = await on_a.until(1)
        spans_b = {span.name: span for span in await on_b.until(3)}
    audit, reserve, entry = (
        spans_b["Stock Audit"],
        spans_b["Stock Reserve"],
        spans_b["Ledger Entry"],
    )
    every = (front_span, audit, reserve, entry)
    assert len(on_a.ours()) == 1 and len(on_b.ours()) == 3  # no span twice, none missing
    # One trace: the caller's, on both nodes.
    trace_ids = {f"{span.context.trace_id:032x}" if span.context else None for span in every}
    assert trace_ids == {request.trace_id}
    # Who parents whom: the caller's context, then Front's span across the wire (a tell
    # and an ask), then Stock's span handling Reserve on node b (a local tell).
    assert front_span.parent is not None and f"{front_span.parent.span_id:016x}" == request.span_id
    assert front_span.context is not None and reserve.context is not None
    for remote in (audit, reserve):
        assert remote.parent is not None and remote.parent.is_remote
        assert remote.parent.span_id == front_span.context.span_id
    assert entry.parent is not None and entry.parent.span_id == reserve.context.span_id
    # Each span names the node that handled the message, and the actor's path there.
    assert attributes(front_span)["actors.node"] == "n1"
    assert attributes(front_span)["actors.path"] == f"{name}/front"
    assert [attributes(span)["actors.node"] for span in (audit, reserve, entry)] == ["n2"] * 3
    assert attributes(entry)["actors.path"] == f"{name}/ledger"
    assert {attributes(span)["actors.outcome"] for span in every} == {"ok"}
