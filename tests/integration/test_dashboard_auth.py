"""Dashboard principals and browser sessions over real HTTP against a real daemon."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from itertools import count
from pathlib import Path

import httpx
import pytest

from authsome.daemon.services.ids import token_digest
from tests.support import store
from tests.support.daemon import Daemon, start_daemon
from tests.support.web import LONG_AGO, Browser, csrf_of, execute, scalar

ADMIN, USER = "admin@example.com", "user@example.com"
PASSWORD = "a long enough passphrase"


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """One daemon for the tests that only add principals and sessions of their own."""
    running = start_daemon(tmp_path_factory.mktemp("auth") / "home")
    Browser(running.url).register(ADMIN, PASSWORD)
    yield running
    running.stop()


@pytest.fixture
def admin(shared: Daemon) -> Browser:
    browser = Browser(shared.url)
    browser.login(ADMIN, PASSWORD)
    return browser


@pytest.fixture
def fresh_admin(daemon: Daemon) -> Browser:
    """The first principal of a daemon of this test's own (rate-limit tests)."""
    browser = Browser(daemon.url)
    browser.register(ADMIN, PASSWORD)
    return browser


_users = count()


def _invited_user(admin: Browser, shared: Daemon) -> tuple[Browser, str]:
    """A new ``user`` principal, registered through an invite link."""
    page = admin.post("/ui/settings/invites", form_page="/ui/settings/invites")
    token = re.search(r"/invite/([A-Za-z0-9_-]+)", page.text)
    assert token, page.text
    email = f"user{next(_users)}@example.com"
    browser = Browser(shared.url)
    browser.register(email, PASSWORD, invite=token.group(1))
    return browser, email


def _set_registration(admin: Browser, is_open: bool) -> None:
    answer = admin.post(
        "/ui/settings/registration", {"open": "on" if is_open else "off"}, form_page="/"
    )
    assert answer.status_code == 303


def _signed_in(browser: Browser) -> bool:
    return browser.get("/ui/settings").status_code == 200


def _session_hash(browser: Browser) -> str:
    return hashlib.sha256(browser.http.cookies["authsome_session"].encode()).hexdigest()


# --- registration and the first principal ---------------------------------------------


def test_first_principal_is_admin_and_registration_then_closes(daemon: Daemon) -> None:
    first = Browser(daemon.url)
    assert first.get("/").headers["location"] == "/login"
    assert first.get("/login").headers["location"] == "/register"
    assert "Create the admin account" in first.get("/register").text
    for weak, why in [
        ("short pass", "at least 12"),
        ("password1234", "too common"),
        ("aaaaaaaaaaaaaaaa", "too common"),
        (ADMIN, "must not be your email"),
    ]:
        answer = first.register(ADMIN, weak, expect=400)
        assert why in answer.text, weak
        assert weak == ADMIN or weak not in answer.text  # never echoed
    assert scalar(daemon.home, "SELECT count(*) FROM principals") == 0
    first.register(ADMIN, PASSWORD)
    assert "admin" in first.get("/").text
    second = Browser(daemon.url)
    assert "Registration is closed" in second.get("/register").text
    answer = second.register(USER, PASSWORD, expect=403)
    assert "registration is closed" in answer.text
    assert scalar(daemon.home, "SELECT count(*) FROM principals") == 1
    assert scalar(daemon.home, "SELECT role FROM principals") == "admin"


def test_concurrent_first_registrations_make_exactly_one_admin(home: Path) -> None:
    daemon = start_daemon(home)
    try:
        browsers = [Browser(daemon.url) for _ in range(4)]
        tokens = [browser.csrf("/register") for browser in browsers]
        barrier = threading.Barrier(len(browsers))
        answers: list[httpx.Response] = [None] * len(browsers)  # type: ignore[list-item]

        def register(index: int) -> None:
            barrier.wait()
            email = f"racer{index}@example.com"
            answers[index] = browsers[index].post(
                "/register",
                {"email": email, "password": PASSWORD, "password_again": PASSWORD},
                csrf=tokens[index],
            )

        threads = [threading.Thread(target=register, args=(i,)) for i in range(len(browsers))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        codes = sorted(answer.status_code for answer in answers)
        assert codes == [303, 403, 403, 403], [a.text[:200] for a in answers]
        assert scalar(home, "SELECT count(*) FROM principals") == 1
        assert scalar(home, "SELECT count(*) FROM principals WHERE role = 'admin'") == 1
    finally:
        daemon.stop()


def test_registration_switch_opens_registration_for_users(admin: Browser, shared: Daemon) -> None:
    _set_registration(admin, True)
    try:
        assert "open: anyone" in admin.get("/ui/settings").text
        Browser(shared.url).register("walk-in@example.com", PASSWORD)
    finally:
        _set_registration(admin, False)
    role = scalar(shared.home, "SELECT role FROM principals WHERE email = 'walk-in@example.com'")
    assert role == "user"
    Browser(shared.url).register("late@example.com", PASSWORD, expect=403)
    switches = [
        json.loads(detail)["open"]
        for (detail,) in store.rows(
            shared.home,
            "SELECT detail FROM audit_events WHERE event = 'registration_switched' "
            "ORDER BY id DESC LIMIT 2",
        )
    ]
    assert switches == [False, True]  # newest first: opened, then closed again, both audited


def test_invite_link_is_single_use_and_expires(admin: Browser, shared: Daemon) -> None:
    daemon = shared
    page = admin.post("/ui/settings/invites", form_page="/ui/settings/invites")
    assert page.status_code == 200
    link = re.search(r'value="(http://[^"]+/invite/([^"]+))"', page.text)
    assert link, page.text
    token = link.group(2)
    assert token not in admin.get("/ui/settings/invites").text  # shown once
    invited = Browser(daemon.url)
    assert "You were invited" in invited.get(f"/invite/{token}").text
    invited.register("invited@example.com", PASSWORD, invite=token)
    role = scalar(daemon.home, "SELECT role FROM principals WHERE email = 'invited@example.com'")
    assert role == "user"

    again = Browser(daemon.url)
    used = again.get(f"/invite/{token}")
    unknown = again.get("/invite/" + "x" * 43)
    assert used.status_code == unknown.status_code == 404
    assert used.text == unknown.text  # the same answer whether or not it existed
    refused = again.post(
        "/register",
        {
            "email": "third@example.com",
            "password": PASSWORD,
            "password_again": PASSWORD,
            "invite": token,
        },
    )
    assert refused.status_code == 403

    late = admin.post("/ui/settings/invites", form_page="/ui/settings/invites")
    late_token = re.search(r"/invite/([^\"]+)\"", late.text).group(1)
    execute(daemon.home, "UPDATE invites SET expires_at = ? WHERE used_at IS NULL", LONG_AGO)
    assert Browser(daemon.url).get(f"/invite/{late_token}").status_code == 404


def test_a_revoked_invite_no_longer_registers(admin: Browser, shared: Daemon) -> None:
    made = admin.post("/ui/settings/invites", form_page="/ui/settings/invites")
    token = re.search(r"/invite/([A-Za-z0-9_-]+)", made.text).group(1)
    invite_id = scalar(
        shared.home, "SELECT id FROM invites WHERE token_hash = ?", token_digest(token)
    )
    assert invite_id, "only the token's hash is stored, and it is this one"
    assert Browser(shared.url).get(f"/invite/{token}").status_code == 200
    revoked = admin.post(f"/ui/settings/invites/{invite_id}/revoke", form_page="/")
    assert revoked.headers["location"] == "/ui/settings/invites?done=invite_revoked"
    assert Browser(shared.url).get(f"/invite/{token}").status_code == 404
    refused = Browser(shared.url).post(
        "/register",
        {
            "email": "revoked@example.com",
            "password": PASSWORD,
            "password_again": PASSWORD,
            "invite": token,
        },
    )
    assert refused.status_code == 403
    assert scalar(shared.home, "SELECT count(*) FROM principals WHERE email LIKE 'revoked@%'") == 0
    events = "SELECT count(*) FROM audit_events WHERE event = 'invite_revoked'"
    assert scalar(shared.home, events) >= 1


def test_admin_lists_principals_with_their_roles(admin: Browser, shared: Daemon) -> None:
    _user, email = _invited_user(admin, shared)
    page = admin.get("/ui/settings/principals")
    assert page.status_code == 200
    rows = re.findall(r"<tr><td>([^<]+)</td><td>(admin|user)</td>", page.text)
    assert (ADMIN, "admin") in rows and (email, "user") in rows


# --- sessions -------------------------------------------------------------------------


def test_session_cookie_flags_on_loopback(shared: Daemon) -> None:
    browser = Browser(shared.url)
    answer = browser.login(ADMIN, PASSWORD)
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("authsome_session=")
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/"} <= flags
    assert "secure" not in flags
    token = cookie.split(";")[0].split("=", 1)[1]
    stored = "SELECT count(*) FROM web_sessions WHERE token_hash = ?"
    assert scalar(shared.home, stored, token) == 0  # only its hash is kept
    assert scalar(shared.home, stored, _session_hash(browser)) == 1


def test_session_cookie_is_secure_behind_an_https_public_url(tmp_path: Path) -> None:
    public = "https://authsome.example.test"
    daemon = start_daemon(tmp_path / "home", "--public-url", public)
    try:
        page = httpx.get(daemon.url + "/register")
        pre = page.cookies.jar  # httpx keeps Secure cookies away from http://: read them here
        pre_cookie = next(c for c in pre if c.name == "authsome_pre")
        assert pre_cookie.secure
        answer = httpx.post(
            daemon.url + "/register",
            data={
                "email": ADMIN,
                "password": PASSWORD,
                "password_again": PASSWORD,
                "csrf": csrf_of(page.text),
            },
            headers={"Origin": public, "Cookie": f"authsome_pre={pre_cookie.value}"},
        )
        assert answer.status_code == 303, answer.text
        flags = {part.strip().lower() for part in answer.headers["set-cookie"].split(";")}
        assert "secure" in flags and "samesite=strict" in flags and "httponly" in flags
    finally:
        daemon.stop()


def test_sign_out_ends_the_session_server_side(admin: Browser, shared: Daemon) -> None:
    cookie, digest = admin.http.cookies["authsome_session"], _session_hash(admin)
    location = admin.post("/logout", form_page="/").headers["location"]
    assert location == "/login?done=signed_out"
    assert "You are signed out" in admin.get(location).text
    replay = Browser(shared.url)
    replay.http.cookies.set("authsome_session", cookie)
    assert replay.get("/ui/settings").headers["location"].startswith("/login")
    ended = "SELECT ended_at IS NOT NULL FROM web_sessions WHERE token_hash = ?"
    assert scalar(shared.home, ended, digest) == 1


def test_idle_and_absolute_expiry(admin: Browser, shared: Daemon) -> None:
    assert _signed_in(admin)
    idle = "UPDATE web_sessions SET last_seen_at = ? WHERE token_hash = ?"
    execute(shared.home, idle, LONG_AGO, _session_hash(admin))
    assert not _signed_in(admin)
    admin.login(ADMIN, PASSWORD)
    assert _signed_in(admin)
    absolute = "UPDATE web_sessions SET expires_at = ? WHERE token_hash = ?"
    execute(shared.home, absolute, LONG_AGO, _session_hash(admin))
    answer = admin.get("/ui/agents")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/ui/agents"


def test_password_change_ends_every_session(admin: Browser, shared: Daemon) -> None:
    first, email = _invited_user(admin, shared)
    other = Browser(shared.url)
    other.login(email, PASSWORD)
    new = "another fine passphrase"
    wrong = first.post(
        "/ui/settings/password",
        {"current_password": "not the password", "new_password": new, "new_password_again": new},
        form_page="/ui/settings",
    )
    assert wrong.status_code == 400 and "incorrect" in wrong.text
    changed = first.post(
        "/ui/settings/password",
        {"current_password": PASSWORD, "new_password": new, "new_password_again": new},
        form_page="/ui/settings",
    )
    assert changed.headers["location"] == "/login?done=password"
    assert not _signed_in(first) and not _signed_in(other)
    assert _signed_in(admin)  # another principal's sessions are untouched
    first.login(email, PASSWORD, expect=401)
    first.login(email, new)


def test_admin_lists_and_ends_any_session(admin: Browser, shared: Daemon) -> None:
    user, email = _invited_user(admin, shared)
    listing = admin.get("/ui/settings/sessions")
    assert email in listing.text and ADMIN in listing.text
    user_session = scalar(
        shared.home, "SELECT id FROM web_sessions WHERE token_hash = ?", _session_hash(user)
    )
    ended = admin.post(
        f"/ui/settings/sessions/{user_session}/end", {"from": "all"}, form_page="/ui/settings"
    )
    assert ended.headers["location"] == "/ui/settings/sessions?done=session_ended"
    assert not _signed_in(user)
    assert _signed_in(admin)


# --- CSRF, Origin, Host, headers ------------------------------------------------------


def _registration_open(daemon: Daemon) -> int:
    return int(scalar(daemon.home, "SELECT registration_open FROM dashboard_settings"))


def test_csrf_token_missing_or_wrong_is_refused_and_changes_nothing(
    admin: Browser, shared: Daemon
) -> None:
    daemon = shared
    other = Browser(daemon.url)
    foreign_token = other.csrf("/login")  # a real token, bound to another browser
    missing = admin.post("/ui/settings/registration", {"open": "on"}, omit_csrf=True)
    assert missing.status_code == 403
    for token in ("", "0" * 64, foreign_token):
        answer = admin.post("/ui/settings/registration", {"open": "on"}, csrf=token)
        assert answer.status_code == 403, token
        assert "Reload it" in answer.text
    assert _registration_open(daemon) == 0
    assert admin.post("/ui/settings/registration", {"open": "on"}, form_page="/").status_code == 303
    assert _registration_open(daemon) == 1
    _set_registration(admin, False)


def test_foreign_origin_is_refused_even_with_a_valid_token(admin: Browser, shared: Daemon) -> None:
    daemon = shared
    token = admin.csrf("/")
    refusals = [
        {"Origin": "http://evil.test"},
        {"Origin": daemon.url.replace("127.0.0.1", "localhost")},  # same host, other origin
        {"Origin": "null"},
        {"Origin": "null", "Referer": "http://evil.test/page"},
        {"Origin": daemon.url, "Sec-Fetch-Site": "cross-site"},
        {"Origin": "", "Sec-Fetch-Site": "same-site"},
    ]
    for headers in refusals:
        answer = admin.post(
            "/ui/settings/registration", {"open": "on"}, csrf=token, headers=headers
        )
        assert answer.status_code == 403, headers
    # No Origin, no Referer, no Sec-Fetch-Site: no evidence, refused.
    bare = admin.http.post("/ui/settings/registration", data={"csrf": token, "open": "on"})
    assert bare.status_code == 403
    assert _registration_open(daemon) == 0
    # Chromium's same-origin form post under a strict referrer policy.
    accepted = admin.post(
        "/ui/settings/registration",
        {"open": "on"},
        csrf=token,
        headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"},
    )
    assert accepted.status_code == 303
    referer_only = admin.http.post(
        "/ui/settings/registration",
        data={"csrf": token, "open": "off"},
        headers={"Referer": daemon.url + "/ui/settings"},
    )
    assert referer_only.status_code == 303
    assert _registration_open(daemon) == 0


def test_foreign_host_is_refused_before_any_page(shared: Daemon) -> None:
    daemon = shared
    for path in ("/login", "/register", "/", "/claim/whatever"):
        answer = httpx.get(daemon.url + path, headers={"Host": "evil.test"})
        assert answer.status_code == 421, path
    answer = httpx.post(
        daemon.url + "/login", headers={"Host": "rebind.evil.test"}, data={"email": "x"}
    )
    assert answer.status_code == 421


def test_security_headers_and_no_inline_script(admin: Browser) -> None:
    for path in ("/", "/login", "/ui/settings", "/ui/providers", "/ui/agents", "/nope/404"):
        answer = admin.get(path)
        csp = answer.headers.get("content-security-policy", "")
        if path == "/nope/404":
            continue  # not a dashboard route: the API's JSON 404
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp, path
        assert "frame-ancestors 'none'" in csp
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "same-origin"
        assert answer.headers["x-content-type-options"] == "nosniff"
        for tag in re.findall(r"<script[^>]*>", answer.text):
            assert 'src="/static/' in tag, tag
        assert " on" + "click=" not in answer.text


# --- rate limiting --------------------------------------------------------------------


def _block_seconds(daemon: Daemon, kind: str) -> int:
    """How long the last failure blocked the ``email`` or ``client`` counter."""
    found = store.rows(
        daemon.home,
        "SELECT blocked_until, last_failure_at FROM sign_in_throttle "
        "WHERE key LIKE ? AND blocked_until IS NOT NULL",
        f"{kind}:%",
    )
    if not found:
        return 0
    blocked_until, last_failure = (datetime.fromisoformat(str(value)) for value in found[0])
    return round((blocked_until - last_failure).total_seconds())


def test_failed_sign_ins_back_off_per_email_with_retry_after(
    fresh_admin: Browser, daemon: Daemon
) -> None:
    browser = Browser(daemon.url)
    for _ in range(5):
        browser.login(ADMIN, "wrong password!", expect=401)
    assert _block_seconds(daemon, "email") == 0  # five free failures
    browser.login(ADMIN, "wrong password!", expect=401)  # the sixth starts the back-off
    assert _block_seconds(daemon, "email") == 1
    limited = browser.login(ADMIN, PASSWORD, expect=429)  # even the right password waits
    assert limited.headers["retry-after"] == "1"
    assert "too many failed sign-ins" in limited.text
    time.sleep(1.1)
    browser.login(ADMIN, "wrong password!", expect=401)
    assert _block_seconds(daemon, "email") == 2  # doubled
    time.sleep(2.1)
    browser.login(ADMIN, PASSWORD)
    assert (
        scalar(daemon.home, "SELECT count(*) FROM sign_in_throttle WHERE key LIKE 'email:%'") == 0
    )
    # Another email from the same client is not blocked by this email's counter.
    Browser(daemon.url).login(USER, "wrong password!", expect=401)
    outcomes = [
        outcome
        for (outcome,) in store.rows(
            daemon.home,
            "SELECT outcome FROM audit_events WHERE event = 'principal_sign_in' ORDER BY id",
        )
    ]
    assert outcomes.count("failure") == 8
    assert outcomes.count("denied") == 1
    assert outcomes[-2:] == ["success", "failure"]


def test_failed_sign_ins_are_limited_per_client(fresh_admin: Browser, daemon: Daemon) -> None:
    browser = Browser(daemon.url)
    for index in range(21):  # a different email each time: only the client counter grows
        browser.login(f"guess{index}@example.com", "wrong password!", expect=401)
    assert _block_seconds(daemon, "email") == 0
    assert _block_seconds(daemon, "client") == 1  # 20 free failures per client
    # Stretch the block so the check below cannot race its end on a slow machine.
    execute(
        daemon.home,
        "UPDATE sign_in_throttle SET blocked_until = '2999-01-01 00:00:00.000000' "
        "WHERE key LIKE 'client:%'",
    )
    limited = browser.login(ADMIN, PASSWORD, expect=429)
    assert int(limited.headers["retry-after"]) > 3600
    counters = scalar(daemon.home, "SELECT count(*) FROM sign_in_throttle WHERE key LIKE 'email:%'")
    assert counters == 21
    assert scalar(daemon.home, "SELECT count(*) FROM sign_in_throttle WHERE key LIKE '%@%'") == 0


def test_headless_claim_shares_the_sign_in_limit(fresh_admin: Browser, daemon: Daemon) -> None:
    browser = Browser(daemon.url)
    for _ in range(6):  # the sixth failure blocks this email (for 1 s)
        browser.login(ADMIN, "wrong password!", expect=401)
    blocked = scalar(
        daemon.home, "SELECT count(*) FROM sign_in_throttle WHERE blocked_until IS NOT NULL"
    )
    assert blocked == 1
    # Stretch the block so a slow CLI start still meets it.
    execute(daemon.home, "UPDATE sign_in_throttle SET blocked_until = '2999-01-01 00:00:00.000000'")
    limited = daemon.cli("init", "--email", ADMIN, "--password-stdin", input=PASSWORD + "\n")
    assert limited.code == 2
    assert "too many failed sign-ins" in limited.err
    denied = store.rows(
        daemon.home,
        "SELECT detail FROM audit_events WHERE event = 'principal_sign_in' AND outcome = 'denied'",
    )
    assert ["headless" in detail for (detail,) in denied] == [True]


def test_login_redirects_only_to_local_paths(shared: Daemon) -> None:
    daemon = shared
    browser = Browser(daemon.url)
    for target, expected in [
        ("/ui/agents", "/ui/agents"),
        ("//evil.test/x", "/"),
        ("https://evil.test/", "/"),
        ("/\\evil.test", "/"),
    ]:
        answer = browser.post("/login", {"email": ADMIN, "password": PASSWORD, "next": target})
        assert answer.headers["location"] == expected, target
        browser.post("/logout", form_page="/")
    page = browser.get("/login?next=/claim/abc")
    assert 'name="next" value="/claim/abc"' in page.text
    assert csrf_of(page.text)
