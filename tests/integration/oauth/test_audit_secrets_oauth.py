"""OAuth flows never put a token, code or client secret into the audit trail.

PKCE with a confidential client, device code, dynamic client registration,
proxied calls, a forced refresh, export with refresh tokens, logout with
revocation and ``provider revoke``; then every value the authorization
server handed out is searched for in the whole ``audit_events`` table.
"""

from __future__ import annotations

import json

from tests.conftest import PASSWORD
from tests.integration.oauth.conftest import OAuthEnv
from tests.support import store
from tests.support.oauth_browser import ScriptedBrowser
from tests.support.oauth_server import DEVICE_CLIENT, STATIC_CLIENT
from tests.unit.audit.test_events_documented import _documented


def _device_login(env: OAuthEnv) -> None:
    login = env.start_login("oauthdev", "--client-stdin", stdin=f"{DEVICE_CLIENT}\n\n")
    user_code = login.wait_for(r"enter the code: (\S+)").group(1)
    where = login.wait_for(r"\(or open (\S+)\)").group(1)
    with ScriptedBrowser() as browser:
        browser.open(where, user_code=user_code)
    result = env.finish(login)
    assert result.code == 0, result.err


def test_no_oauth_secret_reaches_the_audit_trail(oauth_env: OAuthEnv) -> None:
    env = oauth_env
    env.pkce_login()
    assert env.call_api()["status"] == 200
    refreshed = env.cli("refresh", "oauthco")
    assert refreshed.code == 0, refreshed.err
    assert env.call_api()["status"] == 200
    _device_login(env)
    env.pkce_login("oauthmcp", client=False)
    exported = env.cli(
        "export", "oauthco", "--format", "json", "--include-refresh", "--password-stdin",
        input=PASSWORD + "\n",
    )  # fmt: skip
    assert exported.code == 0, exported.err
    assert env.cli("logout", "oauthco").code == 0
    assert env.cli("provider", "revoke", "oauthdev", "--yes").code == 0
    log = env.cli("log", "--json", "--since", "2000-01-01")
    assert log.code == 0
    assert env.daemon.stop() == 0

    rows = [dict(row) for row in store.rows(env.daemon.home, "SELECT * FROM audit_events")]
    text = "\n".join(json.dumps(row, default=str) for row in rows)
    secrets = [*env.server.secrets(), STATIC_CLIENT[1], PASSWORD]
    assert len(secrets) > 6  # codes, access and refresh tokens, the client secret
    for secret in secrets:
        assert secret not in text, f"{secret[:6]}… found in the audit table"
        assert secret not in log.out
    seen = {(row["event"], row["outcome"], row["provider"]) for row in rows}
    for expected in [
        ("login_started", "success", "oauthco"),
        ("login_started", "success", "oauthdev"),
        ("client_registered", "success", "oauthco"),
        ("client_registered", "success", "oauthmcp"),
        ("login", "success", "oauthco"),
        ("login", "success", "oauthdev"),
        ("login", "success", "oauthmcp"),
        ("refresh", "success", "oauthco"),
        ("proxy_request", "success", "oauthco"),
        ("export", "success", "oauthco"),
        ("token_revoked", "success", "oauthco"),
        ("provider_revoked", "success", "oauthdev"),
    ]:
        assert expected in seen, expected
    documented, _reserved = _documented()
    assert {row["event"] for row in rows} <= documented
