"""The cluster-wide registry of actor names: a JetStream KV bucket, one entry per name.

``<prefix>_<system>_names`` maps a name to the address of the actor holding it (and
whether its mailbox is durable). A node registers a name when a named actor starts,
and releases it when the actor stops; the name's subject (``P.name.<name>``) is
subscribed on the same node meanwhile.

A node that dies cannot release its names, so the survivors do: see ``release_all_of``
(called when a node goes silent) and ``gone`` (a node this one never heard from is
probed on its control subject). Every takeover and deletion is conditional on the
revision read, so two nodes racing for a dead node's name cannot both win, and a name
taken again meanwhile is never deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import msgspec
import nats.errors
import nats.js.errors
from nats.aio.msg import Msg

from actors import ActorRef
from actors.lowlevel import ActorCell, get_logger

from ._codec import address_problem
from ._errors import InvalidAddress, TransportUnavailable
from ._remote import RemoteRef
from ._subjects import kv_key, plain_name
from ._wire import PROBE, Registration, map_nats_errors

if TYPE_CHECKING:
    from ._node import Node

__all__ = ["Registry"]

log = get_logger("actors.transport")

# JetStream's error codes for a conditional write that lost the race.
_WRONG_LAST_SEQUENCE = (10071, 10164)


class Registry:
    """The names of a system, shared by all its nodes."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self._kv: Any = None
        self._bucket = ""
        self._subs: dict[str, Any] = {}  # name -> the subscription on its subject
        self._releases: set[asyncio.Task[Any]] = set()  # names being released
        self._purges: set[asyncio.Task[Any]] = set()  # names of down nodes being released

    async def open(self) -> None:
        """Open the bucket, creating it if this is the first node."""
        node = self.node
        assert node.data is not None and node.system is not None
        js = node.data.jetstream()
        bucket = self._bucket = plain_name(f"{node.prefix}_{node.system.name}_names")
        try:
            self._kv = await js.key_value(bucket)
        except nats.js.errors.BucketNotFoundError:
            try:
                self._kv = await js.create_key_value(bucket=bucket, history=1)
            except nats.js.errors.BadRequestError:
                self._kv = await js.key_value(bucket)  # another node created it first

    def close(self) -> None:
        for task in self._purges:
            task.cancel()  # another node releases them (or the next one to look up)

    async def register(self, name: str, cell: ActorCell) -> None:
        node = self.node
        data, system = node.data, node.system
        assert data is not None and self._kv is not None and system is not None
        durable = bool(getattr(type(cell.actor), "durable", False))
        value = msgspec.msgpack.encode(Registration(node.export(cell.ref), durable))
        key = kv_key(name)
        with map_nats_errors(f"registering `{name}`"):
            while True:
                try:
                    await self._kv.create(key, value)
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
                    await self._kv.update(key, value, last=entry.revision)
                    break
                except nats.js.errors.KeyWrongLastSequenceError:
                    continue
            on_named_message = node.messaging.on_named_message

            async def on_named(msg: Msg) -> None:
                on_named_message(name, msg)

            self._subs[name] = await data.subscribe(node.subject("name", name), cb=on_named)
            await node.messaging.caught_up()  # reachable by name, cluster-wide, on return
            if durable:
                await node.durable.open(name, cell)

    def unregister(self, name: str) -> None:
        task = self.node.spawn_task(self._release(name))
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)

    async def settle(self) -> None:
        if self._releases:
            await asyncio.gather(*self._releases, return_exceptions=True)

    async def _release(self, name: str) -> None:
        sub = self._subs.pop(name, None)
        durable = self.node.durable.detach(name)
        with contextlib.suppress(nats.errors.Error, nats.js.errors.Error, OSError):
            if sub is not None:
                await sub.unsubscribe()
            if durable is not None:
                # The consumer stays: queued messages wait for the next incarnation.
                await durable.unsubscribe()
            await self._kv.delete(kv_key(name))

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
        if address.node != node.node_id and await self.gone(address.node):
            with map_nats_errors(f"looking up `{name}`"):
                await self._forget(kv_key(name), entry.revision)
            return None
        if registration.durable and address.node != node.node_id:
            subject = node.actor_subject(address)
            return RemoteRef(node, address, subject, durable_subject=node.durable.subject(name))
        return node.resolve(address)

    # ------------------------------------------------------------------ dead nodes

    async def gone(self, node: str) -> bool:
        """Whether ``node`` has left the cluster: known to be down, or (a node this one
        has not heard from yet, e.g. it died before we started) nobody answers on its
        control subject. A node that answers late is taken to be alive."""
        here = self.node
        liveness = here.liveness
        if node in liveness.down:
            return True
        if node in liveness.peers or here.data is None:
            return False
        try:
            await here.data.request(f"{here.base}.ctl.{node}", PROBE, timeout=here.connect_timeout)
        except nats.errors.NoRespondersError:
            log.info("node gone: no responders on its control subject", node=node)
            liveness.node_down(node, release_names=True)
            return True
        except (nats.errors.Error, TimeoutError, OSError):
            return False  # late, or we cannot tell: assume it is there
        return False

    def release_all_of(self, node: str) -> None:
        """Release, in the background, every name ``node`` held: it went down without
        releasing them."""
        if self._kv is None or self.node.closing:
            return
        task = self.node.spawn_task(self._purge(node))
        self._purges.add(task)
        task.add_done_callback(self._purges.discard)

    async def _purge(self, node: str) -> None:
        purged = 0
        try:
            for key in await self._keys():
                try:
                    entry = await self._kv.get(key)
                except nats.js.errors.KeyNotFoundError:
                    continue
                if entry.value is None:
                    continue
                holder = msgspec.msgpack.decode(entry.value, type=Registration).address
                if holder.node == node:
                    await self._forget(key, entry.revision)
                    purged += 1
        except (nats.errors.Error, nats.js.errors.Error, OSError, msgspec.DecodeError) as exc:
            log.warning("releasing the names of a down node failed", node=node, error=repr(exc))
            return
        log.info("names of a down node released", node=node, names=purged)

    async def _forget(self, key: str, revision: int | None) -> None:
        """Delete an entry of a node that is gone, unless it changed since it was read
        (its name was taken again meanwhile)."""
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
