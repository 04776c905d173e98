"""Browser tests: Playwright (sync API) driving Debian's Chromium against the real app.

The app is served the way production serves it: migrations and demo data through the `flask`
CLI, then gunicorn with gthread workers, SQLite in a throw-away instance folder and CSRF on.

Chromium comes from Debian (`tests/setup_browser.sh`); set CHROMIUM_PATH to use another binary.
Without it these tests skip loudly, or fail with CI=true.
"""
from __future__ import annotations

import re
import secrets

import pytest
from playwright.sync_api import Page, expect

from tests.fixtures.browser import ADMIN, ARTIFACTS, RESPONDER, LiveServer, declare, login

pytestmark = pytest.mark.browser

VIEWER_EMAIL = "browser.viewer@example.com"
VIEWER_PASSWORD = "viewer-" + secrets.token_hex(8)


# --- helpers ----------------------------------------------------------------------------------

def timeline(page: Page):
    return page.locator("ol.timeline")


def entry_with(page: Page, text: str):
    return timeline(page).locator("li.entry").filter(has_text=text)


def post_update(page: Page, body: str) -> None:
    """One line goes in the quick box and Enter posts it; longer text goes under More options."""
    if "\n" in body:
        page.locator("form.quick-post summary").click()
        page.get_by_label("Or write a longer update").fill(body)
        page.get_by_role("button", name="Post update").click()
    else:
        page.get_by_label("What's happening?").fill(body)
        page.get_by_label("What's happening?").press("Enter")
    expect(page.locator(".flash-success")).to_have_text("Update posted.")


def status_badge(page: Page):
    return page.locator(".incident-head .badge.status")


# --- the tests --------------------------------------------------------------------------------

def test_declare_incident_and_post_update(page: Page):
    email, name = ADMIN
    login(page, email)
    title = "Browser test: address books empty after migration"
    reference = declare(page, title, severity="SEV1")

    head = page.locator(".incident-head")
    expect(head.locator(".ref")).to_have_text(reference)
    expect(head.locator(".badge.sev")).to_have_text("SEV1")
    expect(status_badge(page)).to_have_text("Investigating")

    update = "Restore from snapshot 42 started; **no writes** to the damaged volume."
    post_update(page, update)
    expect(page).to_have_url(re.compile(rf"/incidents/{re.escape(reference)}#timeline$"))
    entry = entry_with(page, "Restore from snapshot 42 started")
    expect(entry).to_have_count(1)
    expect(entry.locator(".prose")).to_have_text("Restore from snapshot 42 started; no writes to the damaged volume.")
    expect(entry.locator(".prose strong")).to_have_text("no writes")
    expect(entry.locator(".author")).to_have_text(name)
    expect(entry).to_be_visible()

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "incident-page.png"), full_page=True)


def test_the_bar_is_one_line_for_an_admin_and_its_menus_open_and_close(page: Page):
    """Six admin pages sit in one Admin menu and the account in another, so at 1366 px the bar
    keeps one line; a menu closes on a click elsewhere or on Escape."""
    login(page, ADMIN[0])
    page.set_viewport_size({"width": 1366, "height": 800})
    admin = page.locator("details.navmenu", has=page.get_by_text("Admin", exact=True))

    def middle(locator) -> float:
        box = locator.bounding_box()
        return box["y"] + box["height"] / 2

    first = page.get_by_role("navigation", name="Main").get_by_role("link", name="Incidents")
    for last in (admin.locator("summary"), page.locator(".whoami summary")):  # one line, not two
        assert abs(middle(last) - middle(first)) < 4
    webhooks = page.get_by_role("link", name="Webhooks")
    expect(webhooks).to_be_hidden()
    admin.locator("summary").click()
    expect(webhooks).to_be_visible()
    page.locator("main h1").click()
    expect(webhooks).to_be_hidden()
    admin.locator("summary").click()
    page.keyboard.press("Escape")
    expect(webhooks).to_be_hidden()
    admin.locator("summary").click()
    webhooks.click()
    expect(page).to_have_url(re.compile(r"/admin/webhooks$"))


def test_status_lifecycle_and_correction(page: Page):
    email, name = RESPONDER
    login(page, email)
    reference = declare(page, "Browser test: calendar sync dropped recurring events")
    expect(status_badge(page)).to_have_text("Investigating")

    previous = "investigating"
    for status in ("identified", "recovering", "monitoring", "resolved"):
        form = page.locator("#status-change")
        form.get_by_text("Move status").click()  # the form opens from its button
        form.get_by_label("New status").select_option(status)
        form.get_by_label("Why (optional, goes on the timeline)").fill(f"Now {status} (browser test).")
        form.get_by_role("button", name="Change status").click()
        expect(page.locator(".flash-success")).to_have_text(f"Status is now {status}.")
        expect(status_badge(page)).to_have_text(status.capitalize())
        change = entry_with(page, f"Status changed from {previous} to {status}.")
        expect(change).to_have_count(1)
        expect(change.locator(".prose")).to_contain_text(f"Now {status} (browser test).")
        expect(change.locator(".author")).to_have_text(name)
        previous = status
    expect(page).to_have_url(re.compile(rf"/incidents/{re.escape(reference)}$"))
    # A resolved incident closes only once its postmortem is published: until then no "closed".
    expect(page.locator("#status-change").get_by_label("New status").locator("option[value=closed]")).to_have_count(0)
    expect(page.locator("#status-change")).to_contain_text("Closing becomes possible once the postmortem is published.")

    original = "About 4,000 calendars lost recurring events."
    post_update(page, original)
    entry = entry_with(page, original)
    expect(entry.locator(".badge.corrected")).to_have_count(0)
    entry.get_by_role("link", name="Correct").click()
    expect(page.get_by_role("heading", name="Correct a timeline entry")).to_be_visible()
    corrected = "About 400 calendars lost recurring events; the rest were only hidden."
    page.get_by_label("Corrected text").fill(corrected)
    page.get_by_label("Why the correction?").fill("Recount after the restore.")
    page.get_by_role("button", name="Record correction").click()

    expect(page.locator(".flash-success")).to_contain_text("the original is kept")
    entry = entry_with(page, corrected)
    expect(entry).to_have_count(1)
    expect(entry.locator(":scope > .prose")).to_have_text(corrected)
    expect(entry.locator(".badge.corrected")).to_be_visible()
    history = entry.locator("details.history")
    old = history.locator(".old-revision .prose")
    expect(old).to_be_hidden()
    history.locator("summary").click()
    expect(history).to_have_attribute("open", "")
    expect(history.locator("summary")).to_have_text("History: 2 revisions")
    expect(history).to_contain_text("Recount after the restore.")
    expect(old).to_be_visible()
    expect(old).to_have_text(original)


def test_hostile_markdown_does_not_execute(page: Page):
    dialogs: list[str] = []

    def on_dialog(dialog):
        dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    login(page, RESPONDER[0])
    reference = declare(page, "Browser test: hostile Markdown")
    payload = ('Evil image <img src=x onerror="window.__xss=1;alert(1)"> here.\n\n'
               "Evil link [click](javascript:window.__xss=1;alert(2)) there.")
    post_update(page, payload)
    page.reload()

    entry = entry_with(page, "Evil image")
    expect(entry).to_have_count(1)
    expect(entry).to_contain_text("Evil link")
    # The sanitiser removed the image and the javascript: URL (CSP would only be a second wall).
    expect(entry.locator("img")).to_have_count(0)
    links = entry.locator(".prose a", has_text="click")
    for i in range(links.count()):
        href = links.nth(i).get_attribute("href") or ""
        assert not href.strip().lower().startswith("javascript:"), href
        links.nth(i).click()
    expect(page).to_have_url(re.compile(rf"/incidents/{re.escape(reference)}(#.*)?$"))
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert dialogs == []


def test_viewer_reads_only_and_logout_locks_pages(page: Page, server: LiveServer):
    server.flask("users", "create", VIEWER_EMAIL, "--role", "viewer", "--name", "Vera Viewer",
                 "--password-stdin", stdin=VIEWER_PASSWORD + "\n")
    login(page, VIEWER_EMAIL, VIEWER_PASSWORD)
    expect(page.locator(".whoami")).to_contain_text("Vera Viewer · viewer")
    expect(page.get_by_role("link", name="Declare incident")).to_have_count(0)

    # The demo's open incident is on the default list (the 2009 one is closed).
    page.get_by_role("link", name=re.compile("Photo thumbnails missing")).click()
    expect(page.get_by_role("heading", name=re.compile("Photo thumbnails missing"), level=1)).to_be_visible()
    incident_url = page.url
    expect(timeline(page).locator("li.entry").first).to_be_visible()
    expect(page.get_by_role("link", name="Declare incident")).to_have_count(0)
    expect(page.locator("form.quick-post")).to_have_count(0)
    expect(page.get_by_role("button", name="Post update")).to_have_count(0)
    expect(page.locator("#status-change")).to_have_count(0)
    expect(page.get_by_role("button", name="Change status")).to_have_count(0)
    expect(page.get_by_role("link", name="Correct")).to_have_count(0)

    expect(page.get_by_text("Admin", exact=True)).to_have_count(0)  # no admin menu for a viewer
    page.locator(".whoami summary").click()  # the account menu holds the way out
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator(".flash-info")).to_have_text("You are signed out.")

    login_page = re.compile(r"/login(\?.*)?$")
    # "commit", not "load": a page restored from the back/forward cache fires no load event.
    page.go_back(wait_until="commit")
    expect(page).to_have_url(login_page)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator(".incident-head")).to_have_count(0)
    page.reload()
    expect(page).to_have_url(login_page)
    expect(page.locator(".incident-head")).to_have_count(0)
    page.goto(incident_url)
    expect(page).to_have_url(login_page)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("ol.timeline")).to_have_count(0)


def chart_state(page: Page) -> dict[str, str | None]:
    """What the recovery chart shows now: its latest figures, the restored line and the bars."""
    chart = page.locator("#recovery-chart svg.recovery-chart")
    expect(chart).to_have_count(1)
    return {
        "affected": chart.get_attribute("data-latest-affected"),
        "restored": chart.get_attribute("data-latest-restored"),
        "restored_line": chart.locator('polyline[data-series="restored"]').get_attribute("points"),
        # The page's chart draws the figures; each workstream's bar is in the list beside it.
        "bars": " ".join(page.locator("#workstreams li.ws progress").evaluate_all(
            "ps => ps.map(p => (100 * p.value / p.max).toFixed(1))")),
    }


def record_impact(page: Page, **figures: int) -> None:
    page.get_by_role("link", name="Record impact update", exact=True).click()
    for label, value in figures.items():
        page.get_by_label(label.replace("_", " ").capitalize(), exact=True).fill(str(value))
    page.get_by_role("button", name="Record impact update").click()
    expect(page.locator(".flash-success")).to_contain_text("Impact recorded")


def test_impact_and_workstream_updates_move_the_figures_bars_and_chart(page: Page):
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    login(page, RESPONDER[0])
    declare(page, "Browser test: restore progress shows on the chart")
    expect(page.locator("#recovery-chart")).to_have_count(0)  # nothing to draw yet

    record_impact(page, Customers_affected=40_000, Restored=0, Permanently_lost=0, Notified=0)
    panel = page.locator("#impact")
    expect(panel.locator(".figure-restored .figure-value")).to_have_text("0")
    expect(page.get_by_role("heading", name="Recovery over time")).to_be_visible()
    first = chart_state(page)
    assert (first["affected"], first["restored"], first["bars"]) == ("40000", "0", "")

    record_impact(page, Customers_affected=40_000, Restored=30_000, Permanently_lost=500, Notified=40_000)
    expect(panel.locator(".figure-restored .figure-value")).to_have_text("30,000")
    expect(panel.locator(".figure-restored .figure-pct")).to_contain_text("75.0%")
    second = chart_state(page)
    assert second["restored"] == "30000"
    assert second["restored_line"] != first["restored_line"], "the restored line moved"
    chart = page.locator("#recovery-chart svg")
    expect(chart.locator('[data-legend="restored"]')).to_have_text("Restored 30,000 (75.0%)")
    expect(chart.locator("desc")).to_contain_text("30,000 of 40,000 affected customers restored")

    name = 'Restore contacts from <tape> "B"/>'
    page.get_by_role("link", name="Add workstream", exact=True).click()
    page.get_by_label("Name").fill(name)
    page.get_by_label("Accountable owner").select_option(label=f"{RESPONDER[1]} (responder)")
    page.get_by_label("Target").fill("1000")
    page.get_by_role("button", name="Start workstream").click()
    expect(page.locator(".flash-success")).to_contain_text("started")
    item = page.locator("li.ws").filter(has_text=name)
    expect(item.locator("progress")).to_have_attribute("value", "0")
    assert chart_state(page)["bars"] == "0.0"

    item.get_by_text("Report progress").first.click()  # the form opens from its button
    item.get_by_label(re.compile("^Done so far")).fill("250")
    item.locator("form.ws-report").get_by_role("button", name="Report progress").click()
    expect(page.locator(".flash-success")).to_contain_text("250 of 1,000")
    item = page.locator("li.ws").filter(has_text=name)
    expect(item.locator("progress")).to_have_attribute("value", "250")
    expect(item.locator(".ws-count")).to_contain_text("25%")
    third = chart_state(page)
    assert third["bars"] == "25.0" and third["restored_line"] == second["restored_line"]
    item = page.locator("#workstreams li.ws").filter(has_text=name)
    expect(item.locator(".ws-name")).to_have_text(name)  # shown as text, not parsed as markup
    expect(item.locator(".ws-count")).to_contain_text("25%")
    assert dialogs == []

    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#recovery-chart").screenshot(path=str(ARTIFACTS / "recovery-chart.png"))


def test_status_page_bars_show_their_day_and_maintenance(page: Page):
    """The demo's bars as a visitor sees them: most days green, today's incident amber on the web
    viewer, the maintenance day blue, each bar's text on hover; a phone shows the last 30 days."""
    page.goto("/status/")
    bars = page.locator("li.status-component", has_text="Web viewer").locator("ol.uptime-bars > li")
    expect(bars).to_have_count(90)

    def colour(bar) -> str:
        return bar.evaluate("element => getComputedStyle(element).backgroundColor")

    assert colour(bars.nth(0)) == "rgb(46, 125, 50)"
    today = bars.nth(89)
    assert colour(today) == "rgb(217, 164, 0)"
    tooltip = today.locator("i")
    today.hover()
    expect(tooltip).to_be_visible()
    expect(tooltip).to_contain_text("Some photo previews missing on the web")
    backups = page.locator("li.status-component", has_text="Photo backup")
    maintenance = backups.locator("ol.uptime-bars > li.ub-under_maintenance")
    expect(maintenance).to_have_count(1)
    assert colour(maintenance) == "rgb(21, 101, 192)"
    page.set_viewport_size({"width": 390, "height": 900})
    expect(bars.locator("visible=true")).to_have_count(30)
