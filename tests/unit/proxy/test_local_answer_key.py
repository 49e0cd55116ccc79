"""The key ``run --local-proxy`` keeps the daemon's answers under (``Match.key``).

An answer carries a credential, so two requests may share one only if the
daemon decides them alike: same pattern, same provider(s), same connection,
same instance. The CLI's matcher is rebuilt from the daemon's JSON
(``GET /runs/{id}/providers``) and must match exactly as the daemon's does.
"""

from __future__ import annotations

import pytest

from authsome.providers.matching import Instance, ProviderMatcher
from authsome.proxy.local_backend import load_matcher
from tests.support.providers import provider

SHOP = provider("shop", "{base_url}/admin/api/")
TENANT = provider("tenant", "public.tenant.example", "{base_url}/v1/")
OAUTH = provider("acme", "*.acme.example")
KEY = provider("acme-key", "*.acme.example", alternative_to="acme")
PROVIDERS = [SHOP, TENANT, OAUTH, KEY]
INSTANCES = [
    Instance("shop", "default", "https://a.shop.example"),
    Instance("shop", "b", "https://b.shop.example"),
    Instance("tenant", "default", "https://t.tenant.example"),
]
DAEMON = ProviderMatcher(PROVIDERS).with_instances(INSTANCES)
REQUESTS = [
    ("a.shop.example", "/admin/api/2024-10/shop.json"),
    ("a.shop.example", "/admin/api/orders"),
    ("A.Shop.Example.", "/admin/api/x?q=1"),
    ("b.shop.example", "/admin/api/2024-10/shop.json"),
    ("a.shop.example", "/cart.json"),
    ("t.tenant.example", "/v1/items"),
    ("public.tenant.example", "/v1/items"),
    ("eu.acme.example", "/v1/x"),
    ("us.acme.example", "/v2/y"),
    ("nobody.example", "/"),
]


def _key(host: str, path: str) -> tuple[str, ...]:
    matched = DAEMON.matched(host, path)
    assert matched is not None, host
    return matched.key


def test_the_cli_matches_as_the_daemon_from_its_json() -> None:
    local = load_matcher(
        [p.model_dump(mode="json", by_alias=True, exclude_none=True) for p in PROVIDERS],
        [instance._asdict() for instance in INSTANCES],
    )
    for host, path in REQUESTS:
        assert local.matched(host, path) == DAEMON.matched(host, path), (host, path)
        assert local.intercepts_host(host) == DAEMON.intercepts_host(host), host


def test_requests_owned_alike_share_a_key() -> None:
    shop_a = _key("a.shop.example", "/admin/api/2024-10/shop.json")
    assert _key("a.shop.example", "/admin/api/orders") == shop_a
    assert _key("A.Shop.Example.", "/admin/api/x?q=1") == shop_a
    assert shop_a == (
        "https://a.shop.example/admin/api/",
        "shop",
        "default",
        "https://a.shop.example",
    )
    # One wildcard pattern, other hosts under it: one listed decision.
    assert _key("eu.acme.example", "/v1/x") == _key("us.acme.example", "/v2/y")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        # Another instance of the same provider (another connection).
        (("a.shop.example", "/admin/api/x"), ("b.shop.example", "/admin/api/x")),
        # An instance's host and its provider's listed (public) host.
        (("t.tenant.example", "/v1/items"), ("public.tenant.example", "/v1/items")),
        # Instances of two providers.
        (("a.shop.example", "/admin/api/x"), ("t.tenant.example", "/v1/items")),
    ],
)
def test_differently_owned_requests_never_share_a_key(
    first: tuple[str, str], second: tuple[str, str]
) -> None:
    assert _key(*first) != _key(*second)


def test_another_connection_on_the_same_instance_is_another_key() -> None:
    """After a re-login under another name, an answer kept for the old
    connection is not reused for the new one."""
    relogged = ProviderMatcher(PROVIDERS).with_instances(
        [Instance("shop", "c", "https://a.shop.example")]
    )
    matched = relogged.matched("a.shop.example", "/admin/api/x")
    assert matched is not None and matched.key != _key("a.shop.example", "/admin/api/x")


def test_alternatives_on_a_listed_host_key_every_owner_in_order() -> None:
    assert _key("eu.acme.example", "/") == ("*.acme.example", "acme", "", "", "acme-key", "", "")
    assert DAEMON.matched("nobody.example", "/") is None
    assert DAEMON.matched("a.shop.example", "/cart.json") is None
