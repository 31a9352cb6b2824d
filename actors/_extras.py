"""Optional dependencies, imported when first used.

The base install is what every user needs (msgspec, structlog, uvloop); NATS, YAML specs
and Prometheus text are extras. ``import actors`` imports none of them, so a program
that does not use one neither pays for it nor needs it installed; one that does and
lacks it gets an error naming the extra to install.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["require"]


def require(module: str, extra: str, feature: str) -> ModuleType:
    """Import ``module`` (of the extra ``extra``, needed for ``feature``); ImportError
    saying which extra to install when it is missing."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{feature} needs the `{module}` module, which is not installed: "
            f"pip install 'actors-runtime[{extra}]'",
            name=module,
        ) from exc
