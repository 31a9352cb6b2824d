"""``ActorSystem(tracing=...)``: a span per handled message, parented by the message's
W3C trace context, so one trace crosses actors (checked with the SDK's in-memory
exporter)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import actors
from actors import Actor, ActorRef, ActorSystem


class Order(msgspec.Struct, frozen=True):
    item: str


class Reserve(msgspec.Struct, frozen=True):
    item: str


class Front(Actor):
    def __init__(self, stock: ActorRef) -> None:
        self.stock = stock

    async def receive(self, message: Any) -> Any:
        return await self.stock.ask(Reserve(message.item))


class Stock(Actor):
    async def receive(self, message: Any) -> Any:
        if message.item == "nothing":
            raise LookupError("no such item")
        return f"reserved {message.item}"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def by_name(spans: tuple[ReadableSpan, ...]) -> dict[str, ReadableSpan]:
    return {span.name: span for span in spans}


async def test_a_trace_crosses_two_actors_one_span_per_message(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    async with ActorSystem("shop", tracing=provider) as system:
        stock = await system.spawn(Stock, name="stock")
        front = await system.spawn(Front, stock, name="front")
        with actors.trace() as request:
            assert await front.ask(Order("book")) == "reserved book"
    spans = by_name(exporter.get_finished_spans())
    front_span, stock_span = spans["Front Order"], spans["Stock Reserve"]
    for span in (front_span, stock_span):
        assert span.context is not None
        assert f"{span.context.trace_id:032x}" == request.trace_id
        assert span.kind is SpanKind.CONSUMER
        assert span.attributes is not None and span.attributes["actors.outcome"] == "ok"
        assert span.attributes["actors.node"] == "shop"
    assert (
        front_span.attributes is not None and front_span.attributes["actors.path"] == "shop/front"
    )
    assert front_span.parent is not None and front_span.parent.is_remote
    assert f"{front_span.parent.span_id:016x}" == request.span_id
    # The message Front sent while handling Order carries Front's span: Stock's parent.
    assert front_span.context is not None and stock_span.parent is not None
    assert stock_span.parent.span_id == front_span.context.span_id


async def test_a_failed_handler_ends_its_span_as_an_error(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    async with ActorSystem("shop", tracing=provider) as system:
        stock = await system.spawn(Stock)
        with pytest.raises(actors.ActorCrashed):
            await stock.ask(Reserve("nothing"))
    (span,) = exporter.get_finished_spans()
    assert span.attributes is not None and span.attributes["actors.outcome"] == "error"
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "LookupError: no such item"
    assert [event.name for event in span.events] == ["exception"]


async def test_a_message_without_trace_starts_one_and_what_it_sends_joins_it(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    async with ActorSystem("shop", tracing=provider) as system:
        stock = await system.spawn(Stock)
        front = await system.spawn(Front, stock)
        await front.ask(Order("pen"))
    spans = by_name(exporter.get_finished_spans())
    root, child = spans["Front Order"], spans["Stock Reserve"]
    assert root.parent is None
    assert root.context is not None and child.context is not None
    assert child.context.trace_id == root.context.trace_id


async def test_no_tracing_records_no_span(exporter: InMemorySpanExporter) -> None:
    async with ActorSystem("shop") as system:
        stock = await system.spawn(Stock)
        await stock.ask(Reserve("book"))
    assert exporter.get_finished_spans() == ()


def test_tracing_refuses_what_is_not_a_tracer_provider() -> None:
    with pytest.raises(TypeError, match=r"tracing must be True .* or a TracerProvider"):
        ActorSystem("shop", tracing="jaeger")


async def test_tracing_true_uses_the_global_provider_and_keeps_the_callers_trace() -> None:
    # No global provider is set in this process: OpenTelemetry's no-op tracer records
    # nothing, and the message's own trace context carries on unchanged.
    seen: list[actors.TraceContext | None] = []

    class Echo(Actor):
        async def receive(self, message: Any) -> None:
            seen.append(actors.current_trace())

    async with ActorSystem("shop", tracing=True) as system:
        echo = await system.spawn(Echo)
        with actors.trace() as request:
            await echo.ask("hello")
    assert seen == [request]
