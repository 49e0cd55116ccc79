"""Everything a running daemon holds, opened once at start (``open_state``)."""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from authsome.audit.writer import AuditBatcher
from authsome.config import ServerSettings
from authsome.crypto.envelope import make_key_check
from authsome.crypto.keystores import KeyringConfig
from authsome.crypto.masterkey import MasterKey, load_master_key, open_with_recovery
from authsome.daemon.services.credentials import CredentialResolver
from authsome.daemon.services.replay import MemoryReplayCache, ReplayCache, replay_cache_for
from authsome.daemon.services.runs import RunRegistry
from authsome.daemon.services.shared_changes import Change, ChangeFeed
from authsome.daemon.services.vaults import VaultKeys
from authsome.daemon.startup_checks import check_home
from authsome.flows.http import OutboundHttp, outbound_timeout
from authsome.home import HomeLayout
from authsome.providers.catalogue import ProviderCatalogue
from authsome.providers.schema import load_provider_json
from authsome.proxy.ca import CertificateAuthority
from authsome.store.db import (
    check_sqlite_store,
    create_store_engine,
    damaged_store,
    make_session_factory,
    migrate,
    wait_for_store,
)
from authsome.store.models import CustomProvider, Deployment, Identity, Principal, Vault

log = logging.getLogger("authsome.daemon")


@dataclass
class DaemonState:
    settings: ServerSettings
    engine: Engine
    sessions: sessionmaker[Session]
    deployment_id: str
    master_key: MasterKey
    vault_keys: VaultKeys
    ca: CertificateAuthority
    catalogue: ProviderCatalogue
    replay: ReplayCache = field(default_factory=MemoryReplayCache)
    runs: RunRegistry = field(default_factory=RunRegistry)
    proxy_host: str = "127.0.0.1"
    proxy_port: int = 0
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    catalogue_lock: threading.Lock = field(default_factory=threading.Lock)
    resolver: CredentialResolver = field(init=False)
    audit: AuditBatcher = field(init=False)
    outbound: OutboundHttp = field(init=False)  # HTTP to authorization servers
    changes: ChangeFeed = field(init=False)  # other replicas' changes (team mode)

    def __post_init__(self) -> None:
        self.outbound = OutboundHttp(
            upstream_ca=self.settings.upstream_ca,
            timeout=outbound_timeout(self.settings.outbound_timeout),
        )
        # Replicas share a PostgreSQL database; embedded SQLite has one daemon.
        shared = self.engine.dialect.name != "sqlite"
        self.changes = ChangeFeed(self.sessions, enabled=shared)
        # The catalogue first: headers dropped next are rebuilt from the new definition.
        self.changes.subscribe(self._reload_catalogue, on_lost_track=lambda: None)
        self.resolver = CredentialResolver(
            self.sessions, self.vault_keys, outbound=self.outbound, changes=self.changes
        )
        self.runs.share(self.changes, self.sessions, persist=shared)
        self.audit = AuditBatcher(self.sessions)

    def _reload_catalogue(self, change: Change) -> None:
        """Another replica saved or removed a custom provider: read them again."""
        if change.kind == "provider":
            with self.catalogue_lock:
                self.catalogue = load_catalogue(self.sessions)

    def current_catalogue(self) -> ProviderCatalogue:
        """Read at call time, so the proxy sees a newly registered provider."""
        return self.catalogue


def open_state(settings: ServerSettings, *, stopping: threading.Event | None = None) -> DaemonState:
    """Open the store, the master key and the CA; refuse on any inconsistency.

    ``stopping`` ends a wait for the database server early (the daemon is told to stop).
    """
    layout = settings.layout
    check_home(layout)  # before anything is opened or created
    layout.ensure_private_dir(layout.server_dir)
    engine = create_store_engine(settings.sqlalchemy_url)
    if engine.dialect.name != "sqlite":  # a server that may start after us (team mode)
        wait_for_store(
            engine, timeout=settings.database_wait_seconds, on_retry=_waiting, stop=stopping
        )
    check_sqlite_store(engine, deployment_evidence=_deployment_evidence(layout))
    migrate(engine)
    sessions = make_session_factory(engine)
    deployment_id, master_key = _open_deployment(settings, engine, sessions)
    state = DaemonState(
        settings=settings,
        engine=engine,
        sessions=sessions,
        deployment_id=deployment_id,
        master_key=master_key,
        vault_keys=VaultKeys(master_key.key),
        ca=CertificateAuthority.load_or_create(layout.server_ca_dir),
        catalogue=load_catalogue(sessions),
        replay=replay_cache_for(engine, sessions),
    )
    state.changes.start()
    return state


def _waiting(delay: float, reason: str) -> None:
    log.warning("waiting for the database (%s); trying again in %.2g s", reason, delay)


def _deployment_evidence(layout: HomeLayout) -> Path | None:
    """A file of this home that shows it had a deployment, if there is one.

    The home's key file is written after the schema, as the deployment is
    created, and the pointer to a keyring entry by a running daemon; beside
    either, a missing or empty database was lost, not never made. A key in
    ``AUTHSOME_MASTER_KEY`` is no such evidence: a fresh store with a key given
    from outside is a normal first start (team mode).
    """
    for path in (layout.master_key_file, KeyringConfig.path(layout)):
        if path.exists():
            return path
    return None


def _open_deployment(
    settings: ServerSettings, engine: Engine, sessions: sessionmaker[Session]
) -> tuple[str, MasterKey]:
    try:
        return _open_or_create_deployment(settings, engine, sessions)
    except IntegrityError:
        # Another replica created the deployment at the same moment: open that one
        # (and refuse, as any later replica would, if our key is not its key).
        return _open_or_create_deployment(settings, engine, sessions)


def _open_or_create_deployment(
    settings: ServerSettings, engine: Engine, sessions: sessionmaker[Session]
) -> tuple[str, MasterKey]:
    with sessions() as session, session.begin():
        deployment = session.scalar(select(Deployment))
        if deployment is not None:
            # Existing data: never generate a replacement key over it.
            # Finishes or undoes a rotation a crash interrupted, else checks the key.
            found = load_master_key(settings.layout, create=False)
            master_key = open_with_recovery(found, deployment.key_check)
            return deployment.deployment_id, master_key
        if _holds_data(session):
            # Users or vaults without the deployment record: its key check is
            # lost, so no key could be proven; never start a new deployment over them.
            raise damaged_store(engine, "it holds data but no deployment record")
        master_key = load_master_key(settings.layout, create=True)
        deployment = Deployment(
            id=1,
            deployment_id=secrets.token_hex(16),
            key_check=make_key_check(master_key.key),
        )
        session.add(deployment)
        return deployment.deployment_id, master_key


def _holds_data(session: Session) -> bool:
    return any(
        session.scalar(select(table.id).limit(1)) is not None
        for table in (Principal, Identity, Vault)
    )


def load_catalogue(sessions: sessionmaker[Session]) -> ProviderCatalogue:
    with sessions() as session:
        rows = session.scalars(select(CustomProvider).order_by(CustomProvider.name)).all()
        custom = [load_provider_json(row.definition, source=f"custom:{row.name}") for row in rows]
    return ProviderCatalogue.load(custom)
