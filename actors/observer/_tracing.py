"""OpenTelemetry spans, one per handled message (``ActorSystem(tracing=...)``).

The runtime carries W3C trace context with every message (``actors._trace``); this turns
each handled message into a span parented by that context: its name is the actor's class
and the message's type, its attributes the actor's path, the node and the outcome. While
the handler runs, the actor's current trace is the span's own context, so whatever it
sends (locally, or over a transport in the ``traceparent`` header) is parented by this
span: a trace crosses actors and nodes.

Cost: nothing unless enabled. A drain task reads ``system._spans`` once; when it is None
(the default) the per-message path is the plain ``handler(message)`` call. The
``opentelemetry`` packages (the ``[otel]`` extra) are imported only when enabled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._extras import require
from .._trace import TraceContext

if TYPE_CHECKING:
    from .._cell import ActorCell

__all__ = ["Spans", "spans"]

OUTCOME = "actors.outcome"


def spans(tracing: Any) -> Spans:
    """The span recorder for ``ActorSystem(tracing=...)``: True (the global
    ``TracerProvider``) or a ``TracerProvider``; TypeError for anything else."""
    api = require("opentelemetry.trace", "otel", "Tracing (ActorSystem(tracing=...))")
    if tracing is True:
        return Spans(api.get_tracer("actors"), api)
    if not callable(getattr(tracing, "get_tracer", None)):
        raise TypeError(
            "tracing must be True (the global OpenTelemetry TracerProvider) or a "
            f"TracerProvider, got {tracing!r}"
        )
    return Spans(tracing.get_tracer("actors"), api)


class Spans:
    """Records a span around each handled message (see the module docstring)."""

    __slots__ = ("api", "error", "kind", "tracer")

    def __init__(self, tracer: Any, api: Any) -> None:
        self.tracer = tracer
        self.api = api
        self.kind = api.SpanKind.CONSUMER
        self.error = api.StatusCode.ERROR

    def parent(self, context: TraceContext | None) -> Any:
        """The OpenTelemetry context of the message's trace (None: a new trace)."""
        if context is None:
            return None
        api = self.api
        remote = api.SpanContext(
            trace_id=int(context.trace_id, 16),
            span_id=int(context.span_id, 16),
            is_remote=True,
            trace_flags=api.TraceFlags(api.TraceFlags.SAMPLED if context.sampled else 0),
        )
        return api.set_span_in_context(api.NonRecordingSpan(remote))

    async def handle(self, cell: ActorCell, message: Any) -> Any:
        """Run ``cell``'s handler on ``message`` inside a span."""
        system = cell.system
        transport = system._transport
        node = getattr(transport, "node_id", None) or system.name
        span = self.tracer.start_span(
            f"{type(cell.actor).__qualname__} {type(message).__name__}",
            context=self.parent(cell.trace),
            kind=self.kind,
            attributes={"actors.path": cell.path, "actors.node": node},
        )
        own = span.get_span_context()
        before = cell.trace
        if own.is_valid:
            cell.trace = TraceContext(
                f"{own.trace_id:032x}", f"{own.span_id:016x}", sampled=own.trace_flags.sampled
            )
        try:
            result = await cell.handle(message)
        except BaseException as exc:
            failed = isinstance(exc, Exception)
            span.set_attribute(OUTCOME, "error" if failed else "cancelled")
            if failed:
                span.record_exception(exc)
                span.set_status(self.api.Status(self.error, f"{type(exc).__name__}: {exc}"))
            raise
        else:
            span.set_attribute(OUTCOME, "ok")
            return result
        finally:
            cell.trace = before
            span.end()
