"""`authsome provider list|register` against a real daemon."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from authsome.client.connect import open_client
from authsome.errors import InvalidProvider
from authsome.home import HomeLayout
from tests.support import store
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


# --- list filters, inspect, override and remove ----------------------------------------

STRIPE_OVERRIDE = {
    "schema_version": 1,
    "name": "stripe",
    "display_name": "Stripe via corporate gateway",
    "auth_type": "api_key",
    "flow": "api_key",
    "api_url": ["stripe-gateway.corp.test"],
    "api_key": {"header_name": "X-Gateway-Key", "header_prefix": "", "env_var": "STRIPE_API_KEY"},
}


def _names(result: object) -> set[str]:
    return {item["name"] for item in result.json}  # type: ignore[attr-defined]


def test_list_filters_by_auth_type_and_search(claimed: Daemon) -> None:
    everything = claimed.cli("provider", "list", "--json")
    assert len(everything.json) >= 88
    oauth = claimed.cli("provider", "list", "--auth-type", "oauth2", "--json")
    assert oauth.code == 0, oauth.err
    assert {"github", "google-drive", "notion-mcp"} <= _names(oauth)
    assert {item["auth_type"] for item in oauth.json} == {"oauth2"}
    keys = claimed.cli("provider", "list", "--auth-type", "api_key", "--json")
    assert "openai" in _names(keys) and "github" not in _names(keys)
    assert _names(oauth) | _names(keys) == _names(everything)
    google = claimed.cli("provider", "list", "--search", "GOOGLE", "--json")
    assert {"google", "google-gmail", "gemini"} <= _names(google)
    assert "openai" not in _names(google)
    by_host = claimed.cli("provider", "list", "--search", "hubapi.com", "--json")
    assert _names(by_host) == {"hubspot"}
    both = claimed.cli("provider", "list", "--auth-type", "api_key", "--search", "google", "--json")
    assert _names(both) == {"gemini"}
    nothing = claimed.cli("provider", "list", "--search", "no-such-service-anywhere")
    assert nothing.code == 0 and "no providers match" in nothing.out
    bad = claimed.cli("provider", "list", "--auth-type", "password")
    assert bad.code == 2


def test_list_table_shows_connected_and_source(claimed: Daemon) -> None:
    login = claimed.cli("login", "openai", "--key-stdin", input="sk-proj-" + "a" * 40 + "\n")
    assert login.code == 0, login.err
    listed = {item["name"]: item for item in claimed.cli("provider", "list", "--json").json}
    assert listed["openai"]["connected"] is True
    assert listed["anthropic"]["connected"] is False
    table = claimed.cli("provider", "list", "--search", "openai")
    assert table.code == 0, table.err
    header = table.out.splitlines()[0].split()
    assert header == ["NAME", "AUTH", "FLOW", "HOSTS", "CONNECTED", "SOURCE"]
    row = next(line for line in table.out.splitlines() if line.startswith("openai "))
    assert "api.openai.com" in row and "yes" in row and "bundled" in row
    bedrock = claimed.cli("provider", "list", "--search", "bedrock").out
    assert "more)" in bedrock  # long host lists are cut in the table


def test_inspect_shows_header_env_vars_and_endpoints(claimed: Daemon) -> None:
    github = claimed.cli("provider", "inspect", "github", "--json")
    assert github.code == 0, github.err
    oauth = github.json["definition"]["oauth"]
    assert oauth["device_authorization_url"] == "https://github.com/login/device/code"
    assert github.json["api_url"] == ["api.github.com", "uploads.github.com"]
    human = claimed.cli("provider", "inspect", "github-pat")
    assert human.code == 0, human.err
    assert "Authorization: Bearer <key>" in human.out
    assert "GH_TOKEN, GITHUB_TOKEN" in human.out
    assert "alternative to: github" in human.out
    assert "ghp_" in human.out  # the key format hint
    basic = claimed.cli("provider", "inspect", "lemlist").out
    assert "Authorization: Basic base64(:<key>)" in basic
    gitlab = claimed.cli("provider", "inspect", "gitlab").out
    assert "{base_url}/oauth/authorize" in gitlab and "https://gitlab.com" in gitlab
    semrush = claimed.cli("provider", "inspect", "semrush").out
    assert "unsupported:" in semrush and "query" in semrush
    missing = claimed.cli("provider", "inspect", "no-such-provider")
    assert missing.code == 4
    assert "no provider named 'no-such-provider'" in missing.err


def test_bundled_name_needs_force_and_remove_restores_it(claimed: Daemon, tmp_path: Path) -> None:
    path = _write(tmp_path, STRIPE_OVERRIDE, "stripe.json")
    refused = claimed.cli("provider", "register", path)
    assert refused.code == 7
    assert "bundled provider named 'stripe'" in refused.err and "--force" in refused.err
    assert claimed.cli("provider", "inspect", "stripe", "--json").json["bundled"] is True

    forced = claimed.cli("provider", "register", path, "--force", "--json")
    assert forced.code == 0, forced.err
    info = claimed.cli("provider", "inspect", "stripe", "--json").json
    assert info["api_url"] == ["stripe-gateway.corp.test"]
    assert (info["bundled"], info["overrides_bundled"]) == (False, True)
    row = next(
        line
        for line in claimed.cli("provider", "list", "--search", "stripe").out.splitlines()
        if line.startswith("stripe ")
    )
    assert "custom (overrides bundled)" in row

    removed = claimed.cli("provider", "remove", "stripe")
    assert removed.code == 0, removed.err
    assert "bundled stripe is in effect again" in removed.out
    restored = claimed.cli("provider", "inspect", "stripe", "--json").json
    assert restored["api_url"] == ["api.stripe.com", "files.stripe.com"]
    assert restored["bundled"] is True

    again = claimed.cli("provider", "remove", "stripe")
    assert again.code == 4 and "bundled provider" in again.err
    unknown = claimed.cli("provider", "remove", "no-such-provider", "--json")
    assert unknown.code == 4
    assert json.loads(unknown.out)["error"] == "provider_not_found"


def test_remove_custom_provider(claimed: Daemon, tmp_path: Path) -> None:
    assert claimed.cli("provider", "register", _write(tmp_path, ACME)).code == 0
    removed = claimed.cli("provider", "remove", "acme", "--json")
    assert removed.code == 0, removed.err
    assert removed.json == {"name": "acme", "restored_bundled": False}
    assert "acme" not in _names(claimed.cli("provider", "list", "--json"))
    assert claimed.cli("provider", "inspect", "acme").code == 4
    # and the removal is audited in the same transaction
    claimed.stop()
    with store.connect(claimed.home) as db:
        events = db.execute(
            "SELECT event, outcome FROM audit_events WHERE provider = 'acme' ORDER BY id"
        ).fetchall()
    assert events == [("provider_registered", "success"), ("provider_removed", "success")]


def test_only_admins_register_or_remove(claimed: Daemon, tmp_path: Path) -> None:
    assert claimed.cli("provider", "register", _write(tmp_path, ACME)).code == 0
    with store.connect(claimed.home) as db:
        db.execute("UPDATE principals SET role = 'user'")
    removed = claimed.cli("provider", "remove", "acme")
    assert removed.code == 4 and "admin" in removed.err
    other = dict(ACME, name="acme2", api_url=["api.acme2.test"])
    assert claimed.cli("provider", "register", _write(tmp_path, other, "b.json")).code == 4
    assert "acme" in _names(claimed.cli("provider", "list", "--json"))


def test_base_url_is_refused_for_an_api_key_login_instead_of_ignored(claimed: Daemon) -> None:
    """A provider without {base_url} hosts has no instance to record (shopify has one)."""
    refused = claimed.cli(
        "login", "openai", "--base-url", "https://acme.myshopify.com", "--key-stdin",
        input="sk-proj-0123456789abcdefghij\n",
    )  # fmt: skip
    assert refused.code == 2
    assert "openai has no per-instance hosts, so it takes no --base-url" in refused.err
    connections = claimed.cli("connections", "list", "--json")
    assert connections.code == 0, connections.err
    assert connections.json == []


def test_key_stdin_for_an_oauth_provider_names_its_api_key_provider(claimed: Daemon) -> None:
    """`login github --key-stdin` must not start an OAuth login: the token goes to github-pat."""
    token = "ghp_" + "a1B2" * 9
    refused = claimed.cli("login", "github", "--key-stdin", input=token + "\n")
    assert refused.code == 2, refused.err
    assert "github-pat" in refused.err
    assert "authsome login github-pat --key-stdin" in refused.err
    assert token not in refused.out + refused.err
    as_json = claimed.cli("login", "linear", "--key-stdin", "--json", input="lin_api_x\n")
    assert as_json.code == 2
    assert as_json.json["error"] == "invalid_request"
    assert set(as_json.json) == {"error", "message"} and "linear-api-key" in as_json.json["message"]
    alone = claimed.cli("login", "notion", "--key-stdin", input="secret_x\n")
    assert alone.code == 2 and "OAuth" in alone.err
    connections = claimed.cli("connections", "list", "--json")
    assert connections.code == 0, connections.err
    assert connections.json == []


def test_key_stdin_hint_names_a_custom_api_key_alternative(claimed: Daemon, tmp_path: Path) -> None:
    notion_key = dict(ACME, name="notion-key", api_url=["api.notion.com"], alternative_to="notion")
    assert claimed.cli("provider", "register", _write(tmp_path, notion_key)).code == 0
    refused = claimed.cli("login", "notion", "--key-stdin", input="secret_x\n")
    assert refused.code == 2
    assert "authsome login notion-key --key-stdin" in refused.err
