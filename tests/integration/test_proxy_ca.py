"""The proxy CA as a deployment sees it: its expiry is reported for `doctor`."""

from __future__ import annotations

import datetime as dt

import httpx

from tests.support.daemon import Daemon


def test_ready_reports_when_the_proxy_ca_expires(daemon: Daemon) -> None:
    body = httpx.get(daemon.url + "/ready", timeout=10).json()
    not_after = dt.datetime.fromisoformat(body["proxy_ca_not_after"])
    lifetime = not_after - dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=3640) < lifetime <= dt.timedelta(days=3650)
    assert body["checks"]["proxy_ca"] == f"ok (valid until {not_after:%Y-%m-%d})"
