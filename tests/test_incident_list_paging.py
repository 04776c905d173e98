"""Lists page like the timeline, 50 a page with each row on exactly one page (ties included) and
filters kept: the incident list (newest declared first), postmortems due and action items (soonest
due first)."""
from __future__ import annotations

import re
from datetime import date, timedelta
from html import unescape

from incidents.db import clock_at, utcnow
from incidents.paging import PAGE_SIZE

ROW = re.compile(r'<td><a href="/incidents/(INC-\d{4}-\d{4})">INC-')
OLDER = re.compile(r'<a class="button" href="([^"]+)">Older incidents')


def walk(client, url: str) -> list[list[str]]:
    pages = []
    while url:
        page = client.get(url).get_data(as_text=True)
        pages.append(ROW.findall(page))
        more = OLDER.search(page)
        url = unescape(more.group(1)) if more else None
        assert len(pages) < 10, "the pager loops"
    return pages


def test_every_incident_is_on_exactly_one_page_newest_first(app, client, auth, make):
    email = auth.as_role("responder")
    start = utcnow() - timedelta(days=3)
    declared = []
    for n in range(PAGE_SIZE + 17):
        # Every third one shares its declaration time with the one before: the id breaks the tie.
        with clock_at(start + timedelta(minutes=n - n % 3)):
            declared.append(make.incident(by=email, title=f"Incident {n}", severity="SEV1" if n % 2 else "SEV3"))
    pages = walk(client, "/?status=")
    assert [len(p) for p in pages] == [PAGE_SIZE, 17]
    seen = [ref for page in pages for ref in page]
    assert seen == list(reversed(declared))

    # Filters travel with the pager: page two of SEV1 holds SEV1 incidents only.
    sev1 = [ref for n, ref in enumerate(declared) if n % 2]
    pages = walk(client, "/?status=&severity=SEV1")
    assert [ref for page in pages for ref in page] == list(reversed(sev1))


def test_a_damaged_cursor_shows_the_first_page(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    for cursor in ("nonsense", "2026-01-01T00:00:00~x", "0001-01-01T00:00:00+05:00~1", "2026-01-01~99999999999"):
        answer = client.get("/", query_string={"status": "", "before": cursor})
        assert answer.status_code == 200 and ref in answer.get_data(as_text=True), cursor


def test_postmortems_due_page_soonest_first_each_incident_once(app, client, auth, make):
    email = auth.as_role("responder")
    start = utcnow() - timedelta(days=60)
    resolved = []
    for n in range(PAGE_SIZE + 6):
        ref = make.incident(by=email, title=f"Resolved {n}")
        make.resolve(ref, by=email, at=start + timedelta(hours=n - n % 2))  # pairs share a moment
        resolved.append(ref)
    make.postmortem(resolved[3], by=email, reviewers=[make.user()], state="published")  # not due any more
    pages, url = [], "/postmortems/due"
    while url:
        page = client.get(url).get_data(as_text=True)
        pages.append(re.findall(r'<td><a href="/incidents/(INC-\d{4}-\d{4})">', page))
        more = re.search(r'<a class="button" href="([^"]+)">Due later', page)
        url = unescape(more.group(1)) if more else None
        assert len(pages) < 5
    assert [len(p) for p in pages] == [PAGE_SIZE, 5]
    assert [ref for p in pages for ref in p] == [ref for n, ref in enumerate(resolved) if n != 3]


def test_action_items_page_soonest_due_first_each_once(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    first_due = date.today() + timedelta(days=1)
    made = [make.action_item(ref, by=email, title=f"Follow-up {n}", due_on=first_due + timedelta(days=n // 3))
            for n in range(PAGE_SIZE + 4)]  # three share each due date: the id breaks the tie
    pages, url = [], "/actions"
    while url:
        page = client.get(url).get_data(as_text=True)
        pages.append([int(i) for i in re.findall(r'/actions/(\d+)"', page)])
        more = re.search(r'<a class="button" href="([^"]+)">Due later', page)
        url = unescape(more.group(1)) if more else None
        assert len(pages) < 5
    assert [len(p) for p in pages] == [PAGE_SIZE, 4]
    assert [item for p in pages for item in p] == made
    assert client.get("/actions", query_string={"after": "junk~1"}).status_code == 200
    assert client.get("/actions/mine", query_string={"after": "2026-13-45~3"}).status_code == 200
