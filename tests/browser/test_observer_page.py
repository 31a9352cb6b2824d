"""The observer page in a real browser: it draws the running tree, a restart count
changes after a crash, failures appear in the feed, a click shows an actor's details.
The screenshots docs/observability.md shows are taken here."""

from __future__ import annotations

from typing import Any

from actors import ActorSystem
from tests.observer.support import crash_and_wait_for_restart, tree

from .conftest import SCREENSHOTS

WORKER = '.actor[data-path="obs/top/worker"]'


async def test_the_page_shows_the_tree_and_a_restart_after_a_crash(page: Any) -> None:
    async with ActorSystem("obs", observe=("127.0.0.1", 0)) as system:
        top = await system.spawn_tree(tree())
        (worker,) = [r.ref for r in await top.which_children() if r.id == "worker"]
        await page.goto(str(system.observer_url))
        await page.wait_for_selector(f'{WORKER} [data-restarts="0"]')
        supervisor = page.locator('.actor[data-path="obs/top"]')
        assert "one_for_all, 5 in 10 s" in await supervisor.inner_text()
        assert "Worker" in await page.locator(WORKER).inner_text()
        assert await page.locator(f"{WORKER} [data-status]").inner_text() == "running"

        await crash_and_wait_for_restart(worker)
        await page.wait_for_selector(f'{WORKER} [data-restarts="1"]')
        failure = page.locator("#feed tr.kind-failure").first
        await failure.wait_for()
        assert (await failure.inner_text()).split("\t") == [
            "failure",
            "obs/top/worker",
            "Crash",
            "RuntimeError: boom",
        ]
        await page.locator('#connection:text("live")').wait_for()
        await page.screenshot(path=SCREENSHOTS / "observer-tree.png", full_page=True)

        await page.locator(WORKER).click()
        details = page.locator("#details-table")
        await details.wait_for()
        text = await details.inner_text()
        assert "tests.observer.support.Worker" in text
        assert "obs/top/worker" in text
        await page.locator('#details li:has-text("RuntimeError: boom")').wait_for()
        await page.screenshot(path=SCREENSHOTS / "observer-details.png")
