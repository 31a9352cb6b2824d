"""A node in its own process, for the tests that kill one with SIGKILL.

``python -m tests.transport.nats_node URL SYSTEM NODE_ID HEARTBEAT MISSES`` (from the
project root): joins ``SYSTEM`` as ``NODE_ID``, serves an ``Echo`` named ``victim``,
prints ``READY`` and serves until it is killed. The message types come from
``tests.transport.nats_support``, so their wire names match the test process's.
"""

from __future__ import annotations

import asyncio
import logging
import sys

import structlog


async def serve(url: str, system: str, node_id: str, heartbeat: float, misses: int) -> None:
    from actors import ActorSystem
    from tests.transport.nats_support import Echo, node

    transport = node(url, node_id, heartbeat=heartbeat, misses=misses)
    async with ActorSystem(system, transport=transport) as actors:
        await actors.spawn(Echo, name="victim")
        print("READY", flush=True)
        await asyncio.Event().wait()  # until killed


def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    url, system, node_id, heartbeat, misses = sys.argv[1:6]
    asyncio.run(serve(url, system, node_id, float(heartbeat), int(misses)))


if __name__ == "__main__":
    main()
