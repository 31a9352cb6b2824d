"""The wheel installs one namespace, ``actors``, and nothing beside it.

``supervision`` is a popular computer-vision package on PyPI: a top-level ``supervision``
(or ``transport``) from us would break any environment that holds both.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("actors_runtime-*.whl")
    return built


def test_wheel_holds_only_the_actors_package_and_its_metadata(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/", 1)[0] for name in names}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"actors"}
    assert "actors/supervision/__init__.py" in names
    assert "actors/transport/__init__.py" in names
    assert "actors/supervision/py.typed" in names
    observer = {"index.html", "observer.css", "observer.js"}
    assert {f"actors/observer/static/{name}" for name in observer} <= set(names)


def test_installed_wheel_imports_actors_namespace_but_no_top_level_supervision(
    wheel: Path, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    probe = (
        "import importlib.util, actors, actors.supervision, actors.transport\n"
        f"assert actors.supervision.__file__.startswith({str(site)!r}), "
        "actors.supervision.__file__\n"
        "for name in ('supervision', 'transport'):\n"
        "    assert importlib.util.find_spec(name) is None, name\n"
    )
    # Run from an empty folder so the repository's own folders are not on sys.path.
    subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={"PYTHONPATH": str(site)},
        check=True,
    )
