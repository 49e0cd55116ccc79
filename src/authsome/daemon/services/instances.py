"""Connections' own instances of multi-tenant providers: which hosts they own.

A provider such as GitHub Enterprise, self-managed GitLab or a Shopify shop
lists its API as ``{base_url}/…``. A connection logged in with a base URL
(``authsome login shopify --base-url https://acme.myshopify.com``) owns those
entries filled with its URL, in its own vault and for itself only:

- a request to the filled-in host and path gets that connection's credential;
- the provider's listed (public) hosts never get it, since it was issued by,
  or is meant for, another server (``other_instance``);
- a run that named another connection of the provider (``--connection``) is
  refused on that host rather than handed either credential.

``InstanceIndex`` keeps each vault's instances in memory and the matcher built
from them (the catalogue's, extended); ``CredentialResolver.invalidate``, the
hook every connection change already calls, makes it read the vault again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from authsome.errors import InvalidInput
from authsome.providers.catalogue import ProviderCatalogue
from authsome.providers.matching import (
    Instance,
    Owner,
    ProviderMatcher,
    check_instance_base_url,
    is_templated,
)
from authsome.providers.schema import ProviderDefinition
from authsome.store.models import Connection, OAuthGrant


def has_instances(provider: ProviderDefinition) -> bool:
    """Whether some of the provider's API lives at a tenant's own ``{base_url}``."""
    return any(is_templated(entry) for entry in provider.api_url)


def needs_base_url(provider: ProviderDefinition) -> bool:
    """Whether all of it does, so a connection without a base URL could not be used."""
    return bool(provider.api_url) and all(is_templated(entry) for entry in provider.api_url)


def connection_base_url(connection: Connection, grant: OAuthGrant | None) -> str | None:
    """The instance a connection was logged in to, if it names one."""
    if connection.auth_type == "oauth2":
        value = (grant.endpoints or {}).get("base_url") if grant is not None else None
        return str(value) if value else None
    return connection.base_url


def _same_instance(stored: str | None, expected: str | None) -> bool:
    """Whether two base URLs name the same instance (``None``: the provider's public one)."""
    if not stored or not expected:
        return not stored and not expected
    try:
        return check_instance_base_url(stored) == check_instance_base_url(expected)
    except ValueError:
        return stored.rstrip("/") == expected.rstrip("/")


def other_instance(provider: ProviderDefinition, base_url: str | None) -> str | None:
    """Why a connection of ``base_url`` must not go to the provider's listed hosts, if so.

    The listed hosts are the public instance's (gitlab.com). A connection of
    another instance holds that instance's credential: sending it to the
    public hosts would hand it to a third party.
    """
    if not base_url or not has_instances(provider):
        return None
    public = provider.oauth.base_url if provider.oauth is not None else None
    if _same_instance(base_url, public):
        return None
    return (
        f"this {provider.name} connection is for {base_url}; its credential goes only to "
        f"that instance's hosts, never to {provider.name}'s other hosts"
    )


def instance_refusal(
    provider: ProviderDefinition,
    connection: Connection,
    grant: OAuthGrant | None,
    instance: str | None,
) -> str | None:
    """Why ``connection`` cannot serve a request matched for ``instance``, if so.

    ``instance`` is the base URL a request's host was matched for, or
    ``None`` for the provider's listed hosts. The matcher's index may be a
    moment old; this check reads the connection itself.
    """
    base_url = connection_base_url(connection, grant)
    if instance is None:
        return other_instance(provider, base_url)
    if _same_instance(base_url, instance):
        return None
    return f"the {provider.name} connection {connection.name!r} is no longer for {instance}"


@dataclass(frozen=True)
class Choice:
    """The connection to resolve for a matched request, and the instance it was matched for."""

    connection: str | None  # None: the provider's default connection
    instance: str | None  # None: the provider's listed hosts


def choose_connection(owners: Sequence[Owner], provider: str, chosen: str | None) -> Choice | str:
    """Which ``provider`` connection serves a request, or why none may.

    On listed hosts: ``chosen`` (``--connection``, or the library's
    ``connection``) or the default. On an instance's hosts: the connection
    logged in there; if the caller chose another one, neither is used.
    """
    bound = [owner for owner in owners if owner.provider == provider and owner.connection]
    if not bound:
        return Choice(chosen, None)
    for owner in bound:
        if chosen is None or owner.connection == chosen:
            return Choice(owner.connection, owner.base_url)
    return (
        f"this host is {provider} connection {bound[0].connection!r}'s own instance, "
        f"and {chosen!r} was chosen"
    )


def vault_instances(session: Session, vault_id: str) -> list[Instance]:
    """Every connection of the vault that names an instance, default ones first."""
    query = (
        select(Connection, OAuthGrant)
        .outerjoin(OAuthGrant, OAuthGrant.connection_id == Connection.id)
        .where(Connection.vault_id == vault_id)
        .order_by(Connection.is_default.desc(), Connection.created_at, Connection.name)
    )
    found: list[Instance] = []
    for connection, grant in session.execute(query):
        base_url = connection_base_url(connection, grant)
        if base_url:
            found.append(Instance(connection.provider, connection.name, base_url))
    return found


def check_new_instance(
    session: Session,
    catalogue: ProviderCatalogue,
    vault_id: str,
    provider: ProviderDefinition,
    *,
    connection: str,
    base_url: str,
) -> str:
    """``base_url`` as a new connection of ``provider`` will record it, after every check.

    Refuses (:class:`InvalidInput`) a provider without ``{base_url}``
    entries, an unsafe URL (:func:`check_instance_base_url`), and one whose
    hosts another provider, or another provider's connection in this vault,
    already owns (the tie a login must not create).
    """
    if not has_instances(provider):
        raise InvalidInput(f"{provider.name} has no per-instance hosts, so it takes no --base-url")
    try:
        cleaned = check_instance_base_url(base_url)
    except ValueError as exc:
        raise InvalidInput(f"--base-url: {exc}") from None
    others = [
        item
        for item in vault_instances(session, vault_id)
        if (item.provider, item.connection) != (provider.name, connection)
    ]
    new = Instance(provider.name, connection, cleaned)
    conflict = catalogue.matcher.with_instances([*others, new]).conflicts.get(new)
    if conflict is not None:
        raise InvalidInput(f"--base-url {cleaned}: {conflict}")
    return cleaned


def require_base_url(provider: ProviderDefinition, base_url: str | None) -> None:
    """Refuse a connection without an instance for a provider that only has instances."""
    if base_url is None and needs_base_url(provider):
        raise InvalidInput(
            f"{provider.name} lives on your own instance: say which with --base-url",
            hint=f"authsome login {provider.name} --base-url https://your.instance.example",
        )


@dataclass(frozen=True)
class _Entry:
    instances: tuple[Instance, ...]
    loaded_at: float
    catalogue: ProviderCatalogue | None = None
    matcher: ProviderMatcher | None = None


class InstanceIndex:
    """Per vault: its connections' instances, and the matcher that includes them.

    A vault is read on first use and again after ``forget``; ``max_age``
    (team mode) bounds how long a replica trusts what it read. A load that
    raced a ``forget`` is not kept. Vaults without instances use the
    catalogue's own matcher.
    """

    def __init__(self, sessions: sessionmaker[Session], *, max_age: float | None = None) -> None:
        self._sessions = sessions
        self._max_age = max_age
        self._entries: dict[str, _Entry] = {}
        self._generation = 0
        self._lock = threading.Lock()

    def matcher(self, vault_id: str | None, catalogue: ProviderCatalogue) -> ProviderMatcher:
        """The matcher for requests of ``vault_id`` (the catalogue's when it has no instances)."""
        if vault_id is None:
            return catalogue.matcher
        entry = self._entry(vault_id)
        if not entry.instances:
            return catalogue.matcher
        if entry.catalogue is catalogue and entry.matcher is not None:
            return entry.matcher
        matcher = catalogue.matcher.with_instances(entry.instances)
        self._keep(vault_id, entry, _Entry(entry.instances, entry.loaded_at, catalogue, matcher))
        return matcher

    def instances(self, vault_id: str) -> tuple[Instance, ...]:
        """The vault's instances as ``matcher`` extends the catalogue with them, in that order.

        Public data (no credential): ``run --local-proxy`` builds the same matcher from it.
        """
        return self._entry(vault_id).instances

    def _entry(self, vault_id: str) -> _Entry:
        entry = self._entries.get(vault_id)
        if entry is None or self._expired(entry):
            entry = self._load(vault_id)
        return entry

    def forget(self, vault_id: str | None) -> None:
        """Read ``vault_id`` (``None``: every vault) again on next use."""
        with self._lock:
            self._generation += 1
            if vault_id is None:
                self._entries.clear()
            else:
                self._entries.pop(vault_id, None)

    def _expired(self, entry: _Entry) -> bool:
        return self._max_age is not None and time.monotonic() - entry.loaded_at > self._max_age

    def _load(self, vault_id: str) -> _Entry:
        generation = self._generation
        with self._sessions() as session:
            instances: Sequence[Instance] = vault_instances(session, vault_id)
        entry = _Entry(tuple(instances), time.monotonic())
        with self._lock:
            if generation == self._generation:
                self._entries[vault_id] = entry
        return entry

    def _keep(self, vault_id: str, seen: _Entry, entry: _Entry) -> None:
        """Store a built matcher unless the vault was forgotten or reloaded meanwhile."""
        with self._lock:
            if self._entries.get(vault_id) is seen:
                self._entries[vault_id] = entry
