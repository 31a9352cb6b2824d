"""The exceptions of the supervision layer.

::

    actors.ActorsError
    └── SupervisorError
        ├── SpecError (also ValueError)   a spec or spec file is invalid; names the field
        ├── ChildStartError               a child failed to start; names the child id
        ├── RestartIntensityExceeded      too many restarts: the supervisor gave up
        └── ChildError                    a dynamic-API request that cannot be done:
                                          already present / started, running, restarting,
                                          not found, or not allowed for simple_one_for_one

``ChildError.reason`` is one of ``"already_present"``, ``"already_started"``,
``"running"``, ``"restarting"``, ``"not_found"``, ``"simple_one_for_one"`` (OTP's error
atoms), for code that must tell them apart.
"""

from __future__ import annotations

from actors import ActorsError

__all__ = [
    "ChildError",
    "ChildStartError",
    "RestartIntensityExceeded",
    "SpecError",
    "SupervisorError",
]


class SupervisorError(ActorsError):
    """Base class of the supervision errors."""


class SpecError(SupervisorError, ValueError):
    """Raised for an invalid ``ChildSpec``/``SupervisorSpec`` or spec file."""


class ChildStartError(SupervisorError):
    """Raised when a child fails to start; ``child_id`` names it, the child's own
    exception is the ``__cause__``."""

    def __init__(self, text: str, *, child_id: str, actor: str | None = None) -> None:
        super().__init__(text, actor=actor)
        self.child_id = child_id


class RestartIntensityExceeded(SupervisorError):
    """The reason a supervisor fails when more than ``max_restarts`` restarts happen
    within ``within`` seconds. Its parent sees it as a child failure."""


class ChildError(SupervisorError):
    """Raised by the dynamic API (``start_child``, ``terminate_child``, ...) when the
    request cannot be done; ``reason`` says why."""

    def __init__(self, text: str, *, reason: str, actor: str | None = None) -> None:
        super().__init__(text, actor=actor)
        self.reason = reason
