"""`authsome doctor`: a ✔ line per passing check, ✖ with the fix otherwise, exit 0 only
when all pass; the same as JSON."""

from __future__ import annotations

from pathlib import Path

from tests.support.daemon import Daemon, base_env, run_cli

CHECKS = [
    "home_permissions",
    "key_files",
    "daemon",
    "version",
    "clock",
    "identity",
    "vault",
    "store",
    "providers",
    "proxy_ca",
]


def test_all_checks_pass(claimed: Daemon) -> None:
    human = claimed.cli("doctor")
    assert human.code == 0, human.out + human.err
    lines = human.out.splitlines()
    assert [line.split(":")[0] for line in lines] == [f"✔ {name}" for name in CHECKS]
    as_json = claimed.cli("doctor", "--json")
    assert as_json.code == 0
    assert as_json.json["ok"] is True
    assert [c["name"] for c in as_json.json["checks"]] == CHECKS
    assert all(c["ok"] for c in as_json.json["checks"])
    assert claimed.cli("doctor", "--quiet").out == ""


def test_loose_permissions_fail_with_the_fix(claimed: Daemon) -> None:
    key = next((claimed.home / "client" / "identities").glob("*.key"))
    key.chmod(0o644)
    claimed.home.chmod(0o755)
    try:
        human = claimed.cli("doctor")
        assert human.code == 1
        assert f"✖ home_permissions: readable by others: {claimed.home}" in human.out
        assert f"    fix: chmod 700 {claimed.home}" in human.out
        assert f"    fix: chmod 600 {key}" in human.out
        assert "✔ vault:" in human.out  # the rest still runs
        as_json = claimed.cli("doctor", "--json")
        assert as_json.code == 1 and as_json.json["ok"] is False
        failed = {c["name"]: c["fix"] for c in as_json.json["checks"] if not c["ok"]}
        assert failed == {
            "home_permissions": f"chmod 700 {claimed.home}",
            "key_files": f"chmod 600 {key}",
        }
    finally:
        key.chmod(0o600)
        claimed.home.chmod(0o700)


def test_unclaimed_identity(daemon: Daemon) -> None:
    assert daemon.cli("identity", "create").code == 0  # registered, not claimed
    result = daemon.cli("doctor", "--json")
    assert result.code == 1
    checks = {c["name"]: c for c in result.json["checks"]}
    assert checks["daemon"]["ok"] and checks["version"]["ok"] and checks["clock"]["ok"]
    assert not checks["identity"]["ok"] and "pending" in checks["identity"]["detail"]
    assert "authsome init --email" in checks["identity"]["fix"]
    assert not checks["vault"]["ok"] and checks["vault"]["detail"].startswith("not checked")


def test_no_daemon(tmp_path: Path) -> None:
    env = base_env(tmp_path / "home", AUTHSOME_BASE_URL="http://127.0.0.1:9")
    result = run_cli(["doctor"], env)
    assert result.code == 1
    assert "✖ home_permissions:" in result.out  # the home was never made
    assert "✖ daemon: no daemon answers at http://127.0.0.1:9" in result.out
    assert "    fix: authsome daemon start" in result.out
    assert not (tmp_path / "home" / "server").exists()  # doctor starts nothing
