"""`flask --app app jobs worker` runs queued jobs; `jobs list` shows the recent ones."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from incidents.db import db
from incidents.jobs import registry
from incidents.jobs.models import BackgroundJob, JobState
from incidents.jobs.service import cancel, recent_jobs
from incidents.jobs.worker import describe, make_consumer


@click.command("worker")
@click.option("--workers", "-w", default=2, show_default=True, type=click.IntRange(1, 64),
              help="How many jobs run at once (threads).")
@click.option("--shutdown-timeout", default=10.0, show_default=True, type=click.FloatRange(0),
              help="Seconds Ctrl+C waits for running jobs; those still running then go back on the queue.")
@with_appcontext
def worker(workers: int, shutdown_timeout: float) -> None:
    """Run queued jobs until Ctrl+C or SIGTERM; any number of workers may share one queue."""
    app = current_app._get_current_object()
    consumer = make_consumer(app, workers=workers, shutdown_timeout=shutdown_timeout)
    kinds = ", ".join(sorted(registry.KINDS)) or "none defined yet"
    every = ", ".join(f"{name} (every {spec.seconds(app.config):g} s)"
                      for name, spec in sorted(registry.PERIODIC.items()))
    click.echo(f"Job worker: {workers} at once, from the {describe(app)}. Job kinds: {kinds}. "
               f"Periodic: {every or 'none'}. Ctrl+C stops it.")
    consumer.run()


@click.command("list")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--state", type=click.Choice([state.value for state in JobState]), help="Only jobs in this state.")
@with_appcontext
def list_jobs(limit: int, state: str | None) -> None:
    """The most recent jobs, newest first: id, when, state, kind, progress and message or error."""
    jobs = recent_jobs(session=db.session, limit=limit, state=JobState(state) if state else None)
    if not jobs:
        click.echo("No jobs.")
    for job in jobs:
        click.echo(f"{job.public_id}  {job.created_at:%Y-%m-%d %H:%M:%S} UTC  {job.state.value:<9}  "
                   f"{job.kind:<24}  {_progress(job):>13}  {job.error or job.message}")


def _progress(job: BackgroundJob) -> str:
    if job.total is not None:
        return f"{job.done:,}/{job.total:,}"
    return f"{job.done:,}" if job.done else ""


@click.command("cancel")
@click.argument("public_id")
@with_appcontext
def cancel_job(public_id: str) -> None:
    """Cancel a job that has not finished (a running one stops at its next progress report)."""
    job = db.session.scalar(select(BackgroundJob).where(BackgroundJob.public_id == public_id))
    if job is None:
        raise click.ClickException(f"No job {public_id}.")
    if not cancel(session=db.session, job=job):
        raise click.ClickException(f"Job {public_id} already {job.state.value}; nothing to cancel.")
    db.session.commit()
    click.echo(f"Job {public_id} cancelled.")
