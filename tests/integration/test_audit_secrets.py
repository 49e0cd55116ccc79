"""Secrets planted in every flow this suite can drive never reach the audit trail.

Passwords (right, wrong, changed), API keys (stored, replaced, found by
``scan``), claim and invite tokens, the run's proxy token, the master key
(before and after rotation) and a backup passphrase, and values an agent
puts into query strings, bodies, headers and cookies of proxied and
resolved requests. Then
the whole ``audit_events`` table (every column of every row), ``authsome log
--json`` and the page's CSV download are searched for each of them. The
flows must have run: their events are checked too, and every event name
found in the table must be documented.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import httpx

from tests.conftest import EMAIL, PASSWORD
from tests.integration.conftest import ACME_KEY, OPENAI_KEY, Gateway
from tests.support import store
from tests.support.daemon import base_env, run_cli
from tests.support.pop import home_key, signed
from tests.support.postgres import use_postgres
from tests.support.vault import backup_with_key
from tests.support.web import csrf_of, following_client
from tests.unit.audit.test_events_documented import _documented

ACME_KEY_2 = "acme-PLANTED-second-ACME-1122334455"
WRONG_PASSWORD = "PLANTED-wrong-password-7781"
USER_PASSWORD = "PLANTED-user-password-4410"
NEW_USER_PASSWORD = "PLANTED-new-user-password-9932"
QUERY_SECRET = "PLANTEDquerySECRET5521"
BODY_SECRET = "PLANTEDbodySECRET8831"
HEADER_SECRET = "PLANTEDheaderSECRET1290"
COOKIE_SECRET = "PLANTEDcookieSECRET3378"
RESOLVE_SECRET = "PLANTEDresolveSECRET6612"
TUNNEL_SECRET = "PLANTEDtunnelSECRET4405"
PASSPHRASE = "PLANTED-backup-passphrase-2207"
SCANNED_KEY = "sk-proj-PLANTEDscannedKEY0123456789abc"


def _sign_in(browser: httpx.Client, email: str, password: str) -> httpx.Response:
    page = browser.get("/login").text
    return browser.post(
        "/login", data={"email": email, "password": password, "csrf": csrf_of(page)}
    )


def _browser_flows(gateway: Gateway, tmp: Path) -> list[str]:
    """Sign-ins (one wrong), an invite, a registration, a password change, a browser claim."""
    url = gateway.daemon.url
    admin = following_client(url)
    wrong = _sign_in(admin, EMAIL, WRONG_PASSWORD)
    assert "/login" in str(wrong.url)
    assert "/login" not in str(_sign_in(admin, EMAIL, PASSWORD).url)
    page = admin.get("/ui/settings/invites").text
    made = admin.post("/ui/settings/invites", data={"csrf": csrf_of(page)}).text
    invite = re.search(r"/invite/([A-Za-z0-9_-]+)", made)
    assert invite, made[:500]
    visitor = following_client(url)
    page = visitor.get(f"/invite/{invite.group(1)}").text
    registered = visitor.post(
        "/register",
        data={
            "email": "user@example.com",
            "password": USER_PASSWORD,
            "password_again": USER_PASSWORD,
            "invite": invite.group(1),
            "csrf": csrf_of(page),
        },
    )
    assert registered.status_code == 200 and "/login" not in str(registered.url)
    page = visitor.get("/ui/settings").text
    changed = visitor.post(
        "/ui/settings/password",
        data={
            "current_password": USER_PASSWORD,
            "new_password": NEW_USER_PASSWORD,
            "new_password_again": NEW_USER_PASSWORD,
            "csrf": csrf_of(page),
        },
    )
    assert changed.status_code == 200, changed.text[:300]

    # A second agent claimed in the browser through its claim link.
    agent_env = base_env(tmp / "agent-home", AUTHSOME_BASE_URL=url)
    init = run_cli(("init", "--no-wait"), agent_env)
    assert init.code == 0, init.err
    link = re.search(r"/claim/([A-Za-z0-9_-]+)", init.out)
    assert link, init.out
    page = admin.get(f"/claim/{link.group(1)}").text
    decided = admin.post(
        f"/claim/{link.group(1)}",
        data={"decision": "accept", "grant": "all", "csrf": csrf_of(page)},
    )
    assert decided.status_code == 200, decided.text[:300]
    handle = run_cli(("whoami", "--json"), agent_env).json["handle"]
    assert run_cli(("identity", "revoke", handle, "--yes"), agent_env).code == 0
    # A failed headless sign-in from a third home.
    other = run_cli(
        ("init", "--email", EMAIL, "--password-stdin"),
        base_env(tmp / "other-home", AUTHSOME_BASE_URL=url),
        input=WRONG_PASSWORD + "\n",
    )
    assert other.code != 0
    return [invite.group(1), link.group(1)]


def _agent_flows(gateway: Gateway) -> list[str]:
    """Proxied, denied, tunnelled and resolved requests full of secrets; reveal and export."""
    daemon = gateway.daemon
    curl = ("curl", "-sS", "-o", "/dev/null")
    planted = (
        "-H", f"Authorization: Bearer {HEADER_SECRET}",
        "-b", f"session={COOKIE_SECRET}",
        "--data", f"password={BODY_SECRET}",
    )  # fmt: skip
    runs = [
        ("run", "--", *curl, *planted, f"https://api.openai.com/v1/chat?api_key={QUERY_SECRET}"),
        ("run", "--provider", "openai", "--", *curl, *planted,
         f"https://api.acme.test/v2/things?token={QUERY_SECRET}"),
        ("run", "--", *curl, "-k", f"https://unmatched.test/x?secret={TUNNEL_SECRET}"),
        ("run", "--", "sh", "-c", 'echo "$HTTPS_PROXY"'),
    ]  # fmt: skip
    proxy_urls = []
    for args in runs:
        result = daemon.cli(*args)
        assert result.code == 0, (args, result.err)
        proxy_urls += re.findall(r"http://run:([^@\s]+)@", result.out)
    assert proxy_urls, "the run's proxy URL was not printed"
    resolved = signed(
        home_key(daemon.home),
        "POST",
        daemon.url + "/resolve",
        body=json.dumps(
            {"url": f"https://api.openai.com/v1/models?key={RESOLVE_SECRET}#{RESOLVE_SECRET}"}
        ).encode(),
    )
    assert resolved.status_code == 200 and resolved.json()["provider"] == "openai"
    exported = daemon.cli(
        "export", "openai", "--format", "json", "--password-stdin", input=PASSWORD + "\n"
    )
    assert exported.code == 0 and OPENAI_KEY in exported.out, exported.err
    refused = daemon.cli(
        "connections", "inspect", "openai", "--reveal", "--password-stdin",
        input=WRONG_PASSWORD + "\n",
    )  # fmt: skip
    assert refused.code != 0
    replaced = daemon.cli("login", "acme", "--key-stdin", "--force", input=ACME_KEY_2 + "\n")
    assert replaced.code == 0, replaced.err
    assert daemon.cli("logout", "acme").code == 0
    # A key found by scan, imported; a backup with the key sealed; a key rotation.
    project = daemon.home.parent / "project"
    project.mkdir()
    (project / ".env").write_text(f"OPENAI_API_KEY={SCANNED_KEY}\n")
    assert daemon.cli("logout", "openai").code == 0
    scanned = daemon.cli("scan", str(project), "--import", "--no-environment")
    assert scanned.code == 0, scanned.err
    keys = [(daemon.home / "server" / "master.key").read_bytes()]
    backup = backup_with_key(daemon, daemon.home.parent / "backup.db", PASSPHRASE)
    # The embedded store's backup; PostgreSQL is backed up with its own tools.
    assert backup.code == (4 if use_postgres() else 0), backup.err
    rotated = daemon.cli("vault", "rotate-key")
    assert rotated.code == 0, rotated.err
    keys.append((daemon.home / "server" / "master.key").read_bytes())
    return proxy_urls + [key.decode().strip() for key in keys]


def test_no_secret_of_any_flow_reaches_the_audit_trail(gateway: Gateway, tmp_path: Path) -> None:
    tokens = _browser_flows(gateway, tmp_path)
    tokens += _agent_flows(gateway)
    daemon = gateway.daemon
    exported_lines = daemon.cli("log", "--json", "--since", "2000-01-01")
    assert exported_lines.code == 0
    admin = following_client(daemon.url)
    _sign_in(admin, EMAIL, PASSWORD)
    csv_text = admin.get("/audit/export.csv?since=all").text
    assert daemon.stop() == 0  # every queued event is written at shutdown

    secrets = [
        OPENAI_KEY, ACME_KEY, ACME_KEY_2, PASSWORD, WRONG_PASSWORD, USER_PASSWORD,
        NEW_USER_PASSWORD, QUERY_SECRET, BODY_SECRET, HEADER_SECRET, COOKIE_SECRET,
        RESOLVE_SECRET, TUNNEL_SECRET, PASSPHRASE, SCANNED_KEY, *tokens,
    ]  # fmt: skip
    with store.connect(daemon.home) as db:
        db.row_factory = sqlite3.Row
        rows = [dict(row) for row in db.execute("SELECT * FROM audit_events ORDER BY id")]
    table_text = "\n".join(json.dumps(row, default=str) for row in rows)
    for secret in secrets:
        assert secret not in table_text, f"{secret[:8]}… found in the audit table"
        assert secret not in exported_lines.out
        assert secret not in csv_text
    assert "?" not in "".join(str(row["path"] or "") for row in rows)  # no query strings

    # The flows really ran: their events are there.
    seen = {(row["event"], row["outcome"]) for row in rows}
    for expected in [
        ("principal_sign_in", "failure"),
        ("principal_sign_in", "success"),
        ("invite_created", "success"),
        ("principal_registered", "success"),
        ("password_changed", "success"),
        ("claim_accepted", "success"),
        ("identity_revoked", "success"),
        ("proxy_request", "success"),
        ("proxy_request", "denied"),
        ("credential_resolved", "success"),
        ("export", "success"),
        ("reveal", "denied"),
        ("login", "success"),
        ("logout", "success"),
        ("run_started", "success"),
        ("run_ended", "success"),
        ("scan_compared", "success"),
        *([] if use_postgres() else [("vault_backup", "success")]),
        ("vault_key_rotated", "success"),
        ("daemon_stopped", "success"),
    ]:
        assert expected in seen, expected
    hosts = {row["host"] for row in rows if row["event"] == "proxy_request"}
    assert "unmatched.test" not in hosts  # tunnelled, not intercepted: nothing to audit
    documented, _reserved = _documented()
    assert {row["event"] for row in rows} <= documented
