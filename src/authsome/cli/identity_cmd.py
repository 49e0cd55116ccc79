"""``authsome init`` and ``authsome whoami``."""

from __future__ import annotations

from typing import Any

import click

from authsome.cli.output import emit_json, fields, json_option, say
from authsome.cli.secrets_input import read_secret
from authsome.home import HomeLayout


@click.command("init")
@click.option("--email", default=None, help="Claim this agent headlessly as this principal.")
@click.option("--password-stdin", is_flag=True, help="Read the principal's password from stdin.")
@click.option("--no-wait", is_flag=True, help="Print the claim link and return instead of waiting.")
@json_option
def init(email: str | None, password_stdin: bool, no_wait: bool, as_json: bool) -> None:
    """Create this agent's identity, register it, and (with --email) claim it.

    Without --email it prints a claim link and waits until the link is
    accepted or rejected in the dashboard (Ctrl-C stops waiting).
    """
    from authsome.cli.output import spinner
    from authsome.client.api import DaemonClient
    from authsome.client.connect import ensure_daemon
    from authsome.client.settings import ClientConfig, daemon_target
    from authsome.crypto.identity_keys import IdentityKey

    layout = HomeLayout.from_env()
    config = ClientConfig.load(layout)
    handle = config.default_identity
    if handle is not None and layout.identity_key(handle).exists():
        key = IdentityKey.load(layout.identity_key(handle))
    else:
        handle, key = None, IdentityKey.generate()
    password = (
        read_secret("Password", from_stdin=password_stdin, flag="--password-stdin")
        if email
        else None
    )
    target = ensure_daemon(layout, daemon_target(layout, handle), on_wait=spinner)
    with DaemonClient(target.url, key) as client:
        registered = client.register_identity()
        handle = str(registered["handle"])
        if not layout.identity_key(handle).exists():
            layout.ensure_private_dir(layout.identities_dir)
            key.save(layout.identity_key(handle))
        health = client.health()
        config.identities[handle] = {
            "base_url": target.url,
            "deployment_id": health["deployment_id"],
        }
        config.default_identity = handle
        config.save(layout)
        result: dict[str, Any] = dict(registered)
        if email is not None and password is not None:
            result = {**client.claim_headless(email, password), "did": registered["did"]}
        elif registered["status"] == "pending" and registered.get("claim_url") and not no_wait:
            from authsome.cli.claim_wait import announce_claim, wait_for_claim

            announce_claim(registered)
            result = {**wait_for_claim(client), "did": registered["did"]}
    _report(result, as_json)


def _report(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(result)
        return
    say(f"identity: {result['handle']} ({result['status']})")
    if result["status"] == "active":
        who = f"{result.get('email')} ({result.get('role')})"
        say(f"claimed by {who}; vault {result.get('vault_id')}")
    elif result.get("claim_url"):
        say(f"claim it in your browser within 15 minutes: {result['claim_url']}")
        say("or claim it here: authsome init --email YOU@EXAMPLE.COM")
    else:
        say("waiting to be claimed: authsome init --email YOU@EXAMPLE.COM")


@click.command("whoami")
@json_option
def whoami(as_json: bool) -> None:
    """Show this agent's identity, principal, role, vault and daemon."""
    from authsome.cli.clients import connect

    with connect() as client:
        me = client.whoami()
        me["daemon_url"] = client.base_url
    me["encryption"] = describe_key_source(me.get("key_source"))
    if as_json:
        emit_json(me)
        return
    grant = me.get("grant") or {}
    providers = "all providers" if grant.get("all_providers") else ", ".join(grant["providers"])
    fields(
        [
            ("identity", f"{me['handle']} ({me['status']})"),
            ("principal", f"{me.get('email')} ({me.get('principal_id')})"),
            ("role", me.get("role")),
            ("vault", me.get("vault_id")),
            ("grant", f"{providers or 'no providers'}; reveal {_allowed(grant.get('reveal'))}"),
            ("daemon", me["daemon_url"]),
            ("encryption", me["encryption"]),
        ]
    )


def _allowed(flag: object) -> str:
    return "allowed" if flag else "not allowed"


KEY_SOURCES = {
    "env": "AUTHSOME_MASTER_KEY",
    "file": "AUTHSOME_MASTER_KEY_FILE",
    "keyring": "the OS keyring",
    "home-file": "server/master.key in the daemon's home",
}


def describe_key_source(source: object) -> str:
    """How the vault is encrypted, in words (DESIGN §4)."""
    where = KEY_SOURCES.get(str(source), str(source)) if source else "unknown"
    return f"AES-256-GCM per-vault data keys, wrapped by the master key from {where}"


COMMANDS = [init, whoami]
