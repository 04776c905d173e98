"""Browser tests for postmortems and action items, on the same served app as tests/test_browser.py
(its fixtures are reused: gunicorn with the demo loaded, Debian's Chromium through Playwright)."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.fixtures.browser import ADMIN, ARTIFACTS, RESPONDER, declare, login

pytestmark = pytest.mark.browser


def flash(page: Page):
    return page.locator(".flash-success")


def test_write_review_approve_and_publish_a_postmortem(page: Page, browser, server):
    login(page, ADMIN[0])
    reference = declare(page, "Browser test: to-do lists emptied by a cleanup job")
    page.locator("#postmortem").get_by_role("link", name="Go to the postmortem").click()
    page.get_by_role("link", name="Start the postmortem").click()

    summary = page.get_by_label("Summary")
    summary.fill("A cleanup job removed **to-do lists** of 2,000 customers.")
    # The live preview is rendered by the server while typing, before anything is saved.
    preview = page.locator('[data-preview-for="summary"]')
    expect(preview.locator("strong")).to_have_text("to-do lists")
    expect(page.get_by_text("Name systems and conditions, not culprits.", exact=False)).to_be_visible()
    page.get_by_role("button", name="Save").click()
    expect(flash(page)).to_have_text("Saved as version 1.")
    expect(page.locator("#section-summary strong")).to_have_text("to-do lists")

    review = page.locator("#review")
    review.get_by_label("Reviewer's e-mail").fill("nobody@example.com")
    review.get_by_role("button", name="Add reviewer").click()
    expect(page.locator("#review .errors")).to_contain_text("No one with the address nobody@example.com")
    page.locator("#review").get_by_label("Reviewer's e-mail").fill(RESPONDER[0])
    page.locator("#review").get_by_role("button", name="Add reviewer").click()
    expect(flash(page)).to_have_text(f"{RESPONDER[1]} is now a reviewer.")
    page.locator("#review").get_by_role("button", name="Send to review").click()
    expect(flash(page)).to_have_text("Sent to review.")
    expect(page.locator(".pm-steps li.current")).to_have_text("In review")

    # The reviewer, in a browser of their own, approves; then publishes.
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
    reviewer = context.new_page()
    try:
        login(reviewer, RESPONDER[0])
        reviewer.goto(f"/incidents/{reference}/postmortem")
        reviewer.locator("#review").get_by_label("Decision").select_option("approve")
        reviewer.locator("#review").get_by_label("Comment").fill("Blameless and clear.")
        reviewer.locator("#review").get_by_role("button", name="Record decision").click()
        expect(flash(reviewer)).to_have_text("Approved. It can now be published.")
        expect(reviewer.locator(".pm-approved")).to_contain_text(f"Approved by {RESPONDER[1]}")
        reviewer.locator("#review").get_by_role("button", name="Publish").click()
        expect(flash(reviewer)).to_have_text("Published. The incident can now be closed.")
        expect(reviewer.locator(".pm-steps li.current")).to_have_text("Published")
        ARTIFACTS.mkdir(exist_ok=True)
        reviewer.screenshot(path=str(ARTIFACTS / "postmortem-published.png"), full_page=True)
    finally:
        context.close()

    # Back on the author's page: the incident's timeline tells the story of the review.
    page.goto(f"/incidents/{reference}")
    expect(page.locator("ol.timeline")).to_contain_text(f"approved by {RESPONDER[1]}")
    expect(page.locator("ol.timeline")).to_contain_text("published by")


def test_create_and_complete_an_action_item(page: Page):
    email, name = ADMIN
    login(page, email)
    reference = declare(page, "Browser test: calendars restored from a stale replica")
    page.locator("#actions").get_by_role("link", name="Add action item").click()
    page.get_by_label("What needs doing").fill("Alert when the replica lags by more than an hour")
    page.get_by_label("Kind").select_option("detect")
    page.get_by_label("Owner").select_option(label=f"{RESPONDER[1]} (responder)")
    page.get_by_label("Due date").fill((date.today() + timedelta(days=21)).isoformat())
    page.get_by_label("Priority").select_option("high")
    page.get_by_role("button", name="Add action item").click()
    expect(flash(page)).to_contain_text("added, owned by Morgan Reyes")
    row = page.locator("#actions li").filter(has_text="Alert when the replica lags")
    expect(row).to_contain_text("Open")

    row.get_by_role("link", name="Alert when the replica lags by more than an hour").click()
    page.locator("#status-change").get_by_label("New status").select_option("done")
    page.locator("#status-change").get_by_role("button", name="Change status").click()
    expect(flash(page)).to_have_text("“Alert when the replica lags by more than an hour” is now done.")
    expect(page.locator(".kv")).to_contain_text("Completed")
    expect(page.locator(".kv")).to_contain_text(name)

    page.goto(f"/incidents/{reference}")
    expect(page.locator("#actions li").filter(has_text="Alert when the replica lags")).to_contain_text("Done")
    expect(page.locator("ol.timeline")).to_contain_text(
        f"Action item Alert when the replica lags by more than an hour completed by {name}.")
    page.goto("/actions")
    expect(page.get_by_text("Alert when the replica lags by more than an hour")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"/actions$"))


def test_demo_incident_shows_its_published_postmortem_and_its_finished_actions(page: Page):
    """The served demo (loaded by `flask demo load`) tells the end of the 2009 story."""
    login(page, ADMIN[0])
    page.goto("/incidents/INC-2009-0001/postmortem")
    expect(page.locator(".pm-steps li.current")).to_have_text("Published")
    expect(page.locator(".pm-approved").first).to_contain_text("Approved by Dana Okafor")
    expect(page.locator("#section-root_cause")).to_contain_text("without a fresh, tested backup")
    expect(page.locator("#section-lessons")).to_contain_text("no accountable owner")
    done = page.locator("#actions tr").filter(has_text="Done")
    expect(done).to_have_count(5)
    expect(page.locator("#actions tr").filter(has_text="Won't do")).to_have_count(1)
    page.goto("/actions/overdue")
    expect(page.locator("table.action-items tbody tr")).to_have_count(0)
