"""``actors run tree.toml --observe [HOST]:PORT`` and ``actors observe --nats URL
--system NAME``."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import aiohttp

from actors import ActorSystem
from tests.transport.nats_support import node, unique_system

from .support import push_until, statuses

ROOT = Path(__file__).resolve().parents[2]
SPEC = '[[children]]\nid = "idle"\nactor = "tests.cli_support:Idle"\n'


async def run(tmp_path: Path, *args: str) -> asyncio.subprocess.Process:
    spec = tmp_path / "tree.toml"
    spec.write_text(SPEC)
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "actors",
        "run",
        str(spec),
        "--log-format",
        "json",
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def observer_url(process: asyncio.subprocess.Process) -> str:
    """Where the command's observer listens, read from its log line (not a sleep)."""
    assert process.stderr is not None
    async with asyncio.timeout(20):
        while True:
            line = await process.stderr.readline()
            assert line, "the command ended before its observer listened"
            if b'"observer listening"' in line:
                url: str = json.loads(line)["url"]
                return url


async def test_observe_serves_the_running_tree(tmp_path: Path) -> None:
    process = await run(tmp_path, "--observe", "127.0.0.1:0")
    try:
        url = await observer_url(process)
        # The observer listens once the system is open, before the spec's tree is
        # spawned: its pushes show the tree once its child has started.
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{url}/api/events") as stream,
        ):
            state = await push_until(stream, lambda s: bool(tree_children(s)))
    finally:
        process.terminate()
        await process.communicate()
    assert [(node["name"], node["status"]) for node in tree_children(state)] == [
        ("idle", "running")
    ]
    assert state["system"] == "actors"
    assert process.returncode == 0


def tree_children(state: dict[str, Any]) -> list[dict[str, Any]]:
    """The children of the spec's top supervisor, as the observer shows them."""
    tops = [node for node in state["tree"] if node["class"] == "Supervisor"]
    return [child for top in tops for child in top["children"]]


async def test_a_bad_observe_address_exits_two_naming_it(tmp_path: Path) -> None:
    process = await run(tmp_path, "--observe", "9090")
    _, stderr = await process.communicate()
    assert process.returncode == 2
    assert b"observe address must be `host:port` or `:port`, got '9090'" in stderr


async def test_actors_observe_joins_the_cluster_and_shows_a_node_join_then_leave(
    url: str,
) -> None:
    name = unique_system()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "actors",
        "observe",
        "--nats",
        url,
        "--system",
        name,
        "--observe",
        "127.0.0.1:0",
        "--node-id",
        "watcher",
        "--log-format",
        "json",
        cwd=ROOT,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        page = await observer_url(process)
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{page}/api/events") as stream,
        ):
            async with ActorSystem(name, transport=node(url, "n2")):
                both = await push_until(stream, lambda s: len(statuses(s)) == 2)
                assert statuses(both) == {"watcher": "up", "n2": "up"}
            left = await push_until(stream, lambda s: statuses(s)["n2"] == "down")
    finally:
        process.terminate()
        await process.communicate()
    assert left["cluster"]["node"] == "watcher"
    assert left["system"] == name
    assert [row["name"] for row in left["tree"]] == ["event-bus", "observer"]  # no actors
    assert process.returncode == 0
