"""The ownership audit ("What could lose data next") as a page and a JSON document, and the
backup heartbeat endpoint backup jobs call with their system's token.

The audit is read from each system's kept row, in a few statements whatever the catalogue's size
(see audit_kept.take_audit; tests/test_systems_audit.py pins the count). The heartbeat endpoint
looks up the token, records the report and commits, sharing the commit with the reports arriving
beside it (incidents/group_commit.py), on a bare driver connection (incidents/direct_write.py); no
session, no CSRF, no rate limit (see below).
"""
from __future__ import annotations

from flask import Response, current_app, jsonify, render_template, request, url_for

from incidents.auth.access import role_required
from incidents.auth.models import Role
from incidents.errors import FieldError
from incidents.extensions import csrf, db, limiter
from incidents.group_commit import GroupCommit, NotCommitted
from incidents.systems import audit, audit_kept, heartbeats
from incidents.systems.audit_json import audit_clock, audit_document
from incidents.systems.blueprint import bp
from incidents.templating import row_url

PAGE_SIZE = 50
JSON_PAGE_SIZE, JSON_PAGE_MAX = 50, 500  # the page's 50 by default: a job wanting all asks per_page=500
# Where each problem without an edit-form field is fixed: a form or section of the system's page.
FIX_ANCHORS = {"backup_failing": "backup-reports", "backup_overdue": "backup-reports",
               "restore_failed": "restore-test", "restore_never_tested": "restore-test",
               "restore_test_old": "restore-test", "acquired_unreviewed": "review"}


def fix_links(system_id: int, codes: list[str]) -> list[tuple[audit.Problem, str]]:
    """Each problem of a system with where a person fixes it: the edit form's field, or a form on
    its page (two URLs built per system, however many problems it has: the audit lists 50)."""
    page, edit = row_url("systems.detail", system_id=system_id), row_url("systems.edit", system_id=system_id)
    return [(problem, f"{edit}#{problem.fix_field}" if problem.fix_field else f"{page}#{FIX_ANCHORS[problem.code]}")
            for problem in (audit.BY_CODE[code] for code in codes)]


def _number_arg(name: str, default: int, *, maximum: int) -> int:
    """A positive whole number from the query string (at most `maximum`); anything else: `default`."""
    raw = request.args.get(name, "")
    if raw.isascii() and raw.isdigit() and len(raw) <= 9 and int(raw) > 0:
        return min(int(raw), maximum)
    return default


def _problem_arg() -> str | None:
    """The problem to list; an unknown code lists every flagged system (an old bookmark still works)."""
    code = request.args.get("problem", "")
    return code if code in audit.BY_CODE else None


@bp.route("/systems/audit", endpoint="audit")
@role_required(Role.viewer)
def audit_page():
    """What could lose data next: counts per problem, then the flagged systems, worst first."""
    problem = _problem_arg()
    taken = audit_kept.take_audit(session=db.session, clock=audit_clock(), page=_number_arg("page", 1, maximum=10**6),
                             per_page=PAGE_SIZE, problem=problem)
    return render_template("systems/audit.html", audit=taken, problems=audit.PROBLEMS, by_code=audit.BY_CODE,
                           problem=problem, fix_links=fix_links)


@bp.route("/systems/audit.json", endpoint="audit_json")
@role_required(Role.viewer)
def audit_json():
    """The audit as JSON, paged (`page`, `per_page` up to 500, `problem`): see audit_document."""
    problem = _problem_arg()
    per_page = _number_arg("per_page", JSON_PAGE_SIZE, maximum=JSON_PAGE_MAX)
    taken = audit_kept.take_audit(session=db.session, clock=audit_clock(), page=_number_arg("page", 1, maximum=10**6),
                             per_page=per_page, problem=problem)
    next_url = None
    if taken.page < taken.pages:
        next_url = url_for("systems.audit_json", page=taken.page + 1, per_page=per_page,
                           **({"problem": problem} if problem else {}), _external=True)
    site = request.host_url.rstrip("/")  # + a remembered path: url_for(_external=True) 200 times cost 2 ms
    return jsonify(audit_document(taken, next_url=next_url,
                                  url_of=lambda row: site + row_url("systems.detail", system_id=row.system_id)))


# --- The backup heartbeat ---------------------------------------------------------------------------
# One answer for every token that does not work (missing, malformed, wrong, revoked, or a retired
# system's): the same bytes and headers, so a caller learns nothing about which systems exist.
UNAUTHORIZED_BODY = (b'{"error": "A valid report token is needed: send it as '
                     b'\\"Authorization: Bearer <token>\\"."}\n')
REPORT_FIELDS = ("status", "at", "note")
STATUSES = {"ok": True, "failed": False}


@limiter.request_filter
def _heartbeats_are_not_rate_limited() -> bool:
    """A large estate's cron jobs report in the same minute, often from a few NAT addresses: a
    per-address limit would throttle them, and a per-token one in the default memory:// store
    counts per worker process. A limit buys little here: tokens hold 256 random bits (guessing is
    hopeless) and a refused token costs one indexed look-up. So the limiter skips the endpoint
    before its bookkeeping (see HOT_ENDPOINTS in incidents/incident/views.py for the same trick)."""
    return request.endpoint == "systems.backup_report"


def _unauthorized() -> Response:
    return Response(UNAUTHORIZED_BODY, 401, {"WWW-Authenticate": 'Bearer realm="backup reports"'},
                    mimetype="application/json")


def _bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or any(ch.isspace() for ch in token):
        return None
    return token


def _refused(error: str, field: str) -> tuple[Response, int]:
    return jsonify(error=error, field=field), 422


def _report_fields() -> dict[str, str]:
    """The report's fields from the query string and the body (form-encoded or a JSON object).
    Unknown fields are refused rather than ignored: JSON sent as a form (curl -d without a
    Content-Type) would otherwise record a failure as a success."""
    fields: dict[str, str] = {}
    sources = [request.args.items(multi=True)]
    if request.is_json:
        try:
            body = request.get_json(silent=True)
        except RecursionError:  # nested thousands deep: json gives up with this, not a ValueError
            body = None
        if not isinstance(body, dict):
            raise FieldError("The body is not a JSON object: send {\"status\": \"ok\"} or form fields.", field="body")
        sources.append(body.items())
    else:
        sources.append(request.form.items(multi=True))
    for source in sources:
        for name, value in source:
            if name not in REPORT_FIELDS:
                raise FieldError(f"Unknown field {name[:40]!r}: send status, at and note only.", field=str(name)[:40])
            if name in fields:
                raise FieldError(f"{name} is given twice.", field=name)
            if not isinstance(value, str):
                raise FieldError(f"{name} must be a string.", field=name)
            fields[name] = value
    return fields


@bp.route("/systems/backup-report", methods=["POST"], endpoint="backup_report")
@csrf.exempt  # no browser session is involved: the bearer token is the only credential
def backup_report():
    """A backup job reports one run: `status` ok (the default) or failed, `at` (ISO 8601 with its
    zone; now when left out) and `note`. Answers 201, 401 (token), 422 (a field) or 503 (not
    stored: try again). The token is judged before the fields, so a caller without a working
    token learns nothing else."""
    secret = _bearer_token()
    if secret is None:
        return _unauthorized()
    try:
        sent, refused = _read_report(secret), None
    except FieldError as error:
        sent, refused = heartbeats.Heartbeat(secret, record=False), error
    try:
        holder = _group_commit().run(sent)
    except NotCommitted:
        return Response(b'{"error": "Not stored: try again in a moment."}\n', 503, {"Retry-After": "5"},
                        mimetype="application/json")
    if holder is None:
        return _unauthorized()
    if refused is not None:
        return _refused(str(refused), refused.field or "body")
    return jsonify(recorded=True, system=holder.system_name, ok=sent.ok, at=sent.at.isoformat()), 201


def _read_report(secret: str) -> heartbeats.Heartbeat:
    """The report's fields, checked (its time is now when it gives none), or a FieldError."""
    fields = _report_fields()
    status = fields.get("status", "ok").strip().lower()
    if status not in STATUSES:
        raise FieldError("status is ok or failed.", field="status")
    at = heartbeats.parse_report_time(fields["at"]) if fields.get("at", "").strip() else None
    at, note = heartbeats.check_report(at=at, note=fields.get("note", ""))
    return heartbeats.Heartbeat(secret, ok=STATUSES[status], at=at, note=note)


def _write_heartbeats(sent):
    return heartbeats.record_heartbeats(db.engine, sent, source="http")


def _group_commit() -> GroupCommit:
    """This app's group commit of heartbeats (one per app server process)."""
    found = current_app.extensions.get("systems.backup_reports")
    if found is None:
        found = current_app.extensions.setdefault("systems.backup_reports",
                                                  GroupCommit(write_and_commit=_write_heartbeats))
    return found
