"""The systems catalogue: systems that hold customer data, their backup heartbeats, restore tests,
report tokens, and the systems an incident names (with their state when it was declared)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from incidents.auth.models import User
from incidents.db import UTCDateTime, db, in_values, utcnow
from incidents.incident.enums import DATA_CATEGORIES

# Where a system came from: built here, came with an acquisition, or run by a vendor.
ORIGINS = {"built": "Built here", "acquired": "Acquired", "vendor": "Vendor"}


def name_key(name: str) -> str:
    """The form of a system's name that must be unique: "Storage cluster " and "storage CLUSTER"
    are one system (CSV re-imports match by it)."""
    return " ".join(name.split()).casefold()


class System(db.Model):
    """A system or dataset that holds customer data, and who answers for it."""

    __tablename__ = "system"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    name_key: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    team: Mapped[str] = mapped_column(String(120), default="")
    data_categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    personal_data: Mapped[bool] = mapped_column(default=False)

    origin: Mapped[str] = mapped_column(String(10), default="built")
    origin_name: Mapped[str] = mapped_column(String(200), default="")  # acquired from / the vendor
    acquired_on: Mapped[date | None] = mapped_column(Date)

    # The backup policy: no method means no policy (the audit says so).
    backup_method: Mapped[str] = mapped_column(String(200), default="")
    backup_destination: Mapped[str] = mapped_column(String(200), default="")
    rpo_target_minutes: Mapped[int | None] = mapped_column(Integer)
    retention: Mapped[str] = mapped_column(String(200), default="")

    last_reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # no longer holds data: out of the audit

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    last_reviewed_by: Mapped[User | None] = relationship(foreign_keys=[last_reviewed_by_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    state: Mapped[SystemState | None] = relationship(back_populates="system", uselist=False)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint(in_values("origin", tuple(ORIGINS)), name="origin_known"),
        CheckConstraint("rpo_target_minutes IS NULL OR rpo_target_minutes > 0", name="rpo_positive"),
        Index("ix_system_origin_name", "origin", "origin_name"),
    )

    @property
    def has_backup_policy(self) -> bool:
        return bool(self.backup_method.strip())

    @property
    def category_labels(self) -> list[str]:
        return [DATA_CATEGORIES.get(c, c) for c in self.data_categories or []]

    @property
    def origin_label(self) -> str:
        label = ORIGINS.get(self.origin, self.origin)
        if self.origin == "acquired" and self.origin_name:
            label = f"Acquired from {self.origin_name}"
            if self.acquired_on:
                label += f" on {self.acquired_on.isoformat()}"
        elif self.origin == "vendor" and self.origin_name:
            label = f"Vendor: {self.origin_name}"
        return label

    def __repr__(self) -> str:
        return f"<System {self.name}>"


class SystemState(db.Model):
    """The facts the audit reads, one row per system, kept current by each backup report and
    restore test: so the audit reads 10,000 rows, not a million reports. Apart from System so a
    heartbeat never bumps the version of a system someone is editing."""

    __tablename__ = "system_state"
    __audit__ = False  # derived from the reports and tests, which are the record

    system_id: Mapped[int] = mapped_column(ForeignKey("system.id", ondelete="CASCADE"), primary_key=True)
    last_report_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_report_ok: Mapped[bool | None] = mapped_column()
    last_report_note: Mapped[str] = mapped_column(String(500), default="")
    last_ok_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The first failure after the last success: "failing since", for "failing for weeks".
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # last_ok_at + the system's RPO target: the dead man's switch fires when now passes it. Kept,
    # because "older than its own RPO" is date arithmetic SQLite and PostgreSQL spell differently.
    backup_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reports: Mapped[int] = mapped_column(Integer, default=0)
    last_restore_test_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_restore_test_ok: Mapped[bool | None] = mapped_column()

    system: Mapped[System] = relationship(back_populates="state")


class SystemAudit(db.Model):
    """Each system's audit as last worked out (incidents/systems/audit_kept.py): its problems as a
    bit mask and their score, kept by every write that changes what they depend on, so the audit
    page reads counts and its worst systems from indexes instead of judging 10,000 systems per
    view. Time turns two problems on without any write (a backup falls due, a restore test ages):
    the moments they do are kept too, and a row whose moment has passed is worked out again before
    the audit is read (the partial indexes find exactly those rows)."""

    __tablename__ = "system_audit"
    __audit__ = False  # derived from the catalogue, which is the record

    system_id: Mapped[int] = mapped_column(ForeignKey("system.id", ondelete="CASCADE"), primary_key=True)
    listed: Mapped[bool] = mapped_column()  # in the audit: not retired
    mask: Mapped[int] = mapped_column(Integer)  # bit n: audit.PROBLEMS[n] (0 when not listed)
    score: Mapped[int] = mapped_column(Integer)  # the sum of its problems' weights
    # Copies of the order's tie-breakers, so one index gives the page its order.
    personal_data: Mapped[bool] = mapped_column()
    name_key: Mapped[str] = mapped_column(String(120))
    # The next moment time turns one of its problems on (its backup falls due, its restore test
    # ages past the limit); None when none is pending. The row is worked out again once it passes.
    recheck_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # When its last restore test passes the age limit: kept, so a heartbeat's SQL can work out the
    # next moment without date arithmetic (which SQLite and PostgreSQL spell differently).
    restore_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When it was worked out: an audit asked for an earlier moment (a test's fixed clock, a clock
    # behind another server's) cannot use it, and is worked out in full instead.
    worked_out_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


Index("ix_system_audit_order", SystemAudit.listed, SystemAudit.score.desc(), SystemAudit.personal_data.desc(),
      SystemAudit.name_key)
Index("ix_system_audit_mask", SystemAudit.listed, SystemAudit.mask)


class SystemAuditSetting(db.Model):
    """How the kept audit rows were worked out (one row): a different restore-test age limit in the
    configuration means every row is worked out again. No row: never worked out (a new database)."""

    __tablename__ = "system_audit_setting"
    __audit__ = False

    id: Mapped[int] = mapped_column(primary_key=True)
    restore_test_max_days: Mapped[int] = mapped_column(Integer)


class BackupReport(db.Model):
    """One backup run, reported by the backup job itself (CLI or HTTP heartbeat)."""

    __tablename__ = "system_backup_report"
    __audit__ = False  # machine reports, a million of them: the table is their record

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id", ondelete="CASCADE"))
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when the backup ran (its --at)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ok: Mapped[bool] = mapped_column()
    note: Mapped[str] = mapped_column(String(500), default="")
    source: Mapped[str] = mapped_column(String(10), default="cli")
    token_id: Mapped[int | None] = mapped_column(ForeignKey("system_report_token.id", ondelete="SET NULL"))

    __table_args__ = (
        CheckConstraint(in_values("source", ("cli", "http", "import", "demo")), name="source_known"),
        Index("ix_system_backup_report_system_at", "system_id", "reported_at"),
    )


class RestoreTest(db.Model):
    """A restore test: someone restored from the backups and checked the result."""

    __tablename__ = "system_restore_test"

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id", ondelete="CASCADE"))
    tested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ok: Mapped[bool] = mapped_column()
    evidence_url: Mapped[str] = mapped_column(String(500), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    performed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    performed_by: Mapped[User | None] = relationship(foreign_keys=[performed_by_id])
    recorded_by: Mapped[User | None] = relationship(foreign_keys=[recorded_by_id])

    __table_args__ = (Index("ix_system_restore_test_system_at", "system_id", "tested_at"),)


class ReportToken(db.Model):
    """A per-system secret a backup job sends with its heartbeat. Only its SHA-256 is kept; the
    token itself is shown once, when made."""

    __tablename__ = "system_report_token"
    # The hash is a credential; the last use changes on every heartbeat (not a change to audit).
    __audit_exclude__ = ("token_hash", "last_used_at")

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(16))  # the token's first characters, to tell tokens apart
    label: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    system: Mapped[System] = relationship()


class IncidentSystem(db.Model):
    """A system an incident names, with its ownership and backup state as they were when the
    incident was declared: kept, never recomputed, so the record shows what responders faced."""

    __tablename__ = "incident_system"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"))
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id", ondelete="CASCADE"), index=True)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    linked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    # The snapshot: the moment it describes (the incident's declaration), and the facts then.
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    system_name: Mapped[str] = mapped_column(String(120))
    owner_name: Mapped[str | None] = mapped_column(String(120))
    owner_active: Mapped[bool] = mapped_column(default=False)
    team: Mapped[str] = mapped_column(String(120), default="")
    personal_data: Mapped[bool] = mapped_column(default=False)
    backup_method: Mapped[str] = mapped_column(String(200), default="")
    rpo_target_minutes: Mapped[int | None] = mapped_column(Integer)
    last_backup_ok_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_backup_report_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_backup_report_ok: Mapped[bool | None] = mapped_column()
    last_restore_test_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_restore_test_ok: Mapped[bool | None] = mapped_column()
    problems: Mapped[list[str]] = mapped_column(JSON, default=list)  # audit problem codes then

    system: Mapped[System] = relationship()
    linked_by: Mapped[User | None] = relationship(foreign_keys=[linked_by_id])

    __table_args__ = (UniqueConstraint("incident_id", "system_id", name="one_link_per_system"),)
