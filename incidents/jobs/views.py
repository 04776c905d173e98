"""`GET /jobs/<public_id>`: a job's progress and outcome as JSON, for the page that started it."""
from __future__ import annotations

from flask import Blueprint, jsonify
from flask_login import current_user

from incidents.db import db
from incidents.jobs import cli, queue, registry, service

# cli_group: the blueprint brings the `flask jobs ...` commands with it.
bp = Blueprint("jobs", __name__, cli_group="jobs")
for command in (cli.worker, cli.list_jobs, cli.cancel_job):
    bp.cli.add_command(command)


@bp.record_once
def set_up(_state) -> None:
    """Know every job kind, in the web and the worker alike, and hand jobs over at commit."""
    registry.discover()
    queue.install()


@bp.get("/jobs/<public_id>")
def status(public_id: str):
    """The job's state for the person who started it, or an admin; 404 for anyone else."""
    job = service.visible_job(session=db.session, public_id=public_id, viewer=current_user)
    if job is None:
        # The same answer as for an id that names nothing: others' jobs are not revealed.
        return jsonify(error="No such job."), 404
    return jsonify(service.status_of(job))
