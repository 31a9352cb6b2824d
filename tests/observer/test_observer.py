"""The observer server: the page's data (tree, counters, feed, details), its push
stream, /metrics and /health/*, its cost when nobody watches, and its address rules."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
import structlog.testing

import actors
from actors import ActorSystem
from actors.observer import parse_address

from .support import Worker, crash_and_wait_for_restart, find, next_push, tree


async def get_json(session: aiohttp.ClientSession, url: str) -> tuple[int, object]:
    async with session.get(url) as response:
        return response.status, await response.json()


async def test_snapshot_shows_the_tree_with_strategy_intensity_status_and_restarts() -> None:
    async with ActorSystem("obs", observe=("127.0.0.1", 0)) as system:
        await system.spawn_tree(tree())
        worker = system.whereis("top")
        assert worker is not None
        child = await actors_child(system, "worker")
        await crash_and_wait_for_restart(child)
        url = system.observer_url
        assert url is not None and url.startswith("http://127.0.0.1:")
        async with aiohttp.ClientSession() as session:
            status, state = await get_json(session, f"{url}/api/snapshot")
    assert status == 200 and isinstance(state, dict)
    top = find(state["tree"], "obs/top")
    assert top["class"] == "Supervisor"
    assert top["supervisor"] == {"strategy": "one_for_all", "intensity": "5 in 10 s"}
    worker_node = find(state["tree"], "obs/top/worker")
    other = find(state["tree"], "obs/top/other")
    assert (worker_node["status"], worker_node["restarts"], worker_node["class"]) == (
        "running",
        1,
        "Worker",
    )
    assert other["restarts"] == 1  # one_for_all restarted it too
    assert state["counters"]["failures"] == 1 and state["counters"]["restarts"] == 2
    assert set(state["latency"]["handle"]) == {"count", "p50", "p90", "p99"}
    assert state["cluster"] is None  # no membership view without a transport


async def actors_child(system: ActorSystem, child_id: str) -> actors.ActorRef:
    top = system.whereis("top")
    assert top is not None
    rows = await top.which_children()  # type: ignore[attr-defined]
    (ref,) = [row.ref for row in rows if row.id == child_id]
    assert ref is not None
    return ref  # type: ignore[no-any-return]


async def test_a_stopped_child_slot_shows_as_stopped() -> None:
    async with ActorSystem("obs", observe=("127.0.0.1", 0)) as system:
        await system.spawn_tree(tree())
        top = system.whereis("top")
        assert top is not None
        await top.terminate_child("other")  # type: ignore[attr-defined]
        async with aiohttp.ClientSession() as session:
            _, state = await get_json(session, f"{system.observer_url}/api/snapshot")
    assert isinstance(state, dict)
    assert find(state["tree"], "obs/top/other")["status"] == "stopped"


async def test_the_stream_pushes_failures_and_dead_letters_with_path_type_and_reason() -> None:
    async with ActorSystem("obs", observe=("127.0.0.1", 0)) as system:
        await system.spawn_tree(tree())
        worker = await actors_child(system, "worker")
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{system.observer_url}/api/events") as stream,
        ):
            assert stream.headers["Content-Type"] == "text/event-stream"
            first = await next_push(stream)
            assert find(first["tree"], "obs/top/worker")["restarts"] == 0
            await crash_and_wait_for_restart(worker)
            gone = await system.spawn(Worker)
            await system.stop(gone)
            gone.tell("late")
            feed: list[dict[str, object]] = []
            while not any(e["kind"] == "dead letter" for e in feed):
                push = await next_push(stream)
                feed += push["feed"]
            assert find(push["tree"], "obs/top/worker")["restarts"] == 1
    failure = next(e for e in feed if e["kind"] == "failure")
    assert (failure["actor"], failure["message_type"], failure["reason"]) == (
        "obs/top/worker",
        "Crash",
        "RuntimeError: boom",
    )
    assert any(e["kind"] == "restart" and e["actor"] == "obs/top/worker" for e in feed)
    dead = next(e for e in feed if e["kind"] == "dead letter")
    assert (dead["message_type"], dead["reason"]) == ("str", "stopped")
    assert dead["actor"] == gone.path


async def test_actor_details_show_class_mailbox_failures_and_watchers() -> None:
    class Watcher(actors.Actor):
        def __init__(self, target: actors.ActorRef) -> None:
            self.target = target

        async def started(self) -> None:
            self.watch(self.target)

        async def receive(self, message: object) -> None:
            return None

    async with ActorSystem("obs", observe=("127.0.0.1", 0)) as system:
        await system.spawn_tree(tree())
        worker = await actors_child(system, "worker")
        await system.spawn(Watcher, worker, name="watcher")
        url = system.observer_url
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{url}/api/events") as stream,  # the feed records while watched
        ):
            await next_push(stream)
            await crash_and_wait_for_restart(worker)
            status, details = await get_json(session, f"{url}/api/actor?path=obs/top/worker")
            missing, error = await get_json(session, f"{url}/api/actor?path=obs/nobody")
            bad, _ = await get_json(session, f"{url}/api/actor")
            _, top = await get_json(session, f"{url}/api/actor?path=obs/top")
    assert status == 200 and isinstance(details, dict)
    assert details["class"] == "Worker" and details["status"] == "running"
    assert details["mailbox"]["handled"] == 2 and details["mailbox"]["maxsize"] is None
    assert details["watched_by"] == ["obs/watcher"]
    (failure,) = details["recent_failures"]
    assert (failure["message_type"], failure["reason"]) == ("Crash", "RuntimeError: boom")
    assert missing == 404 and isinstance(error, dict) and "obs/nobody" in error["error"]
    assert bad == 400
    assert isinstance(top, dict) and top["info"]["strategy"] == "one_for_all"


async def test_metrics_and_health_endpoints() -> None:
    async with ActorSystem("obs", observe=("127.0.0.1", 0)) as system:
        await system.spawn_tree(tree())
        url = system.observer_url
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{url}/metrics") as response:
                assert response.status == 200
                assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
                text = await response.text()
            live = await get_json(session, f"{url}/health/live")
            ready = await get_json(session, f"{url}/health/ready")
            async with session.post(f"{url}/health/live") as response:
                post_status = response.status
    assert 'actors_alive{system="obs"} 4.0' in text  # bus, supervisor, two workers
    assert "actors_handle_duration_seconds_bucket" in text
    assert live == (200, {"ok": True, "checks": {"system": "ok"}})
    assert ready == (200, {"ok": True, "checks": {"system": "ok"}})
    assert post_status == 405  # read-only


class Unready:
    """A transport that cannot reach its cluster: not ready, still live."""

    async def start(self, system: ActorSystem) -> None:
        return None

    async def close(self) -> None:
        return None

    def problem(self) -> str:
        return "not connected to nats://nowhere:4222"

    def metrics(self) -> dict[str, float]:
        return {}


async def test_ready_answers_503_with_the_checks_when_the_transport_is_down() -> None:
    unready: Any = Unready()
    async with (
        ActorSystem("obs", observe=("127.0.0.1", 0), transport=unready) as system,
        aiohttp.ClientSession() as session,
    ):
        live = await get_json(session, f"{system.observer_url}/health/live")
        ready = await get_json(session, f"{system.observer_url}/health/ready")
    checks = {"system": "ok", "transport": "not connected to nats://nowhere:4222"}
    assert live == (200, {"ok": True, "checks": checks})
    assert ready == (503, {"ok": False, "checks": checks})


async def test_the_page_and_its_assets_are_served() -> None:
    async with ActorSystem("obs", observe=("127.0.0.1", 0)) as system:
        url = system.observer_url
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{url}/") as page:
                html = await page.text()
            for asset in ("observer.js", "observer.css"):
                async with session.get(f"{url}/static/{asset}") as response:
                    assert response.status == 200, asset
    assert '<ul id="tree"' in html and "/static/observer.js" in html


async def test_nobody_watching_costs_no_listener_and_no_snapshot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from actors.observer import _server

    built: list[object] = []
    real = _server.snapshot

    def counting(system: ActorSystem) -> dict[str, object]:
        built.append(system)
        return real(system)

    monkeypatch.setattr(_server, "snapshot", counting)
    async with ActorSystem("obs", observe=("127.0.0.1", 0)) as system:
        observer = system._observer
        await system.spawn_tree(tree())
        worker = await actors_child(system, "worker")
        await crash_and_wait_for_restart(worker)
        assert observer.listen not in system._listeners and built == []
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{system.observer_url}/api/events") as stream,
        ):
            await next_push(stream)
            assert observer.listen in system._listeners and built
    assert observer.listen not in system._listeners


async def test_leaving_the_system_ends_open_streams_and_leaves_no_task() -> None:
    async with aiohttp.ClientSession() as session:
        async with ActorSystem("obs", observe=("127.0.0.1", 0)) as system:
            stream = await session.get(f"{system.observer_url}/api/events")
            await next_push(stream)
        with pytest.raises(EOFError):
            while True:
                await next_push(stream)
        stream.release()
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert others == []


async def test_a_port_in_use_fails_the_system_start_naming_the_address() -> None:
    async with ActorSystem("one", observe=("127.0.0.1", 0)) as first:
        port = int(str(first.observer_url).rsplit(":", 1)[1])
        second = ActorSystem("two", observe=("127.0.0.1", port))
        with pytest.raises(OSError, match=f"observer cannot listen on 127.0.0.1:{port}"):
            await second.__aenter__()
        assert not second.running


async def test_binding_beyond_loopback_logs_a_warning() -> None:
    with structlog.testing.capture_logs() as beyond:
        async with ActorSystem("obs", observe=("0.0.0.0", 0)):
            pass
    with structlog.testing.capture_logs() as loopback:
        async with ActorSystem("obs", observe=("127.0.0.1", 0)):
            pass
    (warning,) = [line for line in beyond if line["log_level"] == "warning"]
    assert "beyond this machine" in warning["event"] and warning["host"] == "0.0.0.0"
    assert [line for line in loopback if line["log_level"] == "warning"] == []


@pytest.mark.parametrize(
    ("text", "address"),
    [(":9090", ("127.0.0.1", 9090)), ("0.0.0.0:80", ("0.0.0.0", 80)), ("[::1]:1", ("::1", 1))],
)
def test_parse_address(text: str, address: tuple[str, int]) -> None:
    assert parse_address(text) == address


@pytest.mark.parametrize("text", ["9090", ":http", ":70000", "host:"])
def test_parse_address_refuses_what_is_not_one(text: str) -> None:
    with pytest.raises(ValueError, match="observe"):
        parse_address(text)


@pytest.mark.parametrize("bad", [9090, ("localhost",), ("", 1), ("h", "1"), ("h", True)])
def test_a_bad_observe_argument_is_refused_at_once(bad: object) -> None:
    with pytest.raises(ValueError, match=r"observe must be a \(host, port\)"):
        ActorSystem("obs", observe=bad)  # type: ignore[arg-type]


def test_an_observer_info_that_is_not_a_dict_is_named() -> None:
    from actors.observer._snapshot import _info

    class Odd(actors.Actor):
        def observer_info(self) -> list[int]:
            return [1]

    class FakeCell:
        actor = Odd()

    with pytest.raises(TypeError, match=r"Odd.observer_info\(\) must return a dict"):
        _info(FakeCell())  # type: ignore[arg-type]
