"""``authsome export``: credentials as shell variables, a dotenv file or JSON.

Prefer ``authsome run``: the agent then never holds a secret. ``export`` is
for tools that cannot use a proxy. It needs a grant that allows reveal (or
the principal's password), is audited per connection, refuses to print to a
terminal unless told ``--yes``, and leaves refresh tokens out unless
``--include-refresh`` asks for them.

    eval "$(authsome export openai --format env)"
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import click

from authsome.cli.output import OutputMode, emit_data, json_option
from authsome.cli.reveal_auth import password_option, with_reveal_auth

FORMATS = ("env", "dotenv", "json")


def format_env(variables: dict[str, str]) -> str:
    """``export NAME='value'`` lines that any POSIX shell reads back exactly."""
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in variables.items())


def _literal_in_single_quotes(value: str) -> bool:
    """Whether every reader takes ``'value'`` as it is.

    Shells, docker compose and node's dotenv do for any value without a
    single quote. python-dotenv also decodes ``\\\\`` and ``\\'`` between single
    quotes, so a doubled or trailing backslash goes in double quotes instead.
    """
    return "'" not in value and "\\\\" not in value and not value.endswith("\\")


def _dotenv_value(value: str) -> str:
    if _literal_in_single_quotes(value):
        return f"'{value}'"  # nothing expands between single quotes; newlines stay inside
    # Double quotes with the four escapes a POSIX shell reads there, so sourcing
    # the file never runs or expands anything (`$(…)`, backticks, ``${…}``).
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("$", "\\$").replace("`", "\\`") + '"'


def format_dotenv(variables: dict[str, str]) -> str:
    """``NAME='value'`` lines that ``set -a; . FILE`` in a shell reads back exactly.

    Dotenv readers read them back exactly too, with one exception: python-dotenv
    knows no escape for ``$`` or the backtick, so a double-quoted value (one
    with a single quote, or a doubled or trailing backslash) that also holds
    ``$`` or a backtick keeps the backslash before them there. A value with a
    newline spans lines inside its quotes, as multi-line dotenv values do.
    (python-dotenv also expands ``${NAME}`` in any value unless told
    ``interpolate=False``; no quoting prevents that.)
    """
    return "".join(f"{name}={_dotenv_value(value)}\n" for name, value in variables.items())


def format_json(variables: dict[str, str]) -> str:
    return json.dumps(variables, indent=2, sort_keys=True) + "\n"


RENDERERS = {"env": format_env, "dotenv": format_dotenv, "json": format_json}


@click.command("export")
@click.argument("provider", required=False)
@click.option("--connection", default=None, help="Export this connection instead of the default.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="env",
    show_default=True,
    help="env: export lines for eval; dotenv: a .env file; json: one object.",
)
@click.option("--include-refresh", is_flag=True, help="Also export OAuth refresh tokens.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file (mode 0600) instead of stdout.",
)
@click.option("--yes", is_flag=True, help="Print secrets even though stdout is a terminal.")
@password_option
@json_option
def export(
    provider: str | None,
    connection: str | None,
    fmt: str,
    include_refresh: bool,
    output: Path | None,
    yes: bool,
    password_stdin: bool,
    as_json: bool,
) -> None:
    """Print credentials as shell variables, a dotenv file or JSON.

    Without PROVIDER, every default connection your grant allows. Audited.
    """
    from authsome.cli.clients import connect
    from authsome.errors import InvalidInput

    if connection is not None and provider is None:
        raise click.UsageError("--connection needs a PROVIDER")
    if output is None and sys.stdout.isatty() and not yes:
        raise InvalidInput(
            "refusing to print secrets to a terminal",
            hint="redirect to a file, use --output FILE, or add --yes",
        )
    with connect() as client:
        items = with_reveal_auth(
            password_stdin,
            lambda password: client.export(
                provider, connection, password=password, include_refresh=include_refresh
            ),
        )
    variables: dict[str, str] = {}
    for item in items:
        variables.update(item["variables"])
    text = RENDERERS["json" if as_json else fmt](variables)
    if output is not None:
        from authsome.home import write_private_file

        write_private_file(output, text.encode())
    else:
        emit_data(text, nl=False)
    if not items and not OutputMode.quiet:
        click.echo("nothing to export: no connections your grant allows", err=True)


COMMANDS = [export]
