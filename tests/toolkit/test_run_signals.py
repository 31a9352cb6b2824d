"""``actors.run`` turns SIGTERM and SIGINT into an orderly shutdown: tested on a real
subprocess that receives the signal."""

from __future__ import annotations

import asyncio
import signal
import sys
import textwrap

import pytest

PROGRAM = textwrap.dedent(
    """
    import asyncio
    import sys

    import structlog

    import actors

    # The program's own output is stdout; log lines (ours included) go to stderr.
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))

    class Worker(actors.Actor):
        def __init__(self, label):
            self.label = label

        async def receive(self, message):
            return None

        async def stopped(self):
            print(f"stopped {self.label}", flush=True)

    async def main():
        async with actors.ActorSystem("app") as system:
            for label in ("first", "second", "third"):
                await system.spawn(Worker, label)
            print("ready", flush=True)
            await asyncio.Event().wait()  # until a signal: cancelled here

    actors.run(main())
    print("not reached", flush=True)
    """
)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_signal_stops_every_actor_newest_first_and_exits_0(
    signum: signal.Signals,
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        PROGRAM,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    assert await process.stdout.readline() == b"ready\n"
    process.send_signal(signum)
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    assert "shutting down" in err.decode()
    assert out.decode().splitlines() == [
        "stopped third",
        "stopped second",
        "stopped first",
    ]
