"""Host parsing shared by the Host check and the PoP ``htu`` comparison."""

from __future__ import annotations

import pytest

from authsome.daemon.guards import allowed_host_names, host_name, names_public_origin


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("127.0.0.1:7998", "127.0.0.1"),
        ("LOCALHOST", "localhost"),
        ("[::1]:7998", "[::1]"),
        ("authsome.example.internal", "authsome.example.internal"),
    ],
)
def test_host_name(header: str, name: str) -> None:
    assert host_name(header) == name


def test_allowed_names_are_loopback_plus_the_public_host() -> None:
    names = allowed_host_names("https://Authsome.Example.Internal")
    assert {"127.0.0.1", "localhost", "authsome.example.internal"} <= names
    assert "example.internal" not in names


@pytest.mark.parametrize(
    ("header", "public", "expected"),
    [
        ("authsome.example.internal", "https://authsome.example.internal", True),
        ("authsome.example.internal:443", "https://authsome.example.internal", True),
        ("AUTHSOME.example.internal", "https://authsome.example.internal", True),
        ("authsome.example.internal:8443", "https://authsome.example.internal", False),
        ("localhost:8443", "https://localhost:8443", True),
        # The daemon's own loopback port is not the public front on the same name.
        ("localhost:7998", "https://localhost:8443", False),
        ("127.0.0.1:7998", "https://authsome.example.internal", False),
        ("authsome.example.internal:x", "https://authsome.example.internal", False),
        ("", "https://authsome.example.internal", False),
    ],
)
def test_names_public_origin(header: str, public: str, expected: bool) -> None:
    assert names_public_origin(header, public) is expected
