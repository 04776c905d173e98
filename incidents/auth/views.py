"""Signing in and out."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_user, logout_user

from incidents.audit import recorder as audit
from incidents.auth import service
from incidents.auth.access import mark_recent_sign_in, safe_next_url
from incidents.auth.forms import LoginForm, ReauthForm
from incidents.extensions import db, limiter

bp = Blueprint("auth", __name__)

LOGIN_FAILED = "That e-mail and password do not match an active account."


def _account_key() -> str:
    """Attempts on one account from one address: slows password guessing against a person."""
    email = (request.form.get("email") or "").strip().lower()[:254]
    return f"{get_remote_address()}|{email}"


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"], key_func=_account_key)
@limiter.limit("60 per minute", methods=["POST"])
def login():
    next_url = safe_next_url(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url or url_for("incident.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = service.authenticate(session=db.session, email=form.email.data,
                                    password=form.password.data)
        if user is None:
            form.password.errors = [LOGIN_FAILED]
            # Audited with the address typed, never the password.
            audit.record(db.session, action=audit.SIGN_IN_FAILED, entity_type="user",
                         after={"email": service.normalise_email(form.email.data)[:254]})
            db.session.commit()
        else:
            session.clear()  # no session fixation: a fresh session for the new login
            service.start_session(session=db.session, user=user)
            audit.record(db.session, action=audit.SIGN_IN, entity_type="user", entity_id=user.id,
                         actor_id=user.id)
            db.session.commit()
            login_user(user, remember=form.remember.data)
            mark_recent_sign_in()
            return redirect(next_url or url_for("incident.index"))
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
        if service.authenticate(session=db.session, email=current_user.email,
                                password=form.password.data) is not None:
            mark_recent_sign_in()
            return redirect(next_url)
        form.password.errors = ["That password is not right."]
    return render_template("auth/reauth.html", form=form), 422 if form.errors else 200


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        service.end_session(session=db.session, token=current_user.get_id())
        audit.record(db.session, action=audit.SIGN_OUT, entity_type="user", entity_id=current_user.id,
                     actor_id=current_user.id)
        db.session.commit()
    # Clear first: logout_user() leaves the note that makes Flask-Login delete the remember cookie.
    session.clear()
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))
