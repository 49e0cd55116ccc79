"""Every command answers --help; --version; login/logout/connections and their exit codes."""

from __future__ import annotations

import click
import pytest

from authsome import __version__
from authsome.cli.main import cli
from tests.support.daemon import Daemon, base_env, run_cli


def _command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):  # the lazy group imports each command here
        command = group.get_command(ctx, name)
        assert command is not None, name
        paths.append((*prefix, name))
        if isinstance(command, click.Group):
            paths.extend(_command_paths(command, (*prefix, name)))
    return paths


@pytest.mark.parametrize(
    "path", [(), *_command_paths(cli)], ids=lambda p: " ".join(p) or "authsome"
)
def test_every_command_has_help(path: tuple[str, ...], tmp_path) -> None:
    result = run_cli([*path, "--help"], base_env(tmp_path / "home"))
    assert result.code == 0, result.err
    assert "Usage:" in result.out


def test_version(tmp_path) -> None:
    result = run_cli(["--version"], base_env(tmp_path / "home"))
    assert result.code == 0 and __version__ in result.out


def test_login_list_logout_round_trip(claimed: Daemon) -> None:
    login = claimed.cli(
        "login", "openai", "--key-stdin", "--json", input="sk-proj-abcdefghijklmnopqrstuv\n"
    )
    assert login.code == 0, login.err
    assert login.json["provider"] == "openai" and login.json["is_default"] is True
    second = claimed.cli(
        "login",
        "openai",
        "--connection",
        "work",
        "--key-stdin",
        input="sk-proj-zyxwvutsrqponmlkjihgf\n",
    )
    assert second.code == 0, second.err
    listed = claimed.cli("connections", "list", "--json").json
    assert [(c["provider"], c["name"], c["is_default"]) for c in listed] == [
        ("openai", "default", True),
        ("openai", "work", False),
    ]
    assert all("api_key" not in item for item in listed) and "sk-proj" not in str(listed)
    exists = claimed.cli("login", "openai", "--key-stdin", input="sk-proj-abcdefghijklmnopqrstuv\n")
    assert exists.code == 6 and "--force" in exists.err
    assert claimed.cli("logout", "openai").code == 0
    remaining = claimed.cli("connections", "list", "--json").json
    assert [(c["name"], c["is_default"]) for c in remaining] == [("work", True)]
    missing = claimed.cli("logout", "openai", "--connection", "nope")
    assert missing.code == 3


def test_login_errors_have_their_exit_codes(claimed: Daemon) -> None:
    unknown = claimed.cli("login", "no-such-provider", "--key-stdin", input="x\n")
    assert unknown.code == 4 and "no-such-provider" in unknown.err
    bad_shape = claimed.cli("login", "anthropic", "--key-stdin", input="not-an-anthropic-key\n")
    assert bad_shape.code == 2 and "does not look like" in bad_shape.err
    assert "not-an-anthropic-key" not in bad_shape.err + bad_shape.out
    no_tty = claimed.cli("login", "openai")
    assert no_tty.code == 2 and "--key-stdin" in no_tty.err
    path_trick = claimed.cli(
        "login", "openai", "--connection", "../x", "--key-stdin", input="sk-abcdefghijklmnopqrstu\n"
    )
    assert path_trick.code == 2
    as_json = claimed.cli("login", "no-such-provider", "--key-stdin", "--json", input="x\n")
    assert as_json.json == {"error": "provider_not_found", "message": as_json.json["message"]}


def test_commands_before_init_say_what_to_do(daemon: Daemon) -> None:
    result = daemon.cli("connections", "list")
    assert result.code == 2
    assert "authsome init" in result.err
