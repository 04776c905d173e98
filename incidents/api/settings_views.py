"""/settings/tokens: the signed-in person's personal access tokens (list, make, revoke)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from incidents.api import tokens
from incidents.api.forms import AccessTokenForm
from incidents.auth.access import recent_sign_in_required
from incidents.db import utcnow
from incidents.extensions import db
from incidents.versioning import save

bp = Blueprint("tokens", __name__, url_prefix="/settings/tokens")


def _page(form: AccessTokenForm | None = None, code: int = 200):
    return render_template("settings/tokens.html", tokens=tokens.tokens_of(session=db.session, owner=current_user),
                           form=form or AccessTokenForm(formdata=None), now=utcnow(),
                           max_days=tokens.MAX_DAYS), code


@bp.get("")
def index():
    return _page()


@bp.post("")
@recent_sign_in_required  # a token acts as its owner: a borrowed, unlocked laptop must not mint one
def create():
    form = AccessTokenForm()
    if not form.validate_on_submit():
        return _page(form, 422)
    saved = save(lambda: tokens.create_token(session=db.session, owner=current_user, name=form.name.data,
                                             scopes=form.scopes.data or [], days=form.days.data), form=form)
    if not saved.ok:
        return _page(form, saved.code)
    token, secret = saved.result
    # A page, not a redirect: the secret is in this response only (never in a URL, a cache or the database).
    response = render_template("settings/token_created.html", token=token, secret=secret,
                               acts_as=token.effective_role(), api_url=url_for("api.incidents_list", _external=True))
    return response, 200, {"Cache-Control": "no-store"}


@bp.post("/<int(max=2147483647):token_id>/revoke")
def revoke(token_id: int):
    token = tokens.token_of(session=db.session, owner=current_user, token_id=token_id)
    if token is None:
        abort(404)
    hint = token.hint
    if save(lambda: tokens.revoke_token(session=db.session, token=token)).ok:
        flash(f"Token {hint}… revoked: requests with it are refused from now on.", "success")
    return redirect(url_for("tokens.index"))
