"""``authsome connections list``."""

from __future__ import annotations

import click

from authsome.cli.output import emit_json, json_option, table


@click.group("connections")
def connections() -> None:
    """Credentials stored in your vault."""


@connections.command("list")
@json_option
def list_connections(as_json: bool) -> None:
    """List your connections (never their secrets)."""
    from authsome.client.connect import open_client

    with open_client() as client:
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


COMMANDS = [connections]
