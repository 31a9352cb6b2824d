"""``import actors`` stays cheap and needs only the base install: no optional
dependency (nats-py, PyYAML, prometheus-client), no structlog, no uvloop and nothing
that these drag in (http, ssl, threading) beyond what ``import asyncio, msgspec``
imports itself; and a missing extra fails with an error naming it."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

NOT_AT_IMPORT = (
    "prometheus_client",
    "nats",
    "yaml",
    "aiohttp",
    "opentelemetry",
    "http",
    "ssl",
    "threading",
)
"""Modules (and their submodules) that ``import actors`` must not add."""
ON_FIRST_USE = ("structlog", "uvloop")
"""Imported when first used: structlog at the first log line, uvloop by ``actors.run``."""


def python(source: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", source],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def imported_by(statement: str) -> set[str]:
    result = python(f"{statement}\nimport sys\nprint('\\n'.join(sys.modules))")
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def within(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in packages)


def test_import_actors_imports_no_extra_and_nothing_they_drag_in() -> None:
    baseline = imported_by("import asyncio, msgspec")
    added = imported_by("import actors") - baseline
    assert within(added, NOT_AT_IMPORT + ON_FIRST_USE) == []


def test_import_actors_adds_only_its_own_modules() -> None:
    """Everything else the core uses and ``asyncio, msgspec`` do not import already
    (``random`` for trace ids and random routing, ...) is imported on first use: each
    such module costs every program about a millisecond at start-up. ``bisect`` (a C
    search, a tenth of that) files every sampled latency, so it is imported up front."""
    baseline = imported_by("import asyncio, msgspec")
    added = imported_by("import actors") - baseline
    assert sorted(m for m in added if m.split(".")[0] not in ("actors", "bisect", "_bisect")) == []


def test_import_actors_imports_no_optional_dependency_at_all() -> None:
    assert within(imported_by("import actors"), ("prometheus_client", "nats", "yaml")) == []


BLOCK = "import sys\nfor name in {names!r}:\n    sys.modules[name] = None  # as if not installed\n"


def blocked(*names: str) -> str:
    return BLOCK.format(names=names)


def test_the_core_runs_without_any_extra() -> None:
    result = python(
        blocked("nats", "yaml", "prometheus_client")
        + "import asyncio, actors\n"
        + "async def main():\n"
        + "    async with actors.ActorSystem('bare') as system:\n"
        + "        return system.metrics().system\n"
        + "print(asyncio.run(main()))\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "bare"


@pytest.mark.parametrize(
    ("names", "use", "extra"),
    [
        (("nats",), "import actors.transport", "nats"),
        (
            ("yaml",),
            "from actors.supervision import load_spec\nload_spec('children: []', format='yaml')",
            "yaml",
        ),
        (
            ("prometheus_client",),
            "import asyncio, actors\n"
            "async def main():\n"
            "    async with actors.ActorSystem('s') as system:\n"
            "        system.metrics().prometheus()\n"
            "asyncio.run(main())",
            "prometheus",
        ),
        (
            ("aiohttp",),
            "import asyncio, actors\n"
            "async def main():\n"
            "    async with actors.ActorSystem('s', observe=('127.0.0.1', 0)):\n"
            "        pass\n"
            "asyncio.run(main())",
            "observer",
        ),
        (("opentelemetry",), "import actors\nactors.ActorSystem('s', tracing=True)", "otel"),
    ],
)
def test_a_missing_extra_fails_naming_it(names: tuple[str, ...], use: str, extra: str) -> None:
    result = python(blocked(*names) + use)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: ")
    assert f"pip install 'actors-runtime[{extra}]'" in last


def test_the_base_install_is_msgspec_structlog_uvloop_and_the_rest_are_extras() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = {_name(requirement) for requirement in project["dependencies"]}
    assert base == {"msgspec", "structlog", "uvloop"}
    extras = project["optional-dependencies"]
    assert [_name(r) for r in extras["nats"]] == ["nats-py", "nkeys"]  # nkeys: seed and creds login
    assert extras["nats"][0].startswith("nats-py~=")  # we use nats-py internals
    assert [_name(r) for r in extras["yaml"]] == ["pyyaml"]
    assert [_name(r) for r in extras["prometheus"]] == ["prometheus-client"]
    assert [_name(r) for r in extras["observer"]] == ["aiohttp", "actors-runtime"]
    assert "actors-runtime[prometheus]" in extras["observer"]  # for /metrics
    assert [_name(r) for r in extras["otel"]] == ["opentelemetry-api", "opentelemetry-sdk"]
    assert "actors-runtime[nats,yaml,prometheus,observer,otel]" in extras["dev"]


def _name(requirement: str) -> str:
    for separator in ("~", "=", ">", "<", ";", "[", " "):
        requirement = requirement.split(separator)[0]
    return requirement.lower()
