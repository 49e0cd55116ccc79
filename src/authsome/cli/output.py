"""How the CLI speaks: human text on stdout, errors on stderr, or JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import click


class OutputMode:
    """Set once by the ``--json`` flag of whichever command runs."""

    json: bool = False


def json_option(func: Any) -> Any:
    def remember(_ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
        OutputMode.json = OutputMode.json or value
        return value

    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        expose_value=True,
        callback=remember,
        help="Print one JSON document instead of text.",
    )(func)


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=True, default=str))


def say(message: str) -> None:
    click.echo(message)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], *, empty: str) -> None:
    if not rows:
        say(empty)
        return
    from rich.console import Console
    from rich.table import Table

    view = Table(*headers, box=None, header_style="bold", pad_edge=False)
    for row in rows:
        view.add_row(*("" if cell is None else str(cell) for cell in row))
    Console(no_color=not sys.stdout.isatty(), soft_wrap=True).print(view)


def print_error(code: str, message: str, hint: str | None) -> None:
    if OutputMode.json:
        click.echo(json.dumps({"error": code, "message": message}))
        return
    click.echo(f"error: {message}", err=True)
    if hint:
        click.echo(f"  try: {hint}", err=True)
