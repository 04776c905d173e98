"""Background jobs: long work (imports, exports, e-mails, webhooks, big PDFs) run by a worker.

A feature defines a kind in `incidents/<feature>/jobs.py` and starts it from a service::

    from incidents.jobs import JobFailed, enqueue, job, progress

    @job("ledger.import", retries=3, retry_delay=30)
    def import_ledger(*, upload_id: int) -> dict:
        ...
        progress(done, total, "Imported 10,000 of 1,000,000 rows")
        return {"imported": done}           # small JSON, shown by GET /jobs/<public_id>

    job = enqueue("ledger.import", session=session, created_by=actor, incident=incident, upload_id=7)
    # queued when the caller's transaction commits; job.public_id is what a page polls

A job runs at least once: a retry, or a worker stopped mid-job, runs it again from the start, so
each kind must be idempotent or atomic (see runner.py). Raise `JobFailed` (or any DomainError, or an
error listed in `permanent=`) to fail at once with a message for the user; any other error is
retried `retries` times, waiting `retry_delay` seconds and then twice as long each time.

While a job runs, its worker writes a heartbeat on its row; a job whose worker died (SIGKILL, a
power cut) falls silent, and after JOBS_STALE_SECONDS it is put back on the queue, the lost run
counting as an attempt (sweeper.py). A run that was only frozen can write nothing once it is replaced.

Work to do on a clock is a periodic function, in the same `jobs.py`::

    from incidents.jobs import enqueue, periodic

    @periodic("maintenance.announce_due_steps", every=60)   # seconds, or a function of the config
    def announce_due_steps() -> None:
        for window in windows_opened_since_last_run():
            enqueue("maintenance.announce", maintenance_id=window.id)

Every worker runs the periodic functions (scheduler.py); each period runs once, in one worker among
all of them, in an app context, in a transaction the worker commits when the function returns
(rolled back if it raises: the error is logged, and the other functions and the next period run as
usual). Never two runs of one function at once. Keep them short: long work is a job they enqueue.
"""
from incidents.jobs import retention, sweeper  # noqa: F401 - register jobs.purge_finished, jobs.requeue_stale
from incidents.jobs.models import BackgroundJob, JobState
from incidents.jobs.registry import job, periodic
from incidents.jobs.runner import JobFailed, TryAgainLater, current_job, progress
from incidents.jobs.service import cancel, enqueue, status_of, visible_job

__all__ = ["BackgroundJob", "JobFailed", "JobState", "TryAgainLater", "cancel", "current_job", "enqueue", "job",
           "periodic", "progress", "status_of", "visible_job"]
