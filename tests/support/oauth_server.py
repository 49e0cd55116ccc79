"""The test authorization server (``tests/oauth_server/server.mjs``) as a Python object."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "oauth_server" / "server.mjs"
STATIC_CLIENT = ("static-confidential", "static-confidential-secret-3c1e9a")
DEVICE_CLIENT = "device-public"
INTROSPECTOR = ("introspector", "introspector-secret-77aa")
GRANT_DEVICE = "urn:ietf:params:oauth:grant-type:device_code"


MISSING = "needs node and `npm ci` (oidc-provider); the README's test command"


def available() -> bool:
    return shutil.which("node") is not None and (ROOT / "node_modules" / "oidc-provider").is_dir()


def require_server() -> None:
    """Skip the calling test when the server cannot run here, but fail it under CI.

    CI sets ``CI`` (``CI=true``): there a missing ``npm ci`` must not turn the
    OAuth suite into a row of quiet skips.
    """
    if available():
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI is set and the OAuth test server cannot run: {MISSING}")
    pytest.skip(MISSING)


class OAuthServer:
    """``oidc-provider`` on a free loopback port (plain http), stopped on exit."""

    def __init__(
        self,
        *,
        access_ttl: int = 4,
        device_interval: int = 1,
        device_ttl: int = 600,
        device_expires_in: int | None = None,
    ) -> None:
        """``device_expires_in``: what device authorization responses announce
        instead of ``device_ttl`` (the codes' real lifetime)."""
        args = ["--access-ttl", str(access_ttl), "--device-interval", str(device_interval)]
        args += ["--device-ttl", str(device_ttl)]
        if device_expires_in is not None:
            args += ["--device-expires-in", str(device_expires_in)]
        self.process = subprocess.Popen(
            ["node", str(SCRIPT), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        self._stderr: list[str] = []
        threading.Thread(target=self._drain, daemon=True).start()
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(timeout=5)
            raise RuntimeError("the OAuth test server did not start:\n" + "".join(self._stderr))
        info = json.loads(line)
        self.port: int = info["port"]
        self.issuer: str = info["issuer"]
        self.origin = f"http://127.0.0.1:{self.port}"
        self.mcp_resource = f"{self.origin}/mcp"

    def _drain(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._stderr.append(line)

    def __enter__(self) -> OAuthServer:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    # --- test routes ------------------------------------------------------------------

    def log(self) -> dict[str, Any]:
        result: dict[str, Any] = httpx.get(f"{self.origin}/__test/log", timeout=5).json()
        return result

    def token_requests(self, grant_type: str | None = None) -> list[dict[str, Any]]:
        requests = self.log()["token_requests"]
        return [r for r in requests if grant_type is None or r["grant_type"] == grant_type]

    def issued(self, model: str) -> list[str]:
        values: list[str] = self.log()["issued"].get(model, [])
        return values

    def registered_clients(self) -> dict[str, dict[str, Any]]:
        """client_id -> the metadata a dynamically registered client was stored with."""
        clients: dict[str, dict[str, Any]] = self.log()["registered_clients"]
        return clients

    def secrets(self) -> list[str]:
        """Every token, code and registration secret this server handed out."""
        found = [STATIC_CLIENT[1]]
        for model, values in self.log()["issued"].items():
            if model in {"Session", "Interaction", "Grant", "Client"}:
                continue
            found.extend(values)
        return found

    def outage(self, count: int, mode: str = "drop") -> None:
        httpx.post(f"{self.origin}/__test/outage", json={"count": count, "mode": mode}, timeout=5)

    def forget_grants(self) -> None:
        httpx.post(f"{self.origin}/__test/forget", json={}, timeout=5)

    def deny_device(self, user_code: str) -> None:
        httpx.post(f"{self.origin}/__test/deny-device", json={"user_code": user_code}, timeout=5)

    def introspect(self, token: str) -> dict[str, Any]:
        answer = httpx.post(
            f"{self.issuer}/token/introspection",
            data={"token": token},
            auth=INTROSPECTOR,
            timeout=5,
        )
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result
