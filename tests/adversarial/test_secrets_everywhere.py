"""Planted secrets through every CLI flow; the module's ledger then searches the daemon
log, every CLI output, child environments, the audit table and each non-database file
under AUTHSOME_HOME (the ``target`` fixture checks it when the module ends)."""

from __future__ import annotations

from pathlib import Path

from tests.adversarial.conftest import Target

ANTHROPIC = "sk-ant-"


def test_every_flow_keeps_planted_secrets_out_of_logs_outputs_and_files(
    target: Target, tmp_path: Path
) -> None:
    book = target.ledger
    second_key = book.plant("anthropic", prefix=ANTHROPIC)
    passphrase = book.plant("passphrase")
    steps: list[tuple[tuple[str, ...], str | None]] = [
        (("login", "anthropic", "--key-stdin"), second_key),
        (
            ("login", "openai", "--connection", "work", "--key-stdin"),
            book.plant("work", prefix="sk-"),
        ),
        (("connections", "list"), None),
        (("connections", "list", "--json"), None),
        (("connections", "inspect", "openai"), None),
        (("whoami", "--json"), None),
        (("run", "--", "env"), None),
        (("run", "--", "python", "-c", "import os; print(dict(os.environ))"), None),
        (("vault", "rotate-key"), None),
        (("vault", "backup", str(tmp_path / "plain.bak")), None),
        (
            ("vault", "backup", str(tmp_path / "keyed.bak"), "--include-key", "--passphrase-stdin"),
            passphrase,
        ),
        (("vault", "backend", "env"), None),
        (("logout", "openai", "--connection", "work"), None),
        (("log",), None),
        (("log", "--json"), None),
        (("log", "--verify"), None),
        (("daemon", "status"), None),
        (("login", "openai", "--key-stdin"), "not-a-valid-key"),  # an error path
    ]
    for args, stdin in steps:
        result = target.cli(*args, input=None if stdin is None else stdin + "\n")
        assert result.code in (0, 2), (args, result.err)  # type: ignore[attr-defined]
    env_dump = target.cli("run", "--", "env")
    child = env_dump.out  # type: ignore[attr-defined]
    assert "authsome-managed" in child, "the child sees placeholders, not keys"
    for backup in ("plain.bak", "keyed.bak"):
        data = (tmp_path / backup).read_bytes()
        assert not [s for s in book.planted if s.encode() in data], backup
    assert book.leaks() == []
