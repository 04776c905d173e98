"""Subscribing through the status site's pages (issue #16): the form, the confirmation link from a
real e-mail (a real SMTP server started here), leaving by the page and by RFC 8058 one-click, and
the admins' subscriber pages. The public pages never say whether an address is subscribed, never
show another subscriber's address, and carry no script."""
from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import itsdangerous
import pytest
from sqlalchemy import func, select

from incidents.audit.models import AuditEvent
from incidents.auth.models import User
from incidents.db import clock_at, utcnow
from incidents.extensions import db
from incidents.incident.service import get_incident
from incidents.status import service as status
from incidents.status.models import Component
from incidents.subscribers import service as subscribers
from incidents.subscribers.models import MAX_BOUNCES, Announcement, Delivery, Subscriber
from tests.form_matrix import errors_beside
from tests.subscriber_fixtures import mail_to

SITE = "http://localhost/status"  # where the e-mails' links point: the test client's host
CONFIRM_LINK = re.compile(r"http://localhost(/status/subscribe/confirm/\S+)")


@pytest.fixture
def app_config(app_config, smtp):
    """Jobs run as their transaction commits, and mail goes to the test's SMTP server."""
    app_config.update(mail_to(smtp, SITE))
    return app_config


def make_components(app, *names: str, group: str | None = None) -> dict[str, str]:
    """Components by name, with their public ids (what the subscribe form's boxes carry)."""
    with app.app_context():
        made = [status.create_component(session=db.session, name=name, group_name=group) for name in names]
        db.session.commit()
        return {c.name: c.public_id for c in made}


def subscriber(app, **where) -> Subscriber | None:
    with app.app_context():
        found = db.session.scalar(select(Subscriber).where(*(getattr(Subscriber, k) == v for k, v in where.items())))
        if found is not None:
            db.session.expunge(found)
        return found


def count_subscribers(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Subscriber))


def confirm_path(smtp, address: str) -> str:
    """The path of the confirmation link in the one e-mail sent to `address`."""
    [message] = smtp.inbox.to(address)
    assert message["Subject"].startswith("Confirm your subscription")
    return CONFIRM_LINK.search(message.get_body(("plain",)).get_content()).group(1)


def token(app, address: str, action: str, **where) -> str:
    with app.app_context():
        found = db.session.scalar(select(Subscriber).where(Subscriber.email == address, *(
            getattr(Subscriber, k) == v for k, v in where.items())))
        return subscribers.token_for(found, action)


def add_subscriber(app, email: str, *, url: str | None = None, confirmed: bool = True, **state) -> int:
    """A subscriber made through the service, then put in the state given (bounces, quarantined_at, ...)."""
    with app.app_context():
        if url:
            made = subscribers.subscribe_webhook(session=db.session, url=url, email=email, component_ids=None)
        else:
            made = subscribers.subscribe_email(session=db.session, email=email, component_ids=None)
        if confirmed:
            subscribers.confirm(session=db.session, subscriber=made)
        for name, value in state.items():
            setattr(made, name, value)
        db.session.commit()
        return made.id


def assert_public(response, *, code: int = 200, hidden: tuple[str, ...] = ()) -> str:
    """A page of the status site, never cached, with no script and none of the `hidden` texts."""
    page = response.get_data(as_text=True)
    assert response.status_code == code, page[:2000]
    assert response.headers["Cache-Control"] == "no-store"
    assert "<script" not in page.lower()
    assert 'class="status-site"' in page
    for text in hidden:
        assert text.lower() not in page.lower(), f"the page shows {text!r}"
    return page


# --- the journeys ----------------------------------------------------------------------------------

def test_subscribe_confirm_and_leave_by_e_mail(app, client, auth, make, smtp):
    ids = make_components(app, "Contacts sync", "Photo backup")
    page = assert_public(client.get("/status/subscribe"))
    assert "Contacts sync" in page and "Photo backup" in page
    response = client.post("/status/subscribe", data={"kind": "email", "email": "Reader@Example.com",
                                                      "scope": "some", "components": [ids["Contacts sync"]]})
    assert response.status_code == 302 and response.headers["Location"] == "/status/subscribe/sent"
    assert "Check your inbox" in assert_public(client.get("/status/subscribe/sent"))

    link = confirm_path(smtp, "reader@example.com")
    page = assert_public(client.get(link))
    assert ">Confirm</button>" in page
    assert subscriber(app, email="reader@example.com").confirmed_at is None  # opening the link is not confirming
    assert "Subscription confirmed" in assert_public(client.post(link))
    confirmed = subscriber(app, email="reader@example.com")
    assert confirmed.active and not confirmed.all_components
    with app.app_context():
        assert [c.component.name for c in db.session.get(Subscriber, confirmed.id).components] == ["Contacts sync"]
    assert "Already confirmed" in assert_public(client.get(link))

    # An update to its component reaches it, with the link that ends the subscription.
    responder = make.user(role="responder")
    reference = make.incident(by=responder)
    with app.app_context():
        contacts = db.session.scalar(select(Component).where(Component.name == "Contacts sync"))
        actor = db.session.scalar(select(User).where(User.email == responder))
        status.publish_incident(session=db.session, actor=actor,
                                incident=get_incident(session=db.session, reference=reference),
                                public_title="Contacts not syncing", impact="major", body="We are looking into it.",
                                components={contacts: "major_outage"})
        db.session.commit()
    announcement = smtp.inbox.to("reader@example.com")[-1]
    leave = announcement["List-Unsubscribe"].strip("<>").removeprefix("http://localhost")
    page = assert_public(client.get(leave))
    assert ">Unsubscribe</button>" in page
    assert subscriber(app, email="reader@example.com").unsubscribed_at is None  # opening it is not leaving
    assert "You are unsubscribed" in assert_public(client.post(leave))
    assert subscriber(app, email="reader@example.com").unsubscribed_at is not None
    assert "You are unsubscribed" in assert_public(client.post(leave))  # twice is harmless
    assert "You are unsubscribed" in assert_public(client.get(leave))
    # The admins see what was sent to it, under the incident's public title.
    auth.as_role("admin")
    log = client.get(f"/admin/subscribers/{confirmed.id}").get_data(as_text=True)
    assert "Contacts not syncing" in log and "Sent" in log and "Unsubscribed" in log


def test_subscribe_confirm_and_leave_with_a_webhook(app, client, smtp):
    make_components(app, "Contacts sync")
    response = client.post("/status/subscribe", data={"kind": "webhook", "url": "https://hooks.example.com/status",
                                                      "email": "ops@example.com", "scope": "all"})
    assert response.status_code == 302 and response.headers["Location"] == "/status/subscribe/sent"
    [message] = smtp.inbox.to("ops@example.com")
    assert "https://hooks.example.com/status" in message.get_body(("plain",)).get_content()
    link = confirm_path(smtp, "ops@example.com")
    assert "whsec_" not in assert_public(client.get(link))
    assert subscriber(app, kind="webhook").confirmed_at is None

    page = assert_public(client.post(link))
    secret = re.search(r'value="(whsec_[A-Za-z0-9+/=]+)"', page).group(1)
    assert secret == subscriber(app, kind="webhook").signing_secret
    assert "webhook-signature" in page and "Standard Webhooks" in page
    # Shown once: confirming again keeps the secret and does not show it.
    again = assert_public(client.post(link))
    assert "whsec_" not in again and "Already confirmed" in again
    assert subscriber(app, kind="webhook").signing_secret == secret

    leave = f"/status/unsubscribe/{token(app, 'ops@example.com', 'unsubscribe', kind='webhook')}"
    assert "You are unsubscribed" in assert_public(client.post(leave))
    assert subscriber(app, kind="webhook").unsubscribed_at is not None


def test_opening_the_links_changes_nothing(app, client):
    add_subscriber(app, "waiting@example.com", confirmed=False)
    add_subscriber(app, "staying@example.com")
    confirm = f"/status/subscribe/confirm/{token(app, 'waiting@example.com', 'confirm')}"
    leave = f"/status/unsubscribe/{token(app, 'staying@example.com', 'unsubscribe')}"
    for _ in range(3):
        for path in (confirm, leave):
            assert client.get(path).status_code == 200
            assert client.head(path).status_code == 200
    assert subscriber(app, email="waiting@example.com").confirmed_at is None
    assert subscriber(app, email="staying@example.com").active


def test_one_click_unsubscribe_needs_no_cookie_and_no_csrf_token(csrf_app):
    add_subscriber(csrf_app, "reader@example.com")
    leave = f"/status/unsubscribe/{token(csrf_app, 'reader@example.com', 'unsubscribe')}"
    mail_client = csrf_app.test_client(use_cookies=False)
    response = mail_client.post(leave, data="List-Unsubscribe=One-Click",
                                content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert subscriber(csrf_app, email="reader@example.com").unsubscribed_at is not None
    # Idempotent: the mail client may post again.
    assert mail_client.post(leave, data="List-Unsubscribe=One-Click",
                            content_type="application/x-www-form-urlencoded").status_code == 200


def test_the_other_forms_need_their_csrf_token(csrf_app, smtp):
    add_subscriber(csrf_app, "waiting@example.com", confirmed=False)
    client = csrf_app.test_client()
    confirm = f"/status/subscribe/confirm/{token(csrf_app, 'waiting@example.com', 'confirm')}"
    page = assert_public(client.post(confirm), code=400)
    assert "This form has expired" in page
    assert subscriber(csrf_app, email="waiting@example.com").confirmed_at is None
    assert_public(client.post("/status/subscribe", data={"kind": "email", "email": "new@example.com",
                                                         "scope": "all"}), code=400)
    assert subscriber(csrf_app, email="new@example.com") is None
    # With the token from the page, as a browser sends it, both work.
    form_token = re.search(r'name="csrf_token" value="([^"]+)"',
                           client.get("/status/subscribe").get_data(as_text=True)).group(1)
    assert client.post("/status/subscribe", data={"kind": "email", "email": "new@example.com", "scope": "all",
                                                  "csrf_token": form_token}).status_code == 302
    assert client.post(confirm, data={"csrf_token": form_token}).status_code == 200
    assert subscriber(csrf_app, email="waiting@example.com").active


# --- telling nobody who is subscribed --------------------------------------------------------------

def test_the_answer_is_the_same_for_new_known_and_confirmed_addresses(app, client, smtp):
    add_subscriber(app, "confirmed@example.com")
    add_subscriber(app, "waiting@example.com", confirmed=False)
    answers = []
    for address in ("new@example.com", "waiting@example.com", "confirmed@example.com", "CONFIRMED@example.com"):
        response = client.post("/status/subscribe", data={"kind": "email", "email": address, "scope": "all"})
        answers.append((response.status_code, response.headers["Location"], response.get_data()))
        answers.append(client.get(response.headers["Location"]).get_data())
    assert answers[0::2] == [answers[0]] * 4 and answers[1::2] == [answers[1]] * 4
    # Behind the same answer: a link to the new address; nothing to the confirmed one, nor to the
    # unconfirmed one, which was sent its link when it subscribed minutes ago (one per 10 minutes).
    assert sorted(m["To"] for m in smtp.inbox.messages) == ["new@example.com"]
    with clock_at(datetime.now(UTC) + timedelta(minutes=11)):
        client.post("/status/subscribe", data={"kind": "email", "email": "waiting@example.com", "scope": "all"})
    assert sorted(m["To"] for m in smtp.inbox.messages) == ["new@example.com", "waiting@example.com"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Subscriber)) == 3


def test_public_pages_never_show_another_subscribers_address(app, client, smtp):
    make_components(app, "Contacts sync")
    add_subscriber(app, "other.person@example.com")
    add_subscriber(app, "hooks.owner@example.com", url="https://private-hooks.example.com/in")
    others = ("other.person@example.com", "hooks.owner@example.com", "private-hooks.example.com")
    mine = add_subscriber(app, "me@example.com", confirmed=False)
    pages = [client.get("/status/subscribe"), client.get("/status/subscribe/sent"),
             client.post("/status/subscribe", data={"kind": "email", "email": "", "scope": "all"})]
    confirm = f"/status/subscribe/confirm/{token(app, 'me@example.com', 'confirm')}"
    leave = f"/status/unsubscribe/{token(app, 'me@example.com', 'unsubscribe')}"
    pages += [client.get(confirm), client.post(confirm), client.get(leave), client.post(leave),
              client.get("/status/unsubscribe/not-a-token")]
    for response in pages:
        # The link pages do not show even the owner's address: the visitor did not type it there.
        assert_public(response, code=response.status_code, hidden=(*others, "me@example.com"))
    assert subscriber(app, id=mine).unsubscribed_at is not None
    # The form shown again keeps what this visitor typed, and only that.
    page = assert_public(client.post("/status/subscribe", data={"kind": "webhook", "email": "typed@example.com",
                                                                "scope": "all"}), code=422, hidden=others)
    assert 'value="typed@example.com"' in page


def test_nothing_internal_reaches_the_subscribe_pages(leak_world, client):
    app, markers, _public_id = leak_world
    for url in ("/status/subscribe", "/status/subscribe/sent"):
        page = assert_public(client.get(url)).lower()
        assert [marker for marker in markers if marker.lower() in page] == [], url
    assert "contacts sync" in client.get("/status/subscribe").get_data(as_text=True).lower()  # its components show


def test_the_footer_of_the_status_site_links_to_subscribing(app, client):
    page = client.get("/status/").get_data(as_text=True)
    assert "/status/subscribe" in page and "Subscribe to updates" in page


# --- refusals --------------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["https://127.0.0.1/hook", "https://10.1.2.3/hook", "https://[::1]/hook",
                                 "https://169.254.169.254/latest", "https://localhost/hook",
                                 "http://hooks.example.com/plain", "ftp://hooks.example.com/x", "hooks.example.com"])
def test_a_webhook_url_that_cannot_be_delivered_to_is_refused_beside_the_field(app, client, smtp, url):
    response = client.post("/status/subscribe", data={"kind": "webhook", "url": url, "email": "ops@example.com",
                                                      "scope": "all"})
    page = assert_public(response, code=422)
    assert errors_beside(page, "url"), url
    assert count_subscribers(app) == 0 and smtp.inbox.messages == []


@pytest.mark.parametrize("data, field, message", [
    ({"kind": "email", "email": "not an address"}, "email", "Enter an e-mail address like name@example.com."),
    ({"kind": "email", "email": ""}, "email", "Enter your e-mail address."),
    ({"kind": "webhook", "email": "ops@example.com"}, "url", "Enter the https URL to send updates to."),
    ({"kind": "email", "email": "a@example.com", "url": "https://hooks.example.com/x"}, "url", "choose “By webhook”"),
    ({"kind": "email", "email": "a@example.com", "scope": "some"}, "components", "Tick at least one component"),
    ({"kind": "email", "email": "a@example.com", "scope": "all", "components": "PICKED"}, "components",
     "ticked some"),
    ({"kind": "sms", "email": "a@example.com"}, "kind", "Not a valid choice"),
])
def test_what_cannot_be_used_is_said_beside_its_field(app, client, smtp, data, field, message):
    ids = make_components(app, "Contacts sync")
    data = {"scope": "all", **data}
    if data.get("components") == "PICKED":
        data["components"] = [ids["Contacts sync"]]
    page = assert_public(client.post("/status/subscribe", data=data), code=422)
    assert any(message in error for error in errors_beside(page, field)), errors_beside(page, field)
    assert count_subscribers(app) == 0


def test_with_no_components_listed_the_form_asks_only_how(app, client, smtp):
    page = assert_public(client.get("/status/subscribe"))
    assert "Which components?" not in page
    assert client.post("/status/subscribe", data={"kind": "email", "email": "a@example.com"}).status_code == 302
    assert subscriber(app, email="a@example.com").all_components


def test_a_component_removed_while_the_form_was_open_is_refused_beside_the_boxes(app, client):
    ids = make_components(app, "Contacts sync", "Photo backup")
    with app.app_context():
        status.archive_component(session=db.session, component=db.session.scalar(
            select(Component).where(Component.name == "Photo backup")))
        db.session.commit()
    page = assert_public(client.post("/status/subscribe", data={
        "kind": "email", "email": "a@example.com", "scope": "some", "components": [ids["Photo backup"]]}), code=422)
    assert errors_beside(page, "components")
    assert count_subscribers(app) == 0


def test_bad_and_expired_links_say_so_and_change_nothing(app, client, monkeypatch):
    add_subscriber(app, "waiting@example.com", confirmed=False)
    add_subscriber(app, "staying@example.com")
    confirm_token = token(app, "waiting@example.com", "confirm")
    leave_token = token(app, "staying@example.com", "unsubscribe")
    with monkeypatch.context() as patch:  # a confirmation link sent eight days ago
        patch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 8 * 86400)
        expired = token(app, "waiting@example.com", "confirm")
    bad = [
        f"/status/subscribe/confirm/{expired}",
        f"/status/subscribe/confirm/{leave_token}",  # a link for leaving does not confirm
        f"/status/unsubscribe/{confirm_token}",  # nor the other way round
        f"/status/subscribe/confirm/{confirm_token[:-3]}abc",
        f"/status/unsubscribe/{leave_token[:-3]}abc",
        "/status/subscribe/confirm/nonsense", "/status/unsubscribe/nonsense",
        "/status/unsubscribe/" + "x" * 5000, "/status/subscribe/confirm/%00",
    ]
    for path in bad:
        for method in ("GET", "POST"):
            page = assert_public(client.open(path, method=method), code=404)
            assert "This link is not valid or has expired" in page, path
            assert 'href="/status/subscribe"' in page
    assert subscriber(app, email="waiting@example.com").confirmed_at is None
    assert subscriber(app, email="staying@example.com").active
    # Unsubscribe links never expire (RFC 8058): one from long ago still works.
    with monkeypatch.context() as patch:
        patch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 400 * 86400)
        old_leave = token(app, "staying@example.com", "unsubscribe")
    assert client.post(f"/status/unsubscribe/{old_leave}").status_code == 200
    assert subscriber(app, email="staying@example.com").unsubscribed_at is not None


def test_subscribing_is_rate_limited_per_client_address(app_config, request, smtp):
    app_config.update(RATELIMIT_ENABLED=True, SUBSCRIBE_RATE_LIMIT="3 per hour")
    app = request.getfixturevalue("app")
    client = app.test_client()
    for n in range(3):
        assert client.post("/status/subscribe", data={"kind": "email", "email": f"reader{n}@example.com",
                                                      "scope": "all"}).status_code == 302
    response = client.post("/status/subscribe", data={"kind": "email", "email": "reader9@example.com",
                                                      "scope": "all"})
    page = assert_public(response, code=429)
    assert "Too many requests from your network" in page and "Try again after" in page
    assert int(response.headers["Retry-After"]) > 0
    assert subscriber(app, email="reader9@example.com") is None
    # Another address is not limited; nor is reading the form.
    assert client.post("/status/subscribe", data={"kind": "email", "email": "other@example.com", "scope": "all"},
                       environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 302
    assert client.get("/status/subscribe").status_code == 200


# --- the admins' pages -----------------------------------------------------------------------------

def admin_page(client, url: str) -> str:
    """An admin page's HTML with the line-break hints in addresses (<wbr>) taken out."""
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True).replace("<wbr>", "")


@pytest.fixture
def crowd(app):
    """One subscriber in each state, by id."""
    return {
        "active email": add_subscriber(app, "active@example.com"),
        "active webhook": add_subscriber(app, "hook@example.com", url="https://hooks.example.com/a"),
        "waiting": add_subscriber(app, "waiting@example.com", confirmed=False),
        "gone": add_subscriber(app, "gone@example.com", unsubscribed_at=utcnow()),
        "bounced": add_subscriber(app, "bounced@example.com", bounces=MAX_BOUNCES),
        "quarantined": add_subscriber(app, "q@example.com", url="https://hooks.example.com/q",
                                      failures=10, quarantined_at=utcnow()),
    }


def test_admins_see_the_counts_and_the_list(app, client, auth, crowd):
    auth.as_role("admin")
    page = admin_page(client, "/admin/subscribers")
    text = re.sub(r"<[^>]+>", "", page)
    for said in ("1 active e-mail", "1 active webhook", "1 awaiting confirmation", "1 unsubscribed", "1 bounced",
                 "1 quarantined webhook", "6 subscribers"):
        assert said in text, said
    for address in ("active@example.com", "https://hooks.example.com/a", "waiting@example.com", "gone@example.com",
                    "bounced@example.com", "https://hooks.example.com/q"):
        assert address in page
    filtered = admin_page(client, "/admin/subscribers?state=quarantined")
    assert "https://hooks.example.com/q" in filtered and "active@example.com" not in filtered
    filtered = admin_page(client, "/admin/subscribers?kind=webhook")
    assert "hooks.example.com/a" in filtered and "bounced@example.com" not in filtered
    for query in ("state=bogus", "kind=%00", "kind=" + "x" * 10_000):
        response = client.get(f"/admin/subscribers?{query}")
        assert response.status_code == 422
    for query in ("before=abc", "before=99999999999999999999", "before=-1", "before=%00"):
        assert client.get(f"/admin/subscribers?{query}").status_code == 200


def test_the_list_pages_fifty_at_a_time(app, client, auth):
    with app.app_context():
        for n in range(53):
            subscribers.subscribe_email(session=db.session, email=f"reader{n:02d}@example.com", component_ids=None)
        db.session.commit()
    auth.as_role("admin")
    first = admin_page(client, "/admin/subscribers?kind=email")
    assert "reader52@example.com" in first and "reader03@example.com" in first and "reader02@example.com" not in first
    older = re.search(r'href="([^"]*before=\d+[^"]*)"', first).group(1).replace("&amp;", "&")
    assert "kind=email" in older
    second = admin_page(client, older)
    assert "reader02@example.com" in second and "reader00@example.com" in second
    assert "reader03@example.com" not in second and "Older subscribers" not in second


def test_admins_read_the_delivery_log_and_reactivate(app, client, auth, crowd):
    with app.app_context():
        announcements = [Announcement(about="incident", public_id=f"inc{n}", update_id=f"upd{n}") for n in range(52)]
        db.session.add_all(announcements)
        db.session.flush()
        db.session.add_all(Delivery(subscriber_id=crowd["quarantined"], announcement_id=a.id, state="failed",
                                    attempts=n % 9 + 1, status_code=500, response_ms=1200 + n,
                                    error=f"answered HTTP 500 ({n})") for n, a in enumerate(announcements))
        db.session.commit()
    admin = auth.as_role("admin")
    page = client.get(f"/admin/subscribers/{crowd['quarantined']}").get_data(as_text=True)
    assert "Quarantined" in page and ">Reactivate</button>" in page
    assert "answered HTTP 500 (51)" in page and "1,251 ms" in page and "answered HTTP 500 (1)" not in page
    older = re.search(r'href="([^"]*before=\d+)"', page).group(1)
    assert "answered HTTP 500 (1)" in client.get(older).get_data(as_text=True)

    response = client.post(f"/admin/subscribers/{crowd['quarantined']}/reactivate")
    assert response.status_code == 302
    back = subscriber(app, id=crowd["quarantined"])
    assert back.quarantined_at is None and back.failures == 0 and back.active
    assert "Reactivated" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert client.post(f"/admin/subscribers/{crowd['bounced']}/reactivate").status_code == 302
    assert subscriber(app, id=crowd["bounced"]).active
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(
            AuditEvent.entity_type == "subscriber", AuditEvent.entity_id == str(crowd["quarantined"]),
            AuditEvent.actor == admin)).all()
        assert any("quarantined_at" in (e.after or "") for e in events)
    # Nothing to reactivate on an active one: said, and nothing changes.
    response = client.post(f"/admin/subscribers/{crowd['active email']}/reactivate", follow_redirects=True)
    assert "nothing to reactivate" in response.get_data(as_text=True)
    active = client.get(f"/admin/subscribers/{crowd['active email']}").get_data(as_text=True)
    assert ">Reactivate</button>" not in active
    for missing in (999_999, 2**31):
        assert client.get(f"/admin/subscribers/{missing}").status_code == 404
        assert client.post(f"/admin/subscribers/{missing}/reactivate").status_code == 404


@pytest.mark.parametrize("role", ["viewer", "responder"])
def test_only_admins_reach_the_subscriber_pages(app, client, auth, crowd, role):
    auth.as_role(role)
    assert client.get("/admin/subscribers").status_code == 403
    assert client.get(f"/admin/subscribers/{crowd['quarantined']}").status_code == 403
    assert client.post(f"/admin/subscribers/{crowd['quarantined']}/reactivate").status_code == 403
    assert subscriber(app, id=crowd["quarantined"]).quarantined_at is not None
    assert "/admin/subscribers" not in client.get("/").get_data(as_text=True)
