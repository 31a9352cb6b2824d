"""How a package presents its public names (used by each package's ``__init__``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

__all__ = ["present_as"]


def present_as(package: str, namespace: dict[str, Any], names: Iterable[str]) -> None:
    """Make reprs and tracebacks say ``package.X``, not the private module.

    msgspec resolves a Struct's annotations in the namespace of its ``__module__``, so
    each Struct's type information is built (and cached by msgspec) before the rename.
    """
    for name in names:
        obj = namespace[name]
        if not (isinstance(obj, type) or callable(obj)):
            continue  # constants (NO_REPLY) keep their class's module
        if getattr(obj, "__module__", "").startswith(f"{package}._"):
            if isinstance(obj, type) and issubclass(obj, msgspec.Struct):
                msgspec.json.Decoder(obj)
            obj.__module__ = package
