"""Provider definition schema: what loads, what is refused, and how errors read."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from authsome.errors import InvalidProvider
from authsome.providers.schema import (
    ApiKeyConfig,
    ProviderDefinition,
    load_provider_data,
    load_provider_json,
    pair_part,
)

ACME: dict[str, Any] = {
    "schema_version": 1,
    "name": "acme",
    "display_name": "Acme",
    "auth_type": "api_key",
    "flow": "api_key",
    "api_url": ["api.acme.com", "*.acme.io", "https://acme.com/api/"],
    "api_key": {
        "header_name": "Authorization",
        "header_prefix": "Bearer",
        "env_var": "ACME_API_KEY",
        "key_pattern": "^acme_[A-Za-z0-9]{20,}$",
    },
    "export": {"ACME_API_KEY": "API_KEY"},
}

OAUTH_ACME: dict[str, Any] = {
    "schema_version": 1,
    "name": "acme-oauth",
    "display_name": "Acme (OAuth)",
    "auth_type": "oauth2",
    "flow": "pkce",
    "api_url": ["api.acme.com"],
    "oauth": {
        "authorization_url": "https://acme.com/oauth/authorize",
        "token_url": "https://acme.com/oauth/token",
        "scopes": ["read", "write:all"],
    },
}


def edited(base: dict[str, Any], change: Callable[[dict[str, Any]], object]) -> str:
    data = copy.deepcopy(base)
    change(data)
    return json.dumps(data)


def error_of(raw: str, source: str = "acme.json") -> str:
    with pytest.raises(InvalidProvider) as info:
        load_provider_json(raw, source=source)
    return info.value.message


def test_the_design_example_loads() -> None:
    defn = load_provider_json(json.dumps(ACME), source="acme.json")
    assert defn.name == "acme"
    assert defn.api_url == ("api.acme.com", "*.acme.io", "https://acme.com/api/")
    assert defn.api_key is not None
    assert defn.api_key.env_var == "ACME_API_KEY"
    assert defn.export == {"ACME_API_KEY": "API_KEY"}


def test_bytes_with_a_utf8_bom_load() -> None:
    raw = b"\xef\xbb\xbf" + json.dumps(ACME).encode()
    assert load_provider_json(raw, source="acme.json").name == "acme"


def test_an_oauth_definition_loads() -> None:
    defn = load_provider_json(json.dumps(OAUTH_ACME), source="x")
    assert defn.oauth is not None
    assert defn.oauth.scopes == ("read", "write:all")
    assert defn.api_key is None


def test_definitions_are_immutable() -> None:
    defn = load_provider_json(json.dumps(ACME), source="x")
    with pytest.raises(ValueError, match="frozen"):
        defn.name = "other"  # type: ignore[misc]


# (what is wrong, how to break ACME, text the error must contain)
BAD_DEFINITIONS: list[tuple[str, Callable[[dict[str, Any]], object], str]] = [
    ("unknown top-level field", lambda d: d.update(nmae="x"), "nmae: unknown field"),
    ("typo suggests the field", lambda d: d.update(dispaly_name="x"), "'display_name'"),
    ("unknown nested field", lambda d: d["api_key"].update(header="x"), "api_key.header:"),
    ("schema_version 2", lambda d: d.update(schema_version=2), "schema_version:"),
    ("schema_version as text", lambda d: d.update(schema_version="1"), "schema_version:"),
    ("missing name", lambda d: d.pop("name"), "name: required field is missing"),
    ("name with path", lambda d: d.update(name="../x"), "name: '../x' is not a valid"),
    ("name with slash", lambda d: d.update(name="a/b"), "name:"),
    ("name with dot-dot", lambda d: d.update(name="a..b"), "name:"),
    ("name upper-case", lambda d: d.update(name="Acme"), "name:"),
    ("name too long", lambda d: d.update(name="a" * 64), "name:"),
    ("empty display name", lambda d: d.update(display_name=" "), "display_name:"),
    ("display name with newline", lambda d: d.update(display_name="A\nB"), "display_name:"),
    ("unknown auth_type", lambda d: d.update(auth_type="basic"), "auth_type:"),
    ("unknown flow", lambda d: d.update(flow="implicit"), "flow:"),
    ("api_key with pkce", lambda d: d.update(flow="pkce"), "flow: an api_key provider"),
    ("missing api_key block", lambda d: d.pop("api_key"), "api_key: required when"),
    ("null api_key block", lambda d: d.update(api_key=None), "api_key: required when"),
    (
        "oauth block on api_key",
        lambda d: d.update(oauth={"token_url": "https://a.io/t"}),
        "oauth: only allowed",
    ),
    (
        "header name with space",
        lambda d: d["api_key"].update(header_name="X Key"),
        "api_key.header_name: 'X Key' is not a valid HTTP header name",
    ),
    ("header name with colon", lambda d: d["api_key"].update(header_name="X:"), "header_name:"),
    ("header name Host", lambda d: d["api_key"].update(header_name="Host"), "header_name:"),
    (
        "header name Proxy-Authorization",
        lambda d: d["api_key"].update(header_name="proxy-authorization"),
        "header_name:",
    ),
    (
        "prefix with CRLF",
        lambda d: d["api_key"].update(header_prefix="Bearer\r\nX-Evil: 1"),
        "api_key.header_prefix:",
    ),
    ("prefix non-ASCII", lambda d: d["api_key"].update(header_prefix="Bé"), "header_prefix:"),
    ("env var lower-case", lambda d: d["api_key"].update(env_var="acme_key"), "api_key.env_var:"),
    ("env var with dash", lambda d: d["api_key"].update(env_var="ACME-KEY"), "env_var:"),
    (
        "key pattern does not compile",
        lambda d: d["api_key"].update(key_pattern="^(sk-"),
        "api_key.key_pattern: is not a valid regular expression",
    ),
    ("api_url empty", lambda d: d.update(api_url=[]), "api_url:"),
    ("api_url missing", lambda d: d.pop("api_url"), "api_url: required field is missing"),
    ("star in the middle", lambda d: d.update(api_url=["api.*.acme.com"]), "api_url[0]:"),
    ("star inside a label", lambda d: d.update(api_url=["*acme.io"]), "api_url[0]:"),
    ("star not first", lambda d: d.update(api_url=["acme.*"]), "api_url[0]:"),
    ("wildcard on a TLD", lambda d: d.update(api_url=["*.io"]), "at least two labels"),
    ("bare star", lambda d: d.update(api_url=["*"]), "api_url[0]:"),
    (
        "http URL",
        lambda d: d.update(api_url=["api.acme.com", "http://acme.com/api/"]),
        "api_url[1]: 'http://acme.com/api/': only https:// URLs are allowed",
    ),
    ("path without scheme", lambda d: d.update(api_url=["acme.com/api"]), "https:// URL"),
    ("URL with port", lambda d: d.update(api_url=["https://acme.com:8443/"]), "a port"),
    ("URL with user info", lambda d: d.update(api_url=["https://u@acme.com/"]), "user info"),
    ("URL with query", lambda d: d.update(api_url=["https://acme.com/api?x=1"]), "a query"),
    ("URL with dot-dot", lambda d: d.update(api_url=["https://acme.com/a/../b"]), "'..'"),
    ("URL with star path", lambda d: d.update(api_url=["https://acme.com/*"]), "api_url[0]"),
    ("label with dash edge", lambda d: d.update(api_url=["-acme.com"]), "not a valid host label"),
    ("empty label", lambda d: d.update(api_url=["api..acme.com"]), "api_url[0]"),
    ("IPv6 literal", lambda d: d.update(api_url=["https://[::1]/"]), "api_url[0]"),
    ("regex entry", lambda d: d.update(api_url=["regex:.*acme"]), "regex: entries are not"),
    ("template in middle", lambda d: d.update(api_url=["x{base_url}/a"]), "api_url[0]"),
    ("template with junk", lambda d: d.update(api_url=["{base_url}api"]), "api_url[0]"),
    ("export lower-case env", lambda d: d.update(export={"acme": "API_KEY"}), "export:"),
    ("export odd source", lambda d: d.update(export={"ACME": "api key"}), "export:"),
    ("docs_url http", lambda d: d.update(docs_url="http://acme.com/docs"), "docs_url:"),
    ("empty object", lambda d: d.clear(), "schema_version: required field is missing"),
]


@pytest.mark.parametrize(
    ("change", "expected"),
    [pytest.param(change, expected, id=what) for what, change, expected in BAD_DEFINITIONS],
)
def test_bad_definitions_name_the_field(
    change: Callable[[dict[str, Any]], object], expected: str
) -> None:
    message = error_of(edited(ACME, change))
    assert message.startswith("acme.json: ")
    assert expected in message


BAD_OAUTH: list[tuple[str, Callable[[dict[str, Any]], object], str]] = [
    ("missing oauth block", lambda d: d.pop("oauth"), "oauth: required when"),
    ("oauth2 with api_key flow", lambda d: d.update(flow="api_key"), "flow: an oauth2 provider"),
    (
        "pkce without token_url",
        lambda d: d["oauth"].pop("token_url"),
        "oauth.token_url: required for flow 'pkce'",
    ),
    (
        "device_code without its endpoint",
        lambda d: d.update(flow="device_code"),
        "oauth.device_authorization_url: required for flow 'device_code'",
    ),
    (
        "api_key block on oauth2",
        lambda d: d.update(api_key={"header_name": "Authorization"}),
        "api_key: only allowed",
    ),
    (
        "token_url over http",
        lambda d: d["oauth"].update(token_url="http://acme.com/token"),
        "oauth.token_url: must be an https:// URL",
    ),
    (
        "unknown placeholder",
        lambda d: d["oauth"].update(token_url="{tenant}/token"),
        "oauth.token_url: a placeholder is only allowed as {base_url}",
    ),
    (
        "placeholder not first",
        lambda d: d["oauth"].update(token_url="https://x.io/{base_url}"),
        "oauth.token_url:",
    ),
    ("scope with space", lambda d: d["oauth"].update(scopes=["a b"]), "oauth.scopes:"),
    (
        "base_url with query",
        lambda d: d["oauth"].update(base_url="https://acme.com/?x=1"),
        "oauth.base_url:",
    ),
    (
        "base_url itself a template",
        lambda d: d["oauth"].update(base_url="{base_url}"),
        "oauth.base_url: placeholders such as {base_url} are not allowed here",
    ),
    ("unknown oauth field", lambda d: d["oauth"].update(scope=["x"]), "oauth.scope: unknown"),
]


@pytest.mark.parametrize(
    ("change", "expected"),
    [pytest.param(change, expected, id=what) for what, change, expected in BAD_OAUTH],
)
def test_bad_oauth_definitions_name_the_field(
    change: Callable[[dict[str, Any]], object], expected: str
) -> None:
    assert expected in error_of(edited(OAUTH_ACME, change))


GOOD_OAUTH: list[tuple[str, Callable[[dict[str, Any]], object]]] = [
    (
        "device code",
        lambda d: (
            d.update(flow="device_code")
            or d["oauth"].update(device_authorization_url="https://acme.com/device")
        ),
    ),
    ("dcr discovers its URLs", lambda d: d.update(flow="dcr_pkce", oauth={})),
    (
        "base_url templates",
        lambda d: (
            d.update(api_url=["{base_url}/api/v4"])
            or d["oauth"].update(
                base_url="https://gitlab.example",
                authorization_url="{base_url}/oauth/authorize",
                token_url="{base_url}/oauth/token",
            )
        ),
    ),
    (
        "loopback http for a local server",
        lambda d: d["oauth"].update(token_url="http://127.0.0.1:8080/token"),
    ),
    ("upstream informational flags", lambda d: d["oauth"].update(pkce=True, supports_dcr=False)),
]


@pytest.mark.parametrize("change", [pytest.param(change, id=what) for what, change in GOOD_OAUTH])
def test_valid_oauth_variants_load(change: Callable[[dict[str, Any]], object]) -> None:
    assert load_provider_json(edited(OAUTH_ACME, change), source="x").flow


def test_upstream_style_single_api_url_string_is_a_list() -> None:
    raw = edited(ACME, lambda d: d.update(api_url="https://api.acme.com/client/v4", logo="x"))
    assert load_provider_json(raw, source="x").api_url == ("https://api.acme.com/client/v4",)


def test_every_problem_is_reported_at_once() -> None:
    message = error_of(edited(ACME, lambda d: d.update(name="A", flow="nope")))
    assert "name:" in message
    assert "flow:" in message


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        ('{"name": "acme",\n  "flow": }', "line 2, column 11"),
        ('{"name": "acme"', "line 1, column 16"),
        ("", "line 1, column 1"),
    ],
)
def test_malformed_json_reports_line_and_column(raw: str, where: str) -> None:
    message = error_of(raw, source="custom/acme.json")
    assert message.startswith("custom/acme.json: invalid JSON at ")
    assert where in message


def test_json_that_is_not_an_object_is_refused() -> None:
    assert error_of("[]").startswith("acme.json: (top level): ")


def test_duplicate_keys_are_refused() -> None:
    raw = json.dumps(ACME)[:-1] + ', "name": "other"}'
    assert "duplicate key 'name'" in error_of(raw)


def test_nan_is_refused() -> None:
    assert "NaN" in error_of('{"schema_version": NaN}')


def test_non_utf8_bytes_are_refused() -> None:
    with pytest.raises(InvalidProvider, match="not UTF-8"):
        load_provider_json(b"\xff\xfe{", source="x")


def test_load_provider_data_validates_parsed_json() -> None:
    with pytest.raises(InvalidProvider, match=r"^request body: api_key\.env_var:"):
        load_provider_data(
            json.loads(edited(ACME, lambda d: d["api_key"].update(env_var="x"))),
            source="request body",
        )


def test_errors_do_not_echo_field_values_they_did_not_ask_for() -> None:
    """Pydantic's default message would include the input; a pasted key must not leak."""
    secret = "sk-live-0123456789abcdef0123456789"
    message = error_of(edited(ACME, lambda d: d.update(display_name=[secret])))
    assert secret not in message


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [("Bearer", "Bearer k-1"), ("", "k-1"), (None, "k-1"), (" Token ", "Token k-1")],
)
def test_header_value(prefix: str | None, expected: str) -> None:
    assert ApiKeyConfig(header_prefix=prefix).header_value("k-1") == expected


def test_api_key_defaults_follow_upstream() -> None:
    config = ApiKeyConfig()
    assert (config.header_name, config.header_prefix) == ("Authorization", "Bearer")


def test_key_pattern_must_match_the_whole_key() -> None:
    config = ApiKeyConfig(key_pattern="sk-[a-z]+")
    assert config.key_matches("sk-abc")
    assert not config.key_matches("sk-abc!")
    assert not config.key_matches("xsk-abc")
    assert ApiKeyConfig().key_matches("anything")


def test_model_round_trips_through_json() -> None:
    defn = load_provider_json(json.dumps(ACME), source="x")
    again = load_provider_json(defn.model_dump_json(exclude_none=True), source="x")
    assert again == defn
    assert isinstance(again, ProviderDefinition)


# --- auth schemes, unsupported injection, alternatives --------------------------------


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"auth_scheme": "basic", "basic_credentials": "{key}:"}, "Basic azEtMTo="),  # k1-1:
        ({"auth_scheme": "basic", "basic_credentials": ":{key}"}, "Basic OmsxLTE="),
        (
            {"auth_scheme": "basic", "basic_credentials": "anystring:{key}"},
            "Basic YW55c3RyaW5nOmsxLTE=",
        ),
        ({"header_template": "Token token={key}"}, "Token token=k1-1"),
        (
            {"header_name": "Klaviyo-Key", "header_prefix": "Klaviyo-API-Key"},
            "Klaviyo-API-Key k1-1",
        ),
    ],
)
def test_header_value_per_scheme(config: dict[str, str], expected: str) -> None:
    assert ApiKeyConfig.model_validate(config).header_value("k1-1") == expected


def test_basic_pair_key_needs_a_pattern_and_is_encoded_whole() -> None:
    config = ApiKeyConfig(
        auth_scheme="basic", basic_credentials="{key}", key_pattern="^AC[0-9a-f]{4}:[a-z]+$"
    )
    assert config.header_value("AC12ab:tok") == "Basic QUMxMmFiOnRvaw=="
    assert config.describe() == "Authorization: Basic base64(<key>)"
    message = error_of(
        edited(
            ACME,
            lambda d: d.update(api_key={"auth_scheme": "basic", "basic_credentials": "{key}"}),
        )
    )
    assert "api_key.basic_credentials" in message and "key_pattern" in message


@pytest.mark.parametrize(
    ("api_key", "field"),
    [
        ({"auth_scheme": "basic"}, "api_key.basic_credentials: required"),
        ({"basic_credentials": "{key}:"}, "api_key.basic_credentials: only used"),
        (
            {"auth_scheme": "basic", "basic_credentials": "{key}:", "header_name": "X-Key"},
            "api_key.header_name",
        ),
        (
            {"auth_scheme": "basic", "basic_credentials": "{key}:", "header_prefix": "Bearer"},
            "api_key.header_prefix",
        ),
        ({"header_template": "Token {key} {key}"}, "api_key.header_template"),
        ({"header_template": "Token {secret}"}, "api_key.header_template"),
        ({"header_template": "Token\n{key}"}, "api_key.header_template"),
        ({"header_template": "T {key}", "header_prefix": "Bearer"}, "not both"),
        ({"auth_scheme": "signature"}, "api_key.auth_scheme"),
    ],
)
def test_scheme_fields_are_checked(api_key: dict[str, str], field: str) -> None:
    assert field in error_of(edited(ACME, lambda d: d.update(api_key=api_key)))


def test_basic_accepts_an_explicit_basic_prefix() -> None:
    config = ApiKeyConfig(auth_scheme="basic", basic_credentials="{key}:", header_prefix="Basic")
    assert config.header_value("k") == "Basic azo="


@pytest.mark.parametrize(
    ("config", "shown"),
    [
        ({}, "Authorization: Bearer <key>"),
        ({"header_name": "x-api-key", "header_prefix": ""}, "x-api-key: <key>"),
        ({"header_template": "Token token={key}"}, "Authorization: Token token=<key>"),
        (
            {"auth_scheme": "basic", "basic_credentials": "{key}:"},
            "Authorization: Basic base64(<key>:)",
        ),
    ],
)
def test_describe(config: dict[str, str], shown: str) -> None:
    assert ApiKeyConfig.model_validate(config).describe() == shown


def test_unsupported_injection_needs_a_reason_and_only_then() -> None:
    unsupported = edited(ACME, lambda d: d.update(injection="unsupported"))
    assert "injection_reason: required" in error_of(unsupported)
    reason_only = edited(ACME, lambda d: d.update(injection_reason="because"))
    assert "injection_reason: required exactly" in error_of(reason_only)
    ok = edited(ACME, lambda d: d.update(injection="unsupported", injection_reason="query key"))
    assert load_provider_json(ok, source="x").injection_reason == "query key"


def test_alternative_to_is_a_name_and_not_itself() -> None:
    assert "alternative_to" in error_of(edited(ACME, lambda d: d.update(alternative_to="acme")))
    assert "alternative_to" in error_of(edited(ACME, lambda d: d.update(alternative_to="A B")))
    ok = edited(ACME, lambda d: d.update(alternative_to="acme-oauth"))
    assert load_provider_json(ok, source="x").alternative_to == "acme-oauth"


def test_oauth_header_defaults_to_bearer_and_may_be_raw() -> None:
    defn = load_provider_json(json.dumps(OAUTH_ACME), source="x")
    assert defn.oauth is not None
    assert (defn.oauth.header_name, defn.oauth.header_prefix) == ("Authorization", "Bearer")
    raw = edited(OAUTH_ACME, lambda d: d["oauth"].update(header_prefix=""))
    oauth = load_provider_json(raw, source="x").oauth
    assert oauth is not None and oauth.header_prefix == ""
    bad = edited(OAUTH_ACME, lambda d: d["oauth"].update(header_name="Host"))
    assert "oauth.header_name" in error_of(bad)


def test_upstream_type_field_is_dropped() -> None:
    defn = load_provider_json(edited(ACME, lambda d: d.update(type="app")), source="x")
    assert "type" not in defn.model_dump()


def test_docs_url_may_point_into_a_page_but_endpoints_may_not() -> None:
    ok = edited(ACME, lambda d: d.update(docs_url="https://acme.com/docs#auth"))
    assert load_provider_json(ok, source="x").docs_url == "https://acme.com/docs#auth"
    bad = edited(OAUTH_ACME, lambda d: d["oauth"].update(token_url="https://acme.com/t#x"))
    assert "oauth.token_url: must not carry a fragment" in error_of(bad)


@pytest.mark.parametrize(
    "api_key",
    [
        {"auth_scheme": "basic", "basic_credentials": "{key}:"},
        {"header_template": "Token token={key}"},
        {"header_name": "x-api-key", "header_prefix": ""},
    ],
)
def test_every_scheme_round_trips_through_a_full_dump(api_key: dict[str, str]) -> None:
    """The daemon hands out whole definitions; reading one back must give the same model."""
    defn = load_provider_json(edited(ACME, lambda d: d.update(api_key=api_key)), source="x")
    assert load_provider_data(defn.model_dump(mode="json"), source="x") == defn
    assert load_provider_data(defn.model_dump(mode="json", exclude_none=True), source="x") == defn


def test_header_display() -> None:
    assert load_provider_json(json.dumps(ACME), source="x").header_display() == (
        "Authorization: Bearer <key>"
    )
    oauth = edited(OAUTH_ACME, lambda d: d["oauth"].update(header_prefix=""))
    assert load_provider_json(oauth, source="x").header_display() == "Authorization: <token>"
    off = edited(ACME, lambda d: d.update(injection="unsupported", injection_reason="query"))
    assert load_provider_json(off, source="x").header_display() is None


# --- export sources for the halves of a 'user:secret' key -----------------------------

PAIR_API_KEY: dict[str, str] = {
    "auth_scheme": "basic",
    "basic_credentials": "{key}",
    "env_var": "ACME_TOKEN",
    "key_pattern": "^AC[0-9a-f]{4}:[A-Za-z0-9]+$",
}


def test_a_basic_pair_provider_may_export_the_halves_of_its_key() -> None:
    raw = edited(
        ACME,
        lambda d: d.update(
            api_key=PAIR_API_KEY,
            export={"ACME_SID": "API_KEY_USER", "ACME_TOKEN": "API_KEY_PASSWORD"},
        ),
    )
    defn = load_provider_json(raw, source="x")
    assert defn.api_key is not None and defn.api_key.stores_pair
    assert defn.export == {"ACME_SID": "API_KEY_USER", "ACME_TOKEN": "API_KEY_PASSWORD"}
    assert load_provider_data(defn.model_dump(mode="json"), source="x") == defn


@pytest.mark.parametrize("source", ["API_KEY_USER", "API_KEY_PASSWORD"])
@pytest.mark.parametrize(
    "api_key",
    [
        ACME["api_key"],  # a header key
        {"auth_scheme": "basic", "basic_credentials": "{key}:"},  # the key is the username
        {"auth_scheme": "basic", "basic_credentials": "anystring:{key}"},  # ... the password
        {  # the key holds the colon, but a prefix makes it no longer the username alone
            "auth_scheme": "basic",
            "basic_credentials": "x-{key}",
            "key_pattern": "^[a-z]+:[a-z]+$",
        },
    ],
)
def test_pair_sources_need_a_key_stored_as_the_basic_pair(
    api_key: dict[str, str], source: str
) -> None:
    raw = edited(ACME, lambda d: d.update(api_key=api_key, export={"ACME_PART": source}))
    message = error_of(raw)
    assert message.startswith("acme.json: export.ACME_PART: "), message
    assert source in message and "basic_credentials '{key}'" in message


def test_an_oauth_provider_cannot_name_pair_sources() -> None:
    raw = edited(OAUTH_ACME, lambda d: d.update(export={"ACME_USER": "API_KEY_USER"}))
    assert error_of(raw).startswith("acme.json: export.ACME_USER: ")
    plain = edited(OAUTH_ACME, lambda d: d.update(export={"ACME_TOKEN": "ACCESS_TOKEN"}))
    assert load_provider_json(plain, source="x").export == {"ACME_TOKEN": "ACCESS_TOKEN"}


@pytest.mark.parametrize(
    ("key", "user", "password"),
    [
        ("AC12ab:tok", "AC12ab", "tok"),
        ("user:pa:ss", "user", "pa:ss"),  # only the first colon splits
        ("no-colon-here", None, None),
        (":secret", None, "secret"),
        ("user:", "user", None),
    ],
)
def test_pair_part_splits_at_the_first_colon(
    key: str, user: str | None, password: str | None
) -> None:
    assert (pair_part(key, "API_KEY_USER"), pair_part(key, "API_KEY_PASSWORD")) == (
        user,
        password,
    )
