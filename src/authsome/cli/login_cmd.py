"""``authsome login`` and ``authsome logout``.

API-key providers read the key from a masked prompt (or stdin); OAuth2
providers log in through the daemon (``oauth_login``): browser with PKCE,
the device flow, or dynamic client registration. An OAuth2 provider refuses
``--key-stdin`` and names the API-key provider for a token instead
(``github`` → ``github-pat``). ``--base-url`` names your own instance of a
multi-tenant service (GitHub Enterprise, self-managed GitLab, a Shopify shop,
an Atlassian site, a Hugging Face Inference Endpoint): its hosts then get
this connection's credential, and the service's public hosts never do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from authsome.cli.output import emit_json, json_option, say
from authsome.cli.secrets_input import read_secret

if TYPE_CHECKING:
    from authsome.client.api import DaemonClient
    from authsome.errors import InvalidInput


@click.command("login")
@click.argument("provider")
@click.option("--connection", default="default", show_default=True, help="Name of this connection.")
@click.option(
    "--key-stdin", is_flag=True, help="API-key providers: read the key from stdin, not a prompt."
)
@click.option("--force", is_flag=True, help="Replace an existing connection of that name.")
@click.option(
    "--flow",
    type=click.Choice(["pkce", "device_code"]),
    help="OAuth2: browser login (pkce) or a code to enter on any device (device_code).",
)
@click.option("--scopes", help='OAuth2: scopes to ask for ("read,write"); default the provider\'s.')
@click.option(
    "--base-url",
    help="Your instance of a multi-tenant service (https://ghe.example.com, a Shopify shop).",
)
@click.option("--no-browser", is_flag=True, help="OAuth2: print the login URL, do not open it.")
@click.option(
    "--client-stdin",
    is_flag=True,
    help="OAuth2: read a client id and secret (two lines) from stdin when one is needed.",
)
@json_option
def login(
    provider: str,
    connection: str,
    key_stdin: bool,
    force: bool,
    flow: str | None,
    scopes: str | None,
    base_url: str | None,
    no_browser: bool,
    client_stdin: bool,
    as_json: bool,
) -> None:
    """Log in to PROVIDER and store the credential encrypted in your vault."""
    from authsome.cli.oauth_login import LoginOptions, oauth_login, parse_scopes
    from authsome.client.connect import open_client

    with open_client() as client:
        info = client.provider(provider)
        if info["auth_type"] == "oauth2":
            if key_stdin:
                raise _no_key_for_oauth(client, provider)  # before stdin is read
            options = LoginOptions(
                connection=connection,
                flow=flow,
                scopes=parse_scopes(scopes),
                base_url=base_url,
                force=force,
                no_browser=no_browser,
                client_stdin=client_stdin,
            )
            created = oauth_login(client, info, options)
        else:
            if base_url is not None:
                base_url = _checked_base_url(info, base_url)  # before the key is typed
            api_key = read_secret(
                f"{info['display_name']} API key", from_stdin=key_stdin, flag="--key-stdin"
            )
            created = client.login_api_key(
                provider, api_key, connection=connection, force=force, base_url=base_url
            )
    if as_json:
        emit_json(created)
        return
    account = created.get("account") or {}
    who = account.get("email") or account.get("preferred_username") or account.get("sub")
    shown = f" ({who})" if who else ""
    say(f"logged in to {provider} as connection {created['name']!r}{shown}")


def _no_key_for_oauth(client: DaemonClient, provider: str) -> InvalidInput:
    """The error for ``--key-stdin`` on an OAuth provider, naming its API-key alternatives.

    Starting the OAuth flow instead would ignore the key the user piped in;
    a token for the same API is stored under the API-key provider whose
    ``alternative_to`` names this one (``github-pat`` for ``github``).
    """
    from authsome.errors import InvalidInput

    alternatives = _api_key_alternatives(client, provider)
    message = f"{provider} logs in with OAuth and takes no --key-stdin"
    if not alternatives:
        return InvalidInput(message, hint=f"authsome login {provider}")
    message += f"; for an API key or token use {' or '.join(alternatives)}"
    commands = [f"authsome login {name} --key-stdin" for name in alternatives]
    return InvalidInput(message, hint=", or ".join(commands))


def _api_key_alternatives(client: DaemonClient, provider: str) -> list[str]:
    """API-key providers whose ``alternative_to`` is ``provider``, as the daemon knows them.

    The provider list does not carry ``alternative_to``: a bundled entry is
    read from the shipped definitions, a custom one from its own definition.
    """
    from authsome.providers.catalogue import bundled_providers

    shipped = {defn.name: defn.alternative_to for defn in bundled_providers()}
    found = []
    for item in client.providers():
        if item["auth_type"] != "api_key":
            continue
        if item["bundled"]:
            alternative = shipped.get(item["name"])
        else:
            alternative = client.provider(item["name"])["definition"].get("alternative_to")
        if alternative == provider:
            found.append(item["name"])
    return found


def _checked_base_url(info: dict[str, object], base_url: str) -> str:
    """Refuse a --base-url the daemon would refuse, before asking for the key."""
    from authsome.errors import InvalidInput
    from authsome.providers.matching import check_instance_base_url, is_templated

    entries = info.get("api_url")
    if not isinstance(entries, list) or not any(is_templated(str(e)) for e in entries):
        raise InvalidInput(f"{info['name']} has no per-instance hosts, so it takes no --base-url")
    try:
        return check_instance_base_url(base_url)
    except ValueError as exc:
        raise InvalidInput(f"--base-url: {exc}") from None


@click.command("logout")
@click.argument("provider")
@click.option("--connection", default="default", show_default=True)
@json_option
def logout(provider: str, connection: str, as_json: bool) -> None:
    """Remove a connection; OAuth tokens are revoked at the provider first."""
    from authsome.client.connect import open_client

    with open_client() as client:
        answer = client.logout(provider, connection) or {}
    revoked = answer.get("revoked")
    if as_json:
        emit_json(
            {"provider": provider, "connection": connection, "removed": True, "revoked": revoked}
        )
        return
    if revoked is True:
        note = "; its tokens were revoked at the provider"
    elif revoked is False:
        note = "; the provider did not confirm the revocation (see the daemon log)"
    else:
        note = ""
    say(f"logged out of {provider} ({connection}){note}")


COMMANDS = [login, logout]
