"""Trace context: which request a message belongs to, carried with every message.

The runtime *propagates* W3C trace context (https://www.w3.org/TR/trace-context/); it
does not record spans. A message sent while a trace is current carries it: the actor
handling the message sees it as ``current_trace()``, anything that actor sends carries it
on, and the NATS transport puts it in a ``traceparent`` header, so the trace id a web
request started with shows up in the log lines of every actor, on every node, that worked
on it. A tracer (OpenTelemetry, say) can start its spans from ``current_trace()``.

Where the current trace lives: inside an actor, on its cell (set per message, an
attribute store, so the hot path pays nothing for a context variable); outside any actor,
in a context variable that only ``trace()`` sets. Until ``trace()`` is first used, a
``tell`` from outside an actor does not even read that variable.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, MutableMapping
from typing import Any

import msgspec

from ._ref import current_cell, outside_trace, tracing

__all__ = ["TraceContext", "add_actor_context", "current_trace", "trace"]

_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
_ZERO_TRACE, _ZERO_SPAN = "0" * 32, "0" * 16


class TraceContext(msgspec.Struct, frozen=True):
    """A W3C trace context: ``trace_id`` (32 hex digits) names the whole request,
    ``span_id`` (16 hex digits) the operation that sent the message."""

    trace_id: str
    span_id: str
    sampled: bool = True

    @classmethod
    def new(cls) -> TraceContext:
        """A fresh trace (random ids, as W3C asks; not for security)."""
        import random  # on first use: `import actors` stays lean

        return cls(f"{random.getrandbits(128) or 1:032x}", f"{random.getrandbits(64) or 1:016x}")

    @classmethod
    def from_traceparent(cls, header: str) -> TraceContext:
        """Parse a ``traceparent`` header; ValueError saying what is wrong if it is not
        one (a version this parser does not know is read as version 00, as W3C says)."""
        match = _TRACEPARENT.fullmatch(header.strip())
        if match is None:
            raise ValueError(
                f"not a traceparent header (want `00-<32 hex>-<16 hex>-<2 hex>`): {header!r}"
            )
        version, trace_id, span_id, flags, rest = match.groups()
        if version == "ff" or (version == "00" and rest):
            raise ValueError(f"traceparent version {version!r} is invalid here: {header!r}")
        if trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
            raise ValueError(f"traceparent with an all-zero id: {header!r}")
        return cls(trace_id, span_id, sampled=bool(int(flags, 16) & 1))

    @property
    def traceparent(self) -> str:
        """The ``traceparent`` header value."""
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"


def current_trace() -> TraceContext | None:
    """The trace context of the message being handled (inside an actor), or the one a
    surrounding ``trace()`` block set (outside); None when there is none."""
    cell = current_cell.get()
    context: TraceContext | None = outside_trace.get() if cell is None else cell.trace
    return context


@contextlib.contextmanager
def trace(parent: TraceContext | str | None = None) -> Iterator[TraceContext]:
    """Make messages sent inside the block carry a trace context::

        with actors.trace(request.headers.get("traceparent")) as ctx:
            orders.tell(PlaceOrder(...))   # and everything the orders actor sends on

    ``parent``: a ``TraceContext``, a ``traceparent`` header value (ValueError if it is
    malformed), or None for a new trace (an empty header counts as none).
    """
    if isinstance(parent, TraceContext):
        context = parent
    elif parent:
        context = TraceContext.from_traceparent(parent)
    else:
        context = TraceContext.new()
    tracing.active = True
    cell = current_cell.get()
    token = outside_trace.set(context)
    before = None
    if cell is not None:
        before, cell.trace = cell.trace, context
    try:
        yield context
    finally:
        outside_trace.reset(token)
        if cell is not None:
            cell.trace = before


def add_actor_context(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A structlog processor: adds ``system``, ``actor`` (its path), ``message_type``
    and ``trace_id`` to every log line written while an actor handles a message
    (``trace_id`` alone inside a ``trace()`` block outside actors).
    The CLI (``actors run``) installs it; add it to your own structlog set-up."""
    cell = current_cell.get()
    if cell is not None:
        event_dict.setdefault("system", cell.system.name)
        event_dict.setdefault("actor", cell.path)
        if cell.message is not None:
            event_dict.setdefault("message_type", type(cell.message).__name__)
        context = cell.trace
    else:
        context = outside_trace.get()
    if context is not None:
        event_dict.setdefault("trace_id", context.trace_id)
    return event_dict
