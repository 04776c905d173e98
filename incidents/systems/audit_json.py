"""The ownership audit as a JSON document: the one /systems/audit.json serves, `flask systems audit
--json` prints and /api/v1/systems/audit answers (apart from the views, so each of them, the API
included, builds it the same way without importing another feature's view module)."""
from __future__ import annotations

from flask import current_app

from incidents.db import utcnow
from incidents.systems import audit
from incidents.systems.models import ORIGINS


def audit_clock() -> audit.Clock:
    """The audit's clock: now, and the configured age past which a restore test no longer counts."""
    return audit.Clock(now=utcnow(), restore_test_max_days=current_app.config["SYSTEMS_RESTORE_TEST_MAX_DAYS"])


def audit_document(taken: audit.Audit, *, next_url: str | None, url_of) -> dict:
    """The audit as a JSON document (the HTTP one and `flask systems audit --json`'s):

    generated_at (ISO 8601, UTC), restore_test_max_days, systems (in the catalogue, retired ones
    left out), flagged (with any problem), counts {code: systems with it}, problems [{code, label,
    why, weight}] worst first, items [one per flagged system on this page (with `problem`, those
    with it), worst first: id, name,
    url, owner (name or null), owner_active, team, personal_data, came_from {origin: built |
    acquired | vendor, label, name}, last_backup_ok_at, last_report_at, last_report_ok,
    failing_since, last_restore_test_at (ISO 8601 or null), problems [codes, worst first]],
    next (the next page's URL, or null).
    """
    return {
        "generated_at": _iso(taken.clock.now), "restore_test_max_days": taken.clock.restore_test_max_days,
        "systems": taken.systems, "flagged": taken.all_flagged, "counts": taken.counts,
        "problems": [{"code": p.code, "label": p.label, "why": p.why, "weight": p.weight} for p in audit.PROBLEMS],
        "items": [_item(row, url_of(row)) for row in taken.rows],
        "next": next_url,
    }

def _item(row: audit.AuditRow, url: str) -> dict:
    return {"id": row.system_id, "name": row.name, "url": url, "owner": row.owner_name,
            "owner_active": bool(row.owner_active), "team": row.team, "personal_data": bool(row.personal_data),
            "came_from": {"origin": row.origin, "label": ORIGINS.get(row.origin, row.origin),
                          "name": row.origin_name},
            "last_backup_ok_at": _iso(row.last_ok_at), "last_report_at": _iso(row.last_report_at),
            "last_report_ok": row.last_report_ok, "failing_since": _iso(row.failing_since),
            "last_restore_test_at": _iso(row.last_restore_test_at), "problems": row.problems}

def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None
