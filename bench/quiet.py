"""Silencing the runtime's logs inside a measuring child process.

The runtime logs through structlog (a crash is logged at error level with its
traceback). Formatting and writing log lines is the application's logging cost, not the
runtime's, and it dwarfs what is measured (with structlog's default console renderer, a
crash -> restart -> answer round trip takes about 290 µs instead of about 45 µs, almost
all of it rendering the traceback), so workloads that make the runtime log call
``silence_logging()`` first, in every system they run, baselines included.
"""

from __future__ import annotations

import logging

import structlog

__all__ = ["silence_logging"]


def silence_logging() -> None:
    """Drop every structlog call below CRITICAL in this process.

    ``cache_logger_on_first_use`` is what a program configures in production (the
    runtime's own ``configure_logging`` does): without it every call through a
    module-level ``structlog.get_logger()`` proxy builds a new bound logger first.
    """
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL),
        cache_logger_on_first_use=True,
    )
