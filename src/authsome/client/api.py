"""``DaemonClient``: every call the CLI and the library make to the daemon.

Each request is signed with the identity's key (``PopAuth``). Daemon errors
come back as the same ``AuthsomeError`` classes the daemon raised; a daemon
that does not answer becomes ``DaemonUnavailable`` (exit 9).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx

from authsome.client.pop_auth import PopAuth
from authsome.client.tls import daemon_verify
from authsome.crypto.identity_keys import IdentityKey
from authsome.errors import AuthsomeError, DaemonUnavailable, error_class_for


def raise_for_error(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        body = response.json()
        code, message, hint = body["error"], body["message"], body.get("hint")
    except (ValueError, KeyError, TypeError):
        raise AuthsomeError(
            f"the daemon answered {response.status_code} without an error body"
        ) from None
    extra: dict[str, Any] = {}
    if code == "rate_limited":  # RateLimited also says when to try again
        retry_after = response.headers.get("retry-after", "")
        extra["retry_after"] = int(retry_after) if retry_after.isdigit() else 0
    raise error_class_for(str(code))(str(message), hint=hint, **extra)


@contextlib.contextmanager
def daemon_errors(url: str) -> Iterator[None]:
    """Turn transport failures into ``DaemonUnavailable`` naming the URL."""
    try:
        yield
    except httpx.TransportError as exc:
        if "CERTIFICATE_VERIFY_FAILED" in str(exc):
            raise DaemonUnavailable(
                f"the daemon at {url} presented a certificate this client does not trust",
                hint="set AUTHSOME_CA_BUNDLE (or SSL_CERT_FILE) to your CA's PEM file",
            ) from exc
        raise DaemonUnavailable(
            f"no Authsome daemon answers at {url} ({type(exc).__name__})",
            hint="authsome daemon start",
        ) from exc


class DaemonClient:
    """A signed HTTP client for one daemon and one identity key."""

    def __init__(self, base_url: str, key: IdentityKey | None, *, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url,
            auth=PopAuth(key) if key is not None else None,
            timeout=timeout,
            trust_env=False,  # never send our own calls through the user's proxy
            verify=daemon_verify(self.base_url),
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> DaemonClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, *, json: Any = None) -> Any:
        with daemon_errors(self.base_url):
            response = self._http.request(method, path, json=json)
        raise_for_error(response)
        return None if response.status_code == 204 else response.json()

    # unauthenticated
    def health(self) -> dict[str, Any]:
        with daemon_errors(self.base_url):
            response = self._http.get("/health", auth=None, timeout=2.0)
        raise_for_error(response)
        result: dict[str, Any] = response.json()
        return result

    # identities
    def register_identity(self) -> dict[str, Any]:
        result: dict[str, Any] = self.request("POST", "/identities", json={})
        return result

    def identity_status(self) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", "/identities/self")
        return result

    def claim_headless(self, email: str, password: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request(
            "POST", "/identities/self/claim", json={"email": email, "password": password}
        )
        return result

    def whoami(self) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", "/whoami")
        return result

    # providers
    def providers(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.request("GET", "/providers")
        return result

    def provider(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", f"/providers/{_segment(name)}")
        return result

    def register_provider(
        self, definition: dict[str, Any], *, force: bool = False
    ) -> dict[str, Any]:
        result: dict[str, Any] = self.request(
            "POST", "/providers", json={"definition": definition, "force": force}
        )
        return result

    def remove_provider(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("DELETE", f"/providers/{_segment(name)}")
        return result

    # connections
    def connections(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.request("GET", "/connections")
        return result

    def login_api_key(
        self,
        provider: str,
        api_key: str,
        *,
        connection: str = "default",
        force: bool = False,
        base_url: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "provider": provider,
            "connection": connection,
            "api_key": api_key,
            "force": force,
        }
        if base_url is not None:  # the instance of a multi-tenant provider (Shopify shop)
            body["base_url"] = base_url
        result: dict[str, Any] = self.request("POST", "/connections", json=body)
        return result

    def logout(self, provider: str, connection: str = "default") -> dict[str, Any] | None:
        """Remove a connection; the answer says whether its tokens were revoked."""
        result: dict[str, Any] | None = self.request(
            "DELETE", f"/connections/{_segment(provider)}/{_segment(connection)}"
        )
        return result

    def resolve(
        self, url: str, *, method: str = "GET", connection: str | None = None
    ) -> dict[str, Any]:
        body = {"url": url, "method": method, "connection": connection}
        result: dict[str, Any] = self.request("POST", "/resolve", json=body)
        return result

    def connection(self, provider: str, name: str | None = None) -> dict[str, Any]:
        path = f"/connections/{_segment(provider)}"
        if name is not None:
            path += f"/{_segment(name)}"
        result: dict[str, Any] = self.request("GET", path)
        return result

    def set_default_connection(self, provider: str, name: str) -> dict[str, Any]:
        path = f"/connections/{_segment(provider)}/{_segment(name)}/default"
        result: dict[str, Any] = self.request("PUT", path)
        return result

    # raw secrets (audited; need a grant that allows reveal, or the password)
    def reveal(
        self,
        provider: str,
        connection: str | None = None,
        *,
        password: str | None = None,
        include_refresh: bool = False,
    ) -> dict[str, Any]:
        body = {
            "provider": provider,
            "connection": connection,
            "password": password,
            "include_refresh": include_refresh,
        }
        result: dict[str, Any] = self.request("POST", "/reveal", json=body)
        return result

    def export(
        self,
        provider: str | None = None,
        connection: str | None = None,
        *,
        password: str | None = None,
        include_refresh: bool = False,
    ) -> list[dict[str, Any]]:
        body = {
            "provider": provider,
            "connection": connection,
            "password": password,
            "include_refresh": include_refresh,
        }
        result: dict[str, Any] = self.request("POST", "/export", json=body)
        items: list[dict[str, Any]] = result["items"]
        return items

    # diagnosis and scanning
    def doctor(self) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", "/doctor")
        return result

    def scan_rules(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.request("GET", "/scan/rules")
        return result

    def scan_compare(self, items: list[tuple[str, str]]) -> list[dict[str, Any]]:
        body = {"items": [{"provider": p, "sha256": digest} for p, digest in items]}
        result: list[dict[str, Any]] = self.request("POST", "/scan/compare", json=body)
        return result

    # identities of this principal
    def revoke_identity(self, handle: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("POST", f"/identities/{_segment(handle)}/revoke")
        return result

    def set_grant(
        self,
        handle: str,
        *,
        password: str,
        providers: list[str] | None,
        reveal: bool,
    ) -> dict[str, Any]:
        body = {
            "password": password,
            "all_providers": providers is None,
            "providers": providers or [],
            "reveal": reveal,
        }
        path = f"/identities/{_segment(handle)}/grant"
        result: dict[str, Any] = self.request("PUT", path, json=body)
        return result

    # runs
    def start_run(
        self,
        *,
        connections: dict[str, str] | None = None,
        providers: list[str] | None = None,
        deny_unmatched: bool = False,
    ) -> dict[str, Any]:
        body = {
            "connections": connections or {},
            "providers": providers,
            "deny_unmatched": deny_unmatched,
        }
        result: dict[str, Any] = self.request("POST", "/runs", json=body)
        return result

    def end_run(self, run_id: str) -> None:
        self.request("DELETE", f"/runs/{_segment(run_id)}")

    # audit
    def audit_events(
        self,
        *,
        limit: int = 50,
        before: int | None = None,
        after: int | None = None,
        **filters: str | None,
    ) -> dict[str, Any]:
        """One page (``events``, ``next_cursor``); filters as ``GET /audit/events``."""
        from urllib.parse import urlencode

        params = {"limit": limit, "before": before, "after": after, **filters}
        query = urlencode({name: value for name, value in params.items() if value is not None})
        result: dict[str, Any] = self.request("GET", f"/audit/events?{query}")
        return result

    def audit_verify(self) -> dict[str, Any]:
        """Walk the audit chain in the daemon (admins); may take a while on big logs."""
        with daemon_errors(self.base_url):
            response = self._http.get("/audit/verify", timeout=None)
        raise_for_error(response)
        result: dict[str, Any] = response.json()
        return result

    # vault lifecycle (admins)
    def rotate_master_key(self) -> dict[str, Any]:
        with daemon_errors(self.base_url):
            response = self._http.post("/vault/rotate-key", timeout=None)
        raise_for_error(response)
        result: dict[str, Any] = response.json()
        return result

    def set_key_backend(self, backend: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("POST", "/vault/backend", json={"backend": backend})
        return result

    def backup_vault(self, *, include_key: bool, passphrase: str | None) -> bytes:
        """The bytes of a backup file (the master key inside only if asked, sealed)."""
        body = {"include_key": include_key, "passphrase": passphrase}
        with daemon_errors(self.base_url):
            response = self._http.post("/vault/backup", json=body, timeout=None)
        raise_for_error(response)
        return response.content

    # OAuth logins (the daemon runs the flow; the CLI starts it and waits)
    def start_oauth_login(
        self,
        provider: str,
        *,
        connection: str = "default",
        flow: str | None = None,
        prefer_device: bool = False,
        scopes: list[str] | None = None,
        base_url: str | None = None,
        force: bool = False,
    ) -> dict[str, Any]:
        body = {
            "provider": provider,
            "connection": connection,
            "flow": flow,
            "prefer_device": prefer_device,
            "scopes": scopes,
            "base_url": base_url,
            "force": force,
        }
        result: dict[str, Any] = self.request("POST", "/auth/sessions", json=body)
        return result

    def oauth_login_status(self, session_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", f"/auth/sessions/{_segment(session_id)}")
        return result

    def give_oauth_client(
        self, session_id: str, client_id: str, client_secret: str | None
    ) -> dict[str, Any]:
        body = {"client_id": client_id, "client_secret": client_secret}
        result: dict[str, Any] = self.request(
            "POST", f"/auth/sessions/{_segment(session_id)}/client", json=body
        )
        return result

    def cancel_oauth_login(self, session_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("DELETE", f"/auth/sessions/{_segment(session_id)}")
        return result

    def refresh_connection(self, provider: str, connection: str = "default") -> dict[str, Any]:
        path = f"/connections/{_segment(provider)}/{_segment(connection)}/refresh"
        result: dict[str, Any] = self.request("POST", path)
        return result

    def revoke_provider(self, provider: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("POST", f"/providers/{_segment(provider)}/revoke")
        return result


def _segment(value: str) -> str:
    """One URL path segment; names are validated by the daemon, this keeps '/' out."""
    from urllib.parse import quote

    return quote(value, safe="")
