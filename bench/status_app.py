"""The app as `python -m bench.status_load` serves it: the real app plus one bare route.

`/bench/bare` returns a fixed small JSON body and does nothing else, so it measures what the
framework, the app's hooks (login wall, security headers) and the server cost by themselves. It
exists only here, in the benchmark's WSGI module, never in `create_app()`.
"""
from __future__ import annotations

from incidents import create_app, freeze_startup_objects
from incidents.auth import access

app = create_app()

BARE = {"status": "ok", "bench": "bare"}


@app.route("/bench/bare")
def bench_bare():
    return BARE


# Anonymous, like the public status site: the login wall lets it through (this process only).
access.PUBLIC_ENDPOINTS.add("bench_bare")
freeze_startup_objects()  # as app.py does
