"""Where `authsome login` can open a browser, and how scopes are read."""

from __future__ import annotations

import sys

import pytest

from authsome.cli.oauth_login import browser_available, parse_scopes

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
