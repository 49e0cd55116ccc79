"""``authsome identity list|use|create|revoke|grant``: this machine's agent identities."""

from __future__ import annotations

import sys
from typing import Any

import click

from authsome.cli.output import emit_json, json_option, say, table
from authsome.cli.secrets_input import read_secret
from authsome.home import HomeLayout


@click.group("identity")
def identity() -> None:
    """This machine's agent identities."""


@identity.command("list")
@json_option
def list_identities(as_json: bool) -> None:
    """List the identities whose keys this home holds, with their status."""
    from authsome.client.identities import local_identities, status_or_error

    layout = HomeLayout.from_env()
    items = [
        {**vars(found), "status": status_or_error(layout, found.handle)}
        for found in local_identities(layout)
    ]
    if as_json:
        emit_json(items)
        return
    rows = [
        (
            ("* " if item["is_selected"] else "  ") + item["handle"],
            "yes" if item["is_default"] else "",
            item["status"],
            item["base_url"] or "-",
        )
        for item in items
    ]
    table(("IDENTITY", "DEFAULT", "STATUS", "DAEMON"), rows, empty="no identities: authsome init")


@identity.command("use")
@click.argument("handle")
@json_option
def use(handle: str, as_json: bool) -> None:
    """Make HANDLE this home's default identity."""
    import os

    from authsome.client.identities import use_identity

    use_identity(HomeLayout.from_env(), handle)
    overridden = os.environ.get("AUTHSOME_IDENTITY") not in (None, "", handle)
    if as_json:
        emit_json({"default_identity": handle, "overridden_by_env": overridden})
        return
    say(f"default identity: {handle}")
    if overridden:
        say("note: AUTHSOME_IDENTITY is set and still selects another identity in this shell")


@identity.command("create")
@click.option("--use", "make_default", is_flag=True, help="Make it the default identity.")
@click.option("--email", default=None, help="Claim it headlessly as this principal.")
@click.option("--password-stdin", is_flag=True, help="Read the principal's password from stdin.")
@json_option
def create(make_default: bool, email: str | None, password_stdin: bool, as_json: bool) -> None:
    """Create and register another identity (for another agent on this machine)."""
    from authsome.cli.output import spinner
    from authsome.client.identities import create_identity

    claim = None
    if email is not None:
        claim = (email, read_secret("Password", from_stdin=password_stdin, flag="--password-stdin"))
    result = create_identity(
        HomeLayout.from_env(), make_default=make_default, claim=claim, on_wait=spinner
    )
    if as_json:
        emit_json(result)
        return
    marker = " [default]" if result["default"] else ""
    say(f"identity: {result['handle']} ({result['status']}){marker}")
    if result.get("claim_url"):
        say(f"claim it in your browser within 15 minutes: {result['claim_url']}")
    if not result["default"]:
        handle = result["handle"]
        say(f"use it with AUTHSOME_IDENTITY={handle}, or: authsome identity use {handle}")


@identity.command("revoke")
@click.argument("handle", required=False)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
def revoke(handle: str | None, yes: bool, as_json: bool) -> None:
    """Revoke HANDLE (default: the identity in use); its key stops working at once.

    An identity may revoke itself; an admin may revoke any identity.
    """
    from authsome.cli.clients import connect
    from authsome.client.identities import forget_identity
    from authsome.client.settings import selected_identity

    layout = HomeLayout.from_env()
    target = handle or selected_identity(layout)
    if target is None:
        raise click.UsageError("no identity selected; name one: authsome identity revoke HANDLE")
    _confirm(f"Revoke identity {target}? Agents using it stop working.", yes)
    with connect(layout) as client:
        result = client.revoke_identity(target)
    if layout.identity_key(target).exists():
        forget_identity(layout, target)
    if as_json:
        emit_json(result)
    else:
        say(f"revoked {target}")


def _confirm(question: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise click.UsageError("add --yes to confirm without a terminal")
    click.confirm(question, abort=True, err=True)


@identity.command("grant")
@click.argument("handle", required=False)
@click.option(
    "--provider",
    "providers",
    multiple=True,
    metavar="NAME",
    help="Allow only these providers (repeatable); default: all providers.",
)
@click.option("--reveal/--no-reveal", default=False, help="May it read raw secrets?")
@click.option("--password-stdin", is_flag=True, help="Read your password from stdin.")
@json_option
def grant(
    handle: str | None,
    providers: tuple[str, ...],
    reveal: bool,
    password_stdin: bool,
    as_json: bool,
) -> None:
    """Set what HANDLE (default: the identity in use) may use; needs your password."""
    from authsome.cli.clients import connect
    from authsome.client.settings import selected_identity

    layout = HomeLayout.from_env()
    target = handle or selected_identity(layout)
    if target is None:
        raise click.UsageError("no identity selected; name one: authsome identity grant HANDLE")
    password = read_secret("Password", from_stdin=password_stdin, flag="--password-stdin")
    with connect(layout) as client:
        result: dict[str, Any] = client.set_grant(
            target, password=password, providers=list(providers) or None, reveal=reveal
        )
    if as_json:
        emit_json(result)
        return
    scope = "all providers" if result["all_providers"] else ", ".join(result["providers"])
    say(f"{target} may use {scope}; reveal {'allowed' if result['reveal'] else 'not allowed'}")


COMMANDS = [identity]
