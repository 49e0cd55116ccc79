"""`authsome run --local-proxy` with a queue too small for its events: what it
drops is counted, sent with the next upload, and written by the daemon as an
``audit_dropped`` event, so the loss is in the audit log, not only on stderr."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from authsome.audit.writer import DROPPED_EVENT as DROPPED
from tests.integration.conftest import UPSTREAM_NAMES, Gateway, open_gateway
from tests.support import store

REQUESTS = 20
#: The child: REQUESTS keep-alive requests, as fast as it can (well inside one
#: upload interval, 0.25 s, so a queue of one event must drop some).
CHILD = (
    "import httpx\n"
    "with httpx.Client(timeout=30) as client:\n"
    f"    for number in range({REQUESTS}):\n"
    "        assert client.get(f'https://api.openai.com/v1/dropped-{number}').status_code == 200\n"
)


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    with open_gateway(tmp_path) as gateway:
        yield gateway


def _local_env(gateway: Gateway, **extra: str) -> dict[str, str]:
    port = gateway.upstream.port
    resolve = ",".join(f"{name}=127.0.0.1:{port}" for name in UPSTREAM_NAMES)
    return {
        "AUTHSOME_PROXY_RESOLVE": resolve,
        "AUTHSOME_UPSTREAM_CA": str(gateway.ca_file),
        **extra,
    }


@dataclass
class Written:
    """What the daemon stored of the child's traffic."""

    kept: int  # proxy_request events of the child
    dropped: list[tuple[str | None, dict[str, Any]]]  # audit_dropped: identity, detail

    @property
    def counted(self) -> int:
        return sum(int(detail["count"]) for _, detail in self.dropped)


def _written(home: Path) -> Written:
    kept = store.scalar(
        home,
        "SELECT count(*) FROM audit_events WHERE event = 'proxy_request' AND path LIKE ?",
        "/v1/dropped-%",
    )
    rows = store.rows(home, "SELECT identity, detail FROM audit_events WHERE event = ?", DROPPED)
    return Written(int(kept), [(identity, json.loads(detail)) for identity, detail in rows])


def test_dropped_events_reach_the_audit_log_as_a_count(gateway: Gateway) -> None:
    daemon = gateway.daemon
    result = daemon.cli(
        "run", "--local-proxy", "--", "python", "-c", CHILD,
        env=_local_env(gateway, AUTHSOME_LOCAL_PROXY_MAX_EVENTS="1"),
        timeout=90,
    )  # fmt: skip
    assert result.code == 0, result.err
    said = re.search(r"(\d+) proxied-request events were dropped", result.err)
    assert said, result.err
    assert "the daemon's audit log records how many" in result.err
    assert "could not be sent" not in result.err

    deadline = time.monotonic() + 10
    written = _written(daemon.home)
    while written.kept + written.counted < REQUESTS and time.monotonic() < deadline:
        time.sleep(0.1)  # the daemon's own batch is written every 250 ms
        written = _written(daemon.home)
    assert written.dropped and written.counted == int(said.group(1))
    assert written.kept + written.counted == REQUESTS  # every request: stored, or counted
    handle = daemon.cli("whoami", "--json").json["handle"]
    assert {identity for identity, _ in written.dropped} == {handle}
    assert all(detail["local_proxy"] is True and detail["run"] for _, detail in written.dropped)
    assert daemon.cli("log", "--verify").code == 0


def test_a_bad_queue_bound_is_refused(gateway: Gateway) -> None:
    result = gateway.daemon.cli(
        "run", "--local-proxy", "--", "true",
        env=_local_env(gateway, AUTHSOME_LOCAL_PROXY_MAX_EVENTS="0"),
    )  # fmt: skip
    assert result.code == 2, result.err
    assert "AUTHSOME_LOCAL_PROXY_MAX_EVENTS must be a whole number" in result.err
