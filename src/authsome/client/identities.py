"""This home's identities: creating one, listing them, choosing the default.

Each identity is a key file ``client/identities/<handle>.key`` plus an entry
in ``client/config.json`` naming the daemon it registered with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from authsome.client.api import DaemonClient
from authsome.client.connect import ensure_daemon
from authsome.client.launcher import WaitNotice
from authsome.client.settings import ClientConfig, daemon_target, selected_identity
from authsome.crypto.identity_keys import IdentityKey
from authsome.errors import AuthsomeError, IdentityUnknown
from authsome.home import HomeLayout


@dataclass(frozen=True)
class LocalIdentity:
    handle: str
    is_default: bool
    is_selected: bool  # what commands use now (AUTHSOME_IDENTITY, else the default)
    base_url: str | None


def local_identities(layout: HomeLayout) -> list[LocalIdentity]:
    """Every identity whose key file this home holds, sorted by handle."""
    config = ClientConfig.load(layout)
    selected = selected_identity(layout)
    try:
        handles = sorted(path.stem for path in layout.identities_dir.glob("*.key"))
    except OSError:
        handles = []
    return [
        LocalIdentity(
            handle=handle,
            is_default=handle == config.default_identity,
            is_selected=handle == selected,
            base_url=config.identities.get(handle, {}).get("base_url"),
        )
        for handle in handles
    ]


def identity_status(layout: HomeLayout, handle: str) -> dict[str, Any]:
    """What the daemon says about ``handle`` (asked with its own key; never starts one)."""
    key = IdentityKey.load(layout.identity_key(handle))
    target = ensure_daemon(layout, daemon_target(layout, handle), autostart=False)
    with DaemonClient(target.url, key) as client:
        return client.identity_status()


def status_or_error(layout: HomeLayout, handle: str) -> str:
    """``active``/``pending``/``revoked``, or the error code that prevented asking."""
    try:
        return str(identity_status(layout, handle)["status"])
    except AuthsomeError as exc:
        return "revoked" if exc.code == "identity_revoked" else exc.code


def use_identity(layout: HomeLayout, handle: str) -> None:
    """Make ``handle`` this home's default identity."""
    if not layout.identity_key(handle).exists():
        raise IdentityUnknown(f"this home has no key for identity {handle!r}")
    config = ClientConfig.load(layout)
    config.default_identity = handle
    config.save(layout)


def forget_identity(layout: HomeLayout, handle: str) -> None:
    """Remove ``handle``'s key file and config entry (after it was revoked)."""
    layout.identity_key(handle).unlink(missing_ok=True)
    config = ClientConfig.load(layout)
    config.identities.pop(handle, None)
    if config.default_identity == handle:
        config.default_identity = None
    config.save(layout)


def create_identity(
    layout: HomeLayout,
    *,
    make_default: bool,
    claim: tuple[str, str] | None = None,
    on_wait: WaitNotice | None = None,
) -> dict[str, Any]:
    """A new key, registered with this home's daemon; claimed when ``claim`` is given.

    ``claim`` is ``(email, password)`` of the principal. The new identity
    becomes the default when ``make_default`` is set or there is none yet.
    """
    key = IdentityKey.generate()
    target = ensure_daemon(layout, daemon_target(layout, None), on_wait=on_wait)
    with DaemonClient(target.url, key) as client:
        registered = client.register_identity()
        handle = str(registered["handle"])
        layout.ensure_private_dir(layout.identities_dir)
        key.save(layout.identity_key(handle))
        config = ClientConfig.load(layout)
        deployment = client.health()["deployment_id"]
        config.identities[handle] = {"base_url": target.url, "deployment_id": deployment}
        if make_default or config.default_identity is None:
            config.default_identity = handle
        config.save(layout)
        result: dict[str, Any] = dict(registered)
        if claim is not None:
            result = {**client.claim_headless(*claim), "did": registered["did"]}
    result["default"] = ClientConfig.load(layout).default_identity == handle
    return result
