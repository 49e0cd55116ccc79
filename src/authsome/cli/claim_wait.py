"""``authsome init`` without ``--email``: show the claim link, wait for the browser's decision.

The daemon is polled with the identity's own signed status request, which
never creates or reveals a claim token. Accepted: the caller prints who
claimed it. Rejected or expired: ``AuthenticationFailed`` (exit 2) with the
command that asks for a fresh link. Ctrl-C stops waiting (exit 2, from
``main``); the link stays valid until it expires.
"""

from __future__ import annotations

import time
from typing import Any

import click

from authsome.cli.output import OutputMode, spinner
from authsome.client.api import DaemonClient
from authsome.errors import AuthenticationFailed

POLL_SECONDS = 1.0


def announce_claim(registered: dict[str, Any]) -> None:
    """The link and the fingerprint to compare on the claim page (stderr under --json)."""
    err = OutputMode.json
    click.echo(f"identity: {registered['handle']} (pending)", err=err)
    click.echo(f"key fingerprint: SHA256:{registered['jkt']}", err=err)
    click.echo(f"open this link to claim it (valid 15 minutes): {registered['claim_url']}", err=err)
    click.echo("or claim it here instead: authsome init --email YOU@EXAMPLE.COM", err=err)


def wait_for_claim(client: DaemonClient, *, poll: float = POLL_SECONDS) -> dict[str, Any]:
    """Block until the claim is decided; the ``whoami`` answer once accepted."""
    with spinner("waiting for the claim to be decided in the browser", cancel="Ctrl-C to stop"):
        while True:
            status = client.identity_status()
            if status["status"] == "active":
                return client.whoami()
            if status["status"] == "revoked":
                raise AuthenticationFailed(
                    "this identity was revoked", hint="authsome identity create --use"
                )
            if status.get("claim_state") in {"rejected", "expired"}:
                raise AuthenticationFailed(
                    f"the claim was {status['claim_state']}",
                    hint="run `authsome init` again for a fresh claim link",
                )
            time.sleep(poll)
