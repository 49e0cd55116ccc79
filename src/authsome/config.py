"""Daemon settings, read once from flags and the environment.

``ServerSettings`` is a value passed to ``create_app``; nothing reads the
environment behind its back. Unsafe combinations are refused when it loads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from authsome.config_file import ServerConfigFile
from authsome.home import DEFAULT_API_PORT, DEFAULT_PROXY_PORT, HomeLayout
from authsome.loopback import LOOPBACK_NAMES, is_loopback_host

__all__ = ["LOOPBACK_NAMES", "ServerSettings", "is_loopback_host", "parse_resolve_entry"]


def parse_resolve_entry(entry: str) -> tuple[str, tuple[str, int]]:
    """Parse ``HOST=IP:PORT`` (curl's ``--resolve`` in spirit)."""
    name, sep, target = entry.strip().partition("=")
    address, colon, port = target.rpartition(":")
    if not sep or not colon or not name or not address or not port.isdigit():
        raise ValueError(f"proxy resolve entry {entry!r} is not HOST=IP:PORT")
    port_number = int(port)
    if not 0 < port_number < 65536:
        raise ValueError(f"proxy resolve entry {entry!r} has an invalid port")
    return name.lower().rstrip("."), (address.strip("[]"), port_number)


class ServerSettings(BaseSettings):
    """Everything the daemon needs to start, from flags, ``AUTHSOME_*`` and the
    optional ``server/config.json`` (``audit.retention_days``)."""

    model_config = SettingsConfigDict(env_prefix="AUTHSOME_", extra="ignore")

    home: Path = Field(default_factory=lambda: HomeLayout.from_env().root)
    host: str = "127.0.0.1"
    port: int = Field(DEFAULT_API_PORT, ge=0, le=65535)
    proxy_port: int = Field(DEFAULT_PROXY_PORT, ge=0, le=65535)
    public_url: str | None = None
    database_url: str | None = None
    #: How long ``daemon serve`` waits for a database server that is not up yet.
    database_wait_seconds: float = Field(60.0, ge=0)
    proxy_resolve: Annotated[dict[str, tuple[str, int]], NoDecode] = Field(default_factory=dict)
    upstream_ca: Path | None = None
    max_body_bytes: int = 1024 * 1024
    #: Connection limits of the API listener (``daemon/connection_guard.py``);
    #: ``header_timeout`` bounds request heads on the proxy listener too.
    header_timeout: float = Field(10.0, gt=0)
    body_timeout: float = Field(30.0, gt=0)
    keep_alive_timeout: float = Field(5.0, gt=0)
    max_connections_per_client: int = Field(64, ge=0)  # 0: no cap
    #: Open proxy connections per client address (``proxy/server.py``); all local
    #: agents share 127.0.0.1, hence more than the API's. 0: no cap.
    proxy_max_connections_per_client: int = Field(256, ge=0)
    #: ``audit.retention_days``: delete audit events older than this (None keeps them all).
    audit_retention_days: int | None = Field(None, ge=1)
    #: Seconds to wait for an authorization server (token, device, discovery
    #: requests); ``AUTHSOME_OUTBOUND_TIMEOUT``, lowered by tests of a hanging server.
    outbound_timeout: float = Field(15.0, gt=0, le=300)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Flags, then ``AUTHSOME_*``, then ``server/config.json`` (``config_file``)."""
        assert isinstance(init_settings, InitSettingsSource)
        return (init_settings, env_settings, ServerConfigFile(settings_cls, init_settings))

    @field_validator("proxy_resolve", mode="before")
    @classmethod
    def _parse_resolve(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple):
            return dict(parse_resolve_entry(str(item)) for item in value)
        return value

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        """An https origin (http only for a loopback name): links and cookies depend on it."""
        if not value:
            return None
        parts = urlsplit(value.strip())
        try:
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError:
            raise ValueError("the public URL has an invalid port") from None
        host = parts.hostname or ""
        if parts.scheme not in ("https", "http") or not host:
            raise ValueError("the public URL must be https://HOST[:PORT]")
        if parts.scheme == "http" and not is_loopback_host(host):
            raise ValueError(
                f"the public URL for {host} must use https (TLS at your reverse proxy)"
            )
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ValueError("the public URL must not carry credentials, a query or a fragment")
        if parts.path.strip("/"):
            raise ValueError("the public URL must not have a path (serve Authsome at the root)")
        return f"{parts.scheme}://{parts.netloc.lower()}"

    @model_validator(mode="after")
    def _refuse_unsafe_bind(self) -> ServerSettings:
        if not is_loopback_host(self.host) and not self.public_url:
            raise ValueError(
                f"binding to {self.host} needs --public-url: without it the daemon "
                "only listens on loopback"
            )
        if self.upstream_ca is not None and not self.upstream_ca.is_file():
            raise ValueError(f"upstream CA file {self.upstream_ca} does not exist")
        return self

    @property
    def layout(self) -> HomeLayout:
        return HomeLayout(self.home.expanduser().absolute())

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.layout.database_file}"
