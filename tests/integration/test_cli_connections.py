"""`connections list|inspect|set-default`, `inspect --reveal` and `export`: output,
grants (reveal flag or password), audit events, terminal refusal, shell-safe quoting."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.cli import (
    PASSWORD,
    api_key_provider,
    audit_rows,
    register_provider,
    start_claimed,
)
from tests.support.daemon import Daemon
from tests.support.tty import run_on_tty

OPENAI_KEY = "sk-proj-CONNECTIONtests0123456789ab"
OPENAI_WORK = "sk-proj-WORKconnection9876543210zy"
# No key_pattern on this provider, so keys with every awkward character can be planted.
AWKWARD_KEY = 'it\'s "quoted" $HOME ${PATH} $(id) `id` back\\slash  two  spaces;&|<>*?'


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    daemon = start_claimed(tmp_path_factory.mktemp("connections") / "home")
    try:
        register_provider(daemon, api_key_provider("weird", "api.weird.test", "WEIRD_API_KEY"))
        for args, key in (
            (("login", "openai"), OPENAI_KEY),
            (("login", "openai", "--connection", "work"), OPENAI_WORK),
            (("login", "weird"), AWKWARD_KEY),
        ):
            result = daemon.cli(*args, "--key-stdin", input=key + "\n")
            assert result.code == 0, result.err
        yield daemon
    finally:
        daemon.stop()


def _grant(daemon: Daemon, *args: str) -> dict[str, Any]:
    result = daemon.cli(
        "identity", "grant", *args, "--password-stdin", "--json", input=PASSWORD + "\n"
    )
    assert result.code == 0, result.err
    body: dict[str, Any] = result.json
    return body


def _wait_for(rows: Any, timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = rows()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_list_human_and_json(vault: Daemon) -> None:
    human = vault.cli("connections", "list")
    assert human.code == 0
    lines = human.out.splitlines()
    assert lines[0].split() == [
        "PROVIDER",
        "CONNECTION",
        "DEFAULT",
        "AUTH",
        "STATUS",
        "EXPIRES",
        "UPDATED",
    ]
    assert [line.split()[:3] for line in lines[1:]] == [
        ["openai", "default", "yes"],
        ["openai", "work", "api_key"],
        ["weird", "default", "yes"],
    ]
    as_json = vault.cli("connections", "list", "--json").json
    assert [(c["provider"], c["name"]) for c in as_json] == [
        ("openai", "default"),
        ("openai", "work"),
        ("weird", "default"),
    ]
    assert OPENAI_KEY not in human.out + json.dumps(as_json)


def test_inspect_shows_fields_not_secrets(vault: Daemon) -> None:
    human = vault.cli("connections", "inspect", "openai")
    assert human.code == 0, human.err
    assert "connection: default (default)" in human.out
    assert "secrets: api_key (values hidden)" in human.out
    assert OPENAI_KEY not in human.out
    work = vault.cli("connections", "inspect", "openai", "work", "--json").json
    assert work["name"] == "work" and work["is_default"] is False
    assert work["secret_fields"] == ["api_key"] and "secrets" not in work


def test_set_default(vault: Daemon) -> None:
    try:
        changed = vault.cli("connections", "set-default", "openai", "work")
        assert changed.code == 0 and changed.out == "openai: work is now the default connection\n"
        listed = vault.cli("connections", "list", "--json").json
        assert [c["name"] for c in listed if c["provider"] == "openai" and c["is_default"]] == [
            "work"
        ]
        assert vault.cli("connections", "inspect", "openai", "--json").json["name"] == "work"
        events = audit_rows(vault.home, "connection_default_set")
        assert events[-1][:4] == ("success", events[-1][1], "openai", "work")
    finally:
        back = vault.cli("connections", "set-default", "openai", "default", "--json")
        assert back.code == 0 and back.json["is_default"] is True


def test_reveal_needs_grant_or_password_and_is_audited(vault: Daemon) -> None:
    denied = vault.cli("connections", "inspect", "openai", "--reveal")
    assert denied.code == 4 and "--password-stdin" in denied.err
    assert OPENAI_KEY not in denied.out + denied.err
    assert _wait_for(lambda: [r for r in audit_rows(vault.home, "reveal") if r[0] == "denied"])

    wrong = vault.cli(
        "connections",
        "inspect",
        "openai",
        "--reveal",
        "--password-stdin",
        input="not the password\n",
    )
    assert wrong.code == 2 and OPENAI_KEY not in wrong.out

    by_password = vault.cli(
        "connections",
        "inspect",
        "openai",
        "--reveal",
        "--password-stdin",
        "--json",
        input=PASSWORD + "\n",
    )
    assert by_password.code == 0, by_password.err
    assert by_password.json["secrets"] == {"api_key": OPENAI_KEY}

    _grant(vault, "--reveal")
    try:
        by_grant = vault.cli("connections", "inspect", "openai", "work", "--reveal")
        assert by_grant.code == 0 and by_grant.out.endswith(f"api_key: {OPENAI_WORK}\n")
    finally:
        _grant(vault, "--no-reveal")
    successes = [r for r in audit_rows(vault.home, "reveal") if r[0] == "success"]
    assert [(r[2], r[3], r[4]["via"], r[4]["fields"]) for r in successes[-2:]] == [
        ("openai", "default", "password", ["api_key"]),
        ("openai", "work", "grant", ["api_key"]),
    ]
    assert OPENAI_KEY not in json.dumps(audit_rows(vault.home, "reveal"))


def test_reveal_prompts_for_the_password_at_a_terminal(vault: Daemon) -> None:
    shown = run_on_tty(
        ["connections", "inspect", "openai", "--reveal"],
        vault.env,
        input=PASSWORD + "\n",
        after="password: ",
    )
    assert shown.code == 0, shown.tty
    assert "grant does not allow" in shown.tty and "password" in shown.tty
    assert f"api_key: {OPENAI_KEY}" in shown.tty
    assert PASSWORD not in shown.tty  # the prompt does not echo


def test_export_formats_and_audit(vault: Daemon) -> None:
    denied = vault.cli("export", "openai")
    assert denied.code == 4 and denied.out == ""
    env = vault.cli("export", "openai", "--password-stdin", input=PASSWORD + "\n")
    assert env.code == 0, env.err
    assert env.out == f"export OPENAI_API_KEY={OPENAI_KEY}\n"
    _grant(vault, "--reveal")
    try:
        work = vault.cli("export", "openai", "--connection", "work", "--format", "dotenv")
        assert work.out == f"OPENAI_API_KEY='{OPENAI_WORK}'\n"
        everything = vault.cli("export", "--format", "json").json
        assert everything == {"OPENAI_API_KEY": OPENAI_KEY, "WEIRD_API_KEY": AWKWARD_KEY}
        assert vault.cli("export", "--json").json == everything
        _grant(vault, "--reveal", "--provider", "weird")
        limited = vault.cli("export", "--format", "json").json
        assert limited == {"WEIRD_API_KEY": AWKWARD_KEY}  # the grant's providers only
        outside = vault.cli("export", "openai", "--json")
        assert outside.code == 4 and outside.json["error"] == "forbidden"
    finally:
        _grant(vault, "--no-reveal")
    exports = [r for r in audit_rows(vault.home, "export") if r[0] == "success"]
    assert [(r[2], r[3], r[4]["via"]) for r in exports] == [
        ("openai", "default", "password"),
        ("openai", "work", "grant"),
        ("openai", "default", "grant"),
        ("weird", "default", "grant"),
        ("openai", "default", "grant"),
        ("weird", "default", "grant"),
        ("weird", "default", "grant"),
    ]
    assert _wait_for(lambda: [r for r in audit_rows(vault.home, "export") if r[0] == "denied"])


def test_export_round_trips_through_bash_eval(vault: Daemon) -> None:
    exported = vault.cli("export", "weird", "--password-stdin", input=PASSWORD + "\n")
    assert exported.code == 0, exported.err
    done = subprocess.run(
        ["bash", "-c", 'eval "$(cat)"; printf %s "$WEIRD_API_KEY"'],
        input=exported.out,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout == AWKWARD_KEY
    as_json = vault.cli(
        "export", "weird", "--format", "json", "--password-stdin", input=PASSWORD + "\n"
    )
    assert as_json.json == {"WEIRD_API_KEY": AWKWARD_KEY}


def test_export_refuses_a_terminal_without_yes(vault: Daemon, tmp_path: Any) -> None:
    refused = run_on_tty(
        ["export", "openai", "--password-stdin"], vault.env, stdin_tty=False, input=PASSWORD + "\n"
    )
    assert refused.code == 2 and "refusing to print secrets to a terminal" in refused.tty
    assert OPENAI_KEY not in refused.tty
    allowed = run_on_tty(
        ["export", "openai", "--yes", "--password-stdin"],
        vault.env,
        stdin_tty=False,
        input=PASSWORD + "\n",
    )
    assert allowed.code == 0 and f"OPENAI_API_KEY={OPENAI_KEY}" in allowed.tty
    target = tmp_path / "secrets.env"
    to_file = run_on_tty(
        ["export", "openai", "-o", str(target), "--format", "dotenv", "--password-stdin"],
        vault.env,
        stdin_tty=False,
        input=PASSWORD + "\n",
    )
    assert to_file.code == 0 and OPENAI_KEY not in to_file.tty
    assert target.read_text() == f"OPENAI_API_KEY='{OPENAI_KEY}'\n"
    assert target.stat().st_mode & 0o777 == 0o600


TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "twilioSecretToken42"
TWILIO_PAIR = f"{TWILIO_SID}:{TWILIO_TOKEN}"


@pytest.fixture
def twilio(vault: Daemon) -> Iterator[Daemon]:
    """A Twilio connection holding the 'AccountSid:AuthToken' pair, removed afterwards
    so the other tests' exports of every connection stay as they are."""
    login = vault.cli("login", "twilio", "--key-stdin", input=TWILIO_PAIR + "\n")
    assert login.code == 0, login.err
    try:
        yield vault
    finally:
        assert vault.cli("logout", "twilio").code == 0


def test_export_splits_a_pair_key_into_the_variables_sdks_read(twilio: Daemon) -> None:
    as_json = twilio.cli(
        "export", "twilio", "--format", "json", "--password-stdin", input=PASSWORD + "\n"
    )
    assert as_json.code == 0, as_json.err
    assert as_json.json == {"TWILIO_ACCOUNT_SID": TWILIO_SID, "TWILIO_AUTH_TOKEN": TWILIO_TOKEN}
    as_env = twilio.cli("export", "twilio", "--password-stdin", input=PASSWORD + "\n")
    assert as_env.code == 0, as_env.err
    assert sorted(as_env.out.splitlines()) == [
        f"export TWILIO_ACCOUNT_SID={TWILIO_SID}",
        f"export TWILIO_AUTH_TOKEN={TWILIO_TOKEN}",
    ]
    assert TWILIO_PAIR not in as_json.out + as_env.out  # no variable holds the whole pair


def test_run_keeps_the_callers_account_sid_and_hides_the_token(twilio: Daemon) -> None:
    """A placeholder SID would end up in Twilio's request paths; the token is the secret."""
    names = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN")
    show = f"import json, os; print(json.dumps({{n: os.environ.get(n) for n in {names!r}}}))"
    mine = "AC" + "f" * 32
    ran = twilio.cli(
        "run", "--provider", "twilio", "--", sys.executable, "-c", show,
        env={"TWILIO_ACCOUNT_SID": mine, "TWILIO_AUTH_TOKEN": "stale-token"},
    )  # fmt: skip
    assert ran.code == 0, ran.err
    assert json.loads(ran.out) == {
        "TWILIO_ACCOUNT_SID": mine,
        "TWILIO_AUTH_TOKEN": "authsome-managed",
    }
    assert TWILIO_TOKEN not in ran.out + ran.err
