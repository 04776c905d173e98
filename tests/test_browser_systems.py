"""Browser test of the systems catalogue and the ownership audit (issue #15) on the served demo.

A responder opens "What could lose data next", finds the storage cluster inherited with Halcyon
Data at the top (no owner, backup failing for weeks, restore never tested), follows the audit's
"Name an owner" link to the edit form, names one, and sees the audit drop that problem. The 2009
incident's "Systems affected" panel and its executive report still show the cluster as it stood
when the incident was declared: no owner, last good backup 13 September 2009.

Same fixtures as tests/test_browser.py (gunicorn with the demo loaded, Debian's Chromium).
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.fixtures.browser import ARTIFACTS, RESPONDER, login

pytestmark = pytest.mark.browser

REFERENCE = "INC-2009-0001"
CLUSTER = "Halcyon storage cluster (Skylark Sync user data)"
WIDTHS = {"wide": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


def screenshots(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for width, size in WIDTHS.items():
        page.set_viewport_size(size)
        page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
        # Nothing on the page may need sideways scrolling at this width.
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, f"{name} at {size['width']} px scrolls sideways by {overflow} px"
    page.set_viewport_size({"width": 1280, "height": 900})


def audit_item(page: Page, name: str):
    return page.locator("li.audit-item", has=page.get_by_role("link", name=name, exact=True))


def test_the_audit_shows_the_next_loss_and_its_fix_link_works(page: Page):
    login(page, RESPONDER[0])
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Systems").click()
    expect(page.get_by_role("heading", name="Systems", level=1)).to_be_visible()
    page.get_by_role("link", name="What could lose data next").first.click()
    expect(page.get_by_role("heading", name="What could lose data next", level=1)).to_be_visible()

    first = page.locator("li.audit-item").first
    expect(first.get_by_role("heading", level=2)).to_have_text(CLUSTER)  # the worst comes first
    for problem in ("Personal data without an owner", "Last backup report a failure",
                    "Last backup older than the RPO target", "Restore never tested", "Acquired, never reviewed"):
        expect(first.locator(".audit-problems")).to_contain_text(problem)
    expect(first).to_contain_text("Failing since")
    expect(page.locator(".audit-counts")).to_contain_text("Owner disabled")
    screenshots(page, "systems-audit")

    # The fix link of "No owner" opens the edit form at the owner field.
    first.locator("li[data-problem='no_owner']").get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/systems/\d+/edit#owner$"))
    page.get_by_label("Accountable owner").select_option(label="Morgan Reyes (responder)")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("heading", name=CLUSTER, level=1)).to_be_visible()
    expect(page.locator("body")).to_contain_text("Morgan Reyes")
    screenshots(page, "systems-detail")

    page.goto("/systems/audit")
    cluster = audit_item(page, CLUSTER)
    expect(cluster.locator(".audit-problems")).not_to_contain_text("No owner")
    expect(cluster.locator(".audit-problems")).to_contain_text("Last backup report a failure")


def test_the_incident_keeps_the_systems_state_when_it_was_declared(page: Page):
    login(page, RESPONDER[0])
    page.goto(f"/incidents/{REFERENCE}")
    panel = page.locator("section#systems")
    expect(panel.get_by_role("heading", name="Systems affected")).to_be_visible()
    named = panel.locator("li.named-system", has_text=CLUSTER)
    # Whatever the catalogue says today, the incident shows the cluster as responders found it.
    expect(named).to_contain_text("no owner")
    expect(named).to_contain_text("2009-09-13")
    expect(named).to_contain_text("Restore never tested")
    panel.scroll_into_view_if_needed()
    screenshots(page, "systems-incident")

    page.goto(f"/incidents/{REFERENCE}/reports/executive")
    section = page.locator("section", has=page.get_by_role("heading", name="Systems affected"))
    expect(section).to_contain_text(CLUSTER)
    expect(section).to_contain_text("2009-09-13")
