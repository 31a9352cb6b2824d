"""The cluster-wide registry of actor names: a JetStream KV bucket, one entry per name.

``<prefix>__<system>__names`` maps a name to the address of the actor holding it (and
whether its mailbox is durable, and its claim: the KV revision at which its holder took
it). A node registers a name when a named actor starts, and releases it when the actor
stops; the name's subject (``P.name.<name>``) is subscribed on the same node meanwhile.

The guarantees (docs/distributed.md):

- A name is released only by its holder, or when its holder is ``down`` by the
  membership rules (``_liveness``): ``release_all_of``, and ``gone`` for a node this one
  never heard from that does not answer on its control subject; or, at its start, by a
  new incarnation of its holder's node id (the one that held it died). Never while it
  is up or merely unreachable.
- Every write is conditional on the revision read (``create``, ``update(last=...)``,
  ``delete(last=...)``): of two nodes racing for a name, one wins, the other sees it
  held; a name taken again meanwhile is never deleted.
- A node re-asserts its names whenever it hears the cluster again after a gap
  (``reassert``). If two live nodes hold one name (a partition let each take it), the
  older claim (the lower revision) wins: the other holder's actor stops with reason
  ``name_conflict`` and a ``NameConflict`` event on its node.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec
import nats.errors
import nats.js.errors
from nats.aio.msg import Msg

from actors import ActorRef, ExitReason, NameConflict
from actors.lowlevel import ActorCell, CellState, get_logger

from ._codec import address_problem
from ._errors import InvalidAddress, TransportUnavailable
from ._remote import RemoteRef
from ._subjects import kv_key, wire_name
from ._wire import PROBE, NameLost, Registration, map_nats_errors

if TYPE_CHECKING:
    from ._node import Node

__all__ = ["Registry"]

log = get_logger("actors.transport")

# JetStream's error codes for a conditional write that lost the race.
_WRONG_LAST_SEQUENCE = (10071, 10164)
_NATS_ERRORS = (nats.errors.Error, nats.js.errors.Error, OSError, TimeoutError)


class _Claim:
    """A name this node holds: the actor, and the revision at which it took it."""

    __slots__ = ("cell", "revision")

    def __init__(self, cell: ActorCell, revision: int) -> None:
        self.cell = cell
        self.revision = revision


class Registry:
    """The names of a system, shared by all its nodes."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self._kv: Any = None
        self._bucket = ""
        self._subs: dict[str, Any] = {}  # name -> the subscription on its subject
        self._held: dict[str, _Claim] = {}
        self._releases: set[asyncio.Task[Any]] = set()  # names being released
        self._purges: set[asyncio.Task[Any]] = set()  # names of down nodes being released
        self._reasserting: asyncio.Task[Any] | None = None
        self._again = False  # another gap while re-asserting: one more round
        # Rounds of re-assertion completed, on every heartbeat: a node that judged us
        # down takes us for up again only from a round later than the one it last saw.
        self.rounds = 0

    async def open(self) -> None:
        """Open the bucket, creating it if this is the first node, and release the
        names an earlier incarnation of this node left (it died holding them: a name
        we hold again is registered again)."""
        node = self.node
        assert node.data is not None and node.system is not None
        js = node.data.jetstream()
        bucket = self._bucket = wire_name(node.prefix, node.system.name, "names")
        try:
            self._kv = await js.key_value(bucket)
        except nats.js.errors.BucketNotFoundError:
            try:
                self._kv = await js.create_key_value(bucket=bucket, history=1)
            except nats.js.errors.BadRequestError:
                self._kv = await js.key_value(bucket)  # another node created it first
        # Before any name of ours is registered: every entry naming us is a leftover.
        try:
            released = await self._forget_all_of(node.node_id, lambda: True)
        except (*_NATS_ERRORS, msgspec.DecodeError) as exc:
            log.warning("releasing an earlier incarnation's names failed", error=repr(exc))
        else:
            if released:
                log.info("names of an earlier incarnation released", names=released)

    def close(self) -> None:
        for task in self._purges:
            task.cancel()  # another node releases them (or the next one to look up)
        if self._reasserting is not None:
            self._reasserting.cancel()

    def _mine(self, cell: ActorCell, claim: int) -> bytes:
        registration = Registration(self.node.export(cell.ref), registration_durable(cell), claim)
        return msgspec.msgpack.encode(registration)

    async def register(self, name: str, cell: ActorCell) -> None:
        node = self.node
        data, system = node.data, node.system
        assert data is not None and self._kv is not None and system is not None
        value = self._mine(cell, 0)
        key = kv_key(name)
        with map_nats_errors(f"registering `{name}`"):
            while True:
                try:
                    revision = await self._kv.create(key, value)
                    break
                except nats.js.errors.KeyWrongLastSequenceError:
                    pass  # held, or held once (a delete marker): see by whom
                try:
                    entry = await self._kv.get(key)
                except nats.js.errors.KeyNotFoundError:
                    continue  # released meanwhile
                holder = msgspec.msgpack.decode(entry.value, type=Registration).address
                if holder.node != node.node_id and not await self.gone(holder.node):
                    raise ValueError(
                        f"name `{name}` is already registered in system "
                        f"`{system.name}` by `{holder.path}` on node `{holder.node}`"
                    )
                try:
                    # Only over the entry just read: of two nodes taking over a dead
                    # node's name at once, one wins and the other sees it held.
                    revision = await self._kv.update(key, value, last=entry.revision)
                    break
                except nats.js.errors.KeyWrongLastSequenceError:
                    continue
            self._held[name] = _Claim(cell, revision)
            on_named_message = node.messaging.on_named_message

            async def on_named(msg: Msg) -> None:
                on_named_message(name, msg)

            self._subs[name] = await data.subscribe(node.subject("name", name), cb=on_named)
            await node.messaging.caught_up()  # reachable by name, cluster-wide, on return
            if registration_durable(cell):
                await node.durable.open(name, cell)

    def unregister(self, name: str) -> None:
        task = self.node.spawn_task(self._release(name))
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)

    async def settle(self) -> None:
        if self._releases:
            await asyncio.gather(*self._releases, return_exceptions=True)

    async def _release(self, name: str) -> None:
        claim = self._held.pop(name, None)
        sub = self._subs.pop(name, None)
        durable = self.node.durable.detach(name)
        with contextlib.suppress(*_NATS_ERRORS):
            if sub is not None:
                await sub.unsubscribe()
            if durable is not None:
                # The consumer stays: queued messages wait for the next incarnation.
                await durable.unsubscribe()
            if claim is None:
                return
            # Only our own entry: after a name conflict, it is the winner's.
            key = kv_key(name)
            entry = await self._kv.get(key)
            if entry.value is not None and self._ours(entry.value, claim.cell):
                await self._forget(key, entry.revision)

    def _ours(self, value: bytes, cell: ActorCell) -> bool:
        address = msgspec.msgpack.decode(value, type=Registration).address
        return address.node == self.node.node_id and address.path == cell.path

    async def lookup(self, name: str) -> ActorRef | None:
        node = self.node
        data = node.data
        if self._kv is None or data is None:
            raise TransportUnavailable("the transport is not started")
        if not data.is_connected:
            raise TransportUnavailable(f"looking up `{name}`: not connected to NATS")
        with map_nats_errors(f"looking up `{name}`"):
            try:
                entry = await self._kv.get(kv_key(name))
            except nats.js.errors.KeyNotFoundError:
                return None
        if entry.value is None:
            return None
        registration = msgspec.msgpack.decode(entry.value, type=Registration)
        address = registration.address
        problem = address_problem(address)
        if problem is not None:  # anyone with access to the bucket can write it
            node.counters["invalid_address"] += 1
            raise InvalidAddress(f"looking up `{name}`: its registry entry is invalid: {problem}")
        if address.node != node.node_id:
            if await self.gone(address.node):
                with map_nats_errors(f"looking up `{name}`"):
                    await self._forget(kv_key(name), entry.revision)
                return None
            if not node.node_alive(address.node):
                return None  # unreachable: not released (it may come back), not offered
            node.liveness.contact(address.node)
        if registration.durable and address.node != node.node_id:
            subject = node.actor_subject(address)
            return RemoteRef(node, address, subject, durable_subject=node.durable.subject(name))
        return node.resolve(address)

    # ------------------------------------------------------------------ conflicts

    def reassert(self) -> None:
        """After a gap (a reconnect, a pause of the server, a stall of ours), make sure
        the registry still says we hold our names, in the background. Each round
        completed counts in ``rounds`` (on our heartbeats, see ``_liveness``)."""
        if self.node.closing:
            return
        if self._reasserting is not None and not self._reasserting.done():
            self._again = True  # the running round may have read before this gap
            return
        if self._kv is None or not self._held:
            self.rounds += 1
            return
        self._reasserting = self.node.spawn_task(self._reassert_all())

    async def _reassert_all(self) -> None:
        await self.node.connected.wait()  # the data connection: the bucket's
        self._again = True
        while self._again:
            self._again = False
            for name, claim in list(self._held.items()):
                if self._held.get(name) is not claim or claim.cell.state == CellState.STOPPED:
                    continue
                try:
                    await self._reassert(name, claim)
                except (*_NATS_ERRORS, msgspec.DecodeError) as exc:
                    # Counted as done all the same: a node kept down until every
                    # write succeeds would be worse than one name missing (logged).
                    log.warning("re-asserting a name failed", name=name, error=repr(exc))
        self.rounds += 1
        self.node.liveness.beat()  # tell the others at once, not a heartbeat later

    async def _reassert(self, name: str, claim: _Claim) -> None:
        node = self.node
        key = kv_key(name)
        value = self._mine(claim.cell, claim.revision)
        while True:
            try:
                entry = await self._kv.get(key)
            except nats.js.errors.KeyNotFoundError:
                entry = None
            if entry is None or entry.value is None:
                try:
                    await self._kv.create(key, value)
                    log.info("name re-asserted", name=name)
                    return
                except nats.js.errors.KeyWrongLastSequenceError:
                    continue  # taken meanwhile: see by whom
            theirs = msgspec.msgpack.decode(entry.value, type=Registration)
            holder = theirs.address
            if holder.node == node.node_id:
                # Ours: written again all the same, so that a release of our names
                # that read this entry while we were judged down fails its
                # conditional delete. If such a release came first, the entry is
                # gone: read again, and create it.
                try:
                    await self._kv.update(key, entry.value, last=entry.revision)
                except nats.js.errors.KeyWrongLastSequenceError:
                    continue
                return
            their_claim = theirs.claim or entry.revision
            ours_older = (claim.revision, node.node_id) < (their_claim, holder.node)
            if ours_older or await self.gone(holder.node):
                try:
                    await self._kv.update(key, value, last=entry.revision)
                except nats.js.errors.KeyWrongLastSequenceError:
                    continue
                log.warning("name conflict: our older claim wins", name=name, other=holder.node)
                node.liveness.send(holder.node, NameLost(name, holder.path, node.node_id))
                return
            self.lost(name, claim.cell.path, holder.node)
            return

    def lost(self, name: str, path: str, winner: str) -> None:
        """Another node's older claim on ``name`` won: our actor holding it stops with
        reason ``name_conflict`` (its release leaves the winner's entry alone)."""
        claim = self._held.get(name)
        system = self.node.system
        if claim is None or claim.cell.path != path or system is None:
            return
        log.warning("name conflict: an older claim wins", name=name, winner=winner, loser=path)
        system.publish(NameConflict(name, winner, path))
        self.node.spawn_task(claim.cell.stop(ExitReason.NAME_CONFLICT))

    # ------------------------------------------------------------------ dead nodes

    async def gone(self, node: str) -> bool:
        """Whether ``node`` has left the cluster: known to be down, or (a node this one
        has not heard from yet, e.g. it died before we started) nobody answers on its
        control subject. A node that answers late is taken to be alive."""
        here = self.node
        liveness = here.liveness
        if liveness.is_down(node):
            return True
        if liveness.status(node) is not None or here.data is None:
            return False
        subject = f"{here.base}.ctl.{node}"
        try:
            answer = await here.data.request(
                subject, PROBE, timeout=here.connect_timeout, headers=here.seal.sign(subject, PROBE)
            )
        except nats.errors.NoRespondersError:
            log.info("node gone: no responders on its control subject", node=node)
            liveness.node_down(node, release_names=True)
            return True
        except (nats.errors.Error, TimeoutError, OSError):
            return False  # late, or we cannot tell: assume it is there
        here.seal.check(answer)  # a forged "I am here" is counted; either way: not gone
        return False

    def back(self, node: str) -> None:
        """``node`` is up again: stop releasing its names (it re-asserts them)."""
        for task in list(self._purges):
            if task.get_name() == f"purge:{node}":
                task.cancel()

    def release_all_of(self, node: str) -> None:
        """Release, in the background, every name ``node`` held: it went down without
        releasing them."""
        if self._kv is None or self.node.closing:
            return
        task = self.node.spawn_task(self._purge(node))
        task.set_name(f"purge:{node}")
        self._purges.add(task)
        task.add_done_callback(self._purges.discard)

    async def _purge(self, node: str) -> None:
        is_down = self.node.liveness.is_down
        try:
            # Only while it is down: if it comes back meanwhile, its names stay.
            purged = await self._forget_all_of(node, lambda: is_down(node))
        except (*_NATS_ERRORS, msgspec.DecodeError) as exc:
            log.warning("releasing the names of a down node failed", node=node, error=repr(exc))
            return
        log.info("names of a down node released", node=node, names=purged)

    async def _forget_all_of(self, node: str, still: Callable[[], bool]) -> int:
        """Delete every entry held by ``node`` (each only as read), as long as
        ``still()``; how many it found."""
        forgotten = 0
        for key in await self._keys():
            if not still():
                break
            try:
                entry = await self._kv.get(key)
            except nats.js.errors.KeyNotFoundError:
                continue
            if entry.value is None:
                continue
            holder = msgspec.msgpack.decode(entry.value, type=Registration).address
            if holder.node == node:
                await self._forget(key, entry.revision)
                forgotten += 1
        return forgotten

    async def _forget(self, key: str, revision: int | None) -> None:
        """Delete an entry, unless it changed since it was read (its name was taken
        again meanwhile)."""
        try:
            await self._kv.delete(key, last=revision)
        except nats.js.errors.APIError as exc:
            # nats-py 2.16's delete() does not translate "wrong last sequence" into
            # KeyWrongLastSequenceError as update() does: match the server's codes.
            if exc.err_code not in _WRONG_LAST_SEQUENCE:
                raise

    async def _keys(self) -> list[str]:
        """Every key of the bucket, deleted ones included (their ``get`` fails). Read
        from the bucket's stream, not with ``KeyValue.keys()``, whose watcher leaves two
        nats-py tasks running after it stops (nats-py 2.16)."""
        data = self.node.data
        assert data is not None
        prefix = f"$KV.{self._bucket}."
        info = await data.jetstream().stream_info(
            f"KV_{self._bucket}", subjects_filter=prefix + ">"
        )
        return [subject[len(prefix) :] for subject in info.state.subjects or {}]


def registration_durable(cell: ActorCell) -> bool:
    """Whether the actor's mailbox is durable (``durable = True`` on its class)."""
    return bool(getattr(type(cell.actor), "durable", False))
