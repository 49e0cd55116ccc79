"""Claim links, grants and revocation through the dashboard, against a real daemon."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from authsome.crypto.identity_keys import IdentityKey
from tests.conftest import EMAIL, PASSWORD
from tests.integration.conftest import OPENAI_KEY, Gateway
from tests.support.daemon import Daemon, start_daemon
from tests.support.pop import home_key, signed
from tests.support.tty_process import TtyProcess
from tests.support.web import LONG_AGO, Browser, database, execute, scalar

ADMIN = "admin@example.com"
ADMIN_PASSWORD = "a long enough passphrase"
#: What `init` shows on a terminal while the claim is undecided (cli/claim_wait.py).
WAITING = "waiting for the claim to be decided in the browser (Ctrl-C to stop)"


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """One daemon for this module: every test makes its own agents and filters by them."""
    running = start_daemon(tmp_path_factory.mktemp("claims") / "home")
    Browser(running.url).register(ADMIN, ADMIN_PASSWORD)
    yield running
    running.stop()


@pytest.fixture
def daemon(shared: Daemon) -> Daemon:
    return shared


@pytest.fixture
def admin(shared: Daemon) -> Browser:
    browser = Browser(shared.url)
    browser.login(ADMIN, ADMIN_PASSWORD)
    return browser


def _agent_env(daemon: Daemon, tmp_path: Path) -> dict[str, str]:
    """A separate client home for a CLI agent of the shared daemon."""
    return daemon.env | {"AUTHSOME_HOME": str(tmp_path / "agent"), "AUTHSOME_BASE_URL": daemon.url}


def _identity_id(daemon: Daemon, handle: str) -> str:
    return str(scalar(daemon.home, "SELECT id FROM identities WHERE handle = ?", handle))


def _new_agent(daemon: Daemon) -> tuple[IdentityKey, dict]:
    key = IdentityKey.generate()
    answer = signed(key, "POST", daemon.url + "/identities", body=b"{}")
    assert answer.status_code == 201, answer.text
    return key, answer.json()


def _claim_path(registered: dict) -> str:
    return "/claim/" + registered["claim_url"].rsplit("/claim/", 1)[1]


def _decide(browser: Browser, path: str, **fields: object) -> httpx.Response:
    return browser.post(path, fields, form_page=path)


def _stored_time(daemon: Daemon, sql: str, *params: str) -> datetime:
    """A timestamp column as the daemon stored it (naive UTC in SQLite)."""
    return datetime.fromisoformat(str(scalar(daemon.home, sql, *params))).replace(tzinfo=UTC)


def _status(daemon: Daemon, key: IdentityKey) -> dict:
    return signed(key, "GET", daemon.url + "/identities/self").json()


def test_claim_page_needs_a_sign_in_and_comes_back(admin: Browser, daemon: Daemon) -> None:
    _key, registered = _new_agent(daemon)
    path = _claim_path(registered)
    stranger = Browser(daemon.url)
    answer = stranger.get(path)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=" + path
    login = stranger.post("/login", {"email": ADMIN, "password": ADMIN_PASSWORD, "next": path})
    assert login.headers["location"] == path


def test_claim_link_before_any_account_comes_back_after_registering(tmp_path: Path) -> None:
    """Issue 3: a claim link opened on a fresh daemon goes /login -> /register and,
    once the first account exists, on to the claim page it was opened for."""
    fresh = start_daemon(tmp_path / "fresh")
    try:
        _key, registered = _new_agent(fresh)
        path = _claim_path(registered)
        browser = Browser(fresh.url)
        to_login = browser.get(path)
        assert to_login.headers["location"] == "/login?next=" + path
        to_register = browser.get(to_login.headers["location"])
        assert to_register.status_code == 303
        assert to_register.headers["location"] == "/register?next=" + path
        form_page = to_register.headers["location"]
        assert f'name="next" value="{path}"' in browser.get(form_page).text

        # Only local paths are carried: another site's address is dropped on the way.
        assert browser.get("/login?next=//evil.test/x").headers["location"] == "/register"
        home_only = 'name="next" value="/"'
        assert home_only in browser.get("/register?next=https://evil.test").text
        fields = {"email": ADMIN, "password": ADMIN_PASSWORD, "next": path}
        refused = browser.post(
            "/register", fields | {"password_again": "another passphrase"}, form_page=form_page
        )
        assert refused.status_code == 400
        assert f'name="next" value="{path}"' in refused.text  # kept for the next attempt
        elsewhere = browser.post(
            "/register",
            fields | {"password_again": "another passphrase", "next": "//evil.test/x"},
            form_page=form_page,
        )
        assert home_only in elsewhere.text

        created = browser.post(
            "/register", fields | {"password_again": ADMIN_PASSWORD}, form_page=form_page
        )
        assert created.status_code == 303
        assert created.headers["location"] == path
        page = browser.get(path)
        assert page.status_code == 200 and registered["handle"] in page.text
        accepted = _decide(browser, path, decision="accept", grant="all")
        assert accepted.headers["location"].startswith(f"/ui/agents/{registered['handle']}")

        # Signed out, the sign-in page's Register link carries the page to come back to.
        stranger = Browser(fresh.url)
        login_page = stranger.get("/login?next=/ui/agents")
        assert 'href="/register?next=/ui/agents"' in login_page.text
    finally:
        fresh.stop()


def test_claim_page_shows_who_is_asking(admin: Browser, daemon: Daemon) -> None:
    _key, registered = _new_agent(daemon)
    page = admin.get(_claim_path(registered))
    assert page.status_code == 200
    assert registered["handle"] in page.text
    assert f"SHA256:{registered['jkt']}" in page.text
    assert "127.0.0.1" in page.text  # where it registered from
    # When it registered, and until when the link is valid: 15 minutes after it was made.
    identity_id = _identity_id(daemon, registered["handle"])
    registered_at = _stored_time(
        daemon, "SELECT registered_at FROM identities WHERE id = ?", identity_id
    )
    created = _stored_time(
        daemon, "SELECT created_at FROM claims WHERE identity_id = ?", identity_id
    )
    expires = _stored_time(
        daemon, "SELECT expires_at FROM claims WHERE identity_id = ?", identity_id
    )
    assert expires - created == timedelta(minutes=15)
    facts = dict(re.findall(r"<dt>([^<]+)</dt><dd>(.*?)</dd>", page.text))
    assert facts["Registered"].startswith(registered_at.strftime("%Y-%m-%d %H:%M UTC"))
    assert facts["Link valid until"] == expires.strftime("%Y-%m-%d %H:%M UTC")
    assert 'value="all" data-grant-mode checked' in page.text  # all providers by default
    assert 'name="reveal" value="on">' in page.text  # reveal unticked by default


def test_accept_with_a_provider_list_enforces_the_grant(admin: Browser, daemon: Daemon) -> None:
    key, registered = _new_agent(daemon)
    path = _claim_path(registered)
    accepted = _decide(admin, path, decision="accept", grant="list", providers=["openai"])
    assert accepted.headers["location"] == f"/ui/agents/{registered['handle']}?done=accepted"
    assert _status(daemon, key)["status"] == "active"
    assert _status(daemon, key)["claim_state"] == "accepted"
    whoami = signed(key, "GET", daemon.url + "/whoami").json()
    assert whoami["email"] == ADMIN and whoami["vault_id"]  # the vault was created
    agent_page = admin.get(accepted.headers["location"])
    assert "openai; reveal not allowed" in agent_page.text

    body = json.dumps({"url": "https://api.anthropic.com/v1/messages"}).encode()
    denied = signed(key, "POST", daemon.url + "/resolve", body=body)
    assert denied.status_code == 403 and "does not include anthropic" in denied.text
    body = json.dumps({"url": "https://api.openai.com/v1/models"}).encode()
    allowed = signed(key, "POST", daemon.url + "/resolve", body=body)
    assert allowed.json()["error"] == "credential_unavailable"  # in grant, just no key yet

    # The token was single use: the same link now answers like one that never existed.
    reused = admin.get(path)
    unknown = admin.get("/claim/" + "A" * 43)
    assert reused.status_code == unknown.status_code == 404
    assert reused.text == unknown.text
    again = _decide(admin, path, decision="accept", grant="all")
    assert again.status_code == 404


def test_reject_leaves_the_agent_unclaimed(admin: Browser, daemon: Daemon) -> None:
    key, registered = _new_agent(daemon)
    rejected = _decide(admin, _claim_path(registered), decision="reject")
    assert rejected.headers["location"] == "/?done=rejected"
    status = _status(daemon, key)
    assert status["status"] == "pending" and status["claim_state"] == "rejected"
    assert signed(key, "GET", daemon.url + "/whoami").json()["error"] == "identity_pending"
    event = scalar(
        daemon.home,
        "SELECT count(*) FROM audit_events WHERE event = 'claim_rejected' AND identity = ?",
        registered["handle"],
    )
    assert event == 1


def test_expired_claim_is_refused_and_init_again_issues_a_fresh_one(
    admin: Browser, daemon: Daemon
) -> None:
    key, registered = _new_agent(daemon)
    old_path = _claim_path(registered)
    identity_id = _identity_id(daemon, registered["handle"])
    execute(
        daemon.home, "UPDATE claims SET expires_at = ? WHERE identity_id = ?", LONG_AGO, identity_id
    )
    assert admin.get(old_path).status_code == 404
    assert _decide(admin, old_path, decision="accept", grant="all").status_code == 404
    assert _status(daemon, key)["claim_state"] == "expired"
    assert _status(daemon, key)["status"] == "pending"

    # Looking up the status created no claim and revealed no token.
    assert (
        scalar(daemon.home, "SELECT count(*) FROM claims WHERE identity_id = ?", identity_id) == 1
    )
    assert _status(daemon, key).get("claim_url") is None

    again = signed(key, "POST", daemon.url + "/identities", body=b"{}").json()
    assert again["handle"] == registered["handle"]
    new_path = _claim_path(again)
    assert new_path != old_path
    live = "SELECT count(*) FROM claims WHERE token_hash IS NOT NULL AND identity_id = ?"
    assert scalar(daemon.home, live, identity_id) == 1
    assert _decide(admin, new_path, decision="accept", grant="all").status_code == 303
    assert _status(daemon, key)["status"] == "active"


def test_token_has_at_least_128_bits(daemon: Daemon) -> None:
    _key, registered = _new_agent(daemon)
    token = _claim_path(registered).removeprefix("/claim/")
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)  # 32 random bytes, base64url
    stored = scalar(
        daemon.home,
        "SELECT token_hash FROM claims WHERE identity_id = ?",
        _identity_id(daemon, registered["handle"]),
    )
    assert stored != token and len(stored) == 64


def test_grant_edit_and_revoke_from_the_agent_page(admin: Browser, daemon: Daemon) -> None:
    key, registered = _new_agent(daemon)
    handle = registered["handle"]
    _decide(admin, _claim_path(registered), decision="accept", grant="all")
    page = f"/ui/agents/{handle}"
    saved = admin.post(
        f"{page}/grant",
        {"grant": "list", "providers": ["openai", "anthropic"], "reveal": "on"},
        form_page=page,
    )
    assert saved.headers["location"] == f"{page}?done=grant"
    assert "anthropic, openai; reveal allowed" in admin.get(page).text
    unknown = admin.post(f"{page}/grant", {"grant": "list", "providers": ["nope"]}, form_page=page)
    assert unknown.status_code == 400
    changes = scalar(
        daemon.home,
        "SELECT count(*) FROM audit_events WHERE event = 'grant_changed' AND identity = ?",
        handle,
    )
    assert changes == 2  # at accept, then the edit; the refused edit wrote nothing

    revoked = admin.post(f"{page}/revoke", form_page=page)
    assert revoked.headers["location"] == f"{page}?done=revoked"
    answer = signed(key, "GET", daemon.url + "/whoami")
    assert answer.status_code == 401 and answer.json()["error"] == "identity_revoked"
    assert "revoked" in admin.get("/ui/agents").text


def test_init_waits_for_the_browser_and_reports_who_claimed(
    admin: Browser, daemon: Daemon, tmp_path: Path
) -> None:
    child = subprocess.Popen(
        [*_authsome(), "init"],
        env=_agent_env(daemon, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        path = _read_claim_path(child)
        time.sleep(1.5)
        assert child.poll() is None  # still waiting
        _decide(admin, path, decision="accept", grant="all")
        out, err = child.communicate(timeout=30)
    finally:
        child.kill()
    assert child.returncode == 0, err
    assert f"claimed by {ADMIN} (admin)" in out


def test_init_on_a_terminal_shows_a_spinner_while_it_waits(
    admin: Browser, daemon: Daemon, tmp_path: Path
) -> None:
    """Issue 3: on a terminal, `init` without --email says what it waits for and how to
    stop, until the claim is accepted in the browser."""
    with TtyProcess(["init"], _agent_env(daemon, tmp_path)) as init:
        path = init.wait_for(r"https?://\S+(/claim/[A-Za-z0-9_-]+)").group(1)
        init.wait_for(re.escape(WAITING))
        time.sleep(1.5)  # a few polls: it keeps waiting
        assert init.process.poll() is None
        _decide(admin, path, decision="accept", grant="all")
        assert init.finish() == 0, init.tty
    shown = init.tty
    assert shown.index(WAITING) < shown.index(f"claimed by {ADMIN} (admin)")


def test_init_exits_2_when_rejected(admin: Browser, daemon: Daemon, tmp_path: Path) -> None:
    child = subprocess.Popen(
        [*_authsome(), "init"],
        env=_agent_env(daemon, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        _decide(admin, _read_claim_path(child), decision="reject")
        _out, err = child.communicate(timeout=30)
    finally:
        child.kill()
    assert child.returncode == 2
    assert "the claim was rejected" in err and "authsome init" in err


def test_ctrl_c_stops_waiting(daemon: Daemon, tmp_path: Path) -> None:
    child = subprocess.Popen(
        [*_authsome(), "init"],
        env=_agent_env(daemon, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        _read_claim_path(child)
        child.send_signal(signal.SIGINT)
        _out, err = child.communicate(timeout=30)
    finally:
        child.kill()
    assert child.returncode == 2
    assert "cancelled" in err and "Traceback" not in err


def test_init_no_wait_prints_the_link_and_returns(daemon: Daemon, tmp_path: Path) -> None:
    result = daemon.cli("init", "--no-wait", env=_agent_env(daemon, tmp_path))
    assert result.code == 0, result.err
    assert "/claim/" in result.out


def test_changed_grant_reaches_a_running_agent(gateway: Gateway, tmp_path: Path) -> None:
    """``authsome run`` started with openai allowed; the grant changes mid-run; its next
    request through the proxy is refused without restarting anything."""
    daemon = gateway.daemon
    browser = Browser(daemon.url)
    browser.login(EMAIL, PASSWORD)
    handle = daemon.cli("whoami", "--json").json["handle"]
    go, first, second = tmp_path / "go", tmp_path / "first", tmp_path / "second"
    curl = "curl -sS -o /dev/null -w '%{http_code}' https://api.openai.com/v1/models"
    script = f"{curl} > {first}; while [ ! -e {go} ]; do sleep 0.1; done; {curl} > {second}"
    run = subprocess.Popen(
        [*_authsome(), "run", "--", "sh", "-c", script],
        env=daemon.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not (first.exists() and first.read_text()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert first.read_text() == "200"
        page = f"/ui/agents/{handle}"
        saved = browser.post(
            f"{page}/grant", {"grant": "list", "providers": ["acme"]}, form_page=page
        )
        assert saved.status_code == 303
        go.touch()
        run.communicate(timeout=30)
    finally:
        run.kill()
    assert second.read_text() == "403"

    # The same grant refuses resolve and export; every refusal is a `denied` event.
    body = json.dumps({"url": "https://api.openai.com/v1/models"}).encode()
    resolved = signed(home_key(daemon.home), "POST", daemon.url + "/resolve", body=body)
    assert resolved.status_code == 403 and "does not include openai" in resolved.text
    exported = daemon.cli("export", "openai", "--json")
    assert exported.code == 4 and exported.json["error"] == "forbidden"
    assert OPENAI_KEY not in exported.out + exported.err
    query = (
        "SELECT event, detail FROM audit_events "
        "WHERE outcome = 'denied' AND identity = ? AND provider = 'openai' ORDER BY id"
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:  # the proxy's and resolve's events are batched
        with database(daemon.home) as db:
            denied = [
                f"{event}:{json.loads(detail or '{}').get('reason', '')}"
                for event, detail in db.execute(query, (handle,))
            ]
        if len(denied) >= 3:
            break
        time.sleep(0.2)
    reasons = dict(entry.split(":", 1) for entry in denied)
    assert sorted(reasons) == ["credential_resolved", "export", "proxy_request"], denied
    assert reasons["credential_resolved"] == "not in grant"
    assert reasons["export"] == "not in grant"
    assert "grant does not include it" in reasons["proxy_request"]


def _authsome() -> list[str]:
    from tests.support.daemon import AUTHSOME

    return [AUTHSOME]


def _read_claim_path(child: subprocess.Popen[str]) -> str:
    assert child.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = child.stdout.readline()
        found = re.search(r"https?://\S+(/claim/[A-Za-z0-9_-]+)", line)
        if found:
            return found.group(1)
        if not line and child.poll() is not None:
            break
    raise AssertionError(
        f"no claim link printed; stderr: {child.stderr.read() if child.stderr else ''}"
    )
