"""Dashboard pages: scoping between principals, connections, providers, pagination."""

from __future__ import annotations

import json
import re

from tests.support.daemon import Daemon
from tests.support.pop import signed
from tests.support.web import ADMIN_EMAIL, Browser, claimed_agent, scalar, store_api_key

OPENAI_KEY = "sk-proj-DASHBOARDsecret0123456789abcdef"
OTHER_KEY = "sk-proj-SECONDsecret9876543210fedcba"


def _every_page(browser: Browser, extra: list[str]) -> str:
    paths = ["/", "/ui/connections", "/ui/providers", "/ui/agents", "/ui/activity", "/ui/settings"]
    return "".join(browser.get(path).text for path in [*paths, *extra])


def test_a_user_sees_none_of_another_principals_objects(
    admin: Browser, user: Browser, daemon: Daemon
) -> None:
    admin_key, admin_agent = claimed_agent(admin)
    _user_key, user_agent = claimed_agent(user)
    store_api_key(admin, OPENAI_KEY)

    agents = user.get("/ui/agents").text
    assert user_agent in agents and admin_agent not in agents
    assert (
        admin_agent in admin.get("/ui/agents").text and user_agent in admin.get("/ui/agents").text
    )  # the admin sees every agent

    for path in (
        f"/ui/agents/{admin_agent}",
        "/ui/agents/no-such-agent",
        "/ui/connections/openai/default",
        "/ui/settings/principals",
        "/ui/settings/sessions",
        "/ui/settings/invites",
        "/ui/providers/new",
    ):
        assert user.get(path).status_code == 404, path
    assert "openai" not in user.get("/ui/connections").text.split("<main>")[1].split("Add an")[0]

    for path, fields in (
        (f"/ui/agents/{admin_agent}/revoke", {}),
        (f"/ui/agents/{admin_agent}/grant", {"grant": "list"}),
        ("/ui/connections/openai/default/logout", {}),
        ("/ui/connections/openai/default/default", {}),
        ("/ui/settings/registration", {"open": "off"}),
        ("/ui/settings/invites", {}),
    ):
        assert user.post(path, fields, form_page="/").status_code == 404, path
    admin_session = scalar(
        daemon.home,
        "SELECT s.id FROM web_sessions s JOIN principals p ON p.id = s.principal_id "
        "WHERE p.email = ?",
        ADMIN_EMAIL,
    )
    ended = user.post(f"/ui/settings/sessions/{admin_session}/end", form_page="/")
    assert ended.status_code == 404
    assert admin.get("/ui/settings").status_code == 200  # still signed in
    assert signed(admin_key, "GET", daemon.url + "/whoami").status_code == 200  # not revoked
    assert scalar(daemon.home, "SELECT registration_open FROM dashboard_settings") == 1
    assert scalar(daemon.home, "SELECT count(*) FROM connections") == 1


def test_connections_from_the_browser_never_show_the_secret(admin: Browser, daemon: Daemon) -> None:
    empty = admin.get("/ui/connections").text
    assert "No connections yet" in empty and "authsome login github" in empty
    store_api_key(admin, OPENAI_KEY)
    store_api_key(admin, OTHER_KEY, name="work")
    listing = admin.get("/ui/connections").text
    assert "/ui/connections/openai/default" in listing and "/ui/connections/openai/work" in listing
    detail = admin.get("/ui/connections/openai/work").text
    assert "never shown here" in detail
    duplicate = admin.post(
        "/ui/connections/new",
        {"provider": "openai", "connection": "work", "api_key": OTHER_KEY},
        form_page="/ui/connections/new",
    )
    assert duplicate.status_code == 409 and "already has a connection" in duplicate.text

    made = admin.post("/ui/connections/openai/work/default", form_page="/")
    assert made.headers["location"] == "/ui/connections/openai/work?done=default"
    assert scalar(daemon.home, "SELECT name FROM connections WHERE is_default") == "work"

    pages = _every_page(admin, ["/ui/connections/openai/default", "/ui/connections/openai/work"])
    for secret in (OPENAI_KEY, OTHER_KEY):
        assert secret not in pages
        assert secret[8:20] not in pages

    removed = admin.post("/ui/connections/openai/work/logout", form_page="/")
    assert removed.headers["location"] == "/ui/connections?done=logged_out_connection"
    assert scalar(daemon.home, "SELECT name FROM connections") == "default"
    assert scalar(daemon.home, "SELECT is_default FROM connections") == 1
    assert admin.get("/ui/connections/openai/work").status_code == 404


def test_the_agent_uses_a_key_stored_in_the_browser(admin: Browser, daemon: Daemon) -> None:
    key, _handle = claimed_agent(admin)
    store_api_key(admin, OPENAI_KEY)
    body = json.dumps({"url": "https://api.openai.com/v1/models"}).encode()
    resolved = signed(key, "POST", daemon.url + "/resolve", body=body).json()
    assert resolved["headers"] == {"Authorization": f"Bearer {OPENAI_KEY}"}


ACME = {
    "schema_version": 1,
    "name": "acme-dash",
    "display_name": "Acme Dash",
    "auth_type": "api_key",
    "flow": "api_key",
    "api_url": ["api.acme-dash.test"],
    "api_key": {"header_name": "X-Acme-Key", "env_var": "ACME_DASH_KEY"},
}


def test_admin_registers_edits_and_removes_a_custom_provider(admin: Browser) -> None:
    broken = dict(ACME, api_url=["*"], flow="pkce")
    del broken["api_key"]
    refused = admin.post(
        "/ui/providers/new", {"definition": json.dumps(broken)}, form_page="/ui/providers/new"
    )
    assert refused.status_code == 422
    errors = re.findall(r"<li>(.*?)</li>", refused.text.split('class="field-errors"')[1])
    assert any(item.startswith("api_url") for item in errors), errors
    assert json.loads(_textarea(refused.text)) == broken  # what was pasted is kept

    not_json = admin.post(
        "/ui/providers/new", {"definition": "{nope"}, form_page="/ui/providers/new"
    )
    assert not_json.status_code == 422 and "invalid JSON at line 1" in not_json.text

    saved = admin.post(
        "/ui/providers/new", {"definition": json.dumps(ACME)}, form_page="/ui/providers/new"
    )
    assert saved.headers["location"] == "/ui/providers/acme-dash?done=provider_saved"
    detail = admin.get("/ui/providers/acme-dash").text
    assert "api.acme-dash.test" in detail and "X-Acme-Key" in detail and ">custom<" in detail
    assert "acme-dash" in admin.get("/ui/providers?q=acme-dash").text

    edited = dict(ACME, display_name="Acme Dashboard")
    answer = admin.post(
        "/ui/providers/acme-dash/edit",
        {"definition": json.dumps(edited)},
        form_page="/ui/providers/acme-dash/edit",
    )
    assert answer.status_code == 303
    assert "Acme Dashboard" in admin.get("/ui/providers/acme-dash").text
    renamed = admin.post(
        "/ui/providers/acme-dash/edit",
        {"definition": json.dumps(dict(ACME, name="other"))},
        form_page="/ui/providers/acme-dash/edit",
    )
    assert renamed.status_code == 422 and "cannot rename" in renamed.text

    assert admin.get("/ui/providers/openai/edit").status_code == 404  # bundled: read-only
    assert admin.post("/ui/providers/openai/remove", form_page="/").status_code == 404
    removed = admin.post("/ui/providers/acme-dash/remove", form_page="/")
    assert removed.headers["location"] == "/ui/providers?done=provider_removed"
    assert admin.get("/ui/providers/acme-dash").status_code == 404


def _textarea(html: str) -> str:
    import html as html_module

    found = re.search(r"<textarea[^>]*>(.*?)</textarea>", html, re.S)
    assert found
    return html_module.unescape(found.group(1))


def test_provider_search_filter_and_pages(admin: Browser) -> None:
    oauth = admin.get("/ui/providers?q=openai&auth_type=oauth2").text
    keys = admin.get("/ui/providers?q=openai&auth_type=api_key").text
    assert '/ui/providers/openai"' in keys and '/ui/providers/openai"' not in oauth
    found = admin.get("/ui/providers?q=api.openai.com").text
    assert '/ui/providers/openai"' in found and '/ui/providers/anthropic"' not in found
    assert "No provider matches" in admin.get("/ui/providers?q=zzz-no-such").text
    first = admin.get("/ui/providers").text
    rows = first.count("<tr>") - 1
    assert rows == 20  # one page of a catalogue longer than a page
    second = admin.get("/ui/providers?page=2").text
    assert "Page 2 of" in second and 'rel="prev"' in second
    assert admin.get("/ui/providers?page=0").status_code == 400


def test_lists_paginate_on_the_server(admin: Browser) -> None:
    for _ in range(23):
        assert admin.post("/ui/settings/invites", form_page="/").status_code == 200
    first = admin.get("/ui/settings/invites").text
    assert first.count("/revoke") == 20 and "Page 1 of 2 · 23 in all" in first
    second = admin.get("/ui/settings/invites?page=2").text
    assert second.count("/revoke") == 3
    activity = admin.get("/ui/activity").text
    assert "invite_created" in activity and "Page 1 of 2" in activity


def test_overview_counts_and_empty_states(admin: Browser, daemon: Daemon) -> None:
    first = admin.get("/").text
    assert "authsome init" in first and "authsome login github" in first
    assert "No agents yet" in admin.get("/ui/agents").text
    claimed_agent(admin)
    store_api_key(admin, OPENAI_KEY)
    overview = admin.get("/").text
    assert re.search(r"<strong>1</strong> connection\b", overview)
    assert re.search(r"<strong>1</strong> active agent\b", overview)
    assert "claim_accepted" in overview and "login" in overview  # recent activity


def test_admin_sets_an_oauth_client_and_users_cannot(
    admin: Browser, user: Browser, daemon: Daemon
) -> None:
    secret = "client-SECRET-value-0123456789"
    page = admin.get("/ui/providers/github").text
    assert "No client yet" in page and "Revoke everywhere" in page
    bad = admin.post(
        "/ui/providers/github/client", {"client_id": "has space"}, form_page="/ui/providers/github"
    )
    assert bad.status_code == 400 and "client id" in bad.text
    saved = admin.post(
        "/ui/providers/github/client",
        {"client_id": "Iv1.dashboard", "client_secret": secret},
        form_page="/ui/providers/github",
    )
    assert saved.headers["location"] == "/ui/providers/github?done=client_saved"
    page = admin.get("/ui/providers/github").text
    assert "Iv1.dashboard" in page and secret not in page
    stored = scalar(daemon.home, "SELECT sealed_secret FROM oauth_clients")
    assert stored and secret.encode() not in stored

    assert "OAuth client" not in user.get("/ui/providers/github").text
    refused = user.post("/ui/providers/github/client", {"client_id": "Iv1.mine"}, form_page="/")
    assert refused.status_code == 404
    assert user.post("/ui/providers/github/revoke", form_page="/").status_code == 404
    assert scalar(daemon.home, "SELECT client_id FROM oauth_clients") == "Iv1.dashboard"


def test_api_key_connections_offer_no_refresh_or_provider_revoke(admin: Browser) -> None:
    store_api_key(admin, OPENAI_KEY)
    detail = admin.get("/ui/connections/openai/default").text
    assert "Refresh now" not in detail and "Revoke and log out" not in detail
    assert "delete it in the service's own console" in detail
    refused = admin.post("/ui/connections/openai/default/refresh", form_page="/")
    assert refused.status_code == 400


def test_agents_and_connections_paginate_on_the_server(admin: Browser, daemon: Daemon) -> None:
    handles = [claimed_agent(admin)[1] for _ in range(21)]
    first = admin.get("/ui/agents").text
    second = admin.get("/ui/agents?page=2").text
    assert "Page 1 of 2 · 21 in all" in first and 'rel="next"' in first
    listed = [h for h in handles if f'/ui/agents/{h}"' in first]
    rest = [h for h in handles if f'/ui/agents/{h}"' in second]
    assert len(listed) == 20 and len(rest) == 1 and set(listed + rest) == set(handles)
    # Each row: fingerprint, status, last seen, grant.
    jkt = scalar(daemon.home, "SELECT jkt FROM identities WHERE handle = ?", rest[0])
    row = second.split(f"/ui/agents/{rest[0]}")[1].split("</tr>")[0]
    assert f"SHA256:{jkt}" in row and "active" in row and "all providers" in row

    for number in range(21):
        store_api_key(admin, f"sk-proj-PAGED{number:02d}secret0123456789", name=f"c{number:02d}")
    page_one = admin.get("/ui/connections").text
    page_two = admin.get("/ui/connections?page=2").text
    assert page_one.count("/ui/connections/openai/c") == 20
    assert page_two.count("/ui/connections/openai/c") == 1
    assert "Page 2 of 2 · 21 in all" in page_two
