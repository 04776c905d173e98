"""The public status site: one blueprint under one prefix (STATUS_PREFIX, /status by default), so it
can be served on its own host name. It needs no login; its views live in views.py (HTML), api.py
(Statuspage v2 JSON) and feeds.py (Atom and RSS)."""
from flask import Blueprint

bp = Blueprint("status", __name__)
