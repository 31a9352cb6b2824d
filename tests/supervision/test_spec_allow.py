"""A spec file is code (issue 12, observation 7): naming ``actor = "evil_mod:Nope"``
imports ``evil_mod``, running its top-level code. ``load_spec(allow=...)`` and
``actors run --allow`` refuse a module outside the allowed prefixes before importing
it: the module here writes a marker file when imported, which must never appear."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from actors.supervision import SpecError, load_spec


@pytest.fixture
def evil(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """A module (importable from ``tmp_path``) that writes a marker file at import."""
    name = f"evil_{uuid.uuid4().hex[:8]}"
    marker = tmp_path / "imported"
    (tmp_path / f"{name}.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return name, marker


def _spec(module: str) -> str:
    return f'[[children]]\nid = "x"\nactor = "{module}:Nope"\n'


def test_load_spec_refuses_module_outside_allowed_prefixes_before_import(
    evil: tuple[str, Path],
) -> None:
    name, marker = evil
    with pytest.raises(SpecError, match=rf"module `{name}` is not under the allowed prefixes"):
        load_spec(_spec(name), format="toml", allow=("myapp.",))
    assert not marker.exists()
    assert name not in sys.modules


def test_load_spec_without_allow_imports_the_module(evil: tuple[str, Path]) -> None:
    """What ``allow`` protects against: without it, the module runs."""
    name, marker = evil
    with pytest.raises(SpecError, match="has no `Nope`"):
        load_spec(_spec(name), format="toml")
    assert marker.exists()


def test_load_spec_allow_accepts_package_and_submodules() -> None:
    spec = load_spec(
        _spec("tests.cli_support").replace("Nope", "Idle"), format="toml", allow=("tests.",)
    )
    assert spec.children[0].id == "x"
    with pytest.raises(SpecError, match="not under the allowed prefixes"):
        load_spec(_spec("tests_evil.x"), format="toml", allow=("tests",))  # not a prefix match


def test_load_spec_allow_as_one_string_raises_type_error() -> None:
    with pytest.raises(TypeError, match=r"`allow` must be a sequence of module prefixes"):
        load_spec(_spec("tests.cli_support"), format="toml", allow="tests.")


def test_cli_allow_refuses_module_before_import(evil: tuple[str, Path], tmp_path: Path) -> None:
    name, marker = evil
    (tmp_path / "tree.toml").write_text(_spec(name))
    result = subprocess.run(
        [sys.executable, "-m", "actors", "run", "tree.toml", "--allow", "myapp."],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2, result.stderr
    assert "not under the allowed prefixes" in result.stderr
    assert not marker.exists()
