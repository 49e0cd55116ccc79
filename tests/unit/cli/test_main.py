"""The lazy command group: its index matches the commands, every command has the output flags."""

from __future__ import annotations

import importlib

import click
import pytest

from authsome.cli.main import COMMAND_INDEX, COMMAND_MODULES, LazyGroup, cli


def _module_commands() -> dict[str, tuple[str, click.Command]]:
    found = {}
    for module_name in COMMAND_MODULES:
        module = importlib.import_module(f"authsome.cli.{module_name}")
        for command in module.COMMANDS:
            found[command.name] = (module_name, command)
    return found


def test_index_lists_every_command_with_its_short_help() -> None:
    commands = _module_commands()
    missing = sorted(set(commands) - set(COMMAND_INDEX))
    assert not missing, f"add these to cli/main.py COMMAND_INDEX: {missing}"
    for name, (module_name, help_text) in COMMAND_INDEX.items():
        assert name in commands, f"COMMAND_INDEX names {name!r}, which no module defines"
        assert commands[name][0] == module_name, name
        assert help_text == commands[name][1].get_short_help_str(limit=1000), name


def _leaves(command: click.Command, path: str = "") -> list[tuple[str, click.Command]]:
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        found = []
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None
            found += _leaves(sub, f"{path} {name}".strip())
        return found
    return [(path, command)]


@pytest.mark.parametrize(
    "path,command", _leaves(cli), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_command_takes_json_quiet_and_no_color(path: str, command: click.Command) -> None:
    options = {opt for param in command.params for opt in param.opts}
    assert {"--json", "--quiet", "--no-color"} <= options, path


def test_help_lists_commands_without_importing_them() -> None:
    group = LazyGroup("authsome", help="x")
    text = group.get_help(click.Context(group))
    assert "whoami" in text and "doctor" in text
    assert group.commands == {}  # nothing imported for --help


def test_epilog_documents_every_exit_code() -> None:
    from authsome.cli.main import EPILOG
    from authsome.errors import ALL_ERROR_CLASSES

    for code in {0, *(cls.exit_code for cls in ALL_ERROR_CLASSES)}:
        assert f"{code} " in EPILOG, code
    assert "usage error" in EPILOG
