"""The demo's affected-customer ledger: one row per Skylark Sync subscriber the story counts, so the
ledger's figures are the incident's latest impact update, customer for customer.

The list was imported by the communications lead on 9 October, once the check-in analysis had the
final count; the notice released on 22 October reached everyone. Every restored category names the
workstream that brought it back, dated along the story's own restore curve (contacts first, photos
last); the customers still waiting have photos or calendars to come; the lost ones have at least one
category gone for good. California and Washington hold the residents the obligations story names.

Deterministic (a seeded `random.Random`) and written in bulk with SQLAlchemy Core, as the ledger's
own import writes it: some 650,000 ORM objects (customers and their items) would take minutes, and
the ledger is not audited row by row. The import itself is one audit event, as a real one is.
"""
from __future__ import annotations

import bisect
import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from incidents.audit import recorder as audit
from incidents.demo import recovery_story
from incidents.demo.obligations_story import RESIDENTS
from incidents.impact.service import latest_update
from incidents.incident.models import Incident
from incidents.ledger import figures
from incidents.ledger.models import LedgerCustomer, LedgerImport, LedgerItem
from incidents.notices.models import Audience, Channel, Notice, NoticeRelease, NoticeVersion
from incidents.recovery.enums import WorkstreamStatus
from incidents.recovery.models import Workstream

SEED = 20091002
BATCH = 10_000
FILENAME = "skylark-affected-customers.csv"
HEADER = "customer_id,data_categories,country,region,channel,records\n"
IMPORTED_AT = datetime(2009, 10, 9, 12, 40, tzinfo=UTC)  # after the check-in analysis settled the count
APPLIED_AT = IMPORTED_AT + timedelta(minutes=3)
RESTORES_BEGAN = datetime(2009, 10, 16, 9, 0, tzinfo=UTC)  # "Staged restore started"

# Share of the affected subscribers who kept each kind of data in the store (their records per
# category average recovery_story.RECORDS_PER_CUSTOMER over all of them).
HOLDERS = {"contacts": 0.97, "calendars": 0.71, "tasks": 0.36, "photos": 0.58}
CHANNELS = {"email": 93, "in_app": 4, "letter": 3}
# Which line of work gets the credit for a restored category, by the workstream's source.
CREDIT = {"vendor_tool": 70, "snapshot": 70, "backup": 20, "device_resync": 6, "other": 4}

# Where the rest of the affected subscribers live (relative weights; California and Washington are
# fixed by the obligations story). ISO 3166-2 subdivisions without the country; Singapore has none.
ELSEWHERE = {
    "US": {"TX": 4200, "NY": 3300, "OR": 3200, "FL": 3000, "AZ": 2900, "NV": 2600, "IL": 1700, "CO": 1300,
           "NJ": 1100, "PA": 1100, "MA": 1000, "GA": 1000, "VA": 1000, "UT": 900, "OH": 900, "MI": 900,
           "NC": 900, "HI": 600, "MN": 600, "MD": 600, "ID": 500, "MO": 500, "TN": 500, "WI": 450, "IN": 450,
           "NM": 400, "SC": 350, "CT": 350, "AL": 300, "LA": 300, "OK": 300, "AK": 250, "KY": 250, "DC": 200,
           "IA": 200, "KS": 200, "AR": 150, "NE": 130, "NH": 130, "MS": 120, "MT": 120, "ME": 100, "RI": 100,
           "DE": 90, "WV": 80, "WY": 60, "SD": 60, "VT": 60, "ND": 50},
    "CA": {"BC": 1100, "ON": 1000, "QC": 500, "AB": 500, "MB": 120, "NS": 100, "SK": 80},
    "GB": {"ENG": 1900, "SCT": 260, "WLS": 150, "NIR": 90},
    "DE": {"NW": 460, "BY": 420, "BW": 380, "BE": 260, "HE": 230, "NI": 190, "HH": 150, "SN": 110},
    "FR": {"IDF": 620, "ARA": 260, "PAC": 190, "OCC": 150, "NAQ": 140, "HDF": 120, "GES": 110},
    "AU": {"NSW": 420, "VIC": 360, "QLD": 230, "WA": 120, "SA": 70, "ACT": 40},
    "SG": {None: 750},
}


@dataclass(frozen=True)
class Target:
    """The counts the ledger must come to: the latest impact update's, or a sample of them."""

    customers_affected: int
    customers_restored: int
    customers_lost: int
    customers_notified: int
    sample: float = 1.0

    @classmethod
    def of(cls, latest, sample: float) -> Target:
        # Lost and restored are rounded alone; affected keeps the waiting ones' share too.
        def part(n: int) -> int:
            return round(n * sample)

        return cls(part(latest.customers_affected), part(latest.customers_restored), part(latest.customers_lost),
                   part(latest.customers_notified), sample)


def play(*, session: Session, incident: Incident, sample: float = 1.0) -> LedgerImport:
    """Write the incident's ledger from its latest impact update, as one applied import (the caller
    commits); raises if the ledger's figures come out different from that update.

    `sample` below 1 writes that share of the customers in the same proportions (DEMO_LEDGER_SAMPLE:
    the test suite loads the demo dozens of times and needs the ledger, not its size)."""
    update = latest_update(session=session, incident=incident)
    if update is None:
        raise RuntimeError(f"{incident.reference} has no impact figures to build its ledger from.")
    latest = Target.of(update, sample)
    story = _Story(session, incident, random.Random(SEED))
    record = LedgerImport(incident_id=incident.id, created_by_id=incident.comms_lead_id, created_at=IMPORTED_AT,
                          filename=FILENAME, size=0, sha256="", mode="all_or_nothing", state="applied")
    session.add(record)
    session.flush()
    record.size, record.sha256 = _write(session, incident, story.customers(latest, record.id))
    count = latest.customers_affected
    record.finished_at = APPLIED_AT
    record.rows_read = record.rows_applied = record.customers_new = count
    record.message = f"Applied {count:,} rows ({count:,} new customers)."
    figures.recompute(session=session, incident_id=incident.id)
    _check(session, incident, latest)
    audit.record(session, action=audit.LEDGER_IMPORT, entity_type="ledger_import", entity_id=record.public_id,
                 actor_id=record.created_by_id, incident_id=incident.id,
                 after={"filename": record.filename, "sha256": record.sha256, "bytes": record.size,
                        "mode": record.mode, "rows": count, "applied": count, "bad": 0, "customers_new": count})
    return record


def _write(session: Session, incident: Incident, customers: Iterator[tuple[dict, list[dict], str]]) -> tuple[int, str]:
    """Insert the customers and their items in batches; return the size and SHA-256 of their CSV."""
    digest, size = hashlib.sha256(HEADER.encode()), len(HEADER)
    table = LedgerCustomer.__table__
    for batch in _batches(customers):
        _insert(session, table, [row for row, _, _ in batch])
        first, last = batch[0][0]["customer_ref"], batch[-1][0]["customer_ref"]  # in order: SKY-0000001...
        ids = dict(session.execute(select(table.c.customer_ref, table.c.id).where(
            table.c.incident_id == incident.id, table.c.customer_ref.between(first, last))).all())
        _insert(session, LedgerItem.__table__, [{"customer_id": ids[row["customer_ref"]], **item}
                                                for row, items, _ in batch for item in items])
        text = "".join(line for _, _, line in batch).encode()
        digest.update(text)
        size += len(text)
    return size, digest.hexdigest()


def _insert(session: Session, table: Table, rows: list[dict]) -> None:
    """Rows into a ledger table, in the session's transaction: one executemany of a Core insert, or
    on PostgreSQL a COPY, as the ledger's import stages rows (psycopg's executemany sends rows one
    at a time: the demo ledger took twice as long that way)."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        connection.execute(insert(table), rows)
        return
    columns = list(rows[0])
    with connection.connection.driver_connection.cursor() as cursor, \
            cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[column] for column in columns])


def _check(session: Session, incident: Incident, latest) -> None:
    """The ledger must say what the story's last impact update says."""
    kept = figures.figures_of(session=session, incident_id=incident.id).total
    wanted = (latest.customers_affected, latest.customers_restored, latest.customers_lost, latest.customers_notified)
    if (kept.affected, kept.restored, kept.lost, kept.notified) != wanted:
        raise RuntimeError(f"The demo ledger of {incident.reference} counts {kept}, not the latest impact "
                           f"update's affected, restored, lost, notified {wanted}.")


def _batches(rows: Iterator) -> Iterator[list]:
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def quotas(total: int, weights: dict, fixed: dict | None = None) -> dict:
    """`total` shared out exactly: the fixed amounts first, the rest in proportion to `weights`
    (largest remainders get the odd ones)."""
    fixed = dict(fixed or {})
    rest = total - sum(fixed.values())
    whole = sum(weights.values())
    shares = {key: rest * weight / whole for key, weight in weights.items()}
    out = {key: int(share) for key, share in shares.items()}
    for key in sorted(shares, key=lambda k: out[k] - shares[k])[:rest - sum(out.values())]:
        out[key] += 1
    return {**fixed, **out}


def where_they_live(total: int, sample: float = 1.0) -> dict[tuple[str, str | None], int]:
    """Affected customers per (country, region): the obligations' residents, the rest by weight."""
    weights = {(country, region): weight for country, regions in ELSEWHERE.items()
               for region, weight in regions.items()}
    return quotas(total, weights, {("US", "CA"): round(RESIDENTS["us-ca"] * sample),
                                   ("US", "WA"): round(RESIDENTS["us-wa"] * sample)})


def _curve_moments(points: list[tuple[datetime, float]], steps: int = 500) -> list[datetime]:
    """`steps` moments spread as the curve (time, percent done) rises: drawing one at random dates
    a record the way the story's figures say the records came."""
    times, pcts = [t for t, _ in points], [p for _, p in points]
    if not pcts[-1]:
        return [times[-1]]
    out = []
    for n in range(steps):
        share = pcts[-1] * (n + 0.5) / steps
        at = bisect.bisect_left(pcts, share)
        (t0, p0), (t1, p1) = (times[at - 1], pcts[at - 1]), (times[at], pcts[at])
        out.append((t0 + (t1 - t0) * ((share - p0) / (p1 - p0))).replace(second=0, microsecond=0))
    return out


class _Story:
    """What the generator needs from the incident: workstreams, the notice, the restore curves."""

    def __init__(self, session: Session, incident: Incident, rng: random.Random):
        self.session, self.incident, self.rng = session, incident, rng
        self.restored_at: dict[str, list[datetime]] = {}
        self.lost_at: dict[str, list[datetime]] = {}
        self.final: dict[str, tuple[float, float]] = {}  # percent recovered, unrecoverable
        updates = [u for u in recovery_story.impact_updates() if u.at > RESTORES_BEGAN]
        for category in HOLDERS:
            back = [(RESTORES_BEGAN, 0.0)] + [(u.at, u.recovered.get(category, 0.0)) for u in updates]
            gone = [(RESTORES_BEGAN, 0.0)] + [(u.at, u.unrecoverable.get(category, 0.0)) for u in updates]
            self.restored_at[category], self.lost_at[category] = _curve_moments(back), _curve_moments(gone)
            self.final[category] = (back[-1][1], gone[-1][1])
        # Weighted draws as one `choice` from a list holding each option `weight` times: 650,000 of
        # them, and `choices` would take twice as long.
        self.credit: dict[str, list[int]] = {}  # category: workstream ids, each as often as its weight
        for workstream in session.scalars(select(Workstream).where(
                Workstream.incident_id == incident.id, Workstream.status != WorkstreamStatus.abandoned)
                .order_by(Workstream.id)):
            self.credit.setdefault(workstream.category, []).extend(
                [workstream.id] * CREDIT.get(workstream.source, 4))
        self.channels = [channel for channel, weight in CHANNELS.items() for _ in range(weight)]
        self.notice_version_id, sent = self._released_notice()
        self.told_at = {"email": [sent + timedelta(minutes=m) for m in range(150)],  # sent in batches
                        "in_app": [sent + timedelta(minutes=10 + m) for m in range(60)],  # as apps open
                        "letter": [(sent + timedelta(days=1)).replace(hour=10, minute=0)]}  # posted next day

    def _released_notice(self) -> tuple[int | None, datetime]:
        """The customer notice version that went out by e-mail, and when; else the last figures' time."""
        row = self.session.execute(
            select(NoticeRelease.version_id, NoticeRelease.released_at)
            .join(NoticeVersion, NoticeRelease.version_id == NoticeVersion.id).join(Notice)
            .where(Notice.incident_id == self.incident.id, Notice.audience == Audience.customers,
                   NoticeRelease.channel == Channel.email)
            .order_by(NoticeRelease.released_at).limit(1)).first()
        if row is None:
            return None, latest_update(session=self.session, incident=self.incident).as_of
        return row.version_id, row.released_at

    def customers(self, latest, import_id: int) -> Iterator[tuple[dict, list[dict], str]]:
        """(customer row, its item rows, its CSV line), for SKY-0000001 onwards."""
        rng, count = self.rng, latest.customers_affected
        places = [place for place, n in where_they_live(count, latest.sample).items() for _ in range(n)]
        outcomes = (["lost"] * latest.customers_lost + ["restored"] * latest.customers_restored)
        outcomes += ["waiting"] * (count - len(outcomes))
        told = [True] * latest.customers_notified + [False] * (count - latest.customers_notified)
        for column in (places, outcomes, told):
            rng.shuffle(column)
        for n, ((country, region), outcome, notified) in enumerate(zip(places, outcomes, told, strict=True), 1):
            ref = f"SKY-{n:07d}"
            channel = rng.choice(self.channels)
            categories = [c for c, share in HOLDERS.items() if rng.random() < share] or ["contacts"]
            items = self._items(categories, outcome)
            records = sum(int(rng.expovariate(HOLDERS[c] / recovery_story.RECORDS_PER_CUSTOMER[c])) + 1
                          for c in categories)
            notified_at = rng.choice(self.told_at[channel]) if notified else None
            row = {"incident_id": self.incident.id, "customer_ref": ref, "country": country, "region": region,
                   "channel": channel, "records": records, "outcome": outcome, "notified_at": notified_at,
                   "notified_channel": channel if notified else None,
                   "notice_version_id": self.notice_version_id if notified else None,
                   "bounced_at": None, "import_id": import_id, "created_at": APPLIED_AT,
                   "updated_at": max([item["changed_at"] for item in items] + [notified_at or APPLIED_AT])}
            line = f"{ref},{';'.join(categories)},{country},{region or ''},{channel},{records}\n"
            yield row, items, line

    def _items(self, categories: list[str], outcome: str) -> list[dict]:
        """Every category restored, but for a lost customer's lost one(s) or a waiting one's pending."""
        rng, states = self.rng, dict.fromkeys(categories, "restored")
        if outcome == "lost":  # the kinds of data most often gone for good are the likeliest
            unrecoverable = [self.final[c][1] for c in categories]
            for _ in range(1 + (rng.random() < 0.3)):  # a third lost two kinds of data
                states[rng.choices(categories, unrecoverable)[0]] = "lost"
        elif outcome == "waiting":  # photos were still restoring when the story ends
            pending = [100 - sum(self.final[c]) for c in categories]
            states[rng.choices(categories, pending)[0]] = "affected"
        items = []
        for category, state in states.items():
            workstream_id, changed_at = None, APPLIED_AT
            if state == "restored":
                changed_at = rng.choice(self.restored_at[category])
                if category in self.credit:
                    workstream_id = rng.choice(self.credit[category])
            elif state == "lost":
                changed_at = rng.choice(self.lost_at[category])
            items.append({"category": category, "state": state, "changed_at": changed_at,
                          "workstream_id": workstream_id})
        return items
