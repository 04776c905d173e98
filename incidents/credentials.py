"""Bearer secrets that the app makes and keeps only a fingerprint of (systems' report tokens,
personal access tokens): one way to make them, one way to hash them, one way to name them.

A secret is a recognisable prefix (so a leaked one is found by a secret scanner, or by eye in a
crontab) and 256 random bits. Only its SHA-256 is stored: with that much randomness a slow hash
adds nothing, and a fast one keeps the look-up to one indexed equality per request.
"""
from __future__ import annotations

import hashlib
import secrets

RANDOM_BYTES = 32  # 256 bits
HINT_EXTRA = 6  # characters after the prefix kept in clear, to tell tokens apart in a list
MAX_SECRET_LENGTH = 200  # anything longer is no secret of ours: refused without hashing it


def new_secret(prefix: str) -> str:
    """A fresh secret: `prefix` and 256 random bits, URL-safe."""
    return prefix + secrets.token_urlsafe(RANDOM_BYTES)


def hash_secret(secret: str) -> str:
    """What is stored of a secret: its SHA-256, in hex."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def hint_of(secret: str, prefix: str) -> str:
    """The secret's first characters, shown in lists (never enough to use it)."""
    return secret[:len(prefix) + HINT_EXTRA]


def plausible(secret: str | None) -> bool:
    """False for what cannot be one of our secrets (empty, or absurdly long): no look-up needed."""
    return bool(secret) and len(secret) <= MAX_SECRET_LENGTH
