"""`whoami`, `identity list|use|create|revoke|grant`, AUTHSOME_IDENTITY, `daemon logs`."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from tests.support.cli import EMAIL, PASSWORD, audit_rows
from tests.support.daemon import AUTHSOME, Daemon, base_env, run_cli


def test_whoami_human_and_json(claimed: Daemon) -> None:
    human = claimed.cli("whoami")
    assert human.code == 0, human.err
    labels = [line.split(":", 1)[0].strip() for line in human.out.splitlines()]
    assert labels == ["identity", "principal", "role", "vault", "grant", "daemon", "encryption"]
    assert f"principal: {EMAIL}" in human.out and "role: admin" in human.out
    assert f"daemon: {claimed.url}" in human.out
    assert "encryption: AES-256-GCM" in human.out and "server/master.key" in human.out
    me = claimed.cli("whoami", "--json").json
    assert me["status"] == "active" and me["role"] == "admin" and me["email"] == EMAIL
    assert me["daemon_url"] == claimed.url and me["key_source"] == "home-file"
    assert me["grant"] == {"all_providers": True, "providers": [], "reveal": False}
    assert me["vault_id"] and me["principal_id"]


def test_identity_create_use_and_select_by_environment(claimed: Daemon) -> None:
    first = claimed.cli("whoami", "--json").json["handle"]
    created = claimed.cli(
        "identity", "create", "--email", EMAIL, "--password-stdin", "--json", input=PASSWORD + "\n"
    )
    assert created.code == 0, created.err
    second = created.json["handle"]
    assert created.json["status"] == "active" and created.json["default"] is False
    listed = claimed.cli("identity", "list", "--json").json
    assert {(i["handle"], i["is_default"], i["status"]) for i in listed} == {
        (first, True, "active"),
        (second, False, "active"),
    }
    human = claimed.cli("identity", "list")
    assert f"* {first}" in human.out and second in human.out
    chosen = claimed.cli("whoami", "--json", env={"AUTHSOME_IDENTITY": second}).json
    assert chosen["handle"] == second
    assert claimed.cli("identity", "use", first, "--json").json == {
        "default_identity": first,
        "overridden_by_env": False,
    }
    assert claimed.cli("identity", "use", second).out == f"default identity: {second}\n"
    assert claimed.cli("whoami", "--json").json["handle"] == second
    assert claimed.cli("identity", "use", "no-such-handle").code == 2
    pending = claimed.cli("identity", "create")
    assert pending.code == 0 and "(pending)" in pending.out and "/claim/" in pending.out


def test_identity_revoke(claimed: Daemon) -> None:
    created = claimed.cli(
        "identity", "create", "--email", EMAIL, "--password-stdin", "--json", input=PASSWORD + "\n"
    )
    victim = created.json["handle"]
    assert claimed.cli("identity", "revoke", victim).code == 2  # no terminal to confirm on
    revoked = claimed.cli("identity", "revoke", victim, "--yes", "--json")
    assert revoked.code == 0, revoked.err
    assert revoked.json["status"] == "revoked"
    assert not (claimed.home / "client" / "identities" / f"{victim}.key").exists()
    assert victim not in {i["handle"] for i in claimed.cli("identity", "list", "--json").json}
    assert ("success", victim) in [
        (r[0], r[1]) for r in audit_rows(claimed.home, "identity_revoked")
    ]


def test_identity_grant_needs_the_password(claimed: Daemon) -> None:
    wrong = claimed.cli(
        "identity", "grant", "--reveal", "--password-stdin", "--json", input="nope nope nope\n"
    )
    assert wrong.code == 2 and wrong.json["error"] == "authentication_failed"
    unknown = claimed.cli(
        "identity", "grant", "--provider", "no-such", "--password-stdin", input=PASSWORD + "\n"
    )
    assert unknown.code == 4
    granted = claimed.cli(
        "identity",
        "grant",
        "--provider",
        "openai",
        "--reveal",
        "--password-stdin",
        input=PASSWORD + "\n",
    )
    assert granted.code == 0 and granted.out.endswith("may use openai; reveal allowed\n")
    assert claimed.cli("whoami", "--json").json["grant"] == {
        "all_providers": False,
        "providers": ["openai"],
        "reveal": True,
    }
    outcomes = [r[0] for r in audit_rows(claimed.home, "grant_changed")]
    assert outcomes == ["denied", "success"]


def test_daemon_logs(tmp_path: Path) -> None:
    env = base_env(tmp_path / "home")
    started = run_cli(["daemon", "start", "--port", "0"], env)
    assert started.code == 0, started.err
    try:
        human = run_cli(["daemon", "logs", "-n", "5"], env)
        assert human.code == 0 and "serving API on port" in human.out
        lines = run_cli(["daemon", "logs", "--json"], env).out.splitlines()
        records = [json.loads(line) for line in lines]
        assert any(r["logger"] == "authsome.daemon" and r["level"] == "INFO" for r in records)
        assert run_cli(["daemon", "logs", "-n", "1"], env).out.count("\n") == 1
        follower = subprocess.Popen(
            [AUTHSOME, "daemon", "logs", "-f", "-n", "0", "--json"],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            time.sleep(1)
            with open(tmp_path / "home" / "server" / "daemon.log", "a") as log:
                log.write("2026-01-01 00:00:00,000 WARNING test.writer: appended line\n")
            assert follower.stdout is not None
            assert json.loads(follower.stdout.readline()) == {
                "ts": "2026-01-01 00:00:00,000",
                "level": "WARNING",
                "logger": "test.writer",
                "message": "appended line",
            }
        finally:
            follower.terminate()
            follower.wait(timeout=10)
    finally:
        run_cli(["daemon", "stop"], env)
