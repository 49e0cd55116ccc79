"""Where `authsome login` can open a browser, and how scopes are read."""

from __future__ import annotations

import re
import sys

import click
import pytest

from authsome.cli.main import cli
from authsome.cli.oauth_login import browser_available, parse_scopes
from tests.unit.cli.test_main import _leaves

DISPLAYS = ("DISPLAY", "WAYLAND_DISPLAY")


@pytest.mark.parametrize("platform", ["linux", "darwin", "win32", "freebsd14"])
@pytest.mark.parametrize("variable", ["SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY"])
def test_no_browser_over_ssh_without_a_display(
    monkeypatch: pytest.MonkeyPatch, platform: str, variable: str
) -> None:
    for name in DISPLAYS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BROWSER", "true")  # a browser exists, but not on the user's screen
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setenv(variable, "10.0.0.2 50000 10.0.0.1 22")
    assert browser_available() is False


def test_no_browser_on_linux_without_a_display(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*DISPLAYS, "SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BROWSER", "true")
    monkeypatch.setattr(sys, "platform", "linux")
    assert browser_available() is False


@pytest.mark.parametrize("display", DISPLAYS)
def test_a_forwarded_display_over_ssh_opens_the_browser(
    monkeypatch: pytest.MonkeyPatch, display: str
) -> None:
    monkeypatch.setenv(display, ":10")
    monkeypatch.setenv("SSH_CONNECTION", "10.0.0.2 50000 10.0.0.1 22")
    monkeypatch.setenv("BROWSER", "true")
    monkeypatch.setattr(sys, "platform", "linux")
    assert browser_available() is True


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", []), ("read,write", ["read", "write"]), (" a  b,c ", ["a", "b", "c"])],
)
def test_scopes_are_split_on_commas_and_spaces(
    value: str | None, expected: list[str] | None
) -> None:
    assert parse_scopes(value) == expected


SECRET_WORDS = re.compile(r"secret|password|passphrase|token|key|client|credential", re.I)


def _value_options(command: click.Command) -> list[str]:
    return [
        " ".join(param.opts)
        for param in command.params
        if isinstance(param, click.Option) and not param.is_flag and not param.count
    ]


def test_no_command_takes_a_secret_or_client_credential_as_an_argument() -> None:
    """Client ids/secrets, keys and passwords come from a prompt, stdin or the browser form."""
    leaves = _leaves(cli)
    assert any(path == "login" for path, _command in leaves)
    offending = [
        f"{path} {names}"
        for path, command in leaves
        for names in _value_options(command)
        if SECRET_WORDS.search(names)
    ]
    assert offending == []
    arguments = [
        f"{path} {param.name}"
        for path, command in leaves
        for param in command.params
        if isinstance(param, click.Argument) and SECRET_WORDS.search(param.name or "")
    ]
    assert arguments == []


def test_the_check_would_see_a_client_secret_option() -> None:
    @click.command()
    @click.option("--client-secret")
    @click.option("--client-stdin", is_flag=True)
    def sample(client_secret: str | None, client_stdin: bool) -> None:
        """A command that must not exist."""

    assert [n for n in _value_options(sample) if SECRET_WORDS.search(n)] == ["--client-secret"]
