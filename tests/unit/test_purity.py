"""The runtime stays one paradigm: pure asyncio, no threads or processes, no pickle, and
no polling. Checked on the source with ``ast``, so a comment or a string never counts."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_PACKAGES = ("actors", "supervision", "transport")
FORBIDDEN_MODULES = frozenset({"threading", "multiprocessing", "pickle", "cloudpickle"})


def sources(*packages: str) -> Iterator[Path]:
    for package in packages:
        yield from sorted((ROOT / package).rglob("*.py"))


def forbidden_imports(source: str, filename: str = "<test>") -> list[str]:
    """Every import of a forbidden module (or one of its submodules), as
    ``file:line: module``; ``__import__("x")`` and ``importlib.import_module("x")``
    with a literal name count too."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif (
            isinstance(node, ast.Call)
            and _call_name(node.func) in {"__import__", "importlib.import_module", "import_module"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names = [node.args[0].value]
        for name in names:
            if name.split(".")[0] in FORBIDDEN_MODULES:
                found.append(f"{filename}:{getattr(node, 'lineno', 0)}: {name}")
    return found


def timed_sleeps(source: str, filename: str = "<test>") -> list[str]:
    """Every ``asyncio.sleep(x)`` (or ``sleep`` imported from asyncio, under any alias)
    whose delay is not the literal 0: a sleep with a delay is a poll."""
    tree = ast.parse(source, filename)
    sleep_names = {"asyncio.sleep"}
    asyncio_names = {"asyncio"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "asyncio":
            for alias in node.names:
                if alias.name == "sleep":
                    sleep_names.add(alias.asname or "sleep")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "asyncio" and alias.asname:
                    asyncio_names.add(alias.asname)
    sleep_names |= {f"{name}.sleep" for name in asyncio_names}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _call_name(node.func) in sleep_names:
            delays = list(node.args[:1]) + [k.value for k in node.keywords if k.arg == "delay"]
            if not delays or not all(_is_zero(delay) for delay in delays):
                found.append(f"{filename}:{node.lineno}: {ast.unparse(node)}")
    return found


def _call_name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return f"{_call_name(func.value)}.{func.attr}"
    return ""


def _is_zero(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int | float)
        and not isinstance(node.value, bool)
        and node.value == 0
    )


# ---------------------------------------------------------------------- the runtime


def test_runtime_packages_have_sources() -> None:
    assert any(path.name == "_cell.py" for path in sources("actors"))


def test_runtime_imports_no_threading_multiprocessing_or_pickle() -> None:
    found = []
    for path in sources(*RUNTIME_PACKAGES):
        found += forbidden_imports(path.read_text(), str(path.relative_to(ROOT)))
    assert found == []


def test_actors_never_sleeps_with_a_delay() -> None:
    found = []
    for path in sources("actors"):
        found += timed_sleeps(path.read_text(), str(path.relative_to(ROOT)))
    assert found == []


# ---------------------------------------------------------------------- the checkers


@pytest.mark.parametrize(
    "source",
    [
        "import threading",
        "import os, multiprocessing.pool",
        "from pickle import dumps",
        "from cloudpickle import dumps as d",
        "def f():\n    import threading as t",
        "__import__('pickle')",
        "importlib.import_module('multiprocessing')",
    ],
)
def test_forbidden_imports_detects_import(source: str) -> None:
    assert len(forbidden_imports(source)) == 1


@pytest.mark.parametrize(
    "source",
    [
        "import asyncio",
        "import threadingx",
        "from .pickle import x",
        "x = 'import pickle'",
        "# import threading",
    ],
)
def test_forbidden_imports_ignores_allowed(source: str) -> None:
    assert forbidden_imports(source) == []


@pytest.mark.parametrize(
    "source",
    [
        "import asyncio\nawait asyncio.sleep(0.1)",
        "import asyncio\nawait asyncio.sleep(delay)",
        "import asyncio\nawait asyncio.sleep(delay=1)",
        "from asyncio import sleep\nawait sleep(1)",
        "from asyncio import sleep as nap\nawait nap(0.01)",
        "import asyncio as aio\nawait aio.sleep(2)",
    ],
)
def test_timed_sleeps_detects_delay(source: str) -> None:
    assert len(timed_sleeps(source)) == 1


@pytest.mark.parametrize(
    "source",
    [
        "import asyncio\nawait asyncio.sleep(0)",
        "import asyncio\nawait asyncio.sleep(0.0)",
        "from asyncio import sleep\nawait sleep(0)",
        "import time\ntime.sleep",
        "x = 'asyncio.sleep(1)'",
    ],
)
def test_timed_sleeps_ignores_zero_and_text(source: str) -> None:
    assert timed_sleeps(source) == []
