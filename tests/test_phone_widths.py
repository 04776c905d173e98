"""At a phone's width (390 px) no main page scrolls sideways, signed in or public; the nav folds
into a menu; the quick-post box is on the first screen of the incident page."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.fixtures.browser import ADMIN, login

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}

SIGNED_IN = ["/", "/?status=", "/incidents/new", "/incidents/INC-2009-0001", "/incidents/INC-2009-0001/edit",
             "/incidents/INC-2009-0001/impact", "/incidents/INC-2009-0001/impact/history",
             "/incidents/INC-2009-0001/postmortem", "/incidents/INC-2009-0001/postmortem/edit",
             "/incidents/INC-2009-0001/reports", "/incidents/INC-2009-0001/reports/executive",
             "/incidents/INC-2009-0001/notices/1", "/incidents/INC-2009-0001/obligations",
             "/deadlines", "/actions", "/postmortems/due", "/admin/users", "/admin/components", "/admin/audit",
             "/admin/obligation-rules", "/admin/webhooks", "/admin/webhooks/new"]
PUBLIC = ["/login", "/status/", "/status/history"]


def overflow(page) -> int:
    """How far the document is wider than the window (0: nothing scrolls sideways)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def test_no_main_page_scrolls_sideways_on_a_phone(browser, server):
    context = browser.new_context(base_url=server.url, viewport=PHONE)
    try:
        page = context.new_page()
        wide = {}
        for path in PUBLIC:
            page.goto(path)
            wide[path] = overflow(page)
        page.goto("/status/")
        incident = page.locator("a[href^='/status/incidents/']").first
        if incident.count():
            incident.click()
            wide[page.url] = overflow(page)
        login(page, ADMIN[0])
        for path in SIGNED_IN:
            answer = page.goto(path)
            assert answer.status == 200, f"{path}: {answer.status}"
            wide[path] = overflow(page)
        too_wide = {path: px for path, px in wide.items() if px > 0}
        assert too_wide == {}, "\n".join(f"{path}: {px} px too wide" for path, px in too_wide.items())
    finally:
        context.close()


def test_the_nav_folds_into_a_menu_and_the_quick_post_box_is_on_the_first_screen(browser, server):
    context = browser.new_context(base_url=server.url, viewport=PHONE)
    try:
        page = context.new_page()
        login(page, ADMIN[0])
        nav = page.get_by_role("navigation", name="Main")
        expect(nav.get_by_role("link", name="Deadlines")).to_be_hidden()
        page.get_by_text("Menu", exact=True).click()
        expect(nav.get_by_role("link", name="Deadlines")).to_be_visible()
        nav.get_by_role("link", name=re.compile("Photo|Incidents")).first.click()
        page.get_by_role("link", name=re.compile("Photo thumbnails missing")).click()
        box = page.get_by_label("What's happening?").bounding_box()
        assert box is not None and box["y"] + box["height"] <= PHONE["height"], box
        # The long demo incident too: its head, first card and figures stay short enough.
        page.goto("/incidents/INC-2009-0001")
        box = page.get_by_label("What's happening?").bounding_box()
        assert box is not None and box["y"] + box["height"] <= PHONE["height"], box
    finally:
        context.close()
