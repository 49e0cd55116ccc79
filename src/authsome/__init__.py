"""Authsome: a credential gateway for AI agents.

    from authsome import Client

``Client`` and ``AsyncClient`` are imported on first use, so ``import
authsome`` (and every CLI start) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["AsyncClient", "Client", "__version__"]

if TYPE_CHECKING:
    from authsome.client.library import AsyncClient, Client


def __getattr__(name: str) -> Any:
    if name in ("Client", "AsyncClient"):
        from authsome.client import library

        return getattr(library, name)
    raise AttributeError(f"module 'authsome' has no attribute {name!r}")
