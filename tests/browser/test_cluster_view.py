"""The observer page's cluster view in a real browser: a second node appears, then
disappears (``down``) once it left. The screenshot docs/observability.md shows is
taken here."""

from __future__ import annotations

from typing import Any

from actors import ActorSystem
from tests.transport.nats_support import node, unique_system

from .conftest import SCREENSHOTS

OPTIONS = {"heartbeat": 0.2, "misses": 3}


def member(node_id: str, status: str) -> str:
    return f'#members .member[data-node="{node_id}"] [data-status="{status}"]'


async def test_the_cluster_view_shows_a_node_appear_and_disappear(page: Any, url: str) -> None:
    name = unique_system()
    observed = ActorSystem(name, transport=node(url, "n1", **OPTIONS), observe=("127.0.0.1", 0))
    async with observed as system:
        await page.goto(str(system.observer_url))
        await page.wait_for_selector(member("n1", "up"))
        assert await page.locator("#members .member").count() == 1
        assert "this node" in await page.locator('#members .member[data-node="n1"]').inner_text()

        async with ActorSystem(name, transport=node(url, "n2", **OPTIONS)):
            await page.wait_for_selector(member("n2", "up"))
            await page.locator('#feed td:text-is("node n2")').first.wait_for()
            await page.locator('#connection:text("live")').wait_for()
            await page.screenshot(path=SCREENSHOTS / "observer-cluster.png")
        await page.wait_for_selector(member("n2", "down"))
        assert await page.locator(member("n1", "up")).count() == 1
        down = page.locator("#feed tr.kind-node-down").first
        await down.wait_for()
        assert (await down.inner_text()).split("\t")[:2] == ["node down", "node n2"]
