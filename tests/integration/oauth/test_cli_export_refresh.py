"""`export` and `connections inspect --reveal` of an OAuth connection: the access
token always, the refresh token only with ``--include-refresh``."""

from __future__ import annotations

from tests.conftest import PASSWORD
from tests.integration.oauth.conftest import OAuthEnv


def test_refresh_tokens_leave_only_with_include_refresh(oauth_env: OAuthEnv) -> None:
    oauth_env.pkce_login()
    access = oauth_env.server.issued("AccessToken")[-1]
    refresh = oauth_env.server.issued("RefreshToken")[-1]

    def export(*extra: str) -> dict[str, str]:
        result = oauth_env.cli(
            "export", "oauthco", "--format", "json", *extra, "--password-stdin",
            input=PASSWORD + "\n",
        )  # fmt: skip
        assert result.code == 0, result.err
        variables: dict[str, str] = result.json
        return variables

    plain = export()
    assert access in plain.values() and refresh not in plain.values()
    assert not any("REFRESH" in name for name in plain)
    with_refresh = export("--include-refresh")
    assert with_refresh["OAUTHCO_REFRESH_TOKEN"] == refresh
    assert access in with_refresh.values()

    def reveal(*extra: str) -> dict[str, str]:
        result = oauth_env.cli(
            "connections", "inspect", "oauthco", "--reveal", *extra, "--password-stdin", "--json",
            input=PASSWORD + "\n",
        )  # fmt: skip
        assert result.code == 0, result.err
        secrets: dict[str, str] = result.json["secrets"]
        return secrets

    assert "refresh_token" not in reveal() and reveal()["access_token"] == access
    assert reveal("--include-refresh")["refresh_token"] == refresh
