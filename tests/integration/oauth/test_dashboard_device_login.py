"""Logging in from the dashboard to a provider that only offers the device flow: the
daemon picks the flow as the CLI does and the page shows the code, against the real
authorization server's device flow."""

from __future__ import annotations

import html
import re
import time

import httpx

from tests.conftest import EMAIL, PASSWORD
from tests.integration.oauth.conftest import OAuthEnv
from tests.support.oauth_browser import ScriptedBrowser
from tests.support.oauth_server import DEVICE_CLIENT, GRANT_DEVICE
from tests.support.web import Browser

STATUS = re.compile(r"^/ui/connections/login/([^/]+)/status$")


def _signed_in(env: OAuthEnv) -> Browser:
    browser = Browser(env.daemon.url)
    browser.login(EMAIL, PASSWORD)
    return browser


def _save_device_client(browser: Browser) -> None:
    saved = browser.post(
        "/ui/providers/oauthdev/client",
        {"client_id": DEVICE_CLIENT},
        form_page="/ui/providers/oauthdev",
    )
    assert saved.headers["location"] == "/ui/providers/oauthdev?done=client_saved"


def _start(browser: Browser, provider: str, connection: str) -> httpx.Response:
    return browser.post(
        "/ui/connections/login",
        {"provider": provider, "connection": connection},
        form_page=f"/ui/providers/{provider}",
    )


def _code_page(browser: Browser, started: httpx.Response) -> tuple[str, str, str]:
    """The status page a device login redirects to: its path, user code and link."""
    assert started.status_code == 303, started.text
    path = started.headers["location"]
    assert STATUS.match(path), path
    page = browser.get(path)
    assert page.status_code == 200, page.text
    code = re.search(r"<strong data-user-code>([^<]+)</strong>", page.text)
    uri = re.search(r"<code data-verification-uri>([^<]+)</code>", page.text)
    assert code and uri, page.text
    assert re.search(r'<meta http-equiv="refresh" content="\d+">', page.text)
    return path, html.unescape(code.group(1)), html.unescape(uri.group(1))


def _wait_for_redirect(browser: Browser, path: str) -> httpx.Response:
    """Reload the status page, as its refresh does, until the login ends."""
    deadline = time.monotonic() + 30
    while True:
        page = browser.get(path)
        if page.status_code != 200 or "data-user-code" not in page.text:
            return page
        assert time.monotonic() < deadline, "the device login never completed"
        time.sleep(0.5)


def test_device_code_provider_logs_in_from_the_dashboard(oauth_env: OAuthEnv) -> None:
    browser = _signed_in(oauth_env)
    _save_device_client(browser)
    path, user_code, uri = _code_page(browser, _start(browser, "oauthdev", "web"))
    assert uri.startswith(oauth_env.server.issuer + "/device")
    assert oauth_env.connection("oauthdev", "web") is None  # nothing until approved

    with ScriptedBrowser() as provider:
        approved = provider.open(uri, user_code=user_code)
    assert "Sign-in Success" in approved.final.text, approved.final.text

    done = _wait_for_redirect(browser, path)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/ui/connections/oauthdev/web?done=logged_in"
    detail = browser.get(done.headers["location"]).text
    assert "Logged in: the connection is stored" in detail and "oauth2" in detail
    stored = oauth_env.connection("oauthdev", "web")
    assert stored is not None and stored["status"] == "active"
    assert oauth_env.server.token_requests(GRANT_DEVICE)[-1]["ok"] is True
    assert not oauth_env.server.token_requests("authorization_code")

    # The agent of this principal now uses the token the device login got.
    answer = oauth_env.call_api("dev.oauthco.test")
    assert answer["status"] == 200
    assert answer["authorization"] == f"Bearer {oauth_env.server.issued('AccessToken')[-1]}"
    # Another browser session cannot follow this login.
    other = _signed_in(oauth_env)
    assert other.get(path).status_code == 404
    oauth_env.assert_no_secrets_leaked()


def test_a_refused_device_login_says_so_on_its_page(oauth_env: OAuthEnv) -> None:
    browser = _signed_in(oauth_env)
    _save_device_client(browser)
    path, user_code, _uri = _code_page(browser, _start(browser, "oauthdev", "refused"))
    oauth_env.server.deny_device(user_code)
    ended = _wait_for_redirect(browser, path)
    assert ended.status_code == 200
    assert "did not complete (failed)" in ended.text and "refused" in ended.text
    assert "http-equiv" not in ended.text  # it no longer reloads itself
    assert oauth_env.connection("oauthdev", "refused") is None


def test_device_code_provider_without_a_client_asks_for_one(oauth_env: OAuthEnv) -> None:
    browser = _signed_in(oauth_env)
    for provider in ("oauthdev", "postiz"):  # postiz: a bundled device-code-only provider
        started = _start(browser, provider, "default")
        assert started.status_code == 200, (provider, started.text)
        link = re.search(r'href="(http://127\.0\.0\.1:\d+/auth/client-form/[^"]+)"', started.text)
        assert link, started.text
        status = re.search(r'href="(/ui/connections/login/[^"/]+/status)"', started.text)
        assert status, started.text
        waiting = browser.get(status.group(1)).text
        assert "Waiting for the OAuth client" in waiting and "http-equiv" in waiting

    # Once the client is entered on its form (postiz's server cannot be reached from
    # here; the test provider's can), the login's page shows the code to enter.
    started = _start(browser, "oauthdev", "formed")
    link = re.search(r'href="(http://127\.0\.0\.1:\d+/auth/client-form/[^"]+)"', started.text)
    status = re.search(r'href="(/ui/connections/login/[^"/]+/status)"', started.text)
    assert link and status
    form_url = html.unescape(link.group(1))
    form_page = httpx.get(form_url)
    action = re.search(r"action='([^']+)'", form_page.text)
    token = re.search(r"name='t' value='([^']+)'", form_page.text)
    assert action and token
    entered = httpx.post(
        oauth_env.daemon.url + action.group(1),
        data={"t": html.unescape(token.group(1)), "client_id": DEVICE_CLIENT, "client_secret": ""},
        headers={"Origin": oauth_env.daemon.url},
    )
    assert entered.status_code == 200 and "Enter the code" in entered.text
    assert "Authsome stores the connection" in entered.text  # not "the terminal shows"
    page = browser.get(status.group(1)).text
    code = re.search(r"<strong data-user-code>([^<]+)</strong>", page)
    assert code and code.group(1) in entered.text
