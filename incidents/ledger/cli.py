"""`flask --app app ledger import INCIDENT_REF FILE.csv [--kind restored]`: import a list from a shell.

Runs in this process (no worker needed), with progress on the terminal; the same checks, the same
all-or-nothing commit and the same audit event as an upload through the web.
"""
from __future__ import annotations

import os
import sys
import time

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select

from incidents.auth.models import User
from incidents.db import db
from incidents.errors import NotFound
from incidents.incident.service import get_incident
from incidents.ledger import importing, retention
from incidents.ledger.csvformat import LAYOUTS


@click.command("import")
@click.argument("reference")
@click.argument("csv_file", type=click.File("rb"))
@click.option("--good-rows", is_flag=True,
              help="Apply every good row and report the bad ones (default: all or nothing).")
@click.option("--kind", type=click.Choice(list(LAYOUTS)), default="customers", show_default=True,
              help="What the file lists: affected customers, or customers restored, lost for good, or bounced.")
@click.option("--as", "as_email", metavar="EMAIL", help="The account the import is recorded under (default: none).")
@with_appcontext
def import_command(reference: str, csv_file, good_rows: bool, kind: str, as_email: str | None) -> None:
    """Import CSV_FILE into the ledger of incident REFERENCE (merging by customer id)."""
    session = db.session
    try:
        incident = get_incident(session=session, reference=reference)
    except NotFound:
        raise click.ClickException(f"No incident {reference}.") from None
    actor = None
    if as_email:
        actor = session.scalar(select(User).where(func.lower(User.email) == as_email.lower()))
        if actor is None:
            raise click.ClickException(f"No account {as_email}.")
    try:
        record = importing.store_upload(
            session=session, actor=actor, incident=incident, stream=csv_file,
            filename=os.path.basename(getattr(csv_file, "name", "stdin")),
            mode="good_rows" if good_rows else "all_or_nothing", kind=kind,
            max_bytes=current_app.config["LEDGER_IMPORT_MAX_BYTES"])
    except importing.ImportRefused as refused:
        session.rollback()
        raise click.ClickException(str(refused)) from None
    session.commit()
    import_id, started = record.id, time.monotonic()
    record = importing.run(session=session, import_id=import_id, report=_terminal_progress())
    session.commit()
    click.echo("", err=True)
    elapsed = time.monotonic() - started
    click.echo(f"{record.message} ({record.rows_read:,} rows in {elapsed:.1f} s)")
    if record.rows_bad:
        click.echo(f"{record.rows_bad:,} rows with problems; the first of them:", err=True)
        for shown, problem in enumerate(importing.problems_of(session=session, record=record)):
            if shown == 20:
                click.echo("  …", err=True)
                break
            click.echo(f"  line {problem.line:,}: {problem.reason}", err=True)
    if record.state != "applied":
        sys.exit(1)


def _terminal_progress():
    last = [0.0]

    def report(done: int, total: int, message: str) -> None:
        now = time.monotonic()
        if now - last[0] < 0.25 and done < total:
            return
        last[0] = now
        pct = 100.0 * done / total if total else 100.0
        click.echo(f"\r{pct:5.1f}%  {message}\033[K", nl=False, err=True)

    return report


@click.command("purge")
@click.option("--days", type=click.IntRange(1), help="Closed at least this many days ago "
              "(default: LEDGER_RETENTION_DAYS).")
@click.option("--dry-run", is_flag=True, help="Only list the ledgers that would be deleted.")
@with_appcontext
def purge_command(days: int | None, dry_run: bool) -> None:
    """Delete the per-customer ledger of closed incidents past the retention period (figures stay)."""
    days = days or current_app.config["LEDGER_RETENTION_DAYS"]
    if not days:
        raise click.ClickException("Give --days, or set LEDGER_RETENTION_DAYS.")
    session = db.session
    due = retention.due(session=session, days=days)
    if not due:
        click.echo(f"No closed incident's ledger is older than {days} days.")
        return
    for incident in due:
        if dry_run:
            click.echo(f"{incident.reference}: closed {incident.closed_at:%Y-%m-%d}, would be purged")
            continue
        purged = retention.purge(session=session, incident=incident, days=days)
        session.commit()
        click.echo(f"{purged.reference}: {purged.customers:,} customers deleted; figures kept")
