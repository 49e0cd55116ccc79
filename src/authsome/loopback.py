"""Which hosts are this machine's own: shared by the daemon's settings and the
client, without the settings' heavy imports (``authsome run`` start-up time)."""

from __future__ import annotations

import ipaddress

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def is_loopback_host(host: str) -> bool:
    """True for loopback names and addresses (the only ones bound by default)."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
