"""The CLI's side of an OAuth login: start it in the daemon, show the way, wait.

The daemon runs the flow; this module only opens the browser (or shows the
device code), asks for a client id/secret when the daemon needs one, and
polls until the login completes. Ctrl-C cancels the login in the daemon.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import webbrowser
from dataclasses import dataclass
from typing import Any

import click

from authsome.cli.output import OutputMode, spinner
from authsome.client.api import DaemonClient
from authsome.errors import AuthsomeError, InvalidInput, error_class_for

POLL_SECONDS = 1.0
ENDED = frozenset({"complete", "failed", "cancelled", "expired"})


@dataclass(frozen=True)
class LoginOptions:
    connection: str
    flow: str | None
    scopes: list[str] | None
    base_url: str | None
    force: bool
    no_browser: bool
    client_stdin: bool


def parse_scopes(value: str | None) -> list[str] | None:
    """``--scopes "read,write"`` or ``"read write"``; ``""`` asks for no scope."""
    if value is None:
        return None
    return [scope for scope in value.replace(",", " ").split() if scope]


#: Set by sshd in the sessions it starts.
SSH_VARIABLES = ("SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY")


def browser_available() -> bool:
    """Whether a graphical browser can open here (not over SSH without a display)."""
    graphical = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if not graphical and any(os.environ.get(name) for name in SSH_VARIABLES):
        return False  # a browser would open on the remote machine's screen, if anywhere
    if not graphical and (sys.platform.startswith("linux") or "bsd" in sys.platform):
        return False  # only terminal browsers could answer, and they take over the TTY
    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return True


def tell(message: str, *, needed: bool = False) -> None:
    """Instructions for the person at the terminal: stderr, so stdout stays data.

    ``needed``: the login cannot finish without it (a link, a code), so it
    prints even with ``--quiet``.
    """
    if needed or not OutputMode.quiet:
        click.echo(message, err=True)


def _open(url: str, what: str, *, browser: bool) -> None:
    """Print ``url`` (always: the browser may open elsewhere) and open it if we may."""
    tell(f"{what}:\n  {url}", needed=True)
    if browser and webbrowser.open(url):
        tell("(opened in your browser)")


def oauth_login(
    client: DaemonClient, provider: dict[str, Any], options: LoginOptions
) -> dict[str, Any]:
    """Run one OAuth login to completion; returns the new connection."""
    use_browser = not options.no_browser and browser_available()
    session = client.start_oauth_login(
        provider["name"],
        connection=options.connection,
        flow=options.flow,
        prefer_device=not options.no_browser and not use_browser,
        scopes=options.scopes,
        base_url=options.base_url,
        force=options.force,
    )
    try:
        if session["status"] == "needs_client":
            session = _give_client(client, session, provider, options, use_browser)
        _show_the_way(session, provider, browser=use_browser)
        final = _wait(client, session, provider)
    except (KeyboardInterrupt, click.exceptions.Abort):
        # Ctrl-C while waiting, or at a prompt (click turns it into Abort):
        # end the login in the daemon too, then let main() report "cancelled".
        _cancel(client, session["id"])
        raise
    if final["status"] != "complete":
        code = final.get("error") or "authentication_failed"
        raise error_class_for(code)(final.get("message") or f"the login {final['status']}")
    for item in client.connections():
        if item["provider"] == provider["name"] and item["name"] == options.connection:
            return item
    raise AuthsomeError("the login completed but the connection is missing")


def _cancel(client: DaemonClient, session_id: str) -> None:
    """Cancel the login in the daemon; the person already chose to stop, so a
    daemon that cannot be reached must not replace "cancelled" with its error
    (the session then ends when it expires)."""
    with contextlib.suppress(AuthsomeError):
        client.cancel_oauth_login(session_id)


def _give_client(
    client: DaemonClient,
    session: dict[str, Any],
    provider: dict[str, Any],
    options: LoginOptions,
    use_browser: bool,
) -> dict[str, Any]:
    """The daemon has no OAuth client for this provider yet: ask for one."""
    label = provider["display_name"]
    if options.client_stdin:
        lines = [sys.stdin.readline().rstrip("\r\n") for _ in range(2)]
        return client.give_oauth_client(session["id"], lines[0], lines[1] or None)
    if use_browser:
        _open(
            session["client_form_url"],
            f"Enter the OAuth client of {label} in your browser",
            browser=True,
        )
        return session
    if sys.stdin.isatty():
        tell(f"{label} needs an OAuth client registered with it (shared by this deployment).")
        client_id = click.prompt(f"{label} client id", type=str)
        secret = click.prompt(
            f"{label} client secret (empty for a public client)",
            hide_input=True,
            default="",
            show_default=False,
        )
        return client.give_oauth_client(session["id"], client_id, secret or None)
    client.cancel_oauth_login(session["id"])
    raise InvalidInput(
        f"{label} needs an OAuth client and there is no terminal to ask for it",
        hint=f"pipe the client id and secret (two lines) into authsome login {provider['name']}"
        " --client-stdin",
    )


def _show_the_way(session: dict[str, Any], provider: dict[str, Any], *, browser: bool) -> None:
    label = provider["display_name"]
    if session.get("authorization_url"):
        _open(session["authorization_url"], f"Log in to {label} at", browser=browser)
    elif session["status"] == "pending" and session.get("user_code"):
        where = session.get("verification_uri") or ""
        tell(
            f"To log in to {label}, open {where}\n  and enter the code: {session['user_code']}",
            needed=True,
        )
        complete = session.get("verification_uri_complete")
        if complete:
            tell(f"  (or open {complete})")


def _waiting_for(session: dict[str, Any], provider: dict[str, Any]) -> str:
    if session["status"] == "needs_client":
        return f"waiting for the {provider['display_name']} client in the browser"
    if session["flow"] == "device_code":
        return f"waiting for you to approve the code at {provider['display_name']}"
    return f"waiting for you to log in to {provider['display_name']} in the browser"


def _wait(
    client: DaemonClient, session: dict[str, Any], provider: dict[str, Any]
) -> dict[str, Any]:
    current = session
    shown_device = current["status"] == "pending" and bool(current.get("user_code"))
    with spinner(_waiting_for(current, provider)):
        while current["status"] not in ENDED:
            time.sleep(POLL_SECONDS)
            current = client.oauth_login_status(session["id"])
            if not shown_device and current["status"] == "pending" and current.get("user_code"):
                # The client arrived through the browser form: now show the device code.
                _show_the_way(current, provider, browser=False)
                shown_device = True
    return current
