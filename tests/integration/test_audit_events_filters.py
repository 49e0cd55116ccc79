"""``GET /audit/events`` filtered by ``host`` and by ``until`` (with ``since``),
through PoP-signed requests, across cursor pages."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from authsome.crypto.identity_keys import IdentityKey
from tests.support.daemon import Daemon
from tests.support.pop import home_key, signed

OPENAI_KEY = "sk-proj-FILTERtest0123456789abcdefgh"
ANTHROPIC_KEY = "sk-ant-FILTERtest0123456789abcdefgh"


def _page(daemon: Daemon, key: IdentityKey, **query: Any) -> dict[str, Any]:
    response = signed(key, "GET", f"{daemon.url}/audit/events?{urlencode(query)}")
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def _all(daemon: Daemon, key: IdentityKey, **query: Any) -> list[dict[str, Any]]:
    """Every matching event, newest first, following the cursor two at a time."""
    events: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = _page(daemon, key, limit=2, **query, **({"before": cursor} if cursor else {}))
        events += page["events"]
        cursor = page["next_cursor"]
        if cursor is None:
            return events


def _written(daemon: Daemon, key: IdentityKey, resolved: int) -> list[dict[str, Any]]:
    """Every event, once the batcher has written the ``resolved`` resolutions (250 ms)."""
    deadline = time.monotonic() + 10
    while True:
        events = _all(daemon, key)
        if sum(e["event"] == "credential_resolved" for e in events) == resolved:
            return events
        assert time.monotonic() < deadline, events
        time.sleep(0.1)


def _resolve(daemon: Daemon, key: IdentityKey, url: str) -> None:
    body = json.dumps({"url": url}).encode()
    assert signed(key, "POST", daemon.url + "/resolve", body=body).status_code == 200


def test_host_and_until_filter_the_events(claimed: Daemon) -> None:
    for provider, secret in (("openai", OPENAI_KEY), ("anthropic", ANTHROPIC_KEY)):
        assert claimed.cli("login", provider, "--key-stdin", input=secret + "\n").code == 0
    key = home_key(claimed.home)
    urls = [
        "https://api.openai.com/v1/models",
        "https://api.anthropic.com/v1/messages",
        "https://api.openai.com/v1/files",
        "https://api.anthropic.com/v1/models",
        "https://api.openai.com/v1/chat/completions",
    ]
    for url in urls:
        _resolve(claimed, key, url)
    everything = _written(claimed, key, len(urls))

    anthropic = _all(claimed, key, host="api.anthropic.com")
    assert [(e["event"], e["path"]) for e in anthropic] == [
        ("credential_resolved", "/v1/models"),
        ("credential_resolved", "/v1/messages"),
    ]
    openai = _all(claimed, key, host="api.openai.com", event="credential_resolved")
    assert [e["path"] for e in openai] == ["/v1/chat/completions", "/v1/files", "/v1/models"]
    assert _all(claimed, key, host="api.openai.com.evil.test") == []

    # until is exclusive, since inclusive (pages stay newest first, by id).
    def expected(keep: Callable[[str], bool]) -> list[int]:
        return [e["id"] for e in everything if keep(e["ts"])]

    cut = sorted(e["ts"] for e in everything)[3]
    assert [e["id"] for e in _all(claimed, key, until=cut)] == expected(lambda ts: ts < cut)
    start, end = sorted(e["ts"] for e in everything)[1], max(e["ts"] for e in everything)
    window = _all(claimed, key, since=start, until=end)
    assert window and [e["id"] for e in window] == expected(lambda ts: start <= ts < end)
    # Both filters at once: only the host's events inside the window.
    ts_of = {e["path"]: e["ts"] for e in anthropic}
    both = _all(claimed, key, host="api.anthropic.com", until=ts_of["/v1/models"])
    assert [e["path"] for e in both] == ["/v1/messages"]
    assert _all(claimed, key, until="2000-01-01") == []
    bad = signed(key, "GET", f"{claimed.url}/audit/events?until=yesterday")
    assert bad.status_code == 400 and "is not a time" in bad.text
