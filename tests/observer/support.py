"""Actors and helpers shared by the observer tests (and tests/browser)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import aiohttp
import msgspec
from actors.supervision import ChildSpec, SupervisorSpec

from actors import Actor, ActorRef

WAIT = 20.0
"""Seconds a test waits at most for a push it expects (a bound, never a sleep)."""


class Crash(msgspec.Struct, frozen=True):
    """Makes a ``Worker`` raise ``RuntimeError('boom')``."""


class Worker(Actor):
    async def receive(self, message: Any) -> Any:
        if isinstance(message, Crash):
            raise RuntimeError("boom")
        return message


def tree(max_restarts: int = 5) -> SupervisorSpec:
    return SupervisorSpec(
        strategy="one_for_all",  # type: ignore[arg-type]
        max_restarts=max_restarts,
        within=10.0,
        children=[ChildSpec(id="worker", actor=Worker), ChildSpec(id="other", actor=Worker)],
        name="top",
    )


async def crash_and_wait_for_restart(worker: ActorRef) -> None:
    """Crash ``worker``; return once its new incarnation answers (restarted: the ref and
    mailbox survive the restart, so the ask is handled by the fresh instance)."""
    worker.tell(Crash())
    assert await worker.ask("ping") == "ping"


def find(nodes: list[dict[str, Any]], path: str) -> dict[str, Any]:
    for node in nodes:
        if node["path"] == path:
            return node
        try:
            return find(node["children"], path)
        except LookupError:
            continue
    raise LookupError(path)


async def next_push(stream: aiohttp.ClientResponse) -> dict[str, Any]:
    """The next server-sent event's JSON."""
    while True:
        line = await stream.content.readline()
        if not line:
            raise EOFError("the observer closed the stream")
        if line.startswith(b"data: "):
            value: dict[str, Any] = json.loads(line[6:])
            return value


def statuses(state: dict[str, Any]) -> dict[str, str]:
    """The cluster panel's members: node id -> status."""
    return {member["node"]: member["status"] for member in state["cluster"]["members"]}


async def push_until(
    stream: aiohttp.ClientResponse, wanted: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The first push (a snapshot) that satisfies ``wanted``, within ``WAIT`` seconds."""
    async with asyncio.timeout(WAIT):
        while True:
            state = await next_push(stream)
            if wanted(state):
                return state
