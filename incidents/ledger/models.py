"""The affected-customer ledger (issue #14): which customers an incident touched, what each lost,
what came back, what is gone for good, and what they were told.

A ledger holds up to millions of rows, so it is written in bulk (SQL statements over a staging
table, never one ORM object per row) and its rows are left out of the row-by-row audit log: an
import is one audit event with the file's SHA-256 and counts, a look-up is one event naming who
looked up whom. Figures are kept in `ledger_figure`, rewritten by each bulk change, so no page
counts a million rows to show a number.
"""
from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from incidents.db import UTCDateTime, db, in_values, utcnow

# Row ids of the big tables: 64-bit on PostgreSQL, SQLite's rowid (itself 64-bit) there.
BigId = BigInteger().with_variant(Integer, "sqlite")

ITEM_STATES = ("affected", "restored", "lost")
# A customer's outcome, kept from their items: restored when every category came back, lost when
# any is gone for good, waiting otherwise. Disjoint, so restored + lost <= affected, as impact has it.
OUTCOMES = ("waiting", "restored", "lost")
IMPORT_MODES = ("all_or_nothing", "good_rows")
# What a file says: new affected customers, or a status of customers already in the ledger.
IMPORT_KINDS = ("customers", "restored", "lost", "bounced")
IMPORT_STATES = ("queued", "running", "applied", "refused", "failed")
FIGURE_DIMENSIONS = ("total", "category", "jurisdiction")


def new_public_id() -> str:
    return secrets.token_urlsafe(12)


class LedgerImport(db.Model):
    """One CSV file given to an incident's ledger, and what became of it."""

    __tablename__ = "ledger_import"
    # The import's audit record is one explicit event when it is applied (file hash and counts);
    # its progress columns move every second while it runs.
    __audit__ = False

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=new_public_id)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    filename: Mapped[str] = mapped_column(String(255))  # as the user named it; shown, never opened
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20), default="customers")
    mode: Mapped[str] = mapped_column(String(20))
    # A restored list: the recovery workstream that brought the data back.
    workstream_id: Mapped[int | None] = mapped_column(ForeignKey("workstream.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(20), default="queued")
    rows_read: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_applied: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_bad: Mapped[int] = mapped_column(BigInteger, default=0)
    customers_new: Mapped[int] = mapped_column(BigInteger, default=0)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message: Mapped[str] = mapped_column(Text, default="")  # why it was refused or failed, for people
    job_id: Mapped[int | None] = mapped_column(ForeignKey("background_job.id", ondelete="SET NULL"))

    created_by = relationship("User")
    job = relationship("BackgroundJob")
    workstream = relationship("Workstream")

    __table_args__ = (
        CheckConstraint(in_values("kind", IMPORT_KINDS), name="kind_known"),
        CheckConstraint(in_values("mode", IMPORT_MODES), name="mode_known"),
        CheckConstraint(in_values("state", IMPORT_STATES), name="state_known"),
    )

    @property
    def finished(self) -> bool:
        return self.state in ("applied", "refused", "failed")


class LedgerUploadChunk(db.Model):
    """A piece of an uploaded file, kept in the database so a worker on any machine can read it and
    a restarted one can read it again; deleted when its import ends (the file names customers)."""

    __tablename__ = "ledger_upload_chunk"
    __audit__ = False

    import_id: Mapped[int] = mapped_column(ForeignKey("ledger_import.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class LedgerImportProblem(db.Model):
    """A row of an import that was not applied, with its line number and the reason."""

    __tablename__ = "ledger_import_problem"
    __audit__ = False

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("ledger_import.id", ondelete="CASCADE"))
    line: Mapped[int] = mapped_column(BigInteger)  # 0: the file as a whole (no header, not UTF-8)
    customer_ref: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(300))

    __table_args__ = (Index("ix_ledger_import_problem_import_line", "import_id", "line"),)


class LedgerStagingRow(db.Model):
    """A checked row of an import that is running: loaded here in short transactions, then merged
    into the ledger in one, so the ledger never shows half a file. Emptied when the import ends."""

    __tablename__ = "ledger_staging_row"
    __audit__ = False

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("ledger_import.id", ondelete="CASCADE"))
    line: Mapped[int] = mapped_column(BigInteger)
    customer_ref: Mapped[str] = mapped_column(String(100))
    categories: Mapped[int] = mapped_column(Integer)  # a bit per category, in csvformat.CATEGORY_BITS
    country: Mapped[str] = mapped_column(String(2))
    region: Mapped[str | None] = mapped_column(String(3))
    channel: Mapped[str] = mapped_column(String(20))
    records: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_ledger_staging_row_import_customer", "import_id", "customer_ref", "line"),)


class LedgerCustomer(db.Model):
    """One affected customer of one incident."""

    __tablename__ = "ledger_customer"
    __audit__ = False  # written in bulk; imports and changes are audited as events of their own

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"))
    customer_ref: Mapped[str] = mapped_column(String(100))  # the customer's id in the customer's system
    country: Mapped[str] = mapped_column(String(2))  # ISO 3166-1 alpha-2
    region: Mapped[str | None] = mapped_column(String(3))  # ISO 3166-2 subdivision, without the country
    channel: Mapped[str] = mapped_column(String(20))  # how to reach them: a notice channel
    records: Mapped[int | None] = mapped_column(BigInteger)
    outcome: Mapped[str] = mapped_column(String(10), default="waiting")
    # The latest notice they were sent (notification batches), and whether it bounced.
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notified_channel: Mapped[str | None] = mapped_column(String(20))
    notice_version_id: Mapped[int | None] = mapped_column(ForeignKey("notice_version.id", ondelete="SET NULL"))
    bounced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The notification batch exported for them and not yet marked sent (None: in no open batch).
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_notification_batch.id", ondelete="SET NULL"))
    import_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_import.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    items: Mapped[list[LedgerItem]] = relationship(order_by="LedgerItem.category", viewonly=True)
    incident = relationship("Incident")
    notice_version = relationship("NoticeVersion")

    __table_args__ = (
        # The support look-up's index, and what a re-import merges on.
        UniqueConstraint("incident_id", "customer_ref", name="uq_ledger_customer_incident_customer_ref"),
        CheckConstraint(in_values("outcome", OUTCOMES), name="outcome_known"),
        CheckConstraint("records IS NULL OR records >= 0", name="records_not_negative"),
        Index("ix_ledger_customer_import_id", "import_id"),
        Index("ix_ledger_customer_batch_id", "batch_id"),
        # The support look-up asks by customer id across every incident.
        Index("ix_ledger_customer_customer_ref", "customer_ref"),
    )

    @property
    def jurisdiction(self) -> str:
        return jurisdiction_of(self.country, self.region)


class LedgerNotificationBatch(db.Model):
    """Customers exported to be sent a released notice version on one channel (by a mail-merge or
    bulk e-mail tool), then marked sent. The export fixes who is in it: a customer is in one open
    batch at a time, so two exports never tell the same person twice."""

    __tablename__ = "ledger_notification_batch"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=new_public_id)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"), index=True)
    notice_version_id: Mapped[int] = mapped_column(ForeignKey("notice_version.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(20))
    customers: Mapped[int] = mapped_column(BigInteger, default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    notice_version = relationship("NoticeVersion")
    created_by = relationship("User", foreign_keys=[created_by_id])
    sent_by = relationship("User", foreign_keys=[sent_by_id])


class LedgerItem(db.Model):
    """One data category of one customer: affected, restored (by which workstream, when) or lost."""

    __tablename__ = "ledger_item"
    __audit__ = False

    customer_id: Mapped[int] = mapped_column(ForeignKey("ledger_customer.id", ondelete="CASCADE"),
                                             primary_key=True)
    category: Mapped[str] = mapped_column(String(40), primary_key=True)
    state: Mapped[str] = mapped_column(String(10), default="affected")
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    workstream_id: Mapped[int | None] = mapped_column(ForeignKey("workstream.id", ondelete="SET NULL"))

    workstream = relationship("Workstream")

    __table_args__ = (CheckConstraint(in_values("state", ITEM_STATES), name="state_known"),)


class LedgerFigure(db.Model):
    """A count kept for an incident's ledger, rewritten by every bulk change, so the incident page
    and the reports read a handful of rows instead of counting millions.

    `dimension` total: key "" (customers). category: key is a data category, counts are that
    category's customers. jurisdiction: key "US-CA" or "DE", counts are customers living there.
    """

    __tablename__ = "ledger_figure"
    __audit__ = False

    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(20), primary_key=True)
    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    affected: Mapped[int] = mapped_column(BigInteger, default=0)
    restored: Mapped[int] = mapped_column(BigInteger, default=0)
    lost: Mapped[int] = mapped_column(BigInteger, default=0)
    notified: Mapped[int] = mapped_column(BigInteger, default=0)

    __table_args__ = (CheckConstraint(in_values("dimension", FIGURE_DIMENSIONS), name="dimension_known"),)


class LedgerPurge(db.Model):
    """The per-customer rows of an incident's ledger were deleted after the retention period; the
    figures (and the record of each import: counts and file hashes) stay."""

    __tablename__ = "ledger_purge"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"), primary_key=True)
    purged_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    purged_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))  # None: the schedule
    customers: Mapped[int] = mapped_column(BigInteger)
    retention_days: Mapped[int] = mapped_column(Integer)


def jurisdiction_of(country: str, region: str | None) -> str:
    """"US-CA" for a region, "DE" for a country: the codes the obligations' regimes use."""
    return f"{country}-{region}" if region else country
