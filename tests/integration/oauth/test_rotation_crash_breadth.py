"""A crash at every step of a master-key rotation, with four vaults and an OAuth client.

Four principals (the admin and three invited users) each have a vault and an
API key in it; the admin also has an OAuth connection whose client secret is
sealed with the deployment's ``oauth`` data key. So at ``rotate:half-rewrapped``
the transaction really holds some vaults re-wrapped and others not, and the
deployment key not yet. After each crash and a restart: every vault's key
resolves for its own agent, the OAuth connection refreshes with the stored
client secret, every wrapped data key opens with the key now in
``master.key``, and a further rotation works.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import httpx
import pytest

from authsome.crypto.envelope import unwrap_data_key
from authsome.daemon.services.key_rotation import FAULT_EXIT_CODE, FAULT_POINTS
from tests.conftest import EMAIL, PASSWORD
from tests.integration.oauth.conftest import API_HOSTS, OAuthEnv
from tests.support import store
from tests.support.daemon import Daemon, base_env, run_cli, start_daemon
from tests.support.vault import resolves
from tests.support.web import csrf_of, following_client

USERS = ("ada@example.com", "bob@example.com", "cyd@example.com")
USER_PASSWORD = "rotation user password 2207"


def _invite_user(admin: httpx.Client, url: str, email: str) -> None:
    page = admin.get("/ui/settings/invites").text
    made = admin.post("/ui/settings/invites", data={"csrf": csrf_of(page)}).text
    invite = re.search(r"/invite/([A-Za-z0-9_-]+)", made)
    assert invite, made[:500]
    with following_client(url) as visitor:
        page = visitor.get(f"/invite/{invite.group(1)}").text
        form = {
            "email": email,
            "password": USER_PASSWORD,
            "password_again": USER_PASSWORD,
            "invite": invite.group(1),
            "csrf": csrf_of(page),
        }
        registered = visitor.post("/register", data=form)
        assert registered.status_code == 200 and "/login" not in str(registered.url)


def _user_agents(env: OAuthEnv) -> dict[str, Path]:
    """Each user's agent home (its identity claimed, an API key in its vault)."""
    url = env.daemon.url
    with following_client(url) as admin:
        page = admin.get("/login").text
        form = {"email": EMAIL, "password": PASSWORD, "csrf": csrf_of(page)}
        assert "/login" not in str(admin.post("/login", data=form).url)
        for email in USERS:
            _invite_user(admin, url, email)
    homes = {}
    for email in USERS:
        home = env.tmp / f"agent-{email.split('@')[0]}"
        agent = base_env(home, AUTHSOME_BASE_URL=url)
        init = run_cli(
            ("init", "--email", email, "--password-stdin"), agent, input=USER_PASSWORD + "\n"
        )
        assert init.code == 0, init.err
        login = run_cli(("login", "openai", "--key-stdin"), agent, input=_api_key(email) + "\n")
        assert login.code == 0, login.err
        homes[email] = home
    return homes


def _api_key(owner: str) -> str:
    return f"sk-rotation-{owner.split('@')[0]}-0123456789abcdef"


def _restart(env: OAuthEnv, extra_env: dict[str, str] | None = None) -> Daemon:
    resolve = [f"--proxy-resolve={name}=127.0.0.1:{env.upstream.port}" for name in API_HOSTS]
    ca = f"--upstream-ca={env.tmp / 'upstream-ca.pem'}"
    env.daemon = start_daemon(env.daemon.home, *resolve, ca, env=extra_env)
    return env.daemon


def _crash_rotation(env: OAuthEnv, point: str) -> None:
    assert env.daemon.stop() == 0
    armed = _restart(env, {"AUTHSOME_TEST_FAULT": point})
    try:
        assert armed.cli("vault", "rotate-key", timeout=30).code != 0
        assert armed.process.wait(timeout=15) == FAULT_EXIT_CODE, point
    finally:
        if armed.process.poll() is None:
            armed.process.kill()
            armed.process.wait()


def _master_key(home: Path) -> bytes:
    return base64.b64decode((home / "server" / "master.key").read_text())


def _assert_every_data_key_opens(home: Path) -> int:
    key = _master_key(home)
    wrapped = [
        (f"{row['id']}", row["wrapped_data_key"])
        for row in store.rows(home, "SELECT id, wrapped_data_key FROM vaults")
    ]
    wrapped += [
        (f"deployment:{row['name']}", row["wrapped_data_key"])
        for row in store.rows(home, "SELECT name, wrapped_data_key FROM deployment_keys")
    ]
    for scope, blob in wrapped:
        unwrap_data_key(key, bytes(blob), vault_id=scope)  # raises when it does not open
    return len(wrapped)


@pytest.mark.parametrize("point", FAULT_POINTS)
def test_a_crash_at_any_step_keeps_every_vault_and_the_oauth_client(
    oauth_env: OAuthEnv, point: str
) -> None:
    env = oauth_env
    env.pkce_login()
    assert env.cli("login", "openai", "--key-stdin", input=_api_key(EMAIL) + "\n").code == 0
    agents = {EMAIL: env.daemon.home, **_user_agents(env)}
    assert _assert_every_data_key_opens(env.daemon.home) == len(agents) + 1
    old = _master_key(env.daemon.home)

    _crash_rotation(env, point)

    restarted = _restart(env)
    try:
        for owner, home in agents.items():
            assert resolves(restarted, _api_key(owner), home), (point, owner)
        refreshed = env.cli("refresh", "oauthco")
        assert refreshed.code == 0, (point, refreshed.err)
        assert env.server.token_requests("refresh_token")[-1]["ok"]
        assert env.call_api()["status"] == 200
        assert _assert_every_data_key_opens(restarted.home) == len(agents) + 1
        server = restarted.home / "server"
        assert not (server / "master.key.new").exists(), "the start finishes or undoes it"
        committed = FAULT_POINTS.index(point) >= FAULT_POINTS.index("rotate:committed")
        if committed:
            assert _master_key(restarted.home) != old
            assert base64.b64decode((server / "master.key.old").read_text()) == old
        else:
            assert _master_key(restarted.home) == old
        again = env.cli("vault", "rotate-key", "--json")
        assert again.code == 0 and again.json["vaults"] == len(agents), again.err
        assert _assert_every_data_key_opens(restarted.home) == len(agents) + 1
        assert env.cli("refresh", "oauthco").code == 0
    finally:
        restarted.stop()
    env.assert_no_secrets_leaked()
