"""Live updates in a real browser: what a second session posts appears on the first session's
incident page without a reload, what the first reader is typing stays, and a page whose sign-in ended
says that its updates stopped."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.fixtures.browser import ADMIN, RESPONDER, login

pytestmark = pytest.mark.browser


def test_a_second_sessions_post_and_figures_appear_on_the_first_sessions_page(browser, server):
    watcher = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
    poster = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
    try:
        mine, theirs = watcher.new_page(), poster.new_page()
        login(mine, ADMIN[0])
        mine.get_by_role("link", name=re.compile("Photo thumbnails missing")).click()
        incident_url = mine.url
        # Half a thought in the quick-post box, and no reload from here on.
        mine.get_by_label("What's happening?").fill("Half-typed note")
        # And a public update being written inside a region that changes: it waits for them.
        mine.locator("#publish").get_by_text("Post public update").first.click()  # opens from its button
        public_body = mine.locator("#publish textarea[name=public_body]")
        public_body.fill("We are rebuilding the previews")
        # A form opened and left alone stays open when its region is swapped.
        mine.locator("#status-change").get_by_text("Move status").click()
        mine.evaluate("window.__same_page = true")

        login(theirs, RESPONDER[0])
        theirs.goto(incident_url)
        theirs.get_by_label("What's happening?").fill("Thumbnail cache rebuilt on the second web node")
        theirs.get_by_label("What's happening?").press("Enter")
        expect(theirs.locator(".flash-success")).to_have_text("Update posted.")

        entries = mine.locator("ol.timeline li.entry")
        expect(entries.filter(has_text="Thumbnail cache rebuilt on the second web node")).to_have_count(
            1, timeout=20_000)
        expect(mine.locator("#live-status")).to_contain_text("New updates")
        assert mine.evaluate("window.__same_page") is True  # swapped in place, not reloaded
        expect(mine.get_by_label("What's happening?")).to_have_value("Half-typed note")
        expect(public_body).to_have_value("We are rebuilding the previews")
        expect(mine.locator("#status-change").get_by_label("New status")).to_be_visible()

        # New figures too: the second session records an impact update.
        theirs.goto(incident_url.rstrip("/") + "/impact")
        affected = theirs.locator("input[name=customers_affected]")
        figure = int(affected.input_value() or "0") + 123
        affected.fill(str(figure))
        theirs.get_by_role("button", name=re.compile("Record")).click()
        expect(mine.locator("#impact")).to_contain_text(f"{figure:,}", timeout=20_000)
    finally:
        watcher.close()
        poster.close()


def test_when_the_sign_in_ends_the_page_says_live_updates_stopped(browser, server):
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        login(page, ADMIN[0])
        page.get_by_role("link", name=re.compile("Photo thumbnails missing")).click()
        context.clear_cookies()  # as after an idle timeout or a sign-out in another tab
        expect(page.get_by_role("status").filter(has_text="Live updates stopped")).to_contain_text(
            "your sign-in ended", timeout=20_000)
    finally:
        context.close()
