"""Streaming through `authsome run`: large bodies, server-sent events, disconnects.

The daemon's resident memory is sampled while 200 MB go up and 200 MB come
down, SSE events are timed on both sides (the upstream stamps each event
with ``time.monotonic()``, a clock every process on the machine shares),
and a client that goes away mid-stream must free the upstream connection.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from pathlib import Path

from tests.integration.conftest import Gateway

MB = 1024 * 1024
SIZE = 200 * MB

TRANSFER = """
import hashlib, json, sys, httpx
size = int(sys.argv[1])
block = bytes(range(256)) * 4096  # 1 MiB, the upstream's pattern
def body():
    for _ in range(size // len(block)):
        yield block
with httpx.Client(timeout=120) as client:
    digest, count = hashlib.sha256(), 0
    with client.stream("GET", f"https://api.openai.com/download/{size}") as response:
        response.raise_for_status()
        for chunk in response.iter_raw(1 << 20):
            digest.update(chunk)
            count += len(chunk)
    up = client.post("https://api.openai.com/upload", content=body()).json()
print(json.dumps({"down": count, "down_sha256": digest.hexdigest(), "up": up}))
"""

SSE = """
import json, sys, time, httpx
events = []
with httpx.stream("GET", "https://api.openai.com/sse?count=8&interval=0.15", timeout=30) as r:
    buffer = b""
    for chunk in r.iter_raw():
        now = time.monotonic()
        buffer += chunk
        while b"\\n\\n" in buffer:
            event, buffer = buffer.split(b"\\n\\n", 1)
            fields = dict(line.split(": ", 1) for line in event.decode().splitlines())
            events.append({"id": fields["id"], "sent": float(fields["sent"]), "read": now})
print(json.dumps(events))
"""

DISCONNECT = """
import os, sys, httpx
with httpx.stream("GET", sys.argv[1], timeout=30) as response:
    for chunk in response.iter_raw(65536):
        print("streaming", flush=True)
        os._exit(0)  # gone, mid-body, without closing anything politely
"""


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.samples: list[int] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.samples.append(_rss_kib(self.pid))
            time.sleep(0.05)


def _wait_until(predicate: object, timeout: float = 10.0) -> bool:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def test_200_mb_up_and_down_with_flat_daemon_memory(gateway: Gateway) -> None:
    pid = gateway.daemon.process.pid
    # Warm the proxy (leaf, pool, credential cache) so the baseline is fair.
    assert gateway.daemon.cli("run", "--", "python", "-c", TRANSFER, str(MB)).code == 0
    baseline = _rss_kib(pid)
    sampler = RssSampler(pid)
    sampler.start()
    started = time.monotonic()
    result = gateway.daemon.cli("run", "--", "python", "-c", TRANSFER, str(SIZE), timeout=300)
    elapsed = time.monotonic() - started
    sampler.done.set()
    sampler.join()
    assert result.code == 0, result.err
    figures = json.loads(result.out)
    assert figures["down"] == SIZE
    assert figures["up"]["bytes"] == SIZE
    assert figures["down_sha256"] == figures["up"]["sha256"]  # same pattern both ways
    growth_mib = (max(sampler.samples) - baseline) / 1024
    print(
        f"200 MB each way in {elapsed:.1f} s; daemon RSS {baseline / 1024:.1f} MiB, "
        f"peak +{growth_mib:.1f} MiB over {len(sampler.samples)} samples"
    )
    assert len(sampler.samples) > 10
    assert growth_mib < 24, f"daemon RSS grew by {growth_mib:.1f} MiB while streaming"


def test_server_sent_events_arrive_one_by_one(gateway: Gateway) -> None:
    result = gateway.daemon.cli("run", "--", "python", "-c", SSE)
    assert result.code == 0, result.err
    events = json.loads(result.out)
    assert [event["id"] for event in events] == [str(index) for index in range(8)]
    delays_ms = [(event["read"] - event["sent"]) * 1000 for event in events]
    # Each event is read soon after the upstream wrote it, not when the stream ends.
    assert max(delays_ms) < 100, delays_ms
    assert sorted(delays_ms)[len(delays_ms) // 2] < 20, delays_ms
    gaps = [later["read"] - earlier["read"] for earlier, later in itertools.pairwise(events)]
    assert min(gaps) > 0.1, gaps


def test_a_client_gone_mid_download_frees_the_upstream(gateway: Gateway) -> None:
    upstream = gateway.upstream
    assert _wait_until(lambda: upstream.busy == 0)
    for url in (
        f"https://api.openai.com/download/{4096 * MB}",
        "https://api.openai.com/sse?count=100000&interval=0.01",
    ):
        result = gateway.daemon.cli("run", "--", "python", "-c", DISCONNECT, url)
        assert result.code == 0 and "streaming" in result.out, result.err
        # The proxy drops its upstream connection, so the upstream stops writing.
        assert _wait_until(lambda: upstream.busy == 0), f"upstream still busy after {url}"
