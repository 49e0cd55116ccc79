"""Secrets typed at a real pseudo-terminal: prompted for, never echoed, and stored.

``run_on_tty`` puts the CLI's stdin and stderr on a pty and types the secret
once the prompt shows; everything the terminal displayed is in ``tty``. A
prompt that echoed would put the typed secret there.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import EMAIL, PASSWORD
from tests.support import store
from tests.support.daemon import Daemon
from tests.support.pop import home_key, signed
from tests.support.tty import run_on_tty

OPENAI_KEY = "sk-proj-TYPEDatAprompt0123456789abc"


def test_login_reads_the_key_at_a_masked_prompt_and_stores_it(claimed: Daemon) -> None:
    typed = run_on_tty(["login", "openai"], claimed.env, input=OPENAI_KEY + "\n", after="API key: ")
    assert typed.code == 0, typed.tty
    assert "OpenAI API key: " in typed.tty
    assert OPENAI_KEY not in typed.tty, "the prompt echoed the key"
    assert "logged in to openai" in typed.tty
    exported = claimed.cli("export", "openai", "--password-stdin", input=PASSWORD + "\n")
    assert exported.code == 0, exported.err
    assert exported.out == f"export OPENAI_API_KEY={OPENAI_KEY}\n"


def test_init_reads_the_password_at_a_masked_prompt_and_stores_it(
    daemon: Daemon, tmp_path: Path
) -> None:
    typed = run_on_tty(
        ["init", "--email", EMAIL], daemon.env, input=PASSWORD + "\n", after="Password: "
    )
    assert typed.code == 0, typed.tty
    assert PASSWORD not in typed.tty, "the prompt echoed the password"
    me = signed(home_key(daemon.home), "GET", daemon.url + "/whoami").json()
    assert me["status"] == "active" and me["email"] == EMAIL and me["role"] == "admin"
    (stored,) = store.rows(daemon.home, "SELECT password_hash FROM principals")
    assert stored[0].startswith("$argon2id$") and PASSWORD not in stored[0]
    # The typed password is the principal's: a second agent signs in with it.
    second = {"AUTHSOME_HOME": str(tmp_path / "second"), "AUTHSOME_BASE_URL": daemon.url}
    signed_in = daemon.cli(
        "init", "--email", EMAIL, "--password-stdin", "--json", input=PASSWORD + "\n", env=second
    )
    assert signed_in.code == 0, signed_in.err
    assert signed_in.json["vault_id"] == me["vault_id"]
