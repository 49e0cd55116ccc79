"""What the dashboard shows of OAuth providers and connections, from real logins: the
connections table's account, expiry and last-used columns, the connection's detail, and
each custom provider's flow and scopes."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from tests.conftest import EMAIL, PASSWORD
from tests.integration.oauth.conftest import OAuthEnv
from tests.integration.test_dashboard_fields_and_lists import facts
from tests.support import store
from tests.support.web import Browser


def _signed_in(env: OAuthEnv) -> Browser:
    browser = Browser(env.daemon.url)
    browser.login(EMAIL, PASSWORD)
    return browser


def _row_cells(listing: str, provider: str) -> list[str]:
    rows = [row for row in listing.split("<tr>") if f'href="/ui/connections/{provider}/' in row]
    assert len(rows) == 1, listing
    cells = re.findall(r"<td[^>]*>(.*?)</td>", rows[0].split("</tr>")[0], re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in cells]


def _stored_expiry(env: OAuthEnv) -> str:
    """``expires_at`` as the dashboard prints it (minutes, UTC)."""
    value = store.scalar(
        env.daemon.home, "SELECT expires_at FROM connections WHERE provider = 'oauthco'"
    )
    stamp = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return stamp.replace(tzinfo=UTC).strftime("%Y-%m-%d %H:%M UTC")


def test_oauth_connection_columns_and_detail(oauth_env: OAuthEnv) -> None:
    oauth_env.pkce_login()  # oauthco/default; the server's account is "alice"
    browser = _signed_in(oauth_env)
    expires = _stored_expiry(oauth_env)
    assert _row_cells(browser.get("/ui/connections").text, "oauthco") == [
        "oauthco",
        "default default",
        "alice",
        "active",
        expires,
        "never",
    ]
    detail = facts(browser.get("/ui/connections/oauthco/default").text)
    assert detail["Auth type"] == "oauth2"
    assert detail["Account"] == "sub: alice"
    assert detail["Scopes"] == "openid, read"  # what the server granted, not all asked for
    assert detail["Expires"] == expires
    assert detail["Last used"] == "never"

    assert oauth_env.call_api()["status"] == 200  # the proxy injects the token
    deadline = time.monotonic() + 15
    while _row_cells(browser.get("/ui/connections").text, "oauthco")[5] != "just now":
        assert time.monotonic() < deadline, "the use was never shown"
        time.sleep(0.3)
    assert facts(browser.get("/ui/connections/oauthco/default").text)["Last used"] == "just now"


def test_custom_oauth_provider_pages_show_flow_and_scopes(oauth_env: OAuthEnv) -> None:
    browser = _signed_in(oauth_env)
    for name, flow, scopes in (
        ("oauthco", "pkce", "openid, offline_access, read"),
        ("oauthdev", "device_code", "openid, offline_access, read"),
        ("oauthmcp", "dcr_pkce", "offline_access, read"),
    ):
        shown = facts(browser.get(f"/ui/providers/{name}").text)
        assert (shown["Auth type"], shown["Flow"], shown["Scopes"]) == ("oauth2", flow, scopes)
        assert shown["Source"] == "custom"
    assert facts(browser.get("/ui/providers/oauthco").text)["Token"] == (
        f"{oauth_env.server.issuer}/token"
    )
