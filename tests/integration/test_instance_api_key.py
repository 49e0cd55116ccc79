"""API-key connections of one instance (`login --base-url`): that instance's hosts only.

Shopify keeps its Admin API at ``{base_url}/admin/api/``: a key logged in for
one shop must reach that shop and no other, and a provider's listed (public)
hosts must refuse a key that belongs to an instance. The shops are local
HTTPS stand-ins reached through the daemon's ``--proxy-resolve``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from authsome.client.connect import open_client
from authsome.errors import CredentialUnavailable, OperationNotAllowed
from authsome.home import HomeLayout
from authsome.testing.upstream import HttpsEchoServer, TestCA
from tests.integration.conftest import UPSTREAM_NAMES, Gateway, open_gateway
from tests.support import store
from tests.support.cli import eventually
from tests.support.daemon import CliResult

SHOP_A, SHOP_B, TENANT, PUBLIC, TIE = (
    "shop-a.example.test",
    "shop-b.example.test",
    "tenant.example.test",
    "public.tenantco.test",
    "tie.example.test",
)
NAMES = (SHOP_A, SHOP_B, TENANT, PUBLIC, TIE)
KEY_A = "shpat_PLANTED_shop_a_0123456789"
KEY_B = "shpat_PLANTED_shop_b_9876543210"
TENANT_KEY = "tenantco-PLANTED-key-5555"
#: A custom provider with a public host and per-tenant hosts (self-hosted or not).
TENANTCO = {
    "schema_version": 1,
    "name": "tenantco",
    "display_name": "TenantCo",
    "auth_type": "api_key",
    "flow": "api_key",
    "api_url": [PUBLIC, "{base_url}/v1/"],
    "api_key": {"header_name": "X-Tenant-Key", "header_prefix": ""},
}
#: Claims the URL a shop at https://tie.example.test would have.
TIED = {
    "schema_version": 1,
    "name": "tied",
    "display_name": "Tied",
    "auth_type": "api_key",
    "flow": "api_key",
    "api_url": [f"https://{TIE}/admin/api/"],
    "api_key": {"header_name": "X-Tied", "header_prefix": ""},
}


def _ok(result: CliResult) -> CliResult:
    assert result.code == 0, result.err
    return result


@dataclass
class Shops:
    gateway: Gateway
    port: int  # the stand-in answering for NAMES

    def cli(
        self, *args: str, input: str | None = None, env: dict[str, str] | None = None
    ) -> CliResult:
        result = self.gateway.daemon.cli(*args, input=input, env=env, timeout=90)
        self.gateway.outputs.extend([result.out, result.err])
        return result


@pytest.fixture(scope="module")
def shops(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shops]:
    tmp = tmp_path_factory.mktemp("instances")
    ca = TestCA()
    with HttpsEchoServer(ca, NAMES) as server:
        extra = tuple((name, server.port) for name in NAMES)
        with open_gateway(tmp, ca=ca, extra_resolve=extra) as gateway:
            for name, definition in (("tenantco", TENANTCO), ("tied", TIED)):
                path = tmp / f"{name}.json"
                path.write_text(json.dumps(definition))
                _ok(gateway.cli("provider", "register", str(path)))
            for args, key in (
                (("shopify", "--base-url", f"https://{SHOP_A}/"), KEY_A),
                (("shopify", "--connection", "b", "--base-url", f"https://{SHOP_B}"), KEY_B),
                (("tenantco", "--base-url", f"https://{TENANT}"), TENANT_KEY),
            ):
                _ok(gateway.cli("login", *args, "--key-stdin", input=key + "\n"))
            yield Shops(gateway, server.port)


def _curl(shops: Shops, url: str, *run_args: str) -> Any:
    """(200, headers the upstream saw) or (status, the proxy's refusal)."""
    command = ("curl", "-sS", "-w", "\n%{http_code}", url)
    result = shops.cli("run", *run_args, "--", *command)
    assert result.code == 0, result.err
    body, _, status = result.out.rpartition("\n")
    if status != "200":
        return int(status), body
    echo = json.loads(body)
    return 200, {name.lower(): value for name, value in echo["headers"]}


def test_each_shop_gets_its_own_key_and_no_other(shops: Shops) -> None:
    status, headers = _curl(shops, f"https://{SHOP_A}/admin/api/2024-10/shop.json")
    assert status == 200 and headers["x-shopify-access-token"] == KEY_A
    status, headers = _curl(shops, f"https://{SHOP_B}/admin/api/2024-10/shop.json")
    assert status == 200 and headers["x-shopify-access-token"] == KEY_B
    # Outside the instance's path, and on a host no connection names: untouched.
    status, headers = _curl(shops, f"https://{SHOP_A}/cart.json")
    assert status == 200 and "x-shopify-access-token" not in headers
    status, headers = _curl(shops, f"https://{TENANT}/admin/api/2024-10/shop.json")
    assert status == 200 and "x-shopify-access-token" not in headers


def test_the_base_url_is_stored_with_the_connection_and_audited(shops: Shops) -> None:
    rows = store.rows(
        shops.gateway.daemon.home,
        "SELECT name, base_url FROM connections WHERE provider = ? ORDER BY name",
        "shopify",
    )
    assert [tuple(row) for row in rows] == [
        ("b", f"https://{SHOP_B}"),
        ("default", f"https://{SHOP_A}"),  # stored without the trailing slash it was given
    ]
    logged = _ok(shops.cli("log", "--json", "--event", "login")).out.splitlines()
    details = [json.loads(line).get("detail") or {} for line in logged]
    assert {"flow": "api_key", "replaced": False, "base_url": f"https://{TENANT}"} in details


def test_a_public_host_refuses_a_key_of_an_instance(shops: Shops) -> None:
    status, headers = _curl(shops, f"https://{TENANT}/v1/items")
    assert status == 200 and headers["x-tenant-key"] == TENANT_KEY
    status, body = _curl(shops, f"https://{PUBLIC}/v1/items")
    assert status == 403
    assert f"is for https://{TENANT}" in body and TENANT_KEY not in body


def test_a_run_that_names_another_connection_gets_neither_key(shops: Shops) -> None:
    status, body = _curl(shops, f"https://{SHOP_A}/admin/api/x", "--connection", "shopify=b")
    assert status == 403 and "'default'" in body and "'b'" in body
    assert KEY_A not in body and KEY_B not in body
    status, headers = _curl(shops, f"https://{SHOP_B}/admin/api/x", "--connection", "shopify=b")
    assert status == 200 and headers["x-shopify-access-token"] == KEY_B


def test_logout_stops_the_injection_at_once(shops: Shops) -> None:
    key = "shpat_PLANTED_shop_d_2222"
    base = f"https://{SHOP_B}/d"  # a path prefix: the shop under /d only
    login = ("login", "shopify", "--connection", "d", "--base-url", base, "--key-stdin")
    _ok(shops.cli(*login, input=key + "\n"))
    status, headers = _curl(shops, f"{base}/admin/api/x")
    assert status == 200 and headers["x-shopify-access-token"] == key
    _ok(shops.cli("logout", "shopify", "--connection", "d"))
    status, headers = _curl(shops, f"{base}/admin/api/x")
    assert status == 200 and "x-shopify-access-token" not in headers


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("openai", "--base-url", f"https://{TENANT}"), "takes no --base-url"),
        (("shopify",), "--base-url"),
        (("shopify", "--base-url", f"http://{SHOP_A}"), "https://"),
        (("shopify", "--base-url", "https://127.0.0.1"), "IP address"),
        (("shopify", "--base-url", f"https://{SHOP_A}:8443"), "port"),
        (("shopify", "--base-url", f"https://u@{SHOP_A}"), "user info"),
        (("shopify", "--base-url", f"https://{SHOP_A}/?a=1"), "query"),
        (("shopify", "--base-url", f"https://{TIE}"), "already belongs to tied"),
    ],
)
def test_an_unfit_base_url_stores_nothing(shops: Shops, args: tuple[str, ...], said: str) -> None:
    key = "shpat_PLANTED_refused_0000"
    refused = shops.cli("login", *args, "--connection", "x", "--key-stdin", input=key + "\n")
    assert refused.code == 2, refused.err
    assert said in refused.err
    assert key not in refused.err + refused.out
    home = shops.gateway.daemon.home
    assert store.rows(home, "SELECT name FROM connections WHERE name = ?", "x") == []


#: Requests one `run --local-proxy` child makes in turn, so that an answer the
#: CLI kept for one host would show on the next: (URL, header to read).
LOCAL_PROXY_REQUESTS = (
    (f"https://{SHOP_A}/admin/api/2024-10/shop.json", "x-shopify-access-token"),
    (f"https://{SHOP_A}/admin/api/2024-10/orders.json", "x-shopify-access-token"),
    (f"https://{SHOP_B}/admin/api/2024-10/shop.json", "x-shopify-access-token"),
    (f"https://{TENANT}/admin/api/2024-10/shop.json", "x-shopify-access-token"),
    (f"https://{TENANT}/v1/items", "x-tenant-key"),
    (f"https://{PUBLIC}/v1/items", "x-tenant-key"),
)
#: The child: one line per request, the status and the header seen upstream (or the refusal).
LOCAL_PROXY_CHILD = """
import json, sys, httpx
with httpx.Client(timeout=20) as client:
    for url, header in json.loads(sys.argv[1]):
        answer = client.get(url)
        if answer.status_code != 200:
            print(json.dumps([answer.status_code, answer.text]))
            continue
        seen = {name.lower(): value for name, value in answer.json()["headers"]}
        print(json.dumps([200, seen.get(header)]))
"""


def test_the_local_proxy_injects_on_instance_hosts_as_the_daemon_does(shops: Shops) -> None:
    """`run --local-proxy` matches the vault's instances as the daemon's proxy does:
    each shop gets its own key, a host no connection names gets none, and the
    listed (public) host still refuses the tenant's key, in one run whose answer
    cache would otherwise carry a key from one host to the next."""
    resolve = [f"{name}=127.0.0.1:{shops.gateway.upstream.port}" for name in UPSTREAM_NAMES]
    resolve += [f"{name}=127.0.0.1:{shops.port}" for name in NAMES]
    env = {
        "AUTHSOME_PROXY_RESOLVE": ",".join(resolve),
        "AUTHSOME_UPSTREAM_CA": str(shops.gateway.ca_file),
    }
    child = (sys.executable, "-c", LOCAL_PROXY_CHILD, json.dumps(LOCAL_PROXY_REQUESTS))
    result = shops.cli("run", "--local-proxy", "--", *child, env=env)
    assert result.code == 0, result.err
    seen = [tuple(json.loads(line)) for line in result.out.splitlines()]
    assert seen[:5] == [(200, KEY_A), (200, KEY_A), (200, KEY_B), (200, None), (200, TENANT_KEY)]
    status, body = seen[5]
    assert status == 403 and f"is for https://{TENANT}" in body and TENANT_KEY not in body
    # The two requests to shop A's pattern cost the daemon one decision.

    def decided_once() -> None:  # the daemon writes these events in batches
        logged = _ok(shops.cli("log", "--json", "--event", "credential_resolved")).out
        local = [json.loads(line) for line in logged.splitlines()]
        local = [e for e in local if (e.get("detail") or {}).get("local_proxy")]
        assert [e["connection"] for e in local if e["host"] == SHOP_A] == ["default"]

    eventually(decided_once)


def test_the_library_resolves_an_instance_as_the_proxy_does(shops: Shops) -> None:
    home = HomeLayout(shops.gateway.daemon.home)
    with open_client(home, autostart=False) as client:
        shop_a = client.resolve(f"https://{SHOP_A}/admin/api/2024-10/shop.json")
        assert shop_a == {
            "provider": "shopify",
            "connection": "default",
            "headers": {"X-Shopify-Access-Token": KEY_A},
        }
        assert client.resolve(f"https://{SHOP_B}/admin/api/x")["connection"] == "b"
        assert client.resolve(f"https://{SHOP_A}/cart.json")["headers"] == {}
        with pytest.raises(OperationNotAllowed, match="own instance"):
            client.resolve(f"https://{SHOP_A}/admin/api/x", connection="b")
        with pytest.raises(CredentialUnavailable, match=f"is for https://{TENANT}"):
            client.resolve(f"https://{PUBLIC}/v1/items")
