"""The ownership audit: each problem flagged in its own scenario and not in its healthy twin (fixed
clocks), worst first, the SQL and Python spellings agreeing, the page, its JSON, the CLI, and a
constant number of SQL statements whatever the catalogue's size."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from incidents.auth.models import Role, User
from incidents.auth.service import change_role
from incidents.db import clock_at, utcnow
from incidents.extensions import db
from incidents.systems import audit, audit_kept, heartbeats, service
from incidents.systems.models import System, SystemAudit, SystemAuditSetting
from tests.helpers import queries_for

NOW = datetime(2024, 6, 3, 12, 0, tzinfo=UTC)
CLOCK = audit.Clock(now=NOW, restore_test_max_days=90)
ALL = 10_000


@dataclass(frozen=True)
class Spec:
    """A system as a test wants it at `now`: healthy unless told otherwise."""

    name: str = ""
    owner: bool = True
    owner_disabled: bool = False
    personal: bool = True
    method: str = "restic to object storage"
    rpo: int | None = 24 * 60
    reports: tuple[tuple[float, bool], ...] = ((1, True),)  # (hours before now, ok), in arrival order
    restore: tuple[float, bool] | None = (10, True)  # (days before now, ok)
    origin: str = "built"
    reviewed: bool = False
    retired: bool = False


def build(app, make, specs: list[Spec], *, now: datetime = NOW) -> dict[str, int]:
    """Create the systems through the services, with their reports and restore tests at their
    times; returns their ids by name."""
    emails = {"active": make.user(role="responder"), "disabled": make.user(role="responder")}
    with app.app_context():
        people = {key: db.session.scalar(sa.select(User).where(User.email == email)) for key, email in emails.items()}
        ids = {}
        for n, spec in enumerate(specs):
            name = spec.name or f"System {n:03d}"
            owner = (people["disabled"] if spec.owner_disabled else people["active"]) if spec.owner else None
            with clock_at(now - timedelta(days=400)):
                system = service.create_system(session=db.session, actor=people["active"], fields_=service.SystemFields(
                    name=name, owner=owner, personal_data=spec.personal, origin=spec.origin,
                    origin_name={"acquired": "Nimbus Storage", "vendor": "Mailco"}.get(spec.origin, ""),
                    backup_method=spec.method, rpo_target_minutes=spec.rpo))
            with clock_at(now):
                for hours, ok in spec.reports:
                    heartbeats.record_report(session=db.session, system_id=system.id, rpo_target_minutes=spec.rpo,
                                             ok=ok, at=now - timedelta(hours=hours))
                if spec.restore:
                    service.record_restore_test(session=db.session, actor=people["active"], system=system,
                                                tested_at=now - timedelta(days=spec.restore[0]), ok=spec.restore[1],
                                                performed_by=None)
                if spec.reviewed:
                    service.mark_reviewed(session=db.session, actor=people["active"], system=system)
                if spec.retired:
                    service.retire_system(session=db.session, actor=people["active"], system=system)
            ids[name] = system.id
        change_role(session=db.session, user=people["disabled"], role=Role.responder, active=False)
        db.session.commit()
    return ids


def listed(app, clock: audit.Clock = CLOCK, **options) -> audit.Audit:
    with app.app_context():
        return audit_kept.take_audit(session=db.session, clock=clock, per_page=ALL, **options)


def problems_by_id(app, clock: audit.Clock = CLOCK) -> dict[int, list[str]]:
    return {row.system_id: row.problems for row in listed(app, clock).rows}


# --- each problem, flagged and not -------------------------------------------------------------------

SCENARIOS = {
    "personal_data_unowned": ([Spec(owner=False), Spec(owner_disabled=True)], Spec(owner=False, personal=False)),
    "backup_failing": ([Spec(reports=((30, True), (2, False)))], Spec(reports=((30, False), (2, True)))),
    # 25 h old with a 24 h RPO is overdue, 1 h old is not; never reported at all is overdue too.
    "backup_overdue": ([Spec(reports=((25, True),)), Spec(reports=()), Spec(reports=((1, False),))],
                       Spec(reports=((23, True),))),
    "no_backup_policy": ([Spec(method=""), Spec(method="   "), Spec(rpo=None)], Spec()),
    "restore_failed": ([Spec(restore=(5, False))], Spec(restore=(5, True))),
    "owner_disabled": ([Spec(owner_disabled=True, personal=False)], Spec(personal=False)),
    "no_owner": ([Spec(owner=False, personal=False)], Spec(personal=False)),
    "restore_never_tested": ([Spec(restore=None)], Spec(restore=(89, True))),
    "restore_test_old": ([Spec(restore=(91, True))], Spec(restore=(89, True))),
    "acquired_unreviewed": ([Spec(origin="acquired")], Spec(origin="acquired", reviewed=True)),
}


def test_every_problem_has_a_scenario():
    assert set(SCENARIOS) == set(audit.BY_CODE)


@pytest.mark.parametrize("code", list(SCENARIOS))
def test_each_problem_is_flagged_in_its_scenario_and_not_in_its_healthy_twin(app, make, code):
    flagged, healthy = SCENARIOS[code]
    ids = build(app, make, [*(replace(s, name=f"Flagged {n}") for n, s in enumerate(flagged)),
                            replace(healthy, name="Healthy twin")])
    found = problems_by_id(app)
    for n in range(len(flagged)):
        assert code in found.get(ids[f"Flagged {n}"], []), (code, n, found)
    assert code not in found.get(ids["Healthy twin"], [])
    # A minute's difference in the clock is enough: the healthy twin turns overdue 23 h later.
    if code == "backup_overdue":
        later = audit.Clock(now=NOW + timedelta(hours=1, minutes=1))
        assert code in problems_by_id(app, later)[ids["Healthy twin"]]
        assert code not in problems_by_id(app, audit.Clock(now=NOW + timedelta(minutes=59))).get(
            ids["Healthy twin"], [])


def test_a_healthy_system_is_not_listed_and_a_retired_one_leaves_the_audit(app, make):
    ids = build(app, make, [Spec(name="Healthy"), Spec(name="Retired", owner=False, restore=None, retired=True)])
    taken = listed(app)
    assert taken.rows == [] and taken.systems == 1 and taken.all_flagged == 0
    assert set(taken.counts.values()) == {0} and ids["Retired"] not in problems_by_id(app)


def test_the_restore_test_age_comes_from_the_clock(app, make):
    ids = build(app, make, [Spec(name="Tested 40 days ago", restore=(40, True))])
    assert "restore_test_old" not in problems_by_id(app).get(ids["Tested 40 days ago"], [])
    strict = audit.Clock(now=NOW, restore_test_max_days=30)
    assert problems_by_id(app, strict)[ids["Tested 40 days ago"]] == ["restore_test_old"]


# --- worst first, and the two spellings agree ---------------------------------------------------------

# Fifteen systems covering the problems alone and together (with a retired one the audit leaves out).
MIXED = [
    Spec(name="Storage cluster", owner=False, reports=((24 * 30, True), (24 * 20, False), (2, False)), restore=None,
         origin="acquired"),
    Spec(name="Mail archive", owner_disabled=True, restore=(200, False)),
    Spec(name="Billing ledger"),
    Spec(name="Photo store", method="", rpo=None, restore=None),
    Spec(name="Contacts sync", personal=False, owner=False),
    Spec(name="Analytics lake", personal=False, reports=((49, True),), restore=(120, True)),
    Spec(name="Backups of backups", rpo=60, reports=((2, True),)),
    Spec(name="Old CRM", origin="acquired", reviewed=True, restore=(95, False)),
    Spec(name="Vendor mailer", origin="vendor", reports=(), restore=None),
    Spec(name="Search index", personal=False, reports=((3, False),)),
    Spec(name="Wiki", personal=False, owner_disabled=True, method=""),
    Spec(name="Support desk", origin="acquired", owner=False, restore=(10, False)),
    Spec(name="Auth service", reports=((5, True), (30, False))),  # a late failure report for an older run
    Spec(name="Device registry", rpo=None, reports=((1, True),)),
    Spec(name="Retired NAS", owner=False, restore=None, retired=True),
]


def test_worst_first_with_counts(app, make):
    build(app, make, MIXED)
    taken = listed(app)
    scores = [(row.score, row.personal_data) for row in taken.rows]
    assert scores == sorted(scores, reverse=True)
    assert taken.rows[0].name == "Storage cluster"
    assert all(row.problems for row in taken.rows) and "Billing ledger" not in {r.name for r in taken.rows}
    assert taken.systems == 14 and taken.all_flagged == len(taken.rows) == taken.flagged
    for code in audit.BY_CODE:
        assert taken.counts[code] == sum(code in row.problems for row in taken.rows), code
    # Ties go to personal data, then by name.
    ties = [(row.score, not row.personal_data, row.name.casefold()) for row in taken.rows]
    assert ties == sorted(ties, key=lambda t: (-t[0], t[1], t[2]))
    # "Auth service": the failure reported late was for an older run; the newest report is a success.
    assert "Auth service" not in {r.name for r in taken.rows}


@pytest.mark.parametrize("hours_later", [0, 1.5, 30, 24 * 95])
def test_the_sql_and_python_spellings_agree(app, make, hours_later):
    build(app, make, MIXED)
    clock = audit.Clock(now=NOW + timedelta(hours=hours_later))
    by_sql = problems_by_id(app, clock)
    with app.app_context():
        systems = db.session.scalars(sa.select(System).options(joinedload(System.owner), joinedload(System.state))
                                     .where(System.retired_at.is_(None))).all()
        by_python = {s.id: audit.problems_of(audit.facts_of(s, s.state), clock) for s in systems}
    assert {k: v for k, v in by_python.items() if v} == by_sql
    assert len(by_python) == 14 and sum(bool(v) for v in by_python.values()) >= 10
    # Every problem occurs at least once at the first clock, so each spelling is compared.
    if hours_later == 0:
        assert {code for codes in by_sql.values() for code in codes} == set(audit.BY_CODE)


def test_filtering_by_problem_lists_only_those(app, make):
    build(app, make, MIXED)
    full = listed(app)
    only = listed(app, problem="no_owner")
    assert only.flagged == full.counts["no_owner"] == len(only.rows) and only.all_flagged == full.all_flagged
    assert all("no_owner" in row.problems for row in only.rows)
    assert [r.system_id for r in only.rows] == [r.system_id for r in full.rows if "no_owner" in r.problems]


# --- the page and its JSON ----------------------------------------------------------------------------

def test_the_audit_page(app, client, auth, make):
    auth.as_role("viewer")
    now = utcnow()
    ids = build(app, make, MIXED, now=now)
    html = client.get("/systems/audit").get_data(as_text=True)
    taken = listed(app, audit.Clock(now=utcnow()))
    assert "What could lose data next" in html
    assert "14 systems in the catalogue" in html and f"{taken.all_flagged} flagged" in html
    # Counts per problem, in their order, each a link that filters; zero counts muted.
    counts = re.findall(r'<a href="/systems/audit\?problem=(\w+)" data-problem="\1"\s+class="([\w-]*)"[^>]*>\s*'
                        r'<span class="n">([\d,]+)</span>', html)
    assert [c[0] for c in counts] == [p.code for p in audit.PROBLEMS]
    for code, css, n in counts:
        assert int(n) == taken.counts[code] and (css == "zero") == (n == "0")
    # Systems worst first, each problem with its fix link.
    items = dict(re.findall(r'<li class="card audit-item" data-system="(\d+)">(.*?)</dl>', html, re.S))
    assert [int(n) for n in items] == [row.system_id for row in taken.rows]
    cluster = ids["Storage cluster"]
    item = items[str(cluster)]
    links = dict(re.findall(r'<li data-problem="(\w+)">.*?<a href="([^"]+)">', item, re.S))
    assert links == {
        "personal_data_unowned": f"/systems/{cluster}/edit#owner",
        "backup_failing": f"/systems/{cluster}#backup-reports",
        "backup_overdue": f"/systems/{cluster}#backup-reports",
        "no_owner": f"/systems/{cluster}/edit#owner",
        "restore_never_tested": f"/systems/{cluster}#restore-test",
        "acquired_unreviewed": f"/systems/{cluster}#review",
    }
    assert "No owner" in item and "Failing since" in item and "Acquired from Nimbus Storage" in item
    photo = ids["Photo store"]
    assert f'href="/systems/{photo}/edit#backup_method"' in items[str(photo)]


def test_the_page_filters_by_problem_and_ignores_unknown_ones(app, client, auth, make):
    auth.as_role("viewer")
    ids = build(app, make, MIXED, now=utcnow())
    flagged = listed(app, audit.Clock(now=utcnow())).all_flagged
    html = client.get("/systems/audit?problem=owner_disabled").get_data(as_text=True)
    shown = {int(n) for n in re.findall(r'data-system="(\d+)"', html)}
    assert shown == {ids["Mail archive"], ids["Wiki"]}
    assert 'aria-current="true"' in html and "Show every flagged system" in html
    for junk in ("nope", "", "%00", "no_owner'--", "x" * 5000):
        response = client.get("/systems/audit", query_string={"problem": junk, "page": junk})
        assert response.status_code == 200
        assert len(re.findall(r'data-system="(\d+)"', response.get_data(as_text=True))) == flagged
    assert client.get("/systems/audit?page=999").status_code == 200


def test_the_page_when_nothing_is_flagged(app, client, auth, make):
    auth.as_role("viewer")
    build(app, make, [Spec(name="Healthy")], now=utcnow())
    html = client.get("/systems/audit").get_data(as_text=True)
    assert "Nothing flagged" in html and "0 flagged" in html
    assert html.count('class="zero"') == len(audit.PROBLEMS)  # every count muted


def test_the_json_document(app, client, auth, make):
    auth.as_role("viewer")
    now = utcnow()
    ids = build(app, make, MIXED, now=now)
    doc = client.get("/systems/audit.json").get_json()
    taken = listed(app, audit.Clock(now=utcnow()))
    assert set(doc) == {"generated_at", "restore_test_max_days", "systems", "flagged", "counts", "problems",
                        "items", "next"}
    assert doc["systems"] == 14 and doc["flagged"] == taken.all_flagged and doc["counts"] == taken.counts
    assert doc["restore_test_max_days"] == 90 and datetime.fromisoformat(doc["generated_at"]).tzinfo
    assert [p["code"] for p in doc["problems"]] == [p.code for p in audit.PROBLEMS]
    assert set(doc["problems"][0]) == {"code", "label", "why", "weight"}
    assert [i["id"] for i in doc["items"]] == [r.system_id for r in taken.rows] and doc["next"] is None
    cluster = next(i for i in doc["items"] if i["id"] == ids["Storage cluster"])
    assert cluster["url"] == f"http://localhost/systems/{cluster['id']}" and cluster["owner"] is None
    assert cluster["came_from"] == {"origin": "acquired", "label": "Acquired", "name": "Nimbus Storage"}
    assert cluster["last_report_ok"] is False and cluster["failing_since"] and cluster["last_restore_test_at"] is None
    assert cluster["problems"] == taken.rows[0].problems and cluster["personal_data"] is True
    assert set(cluster) == {"id", "name", "url", "owner", "owner_active", "team", "personal_data", "came_from",
                            "last_backup_ok_at", "last_report_at", "last_report_ok", "failing_since",
                            "last_restore_test_at", "problems"}
    archive = next(i for i in doc["items"] if i["id"] == ids["Mail archive"])
    assert archive["owner"] and archive["owner_active"] is False


def test_the_json_document_is_paged(app, client, auth, make):
    auth.as_role("viewer")
    build(app, make, MIXED, now=utcnow())
    first = client.get("/systems/audit.json?per_page=5").get_json()
    assert len(first["items"]) == 5 and first["next"].startswith("http://localhost/systems/audit.json?")
    seen = [i["id"] for i in first["items"]]
    page = first
    while page["next"]:
        page = client.get(page["next"]).get_json()
        seen += [i["id"] for i in page["items"]]
    assert seen == [i["id"] for i in client.get("/systems/audit.json").get_json()["items"]]
    filtered = client.get("/systems/audit.json?problem=no_owner&per_page=1").get_json()
    assert "problem=no_owner" in filtered["next"] and filtered["items"][0]["problems"].count("no_owner") == 1
    for junk in ("0", "-1", "abc", "99999999999", "²"):
        assert client.get(f"/systems/audit.json?per_page={junk}&page={junk}").status_code == 200
    flagged = listed(app, audit.Clock(now=utcnow())).all_flagged
    assert len(client.get("/systems/audit.json?per_page=100000").get_json()["items"]) == flagged


# --- a constant number of statements -------------------------------------------------------------------

# The sign-in's session and user (2), then the audit from the kept rows (audit_kept.take_audit):
# whether any row needs working out, the counts per problem, one page of flagged systems.
AUDIT_STATEMENTS = 5


def test_the_page_and_json_cost_the_same_statements_for_5_and_120_systems(app, client, auth, make):
    auth.as_role("viewer")
    urls = ["/systems/audit", "/systems/audit.json", "/systems/audit?problem=no_owner&page=2"]
    build(app, make, [Spec(owner=False, name=f"Small {n}") for n in range(5)], now=utcnow())
    client.get("/systems/audit")  # a new database: the first read works out every row
    small = [queries_for(app, client, url) for url in urls]
    build(app, make, [Spec(owner=False, restore=None, name=f"Large {n}") for n in range(115)], now=utcnow())
    large = [queries_for(app, client, url) for url in urls]
    assert small == large == [AUDIT_STATEMENTS] * len(urls)
    html = client.get("/systems/audit").get_data(as_text=True)
    assert "Page 1 of 3" in html and html.count('class="card audit-item"') == 50


# --- the CLI -----------------------------------------------------------------------------------------

def test_the_audit_command_exits_1_when_anything_is_flagged(app, make):
    build(app, make, MIXED, now=utcnow())
    runner = app.test_cli_runner()
    result = runner.invoke(args=["systems", "audit"])
    assert result.exit_code == 1, result.output
    taken = listed(app, audit.Clock(now=utcnow()))
    assert f"{taken.all_flagged} of 14 systems flagged" in result.output
    names = [row.name for row in taken.rows]
    assert [line for line in result.output.splitlines() if line.split("  [")[0] in names] == \
        [line for line in result.output.splitlines() if "  [" in line]
    positions = [result.output.index(f"\n{name}  [") for name in names]
    assert positions == sorted(positions) and "Personal data without an owner (personal_data_unowned)" in result.output

    quiet = runner.invoke(args=["systems", "audit", "--quiet"])
    assert quiet.exit_code == 1 and quiet.output == ""
    as_json = runner.invoke(args=["systems", "audit", "--json"])
    doc = json.loads(as_json.output)
    assert as_json.exit_code == 1 and doc["next"] is None and len(doc["items"]) == taken.all_flagged
    assert doc["items"][0]["url"] == f"/systems/{taken.rows[0].system_id}"


def test_the_audit_command_exits_0_when_clean(app, make):
    build(app, make, [Spec(name="Healthy")], now=utcnow())
    result = app.test_cli_runner().invoke(args=["systems", "audit"])
    assert result.exit_code == 0 and "0 of 1 systems flagged" in result.output


# --- the audit kept per system (audit_kept): always what the audit worked out in full says ----------
# As time passes (rows whose moment came are worked out again), after every kind of write (forms,
# services, the CLI, the heartbeat endpoint, an owner's account disabled), when the restore-test age
# limit changes, and for a moment before the rows were worked out.

def both(app, clock: audit.Clock, **options) -> tuple[tuple, tuple]:
    """The audit at `clock` from the kept rows and worked out in full, as comparable tuples."""
    with app.app_context():
        kept = audit_kept.take_audit(session=db.session, clock=clock, per_page=10_000, **options)
        full = audit.take_full_audit(session=db.session, clock=clock, per_page=10_000, **options)
    return _shape(kept), _shape(full)


def _shape(taken: audit.Audit) -> tuple:
    return (taken.systems, taken.flagged, taken.all_flagged, taken.counts,
            [(row.system_id, row.name, row.problems) for row in taken.rows])


def kept_rows(app) -> dict[int, tuple]:
    with app.app_context():
        return {row.system_id: (row.mask, row.score, row.recheck_at)
                for row in db.session.scalars(sa.select(SystemAudit))}


def every_scenario() -> list[Spec]:
    specs = [spec for flagged, healthy in SCENARIOS.values() for spec in (*flagged, healthy)]
    return [Spec(**{**spec.__dict__, "name": f"S{n:02d}"}) for n, spec in enumerate([*specs, *MIXED])]


def test_the_kept_audit_agrees_with_the_full_one_as_time_passes(app, make):
    start = utcnow().replace(microsecond=0)
    build(app, make, every_scenario(), now=start)
    seen = set()
    for later in (timedelta(seconds=1), timedelta(minutes=61), timedelta(hours=23, minutes=30), timedelta(hours=25),
                  timedelta(days=2), timedelta(days=80), timedelta(days=91), timedelta(days=400)):
        clock = audit.Clock(now=start + later)
        kept, full = both(app, clock)
        assert kept == full, later
        seen.update(code for _, _, codes in kept[4] for code in codes)
        for problem in ("backup_overdue", "restore_test_old", "no_owner"):
            assert both(app, clock, problem=problem)[0] == both(app, clock, problem=problem)[1]
    assert seen == set(audit.BY_CODE)
    # Every row's pending change has come: none is left waiting.
    assert {recheck for _, _, recheck in kept_rows(app).values()} == {None}


def test_rows_whose_moment_came_are_worked_out_again_and_only_they(app, make):
    start = utcnow().replace(microsecond=0)
    ids = build(app, make, [Spec(name="Due soon", reports=((23, True),)), Spec(name="Fine", reports=((1, True),))],
                now=start)
    with app.app_context():
        audit_kept.take_audit(session=db.session, clock=audit.Clock(now=start))
    before = kept_rows(app)
    assert before[ids["Due soon"]][2] == start + timedelta(hours=1)  # its backup falls due in an hour
    kept, full = both(app, audit.Clock(now=start + timedelta(hours=1, seconds=1)))
    assert kept == full and "backup_overdue" in dict((i, c) for i, _, c in kept[4])[ids["Due soon"]]
    after = kept_rows(app)
    assert after[ids["Fine"]] == before[ids["Fine"]]
    assert after[ids["Due soon"]][0] != before[ids["Due soon"]][0]


def test_every_kind_of_write_keeps_the_rows(app, client, auth, make):
    start = utcnow()
    ids = build(app, make, MIXED, now=start)
    email = auth.as_role("admin")
    clock = lambda: audit.Clock(now=utcnow())  # noqa: E731

    def agree(step: str) -> None:
        kept, full = both(app, clock())
        assert kept == full, step

    agree("built")
    with app.app_context():
        actor = db.session.scalar(sa.select(User).where(User.email == email))
        cluster = db.session.get(System, ids["Storage cluster"])
        fields = service.fields_of(cluster)
        service.update_system(session=db.session, actor=actor, system=cluster, expected_version=cluster.version,
                              fields_=service.SystemFields(**{**fields.__dict__, "owner": actor}))
        db.session.commit()
    agree("an owner named")
    with app.app_context():
        service.record_restore_test(session=db.session, actor=actor, system=db.session.get(System, ids["Photo store"]),
                                    tested_at=utcnow(), ok=True, performed_by=None)
        service.mark_reviewed(session=db.session, actor=actor, system=db.session.get(System, ids["Support desk"]))
        service.retire_system(session=db.session, actor=actor, system=db.session.get(System, ids["Wiki"]))
        db.session.commit()
    agree("a restore test, a review, a retirement")
    with app.app_context():
        owner = db.session.get(System, ids["Billing ledger"]).owner
        change_role(session=db.session, user=owner, role=Role.responder, active=False)
        db.session.commit()
    agree("the owner's account disabled")
    _, secret = _token(app, ids["Search index"])
    assert client.post("/systems/backup-report", headers={"Authorization": f"Bearer {secret}"}).status_code == 201
    agree("a heartbeat over HTTP")
    result = app.test_cli_runner().invoke(args=["systems", "backup-report", "Analytics lake", "--failed"])
    assert result.exit_code == 0, result.output
    agree("a report from the CLI")
    form = {"name": "Brand new", "origin": "built", "owner": "0", "personal_data": "y"}
    assert client.post("/systems/new", data=form).status_code == 302
    agree("a system added through the form")


def _token(app, system_id: int):
    with app.app_context():
        token, secret = heartbeats.create_token(session=db.session, actor=None,
                                                system=db.session.get(System, system_id))
        db.session.commit()
        return token.id, secret


def test_a_changed_age_limit_works_every_row_out_again(app, make):
    start = utcnow().replace(microsecond=0)
    build(app, make, [Spec(name="Tested 40 days ago", restore=(40, True)), Spec(name="Tested 10 days ago")],
          now=start)
    kept, full = both(app, audit.Clock(now=start, restore_test_max_days=90))
    assert kept == full and kept[2] == 0
    strict = audit.Clock(now=start, restore_test_max_days=30)
    kept, full = both(app, strict)
    assert kept == full and kept[3]["restore_test_old"] == 1
    with app.app_context():
        assert db.session.get(SystemAuditSetting, 1).restore_test_max_days == 30


def test_an_audit_of_an_earlier_moment_is_worked_out_in_full(app, make):
    start = utcnow().replace(microsecond=0)
    ids = build(app, make, [Spec(name="Due in an hour", reports=((23, True),))], now=start)
    with app.app_context():
        audit_kept.take_audit(session=db.session, clock=audit.Clock(now=start + timedelta(hours=2)))
    assert kept_rows(app)[ids["Due in an hour"]][0]  # worked out overdue, two hours on
    kept, full = both(app, audit.Clock(now=start))  # before that: not overdue yet
    assert kept == full and kept[2] == 0


def test_rows_worked_out_at_a_replayed_moment_are_brought_up_to_date(app, make):
    """Writes replayed at a recorded moment (the demo, imports) work their rows out at that moment;
    reading later brings them up to date."""
    with clock_at(utcnow() - timedelta(days=30)):
        build(app, make, [Spec(name="Replayed", reports=((1, True),))], now=utcnow())
    kept, full = both(app, audit.Clock(now=utcnow()))
    assert kept == full and "backup_overdue" in kept[4][0][2]


def test_backup_reports_move_the_kept_rows_as_the_full_audit_says(app, client, make):
    """A heartbeat moves only a row's backup problems, in SQL: a success clears "overdue" and
    "failing" and sets when it falls due next; a failure sets "failing"; time then turns "overdue"
    back on at the new moment. At every step the kept audit says what the full one says."""
    start = utcnow().replace(microsecond=0)
    ids = build(app, make, [Spec(name="Late", reports=((25, True),)), Spec(name="Tested long ago", restore=(85, True)),
                            Spec(name="Failing", reports=((2, False),))], now=start)
    secrets = {name: _token(app, system_id)[1] for name, system_id in ids.items()}
    kept, full = both(app, audit.Clock(now=start))
    assert kept == full

    def report(name: str, **data) -> None:
        response = client.post("/systems/backup-report", headers={"Authorization": f"Bearer {secrets[name]}"},
                               data=data)
        assert response.status_code == 201

    report("Late")
    report("Failing", status="ok")
    report("Tested long ago", status="failed")
    now = utcnow()
    kept, full = both(app, audit.Clock(now=now))
    assert kept == full
    problems = {system_id: codes for system_id, _, codes in kept[4]}
    assert "backup_overdue" not in problems.get(ids["Late"], []) and ids["Failing"] not in problems
    assert "backup_failing" in problems[ids["Tested long ago"]]
    rows = kept_rows(app)
    for name in ("Late", "Failing"):  # each falls due a day after its success
        assert timedelta(0) <= now + timedelta(days=1) - rows[ids[name]][2] < timedelta(seconds=5), name
    for later in (timedelta(days=1) - timedelta(minutes=1), timedelta(days=1, minutes=1), timedelta(days=6)):
        kept, full = both(app, audit.Clock(now=now + later))
        assert kept == full, later
    assert "restore_test_old" in dict((i, c) for i, _, c in kept[4])[ids["Tested long ago"]]
