"""The incident page's cache (incidents/incident/page_cache.py) and the sign-in memo of the requests
open pages repeat (incidents/auth/memo.py): a page served again is the page rendered afresh, with
tokens of its own; anything the page shows changing makes it render again."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from incidents.auth.models import LoginSession, User
from incidents.db import clock_at, utcnow
from incidents.extensions import db
from incidents.incident import page_cache
from incidents.incident.live import STATE_STORE
from tests.factories import Factory
from tests.fixtures.plans import statements
from tests.helpers import csrf_token, login_with_token

KEYS = re.compile(r'name="idempotency_key"[^>]*value="([^"]*)"|value="([^"]*)"[^>]*name="idempotency_key"')
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]*)"|value="([^"]*)"[^>]*name="csrf_token"')


def values(pattern: re.Pattern, html: str) -> list[str]:
    return [a or b for a, b in pattern.findall(html)]


def without_tokens(html: str) -> str:
    return CSRF.sub("csrf", KEYS.sub("key", html))


def get_counting(app, client, url: str, **kwargs):
    """The answer to a GET and the SQL statements it ran."""
    with app.app_context(), statements() as seen:
        response = client.get(url, **kwargs)
    return response, [statement for statement, _parameters in seen]


def test_a_page_served_again_is_the_page_rendered_again_without_rendering(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    make.entry(ref, by=email, body="Restore from the nightly copy started")
    make.impact(ref, by=email, affected=1000, restored=10)
    with clock_at(utcnow()):  # within one minute (the minute is part of the key)
        first, first_sql = get_counting(app, client, f"/incidents/{ref}")
        again, again_sql = get_counting(app, client, f"/incidents/{ref}")
        app.extensions[page_cache.EXTENSION].clear()
        fresh = client.get(f"/incidents/{ref}").get_data(as_text=True)
    assert first.status_code == again.status_code == 200
    assert without_tokens(first.get_data(as_text=True)) == without_tokens(again.get_data(as_text=True))
    # Served from memory: the sign-in check and the one statement that reads the page's state.
    assert len(again_sql) <= 3 < len(first_sql), (len(again_sql), len(first_sql))
    assert without_tokens(fresh) == without_tokens(again.get_data(as_text=True))


def test_every_answer_has_its_own_idempotency_keys_and_a_csrf_token_that_works(csrf_app):
    make = Factory(csrf_app)
    email = make.user(role="responder")
    ref = make.incident(by=email)
    client = csrf_app.test_client()
    login_with_token(client, email)
    pages = [client.get(f"/incidents/{ref}").get_data(as_text=True) for _ in range(3)]
    keys = [values(KEYS, page) for page in pages]
    every_key = [key for page_keys in keys for key in page_keys]
    assert len(keys[0]) >= 2 and len(set(every_key)) == len(every_key), "two forms or two tabs shared a key"
    for page in pages:
        assert page_cache.CSRF_PLACEHOLDER not in page and page_cache.KEY_PLACEHOLDER not in page
    # The quick-post box of the third (cached) answer posts, and so does the second one's, later:
    # the forms are good, and the two posts are two entries, not a retry of one.
    for page, body in ((pages[2], "First from the cached page"), (pages[1], "Second, from another tab")):
        form = re.search(r'<form class="card quick-post".*?</form>', page, re.S).group(0)
        answer = client.post(f"/incidents/{ref}/timeline", data={
            "csrf_token": csrf_token(form), "idempotency_key": values(KEYS, form)[0], "body": body,
            "kind": "note", "visibility": "internal"})
        assert answer.status_code == 302, answer.get_data(as_text=True)[:500]
    page = client.get(f"/incidents/{ref}").get_data(as_text=True)
    assert "First from the cached page" in page and "Second, from another tab" in page


def test_a_change_of_the_incident_or_of_a_shared_row_shows_at_once(app, client, auth, make):
    email = auth.as_role("admin")
    ref = make.incident(by=email)
    client.get(f"/incidents/{ref}")
    make.entry(ref, by=email, body="Vendor engineers on site")
    assert "Vendor engineers on site" in client.get(f"/incidents/{ref}").get_data(as_text=True)
    # A person's name is not the incident's row; the audit log of the rename moves the key.
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        user.name = "Renamed Commander"
        db.session.commit()
    assert "Renamed Commander" in client.get(f"/incidents/{ref}").get_data(as_text=True)


def test_each_role_gets_its_own_page(app, client, auth, make):
    responder = auth.as_role("responder")
    ref = make.incident(by=responder)
    assert "What&#39;s happening?" in client.get(f"/incidents/{ref}").get_data(as_text=True)
    auth.logout()
    auth.as_role("viewer")
    page = client.get(f"/incidents/{ref}").get_data(as_text=True)
    assert "What&#39;s happening?" not in page and "Move status" not in page


def test_a_message_after_a_post_is_shown_once_and_the_filters_get_their_own_page(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    client.get(f"/incidents/{ref}")
    answer = client.post(f"/incidents/{ref}/status", data={"status": "identified", "version": 1},
                         follow_redirects=True)
    assert "Status is now identified." in answer.get_data(as_text=True)
    assert "Status is now identified." not in client.get(f"/incidents/{ref}").get_data(as_text=True)
    make.entry(ref, by=email, body="A public word", visibility="public")
    def timeline(url: str) -> str:
        page = client.get(url).get_data(as_text=True)
        return page[page.index('<ol class="timeline">'):]

    assert "A public word" not in timeline(f"/incidents/{ref}?visibility=internal")
    assert "A public word" in timeline(f"/incidents/{ref}")


def test_a_conditional_get_of_an_unchanged_page_answers_304(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    with clock_at(utcnow()):  # one minute for both (the tag changes with the minute the page shows)
        first = client.get(f"/incidents/{ref}")
        etag = first.headers["ETag"]
        assert first.headers["Cache-Control"] == "no-store"
        again = client.get(f"/incidents/{ref}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b"" and again.headers["ETag"] == etag
    make.entry(ref, by=email, body="Something new")
    changed = client.get(f"/incidents/{ref}", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and "Something new" in changed.get_data(as_text=True)
    # Another session of the same person holds other tokens: it never gets this one's page as 304.
    other = app.test_client()
    other.post("/login", data={"email": email, "password": Factory.PASSWORD})
    assert other.get(f"/incidents/{ref}", headers={"If-None-Match": changed.headers["ETag"]}).status_code == 200


@pytest.fixture
def memo_app(app_config, request):
    app_config["SIGN_IN_MEMO_SECONDS"] = 60
    app_config["LIVE_MEMO_SECONDS"] = 60
    return request.getfixturevalue("app")


def test_the_live_check_on_the_memo_asks_no_database_and_does_not_keep_a_session_alive(memo_app):
    make = Factory(memo_app)
    email = make.user(role="viewer")
    ref = make.incident(by=make.user(role="responder"))
    client = memo_app.test_client()
    client.post("/login", data={"email": email, "password": Factory.PASSWORD})
    token = client.get(f"/incidents/{ref}/live").get_json()["version"]
    hour_ago = utcnow() - timedelta(hours=1)
    with memo_app.app_context():
        db.session.execute(update(LoginSession).values(last_seen_at=hour_ago))
        db.session.commit()
    answer, sql = get_counting(memo_app, client, f"/incidents/{ref}/live", headers={"If-None-Match": f'"{token}"'})
    assert answer.status_code == 304 and sql == []
    with memo_app.app_context():
        seen = db.session.scalar(select(LoginSession.last_seen_at))
    assert abs((seen - hour_ago).total_seconds()) < 1, "a script polling kept the session alive"
    # Opening the page is the person at work: it notes the session as seen.
    assert client.get(f"/incidents/{ref}").status_code == 200
    with memo_app.app_context():
        assert db.session.scalar(select(LoginSession.last_seen_at)) > hour_ago + timedelta(minutes=59)
    # Signing out ends the memo at once on this process.
    client.post("/logout")
    assert client.get(f"/incidents/{ref}/live").status_code in (302, 401)


def test_with_the_memo_your_own_change_shows_at_once_and_others_when_it_turns_over(memo_app):
    make = Factory(memo_app)
    mine, theirs = make.user(role="responder"), make.user(role="responder")
    ref = make.incident(by=mine)
    with clock_at(utcnow()):  # within one minute (the minute is part of the key)
        _own_and_others_changes(memo_app, make, ref, mine, theirs)


def _own_and_others_changes(memo_app, make, ref, mine, theirs):
    me, them, reader = memo_app.test_client(), memo_app.test_client(), memo_app.test_client()
    for client, email in ((me, mine), (them, theirs), (reader, make.user(role="viewer"))):
        client.post("/login", data={"email": email, "password": Factory.PASSWORD})
        with client.session_transaction() as cookie:
            cookie.pop(page_cache.WROTE_AT)  # signing in was a write: as if it were long ago
        client.get(f"/incidents/{ref}")
    assert them.post(f"/incidents/{ref}/timeline", data={"body": "Posted by them"}).status_code == 302
    assert me.post(f"/incidents/{ref}/timeline", data={"body": "Posted by me"}).status_code == 302
    page = me.get(f"/incidents/{ref}").get_data(as_text=True)
    assert "Posted by me" in page and "Posted by them" in page
    # A reader who wrote nothing sees the state of at most LIVE_MEMO_SECONDS ago (60 in this
    # test, 1 by default), then the change.
    assert "Posted by me" not in reader.get(f"/incidents/{ref}").get_data(as_text=True)
    memo_app.extensions[STATE_STORE].clear()  # the memo turning over
    assert "Posted by me" in reader.get(f"/incidents/{ref}").get_data(as_text=True)
