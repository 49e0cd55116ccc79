"""Server settings: resolve overrides, env vars, unsafe binds refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from authsome.config import ServerSettings, is_loopback_host, parse_resolve_entry


def test_resolve_entries_parse_like_curl() -> None:
    assert parse_resolve_entry("API.Example.test.=127.0.0.1:8443") == (
        "api.example.test",
        ("127.0.0.1", 8443),
    )
    assert parse_resolve_entry("v6.test=[::1]:443") == ("v6.test", ("::1", 443))
    for bad in (
        "nohost",
        "a.test=127.0.0.1",
        "a.test=127.0.0.1:x",
        "=1.2.3.4:5",
        "a.test=1.2.3.4:70000",
    ):
        with pytest.raises(ValueError):
            parse_resolve_entry(bad)


def test_env_vars_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    monkeypatch.setenv("AUTHSOME_PROXY_RESOLVE", "a.test=127.0.0.1:1, b.test=127.0.0.2:2")
    monkeypatch.setenv("AUTHSOME_UPSTREAM_CA", str(ca))
    settings = ServerSettings(home=tmp_path)
    assert settings.proxy_resolve == {"a.test": ("127.0.0.1", 1), "b.test": ("127.0.0.2", 2)}
    assert settings.upstream_ca == ca
    flags = ServerSettings(home=tmp_path, proxy_resolve=["c.test=127.0.0.1:3"])
    assert flags.proxy_resolve == {"c.test": ("127.0.0.1", 3)}


def test_non_loopback_bind_needs_public_url(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="public-url"):
        ServerSettings(home=tmp_path, host="0.0.0.0")
    assert (
        ServerSettings(home=tmp_path, host="0.0.0.0", public_url="https://a.example").host
        == "0.0.0.0"
    )


def test_missing_upstream_ca_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="upstream CA"):
        ServerSettings(home=tmp_path, upstream_ca=tmp_path / "missing.pem")


def test_loopback_names() -> None:
    assert all(map(is_loopback_host, ["127.0.0.1", "localhost", "::1", "[::1]", "127.3.4.5"]))
    assert not any(
        map(is_loopback_host, ["0.0.0.0", "10.0.0.1", "example.com", "localhost.evil.test"])
    )
