"""Background probes that show a daemon keeps serving others while one client misbehaves."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable

import httpx


class Watch:
    """Runs ``probe`` every 50 ms in a thread; counts answers and failures."""

    def __init__(self, probe: Callable[[], bool]) -> None:
        self.probe = probe
        self.failures: list[str] = []
        self.answers = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.probe():
                    self.answers += 1
                else:
                    self.failures.append("wrong answer")
            except httpx.HTTPError as exc:
                self.failures.append(type(exc).__name__)
            time.sleep(0.05)

    def __enter__(self) -> Watch:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


class HealthWatch(Watch):
    """Polls the API's /health from 127.0.0.1."""

    def __init__(self, url: str) -> None:
        self.client = httpx.Client(timeout=2)
        super().__init__(lambda: self.client.get(url + "/health").status_code == 200)

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        self.client.close()


class ProxyWatch(Watch):
    """Sends one proxied HTTPS request after another from ``source`` (a loopback address),
    each on a fresh connection, and checks the credential was injected."""

    def __init__(
        self, proxy_url: str, ca: ssl.SSLContext, url: str, expect: str, source: str
    ) -> None:
        def probe() -> bool:
            transport = httpx.HTTPTransport(proxy=proxy_url, verify=ca, local_address=source)
            with httpx.Client(transport=transport, timeout=5) as client:
                response = client.get(url)
            return response.status_code == 200 and expect in response.text

        super().__init__(probe)
