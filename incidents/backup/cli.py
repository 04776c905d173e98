"""`flask --app app backup create | verify | restore`: the tracker's own backups, from the shell."""
from __future__ import annotations

import time
from pathlib import Path

import click
from alembic.config import Config
from alembic.script import ScriptDirectory
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.engine import make_url

from incidents.audit.chain import hmac_key
from incidents.audit.chain import verify as verify_chain
from incidents.audit.models import AuditEvent
from incidents.backup import service
from incidents.backup.errors import BackupError
from incidents.config import PROJECT_ROOT
from incidents.extensions import db

backup_cli = AppGroup("backup", help="Back up the tracker's database, verify a backup, restore one.")


def _database_url() -> str:
    return current_app.config["SQLALCHEMY_DATABASE_URI"]


AUDIT_HEAD = "audit-head.txt"


def _audit_head() -> str | None:
    """The newest audit hash now: read before the dump, so the backup holds that event."""
    head = db.session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    db.session.remove()  # no open read transaction while the dump runs
    return head


def _check_audit_head(folder: Path) -> bool:
    """The live audit chain must still contain the head written beside the backup."""
    path = folder / AUDIT_HEAD
    if not path.is_file():
        click.echo(f"  {'SKIPPED':8}  audit head: no {AUDIT_HEAD} in this backup")
        return True
    head = path.read_text(encoding="utf-8").strip()
    verdict = verify_chain(session=db.session, key=hmac_key(), expect=head)
    db.session.remove()
    if verdict.ok:
        click.echo(f"  {'OK':8}  the live audit log still contains the backup's audit head {head}")
        return True
    click.echo(f"  {'MISMATCH':8}  live audit log: {verdict.problem}")
    return False


def _code_revision() -> str:
    config = Config()
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    return ScriptDirectory.from_config(config).get_current_head()


@backup_cli.command("create")
@click.argument("path", required=False, type=click.Path(file_okay=False, path_type=Path))
def create(path: Path | None) -> None:
    """Take a consistent online backup into the new folder PATH (default: instance/backups/...).

    The app may keep serving meanwhile: the dump and the manifest's row counts and checksums come
    from one snapshot of the database.
    """
    folder = path or service.default_folder(Path(current_app.instance_path))
    started = time.monotonic()
    head = _audit_head()
    try:
        manifest = service.create_backup(database_url=_database_url(), folder=folder)
    except BackupError as error:
        raise click.ClickException(f"Backup not made: {error}") from error
    if head:
        (folder / AUDIT_HEAD).write_text(head + "\n", encoding="utf-8")
    click.echo(f"Backup written to {folder}")
    click.echo(f"  {manifest.backend}, schema revision {manifest.alembic_revision}, taken {manifest.created_at}")
    click.echo(f"  {len(manifest.tables)} tables, {manifest.total_rows} rows, "
               f"{manifest.dump_bytes} bytes ({time.monotonic() - started:.1f} s)")
    if head:
        click.echo(f"  audit head {head} (in {AUDIT_HEAD}: keep a copy elsewhere; "
                   f"flask --app app audit verify --expect {head})")
    click.echo(f"Check it restores: flask --app app backup verify {folder}")


@backup_cli.command("verify")
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
@click.option("--scratch-url", default=None, metavar="URL",
              help="PostgreSQL: an empty database to restore into, when the role may not create one.")
def verify(path: Path, scratch_url: str | None) -> None:
    """Restore the backup PATH into a scratch database and compare every table with its manifest.

    Exits with status 1 when anything differs. The live database is not changed.
    """
    try:
        result = service.verify_backup(folder=path, database_url=_database_url(), scratch_url=scratch_url)
    except BackupError as error:
        raise click.ClickException(f"Cannot verify: {error}") from error
    manifest = result.manifest
    click.echo(f"Backup {path}: {manifest.backend}, schema revision {manifest.alembic_revision}, "
               f"taken {manifest.created_at}")
    click.echo(f"  {'OK' if result.file_ok else 'MISMATCH'}  dump file checksum "
               f"({manifest.dump_file}, {manifest.dump_bytes} bytes)")
    if result.problem:
        click.echo(f"  {'FAILED':8}  restore into a scratch database: {result.problem}")
    _print_checks(result.checks)
    audit_ok = _check_audit_head(path)
    if not result.ok or not audit_ok:
        bad = sum(not check.ok for check in result.checks)
        reasons = [f"{bad} table(s) differ"] if bad else []
        reasons += [] if audit_ok else ["the live audit log no longer contains the backup's audit head"]
        reasons += [] if result.file_ok else ["the dump file is damaged"]
        reasons += ["it could not be restored"] if result.problem else []
        raise click.ClickException(f"Backup FAILED verification: {', '.join(reasons)}.")
    click.echo(f"Backup verified: all {len(result.checks)} tables match the manifest.")


@backup_cli.command("restore")
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (for scripts).")
def restore(path: Path, yes: bool) -> None:
    """Replace the live database with the backup PATH (same schema revision only).

    Stop the app servers first: requests served during the restore see the old data vanish.
    """
    url = _database_url()
    try:
        manifest = service.check_restorable(folder=path, database_url=url, code_revision=_code_revision())
    except BackupError as error:
        raise click.ClickException(f"Not restored: {error}") from error
    where = make_url(url).render_as_string(hide_password=True)
    if not yes:
        click.confirm(f"Replace EVERYTHING in {where} with the backup taken {manifest.created_at} "
                      f"({manifest.total_rows} rows)? Changes made since then are lost", abort=True)
    db.session.remove()
    db.engine.dispose()  # this process's pooled connections must not hold locks or stale pages
    try:
        checks = service.restore_backup(folder=path, database_url=url, code_revision=_code_revision())
    except BackupError as error:
        raise click.ClickException(f"Restore failed: {error}") from error
    _print_checks(checks)
    if not all(check.ok for check in checks):
        raise click.ClickException("Restored, but the database does not match the manifest (see above); "
                                   "was the app writing during the restore?")
    click.echo(f"Restored {where} to the backup taken {manifest.created_at}.")


def _print_checks(checks) -> None:
    width = max((len(check.table) for check in checks), default=0)
    for check in checks:
        click.echo(f"  {'OK' if check.ok else 'MISMATCH':8}  {check.table:{width}}  {check.detail}")
