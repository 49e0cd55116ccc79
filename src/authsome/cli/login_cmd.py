"""``authsome login`` and ``authsome logout``."""

from __future__ import annotations

import click

from authsome.cli.output import emit_json, json_option, say
from authsome.cli.secrets_input import read_secret


@click.command("login")
@click.argument("provider")
@click.option("--connection", default="default", show_default=True, help="Name of this connection.")
@click.option("--key-stdin", is_flag=True, help="Read the API key from stdin instead of a prompt.")
@click.option("--force", is_flag=True, help="Replace an existing connection of that name.")
@json_option
def login(provider: str, connection: str, key_stdin: bool, force: bool, as_json: bool) -> None:
    """Log in to PROVIDER and store the credential encrypted in your vault."""
    from authsome.client.connect import open_client
    from authsome.errors import OperationNotAllowed

    with open_client() as client:
        info = client.provider(provider)
        if info["auth_type"] != "api_key":
            raise OperationNotAllowed(
                f"{provider} uses OAuth2 ({info['flow']}), which this version cannot log in to yet"
            )
        api_key = read_secret(
            f"{info['display_name']} API key", from_stdin=key_stdin, flag="--key-stdin"
        )
        created = client.login_api_key(provider, api_key, connection=connection, force=force)
    if as_json:
        emit_json(created)
    else:
        say(f"logged in to {provider} as connection {created['name']!r}")


@click.command("logout")
@click.argument("provider")
@click.option("--connection", default="default", show_default=True)
@json_option
def logout(provider: str, connection: str, as_json: bool) -> None:
    """Remove a connection and its stored credential."""
    from authsome.client.connect import open_client

    with open_client() as client:
        client.logout(provider, connection)
    if as_json:
        emit_json({"provider": provider, "connection": connection, "removed": True})
    else:
        say(f"logged out of {provider} ({connection})")


COMMANDS = [login, logout]
