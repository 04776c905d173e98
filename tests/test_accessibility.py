"""Accessibility of the main pages, checked by axe-core in Chromium: no serious or critical
violation; and the keyboard: Tab reaches the skip link first, which takes focus to the content."""
from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.fixtures.browser import ADMIN, login

pytestmark = pytest.mark.browser

SIGNED_IN = ["/", "/incidents/INC-2009-0001", "/incidents/new", "/incidents/INC-2009-0001/postmortem",
             "/incidents/INC-2009-0001/reports", "/incidents/INC-2009-0001/obligations", "/deadlines"]
PUBLIC = ["/status/", "/status/history", "/login"]


def serious(page) -> list[str]:
    results = Axe().run(page)
    return [f"{v['id']} ({v['impact']}): {v['help']} — e.g. {v['nodes'][0]['target']}"
            for v in results.response["violations"] if v["impact"] in ("serious", "critical")]


def test_axe_finds_no_serious_or_critical_violation_on_the_main_pages(browser, server):
    context = browser.new_context(base_url=server.url, viewport={"width": 1366, "height": 900})
    try:
        page = context.new_page()
        found = {}
        for path in PUBLIC:
            page.goto(path)
            found[path] = serious(page)
        login(page, ADMIN[0])
        for path in SIGNED_IN:
            page.goto(path)
            found[path] = serious(page)
        problems = {path: v for path, v in found.items() if v}
        assert problems == {}, "\n".join(f"{path}: {line}" for path, lines in problems.items() for line in lines)
    finally:
        context.close()


def test_the_first_tab_reaches_the_skip_link_which_moves_to_the_content(browser, server):
    context = browser.new_context(base_url=server.url, viewport={"width": 1366, "height": 900})
    try:
        page = context.new_page()
        login(page, ADMIN[0])
        page.goto("/incidents/INC-2009-0001")
        page.keyboard.press("Tab")
        skip = page.get_by_role("link", name="Skip to content")
        expect(skip).to_be_focused()
        expect(skip).to_be_visible()
        page.keyboard.press("Enter")
        expect(page.locator("main#main")).to_be_focused()
        # From there the keyboard reaches the quick-post box and posts with Enter.
        box = page.get_by_label("What's happening?")
        for _ in range(80):
            page.keyboard.press("Tab")
            if box.evaluate("el => el === document.activeElement"):
                break
        expect(box).to_be_focused()
    finally:
        context.close()
