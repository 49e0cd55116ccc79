"""`authsome provider list|register` against a real daemon."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from authsome.client.connect import open_client
from authsome.errors import InvalidProvider
from authsome.home import HomeLayout
from tests.support.daemon import Daemon

ACME = {
    "schema_version": 1,
    "name": "acme",
    "display_name": "Acme",
    "auth_type": "api_key",
    "flow": "api_key",
    "api_url": ["*.acme.test"],
    "api_key": {"header_name": "X-Acme-Key", "header_prefix": "", "env_var": "ACME_API_KEY"},
}


def _write(tmp_path: Path, definition: object, name: str = "provider.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(definition) if not isinstance(definition, str) else definition)
    return str(path)


def test_bundled_providers_are_listed(claimed: Daemon) -> None:
    listed = claimed.cli("provider", "list", "--json")
    assert listed.code == 0, listed.err
    names = {item["name"] for item in listed.json}
    expected = {
        "openai",
        "anthropic",
        "groq",
        "mistral",
        "openrouter",
        "perplexity",
        "resend",
        "sendgrid",
    }
    assert expected <= names
    human = claimed.cli("provider", "list")
    assert "api.openai.com" in human.out


def test_register_custom_provider_then_duplicate_is_exit_7(claimed: Daemon, tmp_path: Path) -> None:
    path = _write(tmp_path, ACME)
    created = claimed.cli("provider", "register", path, "--json")
    assert created.code == 0, created.err
    assert created.json["name"] == "acme" and created.json["bundled"] is False
    again = claimed.cli("provider", "register", path)
    assert again.code == 7, again.err
    forced = claimed.cli("provider", "register", path, "--force")
    assert forced.code == 0, forced.err
    listed = claimed.cli("provider", "list", "--json").json
    assert [p["api_url"] for p in listed if p["name"] == "acme"] == [["*.acme.test"]]


def test_bad_provider_json_names_the_field_and_changes_nothing(
    claimed: Daemon, tmp_path: Path
) -> None:
    bad = dict(ACME, api_key={"header_name": "X Bad Header", "env_var": "ACME_API_KEY"})
    result = claimed.cli("provider", "register", _write(tmp_path, bad))
    assert result.code == 2
    assert "api_key.header_name" in result.err
    unknown = dict(ACME, api_urls=["x.test"])
    assert (
        "api_urls" in claimed.cli("provider", "register", _write(tmp_path, unknown, "u.json")).err
    )
    broken = claimed.cli("provider", "register", _write(tmp_path, '{"name": "acme",', "b.json"))
    assert broken.code == 2 and "line 1" in broken.err
    names = {p["name"] for p in claimed.cli("provider", "list", "--json").json}
    assert "acme" not in names


def test_daemon_validates_too(claimed: Daemon) -> None:
    """A client that skips the CLI's check still gets a field-level error."""
    client = open_client(HomeLayout(claimed.home), autostart=False)
    with client, pytest.raises(InvalidProvider, match="name"):
        client.register_provider(dict(ACME, name="../etc"))
