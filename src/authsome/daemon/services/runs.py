"""Run sessions: the token an `authsome run` child uses to reach the proxy."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace

from authsome.daemon.services.caller import Caller
from authsome.daemon.services.grants import ALL, Grant
from authsome.daemon.services.ids import new_id, new_token, token_digest
from authsome.errors import ConnectionNotFound, InvalidInput
from authsome.proxy.backend import RunSession


@dataclass(frozen=True)
class ActiveRun:
    session: RunSession
    identity_id: str
    connections: dict[str, str] = field(default_factory=dict)  # provider -> connection name
    providers: frozenset[str] | None = None  # None: every provider the grant allows
    grant: Grant = ALL
    deny_unmatched: bool = False  # refuse hosts that match no provider (run --deny-unmatched)

    def allows(self, provider: str) -> bool:
        """Both the identity's grant and this run's own ``--provider`` list."""
        listed = self.providers is None or provider in self.providers
        return listed and self.grant.allows_provider(provider)


class RunRegistry:
    """Live runs, looked up by the SHA-256 of their token (never the token)."""

    def __init__(self) -> None:
        self._by_digest: dict[str, ActiveRun] = {}
        self._by_id: dict[str, str] = {}
        self._lock = threading.Lock()

    def start(
        self,
        caller: Caller,
        *,
        connections: dict[str, str] | None = None,
        providers: frozenset[str] | None = None,
        deny_unmatched: bool = False,
    ) -> tuple[ActiveRun, str]:
        if caller.vault_id is None or caller.principal_id is None:
            raise InvalidInput("this identity has no vault yet")
        token = new_token()
        run = ActiveRun(
            session=RunSession(
                run_id=new_id(),
                identity=caller.handle,
                principal_id=caller.principal_id,
                vault_id=caller.vault_id,
            ),
            identity_id=caller.identity_id,
            connections=dict(connections or {}),
            providers=providers,
            grant=caller.grant,
            deny_unmatched=deny_unmatched,
        )
        digest = token_digest(token)
        with self._lock:
            self._by_digest[digest] = run
            self._by_id[run.session.run_id] = digest
        return run, token

    def by_token(self, token: str) -> ActiveRun | None:
        return self._by_digest.get(token_digest(token))

    def get(self, run_id: str) -> ActiveRun | None:
        digest = self._by_id.get(run_id)
        return None if digest is None else self._by_digest.get(digest)

    def end(self, run_id: str, *, identity_id: str) -> ActiveRun:
        with self._lock:
            digest = self._by_id.get(run_id)
            run = self._by_digest.get(digest) if digest else None
            if run is None or run.identity_id != identity_id:
                raise ConnectionNotFound("no such run for this identity")
            del self._by_digest[digest]  # type: ignore[arg-type]
            del self._by_id[run_id]
        return run

    def regrant(self, identity_id: str, grant: Grant) -> None:
        """Apply a changed grant to the identity's live runs at once."""
        with self._lock:
            for digest, run in list(self._by_digest.items()):
                if run.identity_id == identity_id:
                    self._by_digest[digest] = replace(run, grant=grant)

    def end_all_for_identity(self, identity_id: str) -> None:
        with self._lock:
            for run_id, digest in list(self._by_id.items()):
                if self._by_digest[digest].identity_id == identity_id:
                    del self._by_digest[digest]
                    del self._by_id[run_id]
