"""`flask tokens`: personal access tokens from the command line (create, list, revoke)."""
from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import func, select

from incidents.api import tokens
from incidents.api.models import AccessToken, Scope
from incidents.auth.models import User
from incidents.db import utcnow
from incidents.errors import FieldError
from incidents.extensions import db

tokens_cli = AppGroup("tokens", help="Personal access tokens of the API (/api/v1).")


def _user(email: str) -> User:
    user = db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None:
        raise click.ClickException(f"No user {email} (see `flask users list`).")
    return user


@tokens_cli.command("create")
@click.argument("email")
@click.option("--name", required=True, help="What uses the token (a script, a host).")
@click.option("--scope", "scopes", multiple=True, type=click.Choice([s.value for s in Scope]), default=["read"],
              show_default=True, help="read, write or admin; repeat for several.")
@click.option("--days", type=int, default=tokens.DEFAULT_DAYS, show_default=True,
              help=f"Days until it expires (at most {tokens.MAX_DAYS}).")
def create_token(email: str, name: str, scopes: tuple[str, ...], days: int) -> None:
    """Make a token for the person EMAIL and print it, once: only its hash is kept."""
    owner = _user(email)
    try:
        token, secret = tokens.create_token(session=db.session, owner=owner, name=name, scopes=list(scopes), days=days)
    except FieldError as refused:
        raise click.ClickException(str(refused)) from None
    token_id, expires, role = token.id, token.expires_at, token.effective_role()
    db.session.commit()
    click.echo(f"Token {token_id} for {owner.email}, expires {expires:%Y-%m-%d %H:%M} UTC, acts as "
               f"{role.label.lower() if role else 'nobody'} (shown once; only its hash is kept):\n\n  {secret}\n")
    click.echo('Use it as:  curl -H "Authorization: Bearer <token>" https://<tracker>/api/v1/incidents')


@tokens_cli.command("list")
@click.option("--email", default=None, help="Only this person's tokens.")
def list_tokens(email: str | None) -> None:
    """Tokens (their hints, never the secrets), with state, expiry and last use."""
    now = utcnow()
    owner = _user(email) if email else None
    for token in tokens.tokens_of(session=db.session, owner=owner):
        used = f"used {token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never used"
        click.echo(f"{token.id:6}  {token.hint}…  {token.user.email:30}  {','.join(token.scopes):16}  "
                   f"{token.state(now):8}  expires {token.expires_at:%Y-%m-%d}  {used:22}  {token.name}")


@tokens_cli.command("revoke")
@click.argument("token_id", type=int)
def revoke_token(token_id: int) -> None:
    """Revoke token TOKEN_ID (see `tokens list`): requests with it get 401 from then on."""
    token = db.session.get(AccessToken, token_id)
    if token is None:
        raise click.ClickException(f"No token {token_id} (see `flask tokens list`).")
    if token.revoked_at is not None:
        click.echo(f"Token {token_id} ({token.hint}…) was already revoked.")
        return
    tokens.revoke_token(session=db.session, token=token)
    db.session.commit()
    click.echo(f"Revoked token {token_id} ({token.hint}…) of {token.user.email}.")
