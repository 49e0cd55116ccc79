"""Auth sessions: surviving a daemon restart; the client form served to the browser."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from authsome.client.api import DaemonClient
from tests.conftest import EMAIL, PASSWORD
from tests.integration.oauth.conftest import OAuthEnv, open_env
from tests.support.daemon import base_env, run_cli, start_daemon
from tests.support.oauth_browser import ScriptedBrowser
from tests.support.oauth_server import DEVICE_CLIENT, GRANT_DEVICE, STATIC_CLIENT, OAuthServer
from tests.support.pop import home_key
from tests.support.postgres import free_port
from tests.support.web import Browser

USER_PASSWORD = "second-user-passphrase-4411"


@pytest.fixture
def fixed_port_env(tmp_path: Path, oauth_server: OAuthServer) -> Iterator[OAuthEnv]:
    """Like ``oauth_env`` on a fixed API port, so a restarted daemon keeps its redirect URI."""
    yield from open_env(tmp_path, oauth_server, "--port", str(free_port()))


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


def _db_bytes(home: Path) -> bytes:
    """The whole store as it lies on disk (database and write-ahead log)."""
    server = home / "server"
    return b"".join(path.read_bytes() for path in sorted(server.glob("authsome.db*")))


def test_pending_login_secrets_are_sealed_at_rest(oauth_env: OAuthEnv) -> None:
    with oauth_env.api() as api:
        started = api.start_oauth_login("oauthco", flow="pkce")
        started = api.give_oauth_client(started["id"], *STATIC_CLIENT)
    url = started["authorization_url"]
    state = parse_qs(urlsplit(url).query)["state"][0]
    expires = datetime.fromisoformat(started["expires_at"].replace("Z", "+00:00"))
    assert 540 < (expires - datetime.now(UTC)).total_seconds() <= 600  # ten minutes
    at_rest = _db_bytes(oauth_env.daemon.home)  # while the login waits for its callback
    with ScriptedBrowser() as browser:
        page = browser.open(url)
    assert page.final.status_code == 200 and "Logged in" in page.final.text
    verifier = oauth_env.server.issued("CodeVerifier")[-1]
    assert len(verifier) >= 43
    for secret in (verifier, state, STATIC_CLIENT[1]):
        assert secret.encode() not in at_rest
    with oauth_env.db() as db:
        sealed = db.execute("SELECT sealed_verifier, state_hash FROM auth_sessions").fetchall()
    assert sealed == [(None, sealed[0][1])] and sealed[0][1]  # erased once used
    assert STATIC_CLIENT[1].encode() not in _db_bytes(oauth_env.daemon.home)


def test_pending_device_code_is_sealed_at_rest(oauth_env: OAuthEnv) -> None:
    with oauth_env.api() as api:
        started = api.start_oauth_login("oauthdev")
        pending = api.give_oauth_client(started["id"], DEVICE_CLIENT, None)
        assert pending["status"] == "pending"
        at_rest = _db_bytes(oauth_env.daemon.home)  # while the login waits for approval
        with oauth_env.db() as db:
            [(sealed,)] = db.execute("SELECT sealed_device_code FROM auth_sessions").fetchall()
        device_code = oauth_env.server.issued("DeviceCode")[-1]
        # It is the device code: the server still answers it as waiting for approval.
        poll = httpx.post(
            f"{oauth_env.server.issuer}/token",
            data={
                "grant_type": GRANT_DEVICE,
                "device_code": device_code,
                "client_id": DEVICE_CLIENT,
            },
            timeout=10,
        )
        assert poll.json().get("error") == "authorization_pending", poll.text
        api.cancel_oauth_login(started["id"])
    assert sealed and device_code.encode() not in sealed
    assert device_code.encode() not in at_rest


def test_a_client_given_once_serves_every_user_of_the_deployment(
    oauth_env: OAuthEnv, tmp_path: Path
) -> None:
    oauth_env.pkce_login()  # the admin brings the OAuth client
    admin = Browser(oauth_env.daemon.url)
    admin.login(EMAIL, PASSWORD)
    page = admin.post("/ui/settings/invites", form_page="/ui/settings/invites")
    token = re.search(r"/invite/([A-Za-z0-9_-]+)", page.text)
    assert token, page.text
    Browser(oauth_env.daemon.url).register("user@example.com", USER_PASSWORD, invite=token[1])
    user_home = tmp_path / "user-home"
    user_env = base_env(user_home, AUTHSOME_BASE_URL=oauth_env.daemon.url)
    init = run_cli(
        ("init", "--email", "user@example.com", "--password-stdin"),
        user_env,
        input=USER_PASSWORD + "\n",
    )
    assert init.code == 0, init.err

    with DaemonClient(oauth_env.daemon.url, home_key(user_home)) as user:
        started = user.start_oauth_login("oauthco", flow="pkce")
        assert started["status"] == "pending"  # not asked for a client again
        with ScriptedBrowser() as browser:
            browser.open(started["authorization_url"])
        assert user.oauth_login_status(started["id"])["status"] == "complete"
        mine = [(c["provider"], c["name"]) for c in user.connections()]
    assert mine == [("oauthco", "default")]
    with oauth_env.db() as db:
        assert db.execute("SELECT COUNT(*) FROM oauth_clients").fetchone() == (1,)
        vaults = db.execute(
            "SELECT COUNT(DISTINCT vault_id) FROM connections WHERE provider = 'oauthco'"
        ).fetchone()
    assert vaults == (2,)  # two connections, one per user's vault
    # Only an admin may revoke a provider for everyone.
    refused = run_cli(("provider", "revoke", "oauthco", "--yes"), user_env)
    assert refused.code == 4 and "admin" in refused.err
