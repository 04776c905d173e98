"""`flask --app app demo load`: the demo scenario for a fresh install."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from incidents.demo import (
    ledger_story,
    maintenance_story,
    notice_story,
    obligations_story,
    scenario,
    subscribers_story,
    systems_story,
)
from incidents.extensions import db

demo_cli = AppGroup("demo", help="Demo data.")


@demo_cli.command("load")
@click.option("--force", is_flag=True, help="Load even when the database already holds incidents.")
def load(force: bool) -> None:
    """Load the demo incident into an empty database and print the demo login."""
    password = current_app.config["DEMO_PASSWORD"]
    if not force and not scenario.is_empty(session=db.session):
        click.echo("The database already holds incidents; demo data not loaded (use --force to add it).")
    else:
        incident = scenario.load(session=db.session, password=password)
        notice_story.play(session=db.session, incident=incident)
        obligations_story.play(session=db.session, incident=incident)
        ledger_story.play(session=db.session, incident=incident,  # needs the workstreams and the notice
                          sample=current_app.config["DEMO_LEDGER_SAMPLE"])
        maintenance_story.play(session=db.session)
        subscribers_story.play(session=db.session)
        systems_story.play(session=db.session, incident=incident)  # names the cluster on the 2009 incident
        db.session.commit()
        click.echo(f"Loaded demo incident {incident.reference}.")
    click.echo(f"Demo login: {scenario.ADMIN_EMAIL} / {password}  (other demo people use the same password)")
