"""`authsome run --connection <Tab>` completes PROVIDER=NAME pairs from the daemon."""

from __future__ import annotations

from tests.support.cli import complete
from tests.support.daemon import Daemon

OPENAI_KEYS = {
    "default": "sk-proj-COMPLETEdefault0123456789",
    "work": "sk-proj-COMPLETEwork987654321",
}


def test_run_connection_completes_provider_name_pairs(claimed: Daemon) -> None:
    for name, key in OPENAI_KEYS.items():
        stored = claimed.cli(
            "login", "openai", "--connection", name, "--key-stdin", input=key + "\n"
        )
        assert stored.code == 0, stored.err
    assert complete(claimed, "authsome run --connection ") == ["openai=default", "openai=work"]
    assert complete(claimed, "authsome run --connection openai=w") == ["openai=work"]
    assert complete(claimed, "authsome run --connection git") == []
