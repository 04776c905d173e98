"""Who may deliver to an intake: its own bearer token, and for Grafana its HMAC signature.

Grafana (grafana/alerting, http/hmac.go) signs the raw body with HMAC-SHA256 under the contact
point's secret and sends the lowercase hex digest. With a timestamp header configured it sets
that header to the Unix time in seconds and signs "<timestamp>:<body>" instead. The signature
header is the contact point's choice: the form suggests X-Grafana-Alerting-Signature, while
Grafana's code falls back to X-Grafana-Alert-Signature when the field is left empty; both are read.
"""
from __future__ import annotations

import hashlib
import hmac
import time

from werkzeug.datastructures import Headers

from incidents.intake.models import Intake

SIGNATURE_HEADERS = ("X-Grafana-Alerting-Signature", "X-Grafana-Alert-Signature")
# A signed timestamp older (or newer) than this is refused: a captured request cannot be replayed
# later. Grafana signs each attempt afresh, so its retries pass.
REPLAY_WINDOW_SECONDS = 300


def grafana_signature_ok(intake: Intake, body: bytes, headers: Headers, now: float | None = None) -> bool:
    """True when the request carries the signature Grafana makes with the intake's secret."""
    signature = next((headers.get(name) for name in SIGNATURE_HEADERS if headers.get(name)), "")
    if not signature or not intake.hmac_secret:
        return False
    signed = body
    if intake.hmac_timestamp_header:
        stamp = (headers.get(intake.hmac_timestamp_header) or "").strip()
        if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
            return False
        if abs((now if now is not None else time.time()) - int(stamp)) > REPLAY_WINDOW_SECONDS:
            return False
        signed = stamp.encode() + b":" + body
    expected = hmac.new(intake.hmac_secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.strip().lower().encode("utf-8", "replace"))

