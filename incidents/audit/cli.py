"""`flask --app app audit verify`: recompute the audit log's hash chain and compare the history
rows with what the log recorded."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from incidents.audit.chain import hmac_key
from incidents.audit.chain import verify as verify_chain
from incidents.audit.rows import compare_rows
from incidents.extensions import db

audit_cli = AppGroup("audit", help="The audit log.")


def _chain_broken(verdict) -> None:
    event = verdict.broken
    if event is None:
        click.echo(f"Audit log BROKEN: {verdict.problem}.", err=True)
        return
    click.echo(f"Audit log BROKEN at event #{verdict.broken_id} "
               f"({event.occurred_at:%Y-%m-%d %H:%M:%S} UTC, {event.action} {event.entity_type} "
               f"{event.entity_id or ''} by {event.actor}): {verdict.problem}.", err=True)
    click.echo(f"{verdict.checked} events before it are intact.", err=True)


@audit_cli.command("verify")
@click.option("--expect", metavar="HASH", help="A head hash written down earlier (beside a backup, in an "
              "executive report): fail unless the chain still contains it.")
def verify(expect: str | None) -> None:
    """Recompute the hash chain and compare history rows with the log; name what is wrong (exit 1)."""
    key = hmac_key()
    verdict = verify_chain(session=db.session, key=key, expect=(expect or "").strip().lower() or None)
    problems = compare_rows(session=db.session)
    if not verdict.ok:
        _chain_broken(verdict)
    for problem in problems:
        click.echo(f"History CHANGED: {problem.table} row {problem.row_id}: {problem.problem}.", err=True)
    if not verdict.ok or problems:
        raise SystemExit(1)
    click.echo(f"Audit log intact: {verdict.checked} events checked, history rows match the log. "
               f"Newest hash: {verdict.head}")
    if key is None:
        click.echo("The chain is not keyed (AUDIT_HMAC_KEY unset): someone who can rewrite the database can "
                   "recompute it. Keep the newest hash somewhere else (a ticket, the backup log) and check "
                   "against it with --expect.")
    elif verdict.keyed_from is not None and verdict.keyed_from > 1:
        click.echo(f"Events before #{verdict.keyed_from} were written before the key was set (plain SHA-256).")
    if expect:
        click.echo(f"The expected hash {expect.strip().lower()} is in the chain.")
