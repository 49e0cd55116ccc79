"""The ``/audit`` page in a real Chromium (Playwright) over seeded events:
the chart renders per day and per hour, filters narrow table and chart,
top agents link to their events, paging, event detail, CSV download.

Debian's ``/usr/bin/chromium`` runs headless; Playwright's own browser
download is never used.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from authsome.audit.writer import record_event
from authsome.store.db import create_store_engine, make_session_factory, transaction
from tests.support import store
from tests.support.daemon import Daemon

EMAIL = "auditor@example.com"
PASSWORD = "a passphrase for the audit page"
AGENTS = ("brisk-amber-otter", "calm-blue-heron", "quick-red-fox")
HOSTS = ("api.openai.com", "api.github.com", "api.acme.test")


def _register_admin(daemon: Daemon) -> None:
    browser = httpx.Client(base_url=daemon.url, headers={"Origin": daemon.url})
    page = browser.get("/register").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf
    response = browser.post(
        "/register",
        data={"email": EMAIL, "password": PASSWORD, "password_again": PASSWORD,
              "csrf": csrf.group(1)},
    )  # fmt: skip
    assert response.status_code == 303, response.text


def _seed(daemon: Daemon) -> dict[str, int]:
    """120 proxied requests over five days, written through the chain like the daemon does."""
    engine = create_store_engine(store.database_url(daemon.home))
    now = datetime.now(UTC)
    counts = {"success": 0, "failure": 0, "denied": 0, "recent": 0}
    with transaction(make_session_factory(engine)) as db:
        for number in range(120):
            outcome = ("success", "success", "denied", "failure")[number % 4]
            ago = timedelta(hours=number, minutes=5)
            counts[outcome] += 1
            counts["recent"] += ago < timedelta(hours=24)
            record_event(
                db,
                "proxy_request",
                outcome,
                identity=AGENTS[number % 3],
                provider=HOSTS[number % 3].split(".")[1],
                connection="default",
                method="GET",
                host=HOSTS[number % 3],
                path=f"/v1/item/{number}",
                status={"success": 200, "denied": 403, "failure": 502}[outcome],
                ts=now - ago,
                detail={"duration_ms": 3.5},
            )
    engine.dispose()
    return counts


def _segments(page: Any) -> dict[str, int]:
    found: dict[str, int] = {}
    for rect in page.locator("svg.audit-chart rect.segment").all():
        outcome = rect.get_attribute("data-outcome")
        found[outcome] = found.get(outcome, 0) + int(rect.get_attribute("data-count"))
    return found


def test_audit_page_filters_chart_detail_and_csv(
    chromium: Any, daemon: Daemon, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    _register_admin(daemon)
    counts = _seed(daemon)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    page = chromium.new_page(viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(daemon.url + "/login?next=/audit")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()

    # Last 7 days (the default): a bar per day, every seeded event counted by outcome.
    expect(page.locator("#chart-title")).to_contain_text("Events per day by outcome")
    with store.connect(daemon.home) as db:
        stored = dict(db.execute("SELECT outcome, count(*) FROM audit_events GROUP BY outcome"))
    assert stored["denied"] == counts["denied"]  # seeded, plus the daemon's own successes
    assert _segments(page) == stored
    assert page.locator("svg.audit-chart g.bar").count() in (7, 8)
    expect(page.get_by_role("img", name=re.compile("Events per day"))).to_be_visible()
    expect(page.locator("section[aria-labelledby=top-agents] li")).to_have_count(3)
    expect(page.locator("section[aria-labelledby=top-hosts]")).to_contain_text("api.openai.com")
    rows = page.locator("table.audit-events tbody tr")
    expect(rows).to_have_count(50)
    page.screenshot(path=shots / "01-audit.png", full_page=True)

    # Filter by outcome through the form: table and chart follow.
    page.locator("form.audit-filters select[name=outcome]").select_option("denied")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"outcome=denied"))
    expect(rows).to_have_count(counts["denied"])
    for badge in page.locator("table.audit-events tbody .badge").all_inner_texts():
        assert badge == "denied"
    assert set(_segments(page)) == {"denied"}
    page.screenshot(path=shots / "02-denied.png", full_page=True)

    # Top agents link to that agent's events (within the current filter).
    page.locator("section[aria-labelledby=top-agents] a").first.click()
    expect(page).to_have_url(re.compile(r"identity="))
    agents = set(page.locator("table.audit-events tbody td:nth-child(5)").all_inner_texts())
    assert len(agents) == 1 and agents <= set(AGENTS)

    # Last 24 hours, per hour.
    page.goto(daemon.url + "/audit")
    page.locator("form.audit-filters select[name=since]").select_option("24h")
    page.locator("form.audit-filters input[name=host]").fill("api.openai.com")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#chart-title")).to_contain_text("Events per hour by outcome")
    assert page.locator("svg.audit-chart g.bar").count() in (24, 25)
    hosts = set(page.locator("table.audit-events tbody td:nth-child(7)").all_inner_texts())
    assert hosts and all("api.openai.com" in host for host in hosts)
    page.screenshot(path=shots / "03-hourly.png", full_page=True)

    # Paging: the next page holds older events.
    page.goto(daemon.url + "/audit?since=all")
    first_ids = page.locator("table.audit-events tbody td:first-child").all_inner_texts()
    page.get_by_role("link", name="Older →").click()
    older_ids = page.locator("table.audit-events tbody td:first-child").all_inner_texts()
    assert older_ids and int(older_ids[0]) < int(first_ids[-1])

    # One event's detail, with its hashes.
    page.locator("table.audit-events tbody td:first-child a").first.click()
    expect(
        page.get_by_role("heading", name=re.compile(r"^Event \d+: proxy_request"))
    ).to_be_visible()
    expect(page.locator("dl.facts")).to_contain_text("duration_ms")
    assert re.search(r"[0-9a-f]{64}", page.locator("dl.facts").inner_text())

    # CSV of the current filter.
    page.goto(daemon.url + "/audit?since=all&outcome=failure")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    text = Path(download.value.path()).read_text()
    exported = list(csv.DictReader(io.StringIO(text)))
    assert len(exported) == counts["failure"]
    assert {row["outcome"] for row in exported} == {"failure"}
    assert errors == []
