"""``actors.run``: run a coroutine on the best available event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from ._signals import until_signalled

__all__ = ["run"]

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory when uvloop is installed, else None (the stock loop)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on POSIX
        return None
    return uvloop.new_event_loop


def run(
    main: Coroutine[Any, Any, T],
    *,
    debug: bool | None = None,
    uvloop: bool = True,
    configure_logging: bool = False,
) -> T:
    """Run ``main`` to completion on a new event loop, uvloop when installed (and
    ``uvloop=True``), and return its result: the ``asyncio.run`` of this runtime.

    SIGTERM and SIGINT shut the program down in order: ``main`` is cancelled, so every
    ``async with ActorSystem`` stops its actors (newest first, ``stopped()`` hooks
    run), then ``run`` raises ``SystemExit(0)``.

    ``configure_logging=True`` is for programs (a library leaves logging to its
    application): every log line of the process, the runtime's and structlog's and
    ``logging``'s, is rendered on stderr at INFO and above, human-readable on a
    terminal and one JSON object per line otherwise (see docs/observability.md).
    """
    if configure_logging:
        from ._logging import configure_logging as set_up

        set_up()
    factory = loop_factory() if uvloop else None
    with asyncio.Runner(debug=debug, loop_factory=factory) as runner:
        return runner.run(until_signalled(main))
