"""The audit trail at scale: filtered pages and chain verification over 1,000,000 events.

    python bench/audit_scale.py                    # 1,000,000 events, a few minutes
    python bench/audit_scale.py --events 100000    # a smaller table

Set-up, in a temporary AUTHSOME_HOME: ``authsome daemon serve`` on free ports,
``authsome init`` (an identity claimed by the admin principal), then the
daemon is stopped and the ``audit_events`` table is seeded directly: events
over the last 30 days (90 % ``proxy_request``, the rest logins, logouts,
resolutions, refreshes, sign-ins), 50 agents of 10 principals, 20 providers,
40 hosts, 90/6/4 % success/denied/failure. Each row is chained exactly as
the daemon chains it (``authsome.audit.chain.link_hash``) and written with
``executemany`` in the same text format SQLAlchemy uses, after the events
the set-up wrote. The daemon is started again on the seeded store.

Measured:

- ``GET /audit/events?limit=50&…`` through ``DaemonClient`` (PoP-signed, the
  daemon's real route) for a set of filters, each asked ``--repeat`` times:
  p50 and p95 per filter and over all requests;
- the same pages in-process (``audit.query.page_events`` on a read-only
  session), including a user's scope (one principal) and a deep page
  (``before=`` half-way down);
- ``authsome log --verify``: wall time of the CLI command, which walks the
  whole chain in the daemon;
- the ``/audit`` page for an admin (default period, 7 days), for reference.

Prints figures; asserts only that the chain verifies and that the 100 ms /
30 s targets are reported as met or not.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from authsome.audit.chain import canonical_detail, link_hash

START_TIMEOUT = 30.0
PAGE_TARGET_MS = 100.0
VERIFY_TARGET_S = 30.0
EMAIL = "bench@example.com"
PASSWORD = "a long enough bench passphrase"
PROVIDERS = [f"provider{n:02d}" for n in range(20)]
HOSTS = [f"api{n:02d}.{PROVIDERS[n % 20]}.test" for n in range(40)]
PRINCIPALS = [f"principal-{n:02d}" for n in range(10)]
AGENTS = [f"agent-{n:02d}-handle" for n in range(50)]
OTHER_EVENTS = ["login", "logout", "credential_resolved", "refresh", "principal_sign_in"]


def authsome_command() -> list[str]:
    script = Path(sys.executable).with_name("authsome")
    return [str(script)] if script.exists() else [sys.executable, "-m", "authsome"]


def environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHSOME_")}
    env.update(AUTHSOME_HOME=str(home), NO_COLOR="1")
    return env


class DaemonProcess:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = environment(home)
        self.log = open(home.parent / "daemon.log", "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [*authsome_command(), "daemon", "serve", "--port", "0", "--proxy-port", "0"],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        record = home / "server" / "daemon.json"
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                info = json.loads(record.read_text())
                if info.get("pid") == self.process.pid:
                    httpx.get(info["url"] + "/health", timeout=2).raise_for_status()
                    self.url: str = info["url"]
                    return
            except (OSError, ValueError, httpx.HTTPError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("the daemon did not start; see daemon.log")

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*authsome_command(), *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
        )

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


def seed(database: Path, count: int, *, rng: random.Random) -> float:
    """Append ``count`` chained events; returns the seconds it took."""
    started = time.perf_counter()
    now = datetime.now(UTC)
    span = timedelta(days=30).total_seconds()
    db = sqlite3.connect(database)
    last_id, prev = db.execute(
        "SELECT id, hash FROM audit_events ORDER BY id DESC LIMIT 1"
    ).fetchone()
    # Timestamps ascend with ids, as they do when the daemon writes them.
    offsets = sorted((rng.random() * span for _ in range(count)), reverse=True)
    columns = (
        "id, ts, event, outcome, identity, principal_id, provider, connection, method, host, "
        "path, status, detail, prev_hash, hash"
    )
    insert = f"INSERT INTO audit_events ({columns}) VALUES ({', '.join('?' * 15)})"  # noqa: S608
    batch: list[tuple[Any, ...]] = []
    for number in range(count):
        last_id += 1
        ts = now - timedelta(seconds=offsets[number])
        agent = rng.randrange(len(AGENTS))
        roll = rng.random()
        outcome = "success" if roll < 0.90 else ("denied" if roll < 0.96 else "failure")
        host = rng.choice(HOSTS)
        if rng.random() < 0.90:
            event, method, path = "proxy_request", "GET", f"/v1/items/{number % 1000}"
            status = {"success": 200, "denied": 403, "failure": 502}[outcome]
            detail: dict[str, Any] = {"duration_ms": round(rng.random() * 80, 2), "run": "r"}
            provider = PROVIDERS[HOSTS.index(host) % 20]
        else:
            event, method, path, status, host = rng.choice(OTHER_EVENTS), None, None, None, None
            detail = {"flow": "api_key"}
            provider = rng.choice(PROVIDERS)
        values = {
            "id": last_id,
            "ts": ts,
            "event": event,
            "outcome": outcome,
            "identity": AGENTS[agent],
            "principal_id": PRINCIPALS[agent % 10],
            "provider": provider,
            "connection": "default",
            "method": method,
            "host": host,
            "path": path,
            "status": status,
            "detail": detail,
        }
        digest = link_hash(prev, values)
        batch.append(
            (
                last_id,
                ts.strftime("%Y-%m-%d %H:%M:%S.%f"),
                event,
                outcome,
                values["identity"],
                values["principal_id"],
                provider,
                "default",
                method,
                host,
                path,
                status,
                canonical_detail(detail),  # stored as the daemon stores it
                prev,
                digest,
            )
        )
        prev = digest
        if len(batch) == 50_000:
            db.executemany(insert, batch)
            db.commit()
            batch.clear()
    if batch:
        db.executemany(insert, batch)
    db.commit()
    db.execute("ANALYZE")
    db.close()
    return time.perf_counter() - started


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


FILTERS: list[tuple[str, dict[str, str]]] = [
    ("newest, no filter", {}),
    ("event=proxy_request", {"event": "proxy_request"}),
    ("event=login (rare)", {"event": "login"}),
    ("provider", {"provider": "provider07"}),
    ("identity", {"identity": "agent-13-handle"}),
    ("outcome=denied", {"outcome": "denied"}),
    ("host", {"host": "api05.provider05.test"}),
    ("since=1h", {"since": "1h"}),
    ("since=7d&outcome=failure", {"since": "7d", "outcome": "failure"}),
    ("event+provider+outcome", {"event": "proxy_request", "provider": "provider03",
                                "outcome": "denied"}),
    ("identity+event=logout", {"identity": "agent-07-handle", "event": "logout"}),
    ("nothing matches", {"identity": "no-such-agent"}),
]  # fmt: skip


def bench_api(url: str, home: Path, repeat: int) -> list[tuple[str, float, float]]:
    from authsome.client.api import DaemonClient
    from authsome.client.connect import load_identity_key, selected_identity
    from authsome.home import HomeLayout

    layout = HomeLayout(home)
    _, key = load_identity_key(layout, selected_identity(layout))
    rows = []
    everything: list[float] = []
    with DaemonClient(url, key) as client:
        client.audit_events(limit=50)  # warm-up: connection, caches
        for label, filters in FILTERS:
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                client.audit_events(limit=50, **filters)
                times.append((time.perf_counter() - started) * 1000)
            everything += times
            rows.append((label, statistics.median(times), percentile(times, 0.95)))
    rows.append(("ALL REQUESTS", statistics.median(everything), percentile(everything, 0.95)))
    return rows


def bench_in_process(database: Path, repeat: int) -> list[tuple[str, float, float]]:
    from authsome.audit.query import EventFilter, page_events, parse_time
    from authsome.store.db import create_store_engine, make_session_factory, read_only_session

    engine = create_store_engine(f"sqlite:///{database}")
    sessions = make_session_factory(engine)
    with sqlite3.connect(database) as db:
        (top,) = db.execute("SELECT max(id) FROM audit_events").fetchone()
    cases: list[tuple[str, EventFilter, int | None]] = []
    for label, filters in FILTERS:
        since = parse_time(filters["since"]) if "since" in filters else None
        rest = {k: v for k, v in filters.items() if k != "since"}
        cases.append((label, EventFilter(since=since, **rest), None))
    cases.append(("user scope (one principal)", EventFilter(principal_id=PRINCIPALS[3]), None))
    cases.append(
        (
            "user scope + outcome=denied",
            EventFilter(principal_id=PRINCIPALS[3], outcome="denied"),
            None,
        )
    )
    cases.append(("deep page (before=half)", EventFilter(outcome="denied"), top // 2))
    rows = []
    for label, event_filter, before in cases:
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            with read_only_session(sessions, engine) as db:
                page_events(db, event_filter, limit=50, before=before)
            times.append((time.perf_counter() - started) * 1000)
        rows.append((label, statistics.median(times), percentile(times, 0.95)))
    engine.dispose()
    return rows


def bench_page(url: str, repeat: int) -> tuple[float, float]:
    browser = httpx.Client(base_url=url, headers={"Origin": url}, timeout=120)
    page = browser.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf
    browser.post("/login", data={"email": EMAIL, "password": PASSWORD, "csrf": csrf.group(1)})
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = browser.get("/audit")
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=40, help="requests per filter")
    parser.add_argument("--keep", action="store_true", help="keep the temporary home")
    args = parser.parse_args()
    rng = random.Random(20261203)
    root = Path(tempfile.mkdtemp(prefix="authsome-audit-bench-"))
    home = root / "home"
    try:
        daemon = DaemonProcess(home)
        init = daemon.cli("init", "--email", EMAIL, "--password-stdin", stdin=PASSWORD + "\n")
        assert init.returncode == 0, init.stderr
        daemon.stop()
        database = home / "server" / "authsome.db"
        seconds = seed(database, args.events, rng=rng)
        size = sum(p.stat().st_size for p in database.parent.glob("authsome.db*"))
        print(f"seeded {args.events:,} events in {seconds:.1f} s; database {size / 2**20:.0f} MiB")

        daemon = DaemonProcess(home)
        try:
            api = bench_api(daemon.url, home, args.repeat)
            started = time.perf_counter()
            verify = daemon.cli("log", "--verify")
            verify_s = time.perf_counter() - started
            page = bench_page(daemon.url, 5)
        finally:
            daemon.stop()
        local = bench_in_process(database, args.repeat)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)

    print(f"\nGET /audit/events?limit=50 through DaemonClient (PoP), {args.repeat} requests each")
    print(f"  {'filter':34} {'p50 ms':>8} {'p95 ms':>8}")
    for label, p50, p95 in api:
        print(f"  {label:34} {p50:8.1f} {p95:8.1f}")
    print(f"\npage_events in-process (read-only session), {args.repeat} calls each")
    for label, p50, p95 in local:
        print(f"  {label:34} {p50:8.1f} {p95:8.1f}")
    overall = api[-1][2]
    worst = max(p95 for _, _, p95 in api[:-1])
    met = "met" if worst < PAGE_TARGET_MS else "NOT met"
    print(f"\nfiltered page p95 over all requests {overall:.1f} ms, worst filter {worst:.1f} ms:")
    print(f"  target {PAGE_TARGET_MS:.0f} ms {met}")
    print(f"authsome log --verify: {verify_s:.1f} s, exit {verify.returncode}: "
          f"{(verify.stdout or verify.stderr).strip()[:100]}")  # fmt: skip
    print(f"  target {VERIFY_TARGET_S:.0f} s {'met' if verify_s < VERIFY_TARGET_S else 'NOT met'}")
    print(f"/audit page (admin, last 7 days): median {page[0]:.0f} ms, max {page[1]:.0f} ms of 5")
    if verify.returncode != 0:
        raise SystemExit("the seeded chain did not verify")


if __name__ == "__main__":
    main()
