"""The public surface of ``actors``: one import, a sorted and complete ``__all__``,
reprs that say ``actors.X``, and a core that loads neither ``supervision`` nor
``transport``."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import pytest

import actors

# The names of `actors` that the guides (docs/) teach: each stays public.
DESIGN_NAMES = [
    "Actor",
    "ActorRef",
    "ActorSystem",
    "Mailbox",
    "Overflow",
    "Priority",
    "Terminated",
    "DeadLetter",
    "run",
    "MailboxClosed",
    "MailboxFull",
    "AskTimeout",
    "ActorNotFound",
    "ActorCrashed",
    # "the lifecycle events"
    "LifecycleEvent",
    "ActorStarted",
    "ActorStopped",
    "ActorFailed",
    "ActorRestarted",
    "SupervisorEscalated",
]


def public_names() -> set[str]:
    """Names bound in ``actors`` that do not start with ``_``, modules excepted (the
    private implementation modules and the libraries ``__init__`` imports)."""
    return {
        name
        for name, value in vars(actors).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }


def test_all_sorted_case_insensitively() -> None:
    assert actors.__all__ == sorted(actors.__all__, key=str.casefold)


def test_all_has_no_duplicates() -> None:
    assert len(actors.__all__) == len(set(actors.__all__))


def test_all_equals_public_names() -> None:
    assert set(actors.__all__) == public_names()


@pytest.mark.parametrize("name", DESIGN_NAMES)
def test_all_contains_design_name(name: str) -> None:
    assert name in actors.__all__
    assert getattr(actors, name) is not None


def test_overflow_has_design_members() -> None:
    assert {member.name for member in actors.Overflow} >= {
        "WAIT",
        "DROP_NEWEST",
        "DROP_OLDEST",
        "FAIL",
    }


def test_ask_timeout_is_timeout_error_and_actors_error() -> None:
    assert issubclass(actors.AskTimeout, TimeoutError)
    assert issubclass(actors.AskTimeout, actors.ActorsError)


@pytest.mark.parametrize(
    "name", ["MailboxClosed", "MailboxFull", "AskTimeout", "ActorNotFound", "ActorCrashed"]
)
def test_error_derives_from_actors_error(name: str) -> None:
    assert issubclass(getattr(actors, name), actors.ActorsError)


def test_public_classes_and_functions_module_is_actors() -> None:
    """Reprs and tracebacks say ``actors.X``, never the private module."""
    wrong = {
        name: value.__module__
        for name in actors.__all__
        if inspect.isclass(value := getattr(actors, name)) or inspect.isfunction(value)
        if value.__module__ != "actors"
    }
    assert wrong == {}


def test_import_actors_loads_neither_supervision_nor_transport() -> None:
    code = (
        "import json, sys\n"
        "import actors\n"
        "print(json.dumps(sorted(m for m in sys.modules\n"
        "    if m.split('.')[0] in ('supervision', 'transport'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert json.loads(result.stdout) == []
