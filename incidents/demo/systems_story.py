"""The demo's systems catalogue: Meridian Software's ~30 systems that hold customer data, so the
ownership audit tells the story at first sight. The storage cluster that came with Halcyon Data
(the 2009 loss) still has no owner, its backup job has been failing for weeks and nobody ever
tested a restore; a newer acquisition (Quillpad) is half reviewed; most systems are healthy.

Backup reports and restore tests are dated from the moment the demo loads and written through the
real services (`clock_at`), so the heartbeat rules run as they will in production. The cluster's
2009 reports are there too: the Skylark Sync incident names it, and its kept snapshot shows the
state responders faced on 2 October 2009 (last good backup 13 September, failing since).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.orm import Session

from incidents.auth.models import Role, User
from incidents.auth.service import create_user, get_by_email
from incidents.db import clock_at
from incidents.incident.models import Incident
from incidents.systems import heartbeats, service
from incidents.systems.models import System

HALCYON, QUILLPAD = "Halcyon Data", "Quillpad"
FORMER_OWNER = ("rafael.ortiz@example.com", "Rafael Ortiz")  # left the company; his account is disabled
CLUSTER = "Halcyon storage cluster (Skylark Sync user data)"
DAY = 24 * 60


@dataclass
class Demo:
    name: str
    description: str
    owner: str | None  # a demo person's first name, "former", or None
    team: str
    categories: tuple[str, ...]
    personal: bool
    backup: str  # "nightly", "weekly", "failing", "overdue", "none"
    rpo: int | None = DAY
    method: str = "Nightly snapshot, copied off-site"
    destination: str = "Object storage, second region"
    restore: tuple[int, bool] | None = (30, True)  # days ago, passed
    origin: tuple[str, str, date | None] = ("built", "", None)
    reviewed_days_ago: int | None = None
    retention: str = "35 days"


def _halcyon(reviewed: int | None = None) -> dict:
    return {"origin": ("acquired", HALCYON, date(2008, 3, 3)), "reviewed_days_ago": reviewed}


def _quillpad(reviewed: int | None = None) -> dict:
    # Bought about eight months before the demo loads, whenever that is.
    acquired_on = (datetime.now(UTC) - timedelta(days=250)).date()
    return {"origin": ("acquired", QUILLPAD, acquired_on), "reviewed_days_ago": reviewed}


SYSTEMS: tuple[Demo, ...] = (
    Demo(CLUSTER, "The storage array and volumes behind the Skylark Sync user data store: contacts, "
         "calendars, to-do lists and photo metadata of every Tern phone subscriber.", None, "",
         ("contacts", "calendars", "tasks", "photos"), True, "failing", method="Nightly full copy to tape",
         destination="Tape library, same building", restore=None, **_halcyon()),
    Demo("Skylark Sync front-end servers", "Accept sync sessions from phones; hold no data at rest beyond "
         "a day of request logs.", "tomas", "Sync", ("settings",), True, "nightly", rpo=7 * DAY,
         method="Configuration in git; logs shipped nightly", restore=(40, True), **_halcyon(reviewed=190)),
    Demo("Halcyon photo archive", "Original photos uploaded before 2010, kept read-only.", "mei", "Photos",
         ("photos",), True, "none", rpo=None, method="", destination="", restore=None, **_halcyon(reviewed=180)),
    Demo("Halcyon billing export", "Monthly export of Halcyon's old billing records, kept for tax.", "former",
         "Finance systems", ("billing",), True, "weekly", rpo=8 * DAY, method="Weekly database dump",
         restore=(300, True), **_halcyon(reviewed=170)),
    Demo("Quillpad notes store", "Every note written in the Quillpad app.", "luis", "Notes",
         ("notes",), True, "nightly", restore=(20, True), **_quillpad(reviewed=40)),
    Demo("Quillpad attachment bucket", "Images and files attached to Quillpad notes.", "luis", "Notes",
         ("notes", "files"), True, "overdue", restore=None, **_quillpad()),
    Demo("Quillpad sharing service", "Who may read which shared notebook.", None, "", ("notes", "settings"),
         True, "nightly", restore=None, **_quillpad()),
    Demo("Quillpad analytics", "Usage events from the Quillpad app, pseudonymised.", "dana", "Data platform",
         ("settings",), False, "none", rpo=None, method="", destination="", restore=None, **_quillpad()),
    Demo("Skylark Sync API database", "Accounts, devices and sync cursors of Skylark Sync.", "morgan", "Sync",
         ("settings",), True, "nightly", rpo=60, method="Continuous WAL archiving and nightly base backup",
         restore=(12, True)),
    Demo("Contacts store", "Address books of every Skylark Sync subscriber since 2010.", "morgan", "Sync",
         ("contacts",), True, "nightly", restore=(25, True)),
    Demo("Calendar store", "Calendars and events of every Skylark Sync subscriber since 2010.", "priya", "Sync",
         ("calendars",), True, "nightly", restore=(33, True)),
    Demo("Tasks store", "To-do lists of Skylark Sync subscribers.", "priya", "Sync", ("tasks",), True, "nightly",
         restore=(61, True)),
    Demo("Photo originals", "Every photo uploaded since 2010, three copies in two regions.", "mei", "Photos",
         ("photos",), True, "nightly", method="Cross-region replication and nightly manifest check",
         restore=(45, True)),
    Demo("Photo thumbnail cache", "Previews made from the originals; rebuilt when lost.", "mei", "Photos",
         ("photos",), False, "nightly", rpo=7 * DAY, method="Rebuilt from originals (no copy kept)",
         destination="—", restore=(9, True)),
    Demo("Customer identity (accounts)", "Sign-in accounts, e-mail addresses and password hashes.", "dana",
         "Identity", ("settings",), True, "nightly", rpo=15, method="Synchronous replica and hourly snapshot",
         restore=(14, True)),
    Demo("Billing ledger", "Invoices, payments and refunds.", "luis", "Finance systems", ("billing",), True,
         "nightly", rpo=60, method="Continuous WAL archiving", retention="10 years", restore=(88, True)),
    Demo("Support tickets", "Conversations with customers, attachments included.", "priya", "Support",
         ("messages", "files"), True, "nightly", restore=(200, True)),
    Demo("Customer notices archive", "Every notice sent to customers, with who received which version.",
         "priya", "Support", ("messages",), True, "nightly", restore=(50, False)),
    Demo("E-mail relay logs", "Delivery logs of outgoing customer e-mail, 90 days.", "dana", "Platform",
         ("messages",), True, "weekly", rpo=8 * DAY, method="Weekly log archive", retention="90 days",
         restore=(70, True)),
    Demo("Data warehouse", "Aggregated usage and billing figures for reporting.", "dana", "Data platform",
         ("billing", "settings"), True, "nightly", restore=(35, True)),
    Demo("Device backup vault", "Encrypted phone backups that subscribers switch on.", "tomas", "Devices",
         ("contacts", "photos", "settings"), True, "nightly", restore=(18, True)),
    Demo("Search index", "Full-text index over notes and contacts; rebuilt from the stores.", "luis",
         "Platform", ("notes", "contacts"), True, "nightly", rpo=2 * DAY, method="Rebuilt from the stores",
         restore=(95, True)),
    Demo("Messaging service", "In-app messages between subscribers.", "former", "Messaging", ("messages",),
         True, "nightly", restore=(27, True)),
    Demo("Settings sync", "Phone settings and preferences kept in sync.", "tomas", "Devices", ("settings",),
         True, "nightly", restore=(22, True)),
    Demo("Files service", "Documents subscribers store in the cloud drive.", "mei", "Files", ("files",), True,
         "nightly", restore=(16, True)),
    Demo("Marketing CRM", "Newsletter subscribers and campaign history, run by a vendor.", "priya", "Marketing",
         ("messages",), True, "nightly", method="Vendor's daily export to our storage",
         origin=("vendor", "Hubward CRM", None), restore=(80, True)),
    Demo("Payroll", "Employee payroll, run by a vendor.", "luis", "People", ("billing",), True, "weekly",
         rpo=8 * DAY, method="Vendor's weekly export", origin=("vendor", "Paystream", None), restore=(60, True)),
    Demo("Status page subscribers", "E-mail addresses and webhooks subscribed to the status page.", "dana",
         "Platform", ("settings",), True, "nightly", restore=(41, True)),
    Demo("Incident tracker", "This tracker: incidents, the affected-customer ledger, notices.", "morgan",
         "Platform", ("messages", "settings"), True, "nightly", rpo=60,
         method="Nightly `flask backup` and hourly WAL archive", restore=(7, True)),
    Demo("Build artefacts", "Release builds of the apps; no customer data.", "tomas", "Platform", (), False,
         "nightly", rpo=7 * DAY, method="Rebuilt from source tags", restore=(60, True)),
)


def play(*, session: Session, incident: Incident | None = None) -> dict[str, System]:
    """Write the catalogue, its backup reports and restore tests; name the cluster on `incident`."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    people = _people(session)
    systems = {}
    for demo in SYSTEMS:
        with clock_at(now - timedelta(days=200)):  # when the catalogue was first filled in
            system = service.create_system(session=session, actor=people["alex"], fields_=_fields(demo, people))
        systems[demo.name] = system
        _backups(session, system, demo, now)
        if demo.restore is not None:
            days, ok = demo.restore
            with clock_at(now - timedelta(days=days) + timedelta(hours=3)):
                service.record_restore_test(
                    session=session, actor=people["alex"], system=system, ok=ok,
                    tested_at=now - timedelta(days=days), performed_by=system.owner or people["morgan"],
                    note="Restored last night's copy to a scratch host and compared record counts."
                         if ok else "Restore stopped at 60%: the copy's index was missing. Ticket opened.")
        if demo.reviewed_days_ago is not None:
            with clock_at(now - timedelta(days=demo.reviewed_days_ago)):
                service.mark_reviewed(session=session, actor=people["morgan"], system=system)
    _cluster_in_2009(session, systems[CLUSTER])
    people["former"].active = False  # left in the spring; two systems still name him ("owner disabled")
    if incident is not None:
        _name_on_incident(session, incident, systems[CLUSTER], people["morgan"])
    return systems


def _people(session: Session) -> dict[str, User]:
    people = {u.email.split("@")[0].split(".")[0]: u
              for u in (get_by_email(session=session, email=f"{who}@example.com") for who in (
                  "admin", "morgan.reyes", "priya.nair", "tomas.wojcik", "dana.okafor", "luis.ferreira",
                  "mei.tanaka")) if u is not None}
    people["alex"] = people.pop("admin")
    email, name = FORMER_OWNER
    former = get_by_email(session=session, email=email)
    if former is None:
        password = "former-owner-" + datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")  # never signs in
        former = create_user(session=session, email=email, name=name, role=Role.responder, password=password)
    people["former"] = former
    return people


def _fields(demo: Demo, people: dict[str, User]) -> service.SystemFields:
    origin, origin_name, acquired_on = demo.origin
    return service.SystemFields(
        name=demo.name, description=demo.description, owner=people.get(demo.owner) if demo.owner else None,
        team=demo.team, data_categories=list(demo.categories), personal_data=demo.personal, origin=origin,
        origin_name=origin_name, acquired_on=acquired_on, backup_method=demo.method,
        backup_destination=demo.destination if demo.method else "", rpo_target_minutes=demo.rpo,
        retention=demo.retention)


def _backups(session: Session, system: System, demo: Demo, now: datetime) -> None:
    """Three weeks of backup reports, as the backup job would have sent them."""
    if demo.backup == "none":
        return
    step = 7 if demo.backup == "weekly" else 1
    # The nightly run: on the hour, two to three hours before the demo loads, whatever the time of
    # day. (Pinned at 02:00, a demo loaded between 02:00 and 03:00 found every daily backup a day
    # old, past its one-day RPO: most of the catalogue flagged overdue.)
    last_run = (now - timedelta(hours=2)).replace(minute=0)
    for days_ago in range(42 if demo.backup == "failing" else 21, -1, -step):
        at = last_run - timedelta(days=days_ago) + timedelta(minutes=7 * (system.id % 5))
        ok = True
        note = ""
        if demo.backup == "failing" and days_ago <= 33:
            ok, note = False, "tape drive 2: write error, job aborted"
        if demo.backup == "overdue" and days_ago <= 4:
            continue  # the job stopped reporting four days ago
        _report(session, system, at=at, ok=ok, note=note)
    if demo.rpo and demo.rpo < DAY:  # continuous archiving: a report every half RPO over the last day
        every = timedelta(minutes=demo.rpo // 2)
        at = now - timedelta(days=1)
        while at <= now - every:
            at += every
            _report(session, system, at=at, ok=True)


def _report(session: Session, system: System, *, at: datetime, ok: bool, note: str = "") -> None:
    with clock_at(at + timedelta(minutes=40)):
        heartbeats.record_report(session=session, system_id=system.id, rpo_target_minutes=system.rpo_target_minutes,
                                 ok=ok, at=at, note=note, source="demo")


def _cluster_in_2009(session: Session, cluster: System) -> None:
    """The cluster's nightly reports around the 2009 loss: good until 13 September, failing after."""
    for day in range(30):  # 15 August to 13 September: every night good
        _report(session, cluster, at=datetime(2009, 8, 15, 2, 0, tzinfo=UTC) + timedelta(days=day), ok=True)
    for day in range(18):
        at = datetime(2009, 9, 14, 2, 0, tzinfo=UTC) + timedelta(days=day)
        _report(session, cluster, at=at, ok=False, note="backup job: target volume full")


def _name_on_incident(session: Session, incident: Incident, cluster: System, by: User) -> None:
    """The Skylark Sync incident names the cluster; its snapshot is as of the declaration."""
    from incidents.systems import links

    with clock_at(incident.declared_at + timedelta(minutes=30)):
        links.link_systems(session=session, actor=by, incident=incident, systems=[cluster])
