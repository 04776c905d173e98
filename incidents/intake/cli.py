"""`flask intake`: alert intakes from the command line (create, list, new-token, revoke)."""
from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import func, select

from incidents.auth.models import Role, User
from incidents.db import utcnow
from incidents.errors import FieldError
from incidents.extensions import db
from incidents.incident.enums import Severity
from incidents.intake import manage
from incidents.intake.models import Intake, IntakeKind
from incidents.intake.reading import DEFAULT_SEVERITY_MAP

intake_cli = AppGroup("intake", help="Alert intakes: Alertmanager, Grafana and generic webhooks declaring incidents.")
PATHS = {kind.value: f"/api/v1/intake/{kind.value}" for kind in IntakeKind}


def _account(email: str | None) -> User:
    """The named person, or the longest-standing active admin (the CLI has no signed-in admin)."""
    if email:
        user = db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
        if user is None:
            raise click.ClickException(f"No user {email} (see `flask users list`).")
        return user
    admin = db.session.scalar(select(User).where(User.role == Role.admin, User.active.is_(True)).order_by(User.id))
    if admin is None:
        raise click.ClickException("No active admin to declare incidents as: pass --account EMAIL.")
    return admin


@intake_cli.command("create")
@click.argument("name")
@click.option("--kind", required=True, type=click.Choice([k.value for k in IntakeKind]), help="Who sends to it.")
@click.option("--account", "email", default=None,
              help="E-mail of the responder or admin incidents are declared as (default: the first admin).")
@click.option("--severity-label", default="severity", show_default=True, help="The label that sets the severity.")
@click.option("--map", "mappings", multiple=True, metavar="VALUE=SEV",
              help="A label value and its severity, e.g. critical=SEV1; repeat (default: "
                   + ", ".join(f"{k}={v}" for k, v in DEFAULT_SEVERITY_MAP.items()) + ").")
@click.option("--default-severity", default=Severity.SEV3.value, show_default=True,
              type=click.Choice([s.value for s in Severity]), help="For any other value, or none.")
@click.option("--title-annotation", default="summary", show_default=True)
@click.option("--description-annotation", default="description", show_default=True)
@click.option("--hmac-secret", default="", help="Grafana only: the contact point's HMAC secret.")
@click.option("--hmac-timestamp-header", default="", help="Grafana only: its timestamp header, if set there.")
def create(name: str, kind: str, email: str | None, severity_label: str, mappings: tuple[str, ...],
           default_severity: str, title_annotation: str, description_annotation: str, hmac_secret: str,
           hmac_timestamp_header: str) -> None:
    """Make the intake NAME and print its token, once: only its hash is kept."""
    try:
        fields = manage.IntakeFields(
            name=name, kind=kind, account=_account(email), severity_label=severity_label,
            severity_map=manage.parse_severity_map("\n".join(mappings)) if mappings else dict(DEFAULT_SEVERITY_MAP),
            default_severity=default_severity, title_annotation=title_annotation,
            description_annotation=description_annotation, hmac_secret=hmac_secret,
            hmac_timestamp_header=hmac_timestamp_header)
        intake, secret = manage.create_intake(session=db.session, actor=None, fields=fields)
    except FieldError as refused:
        raise click.ClickException(f"{refused.field or 'intake'}: {refused}") from None
    described = f"Intake {intake.id} “{intake.name}” ({intake.kind.label}), declaring as {intake.account.email}"
    db.session.commit()
    click.echo(f"{described}. Its token (shown once; only its hash is kept):\n\n  {secret}\n")
    click.echo(f"The sender posts to  http://<tracker>{PATHS[kind]}  with  Authorization: Bearer <token>")


@intake_cli.command("list")
def list_intakes() -> None:
    """Intakes (their token hints, never the tokens), with state and last use."""
    for intake in manage.intakes(session=db.session):
        used = f"used {intake.last_used_at:%Y-%m-%d %H:%M}" if intake.last_used_at else "never used"
        state = "revoked" if intake.revoked_at else "active"
        click.echo(f"{intake.id:5}  {intake.hint}…  {intake.kind.value:12}  {state:8}  {used:22}  "
                   f"{intake.account.email:30}  {intake.name}")


def _found(intake_id: int) -> Intake:
    intake = db.session.get(Intake, intake_id)
    if intake is None:
        raise click.ClickException(f"No intake {intake_id} (see `flask intake list`).")
    return intake


@intake_cli.command("new-token")
@click.argument("intake_id", type=int)
def new_token(intake_id: int) -> None:
    """Give intake INTAKE_ID a new token and print it once; the old one stops working."""
    intake = _found(intake_id)
    try:
        secret = manage.new_token(session=db.session, intake=intake)
    except FieldError as refused:
        raise click.ClickException(str(refused)) from None
    db.session.commit()
    click.echo(f"New token of “{intake.name}” (shown once; the old one no longer works):\n\n  {secret}\n")


@intake_cli.command("revoke")
@click.argument("intake_id", type=int)
def revoke(intake_id: int) -> None:
    """Revoke intake INTAKE_ID: its deliveries get 401 from then on."""
    intake = _found(intake_id)
    if intake.revoked_at is not None:
        click.echo(f"Intake {intake_id} (“{intake.name}”) was already revoked.")
        return
    manage.revoke_intake(session=db.session, intake=intake)
    db.session.commit()
    click.echo(f"Revoked intake {intake_id} (“{intake.name}”) at {utcnow():%Y-%m-%d %H:%M} UTC.")
