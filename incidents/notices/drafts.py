"""The first draft of a notice, written from the public facts for the comms lead to edit."""
from __future__ import annotations

from datetime import UTC, datetime

from incidents.incident.enums import Status
from incidents.notices.facts import PublicFacts
from incidents.notices.models import Audience

WHAT_YOU_CAN_DO = (
    "- You do not need to do anything to receive your restored data: it comes back to your device "
    "on its own.\n"
    "- Please do **not** reset your phone or remove your account until your data is back: your "
    "device may hold the only copy of recent changes.\n"
    "- Check your contacts, calendar and photos once restored, and tell us if anything is still missing."
)


def when(moment: datetime | None) -> str:
    """A moment as people read it in a letter: 2 October 2009, 03:10 UTC."""
    if moment is None:
        return "a time still being established"
    moment = moment.astimezone(UTC)
    return f"{moment.day} {moment:%B %Y, %H:%M} UTC"


def at(moment: datetime | None, *, day_of: datetime | None = None) -> str:
    """After "began"/"detected": 'at 03:10 UTC' on the day already named (`day_of`), else
    'at 03:10 UTC on 2 October 2009', so a date is never read "at 2 October"."""
    if moment is None:
        return "at a time still being established"
    moment = moment.astimezone(UTC)
    same_day = day_of is not None and day_of.astimezone(UTC).date() == moment.date()
    return f"at {moment:%H:%M} UTC" + ("" if same_day else f" on {day(moment)}")


def day(moment: datetime | None) -> str:
    if moment is None:
        return "recently"
    moment = moment.astimezone(UTC)
    return f"{moment.day} {moment:%B %Y}"


def _categories(facts: PublicFacts) -> str:
    if not facts.data_categories:
        return "We are still establishing which kinds of data were affected."
    lines = "\n".join(f"- {label}" for label in facts.data_categories)
    tail = ("\n\nSome of this is personal data." if facts.personal_data else "")
    return f"The problem affected the following kinds of data stored with us:\n\n{lines}{tail}"


def _recovery(facts: PublicFacts) -> str:
    if not facts.customers_affected:
        return "We are still counting the accounts affected and will tell you as soon as we know more."
    text = (f"As of {when(facts.figures_as_of)}, the data of **{facts.customers_restored or 0:,}** of the "
            f"**{facts.customers_affected:,}** affected customers ({facts.restored_pct:.0f}%) has been restored.")
    if facts.customers_lost:
        text += (f" For {facts.customers_lost:,} customers, some data could not be recovered; we are "
                 "contacting each of them directly.")
    return text


def _doing(facts: PublicFacts) -> str:
    # The latest update is quoted under "What happened"; this says where the work stands.
    if facts.status in (Status.resolved, Status.closed):
        return ("The problem is fixed. We have restored the data that could be recovered and are checking "
                "that every affected account has its data back.")
    return "Our engineers are restoring the affected data from backups and other copies."


def default_draft(facts: PublicFacts, audience: Audience) -> tuple[str, str]:
    """(subject, Markdown body) for a new notice to `audience`. How to reach us is not part of the
    text: every notice document ends with it, from the NOTICE_CONTACT setting."""
    if audience is Audience.regulator:
        return _regulator(facts)
    subject = facts.headline or "Important information about your data"
    began = facts.loss_began_at or facts.declared_at
    happened = (f"On {day(began)}, a fault in our systems caused some customers' data to disappear from "
                f"our service. The problem began {at(began, day_of=began)} and we detected it "
                f"{at(facts.detected_at or facts.declared_at, day_of=began)}.")
    # What customers were told last: the first update is stale by the time a notice goes out.
    if facts.latest_update is not None:
        happened += f"\n\n{facts.latest_update.body}"
    body = "\n\n".join([
        "We are writing to tell you about a problem that affected data you keep with us, what we "
        "are doing about it, and what you can do.",
        f"## What happened\n\n{happened}",
        f"## Which data was affected\n\n{_categories(facts)}",
        f"## What we are doing\n\n{_doing(facts)}",
        f"## Recovery so far\n\n{_recovery(facts)}",
        f"## What you can do\n\n{WHAT_YOU_CAN_DO}",
        "We are sorry for the trouble this has caused.",
    ])
    return subject[:200], body


def _regulator(facts: PublicFacts) -> tuple[str, str]:
    kind = "personal data breach" if facts.personal_data else "data-loss incident"
    subject = f"Notification of a {kind}" + (f": {facts.headline}" if facts.headline else "")
    moments = [("Loss began", facts.loss_began_at), ("Detected", facts.detected_at),
               ("Declared an incident", facts.declared_at), ("Became aware (notification clock)", facts.aware_at),
               ("Resolved", facts.resolved_at)]
    timeline = "\n".join(f"| {label} | {when(at)} |" for label, at in moments if at is not None)
    if facts.categories:
        rows = "\n".join(f"| {c.label} | {c.affected:,} | {c.recovered:,} | {c.unrecoverable:,} |"
                         for c in facts.categories)
        records = ("| Data category | Records affected | Recovered | Unrecoverable |\n"
                   "| --- | ---: | ---: | ---: |\n" + rows)
    else:
        records = _categories(facts)
    subjects = (f"Approximately **{facts.customers_affected:,}** data subjects (customers) are affected; "
                f"{facts.customers_restored or 0:,} have had their data restored, {facts.customers_lost or 0:,} "
                f"have lost some data permanently, and {facts.customers_notified or 0:,} have been notified "
                f"(as of {when(facts.figures_as_of)})." if facts.customers_affected
                else "The number of data subjects affected is still being established.")
    nature = (facts.latest_update.body if facts.latest_update
              else "A fault in our storage systems caused the loss of customer data.")
    body = "\n\n".join([
        f"We are notifying you of a {kind} affecting customers of our service.",
        f"## Nature of the incident\n\n{nature}",
        f"## Key moments\n\n| Moment | When |\n| --- | --- |\n{timeline}",
        f"## Data subjects and records concerned\n\n{subjects}\n\n{records}",
        "## Likely consequences\n\nAffected customers may be temporarily or permanently unable to use the "
        "lost data. We have no indication that the data was disclosed to anyone.",
        f"## Measures taken\n\n{_doing(facts)}\n\n{_recovery(facts)}",
        "We will update this notification as our investigation continues. Our contact point for this "
        "notification is given below.",
    ])
    return subject[:200], body
