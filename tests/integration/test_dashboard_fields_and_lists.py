"""Dashboard fields and lists: the connections table's columns and values, an OAuth
provider's flow and scopes, and the settings lists (sessions, principals) paginated on
the server."""

from __future__ import annotations

import re

import pytest

from tests.support import store
from tests.support.daemon import Daemon
from tests.support.web import (
    ADMIN_EMAIL,
    WEB_PASSWORD,
    Browser,
    open_registration,
    store_api_key,
)

OPENAI_KEY = "sk-proj-LISTSsecret0123456789abcdefgh"


def _cells(row: str) -> list[str]:
    """A table row's cells as text (tags dropped, spaces squeezed)."""
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in cells]


def _body_rows(page: str) -> list[str]:
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return body.split("<tr>")[1:]


def _session_ids(page: str) -> list[str]:
    return re.findall(r'action="/ui/settings/sessions/([^"/]+)/end"', page)


def test_connections_table_columns_and_values(admin: Browser) -> None:
    store_api_key(admin, OPENAI_KEY, "work")
    listing = admin.get("/ui/connections").text
    headers = re.findall(r"<th>([^<]*)</th>", listing.split("<thead>")[1].split("</thead>")[0])
    assert headers == ["Provider", "Connection", "Account", "Status", "Expires", "Last used"]
    (row,) = _body_rows(listing)
    # An API key: no account, no expiry, never used yet; the only one, so the default.
    assert _cells(row) == ["openai", "work default", "—", "active", "never", "never"]
    assert 'href="/ui/connections/openai/work"' in row


def facts(page: str) -> dict[str, str]:
    """A detail page's ``<dt>``/``<dd>`` pairs as text."""
    pairs = re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", page, re.S)
    return {name: " ".join(re.sub(r"<[^>]+>", " ", value).split()) for name, value in pairs}


@pytest.mark.parametrize(
    ("name", "flow", "scopes"),
    [
        ("github", "pkce", "repo, read:org, read:user, user:email"),
        ("google", "pkce", "openid, email, profile"),
        ("postiz", "device_code", "—"),
    ],
)
def test_bundled_oauth_provider_page_shows_flow_and_scopes(
    admin: Browser, name: str, flow: str, scopes: str
) -> None:
    page = admin.get(f"/ui/providers/{name}")
    assert page.status_code == 200
    shown = facts(page.text)
    assert shown["Auth type"] == "oauth2"
    assert shown["Flow"] == flow
    assert shown["Scopes"] == scopes
    assert shown["Source"] == "bundled (read-only)"


def test_sessions_list_paginates_on_the_server(admin: Browser, daemon: Daemon) -> None:
    others = [Browser(daemon.url) for _ in range(21)]
    for browser in others:
        browser.login(ADMIN_EMAIL, WEB_PASSWORD)
    live = {str(row[0]) for row in store.rows(daemon.home, "SELECT id FROM web_sessions")}
    assert len(live) == 22

    for path in ("/ui/settings", "/ui/settings/sessions"):
        first = admin.get(path).text
        second = admin.get(f"{path}?page=2").text
        assert "Page 1 of 2 · 22 in all" in first and 'rel="next"' in first
        assert "Page 2 of 2 · 22 in all" in second and 'rel="prev"' in second
        on_first, on_second = _session_ids(first), _session_ids(second)
        assert len(on_first) == 20 and len(on_second) == 2
        assert set(on_first) | set(on_second) == live
        # Newest first: this browser signed in first, so it is on the last page.
        assert "this browser" in second and "this browser" not in first
    assert admin.get("/ui/settings/sessions?page=3").text.count("/end") == 0


def test_principals_list_paginates_on_the_server(admin: Browser, daemon: Daemon) -> None:
    open_registration(admin)
    emails = [f"user{number:02d}@example.com" for number in range(21)]
    for email in emails:
        with Browser(daemon.url) as browser:
            browser.register(email, WEB_PASSWORD)

    first = admin.get("/ui/settings/principals").text
    second = admin.get("/ui/settings/principals?page=2").text
    assert "Page 1 of 2 · 22 in all" in first and "Page 2 of 2 · 22 in all" in second
    rows = [_cells(row) for page in (first, second) for row in _body_rows(page)]
    assert len(_body_rows(first)) == 20 and len(_body_rows(second)) == 2
    assert sorted(cells[0] for cells in rows) == sorted([ADMIN_EMAIL, *emails])
    roles = {cells[0]: cells[1] for cells in rows}
    assert roles[ADMIN_EMAIL] == "admin" and {roles[email] for email in emails} == {"user"}
