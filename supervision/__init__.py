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
    "AutoShutdown",
    "Backoff",
    "BRUTAL_KILL",
    "ChildCounts",
    "ChildError",
    "ChildInfo",
    "ChildSpec",
    "ChildStartError",
    "ChildType",
    "load_spec",
    "Restart",
    "RestartIntensityExceeded",
    "SpecError",
    "Strategy",
    "Supervisor",
    "SupervisorError",
    "SupervisorRef",
    "SupervisorSpec",
]

# Reprs and tracebacks say `supervision.X`, not the private module. msgspec resolves a
# Struct's annotations in the namespace of its ``__module__``, so each Struct's type
# information is built (and cached by msgspec) before the rename.
for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("supervision._"):
        if isinstance(_obj, type) and issubclass(_obj, msgspec.Struct):
            msgspec.json.Decoder(_obj)
        _obj.__module__ = "supervision"
del _name, _obj
