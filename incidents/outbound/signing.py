"""Standard Webhooks signatures (https://www.standardwebhooks.com): how a receiver knows a webhook is ours.

The signature is HMAC-SHA256 over "<webhook-id>.<webhook-timestamp>.<body>" with the subscriber's
secret. `standardwebhooks.Webhook.sign` takes the body as text and signs its UTF-8 encoding, which
is exactly the bytes we send as long as the body is UTF-8 (JSON always is), so we use it rather
than a second implementation; `Webhook.verify` is what receivers (and our tests) run.
"""
from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"


def new_signing_secret() -> str:
    """A fresh secret to show a subscriber once: "whsec_" and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def new_message_id() -> str:
    """A unique webhook-id; keep it for the retries of one message, so receivers can drop repeats."""
    return "msg_" + secrets.token_urlsafe(18)


def signature_headers(*, secret: str, message_id: str, body: bytes, timestamp: datetime | None = None,
                      also_signed_with: list[str] | tuple[str, ...] = ()) -> dict[str, str]:
    """The webhook-id, webhook-timestamp and webhook-signature headers for sending body; with
    `also_signed_with`, one signature per secret, space-separated, as the spec allows while a
    receiver moves from an old secret to a new one."""
    # Whole seconds in UTC, so the header and the signed text say the same instant. (sign() would
    # read an aware time in another zone as if it were UTC.)
    seconds = int((timestamp or datetime.now(UTC)).timestamp())
    moment, text = datetime.fromtimestamp(seconds, UTC), body.decode("utf-8")
    signatures = [Webhook(key).sign(message_id, moment, text) for key in (secret, *also_signed_with)]
    return {"webhook-id": message_id, "webhook-timestamp": str(seconds), "webhook-signature": " ".join(signatures)}
