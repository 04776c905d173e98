"""User management for admins."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from incidents.admin.forms import EditUserForm, NewUserForm
from incidents.auth import service
from incidents.auth.access import role_required
from incidents.auth.models import Role, User
from incidents.extensions import db

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/users", methods=["GET", "POST"])
@role_required(Role.admin)
def users():
    form = NewUserForm()
    if form.validate_on_submit():
        try:
            user = service.create_user(session=db.session, email=form.email.data, name=form.name.data or "",
                                       password=form.password.data, role=Role(form.role.data))
        except service.AccountError as error:
            db.session.rollback()
            form.email.errors = list(form.email.errors) + [str(error)]
        else:
            db.session.commit()
            flash(f"Account created for {user.email}.", "success")
            return redirect(url_for("admin.users"))
    return render_template("admin/users.html", form=form, users=service.list_users(session=db.session)), \
        422 if form.errors else 200


# Ids beyond the 32-bit integer columns cannot exist: 404 at routing, before SQLite overflows.
@bp.route("/users/<int(max=2147483647):user_id>", methods=["GET", "POST"])
@role_required(Role.admin)
def edit_user(user_id: int):
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    form = EditUserForm(obj=user)
    if form.is_submitted() is False:
        form.role.data = user.role.value
    if form.validate_on_submit():
        if user.id == current_user.id and (Role(form.role.data) is not Role.admin or not form.active.data):
            form.role.errors = list(form.role.errors) + [
                "You cannot remove your own admin rights or disable yourself; ask another admin."]
        else:
            user.name = form.name.data.strip()
            user.role = Role(form.role.data)
            user.active = form.active.data
            if not user.active:
                service.revoke_all_sessions(session=db.session, user=user)
            if form.password.data:
                try:
                    service.set_password(session=db.session, user=user, password=form.password.data)
                except service.AccountError as error:
                    # A few spaces pass the form as "empty" yet are not a password: refuse the
                    # whole edit and say why beside the field.
                    db.session.rollback()
                    form.password.errors = list(form.password.errors) + [str(error)]
                    return render_template("admin/user_edit.html", form=form, user=user), 422
            db.session.commit()
            flash(f"{user.email} updated.", "success")
            return redirect(url_for("admin.users"))
    return render_template("admin/user_edit.html", form=form, user=user), 422 if form.errors else 200
