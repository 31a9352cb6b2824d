"""Supervision trees: OTP's supervisor semantics on asyncio TaskGroups.

Build a tree from ``SupervisorSpec``/``ChildSpec`` (in Python, or loaded from TOML, YAML
or JSON with ``load_spec``) and start it with ``system.spawn_tree(spec)``; the returned
``SupervisorRef`` carries the dynamic API (``start_child``, ``which_children`` ...).
"""

import msgspec

from ._errors import (
    ChildError,
    ChildStartError,
    RestartIntensityExceeded,
    SpecError,
    SupervisorError,
)
from ._loader import load_spec
from ._spec import (
    BRUTAL_KILL,
    AutoShutdown,
    Backoff,
    ChildSpec,
    ChildType,
    Restart,
    Strategy,
    SupervisorSpec,
)
from ._supervisor import ChildCounts, ChildInfo, Supervisor, SupervisorRef

__all__ = [
    "BRUTAL_KILL",
    "AutoShutdown",
    "Backoff",
    "ChildCounts",
    "ChildError",
    "ChildInfo",
    "ChildSpec",
    "ChildStartError",
    "ChildType",
    "Restart",
    "RestartIntensityExceeded",
    "SpecError",
    "Strategy",
    "Supervisor",
    "SupervisorError",
    "SupervisorRef",
    "SupervisorSpec",
    "load_spec",
]

# Reprs and tracebacks say `supervision.X`, not the private module. Not for msgspec Structs:
# msgspec resolves their annotations in the namespace of ``__module__``.
for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("supervision._") and not (
        isinstance(_obj, type) and issubclass(_obj, msgspec.Struct)
    ):
        _obj.__module__ = "supervision"
del _name, _obj
