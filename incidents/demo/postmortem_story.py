"""The demo's postmortem: once the week-long Skylark Sync loss is under control, the team writes a
blameless review, gets it approved and published, and tracks the follow-ups to done.

All names are the demo's invented ones. Everything goes through the real services at the moment
it happened (`clock_at`), so versions, approvals and timeline entries carry 2009 dates.
"""
from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from incidents.actions.enums import ActionKind, ActionPriority, ActionStatus
from incidents.actions.service import ActionFields, change_action_status, create_action_item
from incidents.auth.models import User
from incidents.db import clock_at
from incidents.incident.models import Incident
from incidents.postmortem import service as postmortems


def utc(month, day, hour=0, minute=0) -> datetime:
    return datetime(2009, month, day, hour, minute, tzinfo=UTC)


FIRST_DRAFT = {
    "summary": (
        "On 2 October 2009 a firmware upgrade of the storage array behind Skylark Sync stopped half-way "
        "and corrupted the volumes of the user data store. For about three weeks Tern phone subscribers "
        "could not rely on their synced contacts, calendars, to-do lists and photos, and customers whose "
        "phones had lost their local copy saw them disappear. The newest complete backup was 19 days "
        "old. Most data came back by rebuilding the corrupt volumes with the vendor's tools and filling "
        "the gaps from that backup and from phones."
    ),
    "root_cause": (
        "**Root cause.** The upgrade was run without a fresh, tested backup to fall back on. The nightly "
        "backup job had been failing since the servers moved racks in September, and its alerts went to "
        "a mailbox that nobody read after Meridian Software took over Halcyon Data.\n\n"
        "**Trigger.** The storage array's firmware upgrade halted mid-way and left its volumes "
        "inconsistent; the database on them would no longer mount."
    ),
    "detection": (
        "Sync API errors reached 38% at 04:40 UTC, 90 minutes after the storage alarms began at 03:10. "
        "Those alarms paged nobody: like the backup alerts, they went to the inherited team's old "
        "addresses. Customers noticed before we declared the incident."
    ),
    "resolution": (
        "We treated the volumes as evidence: no writes, every attempt on a copy. Three lines of work ran "
        "in parallel per data category: rebuild from the corrupt volumes with the vendor's tools, restore "
        "the 19-day-old backup, and re-sync from phones that still held their data. Restores went out in "
        "stages, contacts first, to small cohorts whose phones confirmed the counts."
    ),
    "data_lost": (
        "Records written after the last good backup and missing from the rebuilt volumes are lost unless "
        "a phone still held them: about 23,600 contact records, and calendar exceptions to recurring "
        "events that the vendor tool could not read.\n\n"
        "We verified the restore by comparing 2,000 sampled accounts, record for record, with the copies "
        "their own phones held, and photo files by checksum against the snapshot manifests."
    ),
    "remediation": (
        "Affected customers received a month of service free and a message explaining what was restored. "
        "Support has a lookup that tells a customer which of their records could not be recovered."
    ),
    "went_well": (
        "- Declaring a data-loss incident early and forbidding writes to the damaged volumes kept every "
        "recovery option open.\n"
        "- Staged restores with device confirmation caught two bad batches before they reached everyone."
    ),
    "went_badly": (
        "- For days we could not say how many customers were affected; the first public estimate was "
        "far too broad.\n"
        "- The public message \"probably lost\" went out before the rebuild had been tried."
    ),
    "got_lucky": (
        "- Most phones still held their local copy, because customers kept them switched on.\n"
        "- The storage vendor had engineers close by and a tool that understood the damaged format."
    ),
    "lessons": (
        "The servers we inherited with Halcyon Data had no accountable owner: nobody watched their "
        "backups or alarms, and nobody had to sign off on a risky upgrade. An unowned system is an "
        "unwatched one."
    ),
}

# The reviewer asked for the detection gap to be stated plainly and for one more lesson.
REVIEWED = {
    **FIRST_DRAFT,
    "detection": FIRST_DRAFT["detection"] + (
        "\n\nWe had no check that a backup had completed recently, so 19 days of failures went unseen."),
    "lessons": FIRST_DRAFT["lessons"] + (
        "\n\nA backup only counts once a restore from it has been tested; before any storage change we "
        "now require a fresh backup with a test restore."),
}

# (title, kind, owner, priority, due, outcome): outcome is a status, with who/when if it closed.
ACTIONS = [
    ("Name an accountable owner for every server inherited from Halcyon Data", ActionKind.process,
     "helen", ActionPriority.high, date(2009, 11, 6), (ActionStatus.done, "helen", utc(11, 4, 15))),
    ("Require a fresh backup and a tested restore before any storage change", ActionKind.prevent,
     "tomas", ActionPriority.high, date(2009, 11, 13), (ActionStatus.done, "tomas", utc(11, 12, 11))),
    ("Alert on-call when no backup has completed for 26 hours", ActionKind.detect,
     "dana", ActionPriority.high, date(2009, 11, 20), (ActionStatus.done, "dana", utc(11, 18, 17))),
    ("Route storage alarms to the on-call rota instead of team mailboxes", ActionKind.detect,
     "luis", ActionPriority.medium, date(2009, 11, 20), (ActionStatus.done, "luis", utc(11, 16, 10))),
    ("Keep a second copy of the user data store on separate storage", ActionKind.mitigate,
     "tomas", ActionPriority.medium, date(2009, 12, 18), (ActionStatus.done, "tomas", utc(12, 15, 14))),
    ("Replace the vendor's repair tool with our own", ActionKind.mitigate,
     "dana", ActionPriority.low, date(2009, 12, 31),
     (ActionStatus.wont_do, "morgan", utc(11, 10, 9))),
]
WONT_DO_REASON = ("The vendor supports the tool under contract and it worked; a second copy of the "
                  "store protects us better for the same effort.")


def play(session: Session, incident: Incident, people: dict[str, User]) -> None:
    """Write and publish the incident's postmortem, and work through the action items.

    The incident was resolved on 22 October; the scenario closes it once this postmortem is out.
    """
    p = people
    with clock_at(utc(10, 26, 9)):
        postmortem = postmortems.start_postmortem(session=session, actor=p["morgan"], incident=incident)
        postmortems.save_sections(session=session, actor=p["morgan"], incident=incident, postmortem=postmortem,
                                  expected_version=postmortem.version, sections=FIRST_DRAFT)
        for reviewer in ("dana", "mei"):
            postmortems.add_reviewer(session=session, actor=p["morgan"], postmortem=postmortem,
                                     email=p[reviewer].email)
        postmortems.submit_for_review(session=session, actor=p["morgan"], incident=incident,
                                      postmortem=postmortem, expected_version=postmortem.version)
    with clock_at(utc(10, 27, 11)):
        postmortems.request_changes(session=session, actor=p["dana"], incident=incident, postmortem=postmortem,
                                    expected_version=postmortem.version,
                                    comment="Say plainly that nothing checked the backups, and add the "
                                            "lesson about tested restores.")
    with clock_at(utc(10, 27, 15)):
        postmortems.save_sections(session=session, actor=p["morgan"], incident=incident, postmortem=postmortem,
                                  expected_version=postmortem.version, sections=REVIEWED)
        postmortems.submit_for_review(session=session, actor=p["morgan"], incident=incident,
                                      postmortem=postmortem, expected_version=postmortem.version)
        items = [_action(session, incident, p, *spec[:5]) for spec in ACTIONS]
    with clock_at(utc(10, 28, 10)):
        postmortems.approve(session=session, actor=p["dana"], incident=incident, postmortem=postmortem,
                            expected_version=postmortem.version, comment="Clear and blameless. Approved.")
    with clock_at(utc(10, 29, 9)):
        postmortems.publish(session=session, actor=p["morgan"], incident=incident, postmortem=postmortem,
                            expected_version=postmortem.version)
    for item, (_title, _kind, _owner, _priority, _due, (status, who, when)) in zip(items, ACTIONS, strict=True):
        _finish(session, incident, p, item, status, who, when)


def _action(session, incident, p, title, kind, owner, priority, due):
    return create_action_item(session=session, actor=p["morgan"], incident=incident, fields=ActionFields(
        title=title, kind=kind, owner=p[owner], due_on=due, priority=priority))


def _finish(session, incident, p, item, status, who, when) -> None:
    if status is ActionStatus.in_progress:
        with clock_at(utc(11, 2, 9)):
            change_action_status(session=session, actor=p["tomas"], incident=incident, item=item,
                                 expected_version=item.version, status=status)
        return
    with clock_at(when):
        change_action_status(session=session, actor=p[who], incident=incident, item=item,
                             expected_version=item.version, status=status,
                             reason=WONT_DO_REASON if status is ActionStatus.wont_do else "")
