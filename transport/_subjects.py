"""How names become NATS subjects and KV keys (and back)."""

from __future__ import annotations

import functools
import re
import urllib.parse

__all__ = ["kv_key", "path_tokens", "subject_token", "tokens_path"]


def subject_token(text: str) -> str:
    """Escape text into one NATS subject token (no '.', '*', '>', whitespace)."""
    return urllib.parse.quote(text, safe="!$&'()+,;=:@-_~").replace(".", "%2E")


def path_tokens(path: str) -> str:
    return ".".join(subject_token(segment) for segment in path.split("/"))


@functools.lru_cache(maxsize=8192)
def tokens_path(tokens: str) -> str:
    """The actor path a subject's tokens name (cached: a node sees few distinct ones)."""
    return "/".join(urllib.parse.unquote(token) for token in tokens.split("."))


_KV_SAFE = re.compile(r"[-_a-zA-Z0-9]+")


def kv_key(name: str) -> str:
    """A JetStream KV key for an actor name (keys allow only [-/_=.a-zA-Z0-9])."""
    if _KV_SAFE.fullmatch(name):
        return name
    return "=" + name.encode().hex()
