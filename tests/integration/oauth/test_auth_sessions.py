"""Auth sessions: surviving a daemon restart; the client form served to the browser."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.oauth.conftest import OAuthEnv, open_env
from tests.support.daemon import start_daemon
from tests.support.oauth_browser import ScriptedBrowser
from tests.support.oauth_server import STATIC_CLIENT, OAuthServer


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def fixed_port_env(tmp_path: Path, oauth_server: OAuthServer) -> Iterator[OAuthEnv]:
    """Like ``oauth_env`` on a fixed API port, so a restarted daemon keeps its redirect URI."""
    yield from open_env(tmp_path, oauth_server, "--port", str(_free_port()))


def test_login_completes_when_the_callback_arrives_after_a_restart(
    fixed_port_env: OAuthEnv,
) -> None:
    env = fixed_port_env
    with env.api() as api:
        started = api.start_oauth_login("oauthco", flow="pkce")
        assert started["status"] == "needs_client"
        started = api.give_oauth_client(started["id"], *STATIC_CLIENT)
    url = started["authorization_url"]
    assert f"redirect_uri=http%3A%2F%2F127.0.0.1%3A{env.daemon.record['api_port']}" in url

    # start_daemon's own arguments are "daemon serve --port 0 --proxy-port 0": keep the rest.
    extra = [str(arg) for arg in env.daemon.process.args][7:]
    assert env.daemon.stop() == 0
    env.daemon = start_daemon(env.daemon.home, *extra)
    with ScriptedBrowser() as browser:
        page = browser.open(url)
    assert page.final.status_code == 200 and "Logged in" in page.final.text
    with env.api() as api:
        assert api.oauth_login_status(started["id"])["status"] == "complete"
    connection = env.connection("oauthco")
    assert connection is not None and connection["status"] == "active"
    env.assert_no_secrets_leaked()


def test_client_entered_in_the_browser_form_then_login(oauth_env: OAuthEnv) -> None:
    with oauth_env.api() as api:
        started = api.start_oauth_login("oauthco", flow="pkce")
    assert started["status"] == "needs_client"
    form_url = started["client_form_url"]
    assert form_url.startswith(oauth_env.daemon.url + "/auth/client-form/")

    form = httpx.get(form_url, timeout=10)
    assert form.status_code == 200
    assert "name='client_secret' type='password'" in form.text  # masked
    assert "form-action 'self'" in form.headers["content-security-policy"]
    action = f"{oauth_env.daemon.url}/auth/client-form/{started['id']}"
    token = form_url.split("t=", 1)[1]
    fields = {"t": token, "client_id": STATIC_CLIENT[0], "client_secret": STATIC_CLIENT[1]}
    # Cross-site posts and wrong tokens are refused before anything is stored.
    assert httpx.post(action, data=fields, timeout=10).status_code == 403
    evil = {"Origin": "http://evil.test"}
    assert httpx.post(action, data=fields, headers=evil, timeout=10).status_code == 403
    wrong = {**fields, "t": "x" * 43}
    mine = {"Origin": oauth_env.daemon.url}
    assert httpx.post(action, data=wrong, headers=mine, timeout=10).status_code == 404

    typed = {"client_id": STATIC_CLIENT[0], "client_secret": STATIC_CLIENT[1]}
    with ScriptedBrowser(fields=typed) as browser:
        page = browser.open(form_url, server_origin=oauth_env.server.origin)
    assert page.final.status_code == 200 and "Logged in" in page.final.text, page.visited
    with oauth_env.api() as api:
        assert api.oauth_login_status(started["id"])["status"] == "complete"
    # The form is single-use.
    assert httpx.get(form_url, timeout=10).status_code == 404
    assert oauth_env.connection("oauthco") is not None
    oauth_env.assert_no_secrets_leaked()
