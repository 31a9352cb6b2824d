"""How names become NATS subjects, KV keys, stream, bucket and consumer names (and back).

One encoding for all of them, ``escape``: ASCII letters, digits and ``-`` stay as they
are; every other byte of the UTF-8 text, ``_`` included, becomes ``_`` and two lowercase
hex digits. No two texts share an encoding (an ``_`` always starts an escape of exactly
three characters, so the text decodes back: see ``unescape``), and the result is a valid
subject token, KV key, and stream, bucket or consumer name. A name made of several parts
(``wire_name``) joins their encodings with ``__``, which no encoding contains: two
different tuples of parts never share a name either. Node ids are plain already
(``[-_a-zA-Z0-9]``, checked at construction) and go into subjects as they are.
"""

from __future__ import annotations

import functools
import re

__all__ = [
    "escape",
    "is_plain",
    "kv_key",
    "path_tokens",
    "subject_token",
    "tokens_path",
    "unescape",
    "wire_name",
]

_KEPT = re.compile(r"[-A-Za-z0-9]*")


@functools.lru_cache(maxsize=8192)
def escape(text: str) -> str:
    """``text`` as ``[-A-Za-z0-9]`` and ``_xx`` escapes: injective, and reversible."""
    if _KEPT.fullmatch(text):
        return text
    out: list[str] = []
    for byte in text.encode("utf-8", "surrogatepass"):
        char = chr(byte)
        out.append(char if byte < 0x80 and _KEPT.fullmatch(char) else f"_{byte:02x}")
    return "".join(out)


def unescape(token: str) -> str:
    """The text ``escape`` encoded as ``token``."""
    if "_" not in token:
        return token
    data = bytearray()
    at = 0
    while at < len(token):
        if token[at] == "_":
            data.append(int(token[at + 1 : at + 3], 16))
            at += 3
        else:
            data.append(ord(token[at]))
            at += 1
    return data.decode("utf-8", "surrogatepass")


def subject_token(text: str) -> str:
    """``text`` as one NATS subject token (never empty: ``""`` is ``_``, which no
    other text encodes to)."""
    return escape(text) or "_"


def path_tokens(path: str) -> str:
    """An actor path as subject tokens: one per ``/``-separated segment."""
    return ".".join(subject_token(segment) for segment in path.split("/"))


@functools.lru_cache(maxsize=8192)
def tokens_path(tokens: str) -> str:
    """The actor path a subject's tokens name (cached: a node sees few distinct ones)."""
    return "/".join("" if token == "_" else unescape(token) for token in tokens.split("."))


def kv_key(name: str) -> str:
    """The registry's KV key for an actor name."""
    return subject_token(name)


def wire_name(*parts: str) -> str:
    """A stream, bucket or consumer name made of ``parts`` (e.g. the prefix, the system
    name and a kind): each escaped, joined with ``__``."""
    return "__".join(subject_token(part) for part in parts)


# What every NATS name accepts: node ids, stream, bucket and consumer names, KV keys.
_NOT_PLAIN = re.compile(r"[^-_a-zA-Z0-9]")


def is_plain(text: str) -> bool:
    """Whether ``text`` is non-empty and only ``[-_a-zA-Z0-9]`` (a valid node id)."""
    return bool(text) and _NOT_PLAIN.search(text) is None
