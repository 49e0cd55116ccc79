"""Random identifiers and tokens."""

from __future__ import annotations

import hashlib
import secrets


def new_id() -> str:
    """An opaque 128-bit record id."""
    return secrets.token_hex(16)


def new_token() -> str:
    """A 256-bit bearer token (claims, run sessions), URL-safe."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What is stored instead of a token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()
