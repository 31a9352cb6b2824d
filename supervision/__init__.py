"""Supervision trees: OTP's supervisor semantics on asyncio TaskGroups.

Build a tree from ``SupervisorSpec``/``ChildSpec`` (in Python, or loaded from TOML, YAML
or JSON with ``load_spec``) and start it with ``system.spawn_tree(spec)``; the returned
``SupervisorRef`` carries the dynamic API (``start_child``, ``which_children`` ...).
"""

from actors.lowlevel import present_as as _present_as

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

_present_as("actors.supervision", globals(), __all__)
