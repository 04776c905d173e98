"""The outbound client against real listeners on 127.0.0.1: what it refuses, and how it connects.

Loopback is exactly what the client refuses by default, so a listener there shows both sides: a
refused URL never reaches it (it counts accepted connections), and with 127.0.0.0/8 allowed the
same listener answers. No test reaches the internet or DNS: names go through an injected resolver,
or are "localhost" (the hosts file).
"""
from __future__ import annotations

import ipaddress
import shutil
import socket
import ssl
import subprocess
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from incidents.outbound import (
    USER_AGENT,
    OutboundPolicy,
    address_problem,
    new_message_id,
    new_signing_secret,
    policy_from_config,
    post_json,
    signature_headers,
)
from tests.conftest import require

BODY = b'{"event": "incident.updated", "title": "Caf\xc3\xa9 sync outage"}'
HTTP_ONLY_PUBLIC = OutboundPolicy(allow_http=True)  # the default address rules, over plain http
LOOPBACK_ALLOWED = policy_from_config({"OUTBOUND_ALLOW_PRIVATE": "127.0.0.0/8", "OUTBOUND_ALLOW_HTTP": "true"})
ONE_LOOPBACK_ALLOWED = OutboundPolicy.parse("127.0.0.1/32", allow_http=True)


# --- listeners -----------------------------------------------------------------------------------

class Listener(ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1 that counts connections and records requests."""

    daemon_threads = True

    def __init__(self, respond, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.respond = respond
        self.tls = tls
        self.accepted = 0
        self.requests: list[tuple[str, dict[str, str], bytes]] = []  # path, headers, body
        self.release = threading.Event()  # ends slow answers when the test is over

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/incident?kind=update"

    def get_request(self):
        sock, peer = super().get_request()
        self.accepted += 1
        if self.tls is not None:  # the handshake happens in the handler's thread, on first read
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, peer

    def handle_error(self, request, client_address) -> None:
        pass  # a client that hung up on purpose (timeouts, capped bodies, refused certificates)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        self.server.respond(self)

    def log_message(self, *args) -> None:
        pass


def answer(status: int = 200, body: bytes = b'{"ok": true}', **headers: str):
    def respond(handler: _Handler) -> None:
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name.replace("_", "-"), value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
    return respond


def answer_late(handler: _Handler) -> None:
    handler.server.release.wait(10)
    answer()(handler)


def answer_drip(handler: _Handler) -> None:
    """Headers one byte every 0.1 s for 3 s: each read is quick, the whole answer is not."""
    handler.wfile.write(b"HTTP/1.1 200 OK\r\nX-Drip: ")
    for _ in range(30):
        if handler.server.release.wait(0.1):
            return
        handler.wfile.write(b"a")
        handler.wfile.flush()
    handler.wfile.write(b"\r\nContent-Length: 0\r\n\r\n")


@pytest.fixture
def listen():
    started: list[tuple[Listener, threading.Thread]] = []

    def start(respond=None, tls: ssl.SSLContext | None = None) -> Listener:
        server = Listener(respond or answer(), tls)
        # A short poll, so shutdown() at the end of each test does not wait half a second.
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        thread.start()
        started.append((server, thread))
        return server

    yield start
    for server, thread in started:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join()


def resolver(table: dict[str, list[str]]):
    """A resolver that answers from a table and fails the test for any other name."""
    def resolve(host: str, port: int) -> list[str]:
        assert host in table, f"the client asked to resolve {host}"
        return table[host]
    return resolve


# --- refused before any connection ---------------------------------------------------------------

def test_loopback_is_refused_by_default_and_never_reached(listen):
    server = listen()
    delivery = post_json(server.url, BODY, policy=HTTP_ONLY_PUBLIC)
    assert delivery.error == ("refused: 127.0.0.1 is a loopback address "
                              "(an admin may allow it in OUTBOUND_ALLOW_PRIVATE)")
    assert (delivery.status, delivery.ok, server.accepted) == (None, False, 0)


def test_only_https_by_default(listen):
    server = listen()
    delivery = post_json(server.url, BODY, policy=policy_from_config({"OUTBOUND_ALLOW_PRIVATE": "127.0.0.0/8"}))
    assert delivery.error.startswith("refused: only https:// URLs are allowed")
    assert server.accepted == 0


BYPASSES = [
    "http://2130706433:{port}/", "http://0x7f.1:{port}/", "http://0x7f000001:{port}/", "http://017700000001:{port}/",
    "http://127.1:{port}/", "http://0177.0.0.1:{port}/", "http://127.0.0.01:{port}/", "http://0:{port}/",
    "http://[::ffff:127.0.0.1]:{port}/", "http://[::ffff:7f00:1]:{port}/", "http://[::1]:{port}/",
    "http://[::]:{port}/", "http://0.0.0.0:{port}/", "http://[64:ff9b::7f00:1]:{port}/", "http://[2002:7f00:1::]:{port}/",
    "http://localhost:{port}/", "http://LocalHost:{port}/", "http://localhost.:{port}/", "http://127.0.0.1.:{port}/",
    "http://[fe80::1%25lo]:{port}/", "http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/",
    "http://10.0.0.5/", "http://172.16.0.1/", "http://192.168.1.1/", "http://100.64.0.1/", "http://[fc00::1]/",
    "http://224.0.0.1/", "http://255.255.255.255/",
    "http://user:password@127.0.0.1:{port}/", "http://example.com@127.0.0.1:{port}/",
    "http://127.0.0.1:{port}\\@example.com/", " http://127.0.0.1:{port}/", "http://127.0.0.1%2e:{port}/",
    "file:///etc/passwd", "ftp://127.0.0.1:{port}/", "gopher://127.0.0.1:{port}/_", "//127.0.0.1:{port}/",
    "http://127.0.0.1:99999/", "http:///",
]


@pytest.mark.parametrize("url", BYPASSES)
def test_every_disguise_of_a_local_address_is_refused(listen, url):
    server = listen()
    delivery = post_json(url.format(port=server.port), BODY, policy=HTTP_ONLY_PUBLIC)
    assert delivery.error.startswith("refused: ")
    assert server.accepted == 0


def test_the_numeric_forms_say_how_to_write_an_address():
    delivery = post_json("http://0x7f.1/", BODY, policy=HTTP_ONLY_PUBLIC)
    assert delivery.error == ("refused: 0x7f.1 is an address in an unusual form; write it as four decimal numbers "
                              "(a.b.c.d) or use the host name")


def test_a_name_that_resolves_to_loopback_is_refused(listen):
    server = listen()
    names = resolver({"hooks.example.test": ["127.0.0.1"]})
    delivery = post_json(f"http://hooks.example.test:{server.port}/", BODY, policy=HTTP_ONLY_PUBLIC, resolve=names)
    assert delivery.error == ("refused: hooks.example.test resolves to 127.0.0.1, a loopback address "
                              "(an admin may allow it in OUTBOUND_ALLOW_PRIVATE)")
    assert server.accepted == 0


def test_one_bad_address_among_good_ones_refuses_the_name(listen):
    server = listen()
    names = resolver({"hooks.example.test": ["127.0.0.1", "10.0.0.5"]})
    delivery = post_json(f"http://hooks.example.test:{server.port}/", BODY, policy=LOOPBACK_ALLOWED, resolve=names)
    assert delivery.error.startswith("refused: hooks.example.test resolves to 10.0.0.5, a private address")
    assert server.accepted == 0


@pytest.mark.parametrize(("address", "problem"), [
    ("169.254.169.254", "the cloud metadata address"), ("169.254.1.1", "a link-local address"),
    ("fe80::1", "a link-local address"), ("fc00::1", "a private address"), ("10.1.2.3", "a private address"),
    ("100.64.0.1", "a shared (carrier-grade NAT) address"), ("0.0.0.0", "an unspecified address"),
    ("::", "an unspecified address"), ("ff02::1", "a multicast address"), ("240.0.0.1", "a reserved address"),
    ("::ffff:10.0.0.1", "a private address (10.0.0.1 written as IPv6)"),
    ("8.8.8.8", None), ("2606:4700::1", None), ("::ffff:8.8.8.8", None), ("64:ff9b::808:808", None),
])
def test_address_classes(address, problem):
    assert address_problem(ipaddress.ip_address(address)) == problem


# --- allowed: how the connection is made --------------------------------------------------------

def test_an_allowed_network_is_delivered_to(listen):
    server = listen(answer(201, b'{"received": true}'))
    delivery = post_json(server.url, BODY, {"X-Extra": "1"}, policy=LOOPBACK_ALLOWED)
    assert (delivery.status, delivery.ok, delivery.error) == (201, True, None)
    assert (delivery.body, delivery.address) == ('{"received": true}', "127.0.0.1")
    [(path, headers, body)] = server.requests
    assert (path, body) == ("/hooks/incident?kind=update", BODY)
    assert headers["host"] == f"127.0.0.1:{server.port}"
    assert (headers["user-agent"], headers["content-type"], headers["x-extra"]) == (USER_AGENT, "application/json", "1")


def test_the_connection_goes_to_the_checked_address_not_a_second_lookup(listen):
    """DNS rebinding: the first answer passes the check, a later one would point at a private address."""
    server = listen()
    answers = iter([["127.0.0.1"], ["10.0.0.5"], ["169.254.169.254"]])
    lookups = []

    def rebinding(host: str, port: int) -> list[str]:
        lookups.append(host)
        return next(answers)

    delivery = post_json(f"http://hooks.example.test:{server.port}/in", BODY, policy=ONE_LOOPBACK_ALLOWED,
                         resolve=rebinding)
    assert (delivery.status, delivery.address, lookups) == (200, "127.0.0.1", ["hooks.example.test"])
    [(path, headers, _)] = server.requests
    assert (path, headers["host"]) == ("/in", f"hooks.example.test:{server.port}")


def test_an_allowed_host_name_may_resolve_to_a_private_address(listen):
    server = listen()
    policy = OutboundPolicy.parse("hooks.intranet.test, 192.168.0.0/16", allow_http=True)
    names = resolver({"hooks.intranet.test": ["127.0.0.1"], "other.intranet.test": ["127.0.0.1"]})
    assert post_json(f"http://hooks.intranet.test:{server.port}/", BODY, policy=policy, resolve=names).ok
    refused = post_json(f"http://other.intranet.test:{server.port}/", BODY, policy=policy, resolve=names)
    assert refused.error.startswith("refused: other.intranet.test resolves to 127.0.0.1")
    assert server.accepted == 1


def test_redirects_are_not_followed(listen):
    elsewhere = listen()
    server = listen(answer(302, b"", Location=elsewhere.url))
    delivery = post_json(server.url, BODY, policy=LOOPBACK_ALLOWED)
    assert (delivery.status, delivery.ok) == (302, False)
    assert delivery.error == f"redirect not followed (302 to {elsewhere.url})"
    assert (server.accepted, elsewhere.accepted) == (1, 0)


def test_a_slow_listener_times_out(listen):
    server = listen(answer_late)
    delivery = post_json(server.url, BODY, policy=LOOPBACK_ALLOWED, timeout=0.5)
    assert (delivery.status, delivery.error) == (None, "timed out after 0.5 s")


def test_the_timeout_covers_the_whole_answer_not_each_read(listen):
    server = listen(answer_drip)  # every read gets a byte within 0.1 s; the answer takes 3 s
    delivery = post_json(server.url, BODY, policy=LOOPBACK_ALLOWED, timeout=1)
    assert delivery.error == "timed out after 1 s"


def test_the_answer_is_read_up_to_the_cap(listen):
    server = listen(answer(200, b"x" * 1_000_000))
    delivery = post_json(server.url, BODY, policy=LOOPBACK_ALLOWED, max_body=4096)
    assert (delivery.status, delivery.body) == (200, "x" * 4096)


def test_connection_refused_is_said_in_words():
    with socket.socket() as probe:  # a port that was free a moment ago and has no listener now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    delivery = post_json(f"http://127.0.0.1:{port}/", BODY, policy=LOOPBACK_ALLOWED)
    assert (delivery.status, delivery.error) == (None, "connection refused")


# --- https: SNI and the certificate are for the name in the URL ---------------------------------

@pytest.fixture
def certificate(tmp_path):
    """A self-signed certificate for hooks.example.test only (not for 127.0.0.1), made by openssl."""
    openssl = shutil.which("openssl")
    require(openssl is not None, "the https test needs the openssl command to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "1", "-subj", "/CN=hooks.example.test", "-addext", "subjectAltName=DNS:hooks.example.test",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def tls_listener(listen, certificate):
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    names: list[str | None] = []
    context.sni_callback = lambda _sock, name, _context: names.append(name)
    return listen(tls=context), names


def test_https_connects_to_the_address_and_verifies_the_name(listen, certificate):
    server, sni = tls_listener(listen, certificate)
    trusted = ssl.create_default_context(cafile=str(certificate[0]))
    names = resolver({"hooks.example.test": ["127.0.0.1"]})
    delivery = post_json(f"https://hooks.example.test:{server.port}/in", BODY, policy=LOOPBACK_ALLOWED,
                         resolve=names, ssl_context=trusted)
    assert (delivery.status, delivery.error, delivery.address) == (200, None, "127.0.0.1")
    assert sni == ["hooks.example.test"]
    assert server.requests[0][1]["host"] == f"hooks.example.test:{server.port}"


def test_https_refuses_a_certificate_it_does_not_trust(listen, certificate):
    server, _ = tls_listener(listen, certificate)
    names = resolver({"hooks.example.test": ["127.0.0.1"]})
    delivery = post_json(f"https://hooks.example.test:{server.port}/", BODY, policy=LOOPBACK_ALLOWED, resolve=names)
    assert delivery.error.startswith("TLS error: certificate not accepted (self-signed certificate")
    assert server.requests == []


def test_https_refuses_a_certificate_for_another_name(listen, certificate):
    server, _ = tls_listener(listen, certificate)
    trusted = ssl.create_default_context(cafile=str(certificate[0]))
    delivery = post_json(f"https://127.0.0.1:{server.port}/", BODY, policy=LOOPBACK_ALLOWED, ssl_context=trusted)
    assert delivery.error.startswith("TLS error: certificate not accepted (IP address mismatch")
    assert server.requests == []


# --- the allow-list setting -------------------------------------------------------------------------

def test_the_allow_list_setting():
    policy = policy_from_config({"OUTBOUND_ALLOW_PRIVATE": " 10.0.0.0/8, fd00::/8,Hooks.Intranet.Example ,"})
    assert policy.allowed_networks == (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8"))
    assert (policy.allowed_hosts, policy.allow_http) == (frozenset({"hooks.intranet.example"}), False)
    assert policy_from_config({}) == OutboundPolicy()


@pytest.mark.parametrize("entry", ["10.0.0.1/8", "10.0.0.300", "0x7f.1", "hooks.example.", "bad host", "*.intranet"])
def test_a_bad_allow_list_entry_is_named(entry):
    with pytest.raises(ValueError, match=f"OUTBOUND_ALLOW_PRIVATE: '{entry.replace('*', '[*]')}'"):
        policy_from_config({"OUTBOUND_ALLOW_PRIVATE": entry})


# --- signing --------------------------------------------------------------------------------------------

def test_signed_headers_verify_with_standard_webhooks():
    secret = new_signing_secret()
    headers = signature_headers(secret=secret, message_id=new_message_id(), body=BODY)
    assert secret.startswith("whsec_") and headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(BODY, headers) == {"event": "incident.updated", "title": "Café sync outage"}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace(b"outage", b"outagE"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_signing_secret()).verify(BODY, headers)


def test_the_timestamp_header_is_the_signed_instant_in_any_zone():
    secret = new_signing_secret()
    now_in_denver = datetime.now(timezone(timedelta(hours=-7)))
    headers = signature_headers(secret=secret, message_id="msg_1", body=BODY, timestamp=now_in_denver)
    assert headers["webhook-timestamp"] == str(int(now_in_denver.timestamp()))
    Webhook(secret).verify(BODY, headers)  # raises if the signed time and the header differ
