"""Planted secrets never leave the vault in clear; the minimum audit trail exists."""

from __future__ import annotations

import sqlite3

from tests.conftest import PASSWORD
from tests.integration.conftest import ACME_KEY, OPENAI_KEY, Gateway
from tests.support import store

SECRETS = (OPENAI_KEY, ACME_KEY, PASSWORD)


def _exercise(gateway: Gateway) -> None:
    for args in (
        ("run", "--", "curl", "-sS", "-o", "/dev/null", "https://api.openai.com/v1/models?key=q"),
        ("run", "--", "curl", "-sS", "-o", "/dev/null", "https://api.acme.test/v2/things"),
        ("connections", "list"),
        ("connections", "list", "--json"),
        ("provider", "list"),
        ("whoami", "--json"),
        ("logout", "acme"),
    ):
        result = gateway.daemon.cli(*args)
        gateway.outputs.extend([result.out, result.err])
        assert result.code == 0, (args, result.err)


def test_planted_secrets_appear_nowhere_but_encrypted(gateway: Gateway) -> None:
    _exercise(gateway)
    gateway.daemon.stop()  # flush everything the daemon would write
    home = gateway.daemon.home
    database = {
        home / "server" / name for name in ("authsome.db", "authsome.db-wal", "authsome.db-shm")
    }
    searched = 0
    for path in home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            searched += 1
            for secret in SECRETS:
                assert secret.encode() not in data, f"{secret[:6]}… found in {path}"
    assert searched >= 5  # key file, identity key, config, CA files, daemon.json is gone after stop
    for output in gateway.outputs:
        for secret in SECRETS:
            assert secret not in output
    log = gateway.daemon.log_text()
    assert "authsome daemon" in log  # the log is real and was searched
    for secret in SECRETS:
        assert secret not in log
    # The database holds the keys only sealed.
    for path in database:
        if path.exists():
            for secret in SECRETS:
                assert secret.encode() not in path.read_bytes()
    with store.connect(home) as db:
        (sealed,) = db.execute(
            "SELECT ciphertext FROM connection_secrets s JOIN connections c ON c.id = s.connection_id "
            "WHERE c.provider = 'openai'"
        ).fetchone()
        assert sealed[0] == 1 and len(sealed) > len(OPENAI_KEY)  # version byte, nonce, tag
        (hashed,) = db.execute("SELECT password_hash FROM principals").fetchone()
        assert hashed.startswith("$argon2id$")


def test_minimum_audit_events_are_written(gateway: Gateway) -> None:
    _exercise(gateway)
    gateway.daemon.stop()
    with store.connect(gateway.daemon.home) as db:
        db.row_factory = sqlite3.Row
        rows = [dict(row) for row in db.execute("SELECT * FROM audit_events ORDER BY id")]
    events = [row["event"] for row in rows]
    for expected in ("identity_registered", "claim_accepted", "login", "logout", "proxy_request"):
        assert expected in events, events
    proxied = [row for row in rows if row["event"] == "proxy_request"]
    by_host = {row["host"]: row for row in proxied}
    openai = by_host["api.openai.com"]
    assert openai["provider"] == "openai" and openai["connection"] == "default"
    assert openai["method"] == "GET" and openai["path"] == "/v1/models" and openai["status"] == 200
    assert openai["outcome"] == "success" and openai["identity"] and openai["principal_id"]
    assert by_host["api.acme.test"]["provider"] == "acme"
    logins = [row for row in rows if row["event"] == "login"]
    assert {row["provider"] for row in logins} == {"openai", "acme"}
    for row in rows:
        text = " ".join(str(value) for value in row.values())
        assert "key=q" not in text  # no query strings in events
        for secret in SECRETS:
            assert secret not in text
