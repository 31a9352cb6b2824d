"""``load_spec``: a supervision tree from a dict, or TOML, YAML or JSON text or files.

The file's top level holds the ``SupervisorSpec`` fields; each child names its actor as
``"package.module:Class"`` (or nests a supervisor as a table/mapping). Decoding goes
straight into the spec Structs, so a wrong field, a bad enum value or an actor that does
not import is reported with its location, e.g.
``tree.toml: Invalid enum value 'forever' - at `$.children[1].restart```.

A spec file is code: each ``actor`` it names is imported, which runs that module's
top-level code. Load specs you trust, or pass ``allow=("myapp.",)``: a module outside
the allowed prefixes is refused before it is imported.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import msgspec

from actors.lowlevel import require_extra as require

from ._errors import SpecError
from ._spec import SupervisorSpec, allowed_modules, merge_location

__all__ = ["load_spec"]

Format = Literal["toml", "yaml", "json"]

_SUFFIXES: dict[str, Format] = {
    ".toml": "toml",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".json": "json",
}


def load_spec(
    source: str | Path | dict[str, Any],
    *,
    format: Format | None = None,
    allow: Sequence[str] | None = None,
) -> SupervisorSpec:
    """Load a ``SupervisorSpec`` from a dict, a file path, or spec text.

    A path's format comes from its suffix (``.toml``, ``.yaml``/``.yml``, ``.json``);
    for text, pass ``format`` or let it be guessed (``{`` starts JSON, ``key = value``
    lines mean TOML, anything else is YAML). Raises :class:`SpecError` naming the source
    and the location of the problem.

    A spec is code (its actors' modules are imported). ``allow`` (module prefixes, e.g.
    ``("myapp.",)``) refuses, before importing it, any actor module outside them.
    """
    with allowed_modules(allow):
        return _load(source, format)


def _load(source: str | Path | dict[str, Any], format: Format | None) -> SupervisorSpec:
    if isinstance(source, dict):
        return _decode(lambda: msgspec.convert(source, SupervisorSpec), "spec")
    path = Path(source) if isinstance(source, Path) or _looks_like_path(source) else None
    if path is not None:
        if not path.is_file():
            raise SpecError(f"spec file `{path}` does not exist")
        fmt = format or _SUFFIXES.get(path.suffix.lower())
        if fmt is None:
            raise SpecError(
                f"spec file `{path}`: unknown suffix {path.suffix!r}; "
                "use .toml, .yaml, .yml or .json (or pass format=)"
            )
        data = path.read_bytes()
        label = str(path)
    else:
        assert isinstance(source, str)
        data = source.encode()
        fmt = format or _guess(source)
        label = f"{fmt} spec"
    if fmt == "toml":
        return _decode(lambda: msgspec.toml.decode(data, type=SupervisorSpec), label)
    if fmt == "yaml":
        require("yaml", "yaml", "a YAML spec")  # msgspec.yaml decodes with PyYAML
        return _decode(lambda: msgspec.yaml.decode(data, type=SupervisorSpec), label)
    return _decode(lambda: msgspec.json.decode(data, type=SupervisorSpec), label)


def _decode(run: Callable[[], SupervisorSpec], label: str) -> SupervisorSpec:
    try:
        spec: SupervisorSpec = run()
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise SpecError(f"{label}: {merge_location(str(exc))}") from exc
    return spec


def _looks_like_path(source: str) -> bool:
    """One line that names a spec file, an existing file, or anything without the
    `:`, `=` or `{` every spec text needs: a path (a wrong suffix is then reported
    as such, rather than the name being parsed as YAML text)."""
    if "\n" in source:
        return False
    return (
        Path(source).suffix.lower() in _SUFFIXES
        or Path(source).is_file()
        or (source.strip() != "" and not re.search(r"[:={]", source))
    )


def _guess(text: str) -> Format:
    stripped = text.lstrip()
    if stripped.startswith("{"):
        return "json"
    if re.search(r"^\s*(\[|[\w\"'.-]+\s*=)", text, re.MULTILINE):
        return "toml"
    return "yaml"
