"""An admin registers a custom provider by uploading its JSON file in a real Chromium:
``static/app.js`` reads the file into the form; a broken file shows field-level
errors; the saved provider's page shows its hosts and header."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.daemon import Daemon

EMAIL = "uploader@example.com"
PASSWORD = "a passphrase for the upload test"
DEFINITION = {
    "schema_version": 1,
    "name": "uploaded-co",
    "display_name": "Uploaded Co",
    "auth_type": "api_key",
    "flow": "api_key",
    "api_url": ["api.uploaded.test"],
    "api_key": {"header_name": "X-Uploaded-Key", "env_var": "UPLOADED_API_KEY"},
}


def test_upload_a_provider_definition(chromium: Any, daemon: Daemon, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    shots = tmp_path / "screenshots"
    shots.mkdir()
    page = chromium.new_page()
    page.set_default_timeout(15_000)
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.goto(daemon.url + "/register")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()

    # A broken file: loaded into the form, refused with the fields that are wrong.
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({**DEFINITION, "api_url": ["*"]}))
    page.goto(daemon.url + "/ui/providers/new")
    page.get_by_label("Upload a JSON file").set_input_files(str(broken))
    expect(page.locator("#definition")).to_have_value(broken.read_text())
    page.get_by_role("button", name="Validate and save").click()
    errors = page.locator("ul.field-errors li")
    expect(errors.first).to_contain_text("api_url")
    page.screenshot(path=shots / "01-refused.png", full_page=True)

    # The good file replaces what the textarea held, and is saved.
    good = tmp_path / "uploaded.json"
    good.write_text(json.dumps(DEFINITION, indent=2))
    page.get_by_label("Upload a JSON file").set_input_files(str(good))
    expect(page.locator("#definition")).to_have_value(good.read_text())
    page.get_by_role("button", name="Validate and save").click()
    expect(page.get_by_role("heading", name="Uploaded Co")).to_be_visible()
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("api.uploaded.test")
    expect(facts).to_contain_text("X-Uploaded-Key")
    expect(facts).to_contain_text("custom")
    page.screenshot(path=shots / "02-saved.png", full_page=True)

    # It is in the list, found by its host.
    page.goto(daemon.url + "/ui/providers?q=api.uploaded.test")
    expect(page.locator("table")).to_contain_text("uploaded-co")
    # The refused save answered 422, which Chromium logs; nothing else (no CSP violation).
    unexpected = [e for e in console_errors if "status of 422" not in e]
    assert len(console_errors) == 1 and not unexpected, console_errors
