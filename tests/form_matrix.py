"""The bad-input table: every form, the URL it posts to, a valid baseline and what each field accepts.

`test_bad_input.py` feeds every field of every form its bad values; `test_markdown_budget.py` posts
pathological Markdown through the same forms. A form's fields must all be listed here (checked by
`test_bad_input.py::test_every_field_of_every_form_is_in_the_table`).
"""

import io
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

from sqlalchemy import func, select

from incidents.actions.enums import ActionStatus
from incidents.actions.models import ActionItem
from incidents.auth.models import LoginSession, User
from incidents.extensions import db
from incidents.impact.models import ImpactUpdate
from incidents.incident.fields import FIELDS
from incidents.incident.models import Incident
from incidents.incident.service import get_incident
from incidents.maintenance.models import Maintenance, MaintenanceUpdate
from incidents.notices.models import Notice, NoticeRelease, NoticeVersion
from incidents.obligations.models import ContractRule, IncidentRegime, Obligation, ObligationAnchor, ObligationStatus
from incidents.postmortem.models import Postmortem, PostmortemReviewer
from incidents.postmortem.sections import SECTION_KEYS
from incidents.recovery.models import Workstream
from incidents.subscribers.models import Subscriber, SubscriberComponent
from incidents.timeline.models import TimelineEntry

RAW_SCRIPT = "<script>alert(1)"
FORM_TIME = "%Y-%m-%dT%H:%M"
CONTROL_CHARS_ERROR = "Remove the invisible control characters."
OVERFLOWING_IDS = [2**31, 2**63, 2**64, 99999999999999999999]
_unique = itertools.count(1)


# --- reading pages -----------------------------------------------------------------------------

class FieldBlocks(HTMLParser):
    """The `.field` blocks of a page: the inputs each holds, whether it is marked as wrong and the
    error texts shown in it; and the error lists shown outside any field (hidden inputs)."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.blocks: list[dict] = []
        self.loose_errors: list[str] = []
        self._divs: list[dict | None] = []
        self._in_errors = False
        self._error_text: list[str] | None = None
        self.feed(html)
        self.close()

    def _current(self) -> dict | None:
        return next((d for d in reversed(self._divs) if d is not None), None)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if tag == "div":
            block = None
            if "field" in classes:
                block = {"names": set(), "has_error": "has-error" in classes, "errors": []}
                self.blocks.append(block)
            self._divs.append(block)
        elif tag in ("input", "select", "textarea") and attrs.get("name"):
            if self._current() is not None:
                self._current()["names"].add(attrs["name"])
        elif tag == "ul" and "errors" in classes:
            self._in_errors = True
        elif tag == "li" and self._in_errors:
            self._error_text = []

    def handle_endtag(self, tag):
        if tag == "div" and self._divs:
            self._divs.pop()
        elif tag == "ul":
            self._in_errors = False
        elif tag == "li" and self._error_text is not None:
            text = "".join(self._error_text).strip()
            block = self._current()
            (block["errors"] if block is not None else self.loose_errors).append(text)
            self._error_text = None

    def handle_data(self, data):
        if self._error_text is not None:
            self._error_text.append(data)

    def block_for(self, name: str) -> dict:
        found = [b for b in self.blocks if name in b["names"]]
        assert len(found) == 1, f"expected one field block holding {name!r}, found {len(found)}"
        return found[0]


def errors_beside(html: str, name: str, *, hidden: bool = False) -> list[str]:
    """The errors shown beside field `name`: inside its `.field.has-error` block, or for a hidden
    input (version, revision) in the form's error summary, since it has no place of its own."""
    page = FieldBlocks(html)
    if hidden:
        assert "Please fix the marked fields" in html
        return page.loose_errors
    block = page.block_for(name)
    if not block["has_error"]:
        return []
    return block["errors"]


def all_errors(html: str) -> dict[str, list[str]]:
    page = FieldBlocks(html)
    shown = {"/".join(sorted(b["names"])): b["errors"] for b in page.blocks if b["errors"]}
    if page.loose_errors:
        shown["(form)"] = page.loose_errors
    return shown


# --- reading the database ----------------------------------------------------------------------

def snapshot(app) -> dict:
    """Everything a form could change, read fresh from the database."""
    with app.app_context():
        session = db.session
        state = {
            "users": session.execute(select(User.id, User.email, User.name, User.role, User.active,
                                            User.password_hash).order_by(User.id)).all(),
            "sessions": session.scalar(select(func.count()).select_from(LoginSession)),
            "incidents": session.execute(select(Incident.id, Incident.version, Incident.title,
                                                Incident.status, Incident.summary)
                                         .order_by(Incident.id)).all(),
            "entries": session.scalar(select(func.count()).select_from(TimelineEntry)),
            "impact updates": session.scalar(select(func.count()).select_from(ImpactUpdate)),
            "workstreams": session.execute(select(Workstream.id, Workstream.version, Workstream.done)
                                           .order_by(Workstream.id)).all(),
            "postmortems": session.execute(select(Postmortem.id, Postmortem.version, Postmortem.status)
                                           .order_by(Postmortem.id)).all(),
            "postmortem reviewers": session.scalar(select(func.count()).select_from(PostmortemReviewer)),
            "action items": session.execute(select(ActionItem.id, ActionItem.version)
                                            .order_by(ActionItem.id)).all(),
            "notice versions": session.execute(select(NoticeVersion.id, NoticeVersion.approved_at)
                                               .order_by(NoticeVersion.id)).all(),
            "notice releases": session.scalar(select(func.count()).select_from(NoticeRelease)),
            "notice checklists": [tuple(items) for items in session.scalars(select(Notice.covered_items)
                                                                             .order_by(Notice.id))],
            "obligations": session.execute(select(Obligation.id, Obligation.status, Obligation.version)
                                           .order_by(Obligation.id)).all(),
            "obligation anchors": session.execute(select(ObligationAnchor.kind, ObligationAnchor.at)
                                                  .order_by(ObligationAnchor.id)).all(),
            "regimes": session.execute(select(IncidentRegime.incident_id, IncidentRegime.regime)
                                       .order_by(IncidentRegime.id)).all(),
            "contract rules": session.execute(select(ContractRule.id, ContractRule.version)
                                              .order_by(ContractRule.id)).all(),
            "maintenance": session.execute(select(Maintenance.id, Maintenance.version)
                                           .order_by(Maintenance.id)).all(),
            "maintenance updates": session.scalar(select(func.count()).select_from(MaintenanceUpdate)),
            "subscribers": session.execute(select(Subscriber.id, Subscriber.kind, Subscriber.email, Subscriber.url,
                                                  Subscriber.all_components, Subscriber.confirmed_at,
                                                  Subscriber.unsubscribed_at).order_by(Subscriber.id)).all(),
            "subscriber components": session.execute(select(SubscriberComponent.subscriber_id,
                                                            SubscriberComponent.component_id)
                                                     .order_by(SubscriberComponent.subscriber_id,
                                                               SubscriberComponent.component_id)).all(),
        }
        session.remove()
        return state


# --- the forms and what each field accepts -----------------------------------------------------

REJECT, SAVE, ANY = "reject", "save", "any"

BLANK = [("empty", ""), ("only spaces", "   ")]
CONTROL = [
    ("NUL byte", "\x00"),
    ("NUL inside text", "lost\x00contacts"),
    ("control characters", "\x01\x02\x03"),
    ("terminal escape", "\x1b[2J\x1b[31mred"),
    ("DEL", "abc\x7f"),
    ("separator control", "a\x1fb"),
]
HUGE = [("100k chars", "x" * 100_000), ("100k accented chars", "é" * 100_000)]
# Valid text, however odd: it must be kept as typed (and escaped when shown).
HOSTILE_TEXT = [
    ("script tag", "<script>alert(1)</script>"),
    ("SQL injection", "'; DROP TABLE incident; --"),
    ("SQL quote", "\" OR 1=1 --"),
    ("RTL script", "\u200f فقدان البيانات"),
    ("emoji", "🔥💾🙈 data gone"),
    ("tabs and newlines", "line one\n\tline two"),
    ("zero-width chars", "zero\u200bwidth\ufeffjoin"),
    ("escaped NUL as text", "%00 and \\x00"),
    ("two values for one field", ["first of two values", "second of two values"]),
]
# Text-direction overrides can disguise a one-line value (a title, a name); running text may keep them.
BIDI = [("RTL override", "invoice\u202egpj.exe"), ("RTL embedding", "\u202bفقدان البيانات")]
FILE_UPLOAD = ("a file instead of text", lambda base: (io.BytesIO(b"not text"), "notes.txt"))


@dataclass
class Text:
    """Free text: a title, a note. Any printable text within the limit is valid."""

    max: int
    required: bool = True
    free: bool = True  # False for formats (e-mail, password) where odd text may be refused
    one_line: bool = False  # single-line fields refuse text-direction overrides

    def values(self):
        ok = SAVE if self.free else ANY
        out = [(label, v, REJECT) for label, v in CONTROL + HUGE]
        out.append(("one over the limit", "x" * (self.max + 1), REJECT))
        if self.required:
            out += [(label, v, REJECT) for label, v in BLANK]
        out += [(label, v, ok) for label, v in HOSTILE_TEXT]
        out += [(label, v, REJECT if self.one_line else ok) for label, v in BIDI]
        out.append(("emoji up to the limit", "🔥" * self.max, ok))
        out.append((*FILE_UPLOAD, ANY))
        return out


@dataclass
class AlternativeText(Text):
    """Free text in one of two boxes where either will do (the timeline's longer text). With
    nothing usable in it (a file counts as nothing) the post is empty, refused beside the other box."""

    def values(self):
        return [case for case in super().values() if case[0] != FILE_UPLOAD[0]]


@dataclass
class Email:
    def values(self):
        bad = ["not-an-email", "a@", "@example.com", "a@b@example.com", "x" * 250 + "@example.com",
               "<script>alert(1)</script>@example.com", "'; DROP TABLE user; --@example.com"]
        out = [(label, v, REJECT) for label, v in BLANK + CONTROL + HUGE]
        out += [(repr(v)[:40], v, REJECT) for v in bad]
        out += [("upper case", lambda base: f"UPPER{next(_unique)}@Example.COM", SAVE),
                ("unicode", lambda base: f"zoë{next(_unique)}@example.com", ANY),
                ("RTL override", lambda base: f"ad\u202emin{next(_unique)}@example.com", REJECT),
                ("two values", lambda base: [f"one{next(_unique)}@example.com", "two@example.com"], SAVE)]
        return out


@dataclass
class Password:
    required: bool = True

    def values(self):
        out = [(label, v, REJECT) for label, v in CONTROL + HUGE]
        out += [("too short", "short", REJECT), ("one over the limit", "x" * 1025, REJECT),
                ("only 3 spaces", "   ", REJECT)]
        if self.required:
            out.append(("empty", "", REJECT))
        out += [(label, v, ANY) for label, v in HOSTILE_TEXT]
        out.append(("emoji up to the limit", "🔥" * 1024, ANY))
        return out


@dataclass
class Choice:
    """A select: only the offered values are valid."""

    extra_bad: list = field(default_factory=list)
    blank_ok: bool = False
    ok: list = field(default_factory=list)

    def values(self):
        bad = ["bogus", "\x00", "<script>alert(1)</script>", "'; DROP TABLE incident; --", "x" * 100_000,
               *self.extra_bad]
        out = [(repr(v)[:40], v, REJECT) for v in bad]
        out.append(("empty", "", ANY if self.blank_ok else REJECT))
        out += [(label, v, ANY) for label, v in self.ok]
        return out


OWNER_BAD = ["abc", "-1", "1.5", "99999999999999999999", "2147483648", "²", "999999", "1e3"]


@dataclass
class Categories:
    def values(self):
        return [("unknown category", ["contacts", "bogus"], REJECT),
                ("NUL", ["\x00"], REJECT),
                ("100k chars", ["x" * 100_000], REJECT),
                ("script", ["<script>alert(1)</script>"], REJECT),
                ("duplicates", ["photos", "photos"], ANY),
                ("none", [], ANY)]


@dataclass
class IdSet:
    """Ticked boxes that name records by id: only the offered ids are valid."""

    def values(self):
        return [("not a number", ["abc"], REJECT), ("unknown id", ["999999"], REJECT),
                ("overflowing id", [str(2**63)], REJECT), ("NUL", ["\x00"], REJECT),
                ("negative", ["-1"], REJECT), ("none", [], ANY)]


@dataclass
class Upload:
    """An optional file: an empty or oversized one is refused; anything else is kept as it is."""

    max: int

    def values(self):
        return [("empty file", lambda base: (io.BytesIO(b""), "receipt.pdf"), REJECT),
                ("one byte over the limit", lambda base: (io.BytesIO(b"x" * (self.max + 1)), "big.pdf"), REJECT),
                ("text instead of a file", "receipt.pdf", ANY),
                ("a path for a name", lambda base: (io.BytesIO(b"%PDF-1.7"), "../../etc/passwd"), ANY),
                ("a script for a name", lambda base: (io.BytesIO(b"ok"), "<script>alert(1)</script>.pdf"), ANY)]


@dataclass
class Flag:
    def values(self):
        return [(label, v, ANY) for label, v in
                [("letters", "abc"), ("NUL", "\x00"), ("100k chars", "x" * 100_000),
                 ("two values", ["y", "n"]), ("empty", "")]]


@dataclass
class HiddenNumber:
    """The version/revision a form was loaded with."""

    def values(self):
        bad = ["", "abc", "1.5", "-1", "0", "99999999999999999999", "2147483648", "1e3", "²", "0x10",
               "\x00", " ", "x" * 100_000]
        return [(repr(v)[:40], v, REJECT) for v in bad] + [
            ("two values", lambda base: [base["_number"], "abc"], ANY)]


@dataclass
class When:
    """A UTC date and time typed in a datetime-local input."""

    required: bool = False
    ok: list = field(default_factory=lambda: [("with seconds", "2009-10-02T04:40:30"),
                                              ("with a space", "2009-10-02 04:40")])
    future: str = ANY

    def values(self):
        bad = ["yesterday", "2009-13-45T25:61", "99999-01-01T00:00", "0001-01-01T00:00",
               "1899-12-31T23:59", "9999-12-31T23:59", "2009-10-02T04:40Z", "2009-10-02T04:40+02:00",
               "\x00", "2009-10-02\x00T04:40", "<script>alert(1)</script>", "x" * 100_000]
        out = [(repr(v)[:40], v, REJECT) for v in bad]
        out.append(("empty", "", REJECT if self.required else ANY))
        out.append(("far future", "2199-01-01T00:00", self.future))
        out += [(label, v, ANY) for label, v in self.ok]
        out.append(("two values", ["2009-10-02T04:40", "garbage"], ANY))
        return out


@dataclass
class Count:
    """A whole number of customers, records or units typed in a number box."""

    blank: str = REJECT  # what an empty box means: refused, or "not known" / zero
    extra_bad: list = field(default_factory=list)

    def values(self):
        bad = ["-1", "1.5", "abc", "1e3", "²", "0x10", "1_000", "\x00", "x" * 100_000, "9" * 100_000,
               "99999999999999999999", str(10**15 + 1), *self.extra_bad]
        out = [(repr(v)[:40], v, REJECT) for v in bad]
        out += [(label, v, self.blank) for label, v in BLANK]
        # At the limit may still be refused when it outgrows a related figure: then beside this field.
        out += [("at the limit", str(10**15), ANY), ("with spaces", " 7000 ", ANY),
                ("two values", ["7000", "abc"], ANY)]
        return out


@dataclass
class DueDate:
    """A calendar date typed in a date input (YYYY-MM-DD); a new one cannot be in the past."""

    def values(self):
        bad = ["yesterday", "2009-13-45", "99999-01-01", "0001-01-01", "1899-12-31", "2009-10-02",
               "2199-13-01", "\x00", "<script>alert(1)</script>", "x" * 100_000, "", " "]
        return [(repr(v)[:40], v, REJECT) for v in bad] + [
            ("far future", "2199-01-01", ANY), ("two values", ["2199-01-01", "garbage"], ANY)]


@dataclass
class Link:
    """An optional http(s) link to an external tracker; nothing else is a link we will show."""

    def values(self):
        bad = ["javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "ftp://files.example.com/x",
               "http://", "tracker.example.com/OPS-1", "https://tracker.example.com/a b", "//evil.example.com",
               "https://" + "x" * 500 + ".example.com", "<script>alert(1)</script>"]
        out = [(repr(v)[:40], v, REJECT) for v in bad]
        out += [(label, v, REJECT) for label, v in CONTROL + HUGE + BIDI]
        out += [("https link", lambda base: f"https://tracker.example.com/OPS-{next(_unique)}", SAVE),
                ("empty", "", ANY)]
        return out


@dataclass
class ReviewerEmail:
    """The e-mail of an existing responder or admin; anything else is refused with a reason."""

    def values(self):
        bad = ["nobody@example.com", "not-an-email", "<script>alert(1)</script>@example.com",
               "'; DROP TABLE user; --", "x" * 255]
        out = [(label, v, REJECT) for label, v in BLANK + CONTROL + HUGE + BIDI]
        out += [(repr(v)[:40], v, REJECT) for v in bad]
        out.append(("a viewer", lambda base: base["_viewer"], REJECT))
        return out


@dataclass
class WebhookUrl:
    """Where a webhook is posted: https, on the public internet, written one unambiguous way."""

    def values(self):
        bad = ["javascript:alert(1)", "http://hooks.example.com/plain", "ftp://hooks.example.com/x", "https://",
               "hooks.example.com/status", "https://hooks.example.com/a b", "https://user:pw@hooks.example.com/",
               "https://127.0.0.1/hook", "https://10.0.0.5/hook", "https://[::1]/hook", "https://169.254.169.254/",
               "https://localhost/hook", "https://2130706433/", "https://hooks.example.com./x",
               "https://hooks.example.com\\@10.0.0.5/", "https://" + "x" * 500 + ".example.com",
               "<script>alert(1)</script>"]
        out = [(repr(v)[:40], v, REJECT) for v in bad]
        out += [(label, v, REJECT) for label, v in BLANK + CONTROL + HUGE + BIDI]
        out += [("https link", lambda base: f"https://hooks{next(_unique)}.example.com/status", SAVE),
                ("port and query", lambda base: f"https://hooks.example.com:8443/in?n={next(_unique)}", SAVE),
                ("two values", lambda base: [f"https://hooks{next(_unique)}.example.com/a", "garbage"], SAVE)]
        return out


class Ctx:
    """What a form test works with: the app, a signed-in client and the records it set up."""

    def __init__(self, app, client, auth, make):
        self.app, self.client, self.auth, self.make = app, client, auth, make
        self.email = self.ref = self.entry_id = self.user_id = None

    def incident(self):
        with self.app.app_context():
            incident = get_incident(session=db.session, reference=self.ref)
            state = {"version": incident.version, "status": incident.status.value,
                     "title": incident.title, "severity": incident.severity.value,
                     "declared_at": incident.declared_at.astimezone(UTC).strftime(FORM_TIME)}
            db.session.remove()
            return state

    def latest_revision(self):
        with self.app.app_context():
            revision = db.session.scalar(
                select(func.max(TimelineEntry.revision)).where(
                    (TimelineEntry.id == self.entry_id) | (TimelineEntry.original_id == self.entry_id)))
            occurred = db.session.get(TimelineEntry, self.entry_id).occurred_at
            db.session.remove()
            return revision, occurred.astimezone(UTC).strftime(FORM_TIME)


@dataclass
class Form:
    role: str | None
    setup: Callable[[Ctx], None]
    url: Callable[[Ctx], str]
    baseline: Callable[[Ctx], dict]
    fields: dict[str, Any]
    hidden: tuple[str, ...] = ()
    # Fields of the form checked through another entry of the table, or standing in for one listed.
    elsewhere: tuple[str, ...] = ()


def _signed_in(role):
    def setup(ctx: Ctx):
        ctx.email = ctx.auth.as_role(role)
    return setup


def _with_incident(ctx: Ctx):
    ctx.email = ctx.auth.as_role("responder")
    ctx.ref = ctx.make.incident(by=ctx.email, title="Photos missing after upgrade")


def _with_entry(ctx: Ctx):
    _with_incident(ctx)
    ctx.entry_id = ctx.make.entry(ctx.ref, body="Thumbnails gone for 3,000 albums", by=ctx.email)


def _with_target_user(ctx: Ctx):
    ctx.email = ctx.auth.as_role("admin")
    ctx.user_id = ctx.make.user_id(ctx.make.user(role="viewer", name="Target Person"))


def _with_impact(ctx: Ctx):
    ctx.email = ctx.auth.as_role("responder")
    ctx.ref = ctx.make.incident(by=ctx.email, title="Contacts gone", data_categories=["contacts"])
    ctx.make.impact(ctx.ref, by=ctx.email, affected=900, categories={"contacts": (4000, 0, 0)})


def _with_workstream(ctx: Ctx):
    _with_impact(ctx)
    ctx.ws_id = ctx.make.workstream(ctx.ref, by=ctx.email, target=1000, category="contacts")


def _with_maintenance(ctx: Ctx):
    from datetime import timedelta

    from incidents.maintenance import service as maintenance

    ctx.email = ctx.auth.as_role("responder")
    with ctx.app.app_context():
        planned = maintenance.schedule(
            session=db.session, actor=db.session.scalar(select(User).where(User.email == ctx.email)),
            title="Photo storage upgrade", body="Uploads pause for an hour.",
            scheduled_for=datetime.now(UTC) + timedelta(days=2),
            scheduled_until=datetime.now(UTC) + timedelta(days=2, hours=1))
        db.session.commit()
        ctx.maintenance_id = planned.id
        db.session.remove()


def _maintenance_window() -> dict:
    from datetime import timedelta

    start = datetime.now(UTC) + timedelta(days=3)
    return {"scheduled_for": start.strftime(FORM_TIME),
            "scheduled_until": (start + timedelta(hours=2)).strftime(FORM_TIME)}


def _maintenance_plan_baseline(ctx: Ctx) -> dict:
    with ctx.app.app_context():
        version = db.session.get(Maintenance, ctx.maintenance_id).version
        db.session.remove()
    return {"version": str(version), "_number": str(version), "title": f"Storage upgrade {next(_unique)}",
            "auto_start": "y", "auto_complete": "y", **_maintenance_window()}


def _maintenance_fields() -> dict:
    return {"title": Text(max=200, one_line=True), "scheduled_for": When(required=True),
            "scheduled_until": When(required=True), "auto_start": Flag(), "auto_complete": Flag()}


def _impact_baseline(ctx: Ctx) -> dict:
    with ctx.app.app_context():
        latest = db.session.scalar(select(ImpactUpdate.id)  # latest by when true, as the form does
                                   .order_by(ImpactUpdate.as_of.desc(), ImpactUpdate.id.desc()).limit(1))
        db.session.remove()
    return {"based_on": str(latest), "_number": str(latest), "customers_affected": "1000",
            "customers_restored": "100", "customers_lost": "0", "customers_notified": "200",
            "contacts-affected": "5000", "contacts-recovered": "100", "contacts-unrecoverable": "0",
            "note": "", "as_of": ""}


def _workstream_baseline(ctx: Ctx) -> dict:
    return {"name": f"Restore contacts from tape {next(_unique)}", "owner": str(ctx.make.user_id(ctx.email)),
            "category": "contacts", "target": "1000", "unit": "records", "status": "in_progress",
            "eta": "", "source": "tape", "evidence": ""}


def _workstream_version(ctx: Ctx) -> str:
    with ctx.app.app_context():
        version = db.session.get(Workstream, ctx.ws_id).version
        db.session.remove()
    return str(version)


# The edit incident form's fields come from their declaration (incidents/incident/fields.py): a new
# field is fed its kind's bad values from the day it is declared. The overrides are what one field
# accepts beyond its kind.
EDIT_INCIDENT_KINDS = {
    "text": lambda spec: Text(max=200, one_line=True, required=bool(spec.required)),
    "markdown": lambda spec: Text(max=20_000, required=bool(spec.required)),
    "severity": lambda spec: Choice(extra_bad=["sev1", "SEV0"]),
    "categories": lambda spec: Categories(),
    "flag": lambda spec: Flag(),
    "person": lambda spec: Choice(extra_bad=OWNER_BAD, blank_ok=True),
    "moment": lambda spec: When(required=bool(spec.required)),
    "minutes": lambda spec: Count(blank=SAVE, extra_bad=[str(10**7 + 1)]),
}
EDIT_INCIDENT_OVERRIDES = {
    "declared_at": When(required=True, ok=[("with seconds", "2009-10-02T04:40:30")]),
    # Before the declared time is refused (see test_incidents); later ones are fine.
    "resolved_at": When(ok=[("with seconds", "2199-01-01T00:00:30")]),
    # Backup and restore moments have happened, or they are not facts yet.
    "last_good_backup_at": When(future=REJECT),
    "restore_verified_at": When(future=REJECT),
}


def _edit_incident_fields() -> dict:
    return {spec.name: EDIT_INCIDENT_OVERRIDES.get(spec.name) or EDIT_INCIDENT_KINDS[spec.kind](spec)
            for spec in FIELDS}


def _edit_baseline(ctx: Ctx) -> dict:
    now = ctx.incident()
    return {"version": str(now["version"]), "_number": str(now["version"]),
            "title": f"Contacts and photos missing {next(_unique)}", "severity": now["severity"],
            "summary": "", "data_categories": ["contacts"], "commander": "0", "comms_lead": "0",
            "executive": "0", "declared_at": now["declared_at"]}


def _status_baseline(ctx: Ctx) -> dict:
    now = ctx.incident()
    # Alternate, so every accepted post is a real transition.
    target = "identified" if now["status"] == "investigating" else "investigating"
    return {"version": str(now["version"]), "_number": str(now["version"]), "status": target,
            "note": "Cause found"}


def _correction_baseline(ctx: Ctx) -> dict:
    revision, occurred = ctx.latest_revision()
    return {"revision": str(revision), "_number": str(revision), "body": f"Corrected text {next(_unique)}",
            "kind": "note", "visibility": "internal", "occurred_at": occurred, "reason": "Wrong count"}


def _with_postmortem(ctx: Ctx):
    _with_incident(ctx)
    ctx.reviewer = ctx.make.user(role="responder", name="Reviewing Person")
    ctx.viewer = ctx.make.user(role="viewer", name="Reading Person")
    ctx.make.postmortem(ctx.ref, by=ctx.email, reviewers=[ctx.email])


def _postmortem_pool(state: str, size: int):
    """Setup for a workflow step each accepted post uses up: `size` incidents whose postmortem
    waits for the step; the form posts to the first one still waiting."""
    def setup(ctx: Ctx):
        ctx.email = ctx.auth.as_role("responder")
        author = ctx.make.user(role="responder")  # reviewers approve what someone else wrote
        ctx.pool = []
        for n in range(size):
            ref = ctx.make.incident(by=author, title=f"Waiting for review {n}")
            ctx.make.postmortem(ref, by=author, reviewers=[ctx.email], state=state)
            ctx.pool.append(ref)
        ctx.pool_state = state
    return setup


def _waiting(ctx: Ctx) -> tuple[str, int]:
    """The first incident of the pool whose postmortem still waits, and the postmortem's version."""
    with ctx.app.app_context():
        rows = dict(db.session.execute(
            select(Incident.reference, Postmortem.version).join(Postmortem, Postmortem.incident_id == Incident.id)
            .where(Incident.reference.in_(ctx.pool), Postmortem.status == ctx.pool_state)).all())
        db.session.remove()
    ref = next(r for r in ctx.pool if r in rows)
    return ref, rows[ref]


def _postmortem_baseline(ctx: Ctx) -> dict:
    with ctx.app.app_context():
        version = db.session.scalar(select(Postmortem.version).join(Incident).where(Incident.reference == ctx.ref))
        db.session.remove()
    return {"version": str(version), "_number": str(version), "summary": f"Contacts lost {next(_unique)}",
            "lessons": "Every server needs an owner."}


def _with_action_item(ctx: Ctx):
    _with_incident(ctx)
    ctx.item_id = ctx.make.action_item(ctx.ref, by=ctx.email)


def _action_baseline(ctx: Ctx) -> dict:
    return {"title": f"Test the restore {next(_unique)}", "kind": "prevent", "owner": str(ctx.make.user_id(ctx.email)),
            "due_on": "2199-01-01", "priority": "high", "tracker_url": ""}


def _item_state(ctx: Ctx) -> tuple[str, str]:
    with ctx.app.app_context():
        item = db.session.get(ActionItem, ctx.item_id)
        state = str(item.version), item.status.value
        db.session.remove()
    return state


def _action_status_baseline(ctx: Ctx) -> dict:
    version, status = _item_state(ctx)
    # Alternate, so every accepted post is a real change.
    return {"version": version, "_number": version, "status": "in_progress" if status == "open" else "open",
            "reason": ""}


def _action_pool(size: int):
    """Setup for dropping items (won't do), which each accepted post uses up: `size` open items;
    the form posts to the first one still open."""
    def setup(ctx: Ctx):
        _with_incident(ctx)
        ctx.pool = [ctx.make.action_item(ctx.ref, by=ctx.email) for _n in range(size)]
    return setup


def _wont_do_baseline(ctx: Ctx) -> dict:
    with ctx.app.app_context():
        item = db.session.scalar(select(ActionItem).where(ActionItem.id.in_(ctx.pool),
                                                          ActionItem.status != ActionStatus.wont_do)
                                 .order_by(ActionItem.id).limit(1))
        ctx.item_id, version = item.id, str(item.version)
        db.session.remove()
    return {"version": version, "_number": version, "status": "wont_do",
            "reason": f"The new backup policy covers it ({next(_unique)})."}


def _with_published_incident(ctx: Ctx):
    from incidents.status.service import publish_incident

    _with_incident(ctx)
    with ctx.app.app_context():
        publish_incident(session=db.session, actor=db.session.scalar(select(User).where(User.email == ctx.email)),
                         incident=get_incident(session=db.session, reference=ctx.ref),
                         public_title="Contacts sync problems", impact="major", status="investigating",
                         body="We are looking into missing contacts.", components={})
        db.session.commit()
        db.session.remove()


def _with_notice(ctx: Ctx):
    _with_incident(ctx)  # the signed-in responder declared it, so is its commander and may approve
    ctx.notice_id = ctx.make.notice(ctx.ref, by=ctx.email)


def _notice_baseline(ctx: Ctx) -> dict:
    with ctx.app.app_context():
        latest = str(db.session.get(Notice, ctx.notice_id).latest.number)
        db.session.remove()
    return {"version": latest, "_number": latest, "subject": "Your contacts: what happened",
            "body": f"## What happened\n\nWe lost and restored contacts ({next(_unique)})."}


def _with_approved_notice(ctx: Ctx):
    from incidents.notices import service as notices

    _with_incident(ctx)
    # Approval takes a second person: a comms lead named before the version is written approves it.
    comms_lead = ctx.approver = ctx.make.user(role="responder", name="Second Person")
    with ctx.app.app_context():
        get_incident(session=db.session, reference=ctx.ref).comms_lead_id = ctx.make.user_id(comms_lead)
        db.session.commit()
    ctx.notice_id = ctx.make.notice(ctx.ref, by=ctx.email)
    with ctx.app.app_context():
        notices.approve(session=db.session, actor=db.session.scalar(select(User).where(User.email == comms_lead)),
                        incident=get_incident(session=db.session, reference=ctx.ref),
                        notice=db.session.get(Notice, ctx.notice_id), number=1)
        db.session.commit()
        db.session.remove()


def _release_baseline(ctx: Ctx) -> dict:
    """Release the approved version by a channel it has not gone out by yet, so each accepted post is
    new; once every channel is used, a new version is written and approved."""
    from incidents.notices import service as notices
    from incidents.notices.models import Channel

    with ctx.app.app_context():
        notice = db.session.get(Notice, ctx.notice_id)
        used = {release.channel for release in notice.approved.releases}
        if len(used) == len(Channel):
            incident = get_incident(session=db.session, reference=ctx.ref)
            latest = notice.latest
            notices.save_version(session=db.session, actor=db.session.scalar(select(User).where(
                User.email == ctx.email)), incident=incident, notice=notice, based_on=latest.number,
                subject=latest.subject, body=f"{latest.body}\n\nRevised ({next(_unique)}).")
            notices.approve(session=db.session, actor=db.session.scalar(select(User).where(
                User.email == ctx.approver)), incident=incident, notice=notice, number=latest.number + 1)
            db.session.commit()
            notice, used = db.session.get(Notice, ctx.notice_id), set()
        number = str(notice.approved.number)
        db.session.remove()
    channel = next(c.value for c in Channel if c not in used)
    return {"version": number, "_number": number, "channel": channel}


# Regimes whose rules need no count: choosing them all gives a pool of pending obligations.
POOL_REGIMES = ["gdpr", "uk-gdpr", "nis2", "dora", "ca-pipeda", "us-ca", "us-ny", "us-co", "us-fl", "us-vt",
                "us-wa", "hipaa", "sec", "au-ndb", "sg-pdpa"]


def _with_obligations(ctx: Ctx):
    """An incident aware an hour ago with every regime chosen: some twenty pending obligations, each
    used up by one accepted filing or not-required post."""
    from datetime import datetime, timedelta

    from flask import current_app

    from incidents.obligations import service as obligations

    _with_incident(ctx)
    with ctx.app.app_context():
        incident = get_incident(session=db.session, reference=ctx.ref)
        incident.aware_at = datetime.now(UTC) - timedelta(hours=1)
        obligations.choose_regimes(session=db.session, actor=db.session.scalar(select(User).where(
            User.email == ctx.email)), incident=incident, rules=current_app.extensions["obligation_rules"],
            regimes=POOL_REGIMES)
        db.session.commit()
        db.session.remove()


CONTRACT_RULE = {"recipient": "customers", "anchor": "aware", "offset_kind": "hours", "offset_amount": "24",
                 "content": "What happened\nWhich data", "note": ""}
CONTRACT_RULE_FIELDS = {
    "title": Text(max=500, one_line=True),
    "recipient": Choice(extra_bad=["Customers", "regulators"]),
    "anchor": Choice(extra_bad=["sent:gdpr-33-authority", "Aware"]),
    "offset_kind": Choice(extra_bad=["days_after_year_end", "weeks"]),
    "offset_amount": Count(extra_bad=["0", "3661"]),
    "content": Text(max=500),  # per line: each item of the checklist
    "note": Text(max=500, required=False),
}


def _with_contract_rule(ctx: Ctx):
    from incidents.obligations import contracts

    ctx.email = ctx.auth.as_role("admin")
    with ctx.app.test_request_context():
        rule = contracts.create_contract_rule(
            session=db.session, actor=db.session.scalar(select(User).where(User.email == ctx.email)),
            fields=contracts.ContractFields(title="Tell enterprise customers", recipient="customers",
                                            anchor="aware", offset_kind="hours", offset_amount=24,
                                            content="What happened"))
        db.session.commit()
        ctx.rule_id = rule.id


def _contract_rule_baseline(ctx: Ctx) -> dict:
    from incidents.obligations.models import ContractRule

    with ctx.app.app_context():
        version = str(db.session.get(ContractRule, ctx.rule_id).version)
        db.session.remove()
    return {**CONTRACT_RULE, "version": version, "_number": version, "title": f"Renamed ({next(_unique)})"}


def _checklist_baseline(ctx: Ctx) -> dict:
    """Tick every item when none is ticked, else none: each accepted post changes the checklist."""
    from flask import current_app

    from incidents.obligations.service import notice_checklist

    with ctx.app.app_context():
        notice = db.session.get(Notice, ctx.notice_id)
        keys = [key for group in notice_checklist(
            session=db.session, incident=get_incident(session=db.session, reference=ctx.ref),
            rules=current_app.extensions["obligation_rules"], audience=notice.audience.value)
                for key, _text in group.items]
        ticked = bool(notice.covered_items)
        db.session.remove()
    return {"covered": [] if ticked else keys}


def _with_approved_notice_and_obligations(ctx: Ctx):
    """An approved customer notice on an incident with pending obligations it can file."""
    from datetime import datetime, timedelta

    from flask import current_app

    from incidents.obligations import service as obligations

    _with_approved_notice(ctx)
    with ctx.app.app_context():
        incident = get_incident(session=db.session, reference=ctx.ref)
        incident.aware_at = datetime.now(UTC) - timedelta(hours=1)
        obligations.choose_regimes(session=db.session, actor=db.session.scalar(select(User).where(
            User.email == ctx.email)), incident=incident, rules=current_app.extensions["obligation_rules"],
            regimes=["gdpr", "us-ca"])
        db.session.commit()
        db.session.remove()


def _pending_obligation(ctx: Ctx) -> int:
    with ctx.app.app_context():
        found = db.session.scalar(select(Obligation.id).join(Incident).where(
            Incident.reference == ctx.ref, Obligation.status == ObligationStatus.pending)
            .order_by(Obligation.id).limit(1))
        db.session.remove()
    return found


def _with_components(ctx: Ctx):
    """Two components on the status page, for an anonymous visitor to subscribe to."""
    from incidents.status import service as status

    with ctx.app.app_context():
        made = [status.create_component(session=db.session, name=name, group_name=group)
                for name, group in (("Contacts sync", "Sync"), ("Web viewer", None))]
        db.session.commit()
        ctx.component_ids = [c.public_id for c in made]
        db.session.remove()


def _subscription(**fields) -> Callable[[Ctx], dict]:
    """A new address each time, so every accepted post subscribes someone."""
    return lambda ctx: {"kind": "email", "email": f"reader{next(_unique)}@example.com", "scope": "all", **fields}


def _regimes_baseline(ctx: Ctx) -> dict:
    """Alternate, so every accepted post is a real change."""
    with ctx.app.app_context():
        chosen = db.session.scalar(select(func.count()).select_from(IncidentRegime))
        db.session.remove()
    return {"regimes": [] if chosen else ["gdpr"]}


FORMS: dict[str, Form] = {
    "declare": Form(
        role="responder", setup=_signed_in("responder"), url=lambda c: "/incidents/new",
        baseline=lambda c: {"title": "Contacts missing after upgrade", "severity": "SEV2",
                            "data_categories": ["contacts"], "summary": ""},
        fields={"title": Text(max=200, one_line=True),
                "severity": Choice(extra_bad=["sev1", "SEV0", "SEV1 "],
                                   ok=[("two values", ["SEV1", "bogus"])]),
                "data_categories": Categories(),
                "personal_data": Flag(),
                "systems": IdSet(),
                "summary": Text(max=20_000, required=False)},
    ),
    # Declaring and publishing at once: the public fields need each other.
    "declare and publish": Form(
        role="responder", setup=_signed_in("responder"), url=lambda c: "/incidents/new",
        baseline=lambda c: {"title": "Contacts missing after upgrade", "severity": "SEV2",
                            "public_title": "Contacts not syncing", "impact": "major",
                            "public_body": f"We are looking into missing contacts ({next(_unique)})."},
        fields={"public_title": Text(max=200, one_line=True),
                "impact": Choice(extra_bad=["Major", "severe"]),
                "public_body": Text(max=5000)},
        elsewhere=("title", "severity", "data_categories", "personal_data", "systems", "summary"),
    ),
    "edit incident": Form(
        role="responder", setup=_with_incident, url=lambda c: f"/incidents/{c.ref}/edit",
        baseline=_edit_baseline, hidden=("version",),
        fields={"version": HiddenNumber(), **_edit_incident_fields()},
    ),
    "status change": Form(
        role="responder", setup=_with_incident, url=lambda c: f"/incidents/{c.ref}/status",
        baseline=_status_baseline, hidden=("version",),
        fields={"version": HiddenNumber(),
                "status": Choice(extra_bad=["Identified", "open"]),
                "note": Text(max=20_000, required=False)},
    ),
    "timeline post": Form(
        role="responder", setup=_with_incident, url=lambda c: f"/incidents/{c.ref}/timeline",
        baseline=lambda c: {"body": f"Restore started {next(_unique)}", "kind": "note",
                            "visibility": "internal", "occurred_at": ""},
        fields={"body": Text(max=20_000),
                "kind": Choice(extra_bad=["status_change", "Note"]),
                "visibility": Choice(extra_bad=["Public", "secret"]),
                "occurred_at": When(future=REJECT)},
    ),
    # The same form used through its longer text box (the one-line box left empty); an empty
    # post is refused beside the one-line box, so blank is not this field's case.
    "timeline post, longer text": Form(
        role="responder", setup=_with_incident, url=lambda c: f"/incidents/{c.ref}/timeline",
        baseline=lambda c: {"body": "", "long_body": f"Restore started {next(_unique)}\n\n- shard 7",
                            "kind": "note", "visibility": "internal", "occurred_at": ""},
        fields={"long_body": AlternativeText(max=20_000, required=False)},
    ),
    "impact update": Form(
        role="responder", setup=_with_impact, url=lambda c: f"/incidents/{c.ref}/impact",
        baseline=_impact_baseline, hidden=("based_on",),
        fields={"based_on": HiddenNumber(),
                "customers_affected": Count(),
                "customers_restored": Count(),
                "customers_lost": Count(),
                "customers_notified": Count(),
                "contacts-affected": Count(),  # blank while the rest of its row is filled
                "contacts-recovered": Count(blank=SAVE),
                "contacts-unrecoverable": Count(blank=SAVE),
                "note": Text(max=20_000, required=False),
                "as_of": When(future=REJECT)},
    ),
    "new workstream": Form(
        role="responder", setup=_with_impact, url=lambda c: f"/incidents/{c.ref}/workstreams/new",
        baseline=_workstream_baseline,
        fields={"name": Text(max=200, one_line=True),
                "owner": Choice(extra_bad=OWNER_BAD),
                "category": Choice(extra_bad=["photos", "Contacts"], blank_ok=True),
                "target": Count(extra_bad=["0"]),
                "unit": Choice(extra_bad=["gb", "Records"]),
                "status": Choice(extra_bad=["Planned", "in progress"]),
                "eta": When(),
                "source": Choice(extra_bad=["Tape"]),
                "evidence": Text(max=20_000, required=False)},
    ),
    "edit workstream": Form(
        role="responder", setup=_with_workstream,
        url=lambda c: f"/incidents/{c.ref}/workstreams/{c.ws_id}/edit",
        baseline=lambda c: {**_workstream_baseline(c), "version": _workstream_version(c),
                            "_number": _workstream_version(c)},
        hidden=("version",),
        fields={"version": HiddenNumber(),
                "name": Text(max=200, one_line=True),
                "owner": Choice(extra_bad=OWNER_BAD),
                "target": Count(extra_bad=["0"]),
                "status": Choice(extra_bad=["Done"]),
                "eta": When(),
                "evidence": Text(max=20_000, required=False)},
    ),
    "progress report": Form(
        role="responder", setup=_with_workstream,
        url=lambda c: f"/incidents/{c.ref}/workstreams/{c.ws_id}/progress",
        baseline=lambda c: {"version": _workstream_version(c), "_number": _workstream_version(c),
                            "done": str(next(_unique) % 1000), "status": "", "note": ""},
        hidden=("version",),
        fields={"version": HiddenNumber(),
                "done": Count(extra_bad=["1001"]),
                "status": Choice(extra_bad=["Done"], blank_ok=True),
                "note": Text(max=20_000, required=False)},
    ),
    "correction": Form(
        role="responder", setup=_with_entry,
        url=lambda c: f"/incidents/{c.ref}/timeline/{c.entry_id}/correct",
        baseline=_correction_baseline, hidden=("revision",),
        fields={"revision": HiddenNumber(),
                "body": Text(max=20_000),
                "kind": Choice(extra_bad=["status_change"]),
                "visibility": Choice(extra_bad=["Public"]),
                "occurred_at": When(required=True, future=REJECT),
                "reason": Text(max=500, one_line=True)},
    ),
    "admin create user": Form(
        role="admin", setup=_signed_in("admin"), url=lambda c: "/admin/users",
        baseline=lambda c: {"email": f"new{next(_unique)}@example.com", "name": "New Person",
                            "role": "responder", "password": "a long enough password"},
        fields={"email": Email(),
                "name": Text(max=120, required=False, one_line=True),
                "role": Choice(extra_bad=["superadmin", "Admin"]),
                "password": Password()},
    ),
    "admin edit user": Form(
        role="admin", setup=_with_target_user, url=lambda c: f"/admin/users/{c.user_id}",
        baseline=lambda c: {"name": f"Renamed Person {next(_unique)}", "role": "responder", "active": "y",
                            "password": ""},
        fields={"name": Text(max=120, one_line=True),
                "role": Choice(extra_bad=["superadmin", "Admin"]),
                "active": Flag(),
                "password": Password(required=False)},
    ),
    "postmortem": Form(
        role="responder", setup=_with_postmortem, url=lambda c: f"/incidents/{c.ref}/postmortem/edit",
        baseline=_postmortem_baseline, hidden=("version",),
        fields={"version": HiddenNumber(),
                # Every section is the same kind of field; one stands for all.
                "summary": Text(max=20_000, required=False),
                "include_full_timeline": Flag()},
        elsewhere=tuple(key for key in SECTION_KEYS if key != "summary"),
    ),
    "postmortem reviewer": Form(
        role="responder", setup=_with_postmortem, url=lambda c: f"/incidents/{c.ref}/postmortem/reviewers",
        baseline=lambda c: {"email": c.reviewer, "_viewer": c.viewer}, fields={"email": ReviewerEmail()},
    ),
    # Each accepted post approves one postmortem of the pool: enough for every text the comment saves.
    "postmortem review": Form(
        role="responder", setup=_postmortem_pool("in_review", 16),
        url=lambda c: f"/incidents/{_waiting(c)[0]}/postmortem/review",
        baseline=lambda c: {"version": str(_waiting(c)[1]), "_number": str(_waiting(c)[1]),
                            "decision": "approve", "comment": ""},
        hidden=("version",),
        fields={"version": HiddenNumber(),
                "decision": Choice(extra_bad=["Approve", "publish"]),
                "comment": Text(max=1000, required=False)},
    ),
    "new action item": Form(
        role="responder", setup=_with_incident, url=lambda c: f"/incidents/{c.ref}/actions/new",
        baseline=_action_baseline,
        fields={"title": Text(max=200, one_line=True),
                "kind": Choice(extra_bad=["Prevent", "fix"]),
                "owner": Choice(extra_bad=OWNER_BAD),
                "due_on": DueDate(),
                "priority": Choice(extra_bad=["High", "urgent"]),
                "tracker_url": Link()},
    ),
    "edit action item": Form(
        role="responder", setup=_with_action_item,
        url=lambda c: f"/incidents/{c.ref}/actions/{c.item_id}/edit",
        baseline=lambda c: {**_action_baseline(c), "version": _item_state(c)[0], "_number": _item_state(c)[0]},
        hidden=("version",),
        # The other fields are the new item's, checked above.
        fields={"version": HiddenNumber(),
                "due_on": DueDate()},
    ),
    "action item status": Form(
        role="responder", setup=_with_action_item,
        url=lambda c: f"/incidents/{c.ref}/actions/{c.item_id}/status",
        baseline=_action_status_baseline, hidden=("version",),
        fields={"version": HiddenNumber(),
                "status": Choice(extra_bad=["Done", "won't do"])},
        # Only a won't-do needs the reason, and it ends the item: checked by the next entry.
        elsewhere=("reason",),
    ),
    # Won't do needs a reason; each accepted post drops one item of the pool.
    "action item won't do": Form(
        role="responder", setup=_action_pool(16),
        url=lambda c: f"/incidents/{c.ref}/actions/{c.item_id}/status",
        baseline=_wont_do_baseline, hidden=("version",),
        fields={"reason": Text(max=2000)},
        elsewhere=("version", "status"),
    ),
    "public update": Form(
        role="responder", setup=_with_published_incident, url=lambda c: f"/incidents/{c.ref}/publish/update",
        baseline=lambda c: {"public_status": "identified", "public_body": f"Restoring contacts ({next(_unique)})."},
        fields={"public_status": Choice(extra_bad=["Identified", "postmortem "]),
                "public_body": Text(max=5000),
                "reopen": Flag()},
    ),
    "schedule maintenance": Form(
        role="responder", setup=_signed_in("responder"), url=lambda c: "/maintenance",
        baseline=lambda c: {"title": "Photo storage upgrade", "body": f"Uploads pause ({next(_unique)}).",
                            "auto_start": "y", "auto_complete": "y", **_maintenance_window()},
        fields={**_maintenance_fields(), "body": Text(max=5000)},
    ),
    "maintenance plan": Form(
        role="responder", setup=_with_maintenance, url=lambda c: f"/maintenance/{c.maintenance_id}/plan",
        baseline=_maintenance_plan_baseline, hidden=("version",),
        fields={"version": HiddenNumber(), **_maintenance_fields()},
    ),
    "maintenance update": Form(
        role="responder", setup=_with_maintenance, url=lambda c: f"/maintenance/{c.maintenance_id}/updates",
        baseline=lambda c: {"status": "scheduled", "body": f"Still on for Tuesday ({next(_unique)})."},
        fields={"status": Choice(extra_bad=["In progress", "cancelled"]), "body": Text(max=5000)},
    ),
    "new notice": Form(
        role="responder", setup=_with_incident, url=lambda c: f"/incidents/{c.ref}/notices/new",
        baseline=lambda c: {"audience": "customers", "subject": "Your contacts: what happened",
                            "body": f"We lost and restored contacts ({next(_unique)})."},
        fields={"audience": Choice(extra_bad=["Customers", "public"]),
                "subject": Text(max=200, one_line=True),
                "body": Text(max=20_000)},
    ),
    "edit notice": Form(
        role="responder", setup=_with_notice, url=lambda c: f"/incidents/{c.ref}/notices/{c.notice_id}/edit",
        baseline=_notice_baseline, hidden=("version",),
        fields={"version": HiddenNumber(),
                "subject": Text(max=200, one_line=True),
                "body": Text(max=20_000)},
    ),
    "release notice": Form(
        role="responder", setup=_with_approved_notice_and_obligations,
        url=lambda c: f"/incidents/{c.ref}/notices/{c.notice_id}/release",
        baseline=_release_baseline, hidden=("version",),
        fields={"version": HiddenNumber(),
                "channel": Choice(extra_bad=["E-mail", "fax"]),
                "file_obligations": IdSet(),
                "reason": Text(max=5000, required=False)},
    ),
    "notice checklist": Form(
        role="responder", setup=_with_approved_notice_and_obligations,
        url=lambda c: f"/incidents/{c.ref}/notices/{c.notice_id}/checklist",
        baseline=_checklist_baseline, fields={"covered": Categories()},
    ),
    "add contract rule": Form(
        role="admin", setup=_signed_in("admin"), url=lambda c: "/admin/obligation-rules",
        baseline=lambda c: {**CONTRACT_RULE, "title": f"Tell enterprise customers ({next(_unique)})"},
        fields=CONTRACT_RULE_FIELDS,
    ),
    "edit contract rule": Form(
        role="admin", setup=_with_contract_rule, url=lambda c: f"/admin/obligation-rules/{c.rule_id}",
        baseline=_contract_rule_baseline, hidden=("version",),
        fields={"version": HiddenNumber()}, elsewhere=tuple(CONTRACT_RULE_FIELDS),
    ),
    "obligation regimes": Form(
        role="responder", setup=_with_incident, url=lambda c: f"/incidents/{c.ref}/obligations/regimes",
        baseline=_regimes_baseline, fields={"regimes": Categories()},
    ),
    "obligation anchor": Form(
        role="responder", setup=_with_incident, url=lambda c: f"/incidents/{c.ref}/obligations/anchors",
        # A new moment each time, so every accepted post changes it.
        baseline=lambda c: {"kind": "discovered",
                            "at": f"2009-10-01T{next(_unique) % 24:02d}:{next(_unique) % 60:02d}"},
        fields={"kind": Choice(extra_bad=["aware", "Discovered", "sent:gdpr-33-authority"]),
                "at": When(required=True, future=REJECT)},
    ),
    "file obligation": Form(
        role="responder", setup=_with_obligations,
        url=lambda c: f"/incidents/{c.ref}/obligations/{_pending_obligation(c)}/file",
        baseline=lambda c: {"filed_at": datetime.now(UTC).strftime(FORM_TIME), "reference": "DPA-2026-1",
                            "notice_version": "0", "reason": ""},
        fields={"filed_at": When(required=True, future=REJECT),
                "reference": Text(max=200, required=False, one_line=True),
                "notice_version": Choice(extra_bad=OWNER_BAD, blank_ok=True),
                "reason": Text(max=5000, required=False),
                "attachment": Upload(max=300_000)},  # the tests' OBLIGATION_ATTACHMENT_MAX (conftest)
    ),
    "obligation not required": Form(
        role="responder", setup=_with_obligations,
        url=lambda c: f"/incidents/{c.ref}/obligations/{_pending_obligation(c)}/not-required",
        baseline=lambda c: {"exemption": "", "explanation": f"The data was encrypted ({next(_unique)})."},
        fields={"exemption": Choice(blank_ok=True), "explanation": Text(max=5000)},
    ),
    # The status site's subscribe form, used anonymously: by e-mail, by webhook, for some components.
    "subscribe by e-mail": Form(
        role=None, setup=_with_components, url=lambda c: "/status/subscribe", baseline=_subscription(),
        fields={"kind": Choice(extra_bad=["Email", "sms", "webhook "]), "email": Email(),
                "scope": Choice(extra_bad=["All", "none"])},
        elsewhere=("url", "components"),
    ),
    "subscribe a webhook": Form(
        role=None, setup=_with_components, url=lambda c: "/status/subscribe",
        baseline=lambda c: {**_subscription()(c), "kind": "webhook",
                            "url": f"https://hooks{next(_unique)}.example.com/status"},
        fields={"url": WebhookUrl()}, elsewhere=("kind", "email", "scope", "components"),
    ),
    "subscribe to some components": Form(
        role=None, setup=_with_components, url=lambda c: "/status/subscribe",
        baseline=lambda c: _subscription(scope="some", components=c.component_ids[:1])(c),
        fields={"components": IdSet()}, elsewhere=("kind", "email", "scope", "url"),
    ),
    # The systems an incident names: one typed on the incident page, several picked from the catalogue.
    "name a system": Form(
        role="responder", setup=_with_incident, url=lambda c: f"/incidents/{c.ref}/systems",
        baseline=lambda c: {"name": _new_system(c)[1]},
        fields={"name": Text(max=120, one_line=True, free=False)},
    ),
    "pick systems": Form(
        role="responder", setup=_with_incident, url=lambda c: f"/incidents/{c.ref}/systems",
        baseline=lambda c: {"systems": [str(_new_system(c)[0])]},
        fields={"systems": IdSet()},
    ),
}


def _new_system(ctx: Ctx) -> tuple[int, str]:
    """A system not named on any incident yet, so every accepted post names one."""
    from incidents.systems import service as systems

    name = f"Storage node {next(_unique)}"
    with ctx.app.app_context():
        system = systems.create_system(session=db.session, actor=None, fields_=systems.SystemFields(name=name))
        db.session.commit()
        made = system.id
        db.session.remove()
    return made, name


def post_form(ctx: Ctx, form: Form, name: str | None = None, value=None) -> tuple[dict, Any]:
    """Post the form's valid baseline with field `name` replaced by `value`."""
    data = form.baseline(ctx)
    if name is not None:
        data[name] = value(data) if callable(value) else value
    data.pop("_number", None)
    data.pop("_viewer", None)
    return data, ctx.client.post(form.url(ctx), data=data)
