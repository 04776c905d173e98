"""Helpers shared by the test modules: reading pages as a browser would, and setting up state.

Shared fixtures live in `tests/fixtures/` (registered from `conftest.py`); no test module imports
another one.
"""
from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

import sqlalchemy as sa
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from incidents.auth.models import User
from incidents.extensions import db
from incidents.incident import service as incident_service
from incidents.incident.enums import Status
from incidents.incident.models import Incident
from incidents.timeline.models import TimelineEntry
from tests.factories import Factory

# --- reading pages -----------------------------------------------------------------------------


class FormReader(HTMLParser):
    """Reads one <form> of a page the way a browser would submit it."""

    def __init__(self, action: str | None):
        super().__init__(convert_charrefs=True)
        self.action = action
        self.in_form = False
        self.found = False
        self.fields: list[tuple[str, str]] = []
        self._select: dict | None = None
        self._option: dict | None = None
        self._textarea: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and not self.found and a.get("action") == self.action:
            self.in_form = self.found = True
            return
        if not self.in_form:
            return
        if tag == "input" and a.get("name"):
            kind = (a.get("type") or "text").lower()
            if kind in ("submit", "button", "image", "reset"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields.append((a["name"], a.get("value") or ("on" if kind == "checkbox" else "")))
        elif tag == "select":
            self._select = {"name": a.get("name"), "multiple": "multiple" in a, "options": []}
        elif tag == "option" and self._select is not None:
            self._option = {"value": a.get("value"), "selected": "selected" in a, "text": ""}
            self._select["options"].append(self._option)
        elif tag == "textarea":
            self._textarea = {"name": a.get("name"), "text": ""}

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea["text"] += data
        elif self._option is not None:
            self._option["text"] += data

    def handle_endtag(self, tag):
        if tag == "form" and self.in_form:
            self.in_form = False
        elif tag == "option":
            self._option = None
        elif tag == "select" and self._select is not None:
            options = self._select["options"]
            chosen = [o for o in options if o["selected"]]
            if not chosen and options and not self._select["multiple"]:
                chosen = options[:1]
            for option in chosen:
                value = option["value"] if option["value"] is not None else option["text"]
                self.fields.append((self._select["name"], value))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            text = self._textarea["text"]
            # Browsers drop the newline that immediately follows <textarea>.
            text = text[2:] if text.startswith("\r\n") else text[1:] if text.startswith("\n") else text
            self.fields.append((self._textarea["name"], text))
            self._textarea = None


def csrf_token(html: str) -> str:
    """The CSRF token of the page's first form (its attributes in any order)."""
    tag = re.search(r'<input[^>]*name="csrf_token"[^>]*>', html)
    assert tag, "the page has no CSRF token field"
    return unescape(re.search(r'value="([^"]*)"', tag.group(0)).group(1))


def login_with_token(client, email: str) -> None:
    """Sign in as a browser would with CSRF protection on: with the login form's token."""
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"email": email, "password": Factory.PASSWORD, "csrf_token": token})
    assert response.status_code == 302


def read_form(html: str, action: str | None = None) -> MultiDict:
    reader = FormReader(action)
    reader.feed(html)
    assert reader.found, f"no form with action={action!r} on the page"
    return MultiDict(reader.fields)


def field_errors(html: str, field_id: str) -> list[str]:
    """The error messages shown beside one field (the list the field's aria-describedby names)."""
    match = re.search(rf'<ul class="errors" id="{re.escape(field_id)}-errors">(.*?)</ul>', html, re.S)
    if match is None:
        return []
    assert f'aria-describedby="{field_id}-errors"' in html, "the field does not point at its errors"
    return [unescape(m).strip() for m in re.findall(r"<li>(.*?)</li>", match.group(1), re.S)]


def flashes(html: str) -> list[str]:
    return [unescape(m) for m in re.findall(r'<p class="flash flash-\w+">(.*?)</p>', html, re.S)]


def text_of(html: str) -> str:
    """Visible text, tags dropped and white space collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def section(html: str, section_id: str) -> str:
    match = re.search(rf'<section[^>]*\bid="{section_id}".*?</section>', html, re.S)
    assert match, f"no section #{section_id} on the page"
    return match.group(0)


# --- state ---------------------------------------------------------------------------------------


def timeline_rows(app, reference: str) -> list[dict]:
    """The incident's timeline entries in the order they were written."""
    with app.app_context():
        incident_id = db.session.scalar(select(Incident.id).where(Incident.reference == reference))
        rows = db.session.scalars(select(TimelineEntry).where(TimelineEntry.incident_id == incident_id)
                                  .order_by(TimelineEntry.id)).all()
        return [{c.key: getattr(row, c.key) for c in TimelineEntry.__table__.columns} for row in rows]


def move_status(app, reference: str, by: str, *statuses: Status) -> None:
    """Walk an incident through `statuses` with the real service (test setup, not the thing tested)."""
    if Status.closed in statuses:  # an incident closes only once its postmortem is published
        make = Factory(app)
        make.postmortem(reference, by=by, reviewers=[make.user()], state="published")
    with app.app_context():
        actor = db.session.scalar(select(User).where(User.email == by))
        for status in statuses:
            incident = incident_service.get_incident(session=db.session, reference=reference)
            incident_service.change_status(session=db.session, actor=actor, incident=incident,
                                           new_status=status, expected_version=incident.version)
            db.session.commit()


def signed_in_client(app, make: Factory, role: str = "responder", name: str = ""):
    """A second browser: a new test client signed in as a new user. Returns (client, email)."""
    email = make.user(role=role, name=name)
    other = app.test_client()
    response = other.post("/login", data={"email": email, "password": Factory.PASSWORD})
    assert response.status_code == 302
    return other, email


def behind_the_triggers(app, backend: str, table: str, *statements: tuple[str, dict]) -> None:
    """Run statements on `table` with its append-only triggers out of the way, as a DB owner can."""
    with app.app_context(), db.engine.begin() as conn:
        if backend == "postgresql":
            conn.execute(sa.text(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only"))
        else:
            saved = [(name, conn.execute(sa.text("SELECT sql FROM sqlite_master WHERE name = :n"), {"n": name})
                      .scalar()) for name in (f"{table}_no_update", f"{table}_no_delete")]
            for name, _sql in saved:
                conn.execute(sa.text(f"DROP TRIGGER {name}"))
        for statement, params in statements:
            conn.execute(sa.text(statement), params)
        if backend == "postgresql":
            conn.execute(sa.text(f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only"))
        else:
            for _name, sql in saved:
                conn.execute(sa.text(sql))



_UPTIME_BAR = re.compile(r'<li(?: class="ub-([a-z_]+)")?><i>([^<]*)</i></li>')


def uptime_bars(html: str) -> list[tuple[str, str]]:
    """The status page's day bars in `html`: (shade, text), a bar without a class being operational."""
    return [(shade or "operational", text) for shade, text in _UPTIME_BAR.findall(html)]


def statements_for(app, client, url: str) -> list[str]:
    """The SQL statements the database ran while serving GET `url` (which must answer 200), its
    body read to the end (a streamed one runs its queries as it is read)."""
    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def listener(_conn, _cursor, statement, *_rest) -> None:
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        response = client.get(url)
        response.get_data()
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)
    assert response.status_code == 200, f"GET {url}: {response.status_code}"
    return seen


def queries_for(app, client, url: str) -> int:
    """How many queries serving GET `url` ran: the statements without SQLite's BEGIN, which is ours
    (incidents/db.py), not a query."""
    return len([s for s in statements_for(app, client, url) if s != "BEGIN"])


def drop_server_connections(app) -> int:
    """PostgreSQL: end every other connection to the test database, as a server restart would
    (what the app's pools hold goes dead). Returns how many were ended."""
    with app.app_context(), db.engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
