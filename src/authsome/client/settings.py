"""The client side of a home: which identity to use and which daemon to talk to.

``client/config.json`` remembers each identity's deployment, so a CLI never
talks to a daemon of another home by accident.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from authsome.errors import InvalidInput
from authsome.home import DEFAULT_BASE_URL, HomeLayout, write_private_file
from authsome.loopback import is_loopback_host


@dataclass
class ClientConfig:
    default_identity: str | None = None
    identities: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, layout: HomeLayout) -> ClientConfig:
        try:
            raw = json.loads(layout.client_config.read_text())
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"{layout.client_config} is not valid JSON") from exc
        return cls(raw.get("default_identity"), dict(raw.get("identities", {})))

    def save(self, layout: HomeLayout) -> None:
        layout.ensure_private_dir(layout.client_dir)
        data = {"default_identity": self.default_identity, "identities": self.identities}
        write_private_file(layout.client_config, json.dumps(data, indent=2).encode())


@dataclass(frozen=True)
class DaemonRecord:
    """What a running daemon of this home wrote to ``server/daemon.json``."""

    url: str
    deployment_id: str
    pid: int | None

    @classmethod
    def read(cls, layout: HomeLayout) -> DaemonRecord | None:
        try:
            raw = json.loads(layout.daemon_json.read_text())
            return cls(str(raw["url"]), str(raw["deployment_id"]), raw.get("pid"))
        except (OSError, ValueError, KeyError, TypeError):
            return None


@dataclass(frozen=True)
class DaemonTarget:
    url: str
    expected_deployment: str | None
    explicit: bool  # AUTHSOME_BASE_URL was set

    @property
    def is_local(self) -> bool:
        host = urlsplit(self.url).hostname or ""
        return is_loopback_host(host)

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 80


def daemon_target(
    layout: HomeLayout, identity: str | None = None, *, base_url: str | None = None
) -> DaemonTarget:
    """Where this home's clients find their daemon, and which one it must be.

    ``base_url`` (else ``AUTHSOME_BASE_URL``) names a daemon explicitly.
    """
    explicit = base_url or os.environ.get("AUTHSOME_BASE_URL")
    record = DaemonRecord.read(layout)
    url = (explicit or (record.url if record else DEFAULT_BASE_URL)).rstrip("/")
    expected = None
    if record is not None and record.url.rstrip("/") == url:
        expected = record.deployment_id
    elif identity is not None:
        known = ClientConfig.load(layout).identities.get(identity, {})
        if known.get("base_url", "").rstrip("/") == url:
            expected = known.get("deployment_id")
    return DaemonTarget(url=url, expected_deployment=expected, explicit=explicit is not None)


def selected_identity(layout: HomeLayout) -> str | None:
    """``AUTHSOME_IDENTITY``, else the home's default identity."""
    return os.environ.get("AUTHSOME_IDENTITY") or ClientConfig.load(layout).default_identity
