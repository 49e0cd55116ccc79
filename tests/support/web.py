"""A browser-like HTTP client for the dashboard: cookies, CSRF field, Origin header;
and the steps dashboard tests share (principals registered, agents claimed, keys stored)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx

from authsome.crypto.identity_keys import IdentityKey
from tests.support import store
from tests.support.pop import signed

CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')

#: The principals of the dashboard tests: the first to register is the admin.
ADMIN_EMAIL = "admin@example.com"
USER_EMAIL = "user@example.com"
WEB_PASSWORD = "a long enough passphrase"


def csrf_of(html: str) -> str:
    found = CSRF_FIELD.search(html)
    assert found, "page has no CSRF field"
    return found.group(1)


class Browser:
    """Keeps cookies like a browser; ``post`` sends the page's CSRF token and our Origin."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(base_url=self.base_url, follow_redirects=False, timeout=20)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def csrf(self, page: str = "/login") -> str:
        """The CSRF token of a form on ``page`` (fetching it sets the cookie it is bound to)."""
        return csrf_of(self.get(page, follow_redirects=True).text)

    def post(
        self,
        path: str,
        data: dict[str, Any] | None = None,
        *,
        csrf: str | None = None,
        form_page: str = "/login",
        headers: dict[str, str] | None = None,
        omit_csrf: bool = False,
    ) -> httpx.Response:
        """POST a form; the CSRF token comes from ``form_page`` unless given or omitted."""
        fields = dict(data or {})
        if not omit_csrf:
            fields["csrf"] = csrf if csrf is not None else self.csrf(form_page)
        all_headers = {"Origin": self.base_url, **(headers or {})}
        return self.http.post(path, data=fields, headers=all_headers)

    def register(
        self, email: str, password: str, *, invite: str = "", expect: int = 303
    ) -> httpx.Response:
        page = f"/invite/{invite}" if invite else "/login"
        answer = self.post(
            "/register",
            {"email": email, "password": password, "password_again": password, "invite": invite},
            form_page=page,
        )
        assert answer.status_code == expect, answer.text
        return answer

    def login(self, email: str, password: str, *, expect: int = 303) -> httpx.Response:
        answer = self.post("/login", {"email": email, "password": password})
        assert answer.status_code == expect, answer.text
        return answer


def following_client(base_url: str) -> httpx.Client:
    """A plain client that follows redirects and sends our Origin: for flows that fill
    in each form's CSRF field by hand (``csrf_of``) and check the page they end on."""
    return httpx.Client(
        base_url=base_url, follow_redirects=True, headers={"Origin": base_url}, timeout=30
    )


def registered(base_url: str, email: str, password: str = WEB_PASSWORD) -> Browser:
    """A browser signed in as a principal it registers (the first one is the admin)."""
    browser = Browser(base_url)
    browser.register(email, password)
    return browser


def open_registration(admin: Browser) -> None:
    """Let anyone register (the admin's setting), so a second principal can."""
    admin.post("/ui/settings/registration", {"open": "on"}, form_page="/")


def claimed_agent(owner: Browser) -> tuple[IdentityKey, str]:
    """A new agent identity claimed by ``owner`` in the browser, granted all its
    connections: its key and handle."""
    key = IdentityKey.generate()
    identity = signed(key, "POST", owner.base_url + "/identities", body=b"{}").json()
    path = "/claim/" + identity["claim_url"].rsplit("/claim/", 1)[1]
    decided = owner.post(path, {"decision": "accept", "grant": "all"}, form_page=path)
    assert decided.status_code == 303, decided.text
    return key, identity["handle"]


def store_api_key(browser: Browser, key: str, name: str = "default") -> None:
    """An OpenAI API key stored as connection ``name`` through the dashboard's form."""
    answer = browser.post(
        "/ui/connections/new",
        {"provider": "openai", "connection": name, "api_key": key},
        form_page="/ui/connections/new",
    )
    assert answer.status_code == 303, answer.text


def database(home: Path) -> Any:
    """The daemon's own store (SQLite or PostgreSQL), to read what a request changed
    or to age a record; statements commit as they run."""
    return store.connect(home, autocommit=True)


scalar = store.scalar
execute = store.execute


LONG_AGO = "2000-01-01 00:00:00.000000"
