"""`--flow` wins over what the CLI would pick: device code with a display, PKCE without one."""

from __future__ import annotations

from pathlib import Path

from tests.integration.oauth.conftest import OAuthEnv
from tests.support.oauth_browser import ScriptedBrowser
from tests.support.oauth_server import GRANT_DEVICE, STATIC_CLIENT

CLIENT = f"{STATIC_CLIENT[0]}\n{STATIC_CLIENT[1]}\n"
AUTH_URL = r"(http://127\.0\.0\.1:\d+/oidc/auth\?\S+)"


def _desktop(env: OAuthEnv) -> tuple[dict[str, str], Path]:
    """A graphical session whose browser is a script that notes each URL it is given."""
    opened = env.tmp / "browser-opened.txt"
    browser = env.tmp / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$@" >> {opened}\n')
    browser.chmod(0o755)
    variables = {k: v for k, v in env.daemon.env.items() if not k.startswith("SSH_")}
    return variables | {"DISPLAY": ":0", "BROWSER": str(browser)}, opened


def _over_ssh(env: OAuthEnv) -> dict[str, str]:
    """No display: on its own, login would choose the device flow for oauthco."""
    unset = ("DISPLAY", "WAYLAND_DISPLAY")
    variables = {k: v for k, v in env.daemon.env.items() if k not in unset}
    return variables | {"SSH_CONNECTION": "10.0.0.2 50000 10.0.0.1 22"}


def test_flow_device_code_with_a_display_uses_the_device_grant(oauth_env: OAuthEnv) -> None:
    env, opened = _desktop(oauth_env)
    login = oauth_env.start_login(
        "oauthco", "--flow", "device_code", "--client-stdin", stdin=CLIENT, env=env
    )
    user_code = login.wait_for(r"enter the code: (\S+)").group(1)
    where = login.wait_for(r"\(or open (\S+)\)").group(1)
    with ScriptedBrowser() as browser:
        page = browser.open(where, user_code=user_code)
    assert "Sign-in Success" in page.final.text, page.final.text
    result = oauth_env.finish(login)
    assert result.code == 0, result.err

    assert oauth_env.server.token_requests(GRANT_DEVICE)[-1]["ok"] is True
    assert oauth_env.server.token_requests("authorization_code") == []
    assert "/oidc/auth?" not in result.err  # no authorization URL was offered
    assert not opened.exists()  # nor opened in the browser that was there
    oauth_env.assert_no_secrets_leaked()


def test_flow_pkce_without_a_display_uses_the_authorization_code(oauth_env: OAuthEnv) -> None:
    login = oauth_env.start_login(
        "oauthco", "--flow", "pkce", "--client-stdin", stdin=CLIENT, env=_over_ssh(oauth_env)
    )
    url = login.wait_for(AUTH_URL).group(1)
    with ScriptedBrowser() as browser:
        page = browser.open(url)
    assert page.final.status_code == 200, page.final.text
    result = oauth_env.finish(login)
    assert result.code == 0, result.err

    assert [r["ok"] for r in oauth_env.server.token_requests("authorization_code")] == [True]
    assert oauth_env.server.token_requests(GRANT_DEVICE) == []
    assert "enter the code" not in result.err
