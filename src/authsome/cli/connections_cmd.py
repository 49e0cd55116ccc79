"""``authsome connections list|inspect|set-default``."""

from __future__ import annotations

from typing import Any

import click

from authsome.cli.output import emit_data, emit_json, fields, json_option, say, table
from authsome.cli.reveal_auth import password_option, with_reveal_auth


@click.group("connections")
def connections() -> None:
    """Credentials stored in your vault."""


@connections.command("list")
@json_option
def list_connections(as_json: bool) -> None:
    """List your connections (never their secrets)."""
    from authsome.cli.clients import connect

    with connect() as client:
        items = client.connections()
    if as_json:
        emit_json(items)
        return
    rows = [
        (
            c["provider"],
            c["name"],
            "yes" if c["is_default"] else "",
            c["auth_type"],
            c["status"],
            c["expires_at"] or "-",
            c["updated_at"],
        )
        for c in items
    ]
    table(
        ("PROVIDER", "CONNECTION", "DEFAULT", "AUTH", "STATUS", "EXPIRES", "UPDATED"),
        rows,
        empty="no connections yet: authsome login openai",
    )


@connections.command("inspect")
@click.argument("provider")
@click.argument("connection", required=False)
@click.option("--reveal", is_flag=True, help="Also print the secret values (audited).")
@click.option(
    "--include-refresh", is_flag=True, help="With --reveal: the refresh token too, if any."
)
@password_option
@json_option
def inspect(
    provider: str,
    connection: str | None,
    reveal: bool,
    include_refresh: bool,
    password_stdin: bool,
    as_json: bool,
) -> None:
    """Show one connection (its provider's default unless CONNECTION is given).

    With --reveal the secret values are printed too. That needs a grant that
    allows reveal, or your principal's password (asked for, or --password-stdin).
    """
    from authsome.cli.clients import connect

    with connect() as client:
        details = client.connection(provider, connection)
        secrets: dict[str, Any] | None = None
        if reveal:
            secrets = with_reveal_auth(
                password_stdin,
                lambda password: client.reveal(
                    provider,
                    details["name"],
                    password=password,
                    include_refresh=include_refresh,
                ),
            )
    if as_json:
        emit_json({**details, "secrets": secrets["fields"]} if secrets else details)
        return
    _show(details)
    if secrets:
        for name, value in sorted(secrets["fields"].items()):
            emit_data(f"{name}: {value}")


def _show(details: dict[str, Any]) -> None:
    fields(
        [
            ("provider", details["provider"]),
            ("connection", details["name"] + (" (default)" if details["is_default"] else "")),
            ("auth", details["auth_type"]),
            ("status", details["status"]),
            ("expires", details["expires_at"]),
            ("scopes", ", ".join(details["scopes"])),
            ("account", ", ".join(f"{k}={v}" for k, v in sorted(details["account"].items()))),
            ("secrets", ", ".join(details["secret_fields"]) + " (values hidden)"),
            ("created", details["created_at"]),
            ("updated", details["updated_at"]),
            ("last used", details["last_used_at"]),
        ]
    )


@connections.command("set-default")
@click.argument("provider")
@click.argument("connection")
@json_option
def set_default(provider: str, connection: str, as_json: bool) -> None:
    """Use CONNECTION for PROVIDER whenever no connection is named."""
    from authsome.cli.clients import connect

    with connect() as client:
        chosen = client.set_default_connection(provider, connection)
    if as_json:
        emit_json(chosen)
    else:
        say(f"{provider}: {chosen['name']} is now the default connection")


COMMANDS = [connections]
