"""Who is in the cluster, and watching actors across nodes.

Every node publishes a heartbeat on ``P.hb.<node>`` every ``heartbeat`` seconds, on its
control connection, and listens to everyone's, its own included. The rules (the
membership ``system.cluster.members()`` reports, see docs/distributed.md):

- A node is ``up`` from its first heartbeat (``MemberUp``).
- It is ``unreachable`` once silent for ``heartbeat * misses`` seconds while this node
  heard its own heartbeats come back (``MemberUnreachable``): every local watch of its
  actors ends with ``Terminated(ref, "nodedown")``. A heartbeat makes it ``up`` again
  (``MemberReachable``).
- It is ``down`` after a goodbye (a ``Bye`` heartbeat), or once silent for
  ``down_after`` seconds (``MemberDown``): its names are released (by the lowest id of
  the nodes up), and nobody but a new heartbeat of it brings it back (``MemberUp``).
- A node cut off from NATS judges nobody: its own heartbeats stop coming back, so a
  silence it notices then proves nothing. When they come back after a gap, every
  clock restarts with the full grace of ``heartbeat * misses`` (and the node re-asserts
  its names: others may have judged it down meanwhile).
- A node judged ``down`` by silence had its names released; it is ``up`` again only
  from a heartbeat saying it re-asserted them since (a ``Names`` header: the rounds of
  re-assertion it completed, one more than the last we heard before judging it down).
  Its earlier heartbeats, late from its buffers, or sent before it noticed its gap,
  change nothing: at ``MemberUp`` its names are back.
- A heartbeat carries the sender's incarnation (new at every start): a node that
  restarted under the same id is seen going down (its old incarnation's watches end
  with ``nodedown``) and up again, however fast it came back.
- A node never heard from gets a clock at first contact (a watch, a lookup): one that
  never beats is ``unreachable`` after ``heartbeat * misses`` like any other.

A remote watch is a ``Watch`` notice to the target's node (``P.ctl.<node>``), which adds
the watcher to the target's ``RemoteWatchers`` (one per watched actor, a set); when the
target stops, that node sends a ``Down`` notice back. The ``Watch`` goes with a reply
subject, so that a node that does not exist is known at once (NATS answers "no
responders": ``Terminated(ref, ExitReason.NOPROC)``).

What arrives here is checked before use: a node id or path from the wire that breaks
the limits is refused and counted (``invalid_address``), never published to. What the
wire can make grow is bounded: ``MAX_PEERS`` nodes tracked (heartbeats of more are
counted in ``peers_refused`` and ignored), ``MAX_DOWN`` remembered as down (the oldest
forgotten first), ``MAX_WATCHERS`` remote watchers per actor (``watchers_refused``).
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from typing import TYPE_CHECKING, Any

import msgspec
from nats.aio.msg import Msg

from actors import (
    ExitReason,
    Member,
    MemberDown,
    MemberReachable,
    MemberStatus,
    MemberUnreachable,
    MemberUp,
    Priority,
    Terminated,
)
from actors.lowlevel import ActorCell, CellState, get_logger, node_id_problem, path_problem

from ._codec import RefAddress, address_problem
from ._frame import VERSION
from ._remote import RemoteRef, RemoteWatchers
from ._wire import Control, Down, NameLost, Probe, Unwatch, Watch

if TYPE_CHECKING:
    from ._node import Node

__all__ = ["MAX_DOWN", "MAX_PEERS", "MAX_WATCHERS", "Liveness"]

MAX_PEERS = 1024  # nodes tracked at once (a heartbeat timer each)
MAX_DOWN = 4096  # nodes remembered as down
MAX_WATCHERS = 10_000  # remote watchers of one local actor

log = get_logger("actors.transport")


_EVENTS = {
    MemberStatus.UP: MemberUp,
    MemberStatus.UNREACHABLE: MemberUnreachable,
    MemberStatus.DOWN: MemberDown,
}


class _Peer:
    """What this node knows of another: its status (None: contacted, never heard),
    since when (wall clock), when it was last heard (monotonic), its clock, its latest
    round of re-assertion heard (``names``), and, once judged down by silence, the round
    it must exceed to be up again (``gate``)."""

    __slots__ = ("gate", "heard", "incarnation", "names", "since", "status", "timer", "wire")

    def __init__(self, heard: float) -> None:
        self.status: MemberStatus | None = None
        self.incarnation: str | None = None
        self.since = time.time()
        self.heard = heard
        self.timer: asyncio.TimerHandle | None = None
        self.names: int | None = None
        self.gate: int | None = None
        # The wire version its heartbeats state (None: the header format of before,
        # which stated none); ours until one says otherwise, so only a change is told.
        self.wire: str | None = str(VERSION)


class Liveness:
    """A node's view of the other nodes, and its watches across them."""

    def __init__(self, here: Node) -> None:
        self.here = here  # this node (``node`` below is always another one's id)
        # every node known, down ones included (bounded: MAX_PEERS live, MAX_DOWN down)
        self.peers: dict[str, _Peer] = {}
        self._down = 0  # how many of ``peers`` are down (kept by _set: no rescans)
        # local actors watched from other nodes, by path
        self.watched: dict[str, RemoteWatchers] = {}
        # node -> target path -> local watcher cells
        self._watches: dict[str, dict[str, list[ActorCell]]] = {}
        # Watch notices sent with a reply subject, waiting for NATS's verdict.
        self._checks: dict[str, tuple[RemoteRef, ActorCell]] = {}
        self._beat_timer: asyncio.TimerHandle | None = None
        self._echo: float | None = None  # when our own last heartbeat came back
        self._deferred: set[str] = set()  # silent while we were cut off: judge later
        self._since = time.time()
        # Every heartbeat's headers: our incarnation, and the wire version we speak (a
        # peer speaking another is reported once, when its first heartbeat says so).
        self._incarnation = {"Incarnation": uuid.uuid4().hex, "Wire": str(VERSION)}

    @property
    def silence(self) -> float:
        return self.here.heartbeat * self.here.misses

    def start(self) -> None:
        self._beat()

    def close(self) -> None:
        """Stop beating and listening, and say goodbye."""
        if self._beat_timer is not None:
            self._beat_timer.cancel()
        for peer in self.peers.values():
            if peer.timer is not None:
                peer.timer.cancel()
        here = self.here
        if here.control_writer is not None:
            subject = f"{here.base}.hb.{here.node_id}"
            bye = here.seal.sign(subject, b"", {"Bye": "1"})
            here.control_writer.publish(subject, b"", "", bye, None)

    # ------------------------------------------------------------------ membership

    def members(self) -> list[Member]:
        here = [Member(self.here.node_id, MemberStatus.UP, self._since)]
        return here + [
            Member(node, peer.status, peer.since)
            for node, peer in sorted(self.peers.items())
            if peer.status is not None
        ]

    def status(self, node: str) -> MemberStatus | None:
        peer = self.peers.get(node)
        return None if peer is None else peer.status

    def alive(self, node: str) -> bool:
        """Not known to be unreachable or down."""
        peer = self.peers.get(node)
        return peer is None or peer.status in (None, MemberStatus.UP)

    def is_down(self, node: str) -> bool:
        peer = self.peers.get(node)
        return peer is not None and peer.status == MemberStatus.DOWN

    def up(self) -> list[str]:
        return [node for node, peer in self.peers.items() if peer.status == MemberStatus.UP]

    def contact(self, node: str) -> None:
        """First contact with ``node`` (a watch, a lookup): its clock starts now, so a
        node that never beats is judged like one that stopped."""
        if node == self.here.node_id or node in self.peers or node == "*":
            return
        peer = self._admit(node, time.monotonic())
        if peer is not None:
            self._arm(node, peer, self.silence)

    def _admit(self, node: str, heard: float) -> _Peer | None:
        """Start tracking ``node``, unless ``MAX_PEERS`` nodes not down are tracked
        already: node ids come from the wire, so what they grow is bounded."""
        if len(self.peers) - self._down >= MAX_PEERS:
            self.here.counters["peers_refused"] += 1
            log.warning("node ignored: too many nodes", node=node, limit=MAX_PEERS)
            return None
        peer = self.peers[node] = _Peer(heard)
        return peer

    @property
    def down(self) -> list[str]:
        """The nodes known to be down, the longest down first (at most ``MAX_DOWN``:
        past it the oldest is forgotten)."""
        return [node for node, peer in self.peers.items() if peer.status == MemberStatus.DOWN]

    def _set(self, node: str, peer: _Peer, status: MemberStatus) -> None:
        """A status change, announced on the bus (``MemberReachable``: back up from
        unreachable)."""
        reachable = peer.status == MemberStatus.UNREACHABLE and status == MemberStatus.UP
        self._down += (status == MemberStatus.DOWN) - (peer.status == MemberStatus.DOWN)
        peer.status = status
        peer.since = time.time()
        system = self.here.system
        if system is not None:
            event = MemberReachable if reachable else _EVENTS[status]
            system.publish(event(node))

    # ------------------------------------------------------------------ watching

    def watch(self, ref: RemoteRef, watcher: ActorCell) -> None:
        node = ref.address.node
        if not self.alive(node):
            watcher.deliver(Terminated(ref, ExitReason.NODEDOWN), Priority.SYSTEM)
            return
        self.contact(node)
        watchers = self._watches.setdefault(node, {}).setdefault(ref.path, [])
        if watcher in watchers:
            return
        watchers.append(watcher)
        here = self.here
        # On the first data connection, with a reply subject there: NATS sends "no
        # responders" back to the connection that published.
        token = secrets.token_urlsafe(16)  # a forged "no responders" must not guess it
        self._checks[token] = (ref, watcher)
        writer = here.writer
        if writer is not None:
            subject = f"{here.base}.ctl.{node}"
            payload = msgspec.msgpack.encode(Watch(ref.path, here.export(watcher.ref)))
            headers = here.seal.sign(subject, payload)
            writer.publish(subject, payload, writer.reply_prefix + token, headers, None)

    def check_answered(self, token: str, msg: Msg) -> bool:
        """A reply to a Watch notice (True), else not ours (False). "No responders":
        nobody received it, that node does not exist (or is gone)."""
        check = self._checks.get(token)
        if check is None:
            return False
        status = (msg.headers or {}).get("Status")
        # "No responders" comes from the server, unsigned; an answer comes from the node.
        if status != "503" and not self.here.seal.check(msg):
            return True
        del self._checks[token]
        if status == "503":
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
            self.send(node, Unwatch(ref.path, self.here.export(watcher.ref)))

    def send_down(self, terminated: Terminated, watcher: RefAddress) -> None:
        """A local actor watched from another node stopped: tell that node."""
        target = self.here.export(terminated.ref)
        self.send(watcher.node, Down(target, watcher.path, terminated.reason))

    def send(self, node: str, message: Control) -> None:
        """A control notice to ``node`` (on the control connection)."""
        here = self.here
        if here.control_writer is not None:
            subject, payload = f"{here.base}.ctl.{node}", msgspec.msgpack.encode(message)
            headers = here.seal.sign(subject, payload)
            here.control_writer.publish(subject, payload, "", headers, None)

    async def on_control(self, msg: Msg) -> None:
        here = self.here
        if not here.seal.check(msg):
            return
        try:
            notice = msgspec.msgpack.decode(msg.data, type=Control)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
            here.counters["undecodable"] += 1
            log.warning("undecodable control message", error=str(exc))
            return
        problem = control_problem(notice)
        if problem is not None:
            here.counters["invalid_address"] += 1
            log.warning("invalid control message", problem=problem)
            return
        match notice:
            case Watch(target, watcher):
                self._received(msg)
                cell = here.exported.get(target)
                if cell is None or cell.state == CellState.STOPPED:
                    gone = RefAddress(watcher.system, here.node_id, target)
                    self.send(watcher.node, Down(gone, watcher.path, ExitReason.NOPROC))
                    return
                self._add_watcher(cell, watcher)
            case Unwatch(target, watcher):
                watchers = self.watched.get(target)
                if watchers is not None:
                    watchers.addresses.pop(watcher, None)
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
            case NameLost(name, path, winner):
                here.registry.lost(name, path, winner)

    def _add_watcher(self, cell: ActorCell, watcher: RefAddress) -> None:
        here = self.here
        watchers = self.watched.get(cell.path)
        if watchers is None:
            watchers = self.watched[cell.path] = RemoteWatchers(here)
            cell.add_watcher(watchers)  # one entry for all its remote watchers
        if watcher in watchers.addresses:
            return
        if len(watchers) >= MAX_WATCHERS:
            here.counters["watchers_refused"] += 1
            log.warning("watch refused: too many remote watchers", actor=cell.path)
            return
        watchers.addresses[watcher] = None

    def forget_watched(self, path: str, watchers: RemoteWatchers) -> None:
        """The actor at ``path`` stopped: its remote watchers are being told."""
        if self.watched.get(path) is watchers:
            del self.watched[path]

    def _received(self, msg: Msg) -> None:
        """Answer a notice sent as a request (a Watch, a Probe): we are here."""
        writer = self.here.control_writer
        if msg.reply and writer is not None:
            writer.publish(msg.reply, b"", "", self.here.seal.sign(msg.reply, b""), None)

    # ------------------------------------------------------------------ heartbeats

    def beat(self) -> None:
        """A heartbeat now (the next one ``heartbeat`` seconds later)."""
        if self._beat_timer is not None:
            self._beat_timer.cancel()
        self._beat()

    def _beat(self) -> None:
        here = self.here
        if here.control_writer is not None:
            subject = f"{here.base}.hb.{here.node_id}"
            headers = {**self._incarnation, "Names": str(here.registry.rounds)}
            here.control_writer.publish(
                subject, b"", "", here.seal.sign(subject, b"", headers), None
            )
        loop = asyncio.get_running_loop()
        self._beat_timer = loop.call_later(here.heartbeat, self._beat)

    async def on_heartbeat(self, msg: Msg) -> None:
        here = self.here
        node = msg.subject.rsplit(".", 1)[-1]
        now = time.monotonic()
        if node == here.node_id:
            # Our own beat, back from the server: we are connected (whoever sent it,
            # it came through the server, which is all this tells).
            self._echoed(now)
            return
        if not here.seal.check(msg):
            return
        if node_id_problem(node) is not None:
            here.counters["invalid_address"] += 1
            return
        peer = self.peers.get(node)
        if peer is None:
            peer = self._admit(node, now)
            if peer is None:
                return
        peer.heard = now
        self._deferred.discard(node)
        headers = msg.headers or {}
        if headers.get("Bye"):
            log.info("node left", node=node)
            self.node_down(node, release_names=False)  # it released them itself
            return
        incarnation = headers.get("Incarnation")
        if peer.incarnation != incarnation:
            if peer.incarnation is not None and peer.status != MemberStatus.DOWN:
                log.warning("node restarted", node=node)
                self.node_down(node, release_names=False)  # it registers its names again
            peer.incarnation = incarnation
            peer.gate = None  # a new incarnation: whatever it holds, it registered
        peer.names = _rounds(headers.get("Names"))
        wire = headers.get("Wire")
        if peer.wire != wire:
            peer.wire = wire
            if wire != str(VERSION):
                seen = "the unversioned header format" if wire is None else f"version {wire[:16]}"
                log.warning(
                    "node speaks another wire version: actor messages between them are refused",
                    node=node,
                    seen=seen,
                    spoken=VERSION,
                )
        if peer.status == MemberStatus.DOWN and peer.gate is not None:
            here.registry.back(node)  # alive: stop releasing its names
            if peer.names is None or peer.names <= peer.gate:
                return  # its names are not back yet: up once they are
        if peer.status is None or peer.status == MemberStatus.DOWN:
            log.info("node up", node=node)
            here.registry.back(node)
            peer.gate = None
            self._set(node, peer, MemberStatus.UP)
        elif peer.status == MemberStatus.UNREACHABLE:
            log.info("node reachable again", node=node)
            self._set(node, peer, MemberStatus.UP)
        self._arm(node, peer, self.silence)

    def _echoed(self, now: float) -> None:
        """Our own heartbeat came back: we hear the cluster. After a gap (we were cut
        off, or stalled), restart every clock with the full grace and re-assert our
        names: others may have judged us down meanwhile."""
        last, self._echo = self._echo, now
        if last is None or now - last <= 1.5 * self.here.heartbeat:
            return
        log.info("hearing the cluster again", node=self.here.node_id, gap=round(now - last, 3))
        for node, peer in self.peers.items():
            if peer.status in (None, MemberStatus.UP) or node in self._deferred:
                peer.heard = now
                self._arm(node, peer, self.silence)
        self._deferred.clear()
        self.here.registry.reassert()

    def _arm(self, node: str, peer: _Peer, delay: float) -> None:
        if peer.timer is not None:
            peer.timer.cancel()
        loop = asyncio.get_running_loop()
        peer.timer = loop.call_later(delay, self._silent, node)

    def _hearing(self, since: float) -> bool:
        """Whether our own heartbeats kept coming back for a while after ``since``:
        else a silence proves nothing (we may be the one cut off)."""
        return self._echo is not None and self._echo - since >= self.silence / 2

    def _silent(self, node: str) -> None:
        here = self.here
        peer = self.peers.get(node)
        if peer is None or here.closing:
            return
        peer.timer = None
        if not self._hearing(peer.heard):
            self._deferred.add(node)  # judged when we hear ourselves again
            return
        silent = time.monotonic() - peer.heard
        down_after = here.down_after
        if peer.status in (None, MemberStatus.UP):
            log.warning("node unreachable: no heartbeat", node=node, silent_for=round(silent, 3))
            self._set(node, peer, MemberStatus.UNREACHABLE)
            self._end_watches(node)
            self._arm(node, peer, max(0.0, down_after - silent))
        elif peer.status == MemberStatus.UNREACHABLE:
            if silent < down_after:
                self._arm(node, peer, down_after - silent)
                return
            log.warning("node down: no heartbeat", node=node, silent_for=round(silent, 3))
            self.node_down(node, release_names=True)

    def node_down(self, node: str, *, release_names: bool) -> None:
        """A node said goodbye, stayed silent for ``down_after``, or (never heard from)
        does not answer on its control subject: its watched actors are gone. The names
        held by a node that did not say goodbye are released by one node: the lowest id
        among those up (should two pick themselves, each deletion is conditional, so the
        second changes nothing)."""
        here = self.here
        peer = self.peers.get(node)
        if peer is None:
            peer = self.peers[node] = _Peer(time.monotonic())
        if peer.timer is not None:
            peer.timer.cancel()
            peer.timer = None
        self._deferred.discard(node)
        first = peer.status != MemberStatus.DOWN
        if first:
            self._set(node, peer, MemberStatus.DOWN)
            # Its names are released: up again once it re-asserted them (see on_heartbeat).
            peer.gate = peer.names if release_names else None
            self.peers[node] = self.peers.pop(node)  # the newest down last
            if self._down > MAX_DOWN:
                del self.peers[self.down[0]]
                self._down -= 1
        leader = here.node_id == min([*self.up(), here.node_id])
        if release_names and first and leader:
            here.registry.release_all_of(node)
        self._end_watches(node)

    def _end_watches(self, node: str) -> None:
        system = self.here.system
        assert system is not None
        for path, watchers in self._watches.pop(node, {}).items():
            ref = self.here.resolve(RefAddress(system.name, node, path))
            for watcher in watchers:
                watcher.deliver(Terminated(ref, ExitReason.NODEDOWN), Priority.SYSTEM)

    def metrics(self) -> dict[str, Any]:
        statuses = [peer.status for peer in self.peers.values()]
        return {
            "peers_alive": statuses.count(MemberStatus.UP),
            "peers_unreachable": statuses.count(MemberStatus.UNREACHABLE),
            "peers_down": statuses.count(MemberStatus.DOWN),
        }


def control_problem(notice: Control) -> str | None:
    """What is wrong with the addresses of a control notice (None: nothing)."""
    match notice:
        case Watch(target, watcher) | Unwatch(target, watcher):
            return path_problem(target) or address_problem(watcher)
        case Down(target, watcher_path, _):
            return address_problem(target) or path_problem(watcher_path)
    return None


def _rounds(header: str | None) -> int | None:
    """A heartbeat's ``Names`` header (None: absent or not a count)."""
    try:
        return None if header is None else int(header)
    except ValueError:
        return None
