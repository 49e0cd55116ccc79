"""``authsome completion bash|zsh|fish``: the shell completion script.

    eval "$(authsome completion bash)"        # in ~/.bashrc
    authsome completion fish > ~/.config/fish/completions/authsome.fish

Completion asks the daemon for provider and connection names, so
``authsome login <Tab>`` offers the providers this deployment knows.
"""

from __future__ import annotations

import click

from authsome.cli.output import emit_data, emit_json, json_option

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_AUTHSOME_COMPLETE"


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
@json_option
def completion(shell: str, as_json: bool) -> None:
    """Print the shell completion script for bash, zsh or fish."""
    from click.shell_completion import get_completion_class

    from authsome.cli.main import cli

    complete_class = get_completion_class(shell)
    assert complete_class is not None  # every name in SHELLS is built into click
    script = complete_class(cli, {}, "authsome", COMPLETE_VAR).source()
    if as_json:
        emit_json({"shell": shell, "script": script})
    else:
        emit_data(script)


COMMANDS = [completion]
