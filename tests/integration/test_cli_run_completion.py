"""`authsome run --connection <Tab>` completes PROVIDER=NAME pairs from the daemon."""

from __future__ import annotations

import subprocess

from tests.support.daemon import AUTHSOME, Daemon

OPENAI_KEYS = {
    "default": "sk-proj-COMPLETEdefault0123456789",
    "work": "sk-proj-COMPLETEwork987654321",
}


def _complete(daemon: Daemon, words: str) -> list[str]:
    env = daemon.env | {
        "_AUTHSOME_COMPLETE": "bash_complete",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split(" ")) - 1),
    }
    done = subprocess.run([AUTHSOME], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return [line.split(",", 1)[1] for line in done.stdout.splitlines() if line]


def test_run_connection_completes_provider_name_pairs(claimed: Daemon) -> None:
    for name, key in OPENAI_KEYS.items():
        stored = claimed.cli(
            "login", "openai", "--connection", name, "--key-stdin", input=key + "\n"
        )
        assert stored.code == 0, stored.err
    assert _complete(claimed, "authsome run --connection ") == ["openai=default", "openai=work"]
    assert _complete(claimed, "authsome run --connection openai=w") == ["openai=work"]
    assert _complete(claimed, "authsome run --connection git") == []
