"""A browser-like HTTP client for the dashboard: cookies, CSRF field, Origin header."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx

from tests.support import store

CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


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


def database(home: Path) -> Any:
    """The daemon's own store (SQLite or PostgreSQL), to read what a request changed
    or to age a record; statements commit as they run."""
    return store.connect(home, autocommit=True)


scalar = store.scalar
execute = store.execute


LONG_AGO = "2000-01-01 00:00:00.000000"
