"""``authsome provider list|inspect|register|remove``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from authsome.cli.oauth_cmd import provider_revoke
from authsome.cli.output import emit_json, fields, json_option, say, table

_MAX_HOSTS_SHOWN = 3


@click.group("provider")
def provider() -> None:
    """Services Authsome can log in to."""


def _source(item: dict[str, Any]) -> str:
    if item["bundled"]:
        return "bundled"
    return "custom (overrides bundled)" if item.get("overrides_bundled") else "custom"


def _hosts(api_url: list[str]) -> str:
    shown = ", ".join(api_url[:_MAX_HOSTS_SHOWN])
    more = len(api_url) - _MAX_HOSTS_SHOWN
    return f"{shown} (+{more} more)" if more > 0 else shown


def _matches(item: dict[str, Any], needle: str) -> bool:
    haystack = [item["name"], item["display_name"], item.get("description") or ""]
    return any(needle in text.lower() for text in haystack + item["api_url"])


@provider.command("list")
@click.option(
    "--auth-type",
    type=click.Choice(["api_key", "oauth2"]),
    help="Only providers that log in this way.",
)
@click.option(
    "--search", metavar="TEXT", help="Only providers whose name, description or hosts contain TEXT."
)
@json_option
def list_providers(auth_type: str | None, search: str | None, as_json: bool) -> None:
    """List bundled and custom providers, and whether you are connected."""
    from authsome.client.connect import open_client

    with open_client() as client:
        items = client.providers()
    if auth_type:
        items = [item for item in items if item["auth_type"] == auth_type]
    if search:
        items = [item for item in items if _matches(item, search.lower())]
    if as_json:
        emit_json(items)
        return
    rows = [
        (
            p["name"],
            p["auth_type"],
            p["flow"],
            _hosts(p["api_url"]),
            "yes" if p["connected"] else "",
            _source(p),
        )
        for p in items
    ]
    table(
        ("NAME", "AUTH", "FLOW", "HOSTS", "CONNECTED", "SOURCE"),
        rows,
        empty="no providers match" if auth_type or search else "no providers",
    )


def _detail_fields(info: dict[str, Any]) -> list[tuple[str, object]]:
    definition = info["definition"]
    api_key = definition.get("api_key", {})
    oauth = definition.get("oauth", {})
    env_vars = sorted(
        {*([api_key["env_var"]] if "env_var" in api_key else []), *definition.get("export", {})}
    )
    pairs: list[tuple[str, object]] = [
        ("name", info["name"]),
        ("display name", info["display_name"]),
        ("description", info.get("description")),
        ("auth", f"{info['auth_type']} ({info['flow']})"),
        ("source", _source(info)),
        ("connected", "yes" if info["connected"] else "no"),
        ("hosts", ", ".join(info["api_url"])),
        ("header", info.get("header")),
        ("env vars", ", ".join(env_vars)),
        ("key format", api_key.get("key_pattern_hint") or api_key.get("key_pattern")),
    ]
    for label, key in (
        ("authorize", "authorization_url"),
        ("token", "token_url"),
        ("revocation", "revocation_url"),
        ("device", "device_authorization_url"),
        ("registration", "registration_url"),
        ("base url", "base_url"),
    ):
        if key in oauth:
            pairs.append((label, oauth[key]))
    if oauth:
        pairs.append(("scopes", " ".join(oauth.get("scopes", []))))
    if "alternative_to" in definition:
        pairs.append(("alternative to", f"{definition['alternative_to']} (shares its hosts)"))
    if info.get("injection") == "unsupported":
        pairs.append(("proxy", f"unsupported: {definition['injection_reason']}"))
    pairs.append(("docs", definition.get("docs_url")))
    return pairs


@provider.command("inspect")
@click.argument("provider", metavar="NAME")
@json_option
def inspect(provider: str, as_json: bool) -> None:
    """Show one provider: hosts, header format, env vars and OAuth endpoints."""
    from authsome.client.connect import open_client

    with open_client() as client:
        info = client.provider(provider)
    if as_json:
        emit_json(info)
    else:
        fields(_detail_fields(info))


@provider.command("register")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a provider with the same name.")
@json_option
def register(file: Path, force: bool, as_json: bool) -> None:
    """Register a custom provider from a JSON FILE (validated first).

    A bundled provider's name is refused unless --force; the custom
    definition then overrides the bundled one until it is removed.
    """
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


@provider.command("remove")
@click.argument("provider", metavar="NAME")
@json_option
def remove(provider: str, as_json: bool) -> None:
    """Remove a custom provider; a bundled one of the same name takes effect again."""
    from authsome.client.connect import open_client

    with open_client() as client:
        removed = client.remove_provider(provider)
    if as_json:
        emit_json(removed)
    elif removed["restored_bundled"]:
        say(f"removed custom provider {provider}; the bundled {provider} is in effect again")
    else:
        say(f"removed custom provider {provider}")


provider.add_command(provider_revoke)  # lives in oauth_cmd with the other OAuth commands

COMMANDS = [provider]
