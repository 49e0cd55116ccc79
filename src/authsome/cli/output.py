"""How the CLI speaks: human text on stdout, one-line errors on stderr, or JSON.

Every command takes ``--json``, ``--quiet`` and ``--no-color``:

- ``--json``: one JSON document on stdout (JSON lines for streams: ``log``,
  ``daemon logs``, ``daemon serve``); a failure prints
  ``{"error", "message"}`` instead (``doctor`` adds both to its report).
  ``run`` is the exception: its COMMAND's output is COMMAND's own, so
  ``--json`` shapes only Authsome's own errors there.
- ``--quiet``: nothing on success but raw data meant for scripts, which
  ``emit_data`` prints: ``export``'s variables, the completion script,
  revealed secret values, daemon log lines. Messages, tables and field
  lists (``say``, ``table``, ``fields``) and spinners are for people and
  are left out: a script reads lists with ``--json``. Errors always print,
  and so do links and codes a person must act on (a claim or login link).
- Colour only on a terminal, and never with ``--no-color`` or ``NO_COLOR``.

    @click.command()
    @json_option
    def hello(as_json: bool) -> None:
        emit_json({"hi": 1}) if as_json else say("hi")

``add_output_options`` gives commands that do not use ``json_option`` the
same flags, so the entry point can guarantee them for every command.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


class OutputMode:
    """Set once per process by the flags of whichever command runs."""

    json: bool = False
    quiet: bool = False
    no_color: bool = False


def _set_json(_ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    OutputMode.json = OutputMode.json or value
    return value


def _set_quiet(_ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    OutputMode.quiet = OutputMode.quiet or value
    return value


def _set_no_color(_ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    OutputMode.no_color = OutputMode.no_color or value
    return value


JSON_HELP = "Print JSON (one document, or one per line for streams) instead of text."
QUIET_HELP = "Print only errors and raw data (export, completion, logs); no messages or tables."
#: ``--json`` help for commands whose output is not Authsome's.
JSON_HELP_FOR = {
    "run": 'Print Authsome\'s own errors as JSON {"error","message"}; COMMAND\'s output is its own.'
}


def _quiet_option() -> click.Option:
    return click.Option(
        ["-q", "--quiet"],
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=_set_quiet,
        help=QUIET_HELP,
    )


def _no_color_option() -> click.Option:
    return click.Option(
        ["--no-color"],
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=_set_no_color,
        help="Never colour the output (also: NO_COLOR=1).",
    )


def json_option(func: F) -> F:
    """``--json``, passed to the command as ``as_json``."""
    return click.option(
        "--json", "as_json", is_flag=True, is_eager=True, callback=_set_json, help=JSON_HELP
    )(func)


def add_output_options(command: click.Command) -> click.Command:
    """Give ``command`` (and its subcommands) ``--json``, ``--quiet`` and ``--no-color``."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            add_output_options(sub)
        return command
    names = {opt for param in command.params for opt in param.opts}
    if "--json" not in names:
        command.params.append(
            click.Option(
                ["--json"],
                is_flag=True,
                expose_value=False,
                is_eager=True,
                callback=_set_json,
                help=JSON_HELP_FOR.get(command.name or "", JSON_HELP),
            )
        )
    if "--quiet" not in names:
        command.params.append(_quiet_option())
    if "--no-color" not in names:
        command.params.append(_no_color_option())
    return command


def color_enabled(stream: IO[str] | None = None) -> bool:
    """Colour only on a terminal, and never with ``--no-color`` or ``NO_COLOR``."""
    if OutputMode.no_color or os.environ.get("NO_COLOR"):
        return False
    target = stream if stream is not None else sys.stdout
    return bool(getattr(target, "isatty", lambda: False)())


def style(text: str, *, err: bool = False, **styles: Any) -> str:
    """``text`` styled for stdout (or stderr) when colour is enabled there."""
    if not color_enabled(sys.stderr if err else sys.stdout):
        return text
    return click.style(text, **styles)


def emit_json(value: Any) -> None:
    """One JSON document on stdout."""
    click.echo(json.dumps(value, indent=2, sort_keys=True, default=str))


def emit_json_line(value: Any) -> None:
    """One line of a JSON-lines stream on stdout, flushed at once."""
    click.echo(json.dumps(value, sort_keys=True, default=str))
    sys.stdout.flush()


def emit_data(text: str, *, nl: bool = True) -> None:
    """Raw data for scripts (variables, a script, log lines): printed even with ``--quiet``."""
    click.echo(text, nl=nl)


def say(message: str) -> None:
    """A human message on stdout; silent with ``--quiet``."""
    if not OutputMode.quiet:
        click.echo(message, color=color_enabled())


def _console(*, stderr: bool = False) -> Any:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    on_terminal = bool(getattr(stream, "isatty", lambda: False)())
    return Console(
        file=stream,
        no_color=not color_enabled(stream),
        force_terminal=color_enabled(stream) or None,
        # Piped output is never cut to 80 columns: whole values, one row per line.
        width=None if on_terminal else 10_000,
        highlight=False,
        soft_wrap=True,
        emoji=False,
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], *, empty: str) -> None:
    """Rows under bold headers; ``empty`` when there are none; silent with ``--quiet``.

    A table is for people: with ``--quiet`` a list prints nothing, and
    scripts read the same rows with ``--json``.
    """
    if OutputMode.quiet:
        return
    if not rows:
        say(empty)
        return
    from rich.table import Table

    view = Table(box=None, header_style="bold", pad_edge=False)
    for header in headers:
        view.add_column(header, overflow="fold")
    for row in rows:
        view.add_row(*("" if cell is None else str(cell) for cell in row))
    _console().print(view)


def fields(pairs: Sequence[tuple[str, object]]) -> None:
    """``label: value`` lines with the labels aligned; ``-`` for empty values."""
    if not pairs:
        return
    width = max(len(label) for label, _ in pairs)
    for label, value in pairs:
        shown = "-" if value in (None, "", [], {}) else value
        say(f"{style(label.rjust(width), bold=True)}: {shown}")


@contextlib.contextmanager
def spinner(waiting_for: str, *, cancel: str = "Ctrl-C to cancel") -> Iterator[None]:
    """Show ``waiting_for`` and how to cancel while the block runs (terminals only).

        with spinner("waiting for the daemon to start"):
            start_background(...)

    Nothing is drawn for ``--json``, ``--quiet`` or when stderr is not a
    terminal, so scripts and logs stay clean.
    """
    if OutputMode.json or OutputMode.quiet or not sys.stderr.isatty():
        yield
        return
    console = _console(stderr=True)
    with console.status(f"{waiting_for} ({cancel})", spinner="dots"):
        yield


#: The command that usually fixes an error, when the error carries no hint.
DEFAULT_HINTS: dict[str, str] = {
    "daemon_unavailable": "authsome daemon start",
    "port_in_use": "authsome daemon start --port 0",
    "identity_unknown": "authsome init",
    "identity_pending": "authsome init --email YOU@EXAMPLE.COM",
    "identity_revoked": "authsome identity create --use",
    "authentication_failed": "authsome whoami",
    "connection_not_found": "authsome connections list",
    "provider_not_found": "authsome provider list",
    "forbidden": "authsome whoami (shows this agent's grant)",
    "credential_unavailable": "authsome connections list",
    "connection_exists": "add --force to replace it",
    "provider_exists": "add --force to replace it",
    "endpoint_unreachable": "authsome doctor",
    "vault_key_error": "authsome doctor",
    "decryption_failed": "authsome doctor",
    "internal_error": "authsome daemon logs",
}


def print_error(code: str, message: str, hint: str | None) -> None:
    """One line on stderr (what went wrong; the command that fixes it), or JSON on stdout."""
    if OutputMode.json:
        click.echo(json.dumps({"error": code, "message": message}))
        return
    fix = hint or DEFAULT_HINTS.get(code)
    line = f"{style('error:', err=True, fg='red', bold=True)} {_one_line(message)}"
    if fix:
        line += f" (try: {_one_line(fix)})"
    click.echo(line, err=True, color=color_enabled(sys.stderr))


def _one_line(text: str) -> str:
    return " ".join(text.split())
