"""OAuth connections of one instance (GitHub Enterprise style): its hosts only.

A provider lists a public API host and ``{base_url}/api/`` for self-hosted
servers. Each connection logged in with ``--base-url`` gets its token sent to
its own server's /api/ paths and nowhere else; the public host refuses it
(the check of aada3c4 still holds); a connection without a base URL serves
the public host. The real authorization server issues the tokens; the
servers are HTTPS stand-ins reached through ``--proxy-resolve``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from authsome.testing.upstream import HttpsEchoServer, TestCA
from tests.conftest import EMAIL, PASSWORD
from tests.integration.oauth.conftest import BURST, OAuthEnv
from tests.support.daemon import start_daemon
from tests.support.oauth_server import OAuthServer

GHE, GHE2, PUBLIC = "ghe.example.test", "ghe2.example.test", "api.ghco.test"


@pytest.fixture
def env(tmp_path: Path, oauth_server: OAuthServer) -> Iterator[OAuthEnv]:
    ca = TestCA()
    ca_file = ca.write_pem(tmp_path / "upstream-ca.pem")
    with HttpsEchoServer(ca, (GHE, GHE2, PUBLIC)) as upstream:
        resolve = [
            f"--proxy-resolve={name}=127.0.0.1:{upstream.port}" for name in (GHE, GHE2, PUBLIC)
        ]
        daemon = start_daemon(tmp_path / "home", *resolve, f"--upstream-ca={ca_file}")
        found = OAuthEnv(oauth_server, daemon, upstream, tmp_path)
        try:
            init = found.cli("init", "--email", EMAIL, "--password-stdin", input=PASSWORD + "\n")
            assert init.code == 0, init.err
            with found.api() as api:
                api.register_provider(
                    {
                        "schema_version": 1,
                        "name": "ghco",
                        "display_name": "GH Co",
                        "auth_type": "oauth2",
                        "flow": "pkce",
                        "api_url": [PUBLIC, "{base_url}/api/"],
                        "oauth": {
                            "authorization_url": f"{oauth_server.issuer}/auth",
                            "token_url": f"{oauth_server.issuer}/token",
                            "scopes": ["openid"],
                        },
                    }
                )
            yield found
        finally:
            daemon.stop()


def _call(env: OAuthEnv, url: str, *run_args: str) -> dict[str, Any]:
    """One request through `authsome run`: status, the Authorization it carried, text."""
    result = env.daemon.cli(
        "run", *run_args, "--", sys.executable, str(BURST), url, "1", timeout=120
    )
    env.outputs.append(result.err)
    assert result.code == 0, result.err
    answer: dict[str, Any] = json.loads(result.out)[0]
    return answer


def _login(env: OAuthEnv, *args: str) -> str:
    env.pkce_login("ghco", *args)
    return env.server.issued("AccessToken")[-1]


def test_each_instance_gets_its_own_token_and_the_public_host_none(env: OAuthEnv) -> None:
    first = _login(env, "--base-url", f"https://{GHE}")
    second = _login(env, "--connection", "second", "--base-url", f"https://{GHE2}/")

    on_first = _call(env, f"https://{GHE}/api/v3/user")
    assert on_first["status"] == 200 and on_first["authorization"] == f"Bearer {first}"
    on_second = _call(env, f"https://{GHE2}/api/graphql")
    assert on_second["status"] == 200 and on_second["authorization"] == f"Bearer {second}"

    # Not the instance's API path: no provider claims it, so nothing is added.
    login_page = _call(env, f"https://{GHE}/login")
    assert login_page["status"] == 200 and login_page["authorization"] is None

    # The default connection is GHE's: the public host refuses it, as before.
    public = _call(env, f"https://{PUBLIC}/user")
    assert public["status"] == 403
    assert f"is for https://{GHE}" in public["text"]
    assert first not in json.dumps(public) and second not in json.dumps(public)
    env.outputs.append(env.daemon.log_text())
    env.assert_no_secrets_leaked()


def test_a_connection_without_a_base_url_serves_the_public_host_only(env: OAuthEnv) -> None:
    instance = _login(env, "--base-url", f"https://{GHE}")
    plain = _login(env, "--connection", "plain")

    public = _call(env, f"https://{PUBLIC}/user", "--connection", "ghco=plain")
    assert public["status"] == 200 and public["authorization"] == f"Bearer {plain}"
    # A run that chose the plain connection does not get GHE's token on GHE either.
    refused = _call(env, f"https://{GHE}/api/v3/user", "--connection", "ghco=plain")
    assert refused["status"] == 403 and "(--connection)" in refused["text"]
    assert plain not in json.dumps(refused) and instance not in json.dumps(refused)
    # Without a choice, GHE's host picks the connection logged in there.
    chosen = _call(env, f"https://{GHE}/api/v3/user")
    assert chosen["authorization"] == f"Bearer {instance}"


def test_a_new_login_moves_the_connection_to_its_new_instance(env: OAuthEnv) -> None:
    _login(env, "--base-url", f"https://{GHE}")
    assert _call(env, f"https://{GHE}/api/v3/user")["status"] == 200
    moved = _login(env, "--force", "--base-url", f"https://{GHE2}")
    assert _call(env, f"https://{GHE2}/api/v3/user")["authorization"] == f"Bearer {moved}"
    # GHE is nobody's now: it matches no provider, so a run refusing such hosts stops there.
    old = env.daemon.cli(
        "run", "--deny-unmatched", "--", "curl", "-sS", f"https://{GHE}/api/v3/user"
    )
    assert old.code == 56 and "CONNECT tunnel failed, response 403" in old.err
