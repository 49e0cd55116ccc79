"""Load on loopback: concurrent resolves and proxied requests for a bounded time.

AUTHSOME_LOAD_SECONDS sets the measured duration (default 60 when CI is set,
15 otherwise) after a 5-second warm-up. Passes with 0 errors and the daemon's
RSS at the end within 20 % of its RSS after warm-up.

The figures (requests, rate, p50/p99 per kind, RSS) are reported, pass or
fail, in the terminal summary (a ``load`` section, also under ``-q``; see
tests/support/load_report.py) and written to
``bench/results/load-<UTC time>.json``, which git ignores. bench/README.md
keeps figures a person chose to record; tests never write to it.
"""

from __future__ import annotations

import json
import os
import ssl
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from authsome.crypto.pop import sign_proof
from tests.adversarial.conftest import Target
from tests.support.load_report import LOAD_PROPERTY
from tests.support.pop import signed

SECONDS = float(os.environ.get("AUTHSOME_LOAD_SECONDS", "60" if os.environ.get("CI") else "15"))
WARM_UP = 5.0
RESOLVERS = 4
PROXIED = 4
RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


class Worker(threading.Thread):
    def __init__(self, step: Callable[[], bool], until: float) -> None:
        super().__init__(daemon=True)
        self.step = step
        self.until = until
        self.latencies: list[float] = []
        self.errors: list[str] = []

    def run(self) -> None:
        while time.monotonic() < self.until:
            started = time.perf_counter()
            try:
                ok = self.step()
            except Exception as exc:
                self.errors.append(type(exc).__name__)
                continue
            self.latencies.append(time.perf_counter() - started)
            if not ok:
                self.errors.append("wrong answer")


def _resolver(target: Target) -> Callable[[], bool]:
    client = httpx.Client(timeout=10)
    url = target.daemon.url + "/resolve"
    body = b'{"url": "https://api.openai.com/v1/models"}'

    def step() -> bool:
        proof = sign_proof(target.key, method="POST", url=url, body=body)
        response = client.post(
            url, content=body, headers={"DPoP": proof, "content-type": "application/json"}
        )
        return response.status_code == 200 and target.api_key in response.text

    return step


def _proxied(target: Target, token: str, ca: Path) -> Callable[[], bool]:
    proxy = f"http://run:{token}@127.0.0.1:{target.daemon.proxy_port}"
    client = httpx.Client(
        proxy=proxy, verify=ssl.create_default_context(cafile=str(ca)), timeout=10
    )

    def step() -> bool:
        response = client.get("https://api.openai.com/v1/models")
        return response.status_code == 200 and target.api_key in response.text

    return step


def _run_phase(target: Target, token: str, ca: Path, seconds: float) -> dict[str, Worker]:
    until = time.monotonic() + seconds
    workers = {f"resolve-{i}": Worker(_resolver(target), until) for i in range(RESOLVERS)}
    workers |= {f"proxy-{i}": Worker(_proxied(target, token, ca), until) for i in range(PROXIED)}
    for worker in workers.values():
        worker.start()
    for worker in workers.values():
        worker.join(seconds + 30)
    return workers


def _report(summary: dict[str, object], record_property: Callable[[str, object], None]) -> None:
    """Into the terminal summary (via the test report) and a git-ignored results file."""
    line = json.dumps(summary)
    record_property(LOAD_PROPERTY, line)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"load-{stamp}.json").write_text(line + "\n")


@pytest.mark.slow
@pytest.mark.timeout(WARM_UP + SECONDS + 120)  # two phases' join margins, fixture start-up
def test_sustained_resolves_and_proxied_requests(
    target: Target, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    run = signed(target.key, "POST", target.daemon.url + "/runs", body=b"{}").json()
    ca = tmp_path / "ca.pem"
    ca.write_text(run["ca_pem"])
    pid = target.daemon.process.pid
    _run_phase(target, run["token"], ca, WARM_UP)
    warm_rss = rss_kib(pid)
    started = time.monotonic()
    workers = _run_phase(target, run["token"], ca, SECONDS)
    elapsed = time.monotonic() - started
    end_rss = rss_kib(pid)
    summary: dict[str, object] = {
        "seconds": round(elapsed, 1),
        "rss_warm_kib": warm_rss,
        "rss_end_kib": end_rss,
    }
    errors: list[str] = []
    for kind in ("resolve", "proxy"):
        chosen = [w for name, w in workers.items() if name.startswith(kind)]
        latencies = [value for w in chosen for value in w.latencies]
        errors += [f"{kind}: {e}" for w in chosen for e in w.errors]
        if not latencies:
            errors.append(f"{kind}: no request completed")
            continue
        summary[kind] = {
            "requests": len(latencies),
            "per_second": round(len(latencies) / elapsed, 1),
            "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        }
    summary["errors"] = len(errors)
    _report(summary, record_property)
    assert errors == [], errors[:20]
    assert end_rss <= warm_rss * 1.2, summary
    assert httpx.get(target.daemon.url + "/health", timeout=5).status_code == 200
    signed(target.key, "DELETE", target.daemon.url + f"/runs/{run['run_id']}")
