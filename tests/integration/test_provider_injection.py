"""Bundled providers' auth schemes injected by `authsome run`, against a local stand-in.

The daemon resolves the real API host names of a few bundled providers to a
local HTTPS echo server (``--proxy-resolve``), so the requests curl makes
through the proxy carry exactly what the real service would receive.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from authsome.client.connect import open_client
from authsome.errors import OperationNotAllowed
from authsome.home import HomeLayout
from authsome.testing.upstream import HttpsEchoServer, TestCA
from tests.conftest import EMAIL, PASSWORD
from tests.support.daemon import CliResult, Daemon, start_daemon

KEYS = {
    "lemlist": "lemlist-PLANTED-key-0001",
    "mailchimp": "0123456789abcdef0123456789abcdef-us6",
    "postmark": "pm-PLANTED-server-token-0002",
    "klaviyo": "pk_PLANTEDklaviyo0003",
    "pagerduty": "pd-PLANTED-token-0004",
    "github-pat": "ghp_" + "PLANTED0github0pat0000000000000000000"[:36],
    "acmebasic": "acme-PLANTED-basic-0005",
}
NAMES = (
    "api.lemlist.com",
    "us6.api.mailchimp.com",
    "api.postmarkapp.com",
    "a.klaviyo.com",
    "api.pagerduty.com",
    "api.github.com",
    "api.semrush.com",
    "api.acmebasic.test",
)
ACME_BASIC = {
    "schema_version": 1,
    "name": "acmebasic",
    "display_name": "Acme (HTTP Basic)",
    "auth_type": "api_key",
    "flow": "api_key",
    "api_url": ["api.acmebasic.test"],
    "api_key": {"auth_scheme": "basic", "basic_credentials": "{key}:", "env_var": "ACME_KEY"},
}


@dataclass
class Stand:
    daemon: Daemon

    def run(self, *args: str) -> CliResult:
        return self.daemon.cli("run", "--", *args, timeout=60)

    def echo(self, url: str, *curl_args: str) -> dict[str, str]:
        result = self.run("curl", "-sS", "--fail", *curl_args, url)
        assert result.code == 0, result.err
        return {name.lower(): value for name, value in json.loads(result.out)["headers"]}


@pytest.fixture(scope="module")
def stand(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stand]:
    tmp_path = tmp_path_factory.mktemp("injection")
    ca = TestCA()
    ca_file = ca.write_pem(tmp_path / "upstream-ca.pem")
    with HttpsEchoServer(ca, NAMES) as upstream:
        resolve = [f"--proxy-resolve={name}=127.0.0.1:{upstream.port}" for name in NAMES]
        daemon = start_daemon(tmp_path / "home", *resolve, f"--upstream-ca={ca_file}")
        try:
            provider_file = tmp_path / "acmebasic.json"
            provider_file.write_text(json.dumps(ACME_BASIC))
            steps: list[tuple[tuple[str, ...], str | None]] = [
                (("init", "--email", EMAIL, "--password-stdin"), PASSWORD + "\n"),
                (("provider", "register", str(provider_file)), None),
            ]
            steps += [(("login", name, "--key-stdin"), key + "\n") for name, key in KEYS.items()]
            for args, stdin in steps:
                result = daemon.cli(*args, input=stdin)
                assert result.code == 0, (args, result.err)
                assert not any(key in result.out + result.err for key in KEYS.values())
            yield Stand(daemon)
        finally:
            daemon.stop()


def _basic(pair: str) -> str:
    return "Basic " + base64.b64encode(pair.encode()).decode()


@pytest.mark.parametrize(
    ("url", "pair"),
    [
        ("https://api.lemlist.com/api/team", ":" + KEYS["lemlist"]),
        ("https://us6.api.mailchimp.com/3.0/ping", "anystring:" + KEYS["mailchimp"]),
        ("https://api.acmebasic.test/v1/things", KEYS["acmebasic"] + ":"),
    ],
    ids=["lemlist", "mailchimp", "custom"],  # ids without keys: they reach the environment
)
def test_http_basic_providers_get_the_key_in_the_documented_slot(
    stand: Stand, url: str, pair: str
) -> None:
    headers = stand.echo(url, "-u", "placeholder:authsome-managed")
    assert headers["authorization"] == _basic(pair)


@pytest.mark.parametrize(
    ("url", "header", "value"),
    [
        ("https://api.postmarkapp.com/email", "x-postmark-server-token", KEYS["postmark"]),
        (
            "https://a.klaviyo.com/api/profiles",
            "authorization",
            "Klaviyo-API-Key " + KEYS["klaviyo"],
        ),
        (
            "https://api.pagerduty.com/incidents",
            "authorization",
            "Token token=" + KEYS["pagerduty"],
        ),
    ],
    ids=["postmark", "klaviyo", "pagerduty"],
)
def test_custom_header_providers_get_the_documented_header(
    stand: Stand, url: str, header: str, value: str
) -> None:
    headers = stand.echo(url)
    assert headers[header] == value


def test_a_placeholder_in_the_custom_header_is_replaced_not_doubled(stand: Stand) -> None:
    result = stand.run(
        "curl",
        "-sS",
        "--fail",
        "-H",
        "X-Postmark-Server-Token: authsome-managed",
        "https://api.postmarkapp.com/email",
    )
    assert result.code == 0, result.err
    pairs = json.loads(result.out)["headers"]
    values = [value for name, value in pairs if name.lower() == "x-postmark-server-token"]
    assert values == [KEYS["postmark"]]


def test_an_alternative_is_used_when_the_first_provider_has_no_connection(stand: Stand) -> None:
    """github (OAuth) is not connected; github-pat shares its hosts and is."""
    headers = stand.echo("https://api.github.com/user")
    assert headers["authorization"] == "Bearer " + KEYS["github-pat"]


def test_unsupported_provider_is_refused_with_its_reason(stand: Stand) -> None:
    result = stand.run(
        "curl",
        "-sS",
        "-o",
        "/dev/stderr",
        "-w",
        "%{http_code}",
        "https://api.semrush.com/?type=domain_ranks&key=authsome-managed",
    )
    assert result.out == "403"
    assert "cannot add semrush credentials" in result.err
    assert "'key' URL query parameter" in result.err


def test_run_sets_placeholders_for_the_env_vars_sdks_read(stand: Stand, tmp_path: Path) -> None:
    out = tmp_path / "env.json"
    script = f"import json, os; json.dump(dict(os.environ), open({str(out)!r}, 'w'))"
    assert stand.run("python", "-c", script).code == 0
    env = json.loads(out.read_text())
    for name in (
        "LEMLIST_API_KEY",
        "POSTMARK_SERVER_TOKEN",
        "GH_TOKEN",
        "GITHUB_TOKEN",
        "ACME_KEY",
    ):
        assert env[name] == "authsome-managed", name
    assert not any(key in json.dumps(env) for key in KEYS.values())


def test_resolve_route_makes_the_same_choices(stand: Stand) -> None:
    """``POST /resolve`` (agents that add headers themselves) follows the proxy's rules."""
    with open_client(HomeLayout(stand.daemon.home), autostart=False) as client:
        github = client.resolve("https://api.github.com/user")
        assert github["provider"] == "github-pat"
        assert github["headers"] == {"Authorization": "Bearer " + KEYS["github-pat"]}
        lemlist = client.resolve("https://api.lemlist.com/api/team")
        assert lemlist["headers"] == {"Authorization": _basic(":" + KEYS["lemlist"])}
        with pytest.raises(OperationNotAllowed, match="'key' URL query parameter"):
            client.resolve("https://api.semrush.com/?type=domain_ranks")


def test_overriding_and_restoring_a_provider_changes_the_header_at_once(
    stand: Stand, tmp_path: Path
) -> None:
    """Cached headers are dropped when a definition is replaced or removed."""
    assert stand.echo("https://api.postmarkapp.com/email")["x-postmark-server-token"]
    override = {
        "schema_version": 1,
        "name": "postmark",
        "display_name": "Postmark (account token)",
        "auth_type": "api_key",
        "flow": "api_key",
        "api_url": ["api.postmarkapp.com"],
        "api_key": {"header_name": "X-Postmark-Account-Token", "header_prefix": ""},
    }
    path = tmp_path / "postmark.json"
    path.write_text(json.dumps(override))
    assert stand.daemon.cli("provider", "register", str(path), "--force").code == 0
    try:
        headers = stand.echo("https://api.postmarkapp.com/email")
        assert headers["x-postmark-account-token"] == KEYS["postmark"]
        assert "x-postmark-server-token" not in headers
    finally:
        assert stand.daemon.cli("provider", "remove", "postmark").code == 0
    headers = stand.echo("https://api.postmarkapp.com/email")
    assert headers["x-postmark-server-token"] == KEYS["postmark"]
    assert "x-postmark-account-token" not in headers
