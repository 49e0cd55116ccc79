""" "Log in again" on a named API-key connection: the form comes prefilled with the
connection's name and "replace", and storing it replaces the key under the same name."""

from __future__ import annotations

import html
import json
import re

from authsome.crypto.identity_keys import IdentityKey
from tests.support import store
from tests.support.daemon import Daemon
from tests.support.pop import signed
from tests.support.web import Browser

ADMIN = "admin@example.com"
PASSWORD = "a long enough passphrase"
OLD_KEY = "sk-proj-OLDworkKEY0123456789abcdefgh"
NEW_KEY = "sk-proj-NEWworkKEY9876543210zyxwvuts"
DEFAULT_KEY = "sk-proj-DEFAULTkey0123456789abcdefgh"


def _store(browser: Browser, name: str, key: str, *, replace: bool = False) -> None:
    fields = {"provider": "openai", "connection": name, "api_key": key}
    if replace:
        fields["replace"] = "on"
    answer = browser.post("/ui/connections/new", fields, form_page="/ui/connections/new")
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/ui/connections/openai/{name}?done=stored"


def _resolved_key(daemon: Daemon, key: IdentityKey, connection: str) -> str:
    body = json.dumps({"url": "https://api.openai.com/v1/models", "connection": connection})
    answer = signed(key, "POST", daemon.url + "/resolve", body=body.encode())
    assert answer.status_code == 200, answer.text
    header: str = answer.json()["headers"]["Authorization"]
    return header.removeprefix("Bearer ")


def test_log_in_again_replaces_the_key_of_openai_work_and_keeps_its_name(
    daemon: Daemon,
) -> None:
    browser = Browser(daemon.url)
    browser.register(ADMIN, PASSWORD)
    agent = IdentityKey.generate()
    registered = signed(agent, "POST", daemon.url + "/identities", body=b"{}").json()
    claim = "/claim/" + registered["claim_url"].rsplit("/claim/", 1)[1]
    assert browser.post(claim, {"decision": "accept", "grant": "all"}, form_page=claim).is_redirect
    _store(browser, "default", DEFAULT_KEY)
    _store(browser, "work", OLD_KEY)
    assert _resolved_key(daemon, agent, "work") == OLD_KEY
    work_id = store.scalar(daemon.home, "SELECT id FROM connections WHERE name = 'work'")

    detail = browser.get("/ui/connections/openai/work").text
    link = re.search(r'<a class="button" href="([^"]+)">Log in again', detail)
    assert link, detail
    target = html.unescape(link.group(1))
    assert target == "/ui/connections/new?provider=openai&connection=work&replace=on"

    form = browser.get(target).text
    assert re.search(r'<option value="openai" selected>', form)
    assert re.search(r'name="connection" value="work"', form)
    assert re.search(r'name="replace" value="on" checked', form)
    assert "Replace the API key of openai/work" in form
    # The plain "Add an API key" form still starts empty.
    blank = browser.get("/ui/connections/new").text
    assert 'name="connection" value="default"' in blank
    assert not re.search(r'name="replace" value="on" checked', blank)

    # Submitting the prefilled form (the browser sends what it shows) replaces the key.
    _store(browser, "work", NEW_KEY, replace=True)
    rows = store.rows(daemon.home, "SELECT id, name FROM connections ORDER BY name")
    assert [(row[0] == work_id, row[1]) for row in rows] == [(False, "default"), (True, "work")]
    assert _resolved_key(daemon, agent, "work") == NEW_KEY  # the cache was dropped too
    assert _resolved_key(daemon, agent, "default") == DEFAULT_KEY
    page = browser.get("/ui/connections/openai/work?done=stored").text
    assert "Connection stored." in page and NEW_KEY not in page and OLD_KEY not in page

    # Without "replace" the same name is refused, and the form keeps what was chosen.
    again = browser.post(
        "/ui/connections/new",
        {"provider": "openai", "connection": "work", "api_key": OLD_KEY},
        form_page=target,
    )
    assert again.status_code == 409 and 'name="connection" value="work"' in again.text
    assert OLD_KEY not in again.text
    assert _resolved_key(daemon, agent, "work") == NEW_KEY
