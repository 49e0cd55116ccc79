"""Opening the daemon client for a command, with a spinner if a daemon must start.

with connect() as client:
    items = client.connections()
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from authsome.cli.output import spinner
from authsome.home import HomeLayout

if TYPE_CHECKING:
    from authsome.client.api import DaemonClient


def connect(layout: HomeLayout | None = None, *, autostart: bool = True) -> DaemonClient:
    """``open_client`` for this home; shows a spinner while a local daemon starts."""
    from authsome.client.connect import open_client

    return open_client(layout, autostart=autostart, on_wait=spinner)
