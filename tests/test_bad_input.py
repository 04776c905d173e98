"""Bad input: whatever a person types or a browser sends, the answer is a page, never a 500.

Every form is fed empty, over-long, wrongly typed and hostile values, one field at a time, on
SQLite and on PostgreSQL (see conftest). A refused value must be explained beside its field and
must leave the database as it was; a hostile value that is still valid text (script tags, SQL,
emoji, right-to-left marks) must be kept and shown escaped.
"""
from __future__ import annotations

import io
import logging

import pytest
from sqlalchemy import select

from incidents.extensions import db
from incidents.forms import BaseForm
from incidents.incident.models import Incident
from incidents.incident.service import get_incident
from incidents.timeline.models import TimelineEntry
from tests.factories import Factory
from tests.form_matrix import (
    ANY,
    BIDI,
    BLANK,
    CONTROL,
    CONTROL_CHARS_ERROR,
    FORMS,
    HOSTILE_TEXT,
    HUGE,
    OVERFLOWING_IDS,
    RAW_SCRIPT,
    SAVE,
    Ctx,
    FieldBlocks,
    Form,
    all_errors,
    errors_beside,
    post_form,
    snapshot,
)

FIELD_CASES = [pytest.param(form, name, id=f"{form}-{name}")
               for form, spec in FORMS.items() for name in spec.fields]


@pytest.mark.parametrize("form_name, name", FIELD_CASES)
def test_every_field_refuses_bad_values_beside_the_field_and_never_fails(app, client, auth, make,
                                                                         form_name, name):
    form = FORMS[form_name]
    ctx = Ctx(app, client, auth, make)
    form.setup(ctx)
    for label, value, expect in form.fields[name].values():
        where = f"{form_name}: {name} = {label}"
        before = snapshot(app)
        _data, response = post_form(ctx, form, name, value)
        page = response.get_data(as_text=True)
        assert response.status_code < 500, where
        assert RAW_SCRIPT not in page, f"{where}: unescaped script in the page"
        if expect == SAVE or (expect == ANY and response.status_code == 302):
            assert response.status_code == 302, f"{where}: not saved; errors shown: {all_errors(page)}"
            if expect == SAVE:
                assert snapshot(app) != before, f"{where}: redirected but nothing was saved"
            shown = client.get(response.headers["Location"])
            assert shown.status_code == 200, where
            assert RAW_SCRIPT not in shown.get_data(as_text=True), f"{where}: unescaped script"
            continue
        assert response.status_code in (400, 409, 422), f"{where}: status {response.status_code}"
        errors = errors_beside(page, name, hidden=name in form.hidden)
        assert errors and all(errors), f"{where}: no error beside the field; shown: {all_errors(page)}"
        if label in dict(CONTROL):
            assert CONTROL_CHARS_ERROR in errors, f"{where}: {errors}"
        assert snapshot(app) == before, f"{where}: refused, yet something was saved"

    # The values above were refused for what they are: the form itself still saves.
    before = snapshot(app)
    _data, response = post_form(ctx, form)
    assert response.status_code == 302, all_errors(response.get_data(as_text=True))
    assert snapshot(app) != before


@pytest.mark.parametrize("value", [v for _label, v in HOSTILE_TEXT if isinstance(v, str)])
def test_hostile_text_is_kept_as_typed_and_shown_escaped(app, client, auth, make, value):
    auth.as_role("responder")
    response = client.post("/incidents/new", data={"title": value, "severity": "SEV2"})
    assert response.status_code == 302
    detail = client.get(response.headers["Location"])
    reference = response.headers["Location"].rsplit("/", 1)[-1]
    with app.app_context():
        assert get_incident(session=db.session, reference=reference).title == value.strip()
    page = detail.get_data(as_text=True)
    assert RAW_SCRIPT not in page
    if value.startswith("<script>"):
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    response = client.post(f"/incidents/{reference}/timeline", data={"body": value, "kind": "note",
                                                                    "visibility": "public"})
    assert response.status_code == 302
    assert RAW_SCRIPT not in client.get(f"/incidents/{reference}").get_data(as_text=True)
    with app.app_context():
        bodies = db.session.scalars(select(TimelineEntry.body).join(Incident)
                                    .where(Incident.reference == reference)).all()
    assert value.strip() in bodies


@pytest.mark.parametrize("body", [{"title": 5, "severity": "SEV2"}, {"title": ["a", {"b": 1}], "severity": None},
                                  {"title": {"$gt": ""}, "severity": True}, [1, 2, 3], "just a string"])
def test_a_json_body_instead_of_a_form_is_refused_beside_the_fields(app, client, auth, body):
    auth.as_role("responder")
    before = snapshot(app)
    response = client.post("/incidents/new", json=body)
    assert response.status_code == 422
    assert errors_beside(response.get_data(as_text=True), "title")
    assert snapshot(app) == before


def test_a_file_sent_in_place_of_a_text_field_counts_as_missing(app, client, auth):
    auth.as_role("responder")
    before = snapshot(app)
    response = client.post("/incidents/new", data={"title": (io.BytesIO(b"<script>alert(1)</script>"), "t.txt"),
                                                   "severity": "SEV2"})
    assert response.status_code == 422
    assert "Give the incident a title." in errors_beside(response.get_data(as_text=True), "title")
    assert snapshot(app) == before


@pytest.mark.parametrize("size, status", [(1_500_000, 422), (3_000_000, 413)])
def test_huge_posts_are_refused_with_a_page(app, client, auth, size, status):
    """Under the request limit the field says it is too long; over it, a friendly 413 page."""
    auth.as_role("responder")
    before = snapshot(app)
    response = client.post("/incidents/new", data={"title": "Big", "severity": "SEV2", "summary": "x" * size})
    page = response.get_data(as_text=True)
    assert response.status_code == status
    if status == 413:
        assert "That was too large" in page
    else:
        assert errors_beside(page, "summary")
    assert snapshot(app) == before
    assert client.get("/").status_code == 200  # still signed in, the site still answers


def test_text_that_is_not_utf8_is_refused_or_kept_never_a_500(app, client, auth):
    auth.as_role("responder")
    response = client.post("/incidents/new", data=b"title=%FF%FE%C0%AF&severity=SEV2",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code in (302, 422)


# --- signing in --------------------------------------------------------------------------------

LOGIN_FORM_ERRORS = {
    "email": [*BLANK, *CONTROL, *HUGE, ("one over the limit", "x" * 255)],
    "password": [*BLANK, *CONTROL, ("one over the limit", "x" * 1025)],
}


@pytest.mark.parametrize("name", ["email", "password"])
def test_login_refuses_bad_values_beside_the_field(app, client, make, name):
    email = make.user(role="responder")
    for label, value in LOGIN_FORM_ERRORS[name]:
        before = snapshot(app)
        data = {"email": email, "password": Factory.PASSWORD, name: value}
        response = client.post("/login", data=data)
        page = response.get_data(as_text=True)
        assert response.status_code in (200, 401), f"{name} = {label}"
        assert errors_beside(page, name), f"{name} = {label}: {all_errors(page)}"
        assert snapshot(app) == before
    assert client.get("/").status_code == 302  # still signed out


@pytest.mark.parametrize("name", ["email", "password", "remember"])
def test_login_with_hostile_values_fails_politely(app, client, make, name):
    email = make.user(role="responder")
    values = HOSTILE_TEXT + [("SQL always-true", "' OR '1'='1"), ("wildcard", "%"),
                             ("emoji up to the limit", "🔥" * 254)]
    for label, value in values:
        before = snapshot(app)
        data = {"email": email, "password": "wrong password", name: value}
        response = client.post("/login", data=data)
        page = response.get_data(as_text=True)
        assert response.status_code in (200, 401), f"{name} = {label}"
        assert RAW_SCRIPT not in page
        assert errors_beside(page, "password") or errors_beside(page, "email"), f"{name} = {label}"
        assert snapshot(app) == before
    assert client.get("/").status_code == 302  # none of that signed anyone in
    assert client.post("/login", data={"email": email, "password": Factory.PASSWORD}).status_code == 302


def test_login_next_parameter_with_hostile_values_stays_on_site(app, client, make):
    email = make.user(role="responder")
    for target in ["//evil.example", "/\\evil.example", "https://evil.example", "/%00", "\x00",
                   "javascript:alert(1)", "/" + "x" * 10_000]:
        response = client.post("/login", query_string={"next": target},
                               data={"email": email, "password": Factory.PASSWORD})
        assert response.status_code == 302
        location = response.headers["Location"]
        assert "evil.example" not in location and "javascript" not in location
        client.post("/logout")


# --- unknown and out-of-range ids ---------------------------------------------------------------

def _is_friendly_404(response) -> bool:
    page = response.get_data(as_text=True)
    return response.status_code == 404 and "does not exist" in page and "Traceback" not in page


@pytest.mark.parametrize("reference", ["INC-1999-0001", "inc-2099-9999", "nope", "x" * 5000,
                                       "%E2%80%AE", "%F0%9F%94%A5", "'%20OR%201=1", "INC-2026-0001%20"])
def test_unknown_incident_reference_is_a_404_page(app, client, auth, make, reference):
    auth.as_role("admin")
    make.incident(title="A real one")  # the database is not empty
    before = snapshot(app)
    assert _is_friendly_404(client.get(f"/incidents/{reference}"))
    assert _is_friendly_404(client.get(f"/incidents/{reference}/edit"))
    assert _is_friendly_404(client.post(f"/incidents/{reference}/edit", data={"title": "x"}))
    assert _is_friendly_404(client.post(f"/incidents/{reference}/status",
                                        data={"version": "1", "status": "identified"}))
    assert _is_friendly_404(client.post(f"/incidents/{reference}/timeline", data={"body": "x"}))
    assert _is_friendly_404(client.get(f"/incidents/{reference}/timeline/1/correct"))
    assert snapshot(app) == before


def test_reference_with_a_nul_byte_is_refused_not_a_500(app, client, auth):
    auth.as_role("responder")
    for path in ["/incidents/%00", "/incidents/INC-2009-0001%00", "/incidents/%00/edit"]:
        assert client.get(path).status_code in (400, 404), path


def test_unknown_timeline_entry_is_a_404_page(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    before = snapshot(app)
    for entry_id in [0, 999_999, *OVERFLOWING_IDS]:
        url = f"/incidents/{ref}/timeline/{entry_id}/correct"
        get, post = client.get(url), client.post(url, data={"revision": "1", "body": "x", "kind": "note",
                                                            "visibility": "internal", "reason": "x",
                                                            "occurred_at": "2009-10-02T04:40"})
        for response in (get, post):
            assert response.status_code in (400, 404), f"{entry_id}: {response.status_code}"
            assert "Traceback" not in response.get_data(as_text=True)
        if entry_id < 2**31:
            assert _is_friendly_404(get)
    for entry_id in ["-1", "abc", "1.5", "%00"]:
        assert _is_friendly_404(client.get(f"/incidents/{ref}/timeline/{entry_id}/correct"))
    assert snapshot(app) == before


def test_entry_of_another_incident_is_a_404_page(app, client, auth, make):
    email = auth.as_role("responder")
    mine, other = make.incident(by=email, title="Mine"), make.incident(by=email, title="Other")
    entry_id = make.entry(other, body="Belongs to the other incident", by=email)
    assert client.get(f"/incidents/{other}/timeline/{entry_id}/correct").status_code == 200
    before = snapshot(app)
    url = f"/incidents/{mine}/timeline/{entry_id}/correct"
    assert _is_friendly_404(client.get(url))
    assert _is_friendly_404(client.post(url, data={"revision": "1", "body": "hijack", "kind": "note",
                                                   "visibility": "public", "reason": "x",
                                                   "occurred_at": "2009-10-02T04:40"}))
    assert snapshot(app) == before


def test_unknown_user_id_is_a_404_page(app, client, auth, make):
    auth.as_role("admin")
    existing = make.user_id(make.user(role="viewer"))
    assert client.get(f"/admin/users/{existing}").status_code == 200
    before = snapshot(app)
    for user_id in [0, 999_999, *OVERFLOWING_IDS]:
        url = f"/admin/users/{user_id}"
        get = client.get(url)
        post = client.post(url, data={"name": "Hijack", "role": "admin", "active": "y"})
        for response in (get, post):
            assert response.status_code in (400, 404), f"{user_id}: {response.status_code}"
            assert "Traceback" not in response.get_data(as_text=True)
        if user_id < 2**31:
            assert _is_friendly_404(get)
    for user_id in ["-1", "abc", "%00"]:
        assert _is_friendly_404(client.get(f"/admin/users/{user_id}"))
    assert snapshot(app) == before


# --- the list page's query string ---------------------------------------------------------------

@pytest.mark.parametrize("query", [
    "status=bogus&severity=x&owner=abc&q=%00",
    "status=%00&severity=%00&owner=%00&q=%00%01%1b",
    "owner=99999999999999999999", "owner=2147483648", "owner=-1", "owner=1.5", "owner=%C2%B2",
    "owner=%D9%A3", "owner=" + "9" * 5000,
    "severity=sev1", "severity=SEV1%00", "status=open&status=closed", "status=" + "x" * 10_000,
    "q=" + "x" * 100_000, "q=%FF%FE", "q=%27%20OR%201%3D1%20--", "q=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "q=%E2%80%AE%F0%9F%94%A5", "before=0001-01-01T00:00:00%2B05:00~1",
])
def test_list_page_survives_any_query_string(app, client, auth, make, query):
    email = auth.as_role("responder")
    make.incident(by=email, title="Contacts gone")
    response = client.get(f"/?{query}")
    assert response.status_code == 200, query[:80]
    page = response.get_data(as_text=True)
    assert RAW_SCRIPT not in page


def test_list_page_filters_fall_back_to_the_open_list(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email, title="Contacts gone")
    page = client.get("/?status=bogus&severity=x&owner=abc&q=%00").get_data(as_text=True)
    assert ref in page  # unknown filters are ignored, not an empty or broken list
    page = client.get("/?q=%25").get_data(as_text=True)
    assert ref not in page and "No incidents match" in page  # % is searched for, not a wildcard
    # (Not "1=1": "1" begins the numbers in generated names, which a prefix search rightly finds.)
    page = client.get("/?q=%27%20OR%20%27x%27%3D%27x%27%20--").get_data(as_text=True)
    assert ref not in page and "No incidents match" in page


@pytest.mark.parametrize("cursor", ["0001-01-01T00:00:00+05:00~1", "9999-12-31T23:59:59-05:00~1",
                                    "2009-10-02T04:40:00+00:00~99999999999999999999", "~", "%00~%00",
                                    "x" * 10_000])
def test_incident_page_survives_a_hostile_timeline_cursor(app, client, auth, make, cursor):
    email = auth.as_role("responder")
    ref = make.incident(by=email, title="Contacts gone")
    response = client.get(f"/incidents/{ref}", query_string={"before": cursor})
    assert response.status_code in (200, 400), cursor


# --- the audit log's filters (a GET form) ---------------------------------------------------------

AUDIT_FILTERS = ["actor", "action", "entity_type", "incident", "entity_id", "since", "until", "before"]


def test_audit_log_filters_survive_any_value(app, client, auth, make):
    """Every filter gets every hostile value: the page answers (422 with the reason beside the
    field, or 200 when the value is simply a search that finds nothing), never a 500."""
    email = auth.as_role("admin")
    make.incident(by=email, title="Contacts gone")
    values = [v for _label, v in CONTROL + HUGE + HOSTILE_TEXT + BIDI if isinstance(v, str)] + [
        "-1", "0", "99999999999999999999", "2147483648", "²", "9999-12-31T23:59", "0001-01-01T00:00",
        "INC-2026-0001%00", "%FF%FE"]
    for name in AUDIT_FILTERS:
        for value in values:
            response = client.get("/admin/audit", query_string={name: value})
            page = response.get_data(as_text=True)
            assert response.status_code in (200, 422), f"{name} = {value[:40]!r}: {response.status_code}"
            assert RAW_SCRIPT not in page, f"{name} = {value[:40]!r}: unescaped script"
            if response.status_code == 422:
                assert FieldBlocks(page).block_for(name)["has_error"], f"{name} = {value[:40]!r}"


# --- server errors ------------------------------------------------------------------------------

def test_server_error_is_a_friendly_page_and_is_logged(app, client, auth, caplog):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.route("/test-only/boom")
    def boom():
        raise RuntimeError("kaboom: secret internal detail")

    auth.as_role("responder")
    with caplog.at_level(logging.ERROR):
        response = client.get("/test-only/boom")
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Something went wrong on our side" in page
    assert 'class="error-page"' in page  # the site's error template, with its navigation
    assert "Traceback" not in page and "kaboom" not in page and "RuntimeError" not in page
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]
    assert logged, "the server error was not logged"
    assert any(isinstance(r.exc_info[1], RuntimeError) and "/test-only/boom" in r.getMessage()
               for r in logged)
    # The app keeps working after the error.
    assert client.get("/").status_code == 200


# --- every field of every form is in the table -----------------------------------------------

# Fields no person types: CSRF and the idempotency key are the framework's (tested in
# test_idempotency.py and by the CSRF-on browser tests).
MACHINE_FIELDS = {"csrf_token", "idempotency_key"}


def form_behind(ctx: Ctx, form: Form, monkeypatch) -> BaseForm:
    """The form object the view behind `form`'s URL builds for a valid post of the baseline."""
    built = []
    real_init = BaseForm.__init__

    def recording(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        built.append(self)

    with monkeypatch.context() as patch:
        patch.setattr(BaseForm, "__init__", recording)
        _data, response = post_form(ctx, form)
    assert response.status_code == 302, all_errors(response.get_data(as_text=True))
    assert len({type(f) for f in built}) == 1, [type(f).__name__ for f in built]
    return built[0]


def test_every_field_of_every_form_is_in_the_table(app, client, auth, make, monkeypatch):
    """A field added to a form must join the table (or be named in an entry's `elsewhere`), or its
    bad values would go untested. An entry covers the fields of its form and the ones a subclass
    inherits unchanged (the edit form of an action item is the new item's form plus a version)."""
    listed: dict[type, set[str]] = {}
    fields_of: dict[str, tuple[type, set[str]]] = {}
    for name, form in FORMS.items():
        ctx = Ctx(app, client, auth, make)
        form.setup(ctx)
        built = form_behind(ctx, form, monkeypatch)
        fields_of[name] = type(built), {field.name for field in built} - MACHINE_FIELDS
        listed.setdefault(type(built), set()).update(form.fields, form.elsewhere)
        auth.logout()

    def covered(cls: type, field: str) -> bool:
        return any(field in names and (base is cls or inherits(cls, base, field)) for base, names in listed.items())

    def inherits(cls: type, base: type, field: str) -> bool:
        return issubclass(cls, base) and hasattr(base, field) and getattr(cls, field) is getattr(base, field)

    missing = {name: sorted(f for f in fields if not covered(cls, f)) for name, (cls, fields) in fields_of.items()}
    assert not {name: fields for name, fields in missing.items() if fields}, "fields no entry of FORMS lists"
