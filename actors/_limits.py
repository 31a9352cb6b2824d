"""The limits on the names a system, a node and an actor can have, in one place.

Every one of these ends up in a NATS subject, where escaping can triple a byte
(``%2E``), and nats-server resets a connection whose control line (the ``PUB``/``HPUB``
line: subject, reply subject and sizes) is longer than 4,096 bytes. With the limits
below, the longest subject we build (an actor's: ``<prefix>.<system>.node.<node>.a.
<path>``, all escaped) is under 2,000 bytes and a request's control line under 2,500:
well clear of the server's limit, whatever the user picked.

Characters: a name or a path segment may hold anything printable (the subject
encoding escapes the rest), but no control character: names travel in NATS headers
(``Sender-Path``), where a CR or LF would end the header, and in log lines. A node id
goes into subjects unescaped, so it is plain ``[-_a-zA-Z0-9]``.

The same checks guard the local API (a ``ValueError`` stating the rule) and the wire
(where a field breaking them is a dead letter, never a publish).
"""

from __future__ import annotations

import re

__all__ = [
    "MAX_NAME_BYTES",
    "MAX_NODE_ID_BYTES",
    "MAX_PATH_BYTES",
    "MAX_SYSTEM_NAME_BYTES",
    "check_name",
    "check_child_path",
    "check_node_id",
    "check_path",
    "check_system_name",
    "name_problem",
    "node_id_problem",
    "path_problem",
]

MAX_SYSTEM_NAME_BYTES = 64
MAX_NODE_ID_BYTES = 64
MAX_NAME_BYTES = 128
MAX_PATH_BYTES = 512

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NOT_PLAIN = re.compile(r"[^-_a-zA-Z0-9]")


def _utf8_size(text: str) -> int:
    # ``isascii`` reads a flag CPython keeps on the string: no encoding for the
    # common case, and spawn checks a path every time.
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _segment_problem(text: object, what: str, limit: int) -> str | None:
    if not isinstance(text, str):
        return f"{what} must be a str, got {type(text).__name__}"
    if not text:
        return f"{what} must not be empty"
    size = _utf8_size(text)
    if size > limit:
        return f"{what} must be at most {limit} bytes in UTF-8, got {size}"
    if "/" in text:
        return f"{what} must not contain '/'"
    if _CONTROL.search(text):
        return f"{what} must not contain control characters (such as newlines)"
    return None


def name_problem(name: object) -> str | None:
    """What is wrong with an actor name (None: nothing)."""
    return _segment_problem(name, "an actor name", MAX_NAME_BYTES)


def path_problem(path: object) -> str | None:
    """What is wrong with an actor path (``system/parent/.../name``), None if nothing."""
    if not isinstance(path, str):
        return f"an actor path must be a str, got {type(path).__name__}"
    size = _utf8_size(path)
    if size > MAX_PATH_BYTES:
        return f"an actor path must be at most {MAX_PATH_BYTES} bytes in UTF-8, got {size}"
    segments = path.split("/")
    first = _segment_problem(segments[0], "a path's system name", MAX_SYSTEM_NAME_BYTES)
    if first is not None:
        return first
    for segment in segments[1:]:
        problem = _segment_problem(segment, "a path segment", MAX_NAME_BYTES)
        if problem is not None:
            return problem
    return None


def node_id_problem(node_id: object) -> str | None:
    """What is wrong with a node id (None: nothing)."""
    if not isinstance(node_id, str):
        return f"node_id must be a str, got {type(node_id).__name__}"
    if not node_id or len(node_id) > MAX_NODE_ID_BYTES or _NOT_PLAIN.search(node_id):
        rule = f"[-_a-zA-Z0-9]{{1,{MAX_NODE_ID_BYTES}}}"
        return f"node_id must match {rule} (it goes into subjects unescaped)"
    return None


def _check(problem: str | None, value: object) -> None:
    if problem is not None:
        shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
        raise ValueError(f"{problem}; got {shown}")


def check_name(name: object) -> None:
    """Raise ``ValueError`` stating the rule if ``name`` is not a valid actor name."""
    _check(name_problem(name), name)


def check_path(path: object) -> None:
    """Raise ``ValueError`` stating the rule if ``path`` is not a valid actor path."""
    _check(path_problem(path), path)


def check_child_path(parent_path: str, name: str) -> None:
    """``check_path(f"{parent_path}/{name}")`` for a ``parent_path`` that is already a
    valid path (an existing actor's): only the new segment and the total size are
    checked, not every ancestor again (spawn's hot path)."""
    _check(_segment_problem(name, "a path segment", MAX_NAME_BYTES), name)
    size = _utf8_size(parent_path) + 1 + _utf8_size(name)
    if size > MAX_PATH_BYTES:
        path = f"{parent_path}/{name}"
        _check(f"an actor path must be at most {MAX_PATH_BYTES} bytes in UTF-8, got {size}", path)


def check_system_name(name: object) -> None:
    """Raise ``ValueError`` stating the rule if ``name`` is not a valid system name."""
    _check(_segment_problem(name, "a system name", MAX_SYSTEM_NAME_BYTES), name)


def check_node_id(node_id: object) -> None:
    """Raise ``ValueError`` stating the rule if ``node_id`` is not a valid node id."""
    _check(node_id_problem(node_id), node_id)
