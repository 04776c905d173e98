"""/healthz tells a load balancer whether this app server can reach its database."""
from __future__ import annotations

from incidents import create_app
from tests.conftest import base_config


def test_health_is_ok_without_a_login_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_health_is_503_when_the_database_is_unreachable(tmp_path):
    # A SQLite file in a folder that does not exist cannot be opened: the database is "down".
    app = create_app(base_config(tmp_path, f"sqlite:///{tmp_path}/missing/dir/db.sqlite"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "database": "unreachable"}
    assert "Traceback" not in response.get_data(as_text=True)
