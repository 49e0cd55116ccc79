"""Shell completion values from the daemon: provider and connection names.

Completion runs inside the user's shell at every Tab, so each lookup is
quick, never starts a daemon and never fails loudly: any problem simply
means no suggestions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from click.shell_completion import CompletionItem

Completer = Callable[[click.Context, click.Parameter, str], list[CompletionItem]]


def _ask_daemon(call: Callable[[Any], list[str]]) -> list[str]:
    try:
        from authsome.client.connect import open_client

        with open_client(autostart=False) as client:
            return call(client)
    except Exception:
        return []


def _items(names: list[str], incomplete: str) -> list[CompletionItem]:
    return [CompletionItem(name) for name in sorted(set(names)) if name.startswith(incomplete)]


def complete_provider(
    _ctx: click.Context, _param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Names of the providers this deployment knows."""
    return _items(_ask_daemon(lambda c: [p["name"] for p in c.providers()]), incomplete)


def complete_connection(
    ctx: click.Context, _param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Connection names in your vault (of the provider already typed, if any)."""
    provider = ctx.params.get("provider")

    def names(client: Any) -> list[str]:
        return [c["name"] for c in client.connections() if provider in (None, c["provider"])]

    return _items(_ask_daemon(names), incomplete)


def complete_provider_connection(
    _ctx: click.Context, _param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """``PROVIDER=NAME`` for each connection in your vault (``run --connection``)."""

    def pairs(client: Any) -> list[str]:
        return [f"{c['provider']}={c['name']}" for c in client.connections()]

    return _items(_ask_daemon(pairs), incomplete)


def complete_identity(
    _ctx: click.Context, _param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Handles of the identities whose keys this home holds."""
    from authsome.home import HomeLayout

    folder = HomeLayout.from_env().identities_dir
    try:
        handles = [path.stem for path in folder.glob("*.key")]
    except OSError:
        return []
    return _items(handles, incomplete)


_BY_NAME: dict[tuple[type[click.Parameter], str], Completer] = {
    (click.Argument, "provider"): complete_provider,
    (click.Option, "provider"): complete_provider,
    (click.Option, "providers"): complete_provider,
    (click.Option, "connection"): complete_connection,
    (click.Option, "connections"): complete_provider_connection,  # PROVIDER=NAME
    (click.Argument, "connection"): complete_connection,
    (click.Argument, "handle"): complete_identity,
}


def attach_completers(command: click.Command) -> click.Command:
    """Give parameters named provider/connection(s)/handle daemon-backed completion."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            attach_completers(sub)
        return command
    for param in command.params:
        completer = _BY_NAME.get((type(param), param.name or ""))
        if completer is not None and getattr(param, "_custom_shell_complete", None) is None:
            param._custom_shell_complete = completer
    return command
