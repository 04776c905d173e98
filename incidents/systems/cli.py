"""`flask --app app systems ...`: backup reports from the shell, report tokens, and the ownership
audit as a nightly job (exit status 1 when anything is flagged)."""
from __future__ import annotations

import json

import click
from flask import current_app, url_for
from flask.cli import AppGroup

from incidents.errors import FieldError
from incidents.extensions import db
from incidents.systems import audit, audit_kept, heartbeats, service
from incidents.systems.audit_json import audit_clock, audit_document
from incidents.systems.models import ReportToken, System

systems_cli = AppGroup("systems", help="The systems catalogue: backup reports, tokens, the ownership audit.")
token_cli = AppGroup("token", help="Report tokens: the secrets backup jobs send with their heartbeats.")
systems_cli.add_command(token_cli)

EVERYTHING = 10**9  # "one page holding every flagged system", for the CLI's full listing


def _system(name: str) -> System:
    """The catalogue's system called `name` (any case or spacing), or a clear error (exit 1)."""
    system = service.find_by_name(session=db.session, name=name)
    if system is None:
        raise click.ClickException(f"No system called {name!r} in the catalogue (names are matched ignoring case).")
    if system.retired_at is not None:
        raise click.ClickException(f"{system.name} is retired: it takes no backup reports or tokens.")
    return system


@systems_cli.command("backup-report")
@click.argument("name")
@click.option("--ok/--failed", "ok", default=None, help="Did the backup run succeed? (one is required)")
@click.option("--at", "at_text", default="", metavar="TIME",
              help="When the backup ran, ISO 8601 (2009-10-02T04:40:00Z); a time without a zone is UTC, "
                   "as everywhere in the tracker. Default: now.")
@click.option("--note", default="", help="A line for the report (what ran, how much it copied).")
def backup_report(name: str, ok: bool, at_text: str, note: str) -> None:
    """Record one backup run of the system NAME (for a backup job on a host with the app)."""
    if ok is None:  # click does not enforce `required` on a flag pair
        raise click.UsageError("Say how the backup went: --ok or --failed.")
    system = _system(name)
    try:
        at = heartbeats.parse_report_time(at_text, naive_is_utc=True) if at_text.strip() else None
        report = heartbeats.record_report(session=db.session, system_id=system.id,
                                          rpo_target_minutes=system.rpo_target_minutes, ok=ok, at=at, note=note,
                                          source="cli")
    except FieldError as error:
        db.session.rollback()
        raise click.ClickException(f"--{error.field or 'at'}: {error}") from error
    said = f"a successful backup of {system.name}" if ok else f"a failed backup of {system.name}"
    when = report.reported_at.isoformat()
    db.session.commit()
    click.echo(f"Recorded {said} at {when}.")


@systems_cli.command("audit")
@click.option("--json", "as_json", is_flag=True, help="Print the audit as JSON (the shape of /systems/audit.json, "
                                                      "every flagged system, URLs as paths).")
@click.option("--quiet", is_flag=True, help="Print nothing; only the exit status tells.")
@click.pass_context
def audit_command(ctx: click.Context, as_json: bool, quiet: bool) -> None:
    """What could lose data next: the flagged systems, worst first. Exits 1 when any is flagged,
    0 when the catalogue is clean (for a nightly job)."""
    taken = audit_kept.take_audit(session=db.session, clock=audit_clock(), per_page=EVERYTHING)
    if not quiet:
        if as_json:
            with current_app.test_request_context():  # paths, as no request says which host serves the app
                document = audit_document(taken, next_url=None,
                                          url_of=lambda row: url_for("systems.detail", system_id=row.system_id))
            click.echo(json.dumps(document, indent=2, ensure_ascii=False))
        else:
            _print_audit(taken)
    ctx.exit(1 if taken.all_flagged else 0)


def _print_audit(taken: audit.Audit) -> None:
    click.echo(f"What could lose data next: {taken.all_flagged} of {taken.systems} systems flagged "
               f"(restore tests count for {taken.clock.restore_test_max_days} days; "
               f"{taken.clock.now:%Y-%m-%d %H:%M} UTC).")
    for row in taken.rows:
        owner = row.owner_name or "no owner"
        if row.owner_name and not row.owner_active:
            owner += " (disabled)"
        click.echo(f"\n{row.name}  [{owner}]")
        for code in row.problems:
            click.echo(f"  - {audit.BY_CODE[code].label} ({code})")
    if taken.all_flagged:
        click.echo("\nPer problem:")
        for problem in audit.PROBLEMS:
            if taken.counts[problem.code]:
                click.echo(f"  {taken.counts[problem.code]:6}  {problem.label} ({problem.code})")


@token_cli.command("create")
@click.argument("name")
@click.option("--label", default="", help="What the token is for (the backup job, its host).")
def create_token(name: str, label: str) -> None:
    """Make a report token for the system NAME and print it, once: it is stored only hashed."""
    system = _system(name)
    token, secret = heartbeats.create_token(session=db.session, actor=None, system=system, label=label)
    token_id = token.id
    db.session.commit()
    click.echo(f"Report token {token_id} for {system.name} (shown once; only its hash is kept):\n\n  {secret}\n")
    click.echo('A backup job reports with:  curl -fsS -X POST https://<tracker>/systems/backup-report '
               '-H "Authorization: Bearer <token>" [-d status=failed] [-d at=<ISO 8601 time>]')


@token_cli.command("list")
@click.argument("name")
def list_tokens(name: str) -> None:
    """The report tokens of the system NAME (their hints, never the secrets)."""
    system = _system(name)
    for token in heartbeats.tokens_of(session=db.session, system=system):
        state = f"revoked {token.revoked_at:%Y-%m-%d %H:%M} UTC" if token.revoked_at else "live"
        used = f"last used {token.last_used_at:%Y-%m-%d %H:%M} UTC" if token.last_used_at else "never used"
        click.echo(f"{token.id:6}  {token.hint}…  {state:26}  {used:28}  {token.label}")


@token_cli.command("revoke")
@click.argument("name")
@click.option("--hint", default="", help="The token's first characters, as `token list` shows them.")
@click.option("--id", "token_id", type=int, default=None, help="The token's number, as `token list` shows it.")
def revoke_token(name: str, hint: str, token_id: int | None) -> None:
    """Revoke a report token of the system NAME: backup jobs sending it get 401 from then on."""
    system = _system(name)
    if not hint.strip() and token_id is None:
        raise click.ClickException("Say which token: --hint HINT or --id N (see `systems token list NAME`).")
    token = _token(system, hint.strip().rstrip("…"), token_id)
    if token.revoked_at is not None:
        click.echo(f"Token {token.id} ({token.hint}…) of {system.name} was already revoked.")
        return
    heartbeats.revoke_token(session=db.session, actor=None, token=token)
    db.session.commit()
    click.echo(f"Revoked token {token.id} ({token.hint}…) of {system.name}.")


def _token(system: System, hint: str, token_id: int | None) -> ReportToken:
    tokens = heartbeats.tokens_of(session=db.session, system=system)
    if token_id is not None:
        found = [t for t in tokens if t.id == token_id]
    else:
        found = [t for t in tokens if t.hint == hint or t.hint == heartbeats.TOKEN_PREFIX + hint]
        live = [t for t in found if t.revoked_at is None]
        found = live or found
    if not found:
        raise click.ClickException(f"{system.name} has no such token (see `systems token list {system.name!r}`).")
    if len(found) > 1:
        raise click.ClickException("Several tokens start like that: use --id (see `systems token list`).")
    return found[0]
