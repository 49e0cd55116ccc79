"""``authsome log`` and ``GET /audit/events`` against a real daemon, and the chain
checked by ``authsome log --verify`` after editing, deleting and swapping rows
directly in SQLite."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from tests.conftest import EMAIL, PASSWORD
from tests.integration.conftest import Gateway
from tests.support import store
from tests.support.daemon import AUTHSOME, Daemon, base_env, run_cli
from tests.support.pop import home_key, signed
from tests.support.web import csrf_of, following_client

USER_EMAIL = "user@example.com"
USER_PASSWORD = "another long passphrase for the user"


def _rows(daemon: Daemon) -> list[dict[str, Any]]:
    return [dict(row) for row in store.rows(daemon.home, "SELECT * FROM audit_events ORDER BY id")]


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _log(daemon: Daemon, *args: str) -> list[dict[str, Any]]:
    result = daemon.cli("log", "--json", *args)
    assert result.code == 0, result.err
    return _json_lines(result.out)


def _exercise(gateway: Gateway) -> None:
    for args in (
        ("run", "--", "curl", "-sS", "-o", "/dev/null", "https://api.openai.com/v1/models"),
        ("run", "--", "curl", "-sS", "-o", "/dev/null", "https://api.acme.test/v2/things"),
        # Denied: the run may only use openai.
        ("run", "--provider", "openai", "--", "curl", "-sS", "-o", "/dev/null",
         "https://api.acme.test/v2/other"),
    ):  # fmt: skip
        result = gateway.daemon.cli(*args)
        assert result.code == 0, (args, result.err)


def test_log_shows_filters_and_exports_events(gateway: Gateway) -> None:
    daemon = gateway.daemon
    _exercise(gateway)
    time.sleep(0.6)  # the proxy's batch is flushed every 250 ms

    table = daemon.cli("log")
    assert table.code == 0, table.err
    header = table.out.splitlines()[0].split()
    assert header == ["TIME", "EVENT", "OUTCOME", "AGENT", "PROVIDER/CONNECTION", "HOST/PATH"]
    assert re.search(r"proxy_request\s+success 200\s+\S+\s+openai/default\s+GET "
                     r"api\.openai\.com/v1/models", table.out), table.out  # fmt: skip
    assert "daemon_started" in table.out and "claim_accepted" in table.out

    everything = _log(daemon, "--since", "2000-01-01")
    stored = _rows(daemon)
    assert [event["id"] for event in everything] == [row["id"] for row in stored]
    assert everything[0]["event"] == "daemon_started"
    assert all(len(event["hash"]) == 64 for event in everything)

    newest = _log(daemon)
    assert [event["id"] for event in newest] == [row["id"] for row in stored][-50:]
    assert [event["id"] for event in _log(daemon, "-n", "2")] == [e["id"] for e in everything[-2:]]

    proxied = _log(daemon, "--event", "proxy_request", "--provider", "openai")
    assert proxied and {(e["event"], e["provider"]) for e in proxied} == {
        ("proxy_request", "openai")
    }
    # Every field of a proxied request: method, host, path, status, duration, connection.
    request = proxied[-1]
    assert (request["method"], request["host"], request["path"]) == (
        "GET",
        "api.openai.com",
        "/v1/models",
    )
    assert (request["status"], request["connection"], request["outcome"]) == (
        200,
        "default",
        "success",
    )
    assert isinstance(request["detail"]["duration_ms"], float | int)
    assert request["detail"]["duration_ms"] >= 0 and request["identity"]
    denied = _log(daemon, "--outcome", "denied")
    assert [(e["host"], e["status"]) for e in denied] == [("api.acme.test", 403)]
    assert "not listed with --provider" in denied[0]["detail"]["reason"]

    handle = daemon.cli("whoami", "--json").json["handle"]
    mine = _log(daemon, "--identity", handle, "--since", "1h")
    assert mine and {e["identity"] for e in mine} == {handle}
    assert len(mine) == sum(1 for row in stored if row["identity"] == handle)

    assert _log(daemon, "--since", "2099-01-01") == []
    nothing = daemon.cli("log", "--since", "2099-01-01")
    assert nothing.code == 0 and "no audit events match" in nothing.out
    bad = daemon.cli("log", "--since", "yesterday")
    assert bad.code == 2 and "is not a time" in bad.err

    # Export: JSON lines on stdout, redirected to a file.
    export = daemon.home.parent / "audit.jsonl"
    with open(export, "w") as out:
        done = subprocess.run(
            [AUTHSOME, "log", "--json", "--since", "1h"], env=daemon.env, stdout=out, check=False
        )
    assert done.returncode == 0
    exported = _json_lines(export.read_text())
    assert [e["id"] for e in exported] == [row["id"] for row in stored]


def test_api_pages_with_cursors(claimed: Daemon) -> None:
    for _ in range(3):
        assert claimed.cli("whoami").code == 0
    claimed.cli("provider", "list")
    key = home_key(claimed.home)
    stored = [row["id"] for row in _rows(claimed)]
    assert len(stored) >= 4
    seen: list[int] = []
    cursor = None
    while True:
        query = {"limit": 2} | ({"before": cursor} if cursor else {})
        response = signed(key, "GET", f"{claimed.url}/audit/events?{urlencode(query)}")
        assert response.status_code == 200, response.text
        page = response.json()
        seen += [event["id"] for event in page["events"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(stored, reverse=True)
    after = signed(key, "GET", f"{claimed.url}/audit/events?after={stored[-2]}").json()
    assert [event["id"] for event in after["events"]] == [stored[-1]]
    # No proof, no events.
    assert httpx.get(f"{claimed.url}/audit/events").status_code == 401
    bad = signed(key, "GET", f"{claimed.url}/audit/events?limit=100000")
    assert bad.status_code == 422


def _sign_in(url: str, email: str, password: str) -> httpx.Client:
    browser = following_client(url)
    page = browser.get("/login").text
    response = browser.post(
        "/login", data={"email": email, "password": password, "csrf": csrf_of(page)}
    )
    assert response.status_code == 200 and "/login" not in str(response.url), response.text
    return browser


def add_user(daemon: Daemon, home: Path) -> dict[str, Any]:
    """Open registration as the admin, register a user, claim a second agent for them."""
    admin = _sign_in(daemon.url, EMAIL, PASSWORD)
    page = admin.get("/ui/settings").text
    assert admin.post("/ui/settings/registration", data={"open": "on", "csrf": csrf_of(page)})
    visitor = following_client(daemon.url)
    page = visitor.get("/register").text
    response = visitor.post(
        "/register",
        data={
            "email": USER_EMAIL,
            "password": USER_PASSWORD,
            "password_again": USER_PASSWORD,
            "csrf": csrf_of(page),
        },
    )
    assert response.status_code == 200, response.text
    env = base_env(home, AUTHSOME_BASE_URL=daemon.url)
    result = run_cli(
        ("init", "--email", USER_EMAIL, "--password-stdin", "--json"),
        env,
        input=USER_PASSWORD + "\n",
    )
    assert result.code == 0, result.err
    info: dict[str, Any] = result.json
    info["env"] = env
    return info


def test_users_see_only_their_own_events(claimed: Daemon, tmp_path: Path) -> None:
    user = add_user(claimed, tmp_path / "user-home")
    assert user["role"] == "user"
    run_cli(("whoami",), user["env"])
    result = run_cli(("log", "--json", "--since", "2000-01-01"), user["env"])
    assert result.code == 0, result.err
    theirs = _json_lines(result.out)
    assert theirs and {event["principal_id"] for event in theirs} == {user["principal_id"]}
    assert {"claim_accepted", "principal_registered"} <= {event["event"] for event in theirs}
    everything = _log(claimed, "--since", "2000-01-01")
    assert {event["principal_id"] for event in everything} > {user["principal_id"]}
    assert {e["id"] for e in theirs} < {e["id"] for e in everything}
    # Verification is for admins.
    refused = run_cli(("log", "--verify"), user["env"])
    assert refused.code == 4 and "only an admin" in refused.err
    # The same scope through the browser session.
    browser = _sign_in(claimed.url, USER_EMAIL, USER_PASSWORD)
    page = browser.get("/audit/events?limit=500").json()
    assert {event["principal_id"] for event in page["events"]} == {user["principal_id"]}
    assert browser.get("/audit/verify").status_code == 403


def _verify(daemon: Daemon) -> tuple[int, str]:
    result = daemon.cli("log", "--verify")
    return result.code, result.out + result.err


def test_verify_names_the_first_broken_link(claimed: Daemon) -> None:
    for _ in range(4):
        claimed.cli("provider", "list")
        claimed.cli("logout", "openai")  # fails (no connection) without an event
    claimed.cli("whoami")
    code, text = _verify(claimed)
    ids = [row["id"] for row in _rows(claimed)]
    assert code == 0 and "intact" in text and f"#{ids[-1]}" in text, text
    middle = ids[len(ids) // 2]
    db = store.connect(claimed.home, autocommit=True)

    # 1. An edited field.
    (outcome,) = db.execute("SELECT outcome FROM audit_events WHERE id = ?", (middle,)).fetchone()
    db.execute("UPDATE audit_events SET outcome = 'denied' WHERE id = ?", (middle,))
    code, text = _verify(claimed)
    assert code == 1 and f"#{middle}:" in text and "edited" in text, text
    db.execute("UPDATE audit_events SET outcome = ? WHERE id = ?", (outcome, middle))
    assert _verify(claimed)[0] == 0

    # 2. A deleted event: the next one no longer links.
    saved = db.execute("SELECT * FROM audit_events WHERE id = ?", (middle,)).fetchone()
    db.execute("DELETE FROM audit_events WHERE id = ?", (middle,))
    code, text = _verify(claimed)
    assert code == 1 and f"#{middle + 1}:" in text and "deleted" in text, text
    marks = ",".join("?" * len(saved))
    db.execute(f"INSERT INTO audit_events VALUES ({marks})", saved)  # noqa: S608 - only ?s
    assert _verify(claimed)[0] == 0

    # 3. Two events swapped.
    def swap(first: int, second: int) -> None:
        db.execute("UPDATE audit_events SET id = -1 WHERE id = ?", (first,))
        db.execute("UPDATE audit_events SET id = ? WHERE id = ?", (first, second))
        db.execute("UPDATE audit_events SET id = ? WHERE id = -1", (second,))

    swap(middle, middle + 1)
    code, text = _verify(claimed)
    assert code == 1 and f"#{middle}:" in text and "moved" in text, text
    result = claimed.cli("log", "--verify", "--json")
    assert result.code == 1 and result.json["broken_id"] == middle
    swap(middle, middle + 1)
    code, text = _verify(claimed)
    assert code == 0, text
    db.close()


def test_follow_prints_new_events(claimed: Daemon) -> None:
    process = subprocess.Popen(
        [AUTHSOME, "log", "--follow", "--json", "-n", "1"],
        env=claimed.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = json.loads(process.stdout.readline())
        stored = claimed.cli(
            "login", "openai", "--key-stdin", input="sk-proj-FOLLOWtest0123456789abcdef\n"
        )
        assert stored.code == 0, stored.err
        deadline = time.monotonic() + 15
        seen: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            seen.append(json.loads(line))
            if seen[-1]["event"] == "login":
                break
        assert seen and seen[-1]["event"] == "login", seen
        assert all(event["id"] > first["id"] for event in seen)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
    assert process.returncode == 0, process.stderr.read() if process.stderr else ""


def test_daemon_start_and_stop_are_events(daemon: Daemon) -> None:
    assert daemon.stop() == 0
    events = [row["event"] for row in _rows(daemon)]
    assert events[0] == "daemon_started" and events[-1] == "daemon_stopped"
    from authsome.audit.chain import verify_chain
    from authsome.store.db import create_store_engine, make_session_factory

    engine = create_store_engine(store.database_url(daemon.home))
    with make_session_factory(engine)() as session:
        assert verify_chain(session).intact
    engine.dispose()


def test_registering_a_provider_again_is_an_update(claimed: Daemon, tmp_path: Path) -> None:
    definition = {
        "schema_version": 1,
        "name": "acme",
        "display_name": "Acme",
        "auth_type": "api_key",
        "flow": "api_key",
        "api_url": ["api.acme.test"],
        "api_key": {"header_name": "X-Acme-Key", "header_prefix": "", "env_var": "ACME_API_KEY"},
    }
    path = tmp_path / "acme.json"
    path.write_text(json.dumps(definition))
    assert claimed.cli("provider", "register", str(path)).code == 0
    definition["display_name"] = "Acme Corp"
    path.write_text(json.dumps(definition))
    assert claimed.cli("provider", "register", str(path), "--force").code == 0
    events = [(e["event"], e["provider"]) for e in _log(claimed, "--provider", "acme")]
    assert events == [("provider_registered", "acme"), ("provider_updated", "acme")]
