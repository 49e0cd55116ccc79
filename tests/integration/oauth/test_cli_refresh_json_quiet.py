"""`login -q` and `refresh --json|-q` for a real OAuth connection (what the table in
tests/integration/test_cli_json_quiet.py cannot make succeed without this server)."""

from __future__ import annotations

import json

from tests.integration.oauth.conftest import OAuthEnv


def test_quiet_login_still_prints_the_link_and_refresh_json_and_quiet(
    oauth_env: OAuthEnv,
) -> None:
    # pkce_login waits for the login link on stderr: -q must not hide what the
    # person has to open, or the login could never finish.
    login = oauth_env.pkce_login("oauthco", "-q")
    assert login.out == ""
    assert login.err.startswith("Log in to OAuth Co at:\n  http://127.0.0.1:"), login.err
    as_json = oauth_env.cli("refresh", "oauthco", "--json")
    assert as_json.code == 0, as_json.err
    body = json.loads(as_json.out)
    assert body["provider"] == "oauthco" and body["expires_at"]
    quiet = oauth_env.cli("refresh", "oauthco", "-q")
    assert (quiet.code, quiet.out, quiet.err) == (0, "", "")
    oauth_env.assert_no_secrets_leaked()
