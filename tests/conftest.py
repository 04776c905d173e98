"""Test fixtures. Every test that touches the database runs on SQLite and on PostgreSQL.

With CI=true a missing PostgreSQL or Chromium fails the run; elsewhere those tests are skipped
with a loud reason in the summary.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from incidents import create_app
from incidents.extensions import db
from tests.factories import Factory

# Fixtures shared by several test modules live in tests/fixtures/; helpers in tests/helpers.py.
# No test module imports another one.
pytest_plugins = ["tests.fixtures.browser", "tests.fixtures.leak_world", "tests.fixtures.world",
                  "tests.subscriber_fixtures"]
# Helper modules that assert: rewrite their asserts so a failure shows the values, as in a test module.
pytest.register_assert_rewrite("tests.helpers", "tests.form_matrix", "tests.live_server")

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
DEFAULT_PG_URL = "postgresql+psycopg://incidents_test:incidents_test@127.0.0.1:5432/incidents_test"
PG_URL = os.environ.get("TEST_DATABASE_URL", DEFAULT_PG_URL)
# `make test-fast` narrows this to SQLite for quick loops; `make test` (and CI) always runs both.
BACKENDS = [b for b in os.environ.get("TEST_BACKENDS", "sqlite,postgresql").split(",") if b]


def require(condition_met: bool, reason: str) -> None:
    """Skip loudly when something the suite needs is missing, or fail when CI=true."""
    if condition_met:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this is a failure, not a skip)", pytrace=False)
    pytest.skip(f"NOT TESTED: {reason}")


def base_config(tmp_path: Path, database_url: str) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,  # tests sign in far more often than people; one test enables it
        "STATUS_CHANGE_CHECK_SECONDS": 0,  # tests publish and read back at once
        "DEMO_PASSWORD": "demo-password-for-tests",
        # 1% of the demo's affected customers (1,812): the demo is loaded by many tests;
        # test_demo.py checks the full-size ledger once.
        "DEMO_LEDGER_SAMPLE": 0.01,
        # Cheap hashing: the suite creates thousands of accounts. The real default (scrypt) is
        # tested in test_auth.py::test_passwords_are_stored_with_scrypt_by_default.
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1",
        # Under werkzeug's 500 kB spooling threshold, so the test client's uploads stay in memory.
        "OBLIGATION_ATTACHMENT_MAX": 300_000,
        # Tests sign out, disable people and post, then look at once: no memo of either
        # (test_page_cache.py turns them on).
        "LIVE_MEMO_SECONDS": 0,
        "SIGN_IN_MEMO_SECONDS": 0,
    }


def pg_reachable(url: str) -> str | None:
    """None when PostgreSQL answers at `url`, else the reason it does not."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return None
    except Exception as error:  # noqa: BLE001 - any failure means "not available"
        return str(error).splitlines()[0]
    finally:
        engine.dispose()


class PostgresDatabases:
    """Creates throw-away databases on the test server, so parallel runs never share one."""

    def __init__(self, server_url: str):
        self.server = sa.engine.make_url(server_url)
        self.created: list[str] = []

    def _admin(self):
        return sa.create_engine(self.server, isolation_level="AUTOCOMMIT")

    def create(self, label: str) -> str:
        name = f"{self.server.database}_{label}_{os.getpid()}_{len(self.created)}"
        engine = self._admin()
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        self.created.append(name)
        return self.server.set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        engine = self._admin()
        with engine.connect() as conn:
            for name in self.created:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The PostgreSQL server the suite may create databases on."""
    problem = pg_reachable(PG_URL)
    require(problem is None, f"PostgreSQL at {re.sub(r':[^:@/]+@', ':***@', PG_URL)} is not reachable "
                             f"({problem}); run `make test` as root or set TEST_DATABASE_URL")
    return PG_URL


@pytest.fixture(scope="session")
def pg_databases(pg_url):
    """`pg_databases.create(label)` returns the URL of a new empty database, dropped at the end."""
    databases = PostgresDatabases(pg_url)
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory) -> Path:
    """A SQLite file upgraded to the newest migration once; each test gets a copy."""
    folder = tmp_path_factory.mktemp("sqlite-template")
    path = folder / "template.db"
    app = create_app(base_config(folder, f"sqlite:///{path}"))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return path


@pytest.fixture(scope="session")
def migrated_pg(pg_databases, tmp_path_factory) -> str:
    """A PostgreSQL database of this run, upgraded to the newest migration once."""
    url = pg_databases.create("suite")
    app = create_app(base_config(tmp_path_factory.mktemp("pg"), url))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return url


def truncate_all(app) -> None:
    with app.app_context():
        tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
        with db.engine.begin() as conn:
            conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def database_url(backend, request, tmp_path) -> str:
    if backend == "sqlite":
        template = request.getfixturevalue("migrated_sqlite")
        path = tmp_path / "test.db"
        shutil.copy(template, path)
        return f"sqlite:///{path}"
    return request.getfixturevalue("migrated_pg")


@pytest.fixture
def app_config(tmp_path, database_url) -> dict:
    """Tests may change this dict before asking for `app`."""
    return base_config(tmp_path, database_url)


@pytest.fixture
def csrf_app(app_config, request):
    """The app with CSRF protection on, as in production."""
    app_config["WTF_CSRF_ENABLED"] = True
    return request.getfixturevalue("app")


@pytest.fixture
def app(app_config, backend):
    app = create_app(app_config)
    yield app
    if backend == "postgresql":
        truncate_all(app)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make(app) -> Factory:
    """Builds users and incidents through the real services: `make.user(...)`, `make.incident(...)`."""
    return Factory(app)


class Auth:
    def __init__(self, client, make: Factory):
        self.client = client
        self.make = make

    def login(self, email: str, password: str = Factory.PASSWORD):
        return self.client.post("/login", data={"email": email, "password": password})

    def as_role(self, role: str):
        """Create a user with `role`, sign in as them and return the user's e-mail."""
        email = self.make.user(role=role)
        response = self.login(email)
        assert response.status_code == 302, response.get_data(as_text=True)
        return email

    def logout(self):
        return self.client.post("/logout")


@pytest.fixture
def auth(client, make) -> Auth:
    return Auth(client, make)
