"""The app as `python -m bench.status_load` serves it: the real app plus one bare route.

`/bench/bare` returns a fixed small JSON body and does nothing else, so it measures what the
framework, the app's hooks (login wall, security headers) and the server cost by themselves. It
exists only here, in the benchmark's WSGI module, never in `create_app()`; so does `/bench/bare-db`,
the same plus one `SELECT 1`.
"""
from __future__ import annotations

from sqlalchemy import literal_column, select

from incidents import create_app, freeze_startup_objects
from incidents.auth import access
from incidents.prepared_read import PreparedRead

app = create_app()

BARE = {"status": "ok", "bench": "bare"}


@app.route("/bench/bare")
def bench_bare():
    return BARE


_ONE = PreparedRead(select(literal_column("1")))


@app.route("/bench/bare-db")
def bench_bare_db():
    """The bare route plus the cheapest question to the database (`SELECT 1`, the way the API's
    one-incident read asks its own): what a database round trip costs by itself."""
    return {"status": "ok", "bench": "bare-db", "one": _ONE.first()[0]}


# Anonymous, like the public status site: the login wall lets them through (this process only).
access.PUBLIC_ENDPOINTS.update({"bench_bare", "bench_bare_db"})
freeze_startup_objects()  # as app.py does
