"""What a backup promises to hold: per-table row counts and content checksums, and the comparison.

A table's checksum is a multiset hash: the sum (mod 2**256) of the SHA-256 of every row's canonical
encoding. It does not depend on the order the database returns rows in (nor on collations), counts
duplicate rows, and is computed in one streaming pass. It detects corruption and lost or changed
rows; proving who changed what is the audit log's hash chain (`flask audit verify`), not this.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

FORMAT = 1
MANIFEST_NAME = "manifest.json"
_MOD = 2**256
_SEP, _NULL = "\x1f", "\x00N"


def _encode_value(value) -> str:
    """One value as text that is the same for the same stored value, whatever the session settings."""
    if value is None:
        return _NULL
    if isinstance(value, bool):
        return f"b{int(value)}"
    if isinstance(value, (int, Decimal)):
        return f"n{value}"
    if isinstance(value, float):
        return f"f{value!r}"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"x{bytes(value).hex()}"
    if isinstance(value, datetime):
        if value.tzinfo is not None:  # the session's time zone must not change the checksum
            value = value.astimezone(UTC)
        return f"t{value.isoformat()}"
    if isinstance(value, (date, time, timedelta, uuid.UUID)):
        return f"t{value}"
    if isinstance(value, (dict, list)):
        return f"j{json.dumps(value, sort_keys=True, default=str)}"
    return f"s{value}"


def row_digest(row) -> int:
    encoded = _SEP.join(_encode_value(v) for v in row).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.sha256(encoded).digest(), "big")


def summarise_rows(batches) -> dict:
    """{"rows": n, "checksum": hex} for an iterable of row batches (lists of tuples)."""
    rows, total = 0, 0
    for batch in batches:
        for row in batch:
            total = (total + row_digest(row)) % _MOD
            rows += 1
    return {"rows": rows, "checksum": f"{total:064x}"}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class Manifest:
    backend: str
    created_at: str
    alembic_revision: str | None
    dump_file: str
    dump_sha256: str
    dump_bytes: int
    tables: dict[str, dict]
    tool: str = ""

    def to_json(self) -> str:
        return json.dumps({
            "format": FORMAT, "backend": self.backend, "created_at": self.created_at,
            "alembic_revision": self.alembic_revision,
            "dump": {"file": self.dump_file, "sha256": self.dump_sha256, "bytes": self.dump_bytes},
            "tool": self.tool, "tables": self.tables,
        }, indent=2, sort_keys=True) + "\n"

    @classmethod
    def load(cls, folder: Path) -> Manifest:
        """Read FOLDER/manifest.json; raises BackupError when it is missing or unreadable."""
        from incidents.backup.errors import BackupError

        path = folder / MANIFEST_NAME
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != FORMAT:
                raise BackupError(f"{path}: manifest format {data.get('format')!r} is not {FORMAT}.")
            dump = data["dump"]
            return cls(backend=data["backend"], created_at=data["created_at"],
                       alembic_revision=data["alembic_revision"], dump_file=dump["file"],
                       dump_sha256=dump["sha256"], dump_bytes=int(dump["bytes"]),
                       tables={name: {"rows": int(t["rows"]), "checksum": str(t["checksum"])}
                               for name, t in data["tables"].items()},
                       tool=data.get("tool", ""))
        except FileNotFoundError as error:
            raise BackupError(f"{path} is missing: is {folder} a backup made by `backup create`?") from error
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise BackupError(f"{path} is not a readable manifest ({error}).") from error

    @property
    def total_rows(self) -> int:
        return sum(t["rows"] for t in self.tables.values())

    def dump_path(self, folder: Path) -> Path:
        # Only a plain file name inside the backup folder: a manifest cannot point elsewhere.
        return folder / Path(self.dump_file).name


@dataclass
class TableCheck:
    table: str
    ok: bool
    detail: str


def compare(expected: dict[str, dict], found: dict[str, dict]) -> list[TableCheck]:
    """Each table of the manifest against what a restore holds, in name order."""
    checks = []
    for table in sorted(set(expected) | set(found)):
        want, got = expected.get(table), found.get(table)
        if got is None:
            checks.append(TableCheck(table, False, "missing from the restored database"))
        elif want is None:
            checks.append(TableCheck(table, False, f"not in the manifest ({got['rows']} rows restored)"))
        elif want["rows"] != got["rows"]:
            checks.append(TableCheck(table, False, f"{want['rows']} rows in the manifest, "
                                                   f"{got['rows']} restored"))
        elif want["checksum"] != got["checksum"]:
            checks.append(TableCheck(table, False, f"{got['rows']} rows, but their content differs "
                                                   "from the manifest's checksum"))
        else:
            checks.append(TableCheck(table, True, f"{got['rows']} rows, checksum matches"))
    return checks
