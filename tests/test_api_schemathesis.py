"""Schemathesis against the served API (issue #17): every operation of /api/v1/openapi.json,
called over real HTTP with generated valid and invalid input, on SQLite and PostgreSQL.

It checks what the document promises: no 5xx, every answer's status, content type, headers and
body as declared, refused input refused (4xx), and that the operations really ask for a token.
The run includes the stateful phase: the links between operations (an incident declared, then
read, moved, edited, posted to) are inferred from the document, so generated sequences reach
real incidents, not only 404s. The CLI runs as a subprocess against a threaded server on
127.0.0.1 around the test's app, so the test's database fixtures apply.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api_helpers import new_token
from tests.live_server import serve_in_thread

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
# Examples per operation and phase: enough to find what types and the forms' rules let through,
# bounded so the run takes about a minute on the shared machine.
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25"))

pytestmark = pytest.mark.slow


def test_schemathesis_finds_no_server_error_and_no_answer_outside_the_document(app, make, tmp_path):
    owner = make.user(role="admin", name="Schema Walker")
    token = new_token(app, owner, scopes=("admin",))
    # Something for the reads to find besides what the run declares itself.
    ref = make.incident(by=owner, title="Seeded for Schemathesis")
    make.workstream(ref, by=owner)
    with serve_in_thread(app) as url:
        run = subprocess.run(
            [str(SCHEMATHESIS), "run", f"{url}/api/v1/openapi.json",
             "--header", f"Authorization: Bearer {token}",
             "--checks", "all", "--exclude-checks", "positive_data_acceptance",
             "--max-examples", str(MAX_EXAMPLES), "--seed", "2009", "--workers", "1",
             "--generation-allow-x00", "true", "--request-timeout", "30",
             "--report", "junit", "--report-dir", str(tmp_path)],
            # In the test's folder: the CLI keeps a cache (.schemathesis/) in its working directory.
            cwd=tmp_path, capture_output=True, text=True, timeout=900, env={**os.environ, "NO_COLOR": "1"})
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
