"""Outbound HTTP (webhooks): the one client that may connect to URLs people type, and its signing.

    policy = policy_from_config(current_app.config)         # or OutboundPolicy() for the defaults
    body = json.dumps(payload).encode()
    headers = signature_headers(secret=sub.secret, message_id=msg_id, body=body)
    delivery = post_json(sub.url, body, headers, policy=policy)
    delivery.ok, delivery.status, delivery.error, delivery.body, delivery.elapsed_ms

post_json never raises for a refused URL or a network failure: `error` says what went wrong
("refused: 10.0.0.5 is a private address ...", "timed out after 10 s", "connection refused").
Call it from a background job (incidents.jobs), never while a page waits.
"""
from incidents.outbound.client import DEFAULT_TIMEOUT, MAX_BODY, USER_AGENT, Delivery, post_json, system_resolver
from incidents.outbound.policy import (
    ALLOW_HTTP_KEY,
    ALLOW_PRIVATE_KEY,
    OutboundPolicy,
    Refused,
    address_problem,
    check_addresses,
    parse_target,
    policy_from_config,
)
from incidents.outbound.signing import new_message_id, new_signing_secret, signature_headers

__all__ = ["ALLOW_HTTP_KEY", "ALLOW_PRIVATE_KEY", "DEFAULT_TIMEOUT", "MAX_BODY", "USER_AGENT", "Delivery",
           "OutboundPolicy", "Refused", "address_problem", "check_addresses", "new_message_id",
           "new_signing_secret", "parse_target", "policy_from_config", "post_json", "signature_headers",
           "system_resolver"]
