"""`Idempotency-Key` for the API's creating requests: a retry creates nothing twice.

The header follows the IETF draft (draft-ietf-httpapi-idempotency-key-header) and what Stripe
does. The key is kept with the token owner's other keys (incidents/idempotency.py, the same table
and the same race handling as the HTML forms): stored in the SAME transaction as what the request
created, with where the created thing lives and a fingerprint of the JSON body.

- A key seen before with the same body: nothing is done again; the answer is the created thing as
  it is now, with the first answer's status and `Idempotent-Replayed: true`.
- The same key with a different body, or sent to another endpoint: 422, nothing done.
- Two copies racing: both do the work, one inserts the key, the other rolls back and answers as
  a replay.
A request without the header works as before, unprotected.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import wraps

from flask import current_app, g, make_response, request
from flask_login import current_user
from pydantic import BaseModel
from werkzeug.exceptions import BadRequest, UnprocessableEntity

from incidents.extensions import db
from incidents.idempotency import KEY_PATTERN, DuplicateRequest, IdempotencyKey, find

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"


def sent_key() -> str | None:
    values = request.headers.getlist(HEADER)
    if not values:
        return None
    key = values[0].strip().strip('"')  # the draft sends it as a structured-field string
    if len(values) != 1 or not KEY_PATTERN.fullmatch(key):
        raise BadRequest(f"{HEADER} must be one value of 16 to 100 letters, digits, '-' or '_' "
                         "(a UUID will do).")
    return key


def body_fingerprint() -> str:
    """SHA-256 of the JSON body in a canonical form: the same fields, however spaced or ordered."""
    body = request.get_json(silent=True)
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def idempotent_create(replay: Callable[[str], object]):
    """Decorate a creating view that calls `incidents.idempotency.remember(location)` before it
    commits; `replay(location)` answers again for what that location names."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            key = sent_key()
            if key is None:
                return view(*args, **kwargs)
            sent = body_fingerprint()
            stored = find(session=db.session, user_id=current_user.id, key=key)
            if stored is None:
                g.idempotency_key, g.idempotency_fingerprint = key, sent
                try:
                    return view(*args, **kwargs)
                except DuplicateRequest as duplicate:
                    stored = duplicate.stored
                finally:
                    g.pop("idempotency_key", None)
                    g.pop("idempotency_fingerprint", None)
            return _answer_again(stored, sent, replay)

        return wrapped

    return decorator


def _answer_again(stored: IdempotencyKey, sent: str, replay):
    if stored.endpoint != request.path[:300]:
        raise UnprocessableEntity(f"This {HEADER} was already used for a request to {stored.endpoint}; "
                                  "send a new key for a new request.")
    if stored.fingerprint != sent:
        raise UnprocessableEntity(f"This {HEADER} was already used with a different body; nothing was "
                                  "done. Send a new key to make a new request.")
    body, status, headers = replay(stored.location)
    if isinstance(body, BaseModel):  # the view's own answers are serialised by SpecTree; this one is not
        body = current_app.response_class(body.model_dump_json(), mimetype="application/json")
    response = make_response(body, status, headers)
    response.headers[REPLAYED_HEADER] = "true"
    return response
