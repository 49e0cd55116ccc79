"""The dashboard in a real Chromium (Playwright): register, claim, grant, connection, revoke.

Debian's ``/usr/bin/chromium`` is driven headless (``.ci/run`` installs it);
Playwright's own browser download is never used. Screenshots go to the
test's temporary folder; the assertions are on visible text.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.support.daemon import AUTHSOME, Daemon

EMAIL = "owner@example.com"
PASSWORD = "a passphrase for the browser test"
OPENAI_KEY = "sk-proj-BROWSERsecret0123456789abcdef"


def _claim_link(child: subprocess.Popen[str]) -> tuple[str, str]:
    """The claim URL and the key fingerprint that ``authsome init`` printed."""
    assert child.stdout is not None
    fingerprint = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = child.stdout.readline()
        if line.startswith("key fingerprint: "):
            fingerprint = line.split(": ", 1)[1].strip()
        found = re.search(r"(https?://\S+/claim/\S+)", line)
        if found and fingerprint:
            return found.group(1), fingerprint
        if not line and child.poll() is not None:
            break
    raise AssertionError("authsome init printed no claim link")


def test_register_claim_grant_connection_revoke(
    chromium: Any, daemon: Daemon, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    shots = tmp_path / "screenshots"
    shots.mkdir()
    page = chromium.new_page()
    page.set_default_timeout(15_000)
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)

    # 1. The first visitor registers and becomes the admin.
    page.goto(daemon.url + "/")
    expect(page.get_by_role("heading", name="Create the admin account")).to_be_visible()
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.screenshot(path=shots / "01-register.png")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.locator("header")).to_contain_text(EMAIL)
    expect(page.locator("header")).to_contain_text("admin")
    expect(page.locator("main")).to_contain_text("authsome init")
    page.screenshot(path=shots / "02-overview.png")

    # 2. An agent runs `authsome init`, which prints a claim link and waits.
    init = subprocess.Popen(
        [AUTHSOME, "init"],
        env=daemon.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        link, fingerprint = _claim_link(init)
        page.goto(link)
        heading = page.get_by_role("heading", name=re.compile(r"^Claim agent "))
        expect(heading).to_be_visible()
        handle = heading.inner_text().removeprefix("Claim agent ").removesuffix("?")
        expect(page.locator("main")).to_contain_text(fingerprint)
        expect(page.locator("main")).to_contain_text("127.0.0.1")
        # 3. Grant: only openai, no reveal (the default stays off).
        page.get_by_label("Only these providers:").check()
        page.locator("input[name=providers][value=openai]").check()
        expect(page.locator("input[name=reveal]")).not_to_be_checked()
        page.screenshot(path=shots / "03-claim.png", full_page=True)
        page.get_by_role("button", name="Accept and claim").click()
        expect(page.get_by_role("status")).to_contain_text("Claim accepted")
        expect(page.locator("main")).to_contain_text("openai; reveal not allowed")
        page.screenshot(path=shots / "04-agent.png")
        out, err = init.communicate(timeout=30)
    finally:
        init.kill()
    assert init.returncode == 0, err
    assert f"claimed by {EMAIL} (admin)" in out

    # 4. The agent stores a key; the owner sees the connection, never the key.
    login = daemon.cli("login", "openai", "--key-stdin", input=OPENAI_KEY + "\n")
    assert login.code == 0, login.err
    page.get_by_role("link", name="Connections").click()
    table = page.locator("table")
    expect(table).to_contain_text("openai")
    expect(table).to_contain_text("default")
    expect(table).to_contain_text("active")
    assert OPENAI_KEY not in page.content()
    page.screenshot(path=shots / "05-connections.png")

    # 5. Revoke the agent from its page; its next request is refused.
    page.get_by_role("link", name="Agents").click()
    page.get_by_role("link", name=handle).click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke this agent").click()
    expect(page.get_by_role("status")).to_contain_text("Agent revoked")
    expect(page.locator("dl.facts")).to_contain_text("revoked")
    page.screenshot(path=shots / "06-revoked.png")
    after = daemon.cli("whoami", "--json")
    assert after.code == 2
    assert after.json["error"] == "identity_revoked"

    assert not console_errors, console_errors  # no CSP violations or script errors
    assert len(list(shots.iterdir())) == 6
