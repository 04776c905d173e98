"""Scale-out, shown: two app servers on one PostgreSQL behave as one.

Two gunicorn processes on different ports, each with its own instance folder (so nothing is shared
through local files), share only the database and the SECRET_KEY from the environment, as the
README's deployment section says. A person signs in through A; their cookie (and the CSRF token
inside it) works on B; writers post through both at once; B shows every acknowledged entry; a
publish made through A shows on B's public site within its documented freshness; signing out
through B ends the session on A; with the shared rate-limit store (a memcached of the test's own),
ten wrong passwords spread over A and B lock the account on both.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import threading
import time
from html import unescape

import pytest
import requests
from flask_migrate import upgrade

from incidents import create_app
from incidents.auth.models import Role
from incidents.auth.service import create_user
from incidents.extensions import db
from tests.conftest import base_config, require
from tests.helpers import csrf_token
from tests.live_server import clean_env, free_port, gunicorn

EMAIL, PASSWORD = "scale.out@example.com", "scale-out-" + secrets.token_hex(8)
WRITERS_PER_SERVER, POSTS_PER_WRITER = 3, 8
FRESHNESS_S = 1.0  # STATUS_CHANGE_CHECK_SECONDS, the documented freshness of the public site
SLACK_S = 5.0  # scheduling noise on a shared machine; a stale cache would never catch up


@pytest.fixture(scope="module")
def shared_store():
    """A memcached of this run (the store the README tells several servers to share for the
    sign-in rate limit), or None when memcached is not installed."""
    binary = shutil.which("memcached")
    if not binary:
        yield None
        return
    port = free_port()
    user = ["-u", "nobody"] if os.geteuid() == 0 else []  # memcached refuses to run as root
    proc = subprocess.Popen([binary, "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "16", *user],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "memcached did not start"
                time.sleep(0.05)
        yield f"memcached://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def servers(pg_databases, shared_store, tmp_path_factory):
    """Servers A and B on one fresh PostgreSQL database of this run (and the shared memcached)."""
    url = pg_databases.create("scaleout")
    common = {"DATABASE_URL": url, "SECRET_KEY": secrets.token_hex(32),
              "STATUS_CHANGE_CHECK_SECONDS": str(FRESHNESS_S),
              "RATELIMIT_STORAGE_URI": shared_store or "memory://"}
    folders = [tmp_path_factory.mktemp(f"server-{name}") for name in "ab"]
    envs = [clean_env(INCIDENTS_INSTANCE_PATH=str(folder), **common) for folder in folders]
    prepare(url, folders[0])
    with gunicorn(*envs, logs=[folder / "gunicorn.log" for folder in folders]) as (a, b):
        yield a, b


def prepare(url: str, folder) -> None:
    """Migrate the database and add the account, as `flask db upgrade` and `flask users create` do."""
    app = create_app(base_config(folder, url))
    with app.app_context():
        upgrade()
        create_user(session=db.session, email=EMAIL, password=PASSWORD, role=Role.responder, name="Sam Scale")
        db.session.commit()
        db.engine.dispose()


@pytest.fixture(autouse=True)
def close_clients():
    """Close every HTTP client a test opened, so no keep-alive connection holds a server open."""
    yield
    while OPENED:
        OPENED.pop().close()


OPENED: list[requests.Session] = []


def new_client() -> requests.Session:
    session = requests.Session()
    OPENED.append(session)
    return session


def sign_in(base: str) -> requests.Session:
    session = new_client()
    token = csrf_token(session.get(f"{base}/login", timeout=10).text)
    response = session.post(f"{base}/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token},
                            allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text[:500]
    return session


def same_person_on(session: requests.Session) -> requests.Session:
    """A new HTTP client carrying the same cookies (another browser tab, another thread)."""
    other = new_client()
    other.cookies.update(session.cookies)
    return other


def declare(session: requests.Session, base: str, title: str) -> str:
    token = csrf_token(session.get(f"{base}/incidents/new", timeout=10).text)
    response = session.post(f"{base}/incidents/new", data={"title": title, "severity": "SEV2", "csrf_token": token},
                            allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text[:500]
    return response.headers["Location"].rstrip("/").rsplit("/", 1)[1]


def all_timeline_text(session: requests.Session, base: str, reference: str) -> str:
    """Every page of the incident's timeline, following "Older entries" to the end."""
    pages, url = [], f"{base}/incidents/{reference}"
    while url:
        response = session.get(url, timeout=10)
        assert response.status_code == 200
        pages.append(response.text)
        older = re.search(r'<a class="button" href="([^"]+)"[^>]*>Older entries', response.text)
        url = base + unescape(older.group(1)).split("#")[0] if older else None
    return "\n".join(pages)


def test_two_servers_share_sessions_and_data(servers):
    a, b = servers
    on_a = sign_in(a)
    on_b = same_person_on(on_a)
    # The cookie A issued is accepted by B: the person is signed in there without signing in.
    page = on_b.get(f"{b}/", allow_redirects=False, timeout=10)
    assert page.status_code == 200 and "Sam Scale" in page.text

    reference = declare(on_a, a, "Contacts lost during a storage upgrade")
    # B's form token works on A and A's on B: CSRF state is in the signed cookie, not a server.
    token_from_a = csrf_token(on_a.get(f"{a}/incidents/{reference}", timeout=10).text)

    acknowledged: list[str] = []
    failures: list[str] = []
    lock = threading.Lock()

    def write(server: str, n: int) -> None:
        client = same_person_on(on_a)
        for i in range(POSTS_PER_WRITER):
            body = f"update {i} from writer {n} via {'A' if server == a else 'B'}"
            response = client.post(f"{server}/incidents/{reference}/timeline",
                                   data={"body": body, "kind": "note", "visibility": "internal",
                                         "csrf_token": token_from_a}, allow_redirects=False, timeout=30)
            with lock:
                if response.status_code == 302:
                    acknowledged.append(body)
                else:
                    failures.append(f"{body}: HTTP {response.status_code}")

    threads = [threading.Thread(target=write, args=(server, n))
               for n, server in enumerate([a, b] * WRITERS_PER_SERVER)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert len(acknowledged) == 2 * WRITERS_PER_SERVER * POSTS_PER_WRITER

    # Everything written through either server is read back through B.
    seen = all_timeline_text(on_b, b, reference)
    missing = [body for body in acknowledged if body not in seen]
    assert missing == []
    assert "via A" in seen and "via B" in seen

    # Signing out through B ends the session everywhere: A refuses the same cookie.
    token = csrf_token(on_b.get(f"{b}/", timeout=10).text)
    assert on_b.post(f"{b}/logout", data={"csrf_token": token}, allow_redirects=False, timeout=10).status_code == 302
    after = same_person_on(on_a).get(f"{a}/", allow_redirects=False, timeout=10)
    assert after.status_code == 302 and "/login" in after.headers["Location"]


def test_public_site_on_b_shows_a_publish_made_through_a(servers):
    a, b = servers
    on_a = sign_in(a)
    reference = declare(on_a, a, "Photos missing for some customers")
    summary = f"{b}/status/api/v2/summary.json"
    public = new_client()
    before = public.get(summary, timeout=10)
    assert before.status_code == 200
    assert "Photo sync delayed" not in before.text  # B has rendered and cached the page by now

    token = csrf_token(on_a.get(f"{a}/incidents/{reference}", timeout=10).text)
    published = on_a.post(f"{a}/incidents/{reference}/publish", allow_redirects=False, timeout=10,
                          data={"public_title": "Photo sync delayed", "impact": "minor",
                                "public_status": "investigating", "public_body": "We are looking into it.",
                                "csrf_token": token})
    assert published.status_code == 302, published.text[:500]
    published_at = time.monotonic()

    while True:
        names = [i["name"] for i in public.get(summary, timeout=10).json()["incidents"]]
        if "Photo sync delayed" in names:
            break
        waited = time.monotonic() - published_at
        assert waited < FRESHNESS_S + SLACK_S, f"B still serves the old summary after {waited:.1f} s"
        time.sleep(0.1)
    page = public.get(f"{b}/status/", timeout=10)
    assert "Photo sync delayed" in page.text and "We are looking into it." in page.text


def test_sign_in_limit_counts_attempts_on_both_servers(servers, shared_store):
    """Ten wrong passwords a minute per account and address, however the balancer spreads them."""
    require(shared_store is not None, "memcached is not installed (`make memcached`); the shared "
                                      "sign-in rate limit across two servers was not shown")
    a, b = servers
    client = new_client()
    token = csrf_token(client.get(f"{a}/login", timeout=10).text)
    wrong = {"email": "guessed.account@example.com", "password": "not the password", "csrf_token": token}
    answers = [client.post(f"{server}/login", data=wrong, allow_redirects=False, timeout=10).status_code
               for server in [a, b] * 5]
    assert answers == [401] * 10
    # With a store per server, A and B would each allow ten; together they allowed ten.
    for server in (a, b):
        refused = client.post(f"{server}/login", data=wrong, allow_redirects=False, timeout=10)
        assert refused.status_code == 429 and "Too many sign-in attempts" in refused.text
