"""`POST /resolve`: headers for a URL, with the proxy's matching and grants."""

from __future__ import annotations

import pytest

from authsome.client.connect import open_client
from authsome.errors import CredentialUnavailable, InvalidInput
from authsome.home import HomeLayout
from tests.integration.conftest import ACME_KEY, OPENAI_KEY, Gateway
from tests.support import store


def test_resolve_matched_and_unmatched(gateway: Gateway) -> None:
    with open_client(HomeLayout(gateway.daemon.home), autostart=False) as client:
        openai = client.resolve("https://api.openai.com/v1/models?x=1")
        assert openai == {
            "provider": "openai",
            "connection": "default",
            "headers": {"Authorization": f"Bearer {OPENAI_KEY}"},
        }
        acme = client.resolve("https://eu.api.acme.test/a")
        assert acme["headers"] == {"X-Acme-Key": ACME_KEY}
        assert client.resolve("https://example.test/")["headers"] == {}
        with pytest.raises(InvalidInput, match="https"):
            client.resolve("http://api.openai.com/v1/models")
        with pytest.raises(CredentialUnavailable):
            client.resolve("https://api.openai.com/v1/models", connection="missing")
    gateway.daemon.stop()
    with store.connect(gateway.daemon.home) as db:
        rows = db.execute(
            "SELECT provider, outcome, path FROM audit_events WHERE event = 'credential_resolved' ORDER BY id"
        ).fetchall()
    assert rows == [
        ("openai", "success", "/v1/models"),
        ("acme", "success", "/a"),
        ("openai", "failure", "/v1/models"),
    ]
