"""Property: nothing anybody sends to any endpoint gets a server error.

Hypothesis sends random Unicode (NULs, text-direction overrides, surrogates written as text and
as raw invalid UTF-8), huge, empty and malformed values to every route in `app.url_map` (so new
features are covered the day they are added): URL variables filled with real ids and with junk,
POST bodies with the endpoint's real field names (valid values, junk, missing, repeated) plus
random ones, and query strings on GET routes. Once signed in as an admin (who may reach
everything) and once anonymous, on SQLite and PostgreSQL.

FUZZ_EXAMPLES=N sets the examples per route (default 5); FUZZ_TRACE=FILE appends every request
sent to FILE, to find one that hangs.
"""
from __future__ import annotations

import io
import logging
import os
import re
import resource
import traceback
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.exceptions import HTTPException
from werkzeug.test import EnvironBuilder

from tests.fixtures.world import form_data

pytestmark = pytest.mark.fuzz

PACKAGE = Path(__file__).resolve().parent.parent / "incidents"
# Examples per route and method: keeps the file under a minute a backend. FUZZ_EXAMPLES=200 digs deeper.
EXAMPLES = {"admin": int(os.environ.get("FUZZ_EXAMPLES", 5)),
            "anonymous": max(2, int(os.environ.get("FUZZ_EXAMPLES", 5)) // 3)}
SKIPPED_WHILE_SIGNED_IN = {"auth.logout"}  # walked last, so the walker stays signed in

SPECIAL = [
    "", " ", "\x00", "lost\x00contacts", "\u202egpj.exe", "\u202bفقدان", "\u200f", "\ufeff",
    "\\ud800", "\\udfff", "🔥", "%00", "%ff", "<script>alert(1)</script>",
    "'; DROP TABLE incident; --", "../../../etc/passwd", "-1", "0", "2147483648", "9223372036854775808",
    "99999999999999999999", "1e309", "NaN", "-inf", "0x10", "²", "١٢٣", "0001-01-01T00:00",
    "9999-12-31T23:59", "2009-10-02T04:40+02:00", "yes", "on", "null", "{}", "[]",
]
HUGE = ["x" * 100_000, "9" * 5_000, "é" * 50_000, "\x00" * 10_000]


# Characters that break naive code, drawn about half the time so most strings hold some.
NASTY_CHARS = ["\x00", "\u202e", "\u202b", "\u200f", "\ufeff", "\x1b", "\x7f", "\x85", "\u2028", "\U0010ffff",
               "🔥", "ف", "<", ">", "'", '"', "%", "&", "\\", "\n", "\r", "\t", " "]


def values() -> st.SearchStrategy[str]:
    return st.one_of(
        # any character UTF-8 can carry (controls included), salted with the nasty ones
        st.text(alphabet=st.sampled_from(NASTY_CHARS) | st.characters(codec="utf-8"), max_size=40),
        st.sampled_from(SPECIAL),
        st.integers().map(str),
        st.sampled_from(HUGE),
    )


class Forms(HTMLParser):
    """The forms on a page: each one's action and the names of its fields."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[str, str, set[str]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append(((attrs.get("method") or "get").upper(), attrs.get("action") or "", set()))
        elif tag in ("input", "select", "textarea", "button") and attrs.get("name") and self.forms:
            self.forms[-1][2].add(attrs["name"])


def query_names() -> set[str]:
    """Every query parameter the code reads (`request.args.get("x")`), found in the source."""
    pattern = re.compile(r"""args\.get(?:list)?\(\s*["']([A-Za-z_]\w*)["']""")
    return {name for path in PACKAGE.rglob("*.py") for name in pattern.findall(path.read_text())}


def real_path(rule, world) -> str:
    values = {**world.url_values, **world.url_overrides.get(rule.endpoint, {})}
    return fill(rule, {name: str(values.get(name, "1")) for name in rule.arguments})


def fill(rule, values: dict[str, str]) -> str:
    def one(match):
        name, converter = match.group(2), match.group(1) or ""
        return quote(values[name], safe="/" if converter.startswith("path") else "")
    return re.sub(r"<(?:([^<>:]+):)?(\w+)>", one, rule.rule)


def field_names(app, client, world, rules) -> dict[str, set[str]]:
    """Per endpoint, the field names of its forms: from the access walk's table and from every
    form on every page this visitor can see."""
    adapter = app.url_map.bind("localhost")
    names: dict[str, set[str]] = {}
    for rule in rules:
        if rule.methods - {"GET", "HEAD", "OPTIONS"}:
            try:
                names.setdefault(rule.endpoint, set()).update(form_data(app, world, rule.endpoint, "admin"))
            except KeyError:
                names.setdefault(rule.endpoint, set())
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        response = client.get(real_path(rule, world))
        if response.status_code == 200 and response.mimetype == "text/html":
            for method, action, fields in Forms(response.get_data(as_text=True)).forms:
                path = urlsplit(action).path or real_path(rule, world)
                try:
                    endpoint, _ = adapter.match(path, method="POST" if method == "POST" else "GET")
                except HTTPException:
                    continue
                names.setdefault(endpoint, set()).update(fields)
        response.close()
    return names


def still_signed_in(client) -> bool:
    response = client.get("/admin/users")
    response.close()
    return response.status_code == 200


def routes(app, walker):
    out = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        for method in sorted(rule.methods - {"OPTIONS", "HEAD"}):
            if walker and rule.endpoint in SKIPPED_WHILE_SIGNED_IN:
                continue
            out.append((rule, method))
    return out


def fuzz_route(app, client, world, rule, method, fields: set[str], valid: dict, params: list[str],
               walker: str | None, relogin, answered: set[str] | None = None,
               server_log=lambda: "") -> None:
    real = {**world.url_values, **world.url_overrides.get(rule.endpoint, {})}

    @settings(max_examples=EXAMPLES[walker or "anonymous"], deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def run(data):
        path_values = {}
        for name in rule.arguments:
            use_real = name in real and data.draw(st.booleans(), label=f"real {name}")
            path_values[name] = str(real[name]) if use_real else data.draw(values(), label=f"url {name}")
        path = fill(rule, path_values)
        keys = st.one_of(st.sampled_from(params), st.sampled_from(params), st.text(max_size=10))
        query = data.draw(st.lists(st.tuples(keys, values()), max_size=4), label="query")
        url = path + ("?" + urlencode(query) if query else "")
        kwargs = {}
        if method != "GET":
            kwargs = body(data, fields, valid)
        if os.environ.get("FUZZ_TRACE"):
            with open(os.environ["FUZZ_TRACE"], "a") as trace:
                trace.write(f"{method} {url[:300]!r} {repr(kwargs)[:300]}\n")
        builder = EnvironBuilder(path=url, method=method, **kwargs)
        request = builder.get_request()
        try:
            response = client.open(request)
            status = response.status_code
            response.close()
        except Exception as error:  # noqa: BLE001 - an exception escaping a view is the 500 we hunt
            raise AssertionError(f"{method} {url[:200]} as {walker or 'anonymous'} raised "
                                 f"{traceback.format_exc(limit=-6)}") from error
        finally:
            # A body over 500 kB is spooled to a temporary file the test client never closes.
            request.environ["wsgi.input"].close()
            builder.close()
        assert status < 500, f"{method} {url[:200]} as {walker or 'anonymous'}: HTTP {status}\n{server_log()}"
        if answered is not None and status < 300:
            answered.add(rule.endpoint)
        if walker and (rule.endpoint.startswith(("auth.", "admin.")) or status == 403):
            relogin()

    run()


def body(data, fields: set[str], valid: dict) -> dict:
    """Keyword arguments for the test client: a form, a file upload or a malformed body."""
    kind = data.draw(st.sampled_from(["form", "form", "form", "file", "raw", "json", "broken-multipart"]),
                     label="body kind")
    if kind == "raw":
        raw = data.draw(st.sampled_from([b"body=%ED%A0%80&title=%FF%FE", b"%", b"a=1&a", b"=&&=",
                                         b"\xff\xfe\x00", b"title=" + b"%00" * 2000]) | st.binary(max_size=200))
        return {"data": raw, "content_type": "application/x-www-form-urlencoded"}
    if kind == "json":
        return {"data": b'{"title": "\\ud800", "body": [1, {}]}', "content_type": "application/json"}
    if kind == "broken-multipart":
        return {"data": b"--xyz\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nunterminated",
                "content_type": "multipart/form-data; boundary=xyz"}
    form: dict[str, object] = {}
    for name in sorted(fields):
        choice = data.draw(st.sampled_from(["valid", "junk", "junk", "missing", "twice"]), label=name)
        if choice == "valid" and name in valid:
            form[name] = str(valid[name])
        elif choice == "twice":
            form[name] = [data.draw(values(), label=name), data.draw(values(), label=name)]
        elif choice != "missing":
            form[name] = data.draw(values(), label=name)
    for name, value in data.draw(st.dictionaries(st.text(min_size=1, max_size=12), values(), max_size=3),
                                 label="extra fields").items():
        form.setdefault(name, value)
    if kind == "file" and form:
        name = data.draw(st.sampled_from(sorted(form)), label="file field")
        form[name] = (io.BytesIO(data.draw(st.binary(max_size=64), label="file")), "notes.txt")
    return {"data": form}


@pytest.fixture
def memory_cap():
    """A runaway request fails the test with a MemoryError, named with its request, instead of
    taking the machine's memory: 2 GB more address space than the test process already has."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    status = Path("/proc/self/status")
    if not status.exists():
        yield
        return
    size_kb = next(int(line.split()[1]) for line in status.read_text().splitlines() if line.startswith("VmSize:"))
    cap = size_kb * 1024 + 2 * 1024**3
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@pytest.mark.parametrize("walker", ["admin", None], ids=["admin", "anonymous"])
def test_no_input_reaches_a_server_error(app, client, auth, world, walker, caplog, memory_cap):
    email = auth.as_role(walker) if walker else None
    caplog.set_level(logging.ERROR)

    def server_log() -> str:
        """The traceback the app logged for its latest server error (its 500 page hides it)."""
        logged = [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]
        return logging.Formatter().formatException(logged[-1].exc_info)[-2500:] if logged else ""

    def relogin():
        if not still_signed_in(client):
            auth.login(email)

    rules = [rule for rule, _ in routes(app, walker)]
    names = field_names(app, client, world, rules)
    read_anywhere = query_names()
    failures, answered = [], set()
    for rule, method in routes(app, walker):
        try:
            valid = form_data(app, world, rule.endpoint, "admin") if method != "GET" else {}
        except KeyError:
            valid = {}
        try:
            # Query keys: every one the code reads, plus this page's filter form fields.
            params = sorted(read_anywhere | (names.get(rule.endpoint, set()) if method == "GET" else set()))
            fuzz_route(app, client, world, rule, method, names.get(rule.endpoint, set()), valid, params or ["q"],
                       walker, relogin if walker else (lambda: None), answered, server_log)
        except AssertionError as error:
            failures.append(f"{rule.endpoint} {method}: {str(error)[:3000]}")
    assert failures == [], "\n\n".join(failures)
    # The walk really reached the pages: the admin stayed signed in, the anonymous visitor was let
    # into the public site only.
    if walker:
        assert {"admin.users", "incident.detail", "status.page"} <= answered
    else:
        assert "status.page" in answered and "incident.index" not in answered
