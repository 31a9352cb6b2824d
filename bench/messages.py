"""The messages every workload sends, shared by all systems so none gets a cheaper one.

They are ``msgspec.Struct`` instances, as the design prescribes for real code, and are
allocated once: the benchmarks measure message *passing*, not message construction.
They also pickle, which Thespian's multi-process base needs.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["PING", "Go", "Ping", "Report"]


class Ping(msgspec.Struct, frozen=True):
    """The payload of every tell and ask."""


PING = Ping()


class Go(msgspec.Struct, frozen=True):
    """Tells a sender actor to send ``count`` pings to ``target``."""

    target: Any
    count: int


class Report(msgspec.Struct, frozen=True):
    """Asks a Thespian counting actor to answer once it has counted ``count`` pings."""

    count: int
