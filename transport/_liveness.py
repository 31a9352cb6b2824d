"""Which nodes are up, and watching actors across nodes.

Every node publishes a heartbeat on ``P.hb.<node>`` every ``heartbeat`` seconds, on its
control connection, and listens to everyone's. A node not heard from for ``heartbeat *
misses`` seconds is down; one that says goodbye (a ``Bye`` heartbeat) has left. Either
way, every local actor watching one of its actors receives ``Terminated(ref,
ExitReason.NODEDOWN)``.

A remote watch is a ``Watch`` notice to the target's node (``P.ctl.<node>``), which adds
a ``RemoteWatcher`` to the target's cell; when the target stops, that node sends a
``Down`` notice back. The ``Watch`` goes with a reply subject, so that a node that does
not exist is known at once (NATS answers "no responders": ``Terminated(ref,
ExitReason.NOPROC)``).
"""

from __future__ import annotations

import asyncio
import itertools
from typing import TYPE_CHECKING

import msgspec
from nats.aio.msg import Msg

from actors import ExitReason, Priority, Terminated
from actors.lowlevel import ActorCell, CellState, get_logger

from ._codec import RefAddress
from ._remote import RemoteRef, RemoteWatcher
from ._wire import Control, Down, Probe, Unwatch, Watch

if TYPE_CHECKING:
    from ._node import Node

__all__ = ["Liveness"]

log = get_logger("actors.transport")


class Liveness:
    """A node's view of the other nodes, and its watches across them."""

    def __init__(self, here: Node) -> None:
        self.here = here  # this node (``node`` below is always another one's id)
        self.peers: dict[str, asyncio.TimerHandle] = {}  # nodes heard from: their timeout
        self.down: set[str] = set()
        # node -> target path -> local watcher cells
        self._watches: dict[str, dict[str, list[ActorCell]]] = {}
        # Watch notices sent with a reply subject, waiting for NATS's verdict.
        self._checks: dict[str, tuple[RemoteRef, ActorCell]] = {}
        self._tokens = itertools.count(1)
        self._beat_timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._beat()

    def close(self) -> None:
        """Stop beating and listening, and say goodbye."""
        if self._beat_timer is not None:
            self._beat_timer.cancel()
        for timer in self.peers.values():
            timer.cancel()
        self.peers.clear()
        here = self.here
        if here.control_writer is not None:
            here.control_writer.publish(
                f"{here.base}.hb.{here.node_id}", b"", "", {"Bye": "1"}, None
            )

    # ------------------------------------------------------------------ watching

    def watch(self, ref: RemoteRef, watcher: ActorCell) -> None:
        node = ref.address.node
        if node in self.down:
            watcher.deliver(Terminated(ref, ExitReason.NODEDOWN), Priority.SYSTEM)
            return
        watchers = self._watches.setdefault(node, {}).setdefault(ref.path, [])
        if watcher in watchers:
            return
        watchers.append(watcher)
        here = self.here
        # On the first data connection, with a reply subject there: NATS sends "no
        # responders" back to the connection that published.
        token = f"w{next(self._tokens)}"
        self._checks[token] = (ref, watcher)
        writer = here.writer
        if writer is not None:
            writer.publish(
                f"{here.base}.ctl.{node}",
                msgspec.msgpack.encode(Watch(ref.path, here.export(watcher.ref))),
                writer.reply_prefix + token,
                None,
                None,
            )

    def check_answered(self, token: str, msg: Msg) -> bool:
        """A reply to a Watch notice (True), else not ours (False). "No responders":
        nobody received it, that node does not exist (or is gone)."""
        check = self._checks.pop(token, None)
        if check is None:
            return False
        if (msg.headers or {}).get("Status") == "503":
            ref, watcher = check
            watchers = self._watches.get(ref.address.node, {}).get(ref.path, [])
            if watcher in watchers:
                watchers.remove(watcher)
                watcher.deliver(Terminated(ref, ExitReason.NOPROC), Priority.SYSTEM)
        return True

    def unwatch(self, ref: RemoteRef, watcher: ActorCell) -> None:
        node = ref.address.node
        watchers = self._watches.get(node, {}).get(ref.path, [])
        if watcher in watchers:
            watchers.remove(watcher)
            self._send(node, Unwatch(ref.path, self.here.export(watcher.ref)))

    def send_down(self, terminated: Terminated, watcher: RefAddress) -> None:
        """A local actor watched from another node stopped: tell that node."""
        target = self.here.export(terminated.ref)
        self._send(watcher.node, Down(target, watcher.path, terminated.reason))

    def _send(self, node: str, message: Control) -> None:
        here = self.here
        if here.control_writer is not None:
            here.control_writer.publish(
                f"{here.base}.ctl.{node}", msgspec.msgpack.encode(message), "", None, None
            )

    async def on_control(self, msg: Msg) -> None:
        here = self.here
        try:
            notice = msgspec.msgpack.decode(msg.data, type=Control)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            here.counters["undecodable"] += 1
            log.warning("undecodable control message", error=str(exc))
            return
        match notice:
            case Watch(target, watcher):
                self._received(msg)
                proxy = RemoteWatcher(here, watcher)
                cell = here.exported.get(target)
                if cell is None or cell.state == CellState.STOPPED:
                    gone = RefAddress(watcher.system, here.node_id, target)
                    self._send(watcher.node, Down(gone, watcher.path, ExitReason.NOPROC))
                    return
                cell.add_watcher(proxy)
            case Unwatch(target, watcher):
                cell = here.exported.get(target)
                proxy = RemoteWatcher(here, watcher)
                if cell is not None:
                    cell.remove_watcher(proxy)
            case Probe():
                self._received(msg)
            case Down(target, watcher_path, reason):
                by_path = self._watches.get(target.node, {})
                cells = by_path.get(target.path, [])
                ref = here.resolve(target)
                for cell in [c for c in cells if c.path == watcher_path]:
                    cells.remove(cell)
                    cell.deliver(Terminated(ref, reason), Priority.SYSTEM)
                if not cells:
                    by_path.pop(target.path, None)

    def _received(self, msg: Msg) -> None:
        """Answer a notice sent as a request (a Watch, a Probe): we are here."""
        writer = self.here.control_writer
        if msg.reply and writer is not None:
            writer.publish(msg.reply, b"", "", None, None)

    # ------------------------------------------------------------------ heartbeats

    def _beat(self) -> None:
        here = self.here
        if here.control_writer is not None:
            here.control_writer.publish(f"{here.base}.hb.{here.node_id}", b"", "", None, None)
        loop = asyncio.get_running_loop()
        self._beat_timer = loop.call_later(here.heartbeat, self._beat)

    async def on_heartbeat(self, msg: Msg) -> None:
        here = self.here
        node = msg.subject.rsplit(".", 1)[-1]
        if node == here.node_id:
            return
        timer = self.peers.pop(node, None)
        if timer is not None:
            timer.cancel()
        if msg.headers and msg.headers.get("Bye"):
            log.info("node left", node=node)
            self.node_down(node, release_names=False)  # it released them itself
            return
        self.down.discard(node)
        loop = asyncio.get_running_loop()
        silence = here.heartbeat * here.misses
        self.peers[node] = loop.call_later(silence, self._silent, node)

    def _silent(self, node: str) -> None:
        here = self.here
        log.warning("node down: no heartbeat", node=node, silent_for=here.heartbeat * here.misses)
        self.node_down(node, release_names=True)

    def node_down(self, node: str, *, release_names: bool) -> None:
        """A node went silent, said goodbye, or is gone from the server: its watched
        actors are gone. The names held by a node that did not say goodbye are released
        by one surviving node: the lowest id among those this one knows alive (should
        two pick themselves, each deletion is conditional, so the second changes
        nothing)."""
        here = self.here
        self.peers.pop(node, None)
        first = node not in self.down
        self.down.add(node)
        leader = here.node_id == min(self.peers.keys() | {here.node_id})
        if release_names and first and leader:
            here.registry.release_all_of(node)
        system = here.system
        assert system is not None
        for path, watchers in self._watches.pop(node, {}).items():
            ref = here.resolve(RefAddress(system.name, node, path))
            for watcher in watchers:
                watcher.deliver(Terminated(ref, ExitReason.NODEDOWN), Priority.SYSTEM)
