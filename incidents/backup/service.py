"""Create, verify and restore backups of the tracker's database (SQLite or PostgreSQL)."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from incidents.backup import postgres, sqlite
from incidents.backup.errors import BackupError
from incidents.backup.manifest import MANIFEST_NAME, Manifest, TableCheck, compare, file_sha256
from incidents.db import utcnow


def backend_of(url: URL) -> str:
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            raise BackupError("an in-memory SQLite database cannot be backed up.")
        return "sqlite"
    if url.get_backend_name() == "postgresql":
        return "postgresql"
    raise BackupError(f"backups support SQLite and PostgreSQL, not {url.get_backend_name()}.")


def describe(url: URL) -> str:
    """The database for messages, without its password."""
    return url.render_as_string(hide_password=True)


def default_folder(instance_path: Path) -> Path:
    return instance_path / "backups" / f"incidents-{utcnow():%Y%m%dT%H%M%SZ}"


def create_backup(*, database_url: str, folder: Path) -> Manifest:
    """Take a consistent online backup into FOLDER (new or empty) and write its manifest."""
    url = make_url(database_url)
    backend = backend_of(url)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise BackupError(f"{folder} already exists and is not an empty folder; choose a new path.")
    folder.mkdir(parents=True, exist_ok=True)
    created_at = utcnow().isoformat(timespec="seconds")
    if backend == "sqlite":
        dump, tables, revision = sqlite.create(Path(url.database), folder)
        tool = sqlite.tool_version()
    else:
        dump, tables, revision = postgres.create(url, folder)
        tool = postgres.tool_version()
    manifest = Manifest(backend=backend, created_at=created_at, alembic_revision=revision,
                        dump_file=dump.name, dump_sha256=file_sha256(dump), dump_bytes=dump.stat().st_size,
                        tables=tables, tool=tool)
    (folder / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
    return manifest


@dataclass
class Verification:
    manifest: Manifest
    file_ok: bool
    checks: list[TableCheck]
    problem: str | None = None  # set when the backup could not be restored at all

    @property
    def ok(self) -> bool:
        return self.file_ok and self.problem is None and all(check.ok for check in self.checks)


def _load(folder: Path) -> tuple[Manifest, Path]:
    if not folder.is_dir():
        raise BackupError(f"{folder} is not a backup folder.")
    manifest = Manifest.load(folder)
    dump = manifest.dump_path(folder)
    if not dump.is_file():
        raise BackupError(f"{dump} is missing from the backup.")
    return manifest, dump


def verify_backup(*, folder: Path, database_url: str, scratch_url: str | None = None) -> Verification:
    """Restore FOLDER into a scratch database and compare every table with the manifest.

    The live database is only used to reach the server (PostgreSQL) and is never written.
    """
    manifest, dump = _load(folder)
    file_ok = file_sha256(dump) == manifest.dump_sha256
    try:
        found, _ = _restore_to_scratch(manifest, dump, database_url, scratch_url)
    except BackupError as error:
        return Verification(manifest, file_ok, [], problem=str(error))
    return Verification(manifest, file_ok, compare(manifest.tables, found))


def _restore_to_scratch(manifest: Manifest, dump: Path, database_url: str,
                        scratch_url: str | None) -> tuple[dict[str, dict], str | None]:
    if manifest.backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="incidents-verify-") as scratch:
            copy = Path(scratch) / "restored.sqlite3"
            sqlite.restore_into(dump, copy)
            return sqlite.inspect_copy(copy)
    if manifest.backend != "postgresql":
        raise BackupError(f"unknown backend {manifest.backend!r} in the manifest.")
    if scratch_url:
        target = make_url(scratch_url)
        postgres.restore_into(dump, target, replace=False)
        return postgres.inspect_copy(target)
    server = make_url(database_url)
    if backend_of(server) != "postgresql":
        raise BackupError("a PostgreSQL backup needs a PostgreSQL server to verify on: run with "
                          "DATABASE_URL pointing at one, or pass --scratch-url.")
    with postgres.scratch_database(server) as target:
        postgres.restore_into(dump, target, replace=False)
        return postgres.inspect_copy(target)


def check_restorable(*, folder: Path, database_url: str, code_revision: str) -> Manifest:
    """The backup's manifest, once it is known to fit the live database; else BackupError."""
    manifest, dump = _load(folder)
    url = make_url(database_url)
    if backend_of(url) != manifest.backend:
        raise BackupError(f"this is a {manifest.backend} backup; the app uses {backend_of(url)}.")
    if file_sha256(dump) != manifest.dump_sha256:
        raise BackupError(f"{dump} does not match the checksum in its manifest: the backup is damaged. "
                          "Run `backup verify` for details and restore an older backup.")
    live = (sqlite.current_revision(Path(url.database)) if manifest.backend == "sqlite"
            else postgres.current_revision(url))
    # An empty database (a rebuilt server) must match the code's schema instead.
    expected = live or code_revision
    if manifest.alembic_revision != expected:
        where = "the live database" if live else "this version of the app"
        raise BackupError(f"the backup has schema revision {manifest.alembic_revision}, {where} has "
                          f"{expected}; restore it with the release that matches its schema.")
    return manifest


def restore_backup(*, folder: Path, database_url: str, code_revision: str) -> list[TableCheck]:
    """Replace the live database with FOLDER's backup, then compare it with the manifest."""
    manifest = check_restorable(folder=folder, database_url=database_url, code_revision=code_revision)
    dump = manifest.dump_path(folder)
    url = make_url(database_url)
    if manifest.backend == "sqlite":
        sqlite.restore_into(dump, Path(url.database))
        found, _ = sqlite.inspect_copy(Path(url.database))
    else:
        postgres.restore_into(dump, url, replace=True)
        found, _ = postgres.inspect_copy(url)
    return compare(manifest.tables, found)
