"""``load_spec`` (``supervision/_loader.py``): one tree from a dict, TOML, YAML and JSON,
as text and as files, gives equal specs; errors name the source and point at the entry.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import msgspec
import pytest
from actors.supervision import (
    BRUTAL_KILL,
    AutoShutdown,
    Backoff,
    ChildSpec,
    Restart,
    SpecError,
    Strategy,
    SupervisorRef,
    SupervisorSpec,
    load_spec,
)

from actors import Actor, ActorSystem


class GetConfig(msgspec.Struct):
    pass


class Plain(Actor):
    """An actor a spec file can name: it answers ``GetConfig`` with its arguments."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs

    async def receive(self, message: Any) -> Any:
        return (list(self.args), self.kwargs)


PLAIN = f"{Plain.__module__}:{Plain.__qualname__}"

# ---------------------------------------------------------------------- one tree, every format

EXPECTED = SupervisorSpec(
    strategy=Strategy.ONE_FOR_ONE,
    max_restarts=3,
    within=2.5,
    auto_shutdown=AutoShutdown.ANY_SIGNIFICANT,
    backoff=Backoff(min=0.05, max=1.0, jitter=0.2, reset_after=10.0),
    name="shop",
    children=[
        ChildSpec(
            id="store",
            actor=Plain,
            args=[1, "two"],
            kwargs={"size": 3},
            restart=Restart.TRANSIENT,
            shutdown=BRUTAL_KILL,
        ),
        ChildSpec(
            id="audit",
            actor=Plain,
            restart=Restart.TEMPORARY,
            significant=True,
            shutdown=0.5,
        ),
        ChildSpec(
            id="workers",
            actor=SupervisorSpec(
                strategy=Strategy.REST_FOR_ONE,
                max_restarts=5,
                within=1.0,
                children=[ChildSpec(id="w1", actor=Plain, shutdown="infinity")],
            ),
        ),
    ],
)

DATA: dict[str, Any] = {
    "strategy": "one_for_one",
    "max_restarts": 3,
    "within": 2.5,
    "auto_shutdown": "any_significant",
    "backoff": {"min": 0.05, "max": 1.0, "jitter": 0.2, "reset_after": 10.0},
    "name": "shop",
    "children": [
        {
            "id": "store",
            "actor": PLAIN,
            "args": [1, "two"],
            "kwargs": {"size": 3},
            "restart": "transient",
            "shutdown": "brutal_kill",
        },
        {
            "id": "audit",
            "actor": PLAIN,
            "restart": "temporary",
            "significant": True,
            "shutdown": 0.5,
        },
        {
            "id": "workers",
            "actor": {
                "strategy": "rest_for_one",
                "max_restarts": 5,
                "within": 1.0,
                "children": [{"id": "w1", "actor": PLAIN, "shutdown": "infinity"}],
            },
        },
    ],
}

TOML = f"""
strategy = "one_for_one"
max_restarts = 3
within = 2.5
auto_shutdown = "any_significant"
name = "shop"

[backoff]
min = 0.05
max = 1.0
jitter = 0.2
reset_after = 10.0

[[children]]
id = "store"
actor = "{PLAIN}"
args = [1, "two"]
kwargs = {{ size = 3 }}
restart = "transient"
shutdown = "brutal_kill"

[[children]]
id = "audit"
actor = "{PLAIN}"
restart = "temporary"
significant = true
shutdown = 0.5

[[children]]
id = "workers"

[children.actor]
strategy = "rest_for_one"
max_restarts = 5
within = 1.0

[[children.actor.children]]
id = "w1"
actor = "{PLAIN}"
shutdown = "infinity"
"""

YAML = f"""
strategy: one_for_one
max_restarts: 3
within: 2.5
auto_shutdown: any_significant
name: shop
backoff: {{min: 0.05, max: 1.0, jitter: 0.2, reset_after: 10.0}}
children:
  - id: store
    actor: "{PLAIN}"
    args: [1, two]
    kwargs: {{size: 3}}
    restart: transient
    shutdown: brutal_kill
  - id: audit
    actor: "{PLAIN}"
    restart: temporary
    significant: true
    shutdown: 0.5
  - id: workers
    actor:
      strategy: rest_for_one
      max_restarts: 5
      within: 1.0
      children:
        - id: w1
          actor: "{PLAIN}"
          shutdown: infinity
"""

JSON = json.dumps(DATA, indent=2)

TEXTS = {"toml": TOML, "yaml": YAML, "json": JSON}


def test_load_spec_dict_equals_python_spec() -> None:
    assert load_spec(DATA) == EXPECTED


@pytest.mark.parametrize("fmt", ["toml", "yaml", "json"])
def test_load_spec_text_with_format_equals_python_spec(fmt: str) -> None:
    assert load_spec(TEXTS[fmt], format=fmt) == EXPECTED  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", ["toml", "yaml", "json"])
def test_load_spec_text_format_guessed_equals_python_spec(fmt: str) -> None:
    assert load_spec(TEXTS[fmt]) == EXPECTED


@pytest.mark.parametrize(
    ("suffix", "fmt"),
    [(".toml", "toml"), (".yaml", "yaml"), (".yml", "yaml"), (".json", "json")],
)
def test_load_spec_file_by_suffix_equals_python_spec(tmp_path: Path, suffix: str, fmt: str) -> None:
    path = tmp_path / f"tree{suffix}"
    path.write_text(TEXTS[fmt])
    assert load_spec(path) == EXPECTED
    assert load_spec(str(path)) == EXPECTED


def test_load_spec_file_with_unknown_suffix_and_format_loaded(tmp_path: Path) -> None:
    path = tmp_path / "tree.conf"
    path.write_text(TOML)
    assert load_spec(path, format="toml") == EXPECTED


def test_load_spec_empty_toml_gives_default_spec() -> None:
    assert load_spec("", format="toml") == SupervisorSpec()


async def test_load_spec_tree_from_file_starts_and_runs(tmp_path: Path) -> None:
    path = tmp_path / "tree.toml"
    path.write_text(TOML)
    async with ActorSystem("loaded") as system:
        sup = await system.spawn_tree(load_spec(path))
        assert isinstance(sup, SupervisorRef)
        assert system.whereis("shop") == sup
        infos = await sup.which_children()
        assert [(info.id, info.status) for info in infos] == [
            ("store", "running"),
            ("audit", "running"),
            ("workers", "running"),
        ]
        store = infos[0].ref
        assert store is not None
        assert await store.ask(GetConfig()) == ([1, "two"], {"size": 3})


# ---------------------------------------------------------------------- errors


def _with_child(**fields: Any) -> dict[str, Any]:
    """A valid tree whose second child (``children[1]``) gets ``fields``."""
    second = {"id": "b", "actor": PLAIN, **fields}
    return {"children": [{"id": "a", "actor": PLAIN}, second]}


def test_load_spec_bad_enum_value_points_at_entry() -> None:
    with pytest.raises(
        SpecError, match=r"^spec: Invalid enum value 'forever' - at `\$\.children\[1\]\.restart`$"
    ):
        load_spec(_with_child(restart="forever"))


def test_load_spec_bad_strategy_points_at_field() -> None:
    with pytest.raises(
        SpecError, match=r"^spec: Invalid enum value 'none_for_one' - at `\$\.strategy`$"
    ):
        load_spec({"strategy": "none_for_one"})


def test_load_spec_unknown_child_field_points_at_entry() -> None:
    with pytest.raises(
        SpecError,
        match=r"^spec: Object contains unknown field `silly_flag` - at `\$\.children\[1\]`$",
    ):
        load_spec(_with_child(silly_flag=True))


def test_load_spec_unknown_supervisor_field_rejected() -> None:
    with pytest.raises(SpecError, match=r"^spec: Object contains unknown field `intensity`$"):
        load_spec({"intensity": 3})


def test_load_spec_wrong_type_points_at_field() -> None:
    with pytest.raises(
        SpecError, match=r"^spec: Expected `int`, got `str` - at `\$\.max_restarts`$"
    ):
        load_spec({"max_restarts": "3"})


def test_load_spec_missing_module_points_at_entry() -> None:
    with pytest.raises(
        SpecError,
        match=r"^spec: `actor` 'no_such_pkg.workers:Worker': cannot import module "
        r"`no_such_pkg.workers`: .* - at `\$\.children\[1\]`$",
    ):
        load_spec(_with_child(actor="no_such_pkg.workers:Worker"))


def test_load_spec_missing_class_points_at_entry() -> None:
    module = Plain.__module__
    with pytest.raises(
        SpecError,
        match=rf"^spec: `actor` '{module}:Missing': module `{module}` has no `Missing` "
        r"- at `\$\.children\[1\]`$",
    ):
        load_spec(_with_child(actor=f"{module}:Missing"))


def test_load_spec_missing_required_field_points_at_entry() -> None:
    with pytest.raises(
        SpecError,
        match=r"^spec: Object missing required field `actor` - at `\$\.children\[1\]`$",
    ):
        load_spec({"children": [{"id": "a", "actor": PLAIN}, {"id": "b"}]})


def test_load_spec_bad_shutdown_points_at_entry() -> None:
    with pytest.raises(
        SpecError,
        match=r"^spec: Expected `float` >= 0.0 - at `\$\.children\[1\]\.shutdown`$",
    ):
        load_spec(_with_child(shutdown=-3.0))


def test_load_spec_significant_permanent_points_at_entry() -> None:
    with pytest.raises(
        SpecError,
        match=r"^spec: child `b`: `significant` cannot be true for a permanent child .* "
        r"- at `\$\.children\[1\]`$",
    ):
        load_spec(_with_child(significant=True))


def test_load_spec_duplicate_ids_named() -> None:
    with pytest.raises(SpecError, match=r"^spec: duplicate child id `a`"):
        load_spec({"children": [{"id": "a", "actor": PLAIN}, {"id": "a", "actor": PLAIN}]})


def test_load_spec_simple_one_for_one_two_templates_rejected() -> None:
    with pytest.raises(
        SpecError, match=r"^spec: a simple_one_for_one supervisor needs exactly one template"
    ):
        load_spec(
            {
                "strategy": "simple_one_for_one",
                "children": [{"id": "a", "actor": PLAIN}, {"id": "b", "actor": PLAIN}],
            }
        )


def test_load_spec_error_in_nested_supervisor_points_at_nested_entry() -> None:
    # The bad entry is children[0] of the supervisor nested as the top's children[1]; a
    # location of `$.children[0].restart` would name the (valid) top-level child instead.
    data = {
        "children": [
            {"id": "a", "actor": PLAIN},
            {
                "id": "sub",
                "actor": {"children": [{"id": "x", "actor": PLAIN, "restart": "forever"}]},
            },
        ]
    }
    with pytest.raises(SpecError, match=r"`\$\.children\[1\]\.actor\.children\[0\]\.restart`"):
        load_spec(data)


def test_load_spec_toml_file_error_names_file_and_entry(tmp_path: Path) -> None:
    path = tmp_path / "tree.toml"
    path.write_text(
        f'[[children]]\nid = "a"\nactor = "{PLAIN}"\n\n'
        f'[[children]]\nid = "b"\nactor = "{PLAIN}"\nrestart = "forever"\n'
    )
    with pytest.raises(
        SpecError,
        match=rf"^{re.escape(str(path))}: Invalid enum value 'forever' "
        r"- at `\$\.children\[1\]\.restart`$",
    ):
        load_spec(path)


def test_load_spec_yaml_text_error_names_format_and_entry() -> None:
    text = f"children:\n  - id: a\n    actor: '{PLAIN}'\n  - id: b\n    actor: '{PLAIN}'\n"
    with pytest.raises(
        SpecError,
        match=r"^yaml spec: Object contains unknown field `colour` - at `\$\.children\[1\]`$",
    ):
        load_spec(text + "    colour: red\n")


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        ('strategy = "one_for_one"\nchildren = [', "toml"),
        ('{"strategy": ', "json"),
        ("strategy: [one_for_one\n", "yaml"),
    ],
)
def test_load_spec_malformed_text_rejected_with_format_label(text: str, fmt: str) -> None:
    with pytest.raises(SpecError, match=rf"^{fmt} spec: "):
        load_spec(text, format=fmt)  # type: ignore[arg-type]


def test_load_spec_missing_file_rejected(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(SpecError, match=rf"^spec file `{re.escape(str(path))}` does not exist$"):
        load_spec(path)


def test_load_spec_file_with_unknown_suffix_rejected(tmp_path: Path) -> None:
    path = tmp_path / "tree.ini"
    path.write_text(TOML)
    with pytest.raises(
        SpecError,
        match=rf"^spec file `{re.escape(str(path))}`: unknown suffix '\.ini'; "
        r"use \.toml, \.yaml, \.yml or \.json",
    ):
        load_spec(path)
