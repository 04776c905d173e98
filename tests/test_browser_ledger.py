"""Browser test of the affected-customer ledger (issue #14) on the served demo: a responder uploads
a small list to the 2009 incident's ledger, watches the import page follow it (progress bar, then the
result once a job worker has applied it), sees the figures move and looks a new customer up.

Same fixtures as tests/test_browser.py (gunicorn with the demo loaded, Debian's Chromium through
Playwright). Those serve no job worker; this module starts `flask jobs worker` on the same instance
folder, and only once the import page shows the queued import, so its progress bar is seen for sure.
"""
from __future__ import annotations

import re
import signal
import subprocess

import pytest
from playwright.sync_api import Page, expect

from tests.fixtures.browser import ARTIFACTS, BIN, PROJECT_ROOT, RESPONDER, login

pytestmark = pytest.mark.browser

REFERENCE = "INC-2009-0001"
LIST = ("customer_id,data_categories,country,region,channel,records\n"
        "SKY-9000001,contacts;photos,US,CA,email,120\n"
        "SKY-9000002,contacts;photos,US,CA,email,45\n"
        "SKY-9000003,contacts;photos,US,US-CA,letter,\n"
        "SKY-9000004,contacts,XX,,email,3\n")  # not a country: left out, listed as a problem
WIDTHS = {"wide": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def start_worker(server):
    """Call to start a job worker on the served instance; it is stopped after the test."""
    started: list[subprocess.Popen] = []

    def start() -> None:
        with open(server.instance / "worker.log", "ab") as log:
            started.append(subprocess.Popen([str(BIN / "flask"), "--app", "app", "jobs", "worker", "--workers", "1"],
                                            cwd=PROJECT_ROOT, env=server.env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL))

    yield start
    for worker in started:
        worker.send_signal(signal.SIGINT)  # Huey: finish the running job, then stop
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def customers_total(page: Page) -> str:
    """The affected count of the overview's "All customers" row, as shown."""
    return page.locator("table.ledger-figures tr", has_text="All customers").locator("td").first.inner_text()


def screenshots(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for width, size in WIDTHS.items():
        page.set_viewport_size(size)
        page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_import_a_list_follow_it_and_look_a_customer_up(page: Page, start_worker, tmp_path):
    login(page, RESPONDER[0])
    page.goto(f"/incidents/{REFERENCE}")
    page.locator("#impact").get_by_role("link", name="Affected customers").click()
    expect(page.get_by_role("heading", name=f"Affected customers · {REFERENCE}", level=1)).to_be_visible()
    before = int(customers_total(page).replace(",", ""))
    assert before > 1_000, "the demo's ledger holds (a sample of) the story's affected subscribers"
    expect(page.locator("table", has_text="skylark-affected-customers.csv")).to_contain_text("Applied")
    screenshots(page, "ledger-overview")

    upload = tmp_path / "more-affected-customers.csv"
    upload.write_text(LIST)
    page.get_by_label("CSV file (UTF-8)").set_input_files(upload)
    page.get_by_label("Apply every good row; report the bad ones").check()
    page.get_by_role("button", name="Upload and import").click()

    # Queued with no worker yet: the page shows the bar and asks the server how far it is.
    expect(page).to_have_url(re.compile(rf"/incidents/{REFERENCE}/ledger/imports/[^/]+$"))
    expect(page.get_by_role("heading", name="Import of more-affected-customers.csv")).to_be_visible()
    expect(page.locator("progress#import-bar")).to_be_visible()
    expect(page.locator("[data-import-label]")).to_have_text("Waiting for a worker")
    start_worker()
    # The page reloads itself once the import has finished (static/js/ledger-import.js).
    result = page.locator(".import-result")
    expect(result).to_contain_text("Applied 3 rows", timeout=60_000)
    expect(page.locator("progress#import-bar")).to_have_count(0)
    expect(page.locator("[data-import-label]")).to_have_text("Applied")
    problems = page.locator("table", has_text="Customer id")
    expect(problems).to_contain_text("SKY-9000004")
    expect(problems).to_contain_text("'XX' is not an ISO 3166 two-letter code")
    screenshots(page, "ledger-import")

    page.get_by_role("link", name=f"All customers of {REFERENCE}").click()
    expect(page.get_by_role("heading", name=f"Affected customers · {REFERENCE}", level=1)).to_be_visible()
    assert customers_total(page) == f"{before + 3:,}"
    expect(page.locator("table", has_text="more-affected-customers.csv")).to_contain_text("Applied")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Customer look-up").click()
    page.get_by_label("Customer id").fill("SKY-9000001")
    page.get_by_role("button", name="Look up").click()
    found = page.locator("section.lookup-result")
    expect(found).to_have_count(1)
    expect(found.get_by_role("heading", level=2)).to_contain_text(f"SKY-9000001 in {REFERENCE}")
    expect(found.get_by_role("rowheader")).to_have_text(["Contacts", "Photos"])
    expect(found).to_contain_text("US-CA")
    screenshots(page, "ledger-lookup-new")

    # A customer of the demo's own list: restored by named workstreams, told by the released notice.
    page.get_by_label("Customer id").fill("SKY-0000001")
    page.get_by_role("button", name="Look up").click()
    expect(page.locator("section.lookup-result")).to_contain_text("notice version 2")
    screenshots(page, "ledger-lookup-demo")
