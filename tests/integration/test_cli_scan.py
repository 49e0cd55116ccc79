"""`authsome scan`: keys in .env, .env.local and shell exports (and the environment),
a drift report against the vault by fingerprint, --import; values never printed."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.support.cli import api_key_provider, audit_rows, register_provider
from tests.support.daemon import Daemon

STORED = "sk-proj-STOREDkey0123456789abcdefgh"
CHANGED = "sk-proj-CHANGEDkey987654321zyxwvu"
ANTHROPIC = "sk-ant-api03-" + "A1b2C3d4" * 5
PLAIN = "plain key with spaces & $dollars"
FROM_ENV = "sk-proj-ENVIRONMENTkey55555555555"


def _fingerprint(value: str) -> str:
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:12]


def _tree(root: Path) -> Path:
    (root / "app" / "node_modules").mkdir(parents=True)
    (root / "app" / ".env").write_text(
        f"# settings\nOPENAI_API_KEY={STORED}\nDEBUG=1\nANTHROPIC_API_KEY='{ANTHROPIC}'\n"
    )
    (root / "app" / ".env.local").write_text(f'OPENAI_API_KEY="{CHANGED}"  \n')
    (root / "app" / ".envrc").write_text(
        f"export PLAINCO_API_KEY='{PLAIN}'\nexport OPENAI_API_KEY=authsome-managed\n"
    )
    (root / "app" / "node_modules" / ".env").write_text(f"OPENAI_API_KEY={CHANGED}\n")
    (root / "app" / "README.md").write_text(f"OPENAI_API_KEY={CHANGED}\n")
    return root / "app"


def test_scan_reports_drift_and_imports(claimed: Daemon, tmp_path: Path) -> None:
    register_provider(claimed, api_key_provider("plainco", "api.plainco.test", "PLAINCO_API_KEY"))
    assert claimed.cli("login", "openai", "--key-stdin", input=STORED + "\n").code == 0
    app = _tree(tmp_path)
    env = {"OPENAI_API_KEY": FROM_ENV}

    human = claimed.cli("scan", str(app), env=env)
    assert human.code == 0, human.err
    rows = [
        line.split() for line in human.out.splitlines()[1:] if line.startswith(("/", "environment"))
    ]
    assert [(r[0], r[1], r[2], r[3], " ".join(r[4:])) for r in rows] == [
        (
            f"{app}/.env:2",
            "OPENAI_API_KEY",
            "openai",
            _fingerprint(STORED),
            "same as vault (default)",
        ),
        (f"{app}/.env:4", "ANTHROPIC_API_KEY", "anthropic", _fingerprint(ANTHROPIC), "new"),
        (
            f"{app}/.env.local:1",
            "OPENAI_API_KEY",
            "openai",
            _fingerprint(CHANGED),
            "differs from vault",
        ),
        (f"{app}/.envrc:1", "PLAINCO_API_KEY", "plainco", _fingerprint(PLAIN), "new"),
        ("environment", "OPENAI_API_KEY", "openai", _fingerprint(FROM_ENV), "differs from vault"),
    ]
    assert "authsome scan --import" in human.out
    for secret in (STORED, CHANGED, ANTHROPIC, PLAIN, FROM_ENV):
        assert secret not in human.out + human.err

    as_json = claimed.cli("scan", str(app), "--no-environment", "--json")
    findings = as_json.json["findings"]
    assert [(f["variable"], f["status"], f["line"]) for f in findings] == [
        ("OPENAI_API_KEY", "same", 2),
        ("ANTHROPIC_API_KEY", "new", 4),
        ("OPENAI_API_KEY", "differs", 1),
        ("PLAINCO_API_KEY", "new", 1),
    ]
    assert as_json.json["imported"] == [] and CHANGED not in as_json.out

    imported = claimed.cli("scan", str(app), "--import", "--no-environment", "--json")
    assert imported.code == 0, imported.err
    assert [(i["provider"], i["connection"]) for i in imported.json["imported"]] == [
        ("anthropic", "default"),
        ("openai", f"imported-{hashlib.sha256(CHANGED.encode()).hexdigest()[:8]}"),
        ("plainco", "default"),
    ]
    again = claimed.cli("scan", str(app), "--no-environment", "--json").json["findings"]
    assert {f["status"] for f in again} == {"same"}
    connections = {
        (c["provider"], c["name"]) for c in claimed.cli("connections", "list", "--json").json
    }
    assert ("plainco", "default") in connections and ("anthropic", "default") in connections
    assert [r[0] for r in audit_rows(claimed.home, "scan_compared")] == ["success"] * 4


def test_scan_of_an_empty_tree(claimed: Daemon, tmp_path: Path) -> None:
    result = claimed.cli("scan", str(tmp_path), "--no-environment")
    assert result.code == 0 and result.out == "no provider keys found\n"
    assert claimed.cli("scan", str(tmp_path / "missing")).code == 2
