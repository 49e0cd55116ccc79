"""Refresh single flight across replicas: the loser of the race reads the winner's tokens.

Two ``TokenRefresher``s, each with an engine of its own (two replicas), share
one PostgreSQL database. Replica A reads an expired grant, and just before A
takes the refresh lease, replica B refreshes the same grant and commits (the
test runs B's whole refresh at that moment, from inside A's call to
``acquire_lease``: the interleaving a real race produces only by chance).
A must then read the grant again under its lease and use B's tokens: the
authorization server, which rotates refresh tokens and refuses a spent one
as RFC 9700 recommends, sees exactly one refresh request.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from authsome.daemon.services import oauth_connections, oauth_refresh
from authsome.daemon.services.connections import ActingFor
from authsome.daemon.services.oauth_clients import save_user_client
from authsome.daemon.services.oauth_connections import store_oauth_connection
from authsome.daemon.services.oauth_refresh import Fresh, RefreshOutcome, TokenRefresher
from authsome.daemon.services.vaults import VaultKeys
from authsome.flows.http import OutboundHttp
from authsome.flows.tokens import TokenSet
from authsome.providers.schema import load_provider_data
from authsome.store.db import create_store_engine, make_session_factory, migrate, transaction
from authsome.store.models import Principal


@dataclass
class RotatingTokenServer:
    """A token endpoint on loopback: each refresh token works once and is replaced."""

    live_refresh: str = "rt-0"
    requests: list[str] = field(default_factory=list)  # the refresh tokens presented
    issued: list[str] = field(default_factory=list)  # access tokens handed out

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self._http.serve_forever, daemon=True).start()

    @property
    def token_url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}/token"

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()

    def answer(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            presented = form.get("refresh_token", "")
            self.requests.append(presented)
            if form.get("grant_type") != "refresh_token" or presented != self.live_refresh:
                return 400, {"error": "invalid_grant"}
            number = len(self.issued) + 1
            self.live_refresh = f"rt-{number}"
            self.issued.append(f"at-{number}")
            return 200, {
                "access_token": self.issued[-1],
                "token_type": "Bearer",
                "expires_in": 3600,
                "refresh_token": self.live_refresh,
            }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's name
                length = int(self.headers.get("content-length", "0"))
                raw = parse_qs(self.rfile.read(length).decode())
                status, body = server.answer({name: values[0] for name, values in raw.items()})
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: object) -> None:
                pass

        return Handler


@pytest.fixture
def token_server() -> Iterator[RotatingTokenServer]:
    server = RotatingTokenServer()
    yield server
    server.close()


@pytest.fixture
def engines(postgres_url: str) -> Iterator[tuple[Engine, Engine]]:
    """One engine (connection pool) per replica."""
    first, second = create_store_engine(postgres_url), create_store_engine(postgres_url)
    migrate(first)
    assert first.dialect.name == "postgresql"
    yield first, second
    first.dispose()
    second.dispose()


def _expired_connection(
    sessions: sessionmaker[Session], keys: VaultKeys, master_key: bytes, token_url: str
) -> str:
    """An OAuth connection whose access token expired an hour ago; refresh token ``rt-0``."""
    provider = load_provider_data(
        {
            "schema_version": 1,
            "name": "acme",
            "display_name": "Acme",
            "auth_type": "oauth2",
            "flow": "pkce",
            "api_url": ["api.acme.test"],
            "oauth": {"authorization_url": "https://acme.test/auth", "token_url": token_url},
        },
        source="test",
    )
    with transaction(sessions) as db:
        # A row only: nobody signs in here.
        principal = Principal(id="p1", email="p@example.com", password_hash="x", role="admin")
        db.add(principal)
        db.flush()
        actor = ActingFor(identity=None, principal_id=principal.id)
        vault = keys.ensure_vault(db, principal)
        client = save_user_client(
            db,
            master_key,
            provider="acme",
            base_url=token_url,
            client_id="acme-client",
            client_secret=None,
            actor=actor,
        )
        connection = store_oauth_connection(
            db,
            keys,
            vault,
            provider,
            name="work",
            tokens=TokenSet(
                access_token="at-0",
                token_type="Bearer",
                expires_in=3600,
                refresh_token="rt-0",
                received_at=datetime.now(UTC) - timedelta(hours=2),
            ),
            endpoints={"token": token_url},
            client_ref=client.id,
            requested_scopes=[],
            force=False,
            flow="pkce",
            actor=actor,
        )
        return connection.id


def test_the_replica_that_loses_the_lease_race_uses_the_winners_tokens(
    engines: tuple[Engine, Engine],
    token_server: RotatingTokenServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    master_key = secrets.token_bytes(32)
    sessions_a, sessions_b = (make_session_factory(engine) for engine in engines)
    on_a = TokenRefresher(sessions_a, VaultKeys(master_key), OutboundHttp())
    on_b = TokenRefresher(sessions_b, VaultKeys(master_key), OutboundHttp())
    connection_id = _expired_connection(
        sessions_a, VaultKeys(master_key), master_key, token_server.token_url
    )

    real_acquire_lease = oauth_connections.acquire_lease
    raced = threading.Event()
    won_by_b: list[RefreshOutcome] = []

    def b_refreshes_first(
        db: Session, connection_id: str, *, now: datetime, seconds: float
    ) -> bool:
        # A has read the expired grant and is about to take the lease: B, another
        # replica, refreshes it now and commits. B's own call (raced already set)
        # takes the lease for real.
        if not raced.is_set():
            raced.set()
            won_by_b.append(asyncio.run(on_b.refresh(connection_id)))
        return real_acquire_lease(db, connection_id, now=now, seconds=seconds)

    monkeypatch.setattr(oauth_refresh, "acquire_lease", b_refreshes_first)
    outcome = asyncio.run(on_a.refresh(connection_id))

    assert len(won_by_b) == 1 and isinstance(won_by_b[0], Fresh)
    assert won_by_b[0].access_token == "at-1"
    assert token_server.requests == ["rt-0"]  # B's refresh only: A never sent one
    assert isinstance(outcome, Fresh), outcome
    assert outcome.access_token == "at-1"
    assert outcome.expires_at is not None and outcome.expires_at > datetime.now(UTC)

    # The lease A took to read again is free: the next refresh (forced) goes
    # ahead at once with B's rotated refresh token, which is still live.
    again = asyncio.run(on_a.refresh(connection_id, force=True))
    assert isinstance(again, Fresh) and again.access_token == "at-2"
    assert token_server.requests == ["rt-0", "rt-1"]
