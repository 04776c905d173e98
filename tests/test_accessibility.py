"""Accessibility of the main pages, checked by axe-core in Chromium: no serious or critical
violation; and the keyboard: Tab reaches the skip link first, which takes focus to the content, and
the forms behind buttons open and work without a mouse."""
from __future__ import annotations

import re

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


def tab_to(page, locator, limit: int = 250) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if locator.evaluate("el => el === document.activeElement"):
            return
    raise AssertionError(f"Tab never reached {locator}")


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
        tab_to(page, box, limit=80)
        expect(box).to_be_focused()
    finally:
        context.close()


def test_the_forms_behind_buttons_open_and_work_from_the_keyboard(browser, server):
    context = browser.new_context(base_url=server.url, viewport={"width": 1366, "height": 900})
    try:
        page = context.new_page()
        login(page, ADMIN[0])
        # An open incident: "Move status" opens with Enter and its first field takes the next Tab.
        page.goto("/incidents/INC-2026-0001")
        status = page.locator("#status-change")
        expect(status.get_by_label("New status")).to_be_hidden()
        tab_to(page, status.locator("summary"))
        page.keyboard.press("Enter")
        page.keyboard.press("Tab")
        expect(status.get_by_label("New status")).to_be_visible()
        expect(status.get_by_label("New status")).to_be_focused()
        # The timeline's filters: open, tick a kind with Space, apply with Enter.
        page.goto("/incidents/INC-2009-0001")
        filters = page.locator("details.filters")
        tab_to(page, filters.locator("summary"))
        page.keyboard.press("Enter")
        page.keyboard.press("Tab")
        note = filters.get_by_role("checkbox", name="Note")
        expect(note).to_be_focused()
        page.keyboard.press("Space")
        expect(note).to_be_checked()
        tab_to(page, filters.get_by_role("button", name="Apply"), limit=20)
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"kind=note"))
        expect(page.locator("details.filters")).to_have_attribute("open", "")
        expect(page.locator("ol.timeline li.entry").first).to_have_class(re.compile("kind-note"))
    finally:
        context.close()
