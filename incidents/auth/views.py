"""Signing in and out."""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from incidents.audit import recorder as audit
from incidents.auth import memo, service, throttle
from incidents.auth.access import (
    forget_expired_session,
    is_known_device,
    mark_recent_sign_in,
    remember_device,
    safe_next_url,
)
from incidents.auth.forms import LoginForm, ReauthForm
from incidents.db import utcnow
from incidents.extensions import db
from incidents.templating import duration, format_utc

bp = Blueprint("auth", __name__)

LOGIN_FAILED = "That e-mail and password do not match an active account."
CONFIRMATIONS_EXHAUSTED = "You were signed out after {n} wrong passwords in a row. Sign in again to continue."


@bp.record_once
def _check_limit_settings(state) -> None:
    throttle.limits_from(state.app.config)  # a mistyped limit stops the app at start-up, not at sign-in


def _limits() -> throttle.SignInLimits:
    return throttle.limits_from(current_app.config)


def _limits_on() -> bool:
    return current_app.config.get("RATELIMIT_ENABLED", True)  # tests switch every limit off at once


def _throttled(form: LoginForm, until: datetime):
    """The login page saying when to try again, as a 429 with Retry-After."""
    now = utcnow()
    form.password.errors = [f"Too many sign-in attempts. Try again after "
                            f"{format_utc(until, '%H:%M:%S')} (in {duration(now, until) or 'under a minute'}). "
                            "An admin can reset a forgotten password."]
    response = current_app.make_response((render_template("auth/login.html", form=form), 429))
    response.headers["Retry-After"] = str(max(1, int((until - now).total_seconds()) + 1))
    return response


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = safe_next_url(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url or url_for("incident.index"))
    forget_expired_session()
    form = LoginForm()
    if form.validate_on_submit():
        account, address = service.normalise_email(form.email.data)[:254], request.remote_addr or "unknown"
        if _limits_on():
            known = is_known_device(service.get_by_email(session=db.session, email=account))
            until = throttle.refused_until(session=db.session, limits=_limits(), account=account,
                                           address=address, known_device=known, now=utcnow())
            if until is not None:
                return _throttled(form, until)
        user = service.authenticate(session=db.session, email=form.email.data,
                                    password=form.password.data)
        if user is None:
            form.password.errors = [LOGIN_FAILED]
            throttle.record_failure(session=db.session, limits=_limits(), account=account,
                                    address=address, now=utcnow())
            # Audited with the address typed, never the password.
            audit.record(db.session, action=audit.SIGN_IN_FAILED, entity_type="user", after={"email": account})
            db.session.commit()
        else:
            session.clear()  # no session fixation: a fresh session for the new login
            service.start_session(session=db.session, user=user, remember=form.remember.data)
            audit.record(db.session, action=audit.SIGN_IN, entity_type="user", entity_id=user.id,
                         actor_id=user.id)
            db.session.commit()
            login_user(user, remember=form.remember.data)
            mark_recent_sign_in()
            response = redirect(next_url or url_for("incident.index"))
            remember_device(response, user)
            return response
    status = 401 if form.password.errors == [LOGIN_FAILED] else 200
    return render_template("auth/login.html", form=form), status


@bp.route("/confirm-password", methods=["GET", "POST"])
def reauth():
    """Confirm the password before sensitive pages (user and role management)."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.args.get("next")))
    next_url = safe_next_url(request.args.get("next")) or url_for("incident.index")
    form = ReauthForm()
    if form.validate_on_submit():
        token = current_user.get_id()
        if service.authenticate(session=db.session, email=current_user.email,
                                password=form.password.data) is not None:
            service.confirmation_succeeded(session=db.session, token=token)
            db.session.commit()
            mark_recent_sign_in()
            return redirect(next_url)
        # Counted on the session row, not in the cookie: a copy of an older cookie cannot reset it.
        limit = current_app.config["CONFIRM_PASSWORD_MAX_FAILURES"]
        if service.confirmation_failed(session=db.session, token=token, max_failures=limit):
            audit.record(db.session, action=audit.SIGN_OUT, entity_type="user", entity_id=current_user.id,
                         actor_id=current_user.id, after={"reason": "wrong passwords on confirm-password"})
            db.session.commit()
            session.clear()
            logout_user()
            flash(CONFIRMATIONS_EXHAUSTED.format(n=limit), "error")
            return redirect(url_for("auth.login"))
        db.session.commit()
        form.password.errors = ["That password is not right."]
    return render_template("auth/reauth.html", form=form), 422 if form.errors else 200


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        service.end_session(session=db.session, token=current_user.get_id())
        audit.record(db.session, action=audit.SIGN_OUT, entity_type="user", entity_id=current_user.id,
                     actor_id=current_user.id)
        db.session.commit()
        memo.forget_session(current_user.get_id())
    # Clear first: logout_user() leaves the note that makes Flask-Login delete the remember cookie.
    session.clear()
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))
