"""`flask --app app audit verify`: recompute the audit log's hash chain."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from incidents.audit.chain import verify as verify_chain
from incidents.extensions import db

audit_cli = AppGroup("audit", help="The audit log.")


@audit_cli.command("verify")
def verify() -> None:
    """Recompute the hash chain from the first event; name the first broken link (exit 1)."""
    verdict = verify_chain(session=db.session)
    if verdict.ok:
        click.echo(f"Audit log intact: {verdict.checked} events checked. Newest hash: {verdict.head}")
        click.echo("Keep the newest hash somewhere else (a ticket, the backup log): events removed from "
                   "the end of the log are only noticed against it.")
        return
    event = verdict.broken
    click.echo(f"Audit log BROKEN at event #{verdict.broken_id} "
               f"({event.occurred_at:%Y-%m-%d %H:%M:%S} UTC, {event.action} {event.entity_type} "
               f"{event.entity_id or ''} by {event.actor}): {verdict.problem}.", err=True)
    click.echo(f"{verdict.checked} events before it are intact.", err=True)
    raise SystemExit(1)
