"""`make run`'s launcher: the web server and a job worker together; Ctrl+C stops both.

    python -m incidents.jobs.launcher -- gunicorn --bind 127.0.0.1:5000 app:app

Each child runs in its own session, so the terminal's Ctrl+C reaches only this launcher, which
passes one stop to each: the worker waits for its running jobs (up to its shutdown timeout), the
web server for its requests. A second Ctrl+C stops both at once. When either child ends on its
own, the other is stopped too and the launcher exits with the failed child's code.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import time

WORKER = [sys.executable, "-m", "flask", "--app", "app", "jobs", "worker"]


def main(argv: list[str]) -> int:
    web = argv[1:] if argv[:1] == ["--"] else argv
    if not web:
        print(__doc__, file=sys.stderr)
        return 2
    children = {"worker": subprocess.Popen(WORKER, start_new_session=True),
                "web": subprocess.Popen(web, start_new_session=True)}
    stops = 0

    def stop(signum=None, _frame=None) -> None:
        nonlocal stops
        stops += 1
        for name, child in children.items():
            if child.poll() is None:
                child.send_signal(_stop_signal(name, urgent=stops > 1))

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while all(child.poll() is None for child in children.values()):
        time.sleep(0.2)
    if not stops:  # one child ended by itself: the pair is broken, stop the other
        ended = next(name for name, child in children.items() if child.poll() is not None)
        print(f"launcher: the {ended} process ended (exit {children[ended].returncode}); stopping the other.",
              file=sys.stderr)
        stop()
    for child in children.values():
        child.wait()
    return next((c.returncode for c in children.values() if c.returncode not in (0, -signal.SIGINT)), 0)


def _stop_signal(name: str, *, urgent: bool) -> int:
    """The signal that stops `name` gracefully (or at once, on a second Ctrl+C)."""
    if name == "worker":
        return signal.SIGTERM if urgent else signal.SIGINT  # Huey: SIGINT waits for running jobs
    return signal.SIGINT if urgent else signal.SIGTERM  # gunicorn: SIGTERM waits for requests


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
