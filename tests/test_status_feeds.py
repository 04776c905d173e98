"""The public incident history feeds: /status/history.atom and /status/history.rss.

Most tests build `PublicView` records by hand and stand them in for `build_public_view` /
`last_published_change`, so they check the feeds' layout and HTTP behaviour without status data in
the database; one test runs the real thing on the demo data.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree as ET

import feedparser
import pytest

from incidents.status import feeds, models, public
from incidents.status.public import PublicIncident, PublicPage, PublicUpdate, PublicView
from tests.live_server import serve_in_thread

T0 = datetime(2026, 10, 2, 7, 30, tzinfo=UTC)
HOST = "status.example.com"
PAGE_URL = f"https://{HOST}/status"
HOSTILE = "<script>alert(1)</script> ]]> & \x00\x01\x0b\x1f\ufffe end"


def update(incident_id: str, n: int, status: str, body: str, minutes: int) -> PublicUpdate:
    at = T0 + timedelta(minutes=minutes)
    return PublicUpdate(id=f"{incident_id}-u{n}", incident_id=incident_id, status=status, body=body,
                        created_at=at, updated_at=at, display_at=at)


def incident(incident_id: str, name: str, trail: list[tuple[str, str]], *, start: int = 0,
             step: int = 30) -> PublicIncident:
    """`trail` is oldest first, as (status, body); the record holds it newest first."""
    updates = tuple(update(incident_id, n, status, body, start + n * step)
                    for n, (status, body) in enumerate(trail))[::-1]
    return PublicIncident(
        id=incident_id, name=name, status=updates[0].status, impact="minor",
        created_at=T0 + timedelta(minutes=start), updated_at=updates[0].display_at,
        started_at=T0 + timedelta(minutes=start), monitoring_at=None, resolved_at=None,
        shortlink=f"{PAGE_URL}/incidents/{incident_id}", updates=updates)


def make_view(incidents: tuple[PublicIncident, ...]) -> PublicView:
    latest = max((i.updated_at for i in incidents), default=T0)
    page = PublicPage(id="page", name="Skylark Sync", url=PAGE_URL, time_zone="UTC", updated_at=latest)
    return PublicView(page=page, components=(), incidents=incidents)


SYNC = incident("sync1", "Sync delays for shared folders", [
    ("investigating", "We are looking into delayed syncs."),
    ("identified", "A queue worker is stuck."),
    ("identified", "Still draining the backlog."),
    ("monitoring", "The backlog is drained."),
    ("resolved", "This incident has been resolved."),
], start=24 * 60)
LOGIN = incident("login2", "Sign-in errors & <timeouts>", [
    ("investigating", HOSTILE),
    ("resolved", "Fixed."),
])
VIEW = make_view((SYNC, LOGIN))

STATUSPAGE_SYNC_HTML = (
    "<p><small>Oct  3, 09:30 UTC</small><br><strong>Resolved</strong> - This incident has been resolved.</p>"
    "<p><small>Oct  3, 09:00 UTC</small><br><strong>Monitoring</strong> - The backlog is drained.</p>"
    "<p><small>Oct  3, 08:30 UTC</small><br><strong>Update</strong> - Still draining the backlog.</p>"
    "<p><small>Oct  3, 08:00 UTC</small><br><strong>Identified</strong> - A queue worker is stuck.</p>"
    "<p><small>Oct  3, 07:30 UTC</small><br><strong>Investigating</strong> - We are looking into delayed syncs.</p>"
)


# --- The documents ---------------------------------------------------------------------------------

def test_update_trail_is_statuspage_layout_newest_first_with_update_labels():
    assert feeds.incident_html(SYNC) == STATUSPAGE_SYNC_HTML


def test_labels_title_case_every_status_and_update_for_unchanged_status():
    trail = incident("x", "x", [(s, s) for s in models.PUBLIC_STATUSES] + [("postmortem", "again")])
    assert feeds.update_labels(trail.updates) == [
        "Update", "Postmortem", "Resolved", "Monitoring", "Identified", "Investigating"]


def test_update_time_pads_the_day_with_a_space():
    assert feeds.update_time(datetime(2026, 10, 2, 7, 5)) == "Oct  2, 07:05 UTC"  # naive = UTC
    assert feeds.update_time(datetime(2026, 12, 24, 23, 59, tzinfo=UTC)) == "Dec 24, 23:59 UTC"


def test_atom_parses_cleanly_with_entries_ids_links_and_dates():
    parsed = feedparser.parse(feeds.render_atom(VIEW, self_url=f"{PAGE_URL}/history.atom"))
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert parsed.feed.title == "Skylark Sync status - Incident history"
    assert parsed.feed.id == f"tag:{HOST},2005:/history"
    links = {link.rel: link.href for link in parsed.feed.links}
    assert links == {"alternate": PAGE_URL, "self": f"{PAGE_URL}/history.atom"}
    assert [e.title for e in parsed.entries] == ["Sync delays for shared folders", "Sign-in errors & <timeouts>"]
    assert [e.id for e in parsed.entries] == [f"tag:{HOST},2005:Incident/sync1", f"tag:{HOST},2005:Incident/login2"]
    assert [e.link for e in parsed.entries] == [SYNC.shortlink, LOGIN.shortlink]
    sync = parsed.entries[0]
    assert sync.published_parsed[:5] == (2026, 10, 3, 7, 30)
    assert sync.updated_parsed[:5] == (2026, 10, 3, 9, 30)
    assert sync.content[0].type == "text/html"
    labels = [p.split("<strong>")[1].split("</strong>")[0] for p in sync.content[0].value.split("<p>")[1:]]
    assert labels == ["Resolved", "Monitoring", "Update", "Identified", "Investigating"]


def test_rss_parses_cleanly_with_items_guids_links_and_dates():
    parsed = feedparser.parse(feeds.render_rss(VIEW, self_url=f"{PAGE_URL}/history.rss"))
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == "rss20"
    assert parsed.feed.title == "Skylark Sync status - Incident history"
    assert parsed.feed.link == PAGE_URL
    assert [e.title for e in parsed.entries] == ["Sync delays for shared folders", "Sign-in errors & <timeouts>"]
    assert [e.id for e in parsed.entries] == [SYNC.shortlink, LOGIN.shortlink]
    assert [e.link for e in parsed.entries] == [SYNC.shortlink, LOGIN.shortlink]
    assert parsed.entries[0].published_parsed[:5] == (2026, 10, 3, 7, 30)
    assert "<strong>Update</strong> - Still draining the backlog." in parsed.entries[0].summary
    root = ET.fromstring(feeds.render_rss(VIEW, self_url=f"{PAGE_URL}/history.rss"))
    assert [g.get("isPermaLink") for g in root.iter("guid")] == ["true", "true"]


@pytest.mark.parametrize("render", [feeds.render_atom, feeds.render_rss], ids=["atom", "rss"])
def test_hostile_bodies_stay_text(render):
    document = render(VIEW, self_url=f"{PAGE_URL}/history")
    ET.fromstring(document)  # well-formed XML
    parsed = feedparser.parse(document)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    html = parsed.entries[1].get("content", [{}])[0].get("value") or parsed.entries[1].summary
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; ]]&gt; &amp;  end" in html
    assert parsed.entries[1].title == "Sign-in errors & <timeouts>"


def test_only_the_25_newest_incidents():
    many = tuple(incident(f"i{n}", f"Incident {n}", [("investigating", "x")], start=n * 60) for n in range(30))
    parsed = feedparser.parse(feeds.render_atom(make_view(many[::-1]), self_url="https://x/h"))
    assert [e.title for e in parsed.entries] == [f"Incident {n}" for n in range(29, 4, -1)]


def test_empty_history_is_still_a_valid_feed():
    for render in (feeds.render_atom, feeds.render_rss):
        parsed = feedparser.parse(render(make_view(()), self_url="https://x/h"))
        assert parsed.bozo == 0 and parsed.entries == []


# --- Over HTTP -------------------------------------------------------------------------------------

@pytest.fixture
def published(monkeypatch):
    """Stands VIEW in for what is published; tests may change `state["view"]`. (Each test has its
    own app, and with it its own render cache.)"""
    state = {"view": VIEW, "renders": 0}

    def build_public_view(*, session, base_url, **selection):
        state["renders"] += 1
        state["base_url"] = base_url
        return state["view"]

    monkeypatch.setattr(public, "build_public_view", build_public_view)
    monkeypatch.setattr(public, "last_published_change",
                        lambda *, session: state["view"].page.updated_at)
    return state


@pytest.mark.parametrize("path,mimetype", [("/status/history.atom", "application/atom+xml"),
                                           ("/status/history.rss", "application/rss+xml")])
def test_headers_and_conditional_get(client, published, path, mimetype):
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == mimetype
    assert response.mimetype_params.get("charset", "utf-8").lower() == "utf-8"
    assert response.headers["Cache-Control"] == "public, max-age=60"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    etag, weak = response.get_etag()
    assert etag and not weak
    assert response.last_modified == SYNC.updated_at
    assert feedparser.parse(response.data).bozo == 0
    assert published["base_url"] == "http://localhost/status"

    assert client.get(path, headers={"If-None-Match": f'"{etag}"'}).status_code == 304
    assert client.get(path, headers={"If-Modified-Since": response.headers["Last-Modified"]}).status_code == 304
    again = client.get(path)
    assert again.data == response.data and published["renders"] == 1  # rendered once per change

    # A new published change: new validators, a fresh body, and the old ETag no longer matches.
    newer = incident("new3", "Uploads failing", [("investigating", "Looking.")], start=3 * 24 * 60)
    published["view"] = make_view((newer, SYNC, LOGIN))
    changed = client.get(path, headers={"If-None-Match": f'"{etag}"'})
    assert changed.status_code == 200
    assert changed.get_etag()[0] != etag
    assert feedparser.parse(changed.data).entries[0].title == "Uploads failing"


def test_feeds_need_no_login_and_follow_the_prefix(app_config, published):
    from incidents import create_app

    app_config["STATUS_PREFIX"] = "/public-status"
    client = create_app(app_config).test_client()
    response = client.get("/public-status/history.atom", base_url="https://status.example.com")
    assert response.status_code == 200
    links = {link.rel: link.href for link in feedparser.parse(response.data).feed.links}
    assert links["self"] == "https://status.example.com/public-status/history.atom"
    assert published["base_url"] == "https://status.example.com/public-status"


@pytest.fixture
def live_server(app):
    with serve_in_thread(app) as url:
        yield url


@pytest.mark.parametrize("name", ["history.atom", "history.rss"])
def test_feedparser_conditional_round_trip_gets_304(live_server, published, name):
    url = f"{live_server}/status/{name}"
    first = feedparser.parse(url)
    assert first.status == 200 and first.bozo == 0, first.get("bozo_exception")
    assert len(first.entries) == 2
    assert first.etag and first.modified
    assert feedparser.parse(url, etag=first.etag).status == 304
    assert feedparser.parse(url, modified=first.modified).status == 304
    assert feedparser.parse(url, etag=first.etag, modified=first.modified).status == 304
    published["view"] = replace(VIEW, page=replace(VIEW.page, updated_at=VIEW.page.updated_at + timedelta(hours=1)))
    assert feedparser.parse(url, etag=first.etag, modified=first.modified).status == 200


# --- On the demo data ------------------------------------------------------------------------------

def test_demo_feeds_match_the_public_view(app, client, runner):
    from incidents.extensions import db

    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        view = public.build_public_view(session=db.session, base_url="http://localhost/status",
                                        listed=feeds.MAX_INCIDENTS, maintenances=feeds.MAX_INCIDENTS)
    expected = feeds.feed_incidents(view)
    # The demo's incidents and its maintenance, past and upcoming: both kinds are entries.
    assert {"Photo storage disk replacement", "Contacts and calendar database upgrade"} <= {i.name for i in expected}
    labels = {"Investigating", "Identified", "Monitoring", "Update", "Resolved", "Postmortem",
              "Scheduled", "In Progress", "Verifying", "Completed"}
    for path in ("/status/history.atom", "/status/history.rss"):
        response = client.get(path)
        assert response.status_code == 200
        parsed = feedparser.parse(response.data)
        assert parsed.bozo == 0, parsed.get("bozo_exception")
        assert [e.title for e in parsed.entries] == [i.name for i in expected]
        assert [e.link for e in parsed.entries] == [i.shortlink for i in expected]
        for entry, record in zip(parsed.entries, expected, strict=True):
            html = entry.content[0].value if "content" in entry else entry.summary
            assert html.count("<p><small>") == len(record.updates)
            found = [p.split("<strong>")[1].split("</strong>")[0] for p in html.split("<p>")[1:]]
            assert set(found) <= labels
            if path.endswith("atom"):
                assert entry.id == f"tag:localhost,2005:Incident/{record.id}"
            else:
                assert entry.id == record.shortlink
        assert client.get(path, headers={"If-None-Match": response.headers["ETag"]}).status_code == 304
