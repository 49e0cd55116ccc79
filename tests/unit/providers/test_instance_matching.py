"""A connection's own instance ({base_url}) in the matcher: its hosts, for it only.

The rules are those of listed hosts (whole labels, path segments, the most
specific pattern wins, ties are errors), and the catalogue's matcher is never
changed by adding a vault's instances to a copy.
"""

from __future__ import annotations

import pytest

from authsome.providers.catalogue import ProviderCatalogue
from authsome.providers.matching import (
    Instance,
    Owner,
    ProviderMatcher,
    check_instance_base_url,
)
from tests.support.providers import provider

GHE = provider("ghe", "{base_url}/api/")
SHOP = provider("shop", "{base_url}/admin/api/")
LAB = provider("lab", "https://gitlab.example/api/", "{base_url}/api/")
WIDE = provider("wide", "*.shops.example")
BASE = ProviderMatcher([GHE, SHOP, LAB, WIDE])


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("https://ghe.corp.example", "https://ghe.corp.example"),
        ("https://GHE.Corp.Example/", "https://ghe.corp.example"),
        ("  https://corp.example/gitlab/ ", "https://corp.example/gitlab"),
        ("https://acme.myshopify.com", "https://acme.myshopify.com"),
    ],
)
def test_a_base_url_is_stored_in_one_form(given: str, stored: str) -> None:
    assert check_instance_base_url(given) == stored


@pytest.mark.parametrize(
    ("base_url", "why"),
    [
        ("http://ghe.corp.example", "https://"),
        ("ghe.corp.example", "https://"),
        ("https://127.0.0.1", "IP address"),
        ("https://10.0.0.7", "IP address"),
        ("https://[::1]", "IP address"),
        ("https://[fe80::1]", "IP address"),
        ("https://localhost", "full host name"),
        ("https://ghe", "full host name"),
        ("https://ghe.corp.example:8443", "port"),
        ("https://user:pw@ghe.corp.example", "user info"),
        ("https://ghe.corp.example@evil.test", "user info"),
        ("https://ghe.corp.example/?x=1", "query"),
        ("https://ghe.corp.example/#x", "fragment"),
        ("https://ghe.corp.example?", "query"),
        ("https://-ghe.corp.example", "valid host"),
        ("https://ghe..corp.example", "valid host"),
        ("https://ghé.corp.example", "valid host"),
        ("https://ghe.corp.example/a/../b", "'.' or '..'"),
        ("https://ghe.corp.example/a%2f", "plain segments"),
        ("https://", "https://"),
    ],
)
def test_unsafe_base_urls_are_refused(base_url: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        check_instance_base_url(base_url)


def test_an_instance_host_leads_to_its_connection_only() -> None:
    matcher = BASE.with_instances(
        [
            Instance("ghe", "work", "https://ghe.corp.example"),
            Instance("ghe", "club", "https://git.club.example"),
        ]
    )
    work = Owner("ghe", "work", "https://ghe.corp.example")
    club = Owner("ghe", "club", "https://git.club.example")
    assert matcher.match_owners("ghe.corp.example", "/api/v3/user") == (work,)
    assert matcher.match_owners("GHE.corp.example.", "/api/graphql") == (work,)
    assert matcher.match_owners("git.club.example", "/api/v3/user") == (club,)
    assert matcher.match_all("ghe.corp.example", "/api/v3/user") == ("ghe",)
    assert matcher.intercepts_host("ghe.corp.example")


@pytest.mark.parametrize(
    ("host", "path"),
    [
        ("ghe.corp.example", "/apix/v3"),
        ("ghe.corp.example", "/login/oauth/authorize"),
        ("ghe.corp.example", "/api/../login"),
        ("ghe.corp.example", "/api/%2e%2e/login"),
        ("ghe.corp.example.evil.test", "/api/v3/user"),
        ("evilghe.corp.example", "/api/v3/user"),
        ("x.ghe.corp.example", "/api/v3/user"),
        ("corp.example", "/api/v3/user"),
    ],
)
def test_look_alikes_of_an_instance_get_nothing(host: str, path: str) -> None:
    matcher = BASE.with_instances([Instance("ghe", "work", "https://ghe.corp.example")])
    assert matcher.match_owners(host, path) == ()


def test_a_path_base_url_keeps_its_prefix() -> None:
    matcher = BASE.with_instances([Instance("lab", "corp", "https://corp.example/gitlab")])
    corp = Owner("lab", "corp", "https://corp.example/gitlab")
    assert matcher.match_owners("corp.example", "/gitlab/api/v4/projects") == (corp,)
    assert matcher.match_owners("corp.example", "/api/v4/projects") == ()
    assert matcher.match_owners("corp.example", "/gitlabx/api/v4") == ()


def test_the_catalogue_matcher_is_not_changed() -> None:
    BASE.with_instances([Instance("ghe", "work", "https://ghe.corp.example")])
    assert BASE.match_owners("ghe.corp.example", "/api/v3/user") == ()
    assert not BASE.intercepts_host("ghe.corp.example")


def test_listed_hosts_name_no_connection() -> None:
    matcher = BASE.with_instances([Instance("lab", "corp", "https://git.corp.example")])
    assert matcher.match_owners("gitlab.example", "/api/v4/user") == (Owner("lab"),)


def test_an_instance_on_its_providers_listed_url_is_served_as_listed() -> None:
    """gitlab logged in with --base-url https://gitlab.com is the public instance."""
    matcher = BASE.with_instances([Instance("lab", "public", "https://gitlab.example")])
    assert matcher.match_owners("gitlab.example", "/api/v4/user") == (Owner("lab"),)
    assert matcher.conflicts == {}


def test_an_exact_instance_host_beats_another_providers_wildcard() -> None:
    matcher = BASE.with_instances([Instance("shop", "main", "https://acme.shops.example")])
    assert matcher.match_owners("acme.shops.example", "/admin/api/2024-01/shop.json") == (
        Owner("shop", "main", "https://acme.shops.example"),
    )
    assert matcher.match_owners("acme.shops.example", "/cart") == (Owner("wide"),)
    assert matcher.match_owners("other.shops.example", "/admin/api/x") == (Owner("wide"),)


def test_two_connections_on_one_instance_are_tried_in_the_given_order() -> None:
    matcher = BASE.with_instances(
        [
            Instance("shop", "admin", "https://acme.myshopify.com"),
            Instance("shop", "read", "https://acme.myshopify.com/"),
        ]
    )
    owners = matcher.match_owners("acme.myshopify.com", "/admin/api/x")
    assert [owner.connection for owner in owners] == ["admin", "read"]


def test_an_instance_that_ties_with_another_providers_host_is_left_out() -> None:
    clash = Instance("ghe", "x", "https://gitlab.example")  # {base_url}/api/ = lab's listed URL
    matcher = BASE.with_instances([clash])
    assert "already belongs to lab" in matcher.conflicts[clash]
    assert matcher.match_owners("gitlab.example", "/api/v4/user") == (Owner("lab"),)


def test_instances_of_two_providers_on_one_url_tie_and_the_later_is_left_out() -> None:
    first = Instance("ghe", "a", "https://git.corp.example")
    second = Instance("lab", "b", "https://git.corp.example")
    matcher = BASE.with_instances([first, second])
    assert second in matcher.conflicts and first not in matcher.conflicts
    assert matcher.match_owners("git.corp.example", "/api/x") == (
        Owner("ghe", "a", "https://git.corp.example"),
    )


def test_alternatives_may_share_an_instance() -> None:
    pat = provider("ghe-pat", "{base_url}/api/", alternative_to="ghe")
    matcher = ProviderMatcher([GHE, pat]).with_instances(
        [
            Instance("ghe-pat", "key", "https://ghe.corp.example"),
            Instance("ghe", "oauth", "https://ghe.corp.example"),
        ]
    )
    owners = matcher.match_owners("ghe.corp.example", "/api/v3/user")
    assert [owner.provider for owner in owners] == ["ghe", "ghe-pat"]  # the named one first
    assert matcher.conflicts == {}


def test_an_unfit_base_url_or_removed_provider_matches_nothing() -> None:
    loopback = Instance("ghe", "dev", "http://127.0.0.1:8443")  # an OAuth test server's URL
    gone = Instance("removed", "x", "https://ghe.corp.example")
    matcher = BASE.with_instances([loopback, gone])
    assert "https://" in matcher.conflicts[loopback]
    assert gone not in matcher.conflicts
    assert not matcher.intercepts_host("127.0.0.1")
    assert not matcher.intercepts_host("ghe.corp.example")


@pytest.mark.parametrize(
    ("name", "base_url", "host", "path"),
    [
        ("github-enterprise", "https://ghe.corp.example", "ghe.corp.example", "/api/v3/user"),
        ("gitlab", "https://git.corp.example", "git.corp.example", "/api/v4/projects"),
        ("shopify", "https://acme.myshopify.com", "acme.myshopify.com", "/admin/api/x"),
        (
            "atlassian-api-token",
            "https://acme.atlassian.net",
            "acme.atlassian.net",
            "/wiki/rest/api/space",
        ),
    ],
)
def test_bundled_instances_keep_off_the_public_hosts(
    name: str, base_url: str, host: str, path: str
) -> None:
    catalogue = ProviderCatalogue.load()
    matcher = catalogue.matcher.with_instances([Instance(name, "default", base_url)])
    assert matcher.match_owners(host, path) == (Owner(name, "default", base_url),)
    assert matcher.conflicts == {}
    for public_host, public_path in [("api.github.com", "/user"), ("gitlab.com", "/api/v4/user")]:
        owners = matcher.match_owners(public_host, public_path)
        assert owners and all(owner.connection is None for owner in owners)
