"""How names become NATS subjects and KV keys (and back)."""

from __future__ import annotations

import functools
import re
import urllib.parse

__all__ = ["is_plain", "kv_key", "path_tokens", "plain_name", "subject_token", "tokens_path"]


def subject_token(text: str) -> str:
    """Escape text into one NATS subject token (no '.', '*', '>', whitespace)."""
    return urllib.parse.quote(text, safe="!$&'()+,;=:@-_~").replace(".", "%2E")


def path_tokens(path: str) -> str:
    return ".".join(subject_token(segment) for segment in path.split("/"))


@functools.lru_cache(maxsize=8192)
def tokens_path(tokens: str) -> str:
    """The actor path a subject's tokens name (cached: a node sees few distinct ones)."""
    return "/".join(urllib.parse.unquote(token) for token in tokens.split("."))


# What every NATS name accepts: node ids, stream, bucket and consumer names, KV keys.
_NOT_PLAIN = re.compile(r"[^-_a-zA-Z0-9]")


def is_plain(text: str) -> bool:
    """Whether ``text`` is non-empty and only ``[-_a-zA-Z0-9]``."""
    return bool(text) and _NOT_PLAIN.search(text) is None


def plain_name(text: str) -> str:
    """``text`` with every character a stream, bucket or consumer name refuses
    replaced by ``_`` (readable in the server's listings; not reversible)."""
    return _NOT_PLAIN.sub("_", text)


def kv_key(name: str) -> str:
    """A JetStream KV key for an actor name (keys allow only [-/_=.a-zA-Z0-9])."""
    if is_plain(name):
        return name
    return "=" + name.encode().hex()
