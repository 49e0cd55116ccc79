"""``authsome provider list|register``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from authsome.cli.output import emit_json, json_option, say, table


@click.group("provider")
def provider() -> None:
    """Services Authsome can log in to."""


@provider.command("list")
@json_option
def list_providers(as_json: bool) -> None:
    """List bundled and custom providers."""
    from authsome.client.connect import open_client

    with open_client() as client:
        items = client.providers()
    if as_json:
        emit_json(items)
        return
    rows = [
        (
            p["name"],
            p["auth_type"],
            p["flow"],
            ", ".join(p["api_url"]),
            "yes" if p["connected"] else "",
            "bundled" if p["bundled"] else "custom",
        )
        for p in items
    ]
    table(("NAME", "AUTH", "FLOW", "HOSTS", "CONNECTED", "SOURCE"), rows, empty="no providers")


@provider.command("register")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a provider with the same name.")
@json_option
def register(file: Path, force: bool, as_json: bool) -> None:
    """Register a custom provider from a JSON FILE (validated first)."""
    from authsome.client.connect import open_client
    from authsome.providers.schema import load_provider_json

    raw = file.read_bytes()
    load_provider_json(raw, source=str(file))  # field-level errors before any network
    with open_client() as client:
        created = client.register_provider(json.loads(raw), force=force)
    if as_json:
        emit_json(created)
    else:
        say(f"registered provider {created['name']} ({', '.join(created['api_url'])})")


COMMANDS = [provider]
