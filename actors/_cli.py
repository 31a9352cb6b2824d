"""The ``actors`` command: ``actors run tree.toml`` runs a supervision tree;
``actors observe --nats URL --system NAME`` watches a cluster.

The tree runs on the embedded in-process default until Ctrl-C or SIGTERM (or
``--duration`` seconds), then shuts down cleanly: children in reverse start order, each
within its shutdown time. The exit status is 0 after a clean stop, 1 when the tree
escalated to the top (the error is printed), 2 for a bad command line or spec.

``actors observe`` joins the cluster of system ``NAME`` as a node of its own, with no
actors, and serves the observer page (``--observe``, default ``127.0.0.1:9090``): the
cluster's members and their status as this node sees them, until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

from ._logging import configure_logging, get_logger
from ._messages import ActorFailed, ActorRestarted, ActorStarted, ActorStopped
from ._ref import current_cell
from ._run import run as run_loop
from ._system import ActorSystem
from .observer import parse_address

__all__ = ["main"]

log = get_logger("actors.cli")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="actors", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run_cmd = commands.add_parser("run", help="run a supervision tree from a spec file")
    run_cmd.add_argument("spec", help="a .toml, .yaml/.yml or .json supervision spec")
    run_cmd.add_argument("--name", default="actors", help="the system name (default: actors)")
    run_cmd.add_argument(
        "--duration", type=float, default=None, help="stop after this many seconds"
    )
    run_cmd.add_argument(
        "--allow",
        action="append",
        metavar="PREFIX",
        help="import actors only from modules under PREFIX (e.g. myapp.); repeatable. "
        "A spec file is code: without --allow it may import any module",
    )
    run_cmd.add_argument("--log-format", choices=["auto", "console", "json"], default="auto")
    run_cmd.add_argument(
        "--no-summary", action="store_true", help="do not print the summary at exit"
    )
    run_cmd.add_argument(
        "--observe",
        type=_observe_address,
        default=None,
        metavar="[HOST]:PORT",
        help="serve the observer page, /metrics and /health/* (loopback unless HOST is given)",
    )
    observe_cmd = commands.add_parser(
        "observe", help="join a cluster as a watching node and serve the observer page"
    )
    observe_cmd.add_argument(
        "--nats", required=True, action="append", metavar="URL", help="a NATS server (repeat)"
    )
    observe_cmd.add_argument("--system", required=True, help="the cluster's system name")
    observe_cmd.add_argument(
        "--observe",
        type=_observe_address,
        default=("127.0.0.1", 9090),
        metavar="[HOST]:PORT",
        help="where to serve the page (default 127.0.0.1:9090)",
    )
    observe_cmd.add_argument("--node-id", default=None, help="this node's id (default: random)")
    observe_cmd.add_argument("--log-format", choices=["auto", "console", "json"], default="auto")
    args = parser.parse_args(argv)
    configure_logging(args.log_format)
    if args.command == "observe":
        run_loop(_watch(args.system, args.nats, args.node_id, args.observe))
        return 0
    # Actors are named "package.module:Class"; like uvicorn, resolve them from the
    # current directory too, so a project's own actors load without installing it.
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    # Imported here, not at module level: the core package never imports supervision
    # (it builds on actors); only this command needs it.
    from actors.supervision import SpecError, load_spec

    try:
        spec = load_spec(args.spec, allow=args.allow)
    except SpecError as exc:
        print(f"actors: {exc}", file=sys.stderr)
        return 2
    try:
        summary = run_loop(_run_tree(spec, args.name, args.duration, args.observe))
    except Exception as exc:
        print(f"actors: the supervision tree failed: {exc}", file=sys.stderr)
        return 1
    if not args.no_summary:
        print(summary)
    return 0


def _observe_address(text: str) -> tuple[str, int]:
    try:
        return parse_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


async def _watch(
    name: str, servers: list[str], node_id: str | None, observe: tuple[str, int]
) -> None:
    """A node with no actors of its own, serving the observer page until a signal."""
    from actors.transport import NatsTransport

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        transport = NatsTransport(servers, node_id=node_id)
        async with ActorSystem(name, transport=transport, observe=observe):
            await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


async def _run_tree(
    spec: Any, name: str, duration: float | None, observe: tuple[str, int] | None = None
) -> str:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    restarts: collections.Counter[str] = collections.Counter()
    failures: collections.Counter[str] = collections.Counter()
    tree_path: list[str] = []  # the top supervisor's path, once spawned

    def on_event(event: object) -> None:
        # Listeners run inside whichever actor emitted the event (a supervisor
        # restarting a child): log outside it, so the line does not carry that actor's
        # message type.
        token = current_cell.set(None)
        try:
            log_event(event)
        finally:
            current_cell.reset(token)
        # A tree may end by itself (auto_shutdown): then there is nothing left to run.
        if isinstance(event, ActorStopped) and [event.actor] == tree_path:
            stop.set()

    def log_event(event: object) -> None:
        # Failures are logged where they happen (with the traceback); the rest here.
        if isinstance(event, ActorStarted):
            log.info("actor started", actor=event.actor, actor_class=event.actor_class)
        elif isinstance(event, ActorRestarted):
            restarts[event.actor] += 1
            log.info("actor restarted", actor=event.actor, restarts=event.restarts)
        elif isinstance(event, ActorStopped) and event.normal:
            log.info("actor stopped", actor=event.actor, reason=event.reason)
        elif isinstance(event, ActorFailed):
            failures[event.error_type] += 1

    try:
        async with ActorSystem(name, observe=observe) as system:
            system._listeners.append(on_event)
            tree = await system.spawn_tree(spec)
            tree_path.append(tree.path)
            if not tree.is_alive():
                stop.set()
            try:
                async with asyncio.timeout(duration):
                    await stop.wait()
            except TimeoutError:
                pass
        metrics = system.metrics()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    lines = [
        "summary:",
        f"  messages handled: {metrics.messages_handled}",
        f"  actors spawned:   {metrics.spawned}",
        f"  failures:         {sum(failures.values())}"
        + (f" ({', '.join(f'{k} x{v}' for k, v in failures.most_common())})" if failures else ""),
        f"  dead letters:     {metrics.dead_letters}",
        "  restarts by child:" + ("" if restarts else " none"),
    ]
    lines += [f"    {path}: {count}" for path, count in sorted(restarts.items())]
    return "\n".join(lines)
