"""The ``authsome`` command: one lazy group, thin subcommands over ``authsome.client``.

Start-up stays fast because a command's module is imported only when that
command runs. ``COMMAND_MODULES`` lists the modules under ``authsome.cli``
that hold commands (each exports ``COMMANDS``); ``COMMAND_INDEX`` names
their commands and short help so ``--help`` and completion need no import.
A module listed without index entries still works: it is imported whenever
the command list is needed (slower; ``tests/unit/cli/test_main.py`` says so).

Every command gets ``--json``, ``--quiet`` and ``--no-color``, and arguments
named ``provider`` / options named ``--connection`` complete from the daemon.

Every failure leaves through ``main``: an ``AuthsomeError`` prints one line
(and the command that fixes it) and exits with its DESIGN §9 code; usage
errors, Ctrl-C and cancelled prompts exit 2, not click's 1.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from authsome import __version__
from authsome.cli.output import OutputMode, add_output_options, print_error

#: Modules under ``authsome.cli`` with a ``COMMANDS`` list.
COMMAND_MODULES: list[str] = [
    "daemon_cmd",
    "identity_cmd",
    "provider_cmd",
    "login_cmd",
    "oauth_cmd",
    "connections_cmd",
    "run_cmd",
    "identities_cmd",
    "export_cmd",
    "scan_cmd",
    "doctor_cmd",
    "completion_cmd",
    "log_cmd",
    "vault_cmd",
]

#: command name -> (module, short help). Kept equal to the commands by a test.
COMMAND_INDEX: dict[str, tuple[str, str]] = {
    "completion": ("completion_cmd", "Print the shell completion script for bash, zsh or fish."),
    "connections": ("connections_cmd", "Credentials stored in your vault."),
    "daemon": ("daemon_cmd", "Run the Authsome daemon (API on 7998, proxy on 7999)."),
    "doctor": ("doctor_cmd", "Check this home, the daemon and the vault; say how to fix problems."),
    "export": ("export_cmd", "Print credentials as shell variables, a dotenv file or JSON."),
    "identity": ("identities_cmd", "This machine's agent identities."),
    "init": (
        "identity_cmd",
        "Create this agent's identity, register it, and (with --email) claim it.",
    ),
    "login": (
        "login_cmd",
        "Log in to PROVIDER and store the credential encrypted in your vault.",
    ),
    "log": ("log_cmd", "Show the audit trail: what your agents did with your credentials."),
    "logout": ("login_cmd", "Remove a connection; OAuth tokens are revoked at the provider first."),
    "provider": ("provider_cmd", "Services Authsome can log in to."),
    "refresh": (
        "oauth_cmd",
        "Refresh an OAuth connection's token now (exit 5 when it needs a new login).",
    ),
    "run": (
        "run_cmd",
        "Run COMMAND with credentials injected by the proxy; it never sees them.",
    ),
    "scan": (
        "scan_cmd",
        "Find provider keys in .env files and the environment; compare with the vault.",
    ),
    "vault": ("vault_cmd", "Rotate, move, back up and restore the master key and the store."),
    "whoami": ("identity_cmd", "Show this agent's identity, principal, role, vault and daemon."),
}

EPILOG = """\b
Exit codes: 0 success, 1 unexpected failure, 2 authentication failed,
input cancelled (Ctrl-C) or usage error, 3 connection not found,
4 provider not found or not allowed, 5 credential missing or expired,
6 connection exists, 7 provider exists, 8 endpoint unreachable,
9 daemon unavailable.
\b
Environment: AUTHSOME_HOME, AUTHSOME_IDENTITY, AUTHSOME_BASE_URL, NO_COLOR."""


class LazyGroup(click.Group):
    """A group that imports a command's module only when the command is needed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_unindexed()
        return sorted(set(self.commands) | set(COMMAND_INDEX))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            entry = COMMAND_INDEX.get(cmd_name)
            if entry is not None:
                self._load(entry[0])
            else:
                self._load_unindexed()
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            loaded = self.commands.get(name)
            if loaded is not None:
                if not loaded.hidden:
                    rows.append((name, loaded.get_short_help_str(limit)))
            else:
                stand_in = click.Command(name, help=COMMAND_INDEX[name][1])
                rows.append((name, stand_in.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def _load(self, module_name: str) -> None:
        from authsome.cli.completers import attach_completers

        module = importlib.import_module(f"authsome.cli.{module_name}")
        for command in module.COMMANDS:
            if command.name not in self.commands:
                self.add_command(attach_completers(add_output_options(command)))

    def _load_unindexed(self) -> None:
        indexed = {module for module, _ in COMMAND_INDEX.values()}
        for module_name in COMMAND_MODULES:
            if module_name not in indexed:
                self._load(module_name)

    def load_all(self) -> None:
        """Import every command (tests and completion of nested commands use it)."""
        for module_name in COMMAND_MODULES:
            self._load(module_name)


def _no_color(_ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    OutputMode.no_color = OutputMode.no_color or value


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=EPILOG,
)
@click.version_option(__version__, prog_name="authsome")
@click.option(
    "--no-color",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_no_color,
    help="Never colour the output (also: NO_COLOR=1).",
)
def cli() -> None:
    """Authsome: credentials for AI agents, injected so agents never hold them."""


def _usage_error(exc: click.UsageError, argv: list[str]) -> int:
    if isinstance(exc, click.exceptions.NoArgsIsHelpError):
        exc.show()
        return exc.exit_code
    OutputMode.json = OutputMode.json or "--json" in argv
    path = exc.ctx.command_path if exc.ctx is not None else "authsome"
    print_error("usage_error", exc.format_message(), f"{path} --help")
    return 2


def main(argv: list[str] | None = None) -> None:
    from authsome.errors import AuthsomeError

    args = list(sys.argv[1:] if argv is None else argv)
    try:
        cli.main(args=args, prog_name="authsome", standalone_mode=False)
    except AuthsomeError as exc:
        print_error(exc.code, exc.message, exc.hint)
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        print_error("cancelled", "cancelled", None)
        sys.exit(2)
    except click.UsageError as exc:
        sys.exit(_usage_error(exc, args))
    except click.ClickException as exc:
        print_error("invalid_request", exc.format_message(), None)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        # The reader went away (`authsome daemon logs -f | head`): not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
    except Exception as exc:
        if os.environ.get("AUTHSOME_DEBUG"):
            raise
        # The type only: an exception's text may quote a secret.
        print_error(
            "internal_error",
            f"unexpected {type(exc).__name__}",
            "AUTHSOME_DEBUG=1 shows the traceback; authsome doctor checks the setup",
        )
        sys.exit(1)
    sys.exit(0)
