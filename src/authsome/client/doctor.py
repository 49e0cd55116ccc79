"""``authsome doctor``'s checks: this home's files, then the daemon, then the vault.

Each check says ok or not, what it saw, and the command that fixes it.
Nothing here starts a daemon: a doctor reports, it does not treat.

    for check in run_checks(HomeLayout.from_env()):
        print(check.ok, check.name, check.detail, check.fix)
"""

from __future__ import annotations

import stat
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx

from authsome import __version__
from authsome.client.api import DaemonClient
from authsome.client.connect import ensure_daemon, load_identity_key
from authsome.client.settings import DaemonTarget, daemon_target, selected_identity
from authsome.errors import AuthsomeError
from authsome.home import HomeLayout

MAX_SKEW_SECONDS = 30  # half the ±60 s a proof of possession may be off by
SERVER_CHECKS = ("vault", "store", "providers", "proxy_ca")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str | None = None


def _loose(path: Path, allowed: int) -> bool:
    return bool(stat.S_IMODE(path.stat().st_mode) & ~allowed)


def check_permissions(layout: HomeLayout) -> list[Check]:
    """Folders 0700 and key files 0600: nobody else on this machine may read them."""
    folders = [layout.root, layout.client_dir, layout.identities_dir, layout.server_dir]
    loose = [p for p in folders if p.is_dir() and _loose(p, 0o700)]
    home = Check("home_permissions", True, f"{layout.root} and its folders are private (0700)")
    if not layout.root.is_dir():
        home = Check("home_permissions", False, f"{layout.root} does not exist", "authsome init")
    elif loose:
        home = Check(
            "home_permissions",
            False,
            "readable by others: " + ", ".join(map(str, loose)),
            "chmod 700 " + " ".join(map(str, loose)),
        )
    keys = sorted(layout.identities_dir.glob("*.key")) if layout.identities_dir.is_dir() else []
    keys += [layout.master_key_file] if layout.master_key_file.exists() else []
    loose_keys = [p for p in keys if _loose(p, 0o600)]
    key_check = Check("key_files", True, f"{len(keys)} key file(s), each 0600")
    if loose_keys:
        key_check = Check(
            "key_files",
            False,
            "readable by others: " + ", ".join(map(str, loose_keys)),
            "chmod 600 " + " ".join(map(str, loose_keys)),
        )
    return [home, key_check]


def _probe(target: DaemonTarget) -> tuple[dict[str, Any], float | None]:
    """``/health`` and the clock skew (daemon minus here, seconds) from its Date header."""
    before = time.time()
    response = httpx.get(f"{target.url}/health", timeout=3.0, trust_env=False)
    after = time.time()
    response.raise_for_status()
    date = response.headers.get("date")
    skew = parsedate_to_datetime(date).timestamp() - (before + after) / 2 if date else None
    return response.json(), skew


def check_daemon(layout: HomeLayout, target: DaemonTarget) -> tuple[list[Check], bool]:
    """Reachable, this home's deployment, same version, clocks agree; and whether usable."""
    start = "authsome daemon start"
    try:
        health, skew = _probe(target)
        ensure_daemon(layout, target, autostart=False)
    except httpx.HTTPError as exc:
        detail = f"no daemon answers at {target.url} ({type(exc).__name__})"
        return [Check("daemon", False, detail, start)], False
    except AuthsomeError as exc:
        return [Check("daemon", False, exc.message, exc.hint or start)], False
    checks = [Check("daemon", True, f"{target.url} answers (deployment {health['deployment_id']})")]
    version = health.get("version")
    checks.append(
        Check("version", True, f"daemon and CLI are both {__version__}")
        if version == __version__
        else Check(
            "version",
            False,
            f"daemon runs {version}, this CLI is {__version__}",
            "authsome daemon restart",
        )
    )
    if skew is None:
        checks.append(Check("clock", False, "the daemon sent no Date header", None))
    elif abs(skew) > MAX_SKEW_SECONDS:
        # skew is the daemon's clock minus this one: a clock ahead of the daemon's is "+".
        detail = f"this clock is {-skew:+.0f} s off the daemon's; proofs are refused past ±60 s"
        checks.append(Check("clock", False, detail, "sync the clocks (e.g. enable NTP)"))
    else:
        checks.append(Check("clock", True, f"within {max(abs(skew), 1):.0f} s of the daemon"))
    return checks, True


def check_identity(layout: HomeLayout, target: DaemonTarget) -> tuple[Check, DaemonClient | None]:
    """Registered and claimed; returns a client to go on with when it is."""
    try:
        handle, key = load_identity_key(layout, selected_identity(layout))
    except AuthsomeError as exc:
        return Check("identity", False, exc.message, exc.hint), None
    client = DaemonClient(target.url, key)
    try:
        status = client.identity_status()["status"]
    except AuthsomeError as exc:
        client.close()
        revoked = exc.code == "identity_revoked"
        fix = "authsome identity create --use" if revoked else "authsome init"
        return Check("identity", False, f"{handle}: {exc.message}", fix), None
    if status != "active":
        client.close()
        fix = "authsome init --email YOU@EXAMPLE.COM (or open the claim link)"
        return Check("identity", False, f"{handle} is registered but {status}", fix), None
    return Check("identity", True, f"{handle} is registered and claimed"), client


def run_checks(layout: HomeLayout) -> list[Check]:
    """Every check, in order; later ones are reported as not checked when earlier fail."""
    checks = check_permissions(layout)
    target = daemon_target(layout, selected_identity(layout))
    daemon_checks, reachable = check_daemon(layout, target)
    checks += daemon_checks
    client = None
    if reachable:
        identity, client = check_identity(layout, target)
        checks.append(identity)
    if client is None:
        not_checked = "not checked: needs a running daemon and a claimed identity"
        return checks + [Check(name, False, not_checked, None) for name in SERVER_CHECKS]
    with client:
        answer = client.doctor()
    return checks + [Check(**item) for item in answer["checks"]]
