"""Signing requests by hand, to test the daemon's PoP checks one rule at a time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from authsome.crypto.identity_keys import IdentityKey
from authsome.crypto.pop import sign_proof

#: The error codes of a refused proof, as DESIGN §3 names them (all answer 401).
PROOF_REFUSAL_CODES = frozenset(
    {
        "pop_missing",
        "pop_invalid",
        "pop_expired",
        "pop_replayed",
        "identity_unknown",
        "identity_pending",
        "identity_revoked",
    }
)


def home_key(home: Path) -> IdentityKey:
    config = json.loads((home / "client" / "config.json").read_text())
    return IdentityKey.load(home / "client" / "identities" / f"{config['default_identity']}.key")


def signed(
    key: IdentityKey,
    method: str,
    url: str,
    *,
    body: bytes = b"",
    proof: str | None = None,
    headers: dict[str, str] | None = None,
    **sign_args: Any,
) -> httpx.Response:
    """Send one request with a proof (made here unless ``proof`` is given)."""
    token = proof or sign_proof(key, method=method, url=url, body=body or None, **sign_args)
    all_headers = {"DPoP": token, **(headers or {})}
    if body:
        all_headers.setdefault("content-type", "application/json")
    return httpx.request(method, url, content=body or None, headers=all_headers, timeout=10)
