"""A scripted "user with a browser" for oidc-provider's development pages.

It follows redirects and submits whatever form a page shows: the login form
(any login, any password), the consent form, the device flow's user-code
and confirmation forms, and auto-submitting form_post pages. It stops when a
redirect leaves the authorization server (e.g. to the daemon's callback),
and then requests that URL too, so the callback is reached exactly as a
browser would reach it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    text_inputs: list[str] = field(default_factory=list)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append(Form(values.get("action", ""), values.get("method", "get").upper()))
        elif tag == "input" and self.forms and "name" in values:
            kind = values.get("type", "text").lower()
            if kind in {"hidden", "submit"}:
                self.forms[-1].fields[values["name"]] = values.get("value", "")
            else:
                self.forms[-1].text_inputs.append(values["name"])


@dataclass
class BrowserResult:
    final: httpx.Response
    visited: list[str]


class ScriptedBrowser:
    """One browser profile (cookie jar) against one authorization server origin."""

    def __init__(
        self,
        *,
        login: str = "alice",
        fields: dict[str, str] | None = None,
        max_steps: int = 20,
    ) -> None:
        self.login = login
        self.fields = {"login": login, "password": "any-password", **(fields or {})}
        self.max_steps = max_steps
        self.http = httpx.Client(timeout=15, trust_env=False)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ScriptedBrowser:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def open(
        self, url: str, *, user_code: str | None = None, server_origin: str | None = None
    ) -> BrowserResult:
        """Visit ``url`` and complete every page until the flow leaves the server.

        ``server_origin`` is the authorization server's origin when ``url`` is
        elsewhere (the daemon's client form, which leads on to the server).
        """
        origin = server_origin or _origin(url)
        visited: list[str] = []
        response = self._get_following(url, origin, visited)
        started_elsewhere = _origin(url) != origin
        for _ in range(self.max_steps):
            here = _origin(str(response.url))
            if here != origin and not (started_elsewhere and here == _origin(url)):
                return BrowserResult(response, visited)
            started_elsewhere = started_elsewhere and here == _origin(url)
            form = self._pick_form(response)
            if form is None:
                return BrowserResult(response, visited)
            data = dict(form.fields)
            for name in form.text_inputs:
                data[name] = self.fields.get(name, user_code or "")
            target = urljoin(str(response.url), form.action or str(response.url))
            visited.append(f"{form.method} {target}")
            # Browsers name the page's origin on a form POST.
            headers = {"Origin": _origin(str(response.url))} if form.method == "POST" else {}
            response = self.http.request(form.method, target, data=data, headers=headers)
            response = self._follow(response, origin, visited)
        raise AssertionError(f"the flow did not finish in {self.max_steps} steps: {visited}")

    def _pick_form(self, response: httpx.Response) -> Form | None:
        if "html" not in response.headers.get("content-type", ""):
            return None
        parser = _FormParser()
        parser.feed(response.text)
        return parser.forms[0] if parser.forms else None

    def _get_following(self, url: str, origin: str, visited: list[str]) -> httpx.Response:
        visited.append(f"GET {url}")
        return self._follow(self.http.get(url), origin, visited)

    def _follow(self, response: httpx.Response, origin: str, visited: list[str]) -> httpx.Response:
        while response.is_redirect:
            target = urljoin(str(response.url), response.headers["location"])
            visited.append(f"GET {target}")
            response = self.http.get(target)
        return response


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
