"""A connection's "last used": written when the proxy injects it or ``/resolve`` hands it
out (at most once a minute), and shown by the dashboard's list and detail pages."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from authsome.client.connect import open_client
from authsome.home import HomeLayout
from tests.conftest import EMAIL, PASSWORD
from tests.integration.conftest import OPENAI_KEY, Gateway
from tests.support import store
from tests.support.web import Browser, store_api_key

PROBE = str(Path(__file__).resolve().parents[1] / "support" / "agent_probe.py")
WORK_KEY = "sk-proj-WORKsecretLASTUSED0123456789ab"


def _last_used(gateway: Gateway, provider: str, name: str) -> object:
    return store.scalar(
        gateway.daemon.home,
        "SELECT last_used_at FROM connections WHERE provider = ? AND name = ?",
        provider,
        name,
    )


def _wait_for_last_used(gateway: Gateway, provider: str, name: str) -> object:
    deadline = time.monotonic() + 15
    while (value := _last_used(gateway, provider, name)) is None:
        assert time.monotonic() < deadline, f"{provider}/{name}: last_used_at never written"
        time.sleep(0.2)
    return value


def _row(listing: str, provider: str, name: str) -> str:
    """The connections table's row of one connection."""
    rows = [row for row in listing.split("<tr>") if f"/ui/connections/{provider}/" in row]
    found = [row for row in rows if re.search(rf"<td>{re.escape(name)}\b", row)]
    assert len(found) == 1, listing
    return found[0].split("</tr>")[0]


def _last_used_fact(detail: str) -> str:
    found = re.search(r"<dt>Last used</dt><dd>([^<]*)</dd>", detail)
    assert found, detail
    return found.group(1)


def test_proxy_and_resolve_record_last_use_shown_by_the_dashboard(
    gateway: Gateway, tmp_path: Path
) -> None:
    browser = Browser(gateway.daemon.url)
    browser.login(EMAIL, PASSWORD)
    store_api_key(browser, WORK_KEY, "work")
    listing = browser.get("/ui/connections").text
    for name in ("default", "work"):
        assert "<td>never</td>" in _row(listing, "openai", name)
    started = datetime.now(UTC) - timedelta(seconds=1)

    # The agent's proxied request uses openai/default; its resolve, openai/work.
    run = gateway.daemon.cli(
        "run",
        "--",
        "python",
        PROBE,
        "httpx",
        "https://api.openai.com/v1/models",
        str(tmp_path / "env.json"),
    )
    assert run.code == 0, run.err
    assert f"Bearer {OPENAI_KEY}" in run.out
    with open_client(HomeLayout(gateway.daemon.home), autostart=False) as client:
        resolved = client.resolve("https://api.openai.com/v1/models", connection="work")
    assert resolved["connection"] == "work"

    for name in ("default", "work"):
        _wait_for_last_used(gateway, "openai", name)
    assert _last_used(gateway, "acme", "default") is None  # stored, never used
    with store.connect(gateway.daemon.home) as db:
        updated = dict(db.execute("SELECT name, updated_at FROM connections").fetchall())
    listing = browser.get("/ui/connections").text
    for name in ("default", "work"):
        assert "<td>just now</td>" in _row(listing, "openai", name)
        detail = browser.get(f"/ui/connections/openai/{name}").text
        assert _last_used_fact(detail) == "just now"
    assert "<td>never</td>" in _row(listing, "acme", "default")
    assert _last_used_fact(browser.get("/ui/connections/acme/default").text) == "never"

    # Through the JSON API too, with the time of the use.
    with open_client(HomeLayout(gateway.daemon.home), autostart=False) as client:
        details = client.connection("openai", "work")
    used = datetime.fromisoformat(details["last_used_at"].replace("Z", "+00:00"))
    used = used if used.tzinfo else used.replace(tzinfo=UTC)
    assert started <= used <= datetime.now(UTC)

    # Used again within the minute: the row is not written again, and "updated" stays.
    first = _last_used(gateway, "openai", "work")
    with open_client(HomeLayout(gateway.daemon.home), autostart=False) as client:
        for _ in range(3):
            client.resolve("https://api.openai.com/v1/models", connection="work")
    time.sleep(3)  # longer than the writer's interval (2 s)
    assert _last_used(gateway, "openai", "work") == first
    with store.connect(gateway.daemon.home) as db:
        assert dict(db.execute("SELECT name, updated_at FROM connections").fetchall()) == updated
