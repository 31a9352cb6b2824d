"""The observer's HTTP server: the page, its push stream, ``/metrics`` and health.

aiohttp runs inside the system's event loop (no thread). The server is started and
closed with the system (``ActorSystem(observe=...)``); the connections it serves are
aiohttp's tasks, all ended by ``close()`` before the system's ``async with`` returns.

Cost: while no browser is connected the observer does nothing but listen on its socket:
no listener on the runtime's events, no timer, no snapshot. The first stream
(``/api/events``) adds the feed's listener to the system's event listeners, the last
one to leave removes it. A stream pushes a snapshot when something happened (an event:
a crash, a restart, a dead letter...), at most every ``BATCH`` seconds, and every
``REFRESH`` seconds meanwhile, because mailbox depths and message counts change without
any event to say so.

With a transport, the observer also keeps one actor, ``<system>/observer``, subscribed to
the membership events (``MemberUp``, ``MemberUnreachable``, ``MemberReachable``,
``MemberDown``, ``NameConflict``): they are rare, and filing them even while nobody
watches lets a browser that connects later see when a node left.

Read-only: every route is a GET; nothing here can change the system.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from importlib import resources
from typing import TYPE_CHECKING, Any

from .._actor import Actor
from .._cluster import MemberEvent, NameConflict
from .._extras import require
from .._logging import get_logger
from .._spawn import new_cell
from ._address import is_loopback
from ._snapshot import Feed, actor_details, snapshot

require("aiohttp", "observer", "The observer (ActorSystem(observe=...))")

from aiohttp import web  # noqa: E402  (after the check that names the extra)

if TYPE_CHECKING:
    from .._system import ActorSystem

__all__ = ["BATCH", "REFRESH", "Observer"]

log = get_logger("actors.observer")

BATCH = 0.25
"""Seconds between two pushes at most: events in between go out together."""
REFRESH = 1.0
"""Seconds between two pushes when no event comes (rates, mailbox depths)."""

_STATIC = resources.files(__package__) / "static"
_PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Observer:
    """One system's observer server (internal: ``ActorSystem(observe=...)`` runs it)."""

    def __init__(self, system: ActorSystem, host: str, port: int) -> None:
        self.system = system
        self.host = host
        self.port = port
        self.feed = Feed()
        self.wakeups: set[asyncio.Event] = set()  # one per connected stream
        self.closing = False
        self.closed = asyncio.Event()
        self.runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        if not is_loopback(self.host):
            log.warning(
                "the observer listens beyond this machine: anyone who reaches it sees "
                "every actor and failure (read-only)",
                host=self.host,
                port=self.port,
            )
        app = web.Application()
        app.router.add_get("/", self.page)
        app.router.add_static("/static", str(_STATIC))
        app.router.add_get("/api/snapshot", self.get_snapshot)
        app.router.add_get("/api/actor", self.get_actor)
        app.router.add_get("/api/events", self.events)
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/health/live", self.live)
        app.router.add_get("/health/ready", self.ready)
        # Streams end by themselves once `closing` is set (within BATCH seconds).
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=2 * BATCH + 1)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await self.runner.cleanup()
            raise OSError(
                exc.errno, f"the observer cannot listen on {self.host}:{self.port}: {exc}"
            ) from exc
        self.port = self.runner.addresses[0][1]  # the free port picked for port 0
        if self.system.transport is not None:
            await self.watch_cluster()
        log.info("observer listening", url=self.url)

    async def watch_cluster(self) -> None:
        """Subscribe an actor of the observer's to the membership events (the bus
        delivers events to actors only)."""
        system = self.system
        assert system._guardian is not None
        cell = new_cell(
            system,
            system._guardian,
            ClusterFeed,
            (self,),
            {},
            name=None,
            mailbox=None,
            label="observer",
        )
        await cell.start()
        for kind in (MemberEvent, NameConflict):
            await system.subscribe(cell.ref, kind)

    async def close(self) -> None:
        self.closing = True
        self.closed.set()
        for wakeup in self.wakeups:
            wakeup.set()
        if self.runner is not None:
            await self.runner.cleanup()
        self.detach()

    # ------------------------------------------------------------------ routes

    async def page(self, request: web.Request) -> web.StreamResponse:
        return web.Response(
            text=(_STATIC / "index.html").read_text(encoding="utf-8"), content_type="text/html"
        )

    async def get_snapshot(self, request: web.Request) -> web.Response:
        state = self.state()
        state["feed"] = list(self.feed.entries)
        return web.json_response(state, dumps=_dumps)

    async def get_actor(self, request: web.Request) -> web.Response:
        path = request.query.get("path")
        if not path:
            return web.json_response({"error": "give the actor's path: ?path=..."}, status=400)
        details = actor_details(self.system, path, self.feed)
        if details is None:
            return web.json_response({"error": f"no live actor at `{path}`"}, status=404)
        return web.json_response(details, dumps=_dumps)

    async def metrics(self, request: web.Request) -> web.Response:
        text = self.system.metrics().prometheus()
        return web.Response(body=text.encode(), headers={"Content-Type": _PROMETHEUS_TYPE})

    async def live(self, request: web.Request) -> web.Response:
        health = self.system.health()
        return self._health(health.live, health.checks)

    async def ready(self, request: web.Request) -> web.Response:
        health = self.system.health()
        return self._health(health.ready, health.checks)

    def _health(self, ok: bool, checks: dict[str, str]) -> web.Response:
        return web.json_response({"ok": ok, "checks": checks}, status=200 if ok else 503)

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: one ``data:`` line of JSON per push (a snapshot and the
        feed entries new since the last push), until the browser leaves."""
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        loop = asyncio.get_running_loop()
        wakeup = asyncio.Event()
        self.attach(wakeup)
        try:
            sent = 0
            while not self.closing:
                state = self.state()
                state["feed"] = self.feed.since(sent)
                sent = self.feed.seq
                wakeup.clear()
                pushed = loop.time()
                try:
                    await response.write(f"data: {_dumps(state)}\n\n".encode())
                except (ConnectionError, RuntimeError):
                    break  # the browser left
                await _wait(wakeup, REFRESH)  # an event, or the counters' refresh
                # Events in the rest of this window go out together in the next push;
                # closing the observer cuts it short.
                await _wait(self.closed, pushed + BATCH - loop.time())
        finally:
            self.detach(wakeup)
        return response

    # ------------------------------------------------------------------ watching

    def attach(self, wakeup: asyncio.Event) -> None:
        if not self.wakeups:
            self.system._listeners.append(self.listen)
        self.wakeups.add(wakeup)

    def detach(self, wakeup: asyncio.Event | None = None) -> None:
        if wakeup is not None:
            self.wakeups.discard(wakeup)
        if not self.wakeups and self.listen in self.system._listeners:
            self.system._listeners.remove(self.listen)

    def listen(self, event: Any) -> None:
        """A runtime event (runs inside whichever actor emitted it: only files it)."""
        self.feed.listen(event)
        for wakeup in self.wakeups:
            wakeup.set()

    def state(self) -> dict[str, Any]:
        state = snapshot(self.system)
        state["cluster"] = _cluster(self.system)
        return state


def _cluster(system: ActorSystem) -> dict[str, Any] | None:
    """The cluster's members and their status; None without a transport (a cluster of
    one, itself: the page has nothing to show)."""
    if system.transport is None:
        return None
    cluster = system.cluster
    return {
        "node": str(cluster.node),
        "members": [
            {
                "node": str(member.node),
                "status": str(member.status),
                "since": member.since,
            }
            for member in cluster.members()
        ],
    }


class ClusterFeed(Actor):
    """Hands the membership events the bus delivers to the observer's feed."""

    def __init__(self, observer: Observer) -> None:
        self.observer = observer

    async def receive(self, message: Any) -> None:
        self.observer.listen(message)


async def _wait(event: asyncio.Event, seconds: float) -> None:
    """Until ``event`` is set, ``seconds`` at most."""
    if seconds > 0:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await event.wait()


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str)
