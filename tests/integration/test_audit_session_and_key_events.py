"""The ``session_ended`` and ``vault_key_moved`` audit events, written by the
real flows: signing out, ending a session from the settings page, and moving
the master key to the OS keyring (a file-based one here) and back."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from tests.conftest import EMAIL, PASSWORD
from tests.support import store
from tests.support.daemon import Daemon, start_daemon
from tests.support.vault import keyring_env
from tests.support.web import Browser


def _events(home: Path, name: str) -> list[dict[str, Any]]:
    rows = store.rows(
        home,
        "SELECT outcome, identity, principal_id, detail FROM audit_events WHERE event = ? "
        "ORDER BY id",
        name,
    )
    return [
        {"outcome": row[0], "identity": row[1], "principal_id": row[2], **json.loads(row[3])}
        for row in rows
    ]


def _session_id(home: Path, browser: Browser) -> str:
    digest = hashlib.sha256(browser.http.cookies["authsome_session"].encode()).hexdigest()
    return str(store.scalar(home, "SELECT id FROM web_sessions WHERE token_hash = ?", digest))


def test_ending_a_browser_session_is_an_event(claimed: Daemon) -> None:
    home = claimed.home
    admin_id = store.scalar(home, "SELECT id FROM principals WHERE email = ?", EMAIL)
    with Browser(claimed.url) as first, Browser(claimed.url) as second:
        first.login(EMAIL, PASSWORD)
        second.login(EMAIL, PASSWORD)
        first_id, second_id = _session_id(home, first), _session_id(home, second)
        cookies = [b.http.cookies["authsome_session"] for b in (first, second)]
        assert _events(home, "session_ended") == []

        # Ended from the settings page of another session of the same principal.
        ended = first.post(f"/ui/settings/sessions/{second_id}/end", form_page="/ui/settings")
        assert ended.status_code == 303, ended.text
        assert second.get("/ui/settings").status_code != 200
        # Ending it again finds nothing and writes nothing.
        again = first.post(f"/ui/settings/sessions/{second_id}/end", form_page="/ui/settings")
        assert again.status_code == 404
        # Signing out.
        signed_out = first.post("/logout", form_page="/ui/settings")
        assert signed_out.headers["location"] == "/login?done=signed_out"

    events = _events(home, "session_ended")
    assert events == [
        {
            "outcome": "success",
            "identity": None,
            "principal_id": admin_id,
            "by": admin_id,
            "session": second_id,
        },
        {
            "outcome": "success",
            "identity": None,
            "principal_id": admin_id,
            "by": admin_id,
            "session": first_id,
        },
    ]
    # The events name the session's row id, never its cookie.
    dumped = json.dumps(store.rows(home, "SELECT * FROM audit_events"), default=str)
    assert not any(cookie in dumped for cookie in cookies)


def test_moving_the_master_key_is_an_event(home: Path, tmp_path: Path) -> None:
    daemon = start_daemon(home, env=keyring_env(tmp_path))
    try:
        init = daemon.cli("init", "--email", EMAIL, "--password-stdin", input=PASSWORD + "\n")
        assert init.code == 0, init.err
        key_text = (home / "server" / "master.key").read_text().strip()  # base64
        handle = daemon.cli("whoami", "--json").json["handle"]
        admin_id = store.scalar(home, "SELECT id FROM principals WHERE email = ?", EMAIL)
        for backend, changed in (("keyring", True), ("file", True), ("file", False)):
            moved = daemon.cli("vault", "backend", backend, "--json")
            assert moved.code == 0, moved.err
            assert moved.json["changed"] is changed
        events = _events(home, "vault_key_moved")
        assert events == [
            {
                "outcome": "success",
                "identity": handle,
                "principal_id": admin_id,
                "backend": backend,
                "changed": changed,
            }
            for backend, changed in (("keyring", True), ("file", True), ("file", False))
        ]
        assert (home / "server" / "master.key").read_text().strip() == key_text  # moved back
        dumped = json.dumps(store.rows(home, "SELECT * FROM audit_events"), default=str)
        assert key_text not in dumped and base64.b64decode(key_text).hex() not in dumped
    finally:
        daemon.stop()


def test_a_failed_move_writes_no_event(home: Path) -> None:
    daemon = start_daemon(home, env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"})
    try:
        init = daemon.cli("init", "--email", EMAIL, "--password-stdin", input=PASSWORD + "\n")
        assert init.code == 0, init.err
        assert daemon.cli("vault", "backend", "keyring").code == 1
        assert _events(home, "vault_key_moved") == []
    finally:
        daemon.stop()
