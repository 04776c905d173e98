"""Configuration read from the environment, with safe defaults for a laptop."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_PATH = Path(os.environ.get("INCIDENTS_INSTANCE_PATH", PROJECT_ROOT / "instance"))


def database_url(raw: str | None, instance_path: Path) -> str:
    """Return an SQLAlchemy URL: the given one normalised, or the SQLite file in the instance folder."""
    if not raw:
        return f"sqlite:///{instance_path / 'incidents.db'}"
    # Heroku-style and plain PostgreSQL URLs select psycopg 3, the driver we ship.
    for prefix in ("postgres://", "postgresql://"):
        if raw.startswith(prefix):
            return "postgresql+psycopg://" + raw[len(prefix):]
    return raw


def secret_key(instance_path: Path) -> str:
    """Use SECRET_KEY from the environment, else a random key kept in the instance folder.

    Several app servers behind a load balancer must share one key: set SECRET_KEY there.
    """
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    # Create exclusively so two workers starting together agree on one key.
    try:
        with open(key_file, "x") as handle:
            handle.write(key)
        key_file.chmod(0o600)
    except FileExistsError:
        return key_file.read_text().strip()
    return key


def seconds(name: str, default: int) -> int:
    """A duration setting in seconds from the environment, or `default` when unset or empty."""
    return int(os.environ.get(name) or default)


HOUR, DAY = 3600, 24 * 3600


def default_config(instance_path: Path) -> dict:
    """The configuration a fresh checkout runs with."""
    return {
        "SECRET_KEY": secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": database_url(os.environ.get("DATABASE_URL"), instance_path),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        # Sessions end on the server (seconds): after SESSION_IDLE_TIMEOUT without a request, and
        # SESSION_MAX_AGE after signing in; "keep me signed in" sessions use the REMEMBER pair.
        "SESSION_IDLE_TIMEOUT": seconds("SESSION_IDLE_TIMEOUT", 12 * HOUR),
        "SESSION_MAX_AGE": seconds("SESSION_MAX_AGE", 24 * HOUR),
        "SESSION_REMEMBER_IDLE_TIMEOUT": seconds("SESSION_REMEMBER_IDLE_TIMEOUT", 7 * DAY),
        "SESSION_REMEMBER_MAX_AGE": seconds("SESSION_REMEMBER_MAX_AGE", 30 * DAY),
        "REMEMBER_COOKIE_DURATION": seconds("SESSION_REMEMBER_MAX_AGE", 30 * DAY),
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session: no 3 a.m. surprises
        "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
        # The largest alert delivery an intake takes (bytes; 413 past it): see README "Alert intake".
        "INTAKE_MAX_BYTES": int(os.environ.get("INTAKE_MAX_BYTES") or 1024 * 1024),
        # How often an open incident page asks whether anything changed (static/js/live.js).
        "LIVE_POLL_SECONDS": int(os.environ.get("LIVE_POLL_SECONDS", "5") or 5),
        # How old an incident's state may be when the live check and a conditional GET of the page
        # answer from memory (incidents/incident/live.py), and how long a sign-in check of those
        # requests is remembered (incidents/auth/memo.py): each app process asks the database at
        # most this often, however many pages are open.
        "LIVE_MEMO_SECONDS": float(os.environ.get("LIVE_MEMO_SECONDS") or 1),
        "SIGN_IN_MEMO_SECONDS": float(os.environ.get("SIGN_IN_MEMO_SECONDS") or 2),
        # The proof of sending kept with a filed obligation (a receipt, a screenshot), in bytes.
        "OBLIGATION_ATTACHMENT_MAX": 1_500_000,
        # The largest affected-customer CSV an import takes (bytes; the upload route alone allows it).
        "LEDGER_IMPORT_MAX_BYTES": int(os.environ.get("LEDGER_IMPORT_MAX_BYTES") or 512 * 1024 * 1024),
        # The share of the demo's 181,250 affected customers `demo load` writes to its ledger (the
        # same proportions at any share; the test suite loads the demo often and uses a small one).
        "DEMO_LEDGER_SAMPLE": float(os.environ.get("DEMO_LEDGER_SAMPLE") or 1.0),
        # Days after an incident is closed when its per-customer ledger is deleted (the figures stay);
        # unset or 0: kept until `flask ledger purge` is run.
        "LEDGER_RETENTION_DAYS": int(os.environ.get("LEDGER_RETENTION_DAYS") or 0),
        # Days the logs that only grow are kept: finished background jobs, webhook messages and their
        # attempts, status-page subscriber deliveries, alert deliveries that reached no incident
        # (incidents/jobs/retention.py). 0 keeps them forever. The audit log is never purged.
        "LOG_RETENTION_DAYS": int(os.environ.get("LOG_RETENTION_DAYS") or 90),
        # The ownership audit flags a restore test older than this (issue #15).
        "SYSTEMS_RESTORE_TEST_MAX_DAYS": int(os.environ.get("SYSTEMS_RESTORE_TEST_MAX_DAYS") or 90),
        # The largest inventory CSV the systems import takes (bytes; the upload route alone allows it).
        "SYSTEMS_IMPORT_MAX_BYTES": int(os.environ.get("SYSTEMS_IMPORT_MAX_BYTES") or 5 * 1024 * 1024),
        "MAX_FORM_MEMORY_SIZE": 1024 * 1024,
        # Number of proxies in front of the app whose X-Forwarded-* headers we trust (0: none).
        "TRUSTED_PROXIES": int(os.environ.get("TRUSTED_PROXIES", "0") or 0),
        # How intricate one Markdown text may be (incidents/markdown.py, Cost): 4,000 renders in
        # under ~30 ms at worst; ordinary prose of 20,000 characters weighs about 1,000-2,500.
        "MARKDOWN_MAX_COST": int(os.environ.get("MARKDOWN_MAX_COST", "4000") or 4000),
        # Failed sign-ins allowed per window (the `limits` notation), counted in the database so
        # every worker and app server shares them. See incidents/auth/throttle.py.
        "SIGN_IN_LIMIT_PER_ACCOUNT_AND_ADDRESS": os.environ.get("SIGN_IN_LIMIT_PER_ACCOUNT_AND_ADDRESS")
        or "10 per minute",
        "SIGN_IN_LIMIT_PER_ACCOUNT": os.environ.get("SIGN_IN_LIMIT_PER_ACCOUNT") or "10 per 15 minutes",
        "SIGN_IN_LIMIT_PER_ADDRESS": os.environ.get("SIGN_IN_LIMIT_PER_ADDRESS") or "60 per minute",
        # Wrong passwords in a row on the confirm-password page before that session is signed out.
        "CONFIRM_PASSWORD_MAX_FAILURES": int(os.environ.get("CONFIRM_PASSWORD_MAX_FAILURES") or 5),
        # Flask-Limiter's store, for limits other than sign-in (which counts in the database).
        # memory:// counts per worker process; share redis://host:6379 or memcached://host:11211.
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_HEADERS_ENABLED": True,
        # Requests per personal access token (reads included) on /api/v1; Flask-Limiter syntax.
        "API_RATE_LIMIT": os.environ.get("API_RATE_LIMIT", "600 per minute"),
        # The public status site: its path prefix and the name it shows.
        "STATUS_PREFIX": os.environ.get("STATUS_PREFIX", "/status").rstrip("/") or "/status",
        "STATUS_CHANGE_CHECK_SECONDS": float(os.environ.get("STATUS_CHANGE_CHECK_SECONDS", "1")),
        "STATUS_PAGE_NAME": os.environ.get("STATUS_PAGE_NAME", "Skylark Sync status"),
        # User and role management asks for the password again after this long (seconds).
        "RECENT_SIGN_IN_SECONDS": int(os.environ.get("RECENT_SIGN_IN_SECONDS", "900")),
        "DEMO_PASSWORD": os.environ.get("DEMO_PASSWORD", "demo-password-2009"),
        # A postmortem is due this many business days (Monday to Friday) after the incident resolves.
        "POSTMORTEM_DUE_BUSINESS_DAYS": int(os.environ.get("POSTMORTEM_DUE_BUSINESS_DAYS", "5") or 5),
        # Keys the audit log's hash chain (HMAC-SHA256). Keep it outside the database (a secret
        # store, the service's environment): without it, someone who can rewrite the database
        # cannot recompute a chain that verifies. Unset: plain SHA-256, recomputable by anyone.
        "AUDIT_HMAC_KEY": os.environ.get("AUDIT_HMAC_KEY") or None,
        # PDFs made at once per app-server process (each holds a thread and a child process), and
        # how long a request waits for a free slot before it gets a 503 with Retry-After.
        "PDF_MAX_CONCURRENT_RENDERS": int(os.environ.get("PDF_MAX_CONCURRENT_RENDERS", "2") or 2),
        "PDF_RENDER_WAIT_SECONDS": float(os.environ.get("PDF_RENDER_WAIT_SECONDS", "2") or 0),
        # Background jobs (incidents/jobs): Huey's SQLite queue in the instance folder needs nothing
        # installed on one machine; with REDIS_URL set the queue is in Redis, so workers on several
        # machines (same DATABASE_URL and REDIS_URL) share it.
        "REDIS_URL": os.environ.get("REDIS_URL") or None,
        "JOBS_SQLITE_PATH": os.environ.get("JOBS_SQLITE_PATH") or str(instance_path / "jobs.db"),
        # The queue's name (its Redis key prefix): trackers sharing one Redis need different names.
        "JOBS_QUEUE_NAME": os.environ.get("JOBS_QUEUE_NAME") or "incidents",
        # Run each job inline when its transaction commits, with no worker: for tests of features
        # that enqueue jobs. Never in production (long work would run inside the request).
        "JOBS_IMMEDIATE": False,
        # Outbound requests (webhooks, incidents/outbound) never reach loopback, private or link-local
        # addresses: comma-separated networks and host names an admin allows anyway (an intranet
        # chat server), and whether plain http:// is allowed. Checked at start-up.
        "OUTBOUND_ALLOW_PRIVATE": os.environ.get("OUTBOUND_ALLOW_PRIVATE", ""),
        "OUTBOUND_ALLOW_HTTP": os.environ.get("OUTBOUND_ALLOW_HTTP", "") or False,
        # E-mail to status-page subscribers (incidents/subscribers/mail.py). Without SMTP_HOST the
        # messages are written to instance/outbox/ as .eml files (a laptop, the demo).
        "SMTP_HOST": os.environ.get("SMTP_HOST") or None,
        "SMTP_PORT": int(os.environ.get("SMTP_PORT") or 587),
        "SMTP_SECURITY": os.environ.get("SMTP_SECURITY") or None,  # starttls / ssl / none (by port)
        "SMTP_USERNAME": os.environ.get("SMTP_USERNAME") or None,
        "SMTP_PASSWORD": os.environ.get("SMTP_PASSWORD") or None,
        "MAIL_FROM": os.environ.get("MAIL_FROM") or "Skylark Sync status <status@localhost>",
        # The public status site's address as subscribers reach it: e-mails and webhooks are sent
        # by the worker, outside any request, and their links must point somewhere real.
        # Subscribe-form posts allowed per client address (the `limits` notation).
        "SUBSCRIBE_RATE_LIMIT": os.environ.get("SUBSCRIBE_RATE_LIMIT") or "10 per hour",
        "STATUS_PUBLIC_URL": (os.environ.get("STATUS_PUBLIC_URL") or "http://127.0.0.1:5000/status").rstrip("/"),
        # The tracker's own address as people reach it, for the links in outbound webhooks (sent by
        # the worker, outside any request).
        "TRACKER_URL": (os.environ.get("TRACKER_URL") or "http://127.0.0.1:5000").rstrip("/"),
        # Outbound webhooks tell of a pending notification obligation this many hours before its
        # deadline (incidents/webhooks/jobs.py).
        "WEBHOOK_DEADLINE_NEAR_HOURS": float(os.environ.get("WEBHOOK_DEADLINE_NEAR_HOURS") or 24),
        # After a webhook's secret is rotated, the old one signs beside the new one this long.
        "WEBHOOK_SECRET_GRACE_HOURS": float(os.environ.get("WEBHOOK_SECRET_GRACE_HOURS") or 24),
        # A running job's worker writes a heartbeat every quarter of this (seconds); a job silent for
        # longer lost its worker (SIGKILL, a power cut) and is put back on the queue. It is also how
        # long a dead worker's claim on a periodic function lasts. Longer than any pause a live
        # worker may take (a stalled disk, a VM migration); shorter means a crashed job resumes sooner.
        "JOBS_STALE_SECONDS": seconds("JOBS_STALE_SECONDS", 120),
    }
