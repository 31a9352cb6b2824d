"""How the library logs, and the set-up programs opt into.

The library is a guest in its application's process: it logs through standard
``logging`` loggers named under ``actors.`` (``actors.cell``, ``actors.supervision``,
``actors.transport``...), never configures structlog or ``logging`` on import, and
writes nothing to stdout. What reaches a terminal or a file is the application's
choice: with no configuration at all, only ``logging``'s last-resort handler speaks
(WARNING and above, on stderr).

``get_logger`` gives the library's modules a structlog logger over that ``logging``
logger. Until the application configures structlog, its records go straight to
``logging``: the message reads ``event key=value...`` for plain formatters, and the
record is shaped like structlog's own (``ProcessorFormatter.wrap_for_formatter``), so a
``structlog.stdlib.ProcessorFormatter`` renders its fields as structured data. Once the
application has configured structlog, the library's loggers follow that configuration
(``structlog.get_logger("actors.…")``), like the application's own.

``configure_logging`` is the set-up for programs: the ``actors`` command and
``actors.run(main(), configure_logging=True)`` call it.

structlog itself is imported on first use, not with ``actors``: importing the runtime
stays cheap (see ``tests/unit/test_imports.py``).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any, Literal, TextIO, cast

from ._trace import add_actor_context

if TYPE_CHECKING:
    import structlog

__all__ = ["LogFormat", "configure_logging", "get_logger"]

LogFormat = Literal["auto", "console", "json"]


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """The library's logger ``name`` (under ``actors.``): created now, structlog
    imported at its first call."""
    return cast("structlog.stdlib.BoundLogger", _LibraryLogger(name))


class _LibraryLogger:
    """A module-level logger that costs nothing until used: the first call imports
    structlog. Each call picks the application's structlog configuration when there is
    one (it may come after this module was imported), else the plain ``logging`` path."""

    __slots__ = ("_configured", "_name", "_plain")

    def __init__(self, name: str) -> None:
        self._name = name
        self._plain: Any = None
        self._configured: Any = None

    def __getattr__(self, method: str) -> Any:
        import structlog

        if structlog.is_configured():
            if self._configured is None:
                self._configured = structlog.get_logger(self._name)
            return getattr(self._configured, method)
        if self._plain is None:
            self._plain = structlog.stdlib.BoundLogger(
                logging.getLogger(self._name),
                [structlog.stdlib.filter_by_level, add_actor_context, _to_logging],
                {},
            )
        return getattr(self._plain, method)


class _Event(dict[str, Any]):
    """A structlog event dict that a plain ``logging.Formatter`` prints as
    ``event key=value ...`` (``str()`` of the record's message)."""

    def __str__(self) -> str:
        fields = " ".join(f"{k}={v!r}" for k, v in self.items() if k not in _NOT_SHOWN)
        return f"{self.get('event', '')} {fields}".rstrip()


_NOT_SHOWN = frozenset({"event", "exc_info", "stack_info"})


def _to_logging(
    logger: logging.Logger, method_name: str, event_dict: MutableMapping[str, Any]
) -> tuple[tuple[_Event], dict[str, Any]]:
    """The last processor of the plain path: the arguments of ``logger.<method>()``.

    ``exc_info`` goes to ``logging`` as an exception tuple (plain formatters print the
    traceback) and stays in the event for a ``ProcessorFormatter``; ``_logger`` and
    ``_name`` are what ``ProcessorFormatter`` recognises structlog records by.
    """
    event = _Event(event_dict)
    exc_info = _exc_info(event.get("exc_info"))
    if exc_info is not None:
        event["exc_info"] = exc_info
    return (event,), {"exc_info": exc_info, "extra": {"_logger": logger, "_name": method_name}}


def _exc_info(value: object) -> Any:
    """structlog's ``exc_info`` values (True, an exception, a tuple) as a tuple or None."""
    if isinstance(value, BaseException):
        return (type(value), value, value.__traceback__)
    if value is True:
        info = sys.exc_info()
        return info if info[0] is not None else None
    if isinstance(value, tuple):
        return value
    return None


def configure_logging(fmt: LogFormat = "auto", level: int = logging.INFO) -> None:
    """Render every log line of the process on stderr: the library's, the
    application's structlog loggers' and plain ``logging``'s.

    ``fmt="auto"``: human-readable lines when stderr is a terminal, one JSON object per
    line otherwise (a file, a pipe, a log collector); colours only on a terminal. Lines
    carry the level, the logger's name, a timestamp and, from inside an actor, its
    system, path, message type and trace id (``add_actor_context``). Calling it again
    replaces the handler it installed.
    """
    import structlog

    stream = sys.stderr
    if fmt == "auto":
        fmt = "console" if stream.isatty() else "json"
    shared: list[structlog.types.Processor] = [
        add_actor_context,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso"),
    ]
    rendering: list[structlog.types.Processor] = [
        structlog.stdlib.ProcessorFormatter.remove_processors_meta
    ]
    if fmt == "console":
        rendering.append(structlog.dev.ConsoleRenderer(colors=stream.isatty()))
    else:
        rendering += [
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            ),
            structlog.processors.JSONRenderer(),
        ]
    handler = _Handler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=rendering, foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared]
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


class _Handler(logging.StreamHandler[TextIO]):
    """The handler ``configure_logging`` installs (so a second call finds it)."""
