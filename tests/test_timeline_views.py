"""The incident page's timeline column: filters, day headers, times, key entries and quick post.

Every test with the app/client fixtures runs on SQLite and on PostgreSQL (see conftest); the
one browser test drives Chromium against gunicorn like tests/test_browser.py.
"""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from incidents.auth.models import User
from incidents.extensions import db
from incidents.incident.service import get_incident
from incidents.timeline.models import EntryKind, TimelineEntry, TimelinePin, Visibility
from incidents.timeline.page import TIMELINE_PAGE
from incidents.timeline.service import add_entry
from tests.fixtures.browser import RESPONDER, login
from tests.helpers import field_errors, flashes, read_form, timeline_rows

DAY_ONE = datetime(2009, 10, 2, 6, 16, tzinfo=UTC)  # a Friday
MARKER = ">key entry</span>"  # the pin marker on a pinned entry


# --- helpers ---------------------------------------------------------------------------------

def post_entry(app, reference: str, email: str, body: str, *, at: datetime, kind: str = "note",
               visibility: str = "internal") -> int:
    """Record an entry that happened at `at` through the real service; return its id."""
    with app.app_context():
        author = db.session.scalar(select(User).where(User.email == email))
        entry = add_entry(session=db.session, incident=get_incident(session=db.session, reference=reference),
                          author=author, kind=EntryKind(kind), visibility=Visibility(visibility),
                          body=body, occurred_at=at)
        db.session.commit()
        return entry.id


def bulk_entries(app, reference: str, email: str, moments_and_kinds) -> None:
    """Insert many entries directly (fast): body `entry-NNNNN` for each (moment, kind)."""
    with app.app_context():
        incident = get_incident(session=db.session, reference=reference)
        author = db.session.scalar(select(User).where(User.email == email))
        db.session.add_all(
            TimelineEntry(incident_id=incident.id, author=author, kind=EntryKind(kind),
                          visibility=Visibility.internal, body=f"entry-{i:05d}", occurred_at=moment,
                          recorded_at=moment)
            for i, (moment, kind) in enumerate(moments_and_kinds))
        db.session.commit()


def timeline_part(html: str) -> str:
    """The main list of entries (not the key entries above it)."""
    start = html.index('<ol class="timeline">')
    return html[start:html.index("</ol>", start)]


def key_entries_part(html: str) -> str:
    if 'class="card key-entries"' not in html:
        return ""
    start = html.index('class="card key-entries"')
    return html[start:html.index("</section>", start)]


def shown_order(html: str) -> list[str]:
    """Day headers ("# Friday 2 October 2009") and entry ids, in the order the list shows them."""
    found = re.findall(r'<li class="day-header"[^>]*><h3>(.*?)</h3>|<li class="entry[^"]*" id="entry-(\d+)"',
                       timeline_part(html))
    return [f"# {header}" if header else entry for header, entry in found]


def count_line(html: str) -> str:
    return unescape(re.search(r"<h2>Timeline <span class=\"muted\">\((.*?)\)</span>", html).group(1))


def entry_block(html: str, root_id: int) -> str:
    start = html.index(f'id="entry-{root_id}"')
    return html[start:html.index("</li>", start)]


def pins(app) -> list[tuple]:
    with app.app_context():
        return [tuple(row) for row in db.session.execute(
            select(TimelinePin.incident_id, TimelinePin.entry_id, TimelinePin.pinned_by_id,
                   TimelinePin.pinned_at).order_by(TimelinePin.id))]


def walk(client, url: str) -> tuple[list[str], list[str]]:
    """Follow "Older entries" from `url`; return the entry bodies seen and every page's URL."""
    seen, urls = [], []
    for _ in range(20):
        urls.append(url)
        html = client.get(url).get_data(as_text=True)
        seen.extend(re.findall(r"entry-\d{5}", timeline_part(html)))
        older = re.search(r'<a class="button" href="([^"]*before=[^"#]*)', html)
        if not older:
            return seen, urls
        url = unescape(older.group(1))
    raise AssertionError("pagination never ended")


@pytest.fixture
def story(app, auth, make):
    """An incident declared on Friday 2 October 2009 with entries of several kinds over two days."""
    email = auth.as_role("responder")
    ref = make.incident(by=email, declared_at=DAY_ONE)
    ids = {
        "note": post_entry(app, ref, email, "Paged the storage on-call", at=DAY_ONE + timedelta(minutes=5)),
        "impact": post_entry(app, ref, email, "About 800,000 address books empty", kind="impact",
                             at=DAY_ONE + timedelta(hours=2)),
        "public impact": post_entry(app, ref, email, "Some customers see empty contacts", kind="impact",
                                    visibility="public", at=DAY_ONE + timedelta(hours=3)),
        "decision": post_entry(app, ref, email, "No writes to the damaged cluster", kind="decision",
                               at=DAY_ONE + timedelta(days=1, hours=1)),
        "public note": post_entry(app, ref, email, "We are restoring from backup", visibility="public",
                                  at=DAY_ONE + timedelta(days=1, hours=2)),
    }
    return ref, email, ids


# --- filters ---------------------------------------------------------------------------------

def test_filter_by_kind_shows_only_those_kinds_and_says_n_of_m(app, client, story):
    ref, _email, ids = story
    total = len(timeline_rows(app, ref))

    page = client.get(f"/incidents/{ref}?kind=impact").get_data(as_text=True)
    shown = [e for e in shown_order(page) if not e.startswith("#")]
    assert shown == [str(ids["public impact"]), str(ids["impact"])]
    assert count_line(page).startswith(f"2 of {total} entries")
    assert "No writes to the damaged cluster" not in timeline_part(page)

    page = client.get(f"/incidents/{ref}?kind=impact&kind=decision").get_data(as_text=True)
    shown = {e for e in shown_order(page) if not e.startswith("#")}
    assert shown == {str(ids["decision"]), str(ids["public impact"]), str(ids["impact"])}
    assert count_line(page).startswith(f"3 of {total} entries")
    # The filter bar shows what is applied, and offers to clear it.
    form = read_form(page, f"/incidents/{ref}#timeline")
    assert sorted(form.getlist("kind")) == ["decision", "impact"]
    assert ">Clear</a>" in page

    unfiltered = client.get(f"/incidents/{ref}").get_data(as_text=True)
    assert count_line(unfiltered).startswith(f"{total} entries")
    assert read_form(unfiltered, f"/incidents/{ref}#timeline").getlist("kind") == []
    assert ">Clear</a>" not in unfiltered


def test_filter_by_visibility_and_combined(app, client, story):
    ref, _email, ids = story
    total = len(timeline_rows(app, ref))

    public = client.get(f"/incidents/{ref}?visibility=public").get_data(as_text=True)
    assert [e for e in shown_order(public) if not e.startswith("#")] == [str(ids["public note"]),
                                                                          str(ids["public impact"])]
    assert count_line(public).startswith(f"2 of {total} entries")
    assert read_form(public, f"/incidents/{ref}#timeline")["visibility"] == "public"

    internal = client.get(f"/incidents/{ref}?visibility=internal").get_data(as_text=True)
    shown = {e for e in shown_order(internal) if not e.startswith("#")}
    assert str(ids["public note"]) not in shown and str(ids["note"]) in shown
    assert count_line(internal).startswith(f"{total - 2} of {total} entries")

    both = client.get(f"/incidents/{ref}?kind=impact&visibility=public").get_data(as_text=True)
    assert [e for e in shown_order(both) if not e.startswith("#")] == [str(ids["public impact"])]
    assert count_line(both).startswith(f"1 of {total} entries")

    none = client.get(f"/incidents/{ref}?kind=decision&visibility=public").get_data(as_text=True)
    assert shown_order(none) == []
    assert count_line(none).startswith(f"0 of {total} entries")
    assert "No entries match these filters." in none


def test_filters_judge_each_entry_by_its_latest_revision(app, client, story):
    ref, _email, ids = story
    url = f"/incidents/{ref}/timeline/{ids['note']}/correct"
    form = read_form(client.get(url).get_data(as_text=True))
    form["kind"], form["visibility"], form["reason"] = "decision", "public", "It was a decision, and published"
    assert client.post(url, data=form).status_code == 302

    decisions = client.get(f"/incidents/{ref}?kind=decision&visibility=public").get_data(as_text=True)
    assert str(ids["note"]) in shown_order(decisions)
    notes = client.get(f"/incidents/{ref}?kind=note").get_data(as_text=True)
    assert str(ids["note"]) not in shown_order(notes)  # its first revision was a note; no longer


@pytest.mark.parametrize("query", ["kind=bogus", "visibility=secret", "kind=Impact&visibility=Public",
                                   "kind=%00&visibility=%00", "kind=" + "x" * 10_000,
                                   "kind=%3Cscript%3Ealert(1)%3C%2Fscript%3E", "visibility=public&visibility=x",
                                   "kind=status_change%20"])
def test_unknown_filter_values_are_ignored(app, client, story, query):
    ref, _email, _ids = story
    total = len(timeline_rows(app, ref))
    response = client.get(f"/incidents/{ref}?{query}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<script>alert(1)" not in page
    if query.startswith("visibility=public&"):
        assert count_line(page).startswith(f"2 of {total} entries")  # the first value counts
    else:
        assert count_line(page).startswith(f"{total} entries")
        assert len([e for e in shown_order(page) if not e.startswith("#")]) == total


def test_an_unknown_kind_beside_a_known_one_filters_by_the_known_one(app, client, story):
    ref, _email, ids = story
    page = client.get(f"/incidents/{ref}?kind=bogus&kind=decision").get_data(as_text=True)
    assert [e for e in shown_order(page) if not e.startswith("#")] == [str(ids["decision"])]


def test_paging_keeps_the_filters(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email, declared_at=DAY_ONE)
    kinds = ["note", "impact", "recovery"]
    count = 3 * TIMELINE_PAGE + 30
    bulk_entries(app, ref, email, [(DAY_ONE + timedelta(minutes=i + 1), kinds[i % 3]) for i in range(count)])
    impacts = [f"entry-{i:05d}" for i in range(count) if kinds[i % 3] == "impact"]
    assert len(impacts) > TIMELINE_PAGE  # so there is more than one page

    seen, urls = walk(client, f"/incidents/{ref}?kind=impact&visibility=internal")

    assert seen == sorted(impacts, reverse=True)  # every impact entry once, newest first, nothing else
    assert len(urls) == 2
    query = parse_qs(urlsplit(urls[1]).query)
    assert query["kind"] == ["impact"] and query["visibility"] == ["internal"]
    second = client.get(urls[1]).get_data(as_text=True)
    assert count_line(second) == f"{len(impacts)} of {count + 1} entries, newest first; older page"
    back = re.search(r'href="([^"]*)">← Back to the newest entries', second).group(1)
    assert parse_qs(urlsplit(unescape(back)).query) == {"kind": ["impact"], "visibility": ["internal"]}


# --- day headers -----------------------------------------------------------------------------

def test_a_multi_day_incident_has_a_header_above_each_day(app, client, story):
    ref, _email, ids = story
    declared = timeline_rows(app, ref)[0]["id"]
    page = client.get(f"/incidents/{ref}").get_data(as_text=True)
    assert shown_order(page) == [
        "# Saturday 3 October 2009", str(ids["public note"]), str(ids["decision"]),
        "# Friday 2 October 2009", str(ids["public impact"]), str(ids["impact"]), str(ids["note"]),
        str(declared),
    ]


def test_a_single_day_incident_has_no_day_headers(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email, declared_at=DAY_ONE)
    post_entry(app, ref, email, "Paged the storage on-call", at=DAY_ONE + timedelta(hours=1))
    post_entry(app, ref, email, "Late that evening", at=DAY_ONE.replace(hour=23, minute=59))

    page = client.get(f"/incidents/{ref}").get_data(as_text=True)

    assert len(shown_order(page)) == 3
    assert 'class="day-header"' not in page


def test_headers_follow_the_filtered_timeline(app, client, story):
    ref, _email, _ids = story
    # Every impact entry happened on the Friday: one day, so no header.
    impacts = client.get(f"/incidents/{ref}?kind=impact").get_data(as_text=True)
    assert not [e for e in shown_order(impacts) if e.startswith("#")]
    public = client.get(f"/incidents/{ref}?visibility=public").get_data(as_text=True)
    assert [e for e in shown_order(public) if e.startswith("#")] == ["# Saturday 3 October 2009",
                                                                     "# Friday 2 October 2009"]


def test_a_page_that_starts_mid_day_repeats_that_days_header_once(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email, declared_at=DAY_ONE)
    saturday = DAY_ONE + timedelta(days=1)
    # 20 entries on Saturday above 150 on Friday: page one ends part-way through Friday.
    moments = [DAY_ONE + timedelta(minutes=i + 1) for i in range(150)]
    moments += [saturday + timedelta(minutes=i) for i in range(20)]
    bulk_entries(app, ref, email, [(m, "note") for m in moments])

    _seen, urls = walk(client, f"/incidents/{ref}")

    first = shown_order(client.get(urls[0]).get_data(as_text=True))
    second = shown_order(client.get(urls[1]).get_data(as_text=True))
    assert [e for e in first if e.startswith("#")] == ["# Saturday 3 October 2009", "# Friday 2 October 2009"]
    assert first[0] == "# Saturday 3 October 2009" and first.index("# Friday 2 October 2009") == 21
    assert second[0] == "# Friday 2 October 2009"
    assert [e for e in second if e.startswith("#")] == ["# Friday 2 October 2009"]
    assert len(second) == 1 + min(TIMELINE_PAGE, 150 + 1 + 20 - TIMELINE_PAGE)


# --- times -----------------------------------------------------------------------------------

def test_each_entry_time_is_shown_in_utc_with_a_hook_for_the_readers_time(app, client, story):
    ref, _email, ids = story
    page = client.get(f"/incidents/{ref}").get_data(as_text=True)
    block = entry_block(page, ids["impact"])
    # Readable without any script: UTC, with the zone named…
    assert re.search(r'<time datetime="2009-10-02T08:16:00\+00:00" data-local-time>2009-10-02 08:16 UTC</time>',
                     block)
    # …and a machine-readable moment for app.js, on every entry.
    assert len(re.findall(r"<time datetime=\"[^\"]+\+00:00\" data-local-time>", timeline_part(page))) == 6
    # The reader's time comes from the site's own script file (CSP: script-src 'self'), no inline script.
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)
    assert ' src="/static/js/app.js" defer' in [attrs for attrs, _ in scripts]
    assert all('src="/static/' in attrs and not body.strip() for attrs, body in scripts)
    script = client.get("/static/js/app.js")
    source = script.get_data(as_text=True)
    script.close()
    assert "time[data-local-time]" in source and "Intl.DateTimeFormat" in source and "your time" in source


# --- pinned key entries ----------------------------------------------------------------------

def test_pinning_shows_the_entry_as_key_and_unpinning_removes_it(app, client, auth, make, story):
    ref, email, ids = story
    entries_before = timeline_rows(app, ref)
    before = datetime.now(UTC)

    response = client.post(f"/incidents/{ref}/timeline/{ids['impact']}/pin")

    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/incidents/{ref}#entry-{ids['impact']}")
    [(incident_id, entry_id, pinned_by, pinned_at)] = pins(app)
    assert entry_id == ids["impact"] and pinned_by == make.user_id(email)
    assert before <= pinned_at <= datetime.now(UTC)
    assert timeline_rows(app, ref) == entries_before  # pinning writes nothing to the timeline
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert flashes(page) == ["Pinned to the key entries."]
    key = key_entries_part(page)
    assert "Key entries" in key and "About 800,000 address books empty" in key
    assert "Paged the storage on-call" not in key
    assert MARKER in entry_block(page, ids["impact"])
    assert MARKER not in entry_block(page, ids["note"])
    assert "Unpin" in entry_block(page, ids["impact"]) and "Pin as key entry" in entry_block(page, ids["note"])

    response = client.post(f"/incidents/{ref}/timeline/{ids['impact']}/unpin")

    assert response.status_code == 302
    assert pins(app) == []
    assert timeline_rows(app, ref) == entries_before
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert flashes(page) == ["Removed from the key entries; the entry itself is unchanged."]
    assert key_entries_part(page) == ""
    assert MARKER not in entry_block(page, ids["impact"])


def test_pinning_twice_or_unpinning_an_unpinned_entry_is_harmless(app, client, story):
    ref, _email, ids = story
    url = f"/incidents/{ref}/timeline/{ids['decision']}"
    assert client.post(f"{url}/pin", follow_redirects=True).status_code == 200
    stored = pins(app)

    again = client.post(f"{url}/pin", follow_redirects=True)
    assert again.status_code == 200
    assert flashes(again.get_data(as_text=True)) == ["That entry is already a key entry."]
    assert pins(app) == stored

    assert client.post(f"{url}/unpin", follow_redirects=True).status_code == 200
    again = client.post(f"{url}/unpin", follow_redirects=True)
    assert again.status_code == 200
    assert flashes(again.get_data(as_text=True)) == ["That entry was not a key entry."]
    assert pins(app) == []


def test_key_entries_are_listed_in_the_order_they_happened(app, client, story):
    ref, _email, ids = story
    for name in ("public note", "note", "impact"):  # pinned in another order than they happened
        assert client.post(f"/incidents/{ref}/timeline/{ids[name]}/pin").status_code == 302
    key = key_entries_part(client.get(f"/incidents/{ref}").get_data(as_text=True))
    listed = [int(i) for i in re.findall(r'data-entry="(\d+)"', key)]
    assert listed == [ids["note"], ids["impact"], ids["public note"]]


def test_a_pin_survives_a_correction_and_shows_the_latest_text(app, client, story):
    ref, _email, ids = story
    assert client.post(f"/incidents/{ref}/timeline/{ids['impact']}/pin").status_code == 302
    url = f"/incidents/{ref}/timeline/{ids['impact']}/correct"
    form = read_form(client.get(url).get_data(as_text=True))
    form["body"], form["reason"] = "About 80,000 address books empty", "Recount"
    assert client.post(url, data=form).status_code == 302

    page = client.get(f"/incidents/{ref}").get_data(as_text=True)
    key = key_entries_part(page)
    assert "About 80,000 address books empty" in key and "800,000" not in key
    assert "corrected" in key
    assert MARKER in entry_block(page, ids["impact"])

    # Pinning or unpinning through any revision's id acts on the entry as a whole.
    correction_id = timeline_rows(app, ref)[-1]["id"]
    assert client.post(f"/incidents/{ref}/timeline/{correction_id}/pin", follow_redirects=True).status_code == 200
    assert [p[1] for p in pins(app)] == [ids["impact"]]
    assert client.post(f"/incidents/{ref}/timeline/{correction_id}/unpin").status_code == 302
    assert pins(app) == []


def test_pinning_keeps_the_filters_and_page_it_was_done_from(app, client, story):
    ref, _email, ids = story
    page = client.get(f"/incidents/{ref}?kind=impact&visibility=internal").get_data(as_text=True)
    action = re.search(rf'action="([^"]*/timeline/{ids["impact"]}/pin[^"]*)"', page).group(1)
    response = client.post(unescape(action))
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert parse_qs(location.query) == {"kind": ["impact"], "visibility": ["internal"]}
    assert location.fragment == f"entry-{ids['impact']}"


def test_a_viewer_cannot_pin_or_unpin(app, client, auth, make):
    owner = make.user(role="responder")
    ref = make.incident(by=owner)
    pinned = make.entry(ref, body="Key decision", by=owner)
    other = make.entry(ref, body="Ordinary note", by=owner)
    with make.app.test_client() as responder:
        responder.post("/login", data={"email": owner, "password": make.PASSWORD})
        assert responder.post(f"/incidents/{ref}/timeline/{pinned}/pin").status_code == 302
    stored = pins(app)
    auth.as_role("viewer")

    assert client.post(f"/incidents/{ref}/timeline/{other}/pin").status_code == 403
    assert client.post(f"/incidents/{ref}/timeline/{pinned}/unpin").status_code == 403
    assert pins(app) == stored
    page = client.get(f"/incidents/{ref}").get_data(as_text=True)
    assert "Key decision" in key_entries_part(page)  # viewers see the key entries…
    assert "Pin as key entry" not in page and "Unpin" not in page  # …but get no buttons


def test_pinning_an_unknown_entry_or_one_of_another_incident_is_404(app, client, auth, make):
    email = auth.as_role("responder")
    mine, other = make.incident(by=email, title="Mine"), make.incident(by=email, title="Other")
    theirs = make.entry(other, body="Belongs to the other incident", by=email)
    assert client.post(f"/incidents/{other}/timeline/{theirs}/pin").status_code == 302
    stored = pins(app)

    for entry_id in (theirs, 999_999, 0):
        for action in ("pin", "unpin"):
            response = client.post(f"/incidents/{mine}/timeline/{entry_id}/{action}")
            assert response.status_code == 404, (entry_id, action)
            assert "does not exist" in response.get_data(as_text=True)
    assert client.post(f"/incidents/{mine}/timeline/{2**31}/pin").status_code == 404
    assert client.post(f"/incidents/INC-1999-0001/timeline/{theirs}/pin").status_code == 404
    assert pins(app) == stored


# --- the quick-post box ----------------------------------------------------------------------

def test_enter_in_the_one_line_box_posts_an_internal_note_now(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    page = client.get(f"/incidents/{ref}").get_data(as_text=True)
    # The box is a plain one-line input in a form with a submit button: Enter submits it, no script.
    form_html = page[page.index('<form class="card quick-post"'):]
    form_html = form_html[:form_html.index("</form>")]
    assert re.search(r'<input[^>]*name="body"[^>]*type="text"', form_html)
    assert '<button class="button button-primary" type="submit">Post update</button>' in form_html
    assert form_html.index('name="body"') < form_html.index("<details")  # the rest is folded away
    before = datetime.now(UTC)

    # What a browser sends on Enter when nothing under "More options" was touched, minus the
    # defaults: only the one field must be enough.
    response = client.post(f"/incidents/{ref}/timeline", data={"body": "Restore of shard 7 started"})

    assert response.status_code == 302
    entry = timeline_rows(app, ref)[-1]
    assert entry["body"] == "Restore of shard 7 started"
    assert entry["kind"] is EntryKind.note and entry["visibility"] is Visibility.internal
    assert before <= entry["occurred_at"] == entry["recorded_at"] <= datetime.now(UTC)
    assert entry["author_id"] == make.user_id(email)


def test_the_longer_box_posts_with_its_options(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    text = "Restore plan:\n\n- shard 7 from tape\n- shard 9 from snapshot"

    response = client.post(f"/incidents/{ref}/timeline", data={
        "body": "", "long_body": text, "kind": "decision", "visibility": "public",
        "occurred_at": "2009-10-02T08:00"})

    assert response.status_code == 302
    entry = timeline_rows(app, ref)[-1]
    assert entry["body"] == text
    assert entry["kind"] is EntryKind.decision and entry["visibility"] is Visibility.public
    assert entry["occurred_at"] == datetime(2009, 10, 2, 8, 0, tzinfo=UTC)
    block = entry_block(client.get(f"/incidents/{ref}").get_data(as_text=True), entry["id"])
    assert "<ul>\n<li>shard 7 from tape" in block  # rendered as Markdown, line breaks kept


def test_filling_both_boxes_is_refused_beside_the_field_and_keeps_both_texts(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    entries_before = timeline_rows(app, ref)

    response = client.post(f"/incidents/{ref}/timeline", data={
        "body": "Shard 7 back", "long_body": "Shard 7 restored from tape;\nchecksums match", "kind": "recovery",
        "visibility": "internal", "occurred_at": ""})

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    [error] = field_errors(html, "body")
    assert "both boxes" in error
    kept = read_form(html, f"/incidents/{ref}/timeline")
    assert kept["body"] == "Shard 7 back"
    assert kept["long_body"] == "Shard 7 restored from tape;\nchecksums match"
    assert kept["kind"] == "recovery"
    assert re.search(r'<details class="more" open>', html)  # the longer text is in view
    assert timeline_rows(app, ref) == entries_before


def test_an_empty_post_is_refused_beside_the_one_line_box(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    entries_before = timeline_rows(app, ref)

    response = client.post(f"/incidents/{ref}/timeline", data={"body": " ", "long_body": "\n  \n"})

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_errors(html, "body") == ["Write what happened."]
    assert field_errors(html, "long_body") == []
    assert '<details class="more">' in html  # nothing there to look at: stays folded
    assert timeline_rows(app, ref) == entries_before


def test_an_error_under_more_options_opens_them_and_keeps_the_text(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    future = (datetime.now(UTC) + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")

    response = client.post(f"/incidents/{ref}/timeline", data={"body": "Restore will finish", "kind": "note",
                                                                "visibility": "internal", "occurred_at": future})

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(r'<details class="more" open>', html)
    assert "cannot happen in the future" in field_errors(html, "occurred_at")[0]
    assert read_form(html, f"/incidents/{ref}/timeline")["body"] == "Restore will finish"


# --- in a real browser ------------------------------------------------------------------------

@pytest.mark.browser
def test_browser_enter_posts_and_times_show_in_the_readers_zone(browser, server):
    """Enter in the one-line box posts; app.js adds the reader's time (Berlin: UTC+2 in October)."""
    context = browser.new_context(base_url=server.url, timezone_id="Europe/Berlin",
                                  viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        login(page, RESPONDER[0])
        page.get_by_role("link", name=re.compile("Photo thumbnails missing")).click()
        page.get_by_label("What's happening?").fill("Browser check: quick post with Enter")
        page.get_by_label("What's happening?").press("Enter")
        expect(page.locator(".flash-success")).to_have_text("Update posted.")
        entry = page.locator("ol.timeline li.entry").filter(has_text="Browser check: quick post with Enter")
        expect(entry.locator(".badge.internal")).to_have_text("internal")
        expect(entry.locator(".badge.kind")).to_have_text("Note")

        moment = page.locator("ol.timeline time[data-local-time]").last
        utc = datetime.fromisoformat(moment.get_attribute("datetime"))
        berlin = utc + timedelta(hours=2 if 3 < utc.month < 11 else 1)  # near enough away from DST edges
        local = moment.locator("xpath=following-sibling::span[@class='local-time']")
        expect(local).to_contain_text(f"{berlin:%H:%M} your time (Europe/Berlin)")
        expect(moment).to_have_text(f"{utc:%Y-%m-%d %H:%M} UTC")
    finally:
        context.close()
