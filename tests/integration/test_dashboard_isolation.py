"""A signed-in ``user`` sees none of another principal's events or connections: not on
the activity and audit pages, not in the CSV export, not by guessing an id or a name."""

from __future__ import annotations

import csv
import io
import json
import re
import time

from authsome.crypto.identity_keys import IdentityKey
from tests.support import store
from tests.support.daemon import Daemon
from tests.support.pop import signed
from tests.support.web import ADMIN_EMAIL, USER_EMAIL, Browser, claimed_agent, store_api_key

ADMIN_KEY = "sk-proj-ADMINisolation0123456789abcdef"
USER_KEY = "sk-proj-USERisolation9876543210fedcba"
ADMIN_CONNECTIONS = ("admin-ledger", "admin-payroll")


def _resolve(daemon: Daemon, key: IdentityKey, connection: str | None = None) -> None:
    body = json.dumps({"url": "https://api.openai.com/v1/models", "connection": connection})
    answer = signed(key, "POST", daemon.url + "/resolve", body=body.encode())
    assert answer.status_code == 200, answer.text


def _principal(daemon: Daemon, email: str) -> str:
    found = store.scalar(daemon.home, "SELECT id FROM principals WHERE email = ?", email)
    assert isinstance(found, str)
    return found


def _event_ids(daemon: Daemon, sql: str, *params: object) -> set[int]:
    return {int(row[0]) for row in store.rows(daemon.home, sql, *params)}


def _wait_for_resolved(daemon: Daemon, count: int) -> None:
    """``credential_resolved`` events are written in batches, a moment later."""
    deadline = time.monotonic() + 10
    sql = "SELECT count(*) FROM audit_events WHERE event = 'credential_resolved'"
    while store.scalar(daemon.home, sql) < count:
        assert time.monotonic() < deadline, "the resolve events were never written"
        time.sleep(0.1)


def _audit_links(page: str) -> set[int]:
    return {int(found) for found in re.findall(r'href="/audit/(\d+)"', page)}


def _csv_rows(browser: Browser, query: str) -> list[dict[str, str]]:
    answer = browser.get(f"/audit/export.csv?{query}")
    assert answer.status_code == 200
    return list(csv.DictReader(io.StringIO(answer.text)))


def _activity_rows(page: str) -> list[str]:
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return body.split("<tr>")[1:]


def test_a_user_sees_none_of_the_admins_events(
    admin: Browser, user: Browser, daemon: Daemon
) -> None:
    admin_key, admin_agent = claimed_agent(admin)
    user_key, user_agent = claimed_agent(user)
    for name in ADMIN_CONNECTIONS:
        store_api_key(admin, ADMIN_KEY, name)
    store_api_key(user, USER_KEY)
    _resolve(daemon, admin_key, ADMIN_CONNECTIONS[0])
    _resolve(daemon, user_key)
    _wait_for_resolved(daemon, 2)

    user_id = _principal(daemon, USER_EMAIL)
    own = _event_ids(daemon, "SELECT id FROM audit_events WHERE principal_id = ?", user_id)
    others = _event_ids(
        daemon,
        "SELECT id FROM audit_events WHERE principal_id IS NULL OR principal_id <> ?",
        user_id,
    )
    admins = _event_ids(
        daemon,
        "SELECT id FROM audit_events WHERE principal_id = ?",
        _principal(daemon, ADMIN_EMAIL),
    )
    assert own and admins and admins <= others
    assert len(own) < 20  # one page of each list below, so every row is compared
    markers = (admin_agent, *ADMIN_CONNECTIONS)

    # /audit: exactly the user's own events, whatever the filter.
    page = user.get("/audit?since=all").text
    assert _audit_links(page) == own
    assert user_agent in page and not any(marker in page for marker in markers)
    assert _audit_links(admin.get("/audit?since=all").text) >= admins  # the admin sees them
    by_agent = user.get(f"/audit?since=all&identity={admin_agent}").text
    assert _audit_links(by_agent) == set()  # the filter is echoed, nothing matches it
    by_connection = user.get("/audit?since=all&provider=openai").text
    assert _audit_links(by_connection) <= own

    # An admin event by id: 404 for the user (the same as no such event), 200 for the admin.
    for event_id in sorted(others):
        assert user.get(f"/audit/{event_id}").status_code == 404, event_id
    assert admin.get(f"/audit/{min(admins)}").status_code == 200
    assert user.get(f"/audit/{min(own)}").status_code == 200
    assert user.get(f"/audit/{max(own | others) + 1000}").status_code == 404

    # The CSV export: only the user's rows.
    rows = _csv_rows(user, "since=all")
    assert {int(row["id"]) for row in rows} == own
    assert {row["principal_id"] for row in rows} == {user_id}
    assert not _csv_rows(user, f"since=all&identity={admin_agent}")
    admin_rows = {int(row["id"]) for row in _csv_rows(admin, "since=all")}
    assert admins <= admin_rows

    # /ui/activity and the overview's recent activity: own rows only.
    activity = user.get("/ui/activity").text
    assert len(_activity_rows(activity)) == len(own)
    assert user_agent in activity and not any(marker in activity for marker in markers)
    overview = user.get("/").text
    assert not any(marker in overview for marker in markers)
    assert len(_activity_rows(admin.get("/ui/activity").text)) == min(20, len(own | others))


def test_a_user_with_connections_of_their_own_never_reaches_the_admins(
    admin: Browser, user: Browser, daemon: Daemon
) -> None:
    for name in ADMIN_CONNECTIONS:
        store_api_key(admin, ADMIN_KEY, name)
    store_api_key(user, USER_KEY)
    store_api_key(user, USER_KEY, name="mine")
    # The user's own connections of the same provider open: the lookups below are real.
    assert user.get("/ui/connections/openai/default").status_code == 200
    assert user.get("/ui/connections/openai/mine").status_code == 200

    for name in ADMIN_CONNECTIONS:
        page = f"/ui/connections/openai/{name}"
        assert admin.get(page).status_code == 200
        assert user.get(page).status_code == 404, page
        for action in ("logout", "default", "refresh"):
            answer = user.post(f"{page}/{action}", form_page="/ui/connections")
            assert answer.status_code == 404, (page, action)
    kept = store.rows(
        daemon.home,
        "SELECT c.name, c.is_default FROM connections c JOIN vaults v ON v.id = c.vault_id "
        "JOIN principals p ON p.id = v.principal_id WHERE p.email = ? ORDER BY c.name",
        ADMIN_EMAIL,
    )
    assert [(name, bool(default)) for name, default in kept] == [
        ("admin-ledger", True),
        ("admin-payroll", False),
    ]

    listing = user.get("/ui/connections").text
    assert listing.count('href="/ui/connections/openai/') == 2
    assert re.search(r"<strong>2</strong> connections\b", user.get("/").text)
    paths = (
        "/",
        "/ui/connections",
        "/ui/connections/openai/default",
        "/ui/connections/openai/mine",
        "/ui/connections/new?provider=openai",
        "/ui/providers/openai",
        "/ui/agents",
        "/ui/activity",
        "/ui/settings",
        "/audit?since=all",
        "/audit/export.csv?since=all",
    )
    for path in paths:
        text = user.get(path).text
        for name in ADMIN_CONNECTIONS:
            assert name not in text, (path, name)
        assert ADMIN_KEY not in text and USER_KEY not in text
