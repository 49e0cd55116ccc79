"""`authsome refresh` under `--json` and `-q` for a real OAuth connection (the leaf the
table in tests/integration/test_cli_json_quiet.py cannot make succeed without this server)."""

from __future__ import annotations

import json

from tests.integration.oauth.conftest import OAuthEnv


def test_refresh_json_is_one_document_and_quiet_prints_nothing(oauth_env: OAuthEnv) -> None:
    oauth_env.pkce_login()
    as_json = oauth_env.cli("refresh", "oauthco", "--json")
    assert as_json.code == 0, as_json.err
    body = json.loads(as_json.out)
    assert body["provider"] == "oauthco" and body["expires_at"]
    quiet = oauth_env.cli("refresh", "oauthco", "-q")
    assert (quiet.code, quiet.out, quiet.err) == (0, "", "")
    oauth_env.assert_no_secrets_leaked()
