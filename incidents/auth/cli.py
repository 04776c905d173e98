"""`flask --app app users ...`: account administration from the shell."""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from incidents.auth import service
from incidents.auth.models import Role
from incidents.errors import FieldError
from incidents.extensions import db

users_cli = AppGroup("users", help="Create and list accounts.")


@users_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.responder.value,
              show_default=True, help="viewer reads; responder declares and updates; admin manages users.")
@click.option("--name", default="", help="Display name (defaults to the part of the e-mail before @).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (for scripts).")
def create(email: str, role: str, name: str, password_stdin: bool) -> None:
    """Create an account for EMAIL."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = service.create_user(session=db.session, email=email, password=password,
                                   role=Role(role), name=name)
    except FieldError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(f"Created {user.email} ({user.role.value}).")


@users_cli.command("list")
def list_users() -> None:
    """List accounts with their roles."""
    for user in service.list_users(session=db.session):
        state = "" if user.active else "  (disabled)"
        click.echo(f"{user.email:40} {user.role.value:10} {user.name}{state}")


@users_cli.command("set-role")
@click.argument("email")
@click.argument("role", type=click.Choice([r.value for r in Role]))
def set_role(email: str, role: str) -> None:
    """Change the role of the account EMAIL."""
    user = service.get_by_email(session=db.session, email=email)
    if user is None:
        raise click.ClickException(f"No account for {email}.")
    try:
        service.change_role(session=db.session, user=user, role=Role(role))
    except FieldError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(f"{user.email} is now {role}.")
