"""The documented defaults: API on 127.0.0.1:7998, proxy on 7999, clients at http://127.0.0.1:7998.

The numbers are written out (not read from ``authsome.home``) so that a change
of the constants fails here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from authsome.client.settings import daemon_target
from authsome.config import ServerSettings
from authsome.home import HomeLayout


@pytest.fixture
def no_authsome_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("AUTHSOME_"):
            monkeypatch.delenv(name)


@pytest.mark.usefixtures("no_authsome_env")
def test_server_defaults_to_loopback_7998_and_proxy_7999(tmp_path: Path) -> None:
    settings = ServerSettings(home=tmp_path)
    assert (settings.host, settings.port, settings.proxy_port) == ("127.0.0.1", 7998, 7999)


@pytest.mark.usefixtures("no_authsome_env")
def test_client_defaults_to_the_local_7998_without_record_or_env(tmp_path: Path) -> None:
    target = daemon_target(HomeLayout(tmp_path))
    assert target.url == "http://127.0.0.1:7998"
    assert target.explicit is False and target.expected_deployment is None
    assert target.is_local and target.port == 7998


@pytest.mark.usefixtures("no_authsome_env")
def test_the_record_then_the_env_override_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = HomeLayout(tmp_path)
    layout.server_dir.mkdir(parents=True)
    record = {"url": "http://127.0.0.1:41234", "deployment_id": "d" * 32, "pid": 1}
    layout.daemon_json.write_text(json.dumps(record))
    recorded = daemon_target(layout)
    assert (recorded.url, recorded.expected_deployment) == ("http://127.0.0.1:41234", "d" * 32)
    monkeypatch.setenv("AUTHSOME_BASE_URL", "http://127.0.0.1:5555/")
    explicit = daemon_target(layout)
    assert explicit.url == "http://127.0.0.1:5555" and explicit.explicit is True
    assert explicit.expected_deployment is None
