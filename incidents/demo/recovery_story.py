"""The recovery half of the demo story: impact figures over the week, workstreams per data
category with owners and progress, and the facts that measure RPO and RTO.

Each item is dated; `scenario` merges them with the timeline steps and plays everything in time
order through the real services, so the figures obey the same rules as typed-in ones.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from incidents.auth.models import User
from incidents.impact.service import CategoryCounts, CustomerCounts, latest_update, record_impact
from incidents.incident import service as incidents
from incidents.incident.models import Incident
from incidents.recovery.enums import WorkstreamStatus
from incidents.recovery.models import Workstream
from incidents.recovery.service import WorkstreamFields, create_workstream, record_progress

SUBSCRIBERS = 1_020_000
AFFECTED = 181_250  # where the count settles: a minority (17.8%) of the subscribers
# Records each affected subscriber had in the store, on average: sizes the per-category counts.
RECORDS_PER_CUSTOMER = {"contacts": 210, "calendars": 64, "tasks": 16, "photos": 35}


def utc(month, day, hour=0, minute=0, year=2009) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@dataclass
class Impact:
    """A snapshot of the figures; per category, percent of records recovered and unrecoverable."""

    at: datetime
    who: str
    affected: int
    notified: int = 0
    restored: int = 0
    lost: int = 0
    recovered: dict[str, float] = field(default_factory=dict)
    unrecoverable: dict[str, float] = field(default_factory=dict)
    note: str = ""


@dataclass
class NewWorkstream:
    at: datetime
    who: str
    key: str
    name: str
    category: str
    owner: str
    target: int
    unit: str
    source: str
    eta: datetime
    evidence: str = ""


@dataclass
class Progress:
    at: datetime
    who: str
    key: str
    done: int
    status: WorkstreamStatus | None = None
    note: str = ""


@dataclass
class Facts:
    """Incident details learnt at a moment (backup age, restore verified …)."""

    at: datetime
    who: str
    changes: dict


def _pct(contacts, calendars, tasks, photos) -> dict[str, float]:
    return {"contacts": contacts, "calendars": calendars, "tasks": tasks, "photos": photos}


def impact_updates() -> list[Impact]:
    """Affected grows as phones check in, settles at a minority; restores climb after Oct 16."""
    return [
        Impact(utc(10, 2, 14), "tomas", 8_400, note=(
            "First count: accounts whose phones synced against the damaged store since 03:10 and came "
            "back empty. It will grow as phones check in; up to all 1.02 million subscribers are exposed.")),
        Impact(utc(10, 3, 15), "tomas", 46_100),
        Impact(utc(10, 5, 12), "tomas", 138_600, note="Most phones have reconnected; the count is slowing."),
        Impact(utc(10, 7, 12), "tomas", 176_900),
        Impact(utc(10, 9, 12), "morgan", AFFECTED, note=(
            f"Check-in analysis complete: {AFFECTED:,} of {SUBSCRIBERS:,} subscribers "
            f"({AFFECTED / SUBSCRIBERS:.1%}) lost data that "
            "is no longer on their phone. The others still hold a full copy.")),
        Impact(utc(10, 10, 18), "priya", AFFECTED, notified=118_300,
               note="E-mail and text message to affected subscribers, in batches."),
        Impact(utc(10, 12, 12), "priya", AFFECTED, notified=AFFECTED,
               note="Every affected subscriber has been told; bounces followed up by letter."),
        Impact(utc(10, 16, 18), "tomas", AFFECTED, AFFECTED, 9_100,
               recovered=_pct(5.0, 0, 0, 0),
               note="First 5% cohort: contacts restored and confirmed by the phones."),
        Impact(utc(10, 17, 18), "tomas", AFFECTED, AFFECTED, 48_600, recovered=_pct(38.0, 6.0, 0, 0)),
        Impact(utc(10, 18, 18), "tomas", AFFECTED, AFFECTED, 97_300, recovered=_pct(71.0, 34.0, 20.0, 0)),
        Impact(utc(10, 19, 18), "tomas", AFFECTED, AFFECTED, 139_800, 1_180,
               recovered=_pct(92.0, 60.0, 55.0, 8.0), unrecoverable=_pct(0.2, 0.3, 0.4, 0.5),
               note=("First accounts confirmed lost: created or changed after the backup, missing from "
                     "the rebuild, and the phone was reset.")),
        Impact(utc(10, 20, 18), "tomas", AFFECTED, AFFECTED, 163_400, 2_240,
               recovered=_pct(97.6, 84.0, 81.0, 39.0), unrecoverable=_pct(0.35, 0.6, 0.7, 1.0)),
        Impact(utc(10, 21, 18), "tomas", AFFECTED, AFFECTED, 171_900, 2_950,
               recovered=_pct(98.9, 94.7, 95.1, 71.0), unrecoverable=_pct(0.45, 0.8, 1.0, 1.4)),
        Impact(utc(10, 22, 12), "morgan", AFFECTED, AFFECTED, 174_120, 3_410,
               recovered=_pct(99.2, 97.0, 97.6, 93.1), unrecoverable=_pct(0.5, 0.9, 1.1, 1.6),
               note=("96% of affected subscribers have their data back; photos are still restoring. "
                     "The 3,410 with data lost for good get a direct call from support.")),
    ]


def workstreams() -> list[NewWorkstream]:
    """Three or four lines of work per data category, each with one accountable owner."""
    plan = utc(10, 6, 14)
    c, k, t, p = (RECORDS_PER_CUSTOMER[x] * AFFECTED for x in ("contacts", "calendars", "tasks", "photos"))
    verify = "Integrity check on the copy, then a 1% sample compared with the phones' own data."
    return [
        NewWorkstream(plan, "morgan", "c-rebuild", "Rebuild contacts DB from corrupt volumes (vendor tool)",
                      "contacts", "dana", c, "records", "vendor_tool", utc(10, 14), verify),
        NewWorkstream(plan, "morgan", "c-backup", "Restore contacts from the 19-day-old backup",
                      "contacts", "luis", 1_142_000, "records", "backup", utc(10, 20)),
        NewWorkstream(utc(10, 8, 10), "morgan", "c-resync", "Re-sync contacts from phones that kept them",
                      "contacts", "mei", 61_400, "accounts", "device_resync", utc(10, 17)),
        NewWorkstream(utc(10, 15, 9), "morgan", "c-push",
                      "Push restored contacts to phones in staged cohorts", "contacts", "tomas", AFFECTED,
                      "accounts", "other", utc(10, 22, 18),
                      "Each phone reports its record count back; mismatches are retried."),
        NewWorkstream(plan, "morgan", "k-rebuild", "Rebuild calendars DB from corrupt volumes (vendor tool)",
                      "calendars", "dana", k, "records", "vendor_tool", utc(10, 15), verify),
        NewWorkstream(plan, "morgan", "k-backup", "Restore calendar events from the 19-day-old backup",
                      "calendars", "luis", 348_000, "records", "backup", utc(10, 21)),
        NewWorkstream(utc(10, 13, 9), "morgan", "k-recur", "Repair recurring events split by the rebuild",
                      "calendars", "mei", 412_000, "records", "other", utc(10, 23)),
        NewWorkstream(plan, "morgan", "t-rebuild", "Rebuild to-do lists from corrupt volumes (vendor tool)",
                      "tasks", "dana", t, "records", "vendor_tool", utc(10, 15), verify),
        NewWorkstream(utc(10, 9, 10), "morgan", "t-backup", "Restore to-do lists from the 19-day-old backup",
                      "tasks", "luis", 87_000, "records", "backup", utc(10, 20)),
        NewWorkstream(utc(10, 8, 10), "morgan", "t-resync", "Re-sync to-do lists from phones that kept them",
                      "tasks", "mei", 24_800, "accounts", "device_resync", utc(10, 16)),
        NewWorkstream(plan, "morgan", "p-snap", "Copy photo originals from storage snapshots",
                      "photos", "tomas", p, "files", "snapshot", utc(10, 23),
                      "Checksums of every copied file compared with the snapshot manifest."),
        NewWorkstream(utc(10, 7, 11), "morgan", "p-index", "Rebuild photo album index (vendor tool)",
                      "photos", "dana", p, "files", "vendor_tool", utc(10, 24)),
        NewWorkstream(utc(10, 9, 10), "morgan", "p-backup", "Restore photos from the 19-day-old backup",
                      "photos", "luis", 410_000, "files", "backup", utc(10, 24)),
        NewWorkstream(utc(10, 10, 10), "morgan", "p-resync", "Re-upload photos from phones that kept them",
                      "photos", "mei", 18_600, "accounts", "device_resync", utc(10, 23)),
    ]


def progress_reports() -> list[Progress]:
    """What the owners reported as the week went on."""
    D, B, A = WorkstreamStatus.done, WorkstreamStatus.blocked, WorkstreamStatus.abandoned
    return [
        Progress(utc(10, 9, 12), "dana", "c-rebuild", 4_810_000,
                 note="Vendor tool running on a copy of volume 1 of 4."),
        Progress(utc(10, 12, 20), "dana", "c-rebuild", 30_450_000),
        Progress(utc(10, 14, 10), "dana", "c-rebuild", 36_920_000, D,
                 "Rebuild finished: 97.0% of records consistent; the rest go to the backup restore."),
        Progress(utc(10, 14, 16), "luis", "c-backup", 221_000),
        Progress(utc(10, 16, 12), "luis", "c-backup", 804_000),
        Progress(utc(10, 20, 12), "luis", "c-backup", 1_118_400, D,
                 "23,600 records are newer than the backup and missing from the rebuild: lost unless a "
                 "phone still holds them."),
        Progress(utc(10, 10, 12), "mei", "c-resync", 12_900),
        Progress(utc(10, 17, 12), "mei", "c-resync", 59_800, D, "1,600 phones never checked in."),
        Progress(utc(10, 16, 18), "tomas", "c-push", 9_100),
        Progress(utc(10, 18, 18), "tomas", "c-push", 104_600),
        Progress(utc(10, 22, 12), "tomas", "c-push", 179_050),
        Progress(utc(10, 12, 20), "dana", "k-rebuild", 7_920_000),
        Progress(utc(10, 15, 10), "dana", "k-rebuild", 11_190_000, D),
        Progress(utc(10, 16, 12), "luis", "k-backup", 120_000),
        Progress(utc(10, 21, 12), "luis", "k-backup", 331_500),
        Progress(utc(10, 17, 12), "mei", "k-recur", 163_000),
        Progress(utc(10, 19, 9), "mei", "k-recur", 163_000, B,
                 "Blocked: the vendor tool drops exceptions to recurring events; waiting for their patch."),
        Progress(utc(10, 12, 20), "dana", "t-rebuild", 2_050_000),
        Progress(utc(10, 15, 10), "dana", "t-rebuild", 2_811_000, D),
        Progress(utc(10, 20, 12), "luis", "t-backup", 84_100, D),
        Progress(utc(10, 12, 12), "mei", "t-resync", 3_100),
        Progress(utc(10, 16, 14), "mei", "t-resync", 3_100, A,
                 "Abandoned: phones upload only open tasks, so a re-sync would lose completed ones. "
                 "The rebuild and the backup already cover 99% of records."),
        Progress(utc(10, 9, 12), "tomas", "p-snap", 610_000),
        Progress(utc(10, 13, 12), "tomas", "p-snap", 2_870_000),
        Progress(utc(10, 17, 12), "tomas", "p-snap", 4_980_000),
        Progress(utc(10, 21, 12), "tomas", "p-snap", 5_930_000),
        Progress(utc(10, 13, 12), "dana", "p-index", 1_400_000),
        Progress(utc(10, 22, 10), "dana", "p-index", 6_050_000),
        Progress(utc(10, 21, 12), "luis", "p-backup", 244_000),
        Progress(utc(10, 20, 12), "mei", "p-resync", 15_900),
    ]


def closing_reports() -> list[Progress]:
    """The last report of every line still running on 22 October: done, before the incident is
    resolved, so the finished incident shows finished work (nothing active, nothing overdue)."""
    finals = {"c-push": (utc(10, 22, 14), ""), "k-backup": (utc(10, 22, 14, 10), ""),
              "k-recur": (utc(10, 22, 14, 20), "Vendor patch applied; recurring events repaired."),
              "p-snap": (utc(10, 22, 14, 30), ""), "p-index": (utc(10, 22, 14, 40), ""),
              "p-backup": (utc(10, 22, 14, 50), ""), "p-resync": (utc(10, 22, 15), "")}
    return [Progress(finals[w.key][0], w.owner, w.key, w.target, WorkstreamStatus.done, finals[w.key][1])
            for w in workstreams() if w.key in finals]


def facts() -> list[Facts]:
    """RPO/RTO inputs: the age of the last good backup, and when the restore was verified."""
    return [
        Facts(utc(10, 3, 9), "tomas", {"last_good_backup_at": utc(9, 13, 2, 0)}),
        Facts(utc(10, 21, 16), "morgan", {"restore_verified_at": utc(10, 21, 16)}),
    ]


def items() -> list:
    """Everything above, for `scenario` to merge into the story by time."""
    return [*impact_updates(), *workstreams(), *progress_reports(), *closing_reports(), *facts()]


class Player:
    """Plays recovery items against one incident, remembering workstreams by their key."""

    def __init__(self, session: Session, incident: Incident, people: dict[str, User]):
        self.session, self.incident, self.people = session, incident, people
        self.workstreams: dict[str, Workstream] = {}

    def play(self, item) -> None:
        getattr(self, f"_{type(item).__name__.lower()}")(item)

    def _impact(self, item: Impact) -> None:
        categories = []
        for name, per_customer in RECORDS_PER_CUSTOMER.items():
            affected = item.affected * per_customer
            categories.append(CategoryCounts(
                name, affected, recovered=round(affected * item.recovered.get(name, 0) / 100),
                unrecoverable=round(affected * item.unrecoverable.get(name, 0) / 100)))
        latest = latest_update(session=self.session, incident=self.incident)
        record_impact(session=self.session, actor=self.people[item.who], incident=self.incident,
                      counts=CustomerCounts(item.affected, item.notified, item.restored, item.lost),
                      categories=categories, based_on_id=latest.id if latest else None,
                      note=item.note, as_of=item.at)

    def _newworkstream(self, item: NewWorkstream) -> None:
        self.workstreams[item.key] = create_workstream(
            session=self.session, actor=self.people[item.who], incident=self.incident,
            fields=WorkstreamFields(name=item.name, owner=self.people[item.owner], target=item.target,
                                    unit=item.unit, category=item.category, eta=item.eta,
                                    source=item.source, evidence=item.evidence))

    def _progress(self, item: Progress) -> None:
        workstream = self.workstreams[item.key]
        record_progress(session=self.session, actor=self.people[item.who], incident=self.incident,
                        workstream=workstream, expected_version=workstream.version, done=item.done,
                        note=item.note, status=item.status, as_of=item.at)

    def _facts(self, item: Facts) -> None:
        incidents.update_incident(session=self.session, actor=self.people[item.who], incident=self.incident,
                                  expected_version=self.incident.version, changes=item.changes)
