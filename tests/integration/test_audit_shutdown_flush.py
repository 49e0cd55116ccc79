"""SIGTERM within the flush interval: every proxied request already answered
has its ``proxy_request`` event, written before ``daemon_stopped``."""

from __future__ import annotations

import signal
import ssl

import httpx

from authsome.client.api import DaemonClient
from tests.integration.conftest import Gateway
from tests.support import store
from tests.support.pop import home_key

REQUESTS = 60  # fewer than a batch (100): only the timer or the shutdown writes them


def test_sigterm_right_after_requests_loses_none_of_their_events(gateway: Gateway) -> None:
    daemon = gateway.daemon
    with DaemonClient(daemon.url, home_key(daemon.home)) as client:
        run = client.start_run()
    trusted = ssl.create_default_context(cadata=run["ca_pem"])
    proxy = f"http://run:{run['token']}@{run['proxy_host']}:{run['proxy_port']}"
    paths = [f"/v1/models/shutdown-{number}" for number in range(REQUESTS)]
    with httpx.Client(proxy=proxy, verify=trusted, trust_env=False, timeout=10) as http:
        statuses = [http.get(f"https://api.openai.com{path}").status_code for path in paths]
        # At once: the last events are still queued (the flush interval is 250 ms).
        daemon.process.send_signal(signal.SIGTERM)
    assert statuses == [200] * REQUESTS
    assert daemon.process.wait(timeout=15) == 0

    rows = store.rows(daemon.home, "SELECT id, event, path FROM audit_events ORDER BY id")
    proxied = [(row[0], row[2]) for row in rows if row[1] == "proxy_request"]
    stopped = [row[0] for row in rows if row[1] == "daemon_stopped"]
    assert [path for _, path in proxied] == paths
    assert len(stopped) == 1 and max(event_id for event_id, _ in proxied) < stopped[0]
