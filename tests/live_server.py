"""The app served for real in tests: gunicorn subprocesses (as production runs it) or a threaded
Werkzeug server around an app object (when a test needs a real HTTP client against its fixtures)."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
from werkzeug.serving import make_server

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the venv's bin dir: flask and gunicorn live next to python
STARTUP_TIMEOUT = 30  # seconds for gunicorn to answer /healthz


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(**overrides: str) -> dict[str, str]:
    """This process's environment without the app settings a developer may have exported."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "FLASK_APP", "TRUSTED_PROXIES", "SECRET_KEY", "RATELIMIT_STORAGE_URI")}
    env.update(PYTHONUNBUFFERED="1", **overrides)
    return env


def wait_until_healthy(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    problem = "no answer yet"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
                problem = f"HTTP {response.status}"
        except (urllib.error.URLError, OSError) as error:
            problem = str(error)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=0.1)  # a bounded pause that also notices a crash at once
    state = f"exited with {proc.returncode}" if proc.poll() is not None else f"no healthy answer in {STARTUP_TIMEOUT}s"
    pytest.fail(f"gunicorn {state} ({problem}). Server output:\n{log.read_text(errors='replace')}",
                pytrace=False)


@contextmanager
def gunicorn(*envs: dict[str, str], logs: list[Path], workers: int = 1, threads: int = 4,
             app: str = "app:app"):
    """Serve `app` with gunicorn (gthread workers) once per environment in ENVS, each on its own
    free loopback port, started side by side; yields their base URLs in the same order."""
    started: list[tuple[subprocess.Popen, str, Path]] = []
    try:
        for env, log in zip(envs, logs, strict=True):
            port = free_port()
            with open(log, "ab") as out:  # a file, not a pipe: nothing to drain, nothing left open
                proc = subprocess.Popen(
                    [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
                     "--worker-class", "gthread", "--threads", str(threads), "--graceful-timeout", "5",
                     "--access-logfile", "-", app],
                    cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            started.append((proc, f"http://127.0.0.1:{port}", log))
        for proc, url, log in started:
            wait_until_healthy(url, proc, log)
        yield [url for _, url, _ in started]
    finally:
        for proc, _, _ in started:
            proc.terminate()
        for proc, _, _ in started:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def serve_in_thread(app):
    """The app object behind a threaded Werkzeug server on 127.0.0.1; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()
