"""`flask --app app demo load`: the fictional week-long sync-service data loss for a fresh install."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import exists, func, select

from incidents.auth.models import LoginSession, Role, User
from incidents.extensions import db
from incidents.impact import service as impact
from incidents.incident.enums import Status
from incidents.incident.models import Incident
from incidents.incident.service import get_incident
from incidents.ledger import csvformat, figures
from incidents.ledger.models import LedgerCustomer, LedgerImport, LedgerItem
from incidents.notices.models import NoticeRelease, NoticeVersion
from incidents.obligations.models import IncidentRegime, Obligation, ObligationStatus
from incidents.recovery.enums import WorkstreamStatus
from incidents.recovery.service import flags_for, objectives_for, workstreams_for
from incidents.timeline.models import EntryKind, TimelineEntry, Visibility

DEMO_LOGIN = re.compile(r"Demo login: (\S+@\S+) / (\S+)")
# Names from the real 2009 event that the fictional story must never use.
REAL_NAMES = ["Danger", "Sidekick", "T-Mobile", "TMobile", "Microsoft", "Hitachi"]


def load_demo(runner):
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    return result


def counts(app) -> dict:
    with app.app_context():
        return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
                for model in (User, Incident, TimelineEntry)}


def demo_text(app) -> str:
    """Every piece of text the demo wrote: titles, summaries, timeline, corrections, people."""
    with app.app_context():
        parts = []
        for incident in db.session.scalars(select(Incident)):
            parts += [incident.title, incident.summary, incident.reference]
        for entry in db.session.scalars(select(TimelineEntry)):
            parts += [entry.body, entry.correction_reason or ""]
        for user in db.session.scalars(select(User)):
            parts += [user.name, user.email]
        return "\n".join(parts)


def the_sync_incident(app) -> dict:
    """The demo's main incident (the longest one) with its timeline, read fresh."""
    with app.app_context():
        incidents = db.session.scalars(select(Incident)).all()
        assert incidents, "the demo loaded no incident"
        main = max(incidents, key=lambda i: db.session.scalar(
            select(func.count()).select_from(TimelineEntry).where(TimelineEntry.incident_id == i.id)))
        entries = db.session.scalars(select(TimelineEntry).where(TimelineEntry.incident_id == main.id)
                                     .order_by(TimelineEntry.occurred_at)).all()
        return {
            "reference": main.reference, "title": main.title, "status": main.status,
            "categories": main.data_categories, "personal_data": main.personal_data,
            "owners": {"commander": main.commander_id, "comms_lead": main.comms_lead_id,
                       "executive": main.executive_id},
            "moments": (main.loss_began_at, main.detected_at, main.declared_at, main.mitigated_at),
            "entries": [(e.kind, e.visibility, e.occurred_at, e.recorded_at, e.original_id, e.revision, e.body)
                        for e in entries],
        }


def test_demo_load_builds_the_week_long_sync_incident(app, runner):
    assert counts(app) == {"User": 0, "Incident": 0, "TimelineEntry": 0}
    result = load_demo(runner)
    assert "Loaded demo incident" in result.output

    incident = the_sync_incident(app)
    assert incident["reference"] in result.output
    assert "sync" in incident["title"].lower()
    assert {"contacts", "calendars", "photos"} <= set(incident["categories"])
    assert incident["personal_data"]

    # Owners: an incident commander, a communications lead and an executive, all different people.
    assert all(incident["owners"].values()), incident["owners"]
    assert len(set(incident["owners"].values())) == 3, incident["owners"]

    loss_began, detected, declared, mitigated = incident["moments"]
    assert loss_began < detected <= declared
    assert mitigated - declared >= timedelta(days=7), "the data loss should last about a week or more"

    entries = incident["entries"]
    assert len(entries) >= 10, "a realistic timeline, not a stub"
    kinds = {e[0] for e in entries}
    assert {EntryKind.note, EntryKind.communication, EntryKind.decision, EntryKind.recovery} <= kinds
    visibilities = [e[1] for e in entries]
    assert Visibility.public in visibilities and Visibility.internal in visibilities
    status_changes = [e for e in entries if e[0] is EntryKind.status_change and e[4] is None]
    assert len(status_changes) >= 3, "declaration plus several status changes"
    assert incident["status"] is not Status.investigating
    span = entries[-1][2] - entries[0][2]
    assert span >= timedelta(days=7)
    corrections = [e for e in entries if e[4] is not None]
    assert corrections and all(e[5] >= 2 for e in corrections), "a corrected entry keeps its original"
    originals = {e for e in entries if e[4] is None}
    assert len(originals) + len(corrections) == len(entries)


def test_demo_entries_are_backdated_to_when_they_happened(app, runner):
    load_demo(runner)
    for kind, _vis, occurred_at, recorded_at, *_rest in the_sync_incident(app)["entries"]:
        assert occurred_at.year == 2009
        assert timedelta(0) <= recorded_at - occurred_at <= timedelta(days=2), kind


def test_demo_uses_no_real_company_or_product_names(app, runner):
    result = load_demo(runner)
    text = demo_text(app) + "\n" + result.output
    assert len(text) > 2000  # the check below has the story to look at
    for name in REAL_NAMES:
        assert not re.search(rf"\b{re.escape(name)}\b", text), f"real name {name!r} in the demo"


def test_demo_load_again_does_not_duplicate(app, runner):
    first = load_demo(runner)
    loaded = counts(app)
    assert loaded["Incident"] >= 1
    second = load_demo(runner)
    assert counts(app) == loaded
    assert "Loaded demo incident" not in second.output
    assert DEMO_LOGIN.search(second.output).groups() == DEMO_LOGIN.search(first.output).groups()


def test_demo_load_refuses_a_database_that_already_has_incidents(app, runner, make):
    make.incident(title="A real incident")
    before = counts(app)
    result = load_demo(runner)
    assert counts(app) == before
    assert "not loaded" in result.output


def test_printed_demo_login_works(app, runner, client):
    result = load_demo(runner)
    match = DEMO_LOGIN.search(result.output)
    assert match, result.output
    email, password = match.groups()
    assert password == app.config["DEMO_PASSWORD"]

    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 302
    incident = the_sync_incident(app)
    # The 2009 incident is closed: off the open list, on the list of closed ones.
    assert incident["reference"] not in client.get("/").get_data(as_text=True)
    assert incident["reference"] in client.get("/?status=closed").get_data(as_text=True)
    detail = client.get(f"/incidents/{incident['reference']}")
    assert detail.status_code == 200
    page = detail.get_data(as_text=True)
    assert incident["title"] in page and "Key entries" in page and "Recovery over time" in page
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        assert user.active
        assert db.session.scalar(select(func.count()).select_from(LoginSession)
                                 .where(LoginSession.user_id == user.id)) == 1


def test_demo_login_is_refused_with_a_wrong_password(app, runner, client):
    email, password = DEMO_LOGIN.search(load_demo(runner).output).groups()
    assert client.post("/login", data={"email": email, "password": password + "x"}).status_code == 401


def oct_2009(day: int) -> datetime:
    return datetime(2009, 10, day, tzinfo=UTC)


def test_demo_impact_figures_tell_the_week(app, runner):
    load_demo(runner)
    with app.app_context():
        incident = get_incident(session=db.session, reference=the_sync_incident(app)["reference"])
        updates = impact.series(session=db.session, incident=incident)
        assert len(updates) >= 8, "enough updates to draw a curve"
        assert [u.based_on_id for u in updates] == [None] + [u.id for u in updates[:-1]], "each built on the last"
        assert all(u.as_of.year == 2009 and u.as_of.month == 10 for u in updates)

        affected = [u.customers_affected for u in updates]
        assert affected == sorted(affected) and affected[0] < affected[-1] / 5, "estimates grow, then settle"
        latest = updates[-1]
        assert 100_000 <= latest.customers_affected <= 250_000, "a minority of ~1 million subscribers"
        assert oct_2009(20) <= latest.as_of < oct_2009(23)
        assert latest.customers_restored >= 0.9 * latest.customers_affected, "most of it restored"
        assert 0 < latest.customers_lost <= 0.05 * latest.customers_affected, "a few thousand lost for good"
        assert all(u.customers_restored == 0 for u in updates if u.as_of < oct_2009(16))
        assert all(u.customers_notified == 0 for u in updates if u.as_of < oct_2009(10))
        assert latest.customers_notified == latest.customers_affected

        categories = {c.category: c for c in latest.categories}
        assert set(categories) == set(incident.data_categories)
        assert all(c.recovered_pct >= 90 and c.records_unrecoverable > 0 for c in categories.values())


def test_demo_workstreams_have_owners_progress_and_trouble(app, runner):
    load_demo(runner)
    with app.app_context():
        incident = get_incident(session=db.session, reference=the_sync_incident(app)["reference"])
        workstreams = workstreams_for(session=db.session, incident=incident)
        for category in incident.data_categories:
            mine = [w for w in workstreams if w.category == category]
            assert 3 <= len(mine) <= 4, (category, [w.name for w in mine])
        assert all(w.owner is not None and w.owner.active and w.owner.role is Role.responder for w in workstreams)
        assert len({w.owner_id for w in workstreams}) >= 4, "the work is spread over several owners"
        # The incident is over: every line of work finished (one abandoned on purpose), none overdue.
        statuses = [w.status for w in workstreams]
        assert statuses.count(WorkstreamStatus.abandoned) == 1
        assert set(statuses) == {WorkstreamStatus.done, WorkstreamStatus.abandoned}
        assert not any(flags_for(w, now=datetime.now(UTC)).overdue for w in workstreams)
        for w in workstreams:
            assert w.progress, f"{w.name} has no progress reports"
            assert w.done == w.progress[-1].done <= w.target
            assert all(p.as_of.year == 2009 for p in w.progress)


def test_demo_recovery_objectives_are_both_missed(app, runner):
    load_demo(runner)
    with app.app_context():
        incident = get_incident(session=db.session, reference=the_sync_incident(app)["reference"])
        objectives = objectives_for(incident)
        assert objectives.rpo.target == timedelta(hours=24) and objectives.rto.target == timedelta(hours=72)
        assert objectives.rpo.missed and objectives.rto.missed and objectives.rto.final
        assert timedelta(days=19) <= objectives.rpo.actual < timedelta(days=20), "the backup was 19 days old"
        assert oct_2009(20) <= incident.restore_verified_at < oct_2009(23)


def test_demo_incident_page_draws_the_recovery_chart(app, runner, client):
    email, password = DEMO_LOGIN.search(load_demo(runner).output).groups()
    client.post("/login", data={"email": email, "password": password})
    reference = the_sync_incident(app)["reference"]
    with app.app_context():
        incident = get_incident(session=db.session, reference=reference)
        latest = impact.latest_update(session=db.session, incident=incident)
        count = len(workstreams_for(session=db.session, incident=incident))
    page = client.get(f"/incidents/{reference}").get_data(as_text=True)
    svg = re.search(r'<svg[^>]*class="recovery-chart"[^>]*>', page).group(0)
    assert f'data-latest-affected="{latest.customers_affected}"' in svg
    assert f'data-latest-restored="{latest.customers_restored}"' in svg
    # The page draws the figures; its workstream list beside the chart has every workstream's bar.
    assert 'data-workstreams="0"' in svg
    assert len(re.findall(r'<li class="ws[^"]*" id="ws-\d+"', page)) == count > 0


def test_the_demo_history_verifies_against_its_audit_log(app, runner):
    """The demo's rows (backdated by its clock) match what the audit log recorded: verify passes."""
    load_demo(runner)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "history rows match the log" in result.output


def test_the_demo_tells_one_consistent_story(app, runner, client):
    """The 2009 incident is resolved and closed inside and in public, with its work done; one
    incident is happening now; the status page and the notice promise the same thing."""
    email, password = DEMO_LOGIN.search(load_demo(runner).output).groups()
    sync_ref = the_sync_incident(app)["reference"]
    with app.app_context():
        incidents = {i.reference: i for i in db.session.scalars(select(Incident))}
        sync = incidents[sync_ref]
        sync_public_id = sync.public_id
        assert sync.status is Status.closed and sync.resolved_at is not None and sync.closed_at is not None
        (live,) = [i for i in incidents.values() if i is not sync]
        assert live.status not in (Status.resolved, Status.closed)
        assert datetime.now(UTC) - live.declared_at < timedelta(days=1), "the live incident is recent"
        live_ref, live_public_id = live.reference, live.public_id
        assert [w.status for w in workstreams_for(session=db.session, incident=live)] == [
            WorkstreamStatus.in_progress]
        db.session.rollback()
    published = {i["name"]: i["status"] for i in client.get("/status/api/v2/incidents.json").get_json()["incidents"]}
    assert published["Contacts, calendars and photos not syncing"] == "resolved"
    unresolved = client.get("/status/api/v2/incidents/unresolved.json").get_json()["incidents"]
    assert [i["id"] for i in unresolved] == [live_public_id]

    client.post("/login", data={"email": email, "password": password})
    page = client.get(f"/incidents/{sync_ref}").get_data(as_text=True)
    assert "overdue" not in page.lower()
    assert live_ref in client.get("/").get_data(as_text=True)
    status_page = client.get(f"/status/incidents/{sync_public_id}").get_data(as_text=True)
    with app.app_context():
        released = db.session.scalars(select(NoticeVersion.body).join(NoticeRelease)).all()
    assert released, "the demo releases its customer notice"
    notice_text = " ".join(released).replace("\n", " ")
    assert "three months of Skylark Sync Plus free" in notice_text
    assert "three months of Skylark Sync Plus free" in status_page
    assert "month of service free" not in status_page


def test_the_demo_incident_shows_its_obligations_met_and_missed(app, runner, client):
    """GDPR and two US states with the 2009 timings: the authority was told after its 72 hours and
    Washington's attorney general late; customers and California in time."""
    email, password = DEMO_LOGIN.search(load_demo(runner).output).groups()
    client.post("/login", data={"email": email, "password": password})
    reference = the_sync_incident(app)["reference"]
    with app.app_context():
        incident = get_incident(session=db.session, reference=reference)
        found = {o.rule_id: o for o in db.session.scalars(select(Obligation).where(
            Obligation.incident_id == incident.id))}
        assert found["gdpr-33-authority"].due_at == incident.aware_at + timedelta(hours=72)
        assert found["gdpr-33-authority"].filed_at > found["gdpr-33-authority"].due_at
        statuses = {rule_id: o.status for rule_id, o in found.items()}
        # Every customer-facing filing points at the released customer notice.
        notice_versions = {o.notice_version_id for o in found.values() if o.rule_id.endswith(("residents",
                                                                                               "individuals"))}
        released = db.session.scalar(select(NoticeRelease.version_id).limit(1))
    assert statuses == {
        "gdpr-33-authority": ObligationStatus.late, "gdpr-34-individuals": ObligationStatus.filed,
        "us-ca-residents": ObligationStatus.filed, "us-ca-attorney-general": ObligationStatus.filed,
        "us-wa-residents": ObligationStatus.filed, "us-wa-attorney-general": ObligationStatus.late}
    assert notice_versions == {released}
    page = client.get(f"/incidents/{reference}/obligations").get_data(as_text=True)
    assert "DPA-2009-0412" in page and "Filed late" in page
    deadlines = client.get("/deadlines").get_data(as_text=True)
    assert reference not in deadlines  # nothing of the 2009 incident is still pending


def test_the_demo_customer_notice_shows_the_one_item_the_law_asks_that_it_lacks(app, runner, client):
    email, password = DEMO_LOGIN.search(load_demo(runner).output).groups()
    client.post("/login", data={"email": email, "password": password})
    reference = the_sync_incident(app)["reference"]
    with app.app_context():
        notice_id = db.session.scalar(select(NoticeVersion.notice_id).join(NoticeRelease).limit(1))
    page = client.get(f"/incidents/{reference}/notices/{notice_id}").get_data(as_text=True)
    assert re.search(r"<strong>1 of \d+ not yet ticked as covered</strong>", page)


def test_demo_status_page_has_groups_maintenance_uptime_and_subscribers(app, runner, client):
    """Issue #16's demo: two component groups, a past and an upcoming maintenance, today's incident
    on the uptime bars, and a few subscribers, none of them mailed about the replayed history."""
    from incidents.jobs import BackgroundJob, JobState
    from incidents.subscribers.models import Subscriber
    from tests.helpers import uptime_bars

    load_demo(runner)
    components = client.get("/status/api/v2/components.json").get_json()["components"]
    assert sorted(c["name"] for c in components if c["group"]) == ["Photos", "Sync"]
    maintenance = client.get("/status/api/v2/scheduled-maintenances.json").get_json()["scheduled_maintenances"]
    assert sorted(m["status"] for m in maintenance) == ["completed", "scheduled"]
    assert len(client.get("/status/api/v2/scheduled-maintenances/upcoming.json").get_json()
               ["scheduled_maintenances"]) == 1
    page = client.get("/status/").get_data(as_text=True)
    today = f"{datetime.now(UTC):%d %b %Y}"
    bars = uptime_bars(page)
    assert any(shade == "degraded_performance" and text.startswith(today) and "Some photo previews missing" in text
               for shade, text in bars)
    assert any(shade == "under_maintenance" and "Maintenance: Photo storage disk replacement" in text
               for shade, text in bars)
    with app.app_context():
        active = [s for s in db.session.scalars(select(Subscriber)) if s.active]
        assert {s.kind for s in active} == {"email", "webhook"} and len(active) >= 4
        assert db.session.scalar(select(func.count(BackgroundJob.id)).where(
            BackgroundJob.kind == "subscribers.fan_out", BackgroundJob.state == JobState.queued)) == 0


def _ledger_breaks_its_rules(session, incident_id: int) -> dict[str, int]:
    """Customers whose outcome does not follow from their items, and items the story cannot explain."""
    c, i = LedgerCustomer, LedgerItem
    mine = select(c.id).where(c.incident_id == incident_id)

    def customers_where(*conditions):
        return session.scalar(select(func.count()).select_from(c).where(c.incident_id == incident_id, *conditions))

    def items_where(*conditions):
        return session.scalar(select(func.count()).select_from(i).where(i.customer_id.in_(mine), *conditions))

    def having(state):
        return select(i.customer_id).where(i.state == state)

    def without_items(*conditions):
        # NOT EXISTS, not NOT IN: PostgreSQL runs NOT IN over a subquery larger than work_mem as a
        # scan per customer (181,250 x 476,000 rows: it never finished); NOT EXISTS is an anti-join.
        return ~exists().where(i.customer_id == c.id, *conditions)

    return {
        "restored with an item not restored": customers_where(c.outcome == "restored", c.id.in_(
            select(i.customer_id).where(i.state != "restored"))),
        "lost without a lost item": customers_where(c.outcome == "lost", without_items(i.state == "lost")),
        "waiting without an item to come": customers_where(c.outcome == "waiting",
                                                           without_items(i.state == "affected")),
        "waiting with a lost item": customers_where(c.outcome == "waiting", c.id.in_(having("lost"))),
        "customers without items": customers_where(without_items()),
        "restored items without a workstream": items_where(i.state == "restored", i.workstream_id.is_(None)),
        "restored or lost outside 16-22 October": items_where(
            i.state != "affected", (i.changed_at < oct_2009(16)) | (i.changed_at >= oct_2009(23))),
    }


def test_the_demo_ledger_holds_the_customers_of_the_last_impact_update(app, runner, client):
    """Issue #14's demo: one ledger row per affected subscriber, whose kept figures are the story's
    latest impact update, California and Washington as many as the obligations say, every customer
    told by the released notice, one applied import; and support can look a demo customer up."""
    app.config["DEMO_LEDGER_SAMPLE"] = 1.0  # the full size, as `make run` loads it (other tests use 1%)
    email, password = DEMO_LOGIN.search(load_demo(runner).output).groups()
    reference = the_sync_incident(app)["reference"]
    with app.app_context():
        incident = get_incident(session=db.session, reference=reference)
        latest = impact.latest_update(session=db.session, incident=incident)
        kept = figures.figures_of(session=db.session, incident_id=incident.id)
        assert (kept.total.affected, kept.total.restored, kept.total.lost, kept.total.notified) == (
            latest.customers_affected, latest.customers_restored, latest.customers_lost,
            latest.customers_notified) == (181_250, 174_120, 3_410, 181_250)
        categories = set(incident.data_categories)
        assert set(kept.categories) == categories
        residents = dict(db.session.execute(select(IncidentRegime.regime, IncidentRegime.residents).where(
            IncidentRegime.incident_id == incident.id, IncidentRegime.residents.is_not(None))).all())
        assert {"us-ca": kept.jurisdictions["US-CA"].affected, "us-wa": kept.jurisdictions["US-WA"].affected} \
            == residents
        assert len(kept.jurisdictions) > 40 and {"CA-ON", "GB-ENG", "DE-BY", "FR-IDF", "AU-NSW", "SG"} \
            <= set(kept.jurisdictions)
        places = db.session.execute(select(LedgerCustomer.country, LedgerCustomer.region).distinct()).all()
        for country, region in places:  # each place as an import would take it
            row = csvformat.check_row(2, {"customer_id": "x", "data_categories": "contacts", "country": country,
                                          "region": region or ""})
            assert isinstance(row, csvformat.Row), row
        broken = _ledger_breaks_its_rules(db.session, incident.id)
        assert {rule: n for rule, n in broken.items() if n} == {}, broken
        released = db.session.scalar(select(NoticeRelease.version_id).limit(1))
        assert db.session.execute(select(LedgerCustomer.notice_version_id, func.count()).where(
            LedgerCustomer.incident_id == incident.id).group_by(LedgerCustomer.notice_version_id)).all() == [
            (released, 181_250)]
        (record,) = db.session.scalars(select(LedgerImport).where(LedgerImport.incident_id == incident.id))
        assert (record.state, record.rows_applied, record.rows_bad) == ("applied", 181_250, 0)
        assert record.created_by_id == incident.comms_lead_id and len(record.sha256) == 64
        assert db.session.scalar(select(func.count()).select_from(LedgerCustomer).where(
            LedgerCustomer.import_id == record.id)) == 181_250

    client.post("/login", data={"email": email, "password": password})
    (found,) = client.get("/customers?customer=SKY-0000001&format=json").get_json()["found"]
    assert found["customer_id"] == "SKY-0000001" and found["incident"]["reference"] == reference
    assert found["categories"] and {c["category"] for c in found["categories"]} <= categories
    assert found["notified"]["notice_version"] == 2 and found["notified"]["channel"] == found["channel"]
    assert all(c["workstream"] for c in found["categories"] if c["state"] == "restored")
    overview = client.get(f"/incidents/{reference}/ledger").get_data(as_text=True)
    assert "181,250" in overview and "skylark-affected-customers.csv" in overview


def test_a_sampled_demo_ledger_keeps_the_story_s_proportions(app, runner):
    """The suite's 1% demo ledger: the same shares restored, lost and told, California first."""
    load_demo(runner)
    reference = the_sync_incident(app)["reference"]
    with app.app_context():
        incident = get_incident(session=db.session, reference=reference)
        kept = figures.figures_of(session=db.session, incident_id=incident.id)
    assert (kept.total.affected, kept.total.restored, kept.total.lost, kept.total.notified) == (1_812, 1_741, 34, 1_812)
    assert next(iter(kept.jurisdictions)) == "US-CA" and kept.jurisdictions["US-CA"].affected == 1_184


def test_the_demo_catalogue_puts_the_inherited_storage_cluster_first(app, runner):
    """Issue #15's demo: about 30 systems, the audit flags each kind of problem at least once, the
    cluster inherited with the acquisition comes first (no owner, backup failing for weeks, restore
    never tested), and the 2009 incident names it as it stood when declared."""
    from incidents.db import utcnow
    from incidents.systems import audit, audit_kept
    from incidents.systems.models import IncidentSystem, System

    load_demo(runner)
    reference = the_sync_incident(app)["reference"]
    with app.app_context():
        taken = audit_kept.take_audit(session=db.session, clock=audit.Clock(now=utcnow()))
        assert 25 <= taken.systems == db.session.scalar(select(func.count()).select_from(System)) <= 35
        assert all(taken.counts[p.code] for p in audit.PROBLEMS), taken.counts  # every problem shown once
        assert 0 < taken.all_flagged < taken.systems / 2, "most of the catalogue is healthy"
        worst = taken.rows[0]
        assert worst.name.startswith("Halcyon storage cluster") and worst.owner_name is None
        assert {"no_owner", "backup_failing", "backup_overdue", "restore_never_tested"} <= set(worst.problems)
        assert utcnow() - worst.failing_since > timedelta(weeks=3)

        incident = get_incident(session=db.session, reference=reference)
        (named,) = db.session.scalars(select(IncidentSystem).where(IncidentSystem.incident_id == incident.id))
        assert named.system_id == worst.system_id and named.as_of == incident.declared_at
        assert named.last_backup_ok_at == incident.last_good_backup_at  # the recovery story's fact
        assert named.last_backup_report_ok is False and named.owner_name is None
        assert named.last_restore_test_at is None and "backup_failing" in named.problems
