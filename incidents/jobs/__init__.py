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
"""
from incidents.jobs.models import BackgroundJob, JobState
from incidents.jobs.registry import job
from incidents.jobs.runner import JobFailed, current_job, progress
from incidents.jobs.service import cancel, enqueue, status_of, visible_job

__all__ = ["BackgroundJob", "JobFailed", "JobState", "cancel", "current_job", "enqueue", "job", "progress",
           "status_of", "visible_job"]
