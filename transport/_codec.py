"""The wire codec: msgspec MessagePack payloads, the type named in the frame.

A message crosses the wire as ``(type name, payload)``, both inside one frame
(``_frame``, docs/wire.md). The receiving side decodes only
into types it has *registered*: an unknown name, malformed bytes or wrong fields raise
:class:`CodecError` (the transport turns that into a dead letter and keeps serving).
Nothing is ever unpickled.

``ActorRef``s may travel inside messages: they are encoded as a :class:`RefAddress`
(system, node, path) and decoded back through a resolver the transport supplies, so a
ref to a local actor comes back as that actor's ref and any other as a remote ref.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from actors import ActorRef
from actors.lowlevel import node_id_problem, path_problem

from ._errors import CodecError, InvalidAddress
from ._frame import head

__all__ = ["Codec", "RefAddress", "address_problem", "type_name"]


class RefAddress(msgspec.Struct, frozen=True, array_like=True):
    """Where an actor lives: enough for any node to send to it."""

    system: str
    node: str
    path: str


def address_problem(address: RefAddress) -> str | None:
    """What is wrong with an address from the wire (None: nothing): its node id goes
    into subjects unescaped, its path into subjects and headers."""
    problem = node_id_problem(address.node) or path_problem(address.path)
    if problem is None and address.path.split("/", 1)[0] != address.system:
        problem = f"the path must start with the system's name `{address.system[:64]}`"
    return problem


class _BadAddress(Exception):
    """Raised inside a decode (msgspec turns TypeError and ValueError from a hook into
    its own ValidationError, which would hide what was wrong); the decode re-raises it
    as ``InvalidAddress``."""


def type_name(cls: type) -> str:
    """The wire name of a message type: ``module:QualifiedName``."""
    return f"{cls.__module__}:{cls.__qualname__}"


class Codec:
    """Encodes messages to bytes and back, for registered types only.

    ``export`` turns a ref into a ``RefAddress`` (the transport makes local actors
    reachable as it does so); ``resolve`` turns an address back into a ref.
    """

    def __init__(
        self,
        types: Iterable[type] = (),
        *,
        export: Callable[[ActorRef], RefAddress],
        resolve: Callable[[RefAddress], ActorRef],
    ) -> None:
        self._export = export
        self._resolve = resolve
        self._encoder = msgspec.msgpack.Encoder(enc_hook=self._enc_hook)
        # Keyed by the name as text and as the frame's bytes, so a received frame's
        # name is looked up without decoding it first.
        self._decoders: dict[str | bytes, msgspec.msgpack.Decoder[Any]] = {}
        self._names: dict[type, str] = {}
        # The head of a plain frame (version, no flags, the name) of each registered
        # type -> its name: a receiver reads the common frame with one slice and one
        # look-up (a head found here is a well-formed version-1 head, nothing to check).
        self.plain_heads: dict[bytes, bytes] = {}
        self.register(*types)
        self.register(RefAddress)

    def register(self, *types: type) -> None:
        """Accept these types on the wire (both directions)."""
        for cls in types:
            name = type_name(cls)
            try:
                head(name)  # the frame's limit on the name's length
                decoder: msgspec.msgpack.Decoder[Any] = msgspec.msgpack.Decoder(
                    cls, dec_hook=self._dec_hook
                )
            except (TypeError, ValueError) as exc:
                raise CodecError(f"type `{cls.__qualname__}` cannot cross the wire: {exc}") from exc
            self._decoders[name] = self._decoders[name.encode()] = decoder
            self._names[cls] = name
            self.plain_heads[head(name)] = name.encode()

    def registered(self, cls: type) -> bool:
        return cls in self._names

    def encode(self, message: Any) -> tuple[str, bytes]:
        """``(type name, payload)``; raises CodecError naming an unregistered or
        unencodable type (at send time, so the sender learns it)."""
        cls = type(message)
        name = self._names.get(cls)
        if name is None:
            raise CodecError(
                f"`{cls.__qualname__}` is not registered with the transport; "
                f"register it (NatsTransport(types=[...])) to send it across nodes",
                message_type=cls.__qualname__,
            )
        try:
            return name, self._encoder.encode(message)
        except (TypeError, OverflowError, msgspec.EncodeError) as exc:
            raise CodecError(
                f"`{cls.__qualname__}` cannot be encoded: {exc}", message_type=cls.__qualname__
            ) from exc

    def encode_value(self, value: Any) -> bytes:
        """Encode an ask's answer (any msgspec-encodable value, refs included)."""
        try:
            return self._encoder.encode(value)
        except (TypeError, OverflowError, msgspec.EncodeError) as exc:
            raise CodecError(
                f"answer of type `{type(value).__qualname__}` cannot be encoded: {exc}"
            ) from exc

    def decode(self, name: str | bytes, payload: bytes | memoryview) -> Any:
        """The message of type ``name`` (as text, or as a frame's bytes) in ``payload``."""
        decoder = self._decoders.get(name)
        if decoder is None:
            if isinstance(name, bytes):
                name = name.decode(errors="replace")
            raise CodecError(f"unknown message type `{name[:256]}` (not registered here)")
        try:
            return decoder.decode(payload)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
            text = name.decode() if isinstance(name, bytes) else name  # registered: valid
            raise CodecError(f"malformed `{text}`: {exc}", message_type=text) from exc
        except _BadAddress as exc:
            text = name.decode() if isinstance(name, bytes) else name
            raise InvalidAddress(
                f"`{text}` holds a bad address: {exc}", message_type=text
            ) from None

    def decode_value(self, payload: bytes | memoryview, cls: type | None = None) -> Any:
        """Decode an ask's answer: untyped (plain msgpack data, refs resolved where a
        ``RefAddress`` was sent), or into ``cls`` when given."""
        try:
            if cls is not None:
                return msgspec.msgpack.decode(payload, type=cls, dec_hook=self._dec_hook)
            return msgspec.msgpack.decode(payload)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
            raise CodecError(f"malformed answer: {exc}") from exc
        except _BadAddress as exc:
            raise InvalidAddress(f"the answer holds a bad address: {exc}") from None

    def _enc_hook(self, obj: Any) -> Any:
        if isinstance(obj, ActorRef):
            return self._export(obj)
        raise TypeError(f"`{type(obj).__qualname__}` is not encodable")

    def _dec_hook(self, cls: type, obj: Any) -> Any:
        if cls is ActorRef or (isinstance(cls, type) and issubclass(cls, ActorRef)):
            address = msgspec.convert(obj, RefAddress)
            problem = address_problem(address)
            if problem is not None:
                raise _BadAddress(problem)
            return self._resolve(address)
        raise TypeError(f"cannot decode `{cls!r}`")
