"""The demo scenario: a fictional week-long sync-service data loss.

Modelled on a real 2009 event (see shared/seed/facts.md) with invented company, product and
people names. Everything is written through the same services the app uses, so the demo also
exercises the real rules (timeline entries for every change, lifecycle checks).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from incidents.auth.models import Role, User
from incidents.auth.service import create_user, get_by_email
from incidents.db import clock_at
from incidents.demo import postmortem_story, recovery_story
from incidents.incident import service as incidents
from incidents.incident.enums import Severity, Status
from incidents.incident.models import Incident
from incidents.timeline.models import EntryKind, Visibility
from incidents.timeline.service import add_entry, correct_entry

ADMIN_EMAIL = "admin@example.com"

PEOPLE = [
    # email, name, role
    (ADMIN_EMAIL, "Alex Demo", Role.admin),
    ("morgan.reyes@example.com", "Morgan Reyes", Role.responder),
    ("priya.nair@example.com", "Priya Nair", Role.responder),
    ("tomas.wojcik@example.com", "Tomas Wojcik", Role.responder),
    ("dana.okafor@example.com", "Dana Okafor", Role.responder),
    ("luis.ferreira@example.com", "Luis Ferreira", Role.responder),
    ("mei.tanaka@example.com", "Mei Tanaka", Role.responder),
    ("helen.achterberg@example.com", "Helen Achterberg", Role.viewer),
    ("sam.lee@example.com", "Sam Lee", Role.viewer),
]


def utc(year, month, day, hour=0, minute=0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@dataclass
class Step:
    """One thing that happens in the story, in order."""

    at: datetime
    who: str
    kind: EntryKind | None = None  # None: a status change
    body: str = ""
    public: bool = False
    status: Status | None = None
    # For public steps: the status-page status, and how the update moves each component.
    public_status: str | None = None
    components: tuple[tuple[str, str], ...] = ()


def is_empty(*, session: Session) -> bool:
    return not session.scalar(select(func.count()).select_from(Incident))


def load(*, session: Session, password: str) -> Incident:
    """Create the demo people and incidents; the caller commits."""
    people = {email.split("@")[0].split(".")[0]: _person(session, email, name, role, password)
              for email, name, role in PEOPLE}
    incident = _sync_outage(session, people)
    _thumbnail_incident(session, people)
    return incident


def _person(session, email, name, role, password) -> User:
    return get_by_email(session=session, email=email) or create_user(
        session=session, email=email, name=name, role=role, password=password)


def _sync_outage(session: Session, p: dict[str, User]) -> Incident:
    with clock_at(utc(2009, 10, 2, 6, 16)):
        incident = _declare_sync_outage(session, p)
        _status_components(session)
    recovery = recovery_story.Player(session, incident, p)
    story = [*_sync_outage_story(), *recovery_story.items()]
    # In time order; at the same moment the timeline step comes before the figures it explains.
    for item in sorted(story, key=lambda item: (item.at, not isinstance(item, Step))):
        if isinstance(item, Step):
            _play(session, incident, p, item)
        else:
            with clock_at(item.at + timedelta(minutes=3)):
                recovery.play(item)
    with clock_at(utc(2009, 10, 4, 9, 30)):
        _correct_estimate(session, incident, p)
    with clock_at(utc(2009, 10, 22, 13, 0)):
        _pin_key_entries(session, incident, p)
    postmortem_story.play(session, incident, p)
    with clock_at(utc(2009, 10, 29, 9, 30)):  # the postmortem is published: the incident closes
        incidents.change_status(session=session, actor=p["morgan"], incident=incident, new_status=Status.closed,
                                expected_version=incident.version, note="Postmortem published; closing.")
    return incident


# The moments an executive or a reviewer should see first, pinned above the timeline.
KEY_ENTRY_OPENINGS = ("The firmware upgrade of the storage array", "Backups: the newest complete backup",
                      "First estimate", "Breakthrough")


def _pin_key_entries(session: Session, incident: Incident, p: dict[str, User]) -> None:
    from incidents.timeline.models import TimelineEntry
    from incidents.timeline.service import pin_entry

    for opening in KEY_ENTRY_OPENINGS:
        entry = session.scalar(select(TimelineEntry).where(
            TimelineEntry.incident_id == incident.id, TimelineEntry.original_id.is_(None),
            TimelineEntry.body.startswith(opening)))
        pin_entry(session=session, incident=incident, entry=entry, by=p["morgan"])


def _declare_sync_outage(session: Session, p: dict[str, User]) -> Incident:
    incident = incidents.declare_incident(
        session=session, actor=p["morgan"], severity=Severity.SEV2,
        title="Skylark Sync: contacts, calendars and photos missing after storage upgrade",
        data_categories=["contacts", "calendars", "tasks", "photos"], personal_data=True,
        declared_at=utc(2009, 10, 2, 6, 15),
        summary=(
            "Skylark Sync keeps the address books, calendars, to-do lists and photos of about "
            "**1 million** Tern phone subscribers. A firmware upgrade of the storage array behind "
            "the user data store failed mid-way and corrupted its volumes. The servers came with the "
            "acquisition of Halcyon Data by Meridian Software in 2008 and had no accountable owner; "
            "the backup job had been failing unnoticed."
        ),
    )
    incidents.update_incident(
        session=session, actor=p["morgan"], incident=incident, expected_version=incident.version,
        changes={"comms_lead": p["priya"], "executive": p["helen"],
                 "loss_began_at": utc(2009, 10, 2, 3, 10), "detected_at": utc(2009, 10, 2, 4, 40),
                 "aware_at": utc(2009, 10, 3, 9, 0),
                 # The service's promised objectives: at most a day of data lost, back within 3 days.
                 "rpo_target_minutes": 24 * 60, "rto_target_minutes": 72 * 60},
    )
    return incident


def _sync_outage_story() -> list[Step]:
    N, D, R, C = EntryKind.note, EntryKind.decision, EntryKind.recovery, EntryKind.communication
    return [
        Step(utc(2009, 10, 2, 4, 40), "tomas", N,
             "Sync API error rate at 38% and climbing; Tern phones report *service unavailable*. "
             "Storage alarms on the primary array since 03:10. Paging the storage vendor."),
        Step(utc(2009, 10, 2, 7, 30), "priya", C,
             "We are investigating a problem that stops Tern phones from syncing contacts, calendars, "
             "to-do lists and photos. **Please keep your phone switched on and do not reset it or remove "
             "the battery** while we work on this: the data on your phone is safe.", public=True,
             public_status="investigating",
             components=(("Contacts sync", "major_outage"), ("Calendar sync", "major_outage"),
                         ("Photo backup", "partial_outage"))),
        Step(utc(2009, 10, 2, 11, 0), "tomas", N,
             "The firmware upgrade of the storage array stopped half-way. The volumes holding the user "
             "data store are corrupt; the database will not mount. Vendor engineers are on site."),
        Step(utc(2009, 10, 2, 11, 20), "morgan", D,
             "Treating this as customer data loss until proven otherwise. Severity should be SEV1; "
             "no writes to the damaged volumes; every recovery attempt runs on a copy."),
        Step(utc(2009, 10, 2, 12, 0), "morgan", status=Status.identified,
             body="Cause found: failed storage upgrade corrupted the user data store."),
        Step(utc(2009, 10, 3, 9, 0), "tomas", N,
             "Backups: the newest complete backup of the user data store is **19 days old**. The nightly "
             "job has been failing since the servers moved racks in September; its alerts went to a "
             "mailbox nobody reads since the acquisition."),
        Step(utc(2009, 10, 3, 15, 0), "morgan", EntryKind.impact,
             "First estimate: 1.02 million subscribers use Skylark Sync. Anyone whose phone lost its "
             "local copy (reset, battery out, new phone) since the upgrade may have lost data."),
        Step(utc(2009, 10, 5, 10, 0), "priya", C,
             "Most Tern phones can connect again. Some of you may see empty or incomplete contacts, "
             "calendars or photo albums. We are still working to restore this data. Keep your phone "
             "switched on and do not reset it.", public=True, public_status="identified",
             components=(("Contacts sync", "partial_outage"), ("Calendar sync", "partial_outage"))),
        Step(utc(2009, 10, 6, 14, 0), "morgan", D,
             "Recovery plan, three lines in parallel, all on copies: (1) rebuild the database from the "
             "corrupt volumes with the vendor's tools; (2) restore the 19-day-old backup; (3) re-sync "
             "from phones that still hold their data."),
        Step(utc(2009, 10, 10, 16, 0), "priya", C,
             "We are sorry. Contacts, calendar entries, to-do lists and photos that are no longer on "
             "your phone may not be recoverable. We are still trying, and we will tell you as soon as "
             "we know more. Until then, do not reset your phone or let its battery run flat.",
             public=True, public_status="identified"),
        Step(utc(2009, 10, 10, 17, 0), "helen", D,
             "Agreed with the carrier: Tern phone sales paused until the service is stable."),
        Step(utc(2009, 10, 12, 20, 0), "tomas", R,
             "Breakthrough: the vendor's tools rebuilt the database from the corrupt volumes on a test "
             "copy. Integrity check: 97% of records consistent; the rest need repair from the backup."),
        Step(utc(2009, 10, 13, 8, 0), "morgan", status=Status.recovering,
             body="Restore path proven on a copy; planning staged restores per data category."),
        Step(utc(2009, 10, 15, 18, 0), "priya", C,
             "Good news: we have recovered most, if not all, of the missing data. We will start "
             "restoring it to phones in stages over the coming days.", public=True,
             public_status="identified"),
        Step(utc(2009, 10, 16, 9, 0), "tomas", R,
             "Staged restore started: contacts first, to a 5% cohort; devices confirm the counts."),
        Step(utc(2009, 10, 17, 12, 0), "priya", C,
             "Restoring has begun. Contacts come first, then calendars, to-do lists and photos. "
             "Every affected account will get three months of Skylark Sync Plus free.", public=True,
             public_status="monitoring",
             components=(("Contacts sync", "degraded_performance"), ("Calendar sync", "degraded_performance"),
                         ("Photo backup", "degraded_performance"))),
        Step(utc(2009, 10, 19, 18, 0), "tomas", R,
             "Contacts restored for 92% of affected accounts. Calendars at 60%; photos started."),
        Step(utc(2009, 10, 20, 10, 0), "morgan", status=Status.monitoring,
             body="All categories restoring; watching device sync errors and support tickets."),
        Step(utc(2009, 10, 21, 16, 0), "morgan", R,
             "Restore verified: 2,000 sampled accounts match their phones' own copies record for record. "
             "Photos keep restoring in the background."),
        # Resolved inside and in public at the same moment, once every workstream reported done.
        Step(utc(2009, 10, 22, 16, 0), "morgan", status=Status.resolved,
             body="Every workstream done and verified; device sync errors back to normal."),
        Step(utc(2009, 10, 22, 16, 0), "priya", C,
             "Resolved: contacts, calendars, to-do lists and photos have been restored to affected "
             "accounts and syncing works normally again. If something still looks missing, contact "
             "support. We are sorry for the disruption.", public=True, public_status="resolved",
             components=(("Contacts sync", "operational"), ("Calendar sync", "operational"),
                         ("Photo backup", "operational"))),
    ]


def _play(session: Session, incident: Incident, p: dict[str, User], step: Step) -> None:
    # Each step is written a few minutes after it happened, as a responder would.
    with clock_at(step.at + timedelta(minutes=3)):
        _record(session, incident, p, step)


# The public services on the status page (name, description, position).
COMPONENTS = [  # name, description, group, position
    ("Contacts sync", "Address books synced between phones and the service.", "Sync", 1),
    ("Calendar sync", "Calendars and to-do lists synced between phones and the service.", "Sync", 2),
    ("Photo backup", "Photos backed up from phones.", "Photos", 3),
    ("Web viewer", "Viewing your synced data in a web browser.", "Photos", 4),
]
PUBLIC_TITLE = "Contacts, calendars and photos not syncing"


def _status_components(session: Session) -> None:
    from incidents.status import service as status

    for name, description, group, position in COMPONENTS:
        status.create_component(session=session, name=name, description=description,
                                group_name=group, position=position)


def _publish(session: Session, incident: Incident, author: User, step: Step) -> None:
    """A public step becomes a published update on the status page (the first one publishes)."""
    from incidents.status import service as status

    by_name = {c.name: c for c in status.list_components(session=session)}
    components = {by_name[name]: value for name, value in step.components}
    if incident.published_at is None:
        status.publish_incident(session=session, actor=author, incident=incident,
                                public_title=PUBLIC_TITLE, impact="major", body=step.body,
                                status=step.public_status, components=components,
                                occurred_at=step.at)
    else:
        status.publish_update(session=session, actor=author, incident=incident,
                              status=step.public_status, body=step.body,
                              component_statuses=components, occurred_at=step.at)


def _record(session: Session, incident: Incident, p: dict[str, User], step: Step) -> None:
    author = p[step.who]
    if step.public_status is not None:
        _publish(session, incident, author, step)
        return
    if step.status is not None:
        incidents.change_status(session=session, actor=author, incident=incident, new_status=step.status,
                                expected_version=incident.version, note=step.body, occurred_at=step.at)
        return
    add_entry(session=session, incident=incident, author=author, kind=step.kind, body=step.body,
              occurred_at=step.at,
              visibility=Visibility.public if step.public else Visibility.internal)
    if step.kind is EntryKind.decision and "SEV1" in step.body:
        incidents.update_incident(session=session, actor=author, incident=incident,
                                  expected_version=incident.version, changes={"severity": Severity.SEV1})


def _correct_estimate(session: Session, incident: Incident, p: dict[str, User]) -> None:
    """Show how a correction keeps the original: the first impact estimate was too high."""
    from incidents.timeline.models import TimelineEntry

    first = session.scalar(select(TimelineEntry).where(
        TimelineEntry.incident_id == incident.id, TimelineEntry.kind == EntryKind.impact,
        TimelineEntry.body.startswith("First estimate")))
    correct_entry(
        session=session, author=p["morgan"], entry=first, expected_revision=first.revision,
        body=("First estimate: 1.02 million subscribers use Skylark Sync. Only those whose phone lost "
              "its local copy since the upgrade (reset, battery out, new phone) lost data: support "
              "tickets suggest a minority, well under 20%."),
        reason="Scope narrowed: most phones still held their data.",
    )


def _thumbnail_incident(session: Session, p: dict[str, User]) -> Incident:
    """A small incident happening now (dated from the moment the demo loads): published, recovering,
    its one workstream part-way, so the list, the page and the status page show a live event."""
    from incidents.recovery.enums import WorkstreamStatus
    from incidents.recovery.service import WorkstreamFields, create_workstream, record_progress
    from incidents.status import service as status

    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=3)
    with clock_at(start):
        incident = incidents.declare_incident(
            session=session, actor=p["tomas"], severity=Severity.SEV3,
            title="Photo thumbnails missing on the web viewer for some albums",
            data_categories=["photos"], personal_data=False,
        )
    with clock_at(start + timedelta(minutes=20)):
        add_entry(session=session, incident=incident, author=p["tomas"], kind=EntryKind.note,
                  body="Thumbnail cache purge removed previews for ~3,000 albums. Originals are intact.")
    web_viewer = {c.name: c for c in status.list_components(session=session)}["Web viewer"]
    with clock_at(start + timedelta(minutes=30)):
        status.publish_incident(
            session=session, actor=p["tomas"], incident=incident, impact="minor",
            public_title="Some photo previews missing on the web", status="identified",
            body="Some albums show blank previews on the web viewer. Your photos themselves are safe; "
                 "we are regenerating the previews.",
            components={web_viewer: "degraded_performance"})
    with clock_at(start + timedelta(minutes=45)):
        incidents.change_status(session=session, actor=p["tomas"], incident=incident,
                                new_status=Status.recovering, expected_version=incident.version,
                                note="Regenerating thumbnails from the originals.")
        workstream = create_workstream(
            session=session, actor=p["tomas"], incident=incident,
            fields=WorkstreamFields(name="Regenerate album previews from the original photos", owner=p["mei"],
                                    target=3_000, unit="files", category="photos",
                                    status=WorkstreamStatus.in_progress,
                                    eta=start + timedelta(hours=5), source="other", evidence=""))
    with clock_at(start + timedelta(hours=2, minutes=30)):
        record_progress(session=session, actor=p["mei"], incident=incident, workstream=workstream,
                        expected_version=workstream.version, done=1_850, note="Largest albums first.",
                        status=None, as_of=start + timedelta(hours=2, minutes=30))
    return incident
