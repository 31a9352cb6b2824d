"""The wire format of actor messages: one versioned frame per NATS message, no headers.

A tell, an ask, an answer, a durable tell and a forwarded event are each one frame
(docs/wire.md)::

    byte 0      VERSION (1)
    byte 1      flags: EXTRAS (an extras block follows the name), ERROR (the name is
                an error kind and the body its UTF-8 text)
    byte 2      n, the length of the name (0: an untyped answer)
    3 .. 3+n    the name: the message's registered type name, UTF-8
    [EXTRAS]    2 bytes big-endian m, then m bytes: ``Extras`` in MessagePack
    the rest    the body: the message in MessagePack

Why not NATS headers: nats-py's header encoding and parsing were the largest CPU cost
of a remote tell on both sides (docs/performance.md). The common case (no sender, no
trace) is a prefix built once per type followed by the body; reading it is three byte
reads and one slice. Every part of a frame is hostile until checked: ``parse`` raises
``FrameError`` for another version, unknown flags or a truncated frame, and ``Extras``
is decoded with its types enforced (the addresses in it are checked by the receiver).
"""

from __future__ import annotations

import functools

import msgspec

__all__ = [
    "ERROR",
    "EXTRAS",
    "VERSION",
    "Extras",
    "FrameError",
    "error_frame",
    "frame",
    "head",
    "parse",
    "seen_version",
]

VERSION = 1
"""The wire version this node speaks; a frame of any other is refused."""

EXTRAS = 0x01
ERROR = 0x02
_KNOWN_FLAGS = EXTRAS | ERROR
_MAX_NAME = 255  # one length byte
_MAX_EXTRAS = 0xFFFF  # two length bytes


class FrameError(ValueError):
    """A frame this node cannot read: another version, or malformed. ``version`` is the
    version byte seen (None: no frame at all)."""

    def __init__(self, text: str, version: int | None = None) -> None:
        super().__init__(text)
        self.version = version


class Extras(msgspec.Struct, array_like=True, omit_defaults=True, frozen=True):
    """What a frame carries besides the type and the body, only when there is some:
    the sending actor (a tell from inside one), the W3C trace context, and for an
    event its origin node and topic."""

    sender_node: str = ""
    sender_path: str = ""
    trace: str = ""
    origin: str = ""
    topic: str | None = None


_extras_encoder = msgspec.msgpack.Encoder()
_extras_decoder = msgspec.msgpack.Decoder(Extras)


@functools.lru_cache(maxsize=4096)
def head(name: str, flags: int = 0) -> bytes:
    """The bytes before a frame's extras and body, for a message named ``name``:
    built once per name and flags (a node sends few distinct types)."""
    raw = name.encode()
    if len(raw) > _MAX_NAME:
        raise ValueError(
            f"the type name `{name[:64]}...` is {len(raw)} bytes; the wire format takes "
            f"at most {_MAX_NAME}: give the class a shorter module path or name"
        )
    return bytes((VERSION, flags, len(raw))) + raw


def frame(name: str, body: bytes, extras: Extras | None = None) -> bytes:
    """The frame of a message of type ``name`` encoded as ``body``."""
    if extras is None:
        return head(name) + body
    block = _extras_encoder.encode(extras)
    if len(block) > _MAX_EXTRAS:
        raise ValueError(f"the frame's extras are {len(block)} bytes; at most {_MAX_EXTRAS}")
    return b"".join((head(name, EXTRAS), len(block).to_bytes(2, "big"), block, body))


def error_frame(kind: str, text: str) -> bytes:
    """The frame of an error answer: the kind in the name, the text in the body."""
    return head(kind, ERROR) + text.encode()


def parse(data: bytes) -> tuple[bytes, int, Extras | None, memoryview]:
    """``(name, flags, extras, body)`` of a received frame; ``FrameError`` says why it
    cannot be read. The name stays bytes: the codec's decoders are keyed by it."""
    if len(data) < 3:
        raise FrameError(f"a frame of {len(data)} bytes (at least 3)", data[0] if data else None)
    version, flags, end = data[0], data[1], 3 + data[2]
    if version != VERSION:
        raise FrameError(f"wire version {version}; this node speaks version {VERSION}", version)
    if flags & ~_KNOWN_FLAGS:
        raise FrameError(f"unknown frame flags {flags:#04x}", version)
    if len(data) < end:
        raise FrameError(f"a frame cut inside its type name ({len(data)} bytes)", version)
    name = data[3:end]
    extras = None
    if flags & EXTRAS:
        start = end + 2
        end = start + int.from_bytes(data[end:start], "big")
        if len(data) < end:
            raise FrameError(f"a frame cut inside its extras ({len(data)} bytes)", version)
        try:
            extras = _extras_decoder.decode(memoryview(data)[start:end])
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise FrameError(f"malformed frame extras: {exc}", version) from None
    return name, flags, extras, memoryview(data)[end:]


def seen_version(data: bytes, headers: dict[str, str] | None) -> str:
    """What a sender spoke, for the message refusing its frame: a node of before the
    versioned format put the type in a header (``Actor-Type``) instead."""
    if headers and "Actor-Type" in headers:
        return "the unversioned header format (a node of before wire version 1)"
    if not data:
        return "an empty message"
    return f"wire version {data[0]}"
