"""``authsome refresh`` and ``authsome provider revoke`` (attached to the provider group)."""

from __future__ import annotations

import sys

import click

from authsome.cli.output import emit_json, json_option, say


@click.command("refresh")
@click.argument("provider")
@click.option("--connection", default="default", show_default=True)
@json_option
def refresh(provider: str, connection: str, as_json: bool) -> None:
    """Refresh an OAuth connection's token now (exit 5 when it needs a new login)."""
    from authsome.client.connect import open_client

    with open_client() as client:
        updated = client.refresh_connection(provider, connection)
    if as_json:
        emit_json(updated)
    else:
        say(
            f"refreshed {provider} ({connection}); the token is valid until "
            f"{updated['expires_at'] or 'revoked'}"
        )


@click.command("revoke")
@click.argument("provider")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
def provider_revoke(provider: str, yes: bool, as_json: bool) -> None:
    """Admins: revoke every token of PROVIDER and remove its connections and clients."""
    from authsome.client.connect import open_client
    from authsome.errors import InvalidInput

    if not yes:
        if not sys.stdin.isatty():
            raise InvalidInput("this removes every connection of the provider; pass --yes")
        click.confirm(
            f"Revoke and remove every {provider} connection (all users) and its OAuth clients?",
            abort=True,
        )
    with open_client() as client:
        result = client.revoke_provider(provider)
    if as_json:
        emit_json(result)
        return
    say(
        f"{provider}: removed {result['connections']} connection(s) and {result['clients']} "
        f"client(s); {result['revoked']} revoked at the provider"
        + (
            f", {result['revocation_failures']} not confirmed"
            if result["revocation_failures"]
            else ""
        )
    )


COMMANDS = [refresh]
