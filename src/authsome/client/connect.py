"""Opening a ``DaemonClient`` for this home: find, check and (if local) start the daemon."""

from __future__ import annotations

from authsome.client.api import DaemonClient
from authsome.client.launcher import WaitNotice, start_background
from authsome.client.settings import DaemonTarget, daemon_target, selected_identity
from authsome.crypto.identity_keys import IdentityKey, make_private
from authsome.errors import DaemonUnavailable, IdentityUnknown
from authsome.home import HomeLayout


def ensure_daemon(
    layout: HomeLayout,
    target: DaemonTarget,
    *,
    autostart: bool = True,
    on_wait: WaitNotice | None = None,
) -> DaemonTarget:
    """Make sure the target answers and is the deployment this home expects."""
    probe = DaemonClient(target.url, None)
    try:
        health = probe.health()
    except DaemonUnavailable:
        # Only a daemon this machine could start: loopback and plain http (the
        # daemon never terminates TLS itself; an https URL is a team's front).
        if not (autostart and target.is_local and target.url.startswith("http://")):
            raise
        record = start_background(layout, port=target.port, on_wait=on_wait)
        return DaemonTarget(record.url, record.deployment_id, target.explicit)
    finally:
        probe.close()
    if health.get("service") != "authsome":
        raise DaemonUnavailable(f"{target.url} is not an Authsome daemon")
    expected = target.expected_deployment
    if expected is None and target.is_local and not target.explicit:
        # This home's own daemon always leaves server/daemon.json behind; a
        # local daemon without one belongs to some other home (or user).
        raise DaemonUnavailable(
            f"the daemon at {target.url} was not started from this Authsome home "
            f"({layout.root}) and may belong to another user",
            hint="authsome daemon start --port 0 starts your own on free ports",
        )
    if expected is not None and health.get("deployment_id") != expected:
        raise DaemonUnavailable(
            f"the daemon at {target.url} belongs to another Authsome home "
            f"(deployment {health.get('deployment_id')}, expected {expected})",
            hint="set AUTHSOME_HOME to that daemon's home, or AUTHSOME_BASE_URL to your own daemon",
        )
    return target


def load_identity_key(layout: HomeLayout, handle: str | None) -> tuple[str, IdentityKey]:
    if handle is None:
        raise IdentityUnknown("no identity in this home yet", hint="authsome init")
    path = layout.identity_key(handle)
    if not path.exists():
        raise IdentityUnknown(
            f"no key file for identity {handle!r} at {path}", hint="authsome init"
        )
    make_private(layout.identities_dir, 0o700)  # others could list or swap its keys
    return handle, IdentityKey.load(path)


def open_client(
    layout: HomeLayout | None = None,
    *,
    autostart: bool = True,
    identity: str | None = None,
    base_url: str | None = None,
    on_wait: WaitNotice | None = None,
) -> DaemonClient:
    """A signed client for this home's selected identity and its daemon.

    ``identity`` and ``base_url`` override ``AUTHSOME_IDENTITY`` and
    ``AUTHSOME_BASE_URL``; ``on_wait`` shows that a daemon is being started.
    """
    url, key = discover(
        layout, autostart=autostart, identity=identity, base_url=base_url, on_wait=on_wait
    )
    return DaemonClient(url, key)


def discover(
    layout: HomeLayout | None = None,
    *,
    autostart: bool = True,
    identity: str | None = None,
    base_url: str | None = None,
    on_wait: WaitNotice | None = None,
) -> tuple[str, IdentityKey]:
    """The daemon URL and identity key ``open_client`` uses (blocking; may start a daemon)."""
    home = layout or HomeLayout.from_env()
    handle, key = load_identity_key(home, identity or selected_identity(home))
    target = daemon_target(home, handle, base_url=base_url)
    target = ensure_daemon(home, target, autostart=autostart, on_wait=on_wait)
    return target.url, key
