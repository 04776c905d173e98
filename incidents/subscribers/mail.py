"""Sending e-mail: one SMTP connection for a batch of messages, settings from the environment.

With no SMTP_HOST configured (a laptop, the demo) messages are written to the instance folder's
`outbox/` as .eml files instead, so nothing is lost and anyone can open them. A refusal the server
gives for good (5xx: no such mailbox) is a bounce, told apart from trouble worth retrying (4xx, a
dropped connection), which raises so the job is retried with backoff.
"""
from __future__ import annotations

import contextlib
import smtplib
import ssl
import time
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path


@dataclass(frozen=True)
class MailSettings:
    host: str | None
    port: int
    security: str  # "starttls", "ssl" or "none"
    username: str | None
    password: str | None
    sender: str
    outbox: Path
    timeout: float = 30.0

    @classmethod
    def from_app(cls, app) -> MailSettings:
        config = app.config
        port = int(config.get("SMTP_PORT") or 587)
        security = (config.get("SMTP_SECURITY") or ("ssl" if port == 465 else "starttls" if port == 587 else "none"))
        return cls(host=config.get("SMTP_HOST") or None, port=port, security=security.lower(),
                   username=config.get("SMTP_USERNAME") or None, password=config.get("SMTP_PASSWORD") or None,
                   sender=config["MAIL_FROM"], outbox=Path(app.instance_path) / "outbox")


@dataclass(frozen=True)
class Sent:
    """What became of one message: accepted, or refused for good (a bounce) with the server's reply."""

    ok: bool
    code: int | None = None
    error: str | None = None
    elapsed_ms: int = 0


class TransientMailError(Exception):
    """The server could not take the message now (4xx, connection trouble): try again later."""


class Mailer:
    """`with Mailer(settings) as mailer: mailer.send(message)` - one connection for many messages."""

    def __init__(self, settings: MailSettings):
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Mailer:
        s = self.settings
        if s.host is None:
            s.outbox.mkdir(parents=True, exist_ok=True)
            return self
        try:
            if s.security == "ssl":
                self._smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=ssl.create_default_context())
            else:
                self._smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
                if s.security == "starttls":
                    self._smtp.starttls(context=ssl.create_default_context())
            if s.username:
                self._smtp.login(s.username, s.password or "")
        except (OSError, smtplib.SMTPException) as error:
            raise TransientMailError(f"could not reach the mail server {s.host}:{s.port}: {error}") from error
        return self

    def __exit__(self, *exc) -> None:
        if self._smtp is not None:
            # The messages were handed over already: a failed goodbye changes nothing.
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self._smtp.quit()
            self._smtp = None

    def send(self, message: EmailMessage) -> Sent:
        """Hand one message over; a bounce comes back as Sent(ok=False), trouble raises."""
        if "From" not in message:
            message["From"] = self.settings.sender
        started = time.monotonic()
        if self._smtp is None:
            name = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:12]}.eml"
            (self.settings.outbox / name).write_bytes(bytes(message))
            return Sent(ok=True, code=250, elapsed_ms=_ms(started))
        try:
            self._smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as refused:
            code, reply = next(iter(refused.recipients.values()))
            return self._refused(code, reply, started)
        except smtplib.SMTPResponseException as error:
            return self._refused(error.smtp_code, error.smtp_error, started)
        except (OSError, smtplib.SMTPException) as error:
            raise TransientMailError(f"the mail server dropped the connection: {error}") from error
        return Sent(ok=True, code=250, elapsed_ms=_ms(started))

    def _refused(self, code: int, reply, started: float) -> Sent:
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
        if 400 <= code < 500:
            raise TransientMailError(f"the mail server said {code} {text}: try again later")
        return Sent(ok=False, code=code, error=f"{code} {text}"[:500], elapsed_ms=_ms(started))


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
