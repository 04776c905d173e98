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
import sqlalchemy as sa

from incidents.extensions import db
from incidents.intake.models import IntakeDelivery
from tests.api_helpers import make_intake, new_token
from tests.live_server import serve_in_thread

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
# Examples per operation and phase: enough to find what types and the forms' rules let through,
# bounded so the run takes about a minute on the shared machine.
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25"))

pytestmark = pytest.mark.slow


def test_schemathesis_finds_no_server_error_and_no_answer_outside_the_document(app, make, tmp_path):
    """Every operation, the alert intake's three included (each with its own intake's token)."""
    owner = make.user(role="admin", name="Schema Walker")
    token = new_token(app, owner, scopes=("admin",))
    # Something for the reads to find besides what the run declares itself.
    ref = make.incident(by=owner, title="Seeded for Schemathesis")
    make.workstream(ref, by=owner)
    # The alert intake's endpoints open to their own intake's token only: one per kind, each
    # given to its operation (schemathesis.toml), the personal token to the rest. A delivery too
    # large for the intake (more alerts than allowed) is refused before it is read: 413, which
    # the check for refused input must count as a refusal there.
    refusals = ", ".join(f'"{code}"' for code in (400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429))
    config = tmp_path / "schemathesis.toml"
    intakes = {kind: make_intake(app, owner, kind) for kind in ("alertmanager", "grafana", "generic")}
    config.write_text(f'headers = {{ Authorization = "Bearer {token}" }}\n' + "".join(
        f'[[operations]]\ninclude-path = "/api/v1/intake/{kind}"\n'
        f'headers = {{ Authorization = "Bearer {secret}" }}\n'
        f'[operations.checks.negative_data_rejection]\nexpected-statuses = [{refusals}]\n'
        for kind, (_id, secret) in intakes.items()))
    with serve_in_thread(app) as url:
        run = subprocess.run(
            [str(SCHEMATHESIS), "--config-file", str(config), "run", f"{url}/api/v1/openapi.json",
             "--checks", "all", "--exclude-checks", "positive_data_acceptance",
             "--max-examples", str(MAX_EXAMPLES), "--seed", "2009", "--workers", "1",
             "--generation-allow-x00", "true", "--request-timeout", "30",
             "--report", "junit", "--report-dir", str(tmp_path)],
            # In the test's folder: the CLI keeps a cache (.schemathesis/) in its working directory.
            cwd=tmp_path, capture_output=True, text=True, timeout=900, env={**os.environ, "NO_COLOR": "1"})
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
    with app.app_context():  # the intakes' tokens opened them: generated deliveries were stored
        received = dict(db.session.execute(sa.select(IntakeDelivery.intake_id, sa.func.count())
                                           .group_by(IntakeDelivery.intake_id)).all())
    assert all(received.get(intake_id, 0) > 0 for intake_id, _secret in intakes.values()), received
