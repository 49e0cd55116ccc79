"""The daemon's half of ``authsome doctor``: checks only the daemon can make.

Each check answers ok or not, a one-line detail and the fix. None returns a
secret: the vault round trip seals and opens a random value in memory with
the caller's data key and reports only whether it came back intact.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from authsome.crypto.envelope import FieldContext, open_field, seal_field
from authsome.daemon.services.vaults import VaultKeys
from authsome.errors import AuthsomeError
from authsome.proxy.ca import CertificateAuthority
from authsome.store.models import Vault

CA_MIN_REMAINING = timedelta(days=30)
RESTART = "authsome daemon restart"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str | None = None


def vault_round_trip(keys: VaultKeys, vault: Vault) -> Check:
    """Seal and open a random value with the vault's data key (nothing is stored)."""
    value = secrets.token_bytes(32)
    context = FieldContext(vault.id, "authsome-doctor", "round-trip", "probe")
    try:
        opened = open_field(
            keys.data_key(vault), seal_field(keys.data_key(vault), value, context), context
        )
    except AuthsomeError as exc:
        return Check("vault", False, f"the vault's data key does not work ({exc.code})", RESTART)
    if not hmac.compare_digest(opened, value):
        return Check("vault", False, "a sealed value came back changed", RESTART)
    return Check("vault", True, "sealed and opened a random value with your vault's key")


def store_integrity(engine: Engine) -> Check:
    """SQLite's ``PRAGMA quick_check`` (a plain query on other databases)."""
    fix = "restore server/authsome.db from a backup, then authsome daemon restart"
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                rows = [str(row[0]) for row in connection.exec_driver_sql("PRAGMA quick_check")]
            else:
                connection.execute(text("SELECT 1"))
                rows = ["ok"]
    except Exception as exc:
        return Check("store", False, f"the store cannot be read ({type(exc).__name__})", fix)
    if rows != ["ok"]:
        return Check(
            "store", False, f"integrity check found {len(rows)} problem(s): {rows[0]}", fix
        )
    return Check("store", True, f"{engine.dialect.name} integrity check passed")


def providers_parse(sessions: sessionmaker[Session]) -> Check:
    """Re-read every bundled and stored custom provider definition."""
    from authsome.daemon.state import load_catalogue

    try:
        count = len(load_catalogue(sessions).all())
    except AuthsomeError as exc:
        return Check(
            "providers",
            False,
            exc.message,
            "authsome provider register FILE --force with a fixed file",
        )
    return Check("providers", True, f"{count} provider definitions parse")


def ca_validity(ca: CertificateAuthority, now: datetime | None = None) -> Check:
    """The proxy CA is valid now and for at least 30 more days."""
    moment = now or datetime.now(UTC)
    fix = "move server/ca aside, then authsome daemon restart (a new CA is made at start)"
    remaining = ca.not_after - moment
    if remaining <= timedelta(0):
        return Check("proxy_ca", False, f"the proxy CA expired on {ca.not_after:%Y-%m-%d}", fix)
    if remaining < CA_MIN_REMAINING:
        return Check(
            "proxy_ca",
            False,
            f"the proxy CA expires in {remaining.days} days ({ca.not_after:%Y-%m-%d})",
            fix,
        )
    return Check("proxy_ca", True, f"valid until {ca.not_after:%Y-%m-%d}")
