"""Real servers for the subscriber tests: an SMTP server (aiosmtpd) that keeps what it receives and
refuses chosen recipients, and an HTTP listener for webhooks that answers as told.

Registered from tests/conftest.py: any test may ask for the `smtp` fixture, and point the app at it
with `mail_to(smtp)`."""
from __future__ import annotations

import email
import socket
import threading
from email.message import EmailMessage
from email.policy import default
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    """The SMTP server's handler: every accepted message, parsed; `refuse` names mailboxes that do
    not exist (550, a bounce)."""

    def __init__(self):
        self.messages: list[EmailMessage] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 (aiosmtpd's name)
        if address.lower() in self.refuse:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append(email.message_from_bytes(envelope.content, policy=default))
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


class SMTPServer:
    def __init__(self):
        self.inbox = Inbox()
        self.port = free_port()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SMTPServer:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


class Listener:
    """An HTTP server on 127.0.0.1 recording each POST (headers and body) and answering `status`."""

    def __init__(self, status: int = 200):
        self.status, self.received = status, []
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                listener.received.append((dict(self.headers), body))
                self.send_response(listener.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/status"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Listener:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def smtp():
    """A real SMTP server on loopback for the test; `smtp.inbox` holds what it received."""
    with SMTPServer() as server:
        yield server


def mail_to(server: SMTPServer, site: str) -> dict:
    """App settings that run jobs as their transaction commits and send mail to `server`, with
    links pointing at `site` (the status site's public address)."""
    return {"JOBS_IMMEDIATE": True, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": server.port, "SMTP_SECURITY": "none",
            "STATUS_PUBLIC_URL": site}
