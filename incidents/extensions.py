"""The Flask extensions, created unbound so every module can import them."""
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

from incidents.db import db

migrate = Migrate(render_as_batch=True, compare_type=True)
login_manager = LoginManager()
csrf = CSRFProtect()
# Limits apply only where a view asks for them (the status site's subscribe form; sign-in counts in
# the database); storage comes from RATELIMIT_STORAGE_URI.
limiter = Limiter(key_func=get_remote_address)


@limiter.request_filter
def _reads_are_never_limited() -> bool:
    """The HTML app sets no limit on a GET or HEAD, so skip Flask-Limiter's per-request work for them:
    it cost the public status site about a fifth of its rate (issue #16's bench). The API counts
    its per-token limit itself, reads included, with Flask-Limiter's storage
    (incidents/api/rate_limit.py)."""
    from flask import request

    from incidents.api.problems import is_api_request

    return request.method in ("GET", "HEAD") or is_api_request()

__all__ = ["db", "migrate", "login_manager", "csrf", "limiter"]
