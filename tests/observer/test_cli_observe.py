"""``actors run tree.toml --observe [HOST]:PORT``."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import aiohttp

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


async def test_observe_serves_the_running_tree(tmp_path: Path) -> None:
    process = await run(tmp_path, "--observe", "127.0.0.1:0")
    assert process.stderr is not None
    try:
        async with asyncio.timeout(20):
            while True:  # the log line that says where it listens, not a sleep
                line = await process.stderr.readline()
                assert line, "actors run ended before its observer listened"
                if b'"observer listening"' in line:
                    url = json.loads(line)["url"]
                    break
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"{url}/api/snapshot") as response,
            ):
                state = await response.json()
    finally:
        process.terminate()
        await process.communicate()
    assert [node["name"] for node in state["tree"][1]["children"]] == ["idle"]
    assert state["system"] == "actors"
    assert process.returncode == 0


async def test_a_bad_observe_address_exits_two_naming_it(tmp_path: Path) -> None:
    process = await run(tmp_path, "--observe", "9090")
    _, stderr = await process.communicate()
    assert process.returncode == 2
    assert b"observe address must be `host:port` or `:port`, got '9090'" in stderr
