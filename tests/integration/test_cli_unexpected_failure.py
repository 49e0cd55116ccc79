"""An unexpected failure leaves through `main` as exit 1 (DESIGN §9): one line naming only
the exception type (its text may quote a secret), `{"error": "internal_error", …}` with
--json, the traceback only with AUTHSOME_DEBUG=1.

Provoked with a hand-edited client/config.json whose `identities` is not an object:
valid JSON, so it passes the "not valid JSON" check and fails where it is used.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.daemon import base_env, run_cli

HINT = "AUTHSOME_DEBUG=1 shows the traceback; authsome doctor checks the setup"


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    (home / "client").mkdir(parents=True, mode=0o700)
    home.chmod(0o700)
    config = home / "client" / "config.json"
    config.write_text('{"default_identity": null, "identities": 5}')
    config.chmod(0o600)
    return home


def test_an_unexpected_error_exits_1_with_one_line(tmp_path: Path) -> None:
    # An https URL is never autostarted: were the config read to stop failing, this
    # would exit 9 (daemon unavailable) rather than start a daemon.
    env = base_env(_home(tmp_path), AUTHSOME_BASE_URL="https://127.0.0.1:9")
    human = run_cli(["whoami"], env)
    assert (human.code, human.out) == (1, "")
    assert human.err == f"error: unexpected TypeError (try: {HINT})\n"
    as_json = run_cli(["whoami", "--json"], env)
    assert as_json.code == 1
    assert as_json.json == {"error": "internal_error", "message": "unexpected TypeError"}
    debug = run_cli(["whoami"], env | {"AUTHSOME_DEBUG": "1"})
    assert debug.code == 1 and "Traceback (most recent call last)" in debug.err
