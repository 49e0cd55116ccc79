"""Host/path matching: tables of real hosts, look-alikes and precedence."""

from __future__ import annotations

import pytest

from authsome.errors import InvalidProvider
from authsome.providers.matching import (
    HostPattern,
    Instance,
    Owner,
    ProviderMatcher,
    resolve_base_url,
)
from authsome.providers.schema import ProviderDefinition
from tests.support.providers import provider

AI = ProviderMatcher(
    [
        provider("openai", "api.openai.com"),
        provider("openrouter", "https://openrouter.ai/api/"),
        provider("acme", "*.acme.io"),
    ]
)


@pytest.mark.parametrize(
    ("host", "path", "expected"),
    [
        ("api.openai.com", "/v1/chat/completions", "openai"),
        ("api.openai.com", "/", "openai"),
        ("api.openai.com", "", "openai"),
        ("API.OpenAI.COM", "/v1/models", "openai"),
        ("api.openai.com.", "/v1/models", "openai"),
        # look-alikes
        ("api.openai.com.attacker.test", "/v1/models", None),
        ("evilopenai.com", "/v1/models", None),
        ("api-openai.com", "/v1/models", None),
        ("openai.com", "/v1/models", None),
        ("x.api.openai.com", "/v1/models", None),
        ("api.openai.co", "/v1/models", None),
        ("api.openai.com..", "/", None),
        ("", "/", None),
        # path prefix on segment boundaries
        ("openrouter.ai", "/api/v1/chat/completions", "openrouter"),
        ("openrouter.ai", "/api", "openrouter"),
        ("openrouter.ai", "/api/", "openrouter"),
        ("openrouter.ai", "/api?x=1", "openrouter"),
        ("openrouter.ai", "/apix", None),
        ("openrouter.ai", "/apix/v1", None),
        ("openrouter.ai", "/", None),
        ("openrouter.ai", "/API/v1", None),
        ("openrouter.ai", "/v1/api/x", None),
        ("openrouter.ai", "/x?/api/", None),
        ("openrouter.ai", "/x#/api/", None),
        ("www.openrouter.ai", "/api/v1", None),
        # dot segments would let the server route elsewhere
        ("openrouter.ai", "/api/../admin", None),
        ("openrouter.ai", "/api/%2e%2e/admin", None),
        ("openrouter.ai", "/api/%2E%2e%2Fadmin", None),
        ("openrouter.ai", "/api/.", None),
        ("openrouter.ai", "/api\\..\\admin", None),
        ("openrouter.ai", "/api/v1.2/models", "openrouter"),
        ("openrouter.ai", "/api/..data", "openrouter"),
        # wildcard: one or more whole labels, never the bare domain or a look-alike
        ("x.acme.io", "/", "acme"),
        ("a.b.acme.io", "/v1", "acme"),
        ("X.ACME.IO.", "/", "acme"),
        ("acme.io", "/", None),
        ("evilacme.io", "/", None),
        ("x.evilacme.io", "/", None),
        ("acme.io.evil.test", "/", None),
        ("x.acme.io.evil.test", "/", None),
        ("x.acme.iox", "/", None),
        (".acme.io", "/", None),
        ("x..acme.io", "/", None),
    ],
)
def test_match_table(host: str, path: str, expected: str | None) -> None:
    assert AI.match(host, path) == expected


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("api.openai.com", True),
        ("API.OPENAI.COM.", True),
        ("openrouter.ai", True),
        ("deep.sub.acme.io", True),
        ("acme.io", False),
        ("evilacme.io", False),
        ("api.openai.com.attacker.test", False),
        ("example.org", False),
    ],
)
def test_intercepts_host(host: str, expected: bool) -> None:
    assert AI.intercepts_host(host) is expected


MIXED = ProviderMatcher(
    [
        provider("exact", "api.acme.io"),
        provider("deep-wild", "*.eu.acme.io"),
        provider("wild", "*.acme.io"),
        provider("wild-path", "https://*.acme.io/v2/"),
        provider("gateway", "https://gw.corp.test/"),
        provider("gw-openai", "https://gw.corp.test/openai/"),
        provider("gw-openai-v2", "https://gw.corp.test/openai/v2/"),
        provider("gw-anthropic", "https://gw.corp.test/anthropic/"),
        provider("exact-path", "https://api.acme.io/admin/"),
    ]
)


@pytest.mark.parametrize(
    ("host", "path", "expected"),
    [
        # exact host beats any wildcard, even one with a path
        ("api.acme.io", "/v2/x", "exact"),
        ("api.acme.io", "/admin/x", "exact-path"),
        # more labels beat fewer
        ("x.eu.acme.io", "/v1", "deep-wild"),
        ("x.eu.acme.io", "/v2/x", "deep-wild"),
        ("x.us.acme.io", "/v1", "wild"),
        # then a path beats no path
        ("x.us.acme.io", "/v2/models", "wild-path"),
        ("eu.acme.io", "/v2", "wild-path"),
        # a longer prefix beats a shorter one
        ("gw.corp.test", "/openai/v2/chat", "gw-openai-v2"),
        ("gw.corp.test", "/openai/v1/chat", "gw-openai"),
        ("gw.corp.test", "/anthropic/v1", "gw-anthropic"),
        ("gw.corp.test", "/other", "gateway"),
        ("gw.corp.test", "/openai/../anthropic/v1", "gateway"),
        ("gw.corp.test", "/openaix", "gateway"),
    ],
)
def test_most_specific_match_wins(host: str, path: str, expected: str) -> None:
    assert MIXED.match(host, path) == expected


def test_order_of_providers_does_not_change_the_winner() -> None:
    forward = [provider("wild", "*.acme.io"), provider("deep", "*.eu.acme.io")]
    for providers in (forward, forward[::-1]):
        assert ProviderMatcher(providers).match("x.eu.acme.io", "/") == "deep"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("api.acme.com", "api.acme.com"),
        ("api.acme.com", "API.Acme.com."),
        ("api.acme.com", "https://api.acme.com/"),
        ("api.acme.com", "https://api.acme.com"),
        ("*.acme.io", "*.ACME.io"),
        ("https://acme.com/api/", "https://acme.com/api"),
    ],
)
def test_a_tie_between_providers_raises_naming_both(first: str, second: str) -> None:
    with pytest.raises(InvalidProvider) as info:
        ProviderMatcher([provider("zeta", first), provider("alpha", second)])
    assert "'alpha' and 'zeta'" in info.value.message


def test_same_pattern_twice_in_one_provider_is_not_a_tie() -> None:
    matcher = ProviderMatcher([provider("acme", "api.acme.com", "https://api.acme.com/")])
    assert matcher.match("api.acme.com", "/") == "acme"


def test_overlap_that_is_not_a_tie_builds() -> None:
    matcher = ProviderMatcher(
        [
            provider("a", "acme.com"),
            provider("b", "*.acme.com"),
            provider("c", "https://acme.com/x/"),
        ]
    )
    assert [matcher.match("acme.com", "/"), matcher.match("w.acme.com", "/")] == ["a", "b"]
    assert matcher.match("acme.com", "/x/1") == "c"


def test_templated_entries_are_skipped_until_resolved() -> None:
    """Building would raise if a ``{base_url}`` entry reached the parser."""
    matcher = ProviderMatcher([provider("gitlab", "{base_url}/api/v4", "gitlab.com")])
    assert matcher.match("gitlab.com", "/api/v4/projects") == "gitlab"
    only_templated = ProviderMatcher([provider("self-hosted", "{base_url}/api/v4")])
    assert only_templated.match("gitlab.com", "/api/v4/projects") is None


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("api.acme.com", HostPattern("api.acme.com")),
        ("API.acme.com.", HostPattern("api.acme.com")),
        ("*.acme.io", HostPattern("acme.io", wildcard=True)),
        ("https://acme.com/api/", HostPattern("acme.com", path="/api")),
        ("https://acme.com/a/b", HostPattern("acme.com", path="/a/b")),
        ("HTTPS://*.acme.com/", HostPattern("acme.com", wildcard=True)),
    ],
)
def test_parse(entry: str, expected: HostPattern) -> None:
    assert HostPattern.parse(entry) == expected


@pytest.mark.parametrize(
    "entry",
    [
        "*.com",
        "a.*.com",
        "x*.acme.io",
        "http://a.com/",
        "ftp://a.com",
        "a.com/x",
        "a.com:443",
        "https://a.com:443/",
        "https://a.com/x//y",
        "https://a.com/%2e",
        "{base_url}/x",
        "",
        ".",
    ],
)
def test_parse_refuses(entry: str) -> None:
    with pytest.raises(ValueError):
        HostPattern.parse(entry)


@pytest.mark.parametrize(
    ("pattern", "host", "path", "expected"),
    [
        ("*.acme.io", "a.b.acme.io", "/", True),
        ("*.acme.io", "acme.io", "/", False),
        ("*.acme.io", "evilacme.io", "/", False),
        ("*.acme.io", "acme.io.evil.test", "/", False),
        ("https://acme.com/api/", "ACME.com.", "/api", True),
        ("https://acme.com/api/", "acme.com", "/apix", False),
        ("https://acme.com/api/", "acme.com", "/api/../x", False),
        ("acme.com", "acme.com", "/../x", True),
    ],
)
def test_host_pattern_matches(pattern: str, host: str, path: str, expected: bool) -> None:
    assert HostPattern.parse(pattern).matches(host, path) is expected


def test_str_renders_an_equivalent_entry() -> None:
    for entry in ("api.acme.com", "*.acme.io", "https://acme.com/api/", "https://*.acme.io/v1/"):
        pattern = HostPattern.parse(entry)
        assert HostPattern.parse(str(pattern)) == pattern


# --- alternatives and {base_url} -------------------------------------------------------


def alternative(name: str, of: str, *api_url: str) -> ProviderDefinition:
    return provider(name, *api_url).model_copy(update={"alternative_to": of})


def test_alternatives_share_a_pattern_named_provider_first() -> None:
    matcher = ProviderMatcher(
        [
            alternative("github-pat", "github", "api.github.com"),
            provider("github", "api.github.com"),
            alternative("github-app", "github", "api.github.com"),
        ]
    )
    assert matcher.match_all("api.github.com", "/user") == ("github", "github-app", "github-pat")
    assert matcher.match("api.github.com", "/user") == "github"
    assert matcher.match_all("evilgithub.com", "/") == ()


def test_alternatives_without_the_named_provider_are_ordered_by_name() -> None:
    matcher = ProviderMatcher(
        [alternative("b", "gone", "x.example"), alternative("a", "gone", "x.example")]
    )
    assert matcher.match_all("x.example", "/") == ("a", "b")


def test_an_unrelated_provider_on_an_alternatives_pattern_is_still_a_tie() -> None:
    with pytest.raises(InvalidProvider, match="'github' and 'intruder'"):
        ProviderMatcher(
            [
                provider("github", "api.github.com"),
                alternative("github-pat", "github", "api.github.com"),
                provider("intruder", "api.github.com"),
            ]
        )


def test_alternatives_still_lose_to_a_more_specific_pattern() -> None:
    matcher = ProviderMatcher(
        [
            provider("google", "*.googleapis.com"),
            provider("gemini", "generativelanguage.googleapis.com"),
            provider("drive", "https://www.googleapis.com/drive/"),
        ]
    )
    assert matcher.match_all("www.googleapis.com", "/drive/v3/files") == ("drive",)
    assert matcher.match_all("www.googleapis.com", "/oauth2/v3/userinfo") == ("google",)
    assert matcher.match_all("generativelanguage.googleapis.com", "/v1beta/models") == ("gemini",)
    assert matcher.match_all("googleapis.com.evil.test", "/drive/v3") == ()


@pytest.mark.parametrize(
    ("entry", "base_url", "expected"),
    [
        ("{base_url}/api/", "https://ghe.corp.example", "https://ghe.corp.example/api/"),
        ("{base_url}/api/", "https://ghe.corp.example/", "https://ghe.corp.example/api/"),
        (
            "{base_url}/api/v4/",
            "https://corp.example/gitlab",
            "https://corp.example/gitlab/api/v4/",
        ),
        ("{base_url}", "https://shop.myshopify.com", "https://shop.myshopify.com"),
    ],
)
def test_resolve_base_url(entry: str, base_url: str, expected: str) -> None:
    assert resolve_base_url(entry, base_url) == expected


@pytest.mark.parametrize(
    "base_url",
    [
        "http://ghe.corp.example",
        "https://user@ghe.corp.example",
        "https://ghe.corp.example:8443",
        "https://ghe.corp.example/?x=1",
        "https://ghe.corp.example/#top",
        "ghe.corp.example",
        "https://[::1",
    ],
)
def test_resolve_base_url_refuses(base_url: str) -> None:
    with pytest.raises(ValueError):
        resolve_base_url("{base_url}/api/", base_url)


def test_instances_turn_templated_entries_into_patterns() -> None:
    ghe = provider("github-enterprise", "{base_url}/api/")
    assert ProviderMatcher([ghe]).match("ghe.corp.example", "/api/v3/user") is None
    instance = Instance("github-enterprise", "work", "https://ghe.corp.example")
    matcher = ProviderMatcher([ghe]).with_instances([instance])
    assert matcher.match("ghe.corp.example", "/api/v3/user") == "github-enterprise"
    assert matcher.match_owners("ghe.corp.example", "/api/v3/user") == (
        Owner("github-enterprise", "work", "https://ghe.corp.example"),
    )
    assert matcher.match("ghe.corp.example", "/login") is None
    assert matcher.match("ghe.corp.example.evil.test", "/api/v3/user") is None


def test_a_bad_base_url_is_left_out_and_says_why() -> None:
    instance = Instance("github-enterprise", "work", "http://x.example")
    matcher = ProviderMatcher([provider("github-enterprise", "{base_url}/api/")])
    resolved = matcher.with_instances([instance])
    assert "https://" in resolved.conflicts[instance]
    assert not resolved.intercepts_host("x.example")
