"""Setting intakes up: made (the token shown once), given a new token, revoked, listed, and found
by the bearer token of a delivery. Services in the project's shape: keyword-only, the caller commits."""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from incidents.auth.models import Role, User
from incidents.credentials import hash_secret, hint_of, new_secret, plausible
from incidents.db import UTCDateTime, utcnow
from incidents.errors import FieldError, check_version
from incidents.incident.enums import Severity
from incidents.intake.models import Intake, IntakeKind
from incidents.intake.reading import DEFAULT_SEVERITY_MAP

TOKEN_PREFIX = "dli_"  # "data-loss intake": never taken for a personal access token (dlt_), nor the reverse
NAME_LIMIT = 120
LAST_USED_PRECISION = timedelta(minutes=1)
_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")  # Prometheus label and annotation names
_HEADER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,99}")
HMAC_MIN, HMAC_MAX = 16, 200


@dataclass
class IntakeFields:
    """What an admin chooses for an intake (the form and the CLI both fill it)."""

    name: str
    kind: str
    account: User | None
    severity_label: str = "severity"
    severity_map: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SEVERITY_MAP))
    default_severity: str = Severity.SEV3.value
    title_annotation: str = "summary"
    description_annotation: str = "description"
    hmac_secret: str = ""
    hmac_timestamp_header: str = ""


def parse_severity_map(text: str) -> dict[str, str]:
    """`critical=SEV1` lines (or `critical: SEV1`) as {label value: severity}; a FieldError names
    the first line it cannot read."""
    mapping: dict[str, str] = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        value, sep, severity = line.partition("=") if "=" in line else line.partition(":")
        value, severity = value.strip().lower(), severity.strip().upper()
        if not sep or not value or len(value) > 100 or severity not in Severity._value2member_map_:
            raise FieldError(f"Line {number}: write a label value, “=” and SEV1 to SEV4 (e.g. critical=SEV1).",
                             field="severity_map")
        mapping[value] = severity
    return mapping


def map_text(mapping: dict[str, str]) -> str:
    return "\n".join(f"{value}={severity}" for value, severity in mapping.items())


def _checked(session: Session, fields: IntakeFields, *, renaming: Intake | None = None) -> dict:
    name = " ".join((fields.name or "").split())
    if not name or len(name) > NAME_LIMIT:
        raise FieldError(f"Name the intake after what sends to it, in at most {NAME_LIMIT} characters "
                         "(e.g. “Prometheus production”).", field="name")
    same_name = select(Intake.id).where(func.lower(Intake.name) == name.lower())
    if renaming is not None:
        same_name = same_name.where(Intake.id != renaming.id)
    if session.scalar(same_name) is not None:
        raise FieldError(f"There is already an intake named “{name}”: choose another name.", field="name")
    if fields.kind not in IntakeKind._value2member_map_:
        raise FieldError("Choose Alertmanager, Grafana or generic.", field="kind")
    account = fields.account
    if account is None or not account.active or not account.can(Role.responder):
        raise FieldError("Incidents are declared as an active responder or admin: choose one.", field="account")
    for name_field in ("severity_label", "title_annotation", "description_annotation"):
        if not _LABEL_NAME.fullmatch(getattr(fields, name_field) or ""):
            raise FieldError("A label or annotation name: letters, digits and _ (e.g. severity).", field=name_field)
    if fields.default_severity not in Severity._value2member_map_:
        raise FieldError("Choose SEV1 to SEV4.", field="default_severity")
    secret, header = (fields.hmac_secret or "").strip(), (fields.hmac_timestamp_header or "").strip()
    if (secret or header) and fields.kind != IntakeKind.grafana.value:
        raise FieldError("Only Grafana signs its deliveries: leave the HMAC fields empty.", field="hmac_secret")
    if secret and not (HMAC_MIN <= len(secret) <= HMAC_MAX and secret.isprintable()):
        raise FieldError(f"An HMAC secret of {HMAC_MIN} to {HMAC_MAX} printable characters.", field="hmac_secret")
    if header and (not secret or not _HEADER_NAME.fullmatch(header)):
        raise FieldError("A header name (e.g. X-Grafana-Alerting-Timestamp), with an HMAC secret.",
                         field="hmac_timestamp_header")
    return {"name": name, "kind": IntakeKind(fields.kind), "account": account,
            "severity_label": fields.severity_label, "severity_map": dict(fields.severity_map),
            "default_severity": Severity(fields.default_severity), "title_annotation": fields.title_annotation,
            "description_annotation": fields.description_annotation, "hmac_secret": secret or None,
            "hmac_timestamp_header": header or None}


def create_intake(*, session: Session, actor: User | None, fields: IntakeFields) -> tuple[Intake, str]:
    """A new intake: the row, and its token to show once (only the hash is kept)."""
    secret = new_secret(TOKEN_PREFIX)
    intake = Intake(**_checked(session, fields), token_hash=hash_secret(secret), hint=hint_of(secret, TOKEN_PREFIX),
                    created_by=actor, created_at=utcnow())
    try:
        with session.begin_nested():  # two admins choosing one name at once: the second is told
            session.add(intake)
    except IntegrityError:
        raise FieldError(f"There is already an intake named “{intake.name}”: choose another name.",
                         field="name") from None
    return intake, secret


def update_intake(*, session: Session, intake: Intake, expected_version: int | None, fields: IntakeFields,
                  forget_hmac_secret: bool = False) -> Intake:
    """Change an active intake's settings (flushes). Its kind stays (it decides the URL its sender
    posts to) and so does its token. An empty HMAC secret keeps the one stored, unless asked to
    forget it; a form drawn from an older version is refused and nothing is changed."""
    if intake.revoked_at is not None:
        raise FieldError(f"“{intake.name}” is revoked: make a new intake instead.")
    check_version(stored=intake.version, expected=expected_version, message=lambda: (
        "Someone saved this intake while you were editing it. Nothing of yours was saved: check the "
        "values now shown, then save again."))
    secret = (fields.hmac_secret or "").strip()
    if not secret and not forget_hmac_secret:
        secret = intake.hmac_secret or ""
    checked = _checked(session, replace(fields, kind=intake.kind.value, hmac_secret=secret), renaming=intake)
    del checked["kind"]
    for name, value in checked.items():
        setattr(intake, name, value)
    intake.version += 1
    try:
        with session.begin_nested():  # two admins choosing one name at once: the second is told
            session.flush()
    except IntegrityError:
        raise FieldError(f"There is already an intake named “{checked['name']}”: choose another name.",
                         field="name") from None
    return intake


def new_token(*, session: Session, intake: Intake) -> str:
    """Give an active intake a new token: the old one stops working at once."""
    if intake.revoked_at is not None:
        raise FieldError(f"“{intake.name}” is revoked: make a new intake instead.")
    secret = new_secret(TOKEN_PREFIX)
    intake.token_hash, intake.hint = hash_secret(secret), hint_of(secret, TOKEN_PREFIX)
    session.flush()
    return secret


def revoke_intake(*, session: Session, intake: Intake) -> Intake:
    """Stop the intake: its deliveries get 401 from now on (revoking twice keeps the first time)."""
    if intake.revoked_at is None:
        intake.revoked_at = utcnow()
        session.flush()
    return intake


def intakes(*, session: Session) -> list[Intake]:
    """Every intake, active ones first, newest first."""
    return list(session.scalars(select(Intake).options(joinedload(Intake.account))
                                .order_by(Intake.revoked_at.is_not(None), Intake.id.desc())))


def get_intake(*, session: Session, intake_id: int) -> Intake | None:
    return session.get(Intake, intake_id)


def declarers(*, session: Session) -> list[User]:
    """Who an intake may declare as: active responders and admins."""
    return list(session.scalars(select(User).where(User.active.is_(True), User.role.in_([Role.responder, Role.admin]))
                                .order_by(User.name, User.email)))


def authenticate(*, session: Session, secret: str | None) -> Intake | None:
    """The active intake a bearer secret belongs to; None for anything else (a wrong or revoked
    token, a personal access token, an intake whose account may no longer declare): one answer
    for all, so a caller learns nothing about which tokens exist."""
    if not plausible(secret) or not secret.startswith(TOKEN_PREFIX):
        return None
    intake = session.scalar(select(Intake).options(joinedload(Intake.account))
                            .where(Intake.token_hash == hash_secret(secret), Intake.revoked_at.is_(None)))
    if intake is None or not intake.account.active or not intake.account.can(Role.responder):
        return None
    return intake


def stale_use(intake: Intake, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return intake.last_used_at is None or now - intake.last_used_at >= LAST_USED_PRECISION


def note_use(*, session: Session, intake_id: int, now: datetime | None = None) -> None:
    """Write the intake's last use (at most once a minute, even for deliveries arriving together)."""
    now = now or utcnow()
    session.execute(_NOTE_USE, {"intake_id": intake_id, "now": now, "stale": now - LAST_USED_PRECISION})


_intake = Intake.__table__.c
_STALE = bindparam("stale", type_=UTCDateTime())
_NOTE_USE = (update(Intake.__table__)
             .where(_intake.id == bindparam("intake_id"),
                    or_(_intake.last_used_at.is_(None), _intake.last_used_at <= _STALE))
             .values(last_used_at=bindparam("now", type_=UTCDateTime())))
