"""Reading secrets: from a masked prompt or from stdin, never from argv."""

from __future__ import annotations

import sys

import click

from authsome.errors import InvalidInput


def read_secret(label: str, *, from_stdin: bool, flag: str) -> str:
    """One secret: the first line of stdin with ``flag``, else a hidden prompt."""
    if from_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        value = click.prompt(label, hide_input=True, type=str)
    else:
        raise InvalidInput(f"no terminal to ask for the {label.lower()}; pipe it in with {flag}")
    if not value:
        raise InvalidInput(f"the {label.lower()} is empty")
    return value
