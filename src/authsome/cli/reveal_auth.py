"""How a command that reveals secrets authorises itself: the grant, else a password.

The agent's grant is tried first. When it does not allow reveal, a person at
a terminal is asked for the principal's password (masked, on stderr so that
``export > file`` stays clean); scripts pass it with ``--password-stdin``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from authsome.cli.secrets_input import read_secret

T = TypeVar("T")
NO_TTY_HINT = (
    "pipe your principal's password in with --password-stdin, "
    "or allow reveal: authsome identity grant --reveal --password-stdin"
)
F = TypeVar("F", bound=Callable[..., Any])


def password_option(func: F) -> F:
    return click.option(
        "--password-stdin",
        is_flag=True,
        help="Read your principal's password from stdin (when the grant does not allow reveal).",
    )(func)


def with_reveal_auth(password_stdin: bool, call: Callable[[str | None], T]) -> T:
    """``call(None)`` on the grant; on refusal at a terminal, ``call(password)``."""
    from authsome.errors import OperationNotAllowed

    if password_stdin:
        return call(read_secret("Password", from_stdin=True, flag="--password-stdin"))
    try:
        return call(None)
    except OperationNotAllowed as exc:
        if not sys.stdin.isatty():
            raise OperationNotAllowed(exc.message, hint=NO_TTY_HINT) from None
    click.echo("This agent's grant does not allow revealing secrets.", err=True)
    password = click.prompt("Your principal's password", hide_input=True, err=True, type=str)
    return call(password)
