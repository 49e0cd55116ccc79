"""Grants: what an identity may use (DESIGN §2b), decided in one place.

Enforced on every resolve, every proxied request and every reveal/export;
a refusal is an ``OperationNotAllowed`` (or a proxy 403) and a ``denied``
audit event.
"""

from __future__ import annotations

from dataclasses import dataclass

from authsome.store.models import Identity


@dataclass(frozen=True, slots=True)
class Grant:
    providers: frozenset[str] | None  # None: every provider
    reveal: bool = False

    @classmethod
    def of(cls, identity: Identity) -> Grant:
        listed = None if identity.grant_all_providers else frozenset(identity.grant_providers)
        return cls(providers=listed, reveal=bool(identity.grant_reveal))

    def allows_provider(self, provider: str) -> bool:
        return self.providers is None or provider in self.providers

    def describe(self) -> str:
        scope = "all providers" if self.providers is None else ", ".join(sorted(self.providers))
        return f"{scope or 'no providers'}; reveal {'allowed' if self.reveal else 'not allowed'}"


ALL = Grant(providers=None, reveal=False)
