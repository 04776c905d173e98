"""The incident tracker for data-loss events. `create_app()` builds it as a list of steps."""
from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, Response, has_request_context, request
from werkzeug.middleware.proxy_fix import ProxyFix

from incidents.config import INSTANCE_PATH, PROJECT_ROOT, default_config


def create_app(config: dict | None = None) -> Flask:
    """Build the app; `config` overrides the environment-derived defaults (tests pass theirs)."""
    instance_path = Path((config or {}).get("INSTANCE_PATH", INSTANCE_PATH))
    app = Flask(__name__, instance_path=str(instance_path), instance_relative_config=True,
                template_folder=str(PROJECT_ROOT / "templates"),
                static_folder=str(PROJECT_ROOT / "static"))
    instance_path.mkdir(parents=True, exist_ok=True)
    app.config.update(default_config(instance_path))
    app.config.update(config or {})

    configure_logging(app)
    load_obligation_rules(app)
    load_outbound_policy(app)
    register_extensions(app)
    register_blueprints(app)
    register_security(app)
    register_error_handlers(app)
    register_template_helpers(app)
    register_commands(app)
    return app


def freeze_startup_objects() -> None:
    """Leave the objects made while starting (modules, routes, templates: ~200,000) out of Python's
    garbage collector's full passes. Each pass scanned them all, ~0.15 s on this machine, several
    times a minute under load; the status page served a fifth fewer requests for it (issue #16's
    bench). For server processes only (app.py): tests build an app per test and must not freeze."""
    import gc

    gc.collect()
    gc.freeze()


def configure_logging(app: Flask) -> None:
    if not app.debug and not app.testing:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def load_obligation_rules(app: Flask) -> None:
    """Read and check the notification rules: a broken file stops the app here, naming file and line."""
    from incidents.obligations.rules import RULES_DIR, load_rules

    app.extensions["obligation_rules"] = load_rules(Path(app.config.get("OBLIGATION_RULES_DIR") or RULES_DIR))


def load_outbound_policy(app: Flask) -> None:
    """Check which private addresses webhooks may reach: a bad entry stops the app here, named."""
    from incidents.outbound import policy_from_config

    app.extensions["outbound_policy"] = policy_from_config(app.config)


def register_extensions(app: Flask) -> None:
    import incidents.models  # noqa: F401  (every table registered before anything uses them)
    from incidents.audit.recorder import install as install_audit_log
    from incidents.auth.access import load_user
    from incidents.extensions import csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    install_audit_log()  # every change committed through a session becomes an audit event
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.user_loader(load_user)  # checks the session's lifetimes too


def register_blueprints(app: Flask) -> None:
    from incidents import health
    from incidents.actions import views as actions
    from incidents.admin import views as admin
    from incidents.api import read_views, recovery_views, write_views  # noqa: F401  (add their routes to the API's)
    from incidents.api import settings_views as api_tokens
    from incidents.api import views as api_v1
    from incidents.audit import views as audit
    from incidents.auth import views as auth
    from incidents.impact import views as impact
    from incidents.incident import views as incident
    from incidents.intake import settings_views as intakes
    from incidents.intake import views as intake_api
    from incidents.jobs import views as jobs
    from incidents.ledger import views as ledger
    from incidents.maintenance import views as maintenance
    from incidents.notices import views as notices
    from incidents.obligations import views as obligations
    from incidents.postmortem import views as postmortem
    from incidents.recovery import views as recovery
    from incidents.reports import views as reports
    from incidents.status import (  # noqa: F401  (each adds its routes to the status site)
        api,
        feeds,
        publishing,
        subscribing,
        views,
    )
    from incidents.status.blueprint import bp as status_site
    from incidents.subscribers import admin as subscribers_admin
    from incidents.systems import (  # noqa: F401  (each adds its routes to the systems blueprint)
        audit_views,
        incident_views,
        transfer_views,
    )
    from incidents.systems import views as systems_catalogue  # noqa: F401
    from incidents.systems.blueprint import bp as systems
    from incidents.timeline import views as timeline
    from incidents.webhooks import views as webhooks

    for blueprint in (auth.bp, incident.bp, timeline.bp, impact.bp, recovery.bp, admin.bp, publishing.bp,
                      postmortem.bp, actions.bp, publishing.admin_bp, notices.bp, reports.bp, audit.bp, obligations.bp,
                      maintenance.bp, jobs.bp, subscribers_admin.bp, ledger.bp, systems, api_v1.bp, api_tokens.bp,
                      intake_api.bp, intakes.bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(webhooks.bp)  # outbound webhooks, /admin/webhooks
    # The public status site needs no login and lives under one prefix, so it can have its own host name.
    app.register_blueprint(status_site, url_prefix=app.config["STATUS_PREFIX"])
    app.add_url_rule("/healthz", endpoint="health", view_func=health.health)


def register_security(app: Flask) -> None:
    from incidents.api.auth import install as cookieless_api
    from incidents.auth.access import require_login_everywhere, warn_about_untrusted_proxies
    from incidents.markdown_prerender import install as prerender_posted_markdown

    warn_about_untrusted_proxies(app)
    if app.config["TRUSTED_PROXIES"]:
        n = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_prefix=n)
    cookieless_api(app)  # /api/v1 reads no session cookie and sets none: bearer tokens only
    prerender_posted_markdown(app)  # before the login wall: its user query takes SQLite's write lock
    require_login_everywhere(app)
    app.response_class = SecureCookieResponse

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
        )
        if request.endpoint != "static":
            # Pages hold incident data: never keep them in the browser's caches, so Back after
            # signing out (back/forward cache included) goes to the server and gets the login page.
            response.headers.setdefault("Cache-Control", "no-store")
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response


class SecureCookieResponse(Response):
    """A response whose cookies only travel over HTTPS when the site is served over HTTPS.

    The flag is set where cookies are made because rewriting Set-Cookie in an after_request hook
    misses them: Flask writes the session cookie after every hook has run, and Flask-Login sets
    the remember cookie in a hook of its own.
    """

    def set_cookie(self, key: str, value: str = "", **options) -> None:
        if has_request_context() and request.is_secure:
            options["secure"] = True
        super().set_cookie(key, value, **options)


def register_error_handlers(app: Flask) -> None:
    from incidents.errors import register_error_handlers as register

    register(app)


def register_template_helpers(app: Flask) -> None:
    from incidents.idempotency import idempotency_field
    from incidents.templating import register

    register(app)
    app.add_template_global(idempotency_field)


def register_commands(app: Flask) -> None:
    from incidents.api.cli import tokens_cli
    from incidents.audit.cli import audit_cli
    from incidents.auth.cli import users_cli
    from incidents.backup.cli import backup_cli
    from incidents.demo.cli import demo_cli
    from incidents.idempotency import idempotency_cli
    from incidents.intake.cli import intake_cli
    from incidents.reports.cli import report_cli
    from incidents.systems.cli import systems_cli

    for group in (users_cli, audit_cli, demo_cli, backup_cli, report_cli, idempotency_cli, systems_cli, tokens_cli,
                  intake_cli):
        app.cli.add_command(group)
