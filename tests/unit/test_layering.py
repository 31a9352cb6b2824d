"""The layering DESIGN.md fixes, checked on the sources (parsed with ``ast``).

``actors`` is the core; ``actors.supervision`` (``supervision/``) and
``actors.transport`` (``transport/``) build on its public API and on
``actors.lowlevel`` only: no import of a private core module, no underscore attribute
of anything but ``self``/``cls``. The core imports neither, except the command line
(``actors/_cli.py``, ``actors/__main__.py``), which is the application on top of all
three packages rather than part of the core.
"""

from __future__ import annotations

import ast
import pathlib
from collections.abc import Iterator

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGES = {
    "actors": ROOT / "actors",
    "actors.supervision": ROOT / "supervision",
    "actors.transport": ROOT / "transport",
}
BUILT_ON_THE_CORE = ("actors.supervision", "actors.transport")

# The command line is the application on top of the three packages (it loads spec
# files with actors.supervision), not part of the core.
CORE_EXEMPT = {"_cli.py", "__main__.py"}

# nats-py internals we rely on (nats-py is pinned with a compatible-release specifier
# for this reason), each written in transport/_connections.py or transport/_wire.py:
NATS_PY_INTERNALS = {
    # Client._send_ping(future): a ping whose PONG future we own, because rtt()'s
    # timeout leaves a cancelled future queued that breaks the read loop.
    "client._send_ping",
    # Client._subs / Subscription._wait_for_msgs_task: nats-py cancels these tasks on
    # close without awaiting them; we await them so no task outlives the system.
    "client._subs",
    "sub._wait_for_msgs_task",
    # Client._pending / _pending_data_size: dropped before closing a reconnecting
    # client, whose close() would write them to the dead socket and raise; and filled
    # by the writer with a batch's PUB commands (transport/_wire.py, Writer._hand_over).
    "client._pending",
    "client._pending_data_size",
    # Client._transport: the stream of a failed connection attempt, closed from the
    # error callback (nats-py opens the next attempt over it without closing it).
    "client._transport",
}


def sources(package: str) -> Iterator[tuple[pathlib.Path, ast.Module]]:
    for path in sorted(PACKAGES[package].rglob("*.py")):
        yield path, ast.parse(path.read_text(), filename=str(path))


def imported_modules(path: pathlib.Path, tree: ast.Module, package: str) -> Iterator[str]:
    """Every module ``tree`` imports, relative imports made absolute."""
    here = [*package.split("."), path.stem]  # level 1 drops the stem ("__init__" too)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            yield module
            # `from actors import _cell` imports a module too.
            yield from (f"{module}.{alias.name}" for alias in node.names)


def package_of(module: str) -> str | None:
    for package in sorted(PACKAGES, key=len, reverse=True):
        if module == package or module.startswith(package + "."):
            return package
    if module in ("supervision", "transport") or module.startswith(("supervision.", "transport.")):
        return f"actors.{module.split('.')[0]}"  # the top-level names must not be used
    return None


def test_no_private_core_module_is_imported_outside_the_core() -> None:
    offenders = []
    for package in BUILT_ON_THE_CORE:
        for path, tree in sources(package):
            for module in imported_modules(path, tree, package):
                parts = module.split(".")
                if parts[0] == "actors" and len(parts) > 1 and parts[1].startswith("_"):
                    offenders.append(f"{path.relative_to(ROOT)}: {module}")
    assert offenders == []


def test_outside_the_core_underscore_attributes_belong_to_self_only() -> None:
    offenders = []
    used_internals = set()
    for package in BUILT_ON_THE_CORE:
        for path, tree in sources(package):
            for node in ast.walk(tree):
                if not isinstance(node, ast.Attribute):
                    continue
                name = node.attr
                if not name.startswith("_") or name.startswith("__"):
                    continue
                owner = node.value
                if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                    continue
                written = f"{ast.unparse(owner)}.{name}"
                if written in NATS_PY_INTERNALS:
                    used_internals.add(written)
                    continue
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {written}")
    assert offenders == []
    assert used_internals == NATS_PY_INTERNALS  # an allowlist entry no longer needed goes


def test_the_core_imports_neither_supervision_nor_transport() -> None:
    offenders = []
    for path, tree in sources("actors"):
        if path.name in CORE_EXEMPT:
            continue
        for module in imported_modules(path, tree, "actors"):
            if package_of(module) in BUILT_ON_THE_CORE:
                offenders.append(f"{path.relative_to(ROOT)}: {module}")
    assert offenders == []


def test_there_is_no_import_cycle_between_the_packages() -> None:
    depends: dict[str, set[str]] = {package: set() for package in PACKAGES}
    for package in PACKAGES:
        for path, tree in sources(package):
            if package == "actors" and path.name in CORE_EXEMPT:
                continue
            for module in imported_modules(path, tree, package):
                other = package_of(module)
                if other is not None and other != package:
                    depends[package].add(other)

    def reaches(start: str, goal: str, seen: frozenset[str] = frozenset()) -> bool:
        return any(
            step == goal or (step not in seen and reaches(step, goal, seen | {step}))
            for step in depends[start]
        )

    assert [package for package in PACKAGES if reaches(package, package)] == []
