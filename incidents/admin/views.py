"""User management for admins."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from incidents.admin.forms import EditUserForm, NewUserForm
from incidents.auth import service
from incidents.auth.access import recent_sign_in_required, role_required
from incidents.auth.models import Role, User
from incidents.extensions import db
from incidents.versioning import save

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/users", methods=["GET", "POST"])
@role_required(Role.admin)
@recent_sign_in_required
def users():
    form = NewUserForm()
    if form.validate_on_submit() and (saved := save(lambda: service.create_user(
            session=db.session, email=form.email.data, name=form.name.data or "", password=form.password.data,
            role=Role(form.role.data)), form=form)).ok:
        flash(f"Account created for {saved.result.email}.", "success")
        return redirect(url_for("admin.users"))
    return render_template("admin/users.html", form=form, users=service.list_users(session=db.session)), \
        422 if form.errors else 200


# Ids beyond the 32-bit integer columns cannot exist: 404 at routing, before SQLite overflows.
@bp.route("/users/<int(max=2147483647):user_id>", methods=["GET", "POST"])
@role_required(Role.admin)
@recent_sign_in_required
def edit_user(user_id: int):
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    form = EditUserForm(obj=user)
    if not form.is_submitted():
        form.role.data = user.role.value
    if form.validate_on_submit() and save(lambda: service.update_account(
            session=db.session, actor=current_user, user=user, name=form.name.data, role=Role(form.role.data),
            active=form.active.data, password=form.password.data or None), form=form).ok:
        flash(f"{user.email} updated.", "success")
        return redirect(url_for("admin.users"))
    return render_template("admin/user_edit.html", form=form, user=user), 422 if form.errors else 200
