"""SIGTERM and SIGINT as an orderly shutdown, for ``actors.run``.

A signal cancels the program's main task: every ``async with ActorSystem`` it is inside
then stops its tree (newest first, ``stopped()`` hooks run) as for any cancellation,
and ``run`` exits with status 0. Handlers are installed with the loop's
``add_signal_handler`` (no threads) and removed when the program ends; where the loop
cannot install them (not the main thread, Windows), nothing is installed.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["until_signalled"]

from ._logging import get_logger

log = get_logger("actors.signals")

T = TypeVar("T")

SIGNALS = (signal.SIGTERM, signal.SIGINT)


async def until_signalled(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` in this task; on SIGTERM or SIGINT cancel it and, once it has
    unwound, raise ``SystemExit(0)``."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    received: list[signal.Signals] = []

    def on_signal(signum: signal.Signals) -> None:
        if not received:
            log.info("shutting down", signal=signum.name)
            task.cancel()
        received.append(signum)

    installed = []
    for signum in SIGNALS:
        try:
            loop.add_signal_handler(signum, on_signal, signum)
        except (NotImplementedError, RuntimeError, ValueError):
            continue  # not the main thread, or a platform without them
        installed.append(signum)
    try:
        return await main
    except asyncio.CancelledError:
        if not received:
            raise
        task.uncancel()
        raise SystemExit(0) from None
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
