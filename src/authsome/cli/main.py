"""The ``authsome`` command: one group, thin subcommands over ``authsome.client``.

Every failure leaves through ``main``: an ``AuthsomeError`` prints one line
(and the command that fixes it) and exits with its DESIGN §9 code; Ctrl-C and
cancelled prompts exit 2, not click's 1.
"""

from __future__ import annotations

import sys

import click

from authsome import __version__
from authsome.cli.output import print_error


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="authsome")
def cli() -> None:
    """Authsome: credentials for AI agents, injected so agents never hold them."""


def _register_commands() -> None:
    from authsome.cli import (
        connections_cmd,
        daemon_cmd,
        identity_cmd,
        login_cmd,
        provider_cmd,
        run_cmd,
    )

    for module in (daemon_cmd, identity_cmd, provider_cmd, login_cmd, connections_cmd, run_cmd):
        for command in module.COMMANDS:
            cli.add_command(command)


_register_commands()


def main(argv: list[str] | None = None) -> None:
    from authsome.errors import AuthsomeError

    try:
        cli.main(args=argv, prog_name="authsome", standalone_mode=False)
    except AuthsomeError as exc:
        print_error(exc.code, exc.message, exc.hint)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        print_error("cancelled", "cancelled", None)
        sys.exit(2)
    except KeyboardInterrupt:
        print_error("cancelled", "cancelled", None)
        sys.exit(2)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    sys.exit(0)
