"""/healthz: whether this app server can serve, for load balancers."""
from __future__ import annotations

from flask import current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from incidents.extensions import db


def health():
    """For load balancers: answers without a login, 200 after a database round trip, 503 when
    the database cannot be reached (so the balancer stops sending traffic here)."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        current_app.logger.warning("health check: database unreachable", exc_info=True)
        return {"status": "unavailable", "database": "unreachable"}, 503
    return {"status": "ok", "database": "ok"}
