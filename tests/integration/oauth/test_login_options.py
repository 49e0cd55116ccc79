"""`authsome login` options: --scopes, --base-url, and the masked prompt for a client."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import time
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

from tests.integration.oauth.conftest import OAuthEnv
from tests.support.daemon import AUTHSOME
from tests.support.oauth_browser import ScriptedBrowser
from tests.support.oauth_server import STATIC_CLIENT, OAuthServer

AUTH_URL = r"(http://127\.0\.0\.1:\d+/oidc/auth\?\S+)"


def test_scopes_option_is_sent_and_granted_scopes_are_stored(oauth_env: OAuthEnv) -> None:
    stdin = f"{STATIC_CLIENT[0]}\n{STATIC_CLIENT[1]}\n"
    login = oauth_env.start_login(
        "oauthco", "--no-browser", "--client-stdin", "--scopes", "openid,read email", stdin=stdin
    )
    url = login.wait_for(AUTH_URL).group(1)
    assert parse_qs(urlsplit(url).query)["scope"] == ["openid read email"]
    with ScriptedBrowser() as browser:
        browser.open(url)
    assert oauth_env.finish(login).code == 0
    connection = oauth_env.connection("oauthco")
    assert connection is not None
    assert set(connection["scopes"]) == {"openid", "read", "email"}
    assert connection["account"]["sub"] == "alice"


def test_base_url_fills_a_multi_tenant_provider(oauth_env: OAuthEnv) -> None:
    definition = {
        "schema_version": 1,
        "name": "tenantco",
        "display_name": "Tenant Co",
        "auth_type": "oauth2",
        "flow": "pkce",
        "api_url": ["tenant.oauthco.test"],
        "oauth": {
            "authorization_url": "{base_url}/auth",
            "token_url": "{base_url}/token",
            "revocation_url": "{base_url}/token/revocation",
            "scopes": ["openid"],
        },
    }
    with oauth_env.api() as api:
        api.register_provider(definition)
    missing = oauth_env.cli("login", "tenantco", "--no-browser")
    assert missing.code == 2 and "--base-url" in missing.err
    result = oauth_env.pkce_login("tenantco", "--base-url", oauth_env.server.issuer)
    assert "logged in to tenantco" in result.out
    with oauth_env.db() as db:
        rows = db.execute("SELECT endpoints FROM oauth_grants").fetchall()
    assert f'"base_url": "{oauth_env.server.issuer}"' in rows[0][0]


def _read_until(fd: int, pattern: str, transcript: list[bytes], timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = b"".join(transcript).decode(errors="replace")
        if re.search(pattern, text):
            return text
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                transcript.append(os.read(fd, 4096))
            except OSError:
                break
    raise AssertionError(f"{pattern!r} not seen in {b''.join(transcript)!r}")


def test_client_secret_is_asked_at_a_masked_prompt(oauth_env: OAuthEnv) -> None:
    pid, fd = pty.fork()
    if pid == 0:  # the child: authsome login on a terminal
        argv = [AUTHSOME, "login", "oauthco", "--no-browser"]
        os.execve(AUTHSOME, argv, oauth_env.daemon.env)  # noqa: S606 - a fixed argv
    transcript: list[bytes] = []
    try:
        _read_until(fd, r"client id: ", transcript)
        os.write(fd, STATIC_CLIENT[0].encode() + b"\r")
        _read_until(fd, r"client secret \(empty for a public client\): ", transcript)
        os.write(fd, STATIC_CLIENT[1].encode() + b"\r")
        text = _read_until(fd, AUTH_URL, transcript)
        url = re.search(AUTH_URL, text)
        assert url is not None
        with ScriptedBrowser() as browser:
            browser.open(url.group(1))
        _read_until(fd, r"logged in to oauthco", transcript)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    shown = b"".join(transcript).decode(errors="replace")
    assert STATIC_CLIENT[0] in shown  # the id is echoed
    assert STATIC_CLIENT[1] not in shown  # the secret is not
    assert "in the browser (Ctrl-C to cancel)" in shown  # the spinner while it waits
    oauth_env.outputs.append(shown)
    oauth_env.assert_no_secrets_leaked()


def test_a_token_of_another_instance_never_goes_to_the_listed_hosts(oauth_env: OAuthEnv) -> None:
    """Self-managed GitLab's case: --base-url names another server than the public one."""
    definition = {
        "schema_version": 1,
        "name": "selfhosted",
        "display_name": "Self Hosted",
        "auth_type": "oauth2",
        "flow": "pkce",
        "api_url": ["https://api.oauthco.test/v1/", "{base_url}/api/"],
        "oauth": {
            "base_url": oauth_env.server.issuer,  # the "public instance"
            "authorization_url": "{base_url}/auth",
            "token_url": "{base_url}/token",
            "scopes": ["openid"],
        },
    }
    with oauth_env.api() as api:
        api.register_provider(definition)
    oauth_env.pkce_login("selfhosted")
    public = oauth_env.call_api()
    assert public["status"] == 200
    assert public["authorization"] == f"Bearer {oauth_env.server.issued('AccessToken')[-1]}"

    with OAuthServer(access_ttl=300) as other:
        other_env = replace(oauth_env, server=other)
        # its own client: clients are kept per provider and base URL
        other_env.pkce_login("selfhosted", "--force", "--base-url", other.issuer)
        token = other.issued("AccessToken")[-1]
    answer = oauth_env.call_api()
    assert answer["status"] == 403
    assert f"is for {other.issuer}" in answer["text"]
    assert token not in json.dumps(answer)  # refused by the proxy: nothing reached the host
