"""Background jobs (incidents/jobs) with a real Huey consumer, on its SQLite queue and on Redis.

The worker runs in threads of the test process (Huey's consumer, as `flask jobs worker` runs it),
so the jobs below can wait on events the tests set. Each test has its own queue (a SQLite file
under tmp_path, or a Redis queue name of its own), so pytest-xdist workers never share one.
Workers started here run only the periodic functions a test names; those a test defines are
forgotten after it.
"""
from __future__ import annotations

import contextlib
import itertools
import logging
import os
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import redis
import sqlalchemy as sa
from flask import jsonify, request
from flask_login import current_user

from incidents import create_app
from incidents.db import utcnow
from incidents.extensions import db
from incidents.jobs import (
    BackgroundJob,
    JobFailed,
    JobState,
    TryAgainLater,
    cancel,
    current_job,
    enqueue,
    heartbeat,
    job,
    periodic,
    progress,
    registry,
)
from incidents.jobs.models import PeriodicRun
from incidents.jobs.queue import queue_of
from incidents.jobs.registry import JobKind
from incidents.jobs.runner import JobCancelled
from incidents.jobs.scheduler import kinds_named, period_start
from incidents.jobs.worker import make_consumer
from tests.conftest import require

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
BOTH_QUEUES = pytest.mark.parametrize("queue_backend", ["sqlite", "redis"], indirect=True)
GATES: dict[str, threading.Event] = {}  # jobs of kind tests.gated wait on these
LATE_WRITES: dict[str, str] = {}  # what became of a frozen run's write once it woke up, per gate
STALE_AFTER_1S = pytest.mark.parametrize("stale_seconds", [1], indirect=True)


@job("tests.echo")
def echo(*, text: str) -> dict:
    run = current_job()
    return {"echo": text, "attempt": run.attempt, "created_by_id": run.created_by_id}


@job("tests.gated")
def gated(*, gate: str, files: int = 3) -> dict:
    progress(1, files, f"Read 1 of {files} files")
    GATES[gate].wait(10)
    progress(files, files, f"Read all {files} files")
    return {"files": files}


@job("tests.unreachable", retries=2, retry_delay=0)
def unreachable() -> None:
    raise ConnectionError("ledger host 10.0.0.7:5432 unreachable")


@job("tests.flaky_once", retries=3, retry_delay=0.1)
def flaky_once() -> dict:
    if current_job().attempt == 1:
        raise TimeoutError("the mail server did not answer")
    return {"attempt": current_job().attempt}


@job("tests.receiver_down", retries=1, retry_delay=0)
def receiver_down() -> None:
    raise TryAgainLater("https://hooks.example.com answered 503")


@job("tests.refused", retries=3)
def refused() -> None:
    raise JobFailed("The file has no header row: upload a CSV whose first line names the columns.")


@job("tests.freezes_first")
def freezes_first(*, gate: str) -> dict:
    run = current_job()
    progress(1, 2, f"Attempt {run.attempt} started")
    if run.attempt == 1:
        GATES[gate].wait(10)  # its worker froze (a VM paused, a stalled disk), then wakes up
        try:
            progress(2, 2, "Attempt 1 woke up")
        except JobCancelled:
            LATE_WRITES[gate] = "refused"
            raise
        LATE_WRITES[gate] = "written"
    return {"attempt": run.attempt}


@pytest.fixture(scope="session")
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
        problem = None
    except redis.RedisError as error:
        problem = str(error)
    finally:
        client.close()
    require(problem is None, f"Redis at {REDIS_URL} is not reachable ({problem}); run `make redis` "
                             "or set TEST_REDIS_URL")
    return REDIS_URL


@pytest.fixture
def queue_backend(request) -> str:
    return getattr(request, "param", "sqlite")


@pytest.fixture
def stale_seconds(request) -> float:
    """JOBS_STALE_SECONDS: the default, or (STALE_AFTER_1S) short enough to see a sweep in a test."""
    return getattr(request, "param", 120)


@pytest.fixture
def app_config(app_config, queue_backend, stale_seconds, tmp_path, request):
    """This test's own queue: a SQLite file under tmp_path, or a Redis queue name nobody else uses."""
    app_config["JOBS_STALE_SECONDS"] = stale_seconds
    app_config["JOBS_SQLITE_PATH"] = str(tmp_path / "jobs.db")
    app_config["JOBS_QUEUE_NAME"] = f"test_{os.getpid()}_{uuid.uuid4().hex[:12]}"
    if queue_backend == "redis":
        app_config["REDIS_URL"] = request.getfixturevalue("redis_url")
    return app_config


@pytest.fixture
def app(app, queue_backend):
    """The app with a route that enqueues a job the way a feature's view would."""

    @app.post("/test-jobs/<kind>")
    def start_job(kind):
        then = request.args.get("then", "commit")
        if then == "savepoint":  # one job in a savepoint that rolls back, one kept
            savepoint = db.session.begin_nested()
            enqueue(kind, created_by=current_user, **request.get_json())
            db.session.flush()
            savepoint.rollback()
        public_id = enqueue(kind, created_by=current_user, **request.get_json()).public_id
        if then == "rollback":
            db.session.rollback()
            return jsonify(rolled_back=True), 409
        db.session.commit()
        return jsonify(id=public_id)

    yield app
    queue = app.extensions.get("jobs")
    if queue is not None:
        if queue_backend == "redis":
            queue.huey.flush()  # this test's keys only
        queue.close()


@pytest.fixture
def start_worker(app, second_machine):
    """`start_worker(some_app)` starts a consumer with its job threads, stopped after the test
    (before any `second_machine` app goes away); it runs the periodic functions named in
    `periodic` (none unless asked)."""
    consumers = []

    def start(of=None, *, workers: int = 2, periodic: tuple[str, ...] = ()):
        consumer = make_consumer(of or app, workers=workers, poll_seconds=0.05, shutdown_timeout=5,
                                 periodic=periodic)
        if hasattr(consumer.huey.storage, "read_timeout"):
            consumer.huey.storage.read_timeout = 0.1  # Redis: stop within 0.1 s rather than 1 s
        consumer.start()
        consumers.append(consumer)
        return consumer

    yield start
    for gate in GATES.values():
        gate.set()
    for consumer in consumers:
        consumer.stop(graceful=True)


@pytest.fixture
def own_periodic(monkeypatch):
    """Periodic functions a test defines with @periodic exist for that test only."""
    monkeypatch.setattr(registry, "PERIODIC", dict(registry.PERIODIC))


@pytest.fixture
def second_machine(app_config):
    """Another app instance on the same database and queue, as a worker on another machine has."""
    apps = []

    def make():
        apps.append(create_app(dict(app_config)))
        return apps[-1]

    yield make
    for other in apps:
        queue_of(other).close()
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


def start(client, kind: str, then: str = "commit", **params) -> str:
    response = client.post(f"/test-jobs/{kind}?then={then}", json=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["id"]


def status(client, public_id: str) -> dict:
    response = client.get(f"/jobs/{public_id}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def wait_until(client, public_id: str, condition, timeout: float = 10) -> dict:
    """Poll the job's status as a page would until `condition(status)` holds."""
    deadline = time.monotonic() + timeout
    while True:
        seen = status(client, public_id)
        if condition(seen):
            return seen
        assert not seen["finished"], f"the job ended otherwise: {seen}"
        assert time.monotonic() < deadline, f"gave up waiting; the job is {seen}"
        time.sleep(0.02)


def eventually(condition, what: str, timeout: float = 10):
    """Wait until `condition()` is true (returning it), or fail saying `what` never happened."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.02)
    return result


def periodic_row(app, name: str) -> PeriodicRun | None:
    with app.app_context():
        row = db.session.get(PeriodicRun, name)
        db.session.expunge_all()
        return row


def finished(seen: dict) -> bool:
    return seen["finished"]


def new_gate() -> str:
    name = uuid.uuid4().hex
    GATES[name] = threading.Event()
    return name


@BOTH_QUEUES
def test_a_job_enqueued_in_a_request_runs_and_ends_with_its_result(app, client, auth, make, start_worker):
    email = auth.as_role("responder")
    start_worker()
    public_id = start(client, "tests.echo", text="Contacts restored from tape")
    seen = wait_until(client, public_id, finished)
    assert seen["state"] == "succeeded" and seen["error"] is None and seen["attempts"] == 1
    assert seen["result"] == {"echo": "Contacts restored from tape", "attempt": 1,
                              "created_by_id": make.user_id(email)}
    assert seen["started_at"] and seen["finished_at"]


@BOTH_QUEUES
def test_progress_shows_while_the_job_runs(app, client, auth, start_worker):
    auth.as_role("responder")
    start_worker()
    gate = new_gate()
    public_id = start(client, "tests.gated", gate=gate)
    seen = wait_until(client, public_id, lambda s: s["state"] == "running" and s["done"] == 1)
    assert (seen["done"], seen["total"], seen["message"]) == (1, 3, "Read 1 of 3 files")
    GATES[gate].set()
    seen = wait_until(client, public_id, finished)
    assert seen["state"] == "succeeded"
    assert (seen["done"], seen["total"], seen["message"], seen["result"]) == (3, 3, "Read all 3 files", {"files": 3})


@BOTH_QUEUES
def test_a_rolled_back_transaction_enqueues_nothing(app, client, auth):
    auth.as_role("responder")
    response = client.post("/test-jobs/tests.echo?then=rollback", json={"text": "never"})
    assert response.status_code == 409
    queue = queue_of(app)
    assert queue.huey.pending_count() == 0
    # A job added in a savepoint that rolled back is not sent either; the one beside it is.
    kept = start(client, "tests.echo", then="savepoint", text="kept")
    assert queue.huey.pending_count() == 1
    with app.app_context():
        assert db.session.scalars(sa.select(BackgroundJob.public_id)).all() == [kept]


@BOTH_QUEUES
def test_a_failing_job_is_retried_then_fails_with_a_readable_error(app, client, auth, start_worker):
    auth.as_role("responder")
    start_worker()
    public_id = start(client, "tests.unreachable")
    seen = wait_until(client, public_id, finished)
    assert seen["state"] == "failed" and seen["attempts"] == 3
    assert seen["error"] == (f"The job stopped on an unexpected error (ConnectionError) after 3 attempts. "
                             f"The worker's log has the details (job {public_id}).")
    assert seen["result"] is None


def test_a_failure_the_job_explains_is_logged_as_one_line_and_others_with_their_traceback(
        app, client, auth, start_worker, caplog):
    """A receiver that is down is not a bug: one line with the reason per attempt (a dead webhook
    receiver retried for a day would otherwise fill the log with tracebacks). An unexpected error
    keeps its traceback."""
    auth.as_role("responder")
    start_worker()
    with caplog.at_level(logging.WARNING, logger="incidents.jobs.runner"):
        explained = wait_until(client, start(client, "tests.receiver_down"), finished)
        unexpected = wait_until(client, start(client, "tests.unreachable"), finished)
    assert explained["state"] == unexpected["state"] == "failed"
    records = [r for r in caplog.records if r.name == "incidents.jobs.runner" and "attempt" in r.getMessage()]
    down = [r for r in records if "tests.receiver_down" in r.getMessage()]
    assert [r.getMessage().split(" failed")[1] for r in down] == [": https://hooks.example.com answered 503"] * 2
    assert all(r.exc_info is None for r in down)
    crashed = [r for r in records if "tests.unreachable" in r.getMessage()]
    assert len(crashed) == 3 and all(r.exc_info is not None for r in crashed)


def test_a_retry_after_a_delay_succeeds(app, client, auth, start_worker):
    auth.as_role("responder")
    start_worker()
    public_id = start(client, "tests.flaky_once")
    seen = wait_until(client, public_id, finished)
    assert (seen["state"], seen["attempts"], seen["result"]) == ("succeeded", 2, {"attempt": 2})


def test_a_refusal_fails_at_once_with_its_message(app, client, auth, start_worker):
    auth.as_role("responder")
    start_worker()
    public_id = start(client, "tests.refused")
    seen = wait_until(client, public_id, finished)
    assert (seen["state"], seen["attempts"]) == ("failed", 1)
    assert seen["error"] == "The file has no header row: upload a CSV whose first line names the columns."


def test_retries_back_off_exponentially():
    kind = JobKind(name="x", func=print, retries=5, retry_delay=5, backoff=2, permanent=(), priority=0)
    assert [kind.delay_after(attempt) for attempt in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert kind.delay_after(20) == 3600


@BOTH_QUEUES
def test_a_job_waits_for_a_worker_started_later_by_another_app_instance(app, app_config, client, auth,
                                                                       start_worker):
    """The web server enqueues with no worker running, then goes away; a worker started later
    from the same configuration (another process or machine: here another app instance) runs it."""
    auth.as_role("responder")
    public_id = start(client, "tests.echo", text="queued overnight")
    assert status(client, public_id)["state"] == "queued"
    assert queue_of(app).huey.pending_count() == 1

    worker_app = create_app(dict(app_config))
    try:
        start_worker(worker_app)
        seen = wait_until(client, public_id, finished)
        assert (seen["state"], seen["result"]["echo"]) == ("succeeded", "queued overnight")
    finally:
        queue_of(worker_app).close()
        with worker_app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_only_the_starter_and_admins_see_a_job(app, client, auth, runner):
    auth.as_role("responder")
    public_id = start(client, "tests.echo", text="mine")
    assert status(client, public_id)["state"] == "queued"
    auth.logout()
    assert client.get(f"/jobs/{public_id}").status_code == 302  # to the login page

    auth.as_role("responder")
    other = client.get(f"/jobs/{public_id}")
    unknown = client.get("/jobs/" + "A" * 22)
    assert other.status_code == unknown.status_code == 404
    assert other.get_json() == unknown.get_json() == {"error": "No such job."}
    assert client.get("/jobs/%00").status_code == 404
    auth.logout()

    auth.as_role("admin")
    assert status(client, public_id)["result"] is None
    listed = runner.invoke(args=["jobs", "list"])
    assert public_id in listed.output and "tests.echo" in listed.output and "queued" in listed.output


def test_a_cancelled_job_stops_at_its_next_progress_report(app, client, auth, start_worker):
    auth.as_role("responder")
    consumer = start_worker()
    gate = new_gate()
    public_id = start(client, "tests.gated", gate=gate)
    wait_until(client, public_id, lambda s: s["state"] == "running")
    with app.app_context():
        assert cancel(session=db.session, job=db.session.scalar(
            sa.select(BackgroundJob).where(BackgroundJob.public_id == public_id)))
        db.session.commit()
    GATES[gate].set()  # the run goes on to its next report, is told, and stops
    deadline = time.monotonic() + 10
    while consumer.huey._tasks_in_flight:
        assert time.monotonic() < deadline, "the cancelled run did not stop"
        time.sleep(0.02)
    seen = status(client, public_id)
    assert (seen["state"], seen["message"], seen["result"]) == ("cancelled", "Cancelled.", None)


def test_a_job_interrupted_by_a_worker_shutdown_runs_again(app, client, auth, start_worker):
    """At-least-once: a worker stopped mid-job puts it back, and the next worker runs it again."""
    auth.as_role("responder")
    consumer = start_worker(workers=1)
    gate = new_gate()
    public_id = start(client, "tests.gated", gate=gate)
    wait_until(client, public_id, lambda s: s["state"] == "running" and s["done"] == 1)
    consumer.stop()  # what Huey does on SIGTERM, or at the end of its shutdown timeout:
    consumer.huey.notify_interrupted_tasks()
    assert status(client, public_id)["state"] == "queued"
    GATES[gate].set()  # the interrupted run goes on, but may no longer record anything
    start_worker()
    seen = wait_until(client, public_id, finished)
    assert (seen["state"], seen["attempts"], seen["result"]) == ("succeeded", 2, {"files": 3})


def test_immediate_mode_runs_jobs_inline_when_the_transaction_commits(app_config, request):
    """For tests of other features: JOBS_IMMEDIATE runs each job at commit, with no worker."""
    app_config["JOBS_IMMEDIATE"] = True
    app = request.getfixturevalue("app")
    client = request.getfixturevalue("client")
    request.getfixturevalue("auth").as_role("responder")
    assert status(client, start(client, "tests.echo", text="inline"))["result"]["echo"] == "inline"
    seen = status(client, start(client, "tests.flaky_once"))
    assert (seen["state"], seen["attempts"]) == ("succeeded", 2)
    with app.app_context(), pytest.raises(LookupError, match="no job kind 'tests.nothing'"):
        enqueue("tests.nothing")


def test_a_job_the_queue_cannot_take_is_marked_failed(app_config, request):
    """Redis down when the request commits: the request still succeeds, and the job says why it never ran."""
    app_config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    client = request.getfixturevalue("client")
    request.getfixturevalue("auth").as_role("responder")
    seen = status(client, start(client, "tests.echo", text="lost?"))
    assert (seen["state"], seen["attempts"]) == ("failed", 0)
    assert seen["error"].startswith("The job could not be handed to the job queue")


def test_periodic_work_is_registered_by_name_with_a_period():
    assert [kind.name for kind in kinds_named(["jobs.requeue_stale"])] == ["jobs.requeue_stale"]
    assert kinds_named(["jobs.requeue_stale"])[0].seconds({"JOBS_STALE_SECONDS": 120}) == 30
    with pytest.raises(LookupError, match="no periodic function 'tests.nothing'"):
        kinds_named(["tests.nothing"])
    with pytest.raises(ValueError, match="over 0 seconds"):
        periodic("tests.never", every=0)
    # Periods are counted from the epoch, so every worker on every machine agrees on them.
    moment = datetime(2026, 11, 29, 8, 30, 59, tzinfo=UTC).timestamp()
    assert period_start(moment, 60) == datetime(2026, 11, 29, 8, 30, tzinfo=UTC)
    assert period_start(moment + 0.5, 60) == period_start(moment, 60)


@BOTH_QUEUES
def test_a_periodic_function_runs_once_a_period_in_its_own_transaction(app, start_worker, own_periodic):
    periods = []

    @periodic("tests.tick", every=0.3)
    def tick() -> None:
        # An app context and a session of its own; enqueued jobs go out when the worker commits.
        periods.append(db.session.get(PeriodicRun, "tests.tick").period_start)
        enqueue("tests.echo", text=f"tick {len(periods)}")

    consumer = start_worker(periodic=("tests.tick",))
    eventually(lambda: len(periods) >= 3, "three periods of tests.tick")

    def echoes(state=None) -> int:
        with app.app_context():
            query = sa.select(sa.func.count()).where(BackgroundJob.kind == "tests.echo")
            return db.session.scalar(query if state is None else query.where(BackgroundJob.state == state))

    eventually(lambda: echoes(JobState.succeeded) >= 1, "a job enqueued by tests.tick to run")
    consumer.stop(graceful=True)
    assert periods == sorted(set(periods)), "a period ran twice"
    assert all((later - earlier).total_seconds() >= 0.3 - 1e-3 for earlier, later in itertools.pairwise(periods))
    assert echoes() == len(periods)  # each run's transaction committed
    row = periodic_row(app, "tests.tick")
    assert (row.period_start, row.error, row.lease_until) == (periods[-1], None, None)


def test_two_workers_run_each_period_once_and_never_two_runs_at_once(app, start_worker, second_machine,
                                                                    own_periodic):
    periods, overlapping, running = [], [], []
    lock = threading.Lock()

    @periodic("tests.quick", every=0.5)
    def quick() -> None:
        periods.append(db.session.get(PeriodicRun, "tests.quick").period_start)

    @periodic("tests.slow", every=0.25)
    def slow() -> None:
        with lock:
            running.append(1)
            overlapping.append(len(running) > 1)
        time.sleep(0.3)  # longer than its period: the next run waits for this one to end
        with lock:
            running.pop()

    names = ("tests.quick", "tests.slow")
    eventually(lambda: time.time() % 0.5 < 0.1, "the start of a period")
    workers = [start_worker(periodic=names)]
    eventually(lambda: periods and periodic_row(app, "tests.quick").lease_until is None, "the first run")
    # Most likely still in the first run's period, which the second worker must not run again.
    workers.append(start_worker(second_machine(), periodic=names))
    eventually(lambda: len(periods) >= 4 and len(overlapping) >= 4, "four runs of each")
    for worker in workers:
        worker.stop(graceful=True)
    assert len(periods) == len(set(periods)), f"a period ran twice: {periods}"
    assert not any(overlapping), "two runs of tests.slow at once"


def test_a_failing_periodic_function_stops_neither_the_others_nor_the_worker(app, start_worker, own_periodic):
    calls = {"broken": 0, "steady": 0}

    @periodic("tests.broken", every=0.2)
    def broken() -> None:
        calls["broken"] += 1
        enqueue("tests.echo", text="rolled back with the failed run")
        raise ConnectionError("the mail server at 10.0.0.9:25 refused the connection")

    @periodic("tests.steady", every=0.2)
    def steady() -> None:
        calls["steady"] += 1

    start_worker(periodic=("tests.broken", "tests.steady"))
    eventually(lambda: calls["broken"] >= 3 and calls["steady"] >= 3, "both to run three times")
    assert periodic_row(app, "tests.broken").error == (
        "ConnectionError: the mail server at 10.0.0.9:25 refused the connection")
    assert periodic_row(app, "tests.steady").error is None
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(BackgroundJob)) == 0
        public_id = enqueue("tests.echo", text="jobs still run").public_id
        db.session.commit()

    def echoed():
        with app.app_context():
            return db.session.scalar(sa.select(BackgroundJob.state).where(BackgroundJob.public_id == public_id))

    assert eventually(lambda: echoed() is JobState.succeeded, "the job to succeed")


@STALE_AFTER_1S
@BOTH_QUEUES
def test_the_sweeper_puts_back_a_job_whose_worker_died_and_fails_one_that_keeps_dying(
        app, client, auth, make, start_worker):
    """What a worker killed with SIGKILL leaves: the job running, its heartbeat old, its message gone."""
    user_id = make.user_id(auth.as_role("responder"))
    long_ago = utcnow() - timedelta(minutes=10)
    with app.app_context():
        lost, dying = (BackgroundJob(kind="tests.echo", params={"text": text}, state=JobState.running,
                                     attempts=attempts, started_at=long_ago, heartbeat_at=long_ago,
                                     created_by_id=user_id)
                       for text, attempts in (("after the power cut", 1), ("again", 2)))
        db.session.add_all([lost, dying])
        db.session.commit()
        lost_id, dying_id = lost.public_id, dying.public_id
    start_worker(periodic=("jobs.requeue_stale",))
    seen = wait_until(client, lost_id, finished)
    assert (seen["state"], seen["attempts"], seen["result"]["echo"]) == ("succeeded", 2, "after the power cut")
    # tests.echo has no retries: it survives one lost worker, not a second.
    seen = wait_until(client, dying_id, finished)
    assert (seen["state"], seen["attempts"]) == ("failed", 2)
    assert seen["error"].startswith("The worker running this job stopped (killed, or its machine lost power) "
                                    "during each of its 2 attempts")


@STALE_AFTER_1S
def test_a_live_job_keeps_its_worker_past_the_stale_limit(app, client, auth, start_worker):
    auth.as_role("responder")
    start_worker(periodic=("jobs.requeue_stale",))
    gate = new_gate()
    public_id = start(client, "tests.gated", gate=gate)
    wait_until(client, public_id, lambda s: s["state"] == "running")
    time.sleep(2.5)  # more than twice the limit, swept four times a second; only the heartbeat speaks
    assert (status(client, public_id)["state"], status(client, public_id)["attempts"]) == ("running", 1)
    GATES[gate].set()
    seen = wait_until(client, public_id, finished)
    assert (seen["state"], seen["attempts"]) == ("succeeded", 1)


@STALE_AFTER_1S
def test_a_frozen_run_is_replaced_and_its_late_writes_change_nothing(app, client, auth, start_worker,
                                                                    monkeypatch):
    auth.as_role("responder")
    monkeypatch.setattr(heartbeat, "beating", lambda app, run: contextlib.nullcontext())  # frozen: silent
    start_worker(workers=1)
    gate = new_gate()
    public_id = start(client, "tests.freezes_first", gate=gate)
    wait_until(client, public_id, lambda s: s["message"] == "Attempt 1 started")
    start_worker(periodic=("jobs.requeue_stale",))  # its sweeper finds the first worker silent
    seen = wait_until(client, public_id, finished)
    assert (seen["state"], seen["attempts"], seen["result"]) == ("succeeded", 2, {"attempt": 2})
    GATES[gate].set()  # the first run wakes up and reports progress as attempt 1
    assert eventually(lambda: LATE_WRITES.get(gate), "the frozen run to wake up") == "refused"
    assert status(client, public_id) == seen
