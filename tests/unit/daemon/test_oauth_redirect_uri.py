"""The redirect URI a default daemon registers and sends: exactly the issue's loopback URL.

Written out, not built from the constants, so a change of port, host or path fails here.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from starlette.requests import Request

from authsome.config import ServerSettings
from authsome.daemon.routes.oauth import CALLBACK_PATH, daemon_url
from authsome.daemon.state import DaemonState

EXPECTED = "http://127.0.0.1:7998/auth/callback/oauth"


@pytest.fixture
def default_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DaemonState:
    for name in list(os.environ):
        if name.startswith("AUTHSOME_"):
            monkeypatch.delenv(name)
    return cast(DaemonState, SimpleNamespace(settings=ServerSettings(home=tmp_path)))


def _request(server: tuple[str, int] | None) -> Request:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "path": "/auth/sessions",
        "headers": [(b"host", b"127.0.0.1:7998")],
        "server": server,
    }
    return Request(scope)


@pytest.mark.parametrize("server", [("127.0.0.1", 7998), None], ids=["socket", "no-socket"])
def test_a_default_daemon_redirects_to_the_loopback_callback(
    default_state: DaemonState, server: tuple[str, int] | None
) -> None:
    assert daemon_url(_request(server), default_state) + CALLBACK_PATH == EXPECTED
