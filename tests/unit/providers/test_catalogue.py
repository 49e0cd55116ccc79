"""Provider catalogue: the bundled files, custom overlays, lookups."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest

from authsome.errors import InvalidProvider, OperationNotAllowed, ProviderExists, ProviderNotFound
from authsome.providers.catalogue import ProviderCatalogue, bundled_providers
from authsome.providers.schema import ProviderDefinition, load_provider_json

BUNDLED_FILES = sorted(
    item.name
    for item in resources.files("authsome.providers").joinpath("bundled").iterdir()
    if item.name.endswith(".json")
)

# name: (host, path, header name, header value for key "k", env var, a realistic key shape)
EXPECTED: dict[str, tuple[str, str, str, str, str, str | None]] = {
    "openai": (
        "api.openai.com",
        "/v1/chat/completions",
        "Authorization",
        "Bearer k",
        "OPENAI_API_KEY",
        "sk-proj-" + "Ab1_-" * 30,
    ),
    "anthropic": (
        "api.anthropic.com",
        "/v1/messages",
        "x-api-key",
        "k",
        "ANTHROPIC_API_KEY",
        "sk-ant-api03-" + "Zz9_-" * 19,
    ),
    "groq": (
        "api.groq.com",
        "/openai/v1/chat/completions",
        "Authorization",
        "Bearer k",
        "GROQ_API_KEY",
        "gsk_" + "a1B2" * 13,
    ),
    "mistral": (
        "api.mistral.ai",
        "/v1/chat/completions",
        "Authorization",
        "Bearer k",
        "MISTRAL_API_KEY",
        None,
    ),
    "openrouter": (
        "openrouter.ai",
        "/api/v1/chat/completions",
        "Authorization",
        "Bearer k",
        "OPENROUTER_API_KEY",
        "sk-or-v1-" + "0123456789abcdef" * 4,
    ),
    "perplexity": (
        "api.perplexity.ai",
        "/chat/completions",
        "Authorization",
        "Bearer k",
        "PERPLEXITY_API_KEY",
        "pplx-" + "aB3d" * 12,
    ),
    "resend": (
        "api.resend.com",
        "/emails",
        "Authorization",
        "Bearer k",
        "RESEND_API_KEY",
        "re_Ab12Cd34_" + "Xy9Z" * 6,
    ),
    "sendgrid": (
        "api.sendgrid.com",
        "/v3/mail/send",
        "Authorization",
        "Bearer k",
        "SENDGRID_API_KEY",
        "SG." + "a1B2_c3D4-e5F6g7H8i9J0" + "." + "k" * 43,
    ),
}


def custom(name: str, *api_url: str, **extra: Any) -> ProviderDefinition:
    data: dict[str, Any] = {
        "schema_version": 1,
        "name": name,
        "display_name": name.title(),
        "auth_type": "api_key",
        "flow": "api_key",
        "api_url": list(api_url),
        "api_key": {"header_name": "X-Api-Key", "header_prefix": None},
        **extra,
    }
    return load_provider_json(json.dumps(data), source=f"custom:{name}")


@pytest.mark.parametrize("file_name", BUNDLED_FILES)
def test_every_bundled_file_loads_and_is_named_after_its_file(file_name: str) -> None:
    raw = resources.files("authsome.providers").joinpath("bundled", file_name).read_bytes()
    defn = load_provider_json(raw, source=file_name)
    assert f"{defn.name}.json" == file_name
    assert defn.schema_version == 1


def test_the_first_eight_providers_are_bundled() -> None:
    names = [d.name for d in bundled_providers()]
    assert names == sorted(names)
    assert set(EXPECTED) <= set(names)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bundled_provider_facts(name: str) -> None:
    host, path, header, value, env_var, sample_key = EXPECTED[name]
    catalogue = ProviderCatalogue.load()
    defn = catalogue.get(name)
    assert catalogue.matcher.match(host, path) == name
    assert catalogue.matcher.match(f"{host}.attacker.test", path) is None
    assert defn.auth_type == "api_key"
    assert defn.api_key is not None
    assert (defn.api_key.header_name, defn.api_key.header_value("k")) == (header, value)
    assert defn.api_key.env_var == env_var
    assert defn.export == {env_var: "API_KEY"}
    if sample_key is not None:
        assert defn.api_key.key_matches(sample_key)
        assert not defn.api_key.key_matches("not-a-key")
        assert not defn.api_key.key_matches(sample_key[:8])


def test_bundled_files_are_read_once_per_process() -> None:
    assert bundled_providers() is bundled_providers()
    assert ProviderCatalogue.load().get("openai") is ProviderCatalogue.load().get("openai")


def test_get_unknown_provider_hints_at_the_list_command() -> None:
    with pytest.raises(ProviderNotFound) as info:
        ProviderCatalogue.load().get("nope")
    assert "nope" in info.value.message
    assert info.value.hint is not None
    assert "authsome provider list" in info.value.hint


def test_find_returns_none_for_unknown() -> None:
    catalogue = ProviderCatalogue.load()
    assert catalogue.find("nope") is None
    assert catalogue.find("openai") is catalogue.get("openai")


def test_all_is_sorted_and_includes_custom() -> None:
    catalogue = ProviderCatalogue.load([custom("aaa", "aaa.example"), custom("zzz", "z.example")])
    names = [d.name for d in catalogue.all()]
    assert names == sorted(names)
    assert {"aaa", "zzz", "openai"} <= set(names)


def test_custom_provider_is_matched_and_not_bundled() -> None:
    catalogue = ProviderCatalogue.load().with_custom(custom("acme", "*.acme.io"))
    assert catalogue.matcher.match("x.acme.io", "/") == "acme"
    assert catalogue.matcher.match("evilacme.io", "/") is None
    assert catalogue.matcher.match("acme.io.evil.test", "/") is None
    assert catalogue.matcher.match("acme.io", "/") is None
    assert not catalogue.is_bundled("acme")
    assert catalogue.is_bundled("openai")
    assert not catalogue.is_bundled("nope")


def test_with_custom_returns_a_new_catalogue() -> None:
    before = ProviderCatalogue.load()
    after = before.with_custom(custom("acme", "api.acme.com"))
    assert before.find("acme") is None
    assert before.matcher.match("api.acme.com", "/") is None
    assert after.get("acme").name == "acme"


def test_bundled_name_needs_force() -> None:
    catalogue = ProviderCatalogue.load()
    replacement = custom("openai", "gateway.corp.test")
    with pytest.raises(ProviderExists, match="bundled provider named 'openai'"):
        catalogue.with_custom(replacement)
    forced = catalogue.with_custom(replacement, force=True)
    assert forced.get("openai") is replacement
    assert not forced.is_bundled("openai")
    assert forced.matcher.match("gateway.corp.test", "/") == "openai"
    assert forced.matcher.match("api.openai.com", "/v1/models") is None


def test_existing_custom_name_needs_force() -> None:
    catalogue = ProviderCatalogue.load([custom("acme", "api.acme.com")])
    with pytest.raises(ProviderExists, match="custom provider named 'acme'"):
        catalogue.with_custom(custom("acme", "api2.acme.com"))
    replaced = catalogue.with_custom(custom("acme", "api2.acme.com"), force=True)
    assert replaced.matcher.match("api2.acme.com", "/") == "acme"
    assert replaced.matcher.match("api.acme.com", "/") is None


def test_custom_claiming_a_bundled_host_is_a_tie() -> None:
    with pytest.raises(InvalidProvider, match="'my-openai' and 'openai'"):
        ProviderCatalogue.load().with_custom(custom("my-openai", "https://api.openai.com/"))


def test_custom_narrowing_a_bundled_host_by_path_is_allowed() -> None:
    catalogue = ProviderCatalogue.load().with_custom(
        custom("openai-files", "https://api.openai.com/v1/files/")
    )
    assert catalogue.matcher.match("api.openai.com", "/v1/files/abc") == "openai-files"
    assert catalogue.matcher.match("api.openai.com", "/v1/models") == "openai"


def test_load_with_custom_overriding_a_bundled_name() -> None:
    """Stored custom providers were forced at registration; loading accepts them."""
    catalogue = ProviderCatalogue.load([custom("groq", "groq.corp.test")])
    assert catalogue.matcher.match("groq.corp.test", "/") == "groq"
    assert not catalogue.is_bundled("groq")


def test_load_refuses_duplicate_custom_names() -> None:
    with pytest.raises(InvalidProvider, match="'acme' is defined twice"):
        ProviderCatalogue.load([custom("acme", "a.acme.com"), custom("acme", "b.acme.com")])


def test_without_custom_restores_the_bundled_definition() -> None:
    forced = ProviderCatalogue.load().with_custom(custom("openai", "gateway.corp.test"), force=True)
    assert forced.overrides_bundled("openai")
    restored = forced.without_custom("openai")
    assert restored.is_bundled("openai") and not restored.overrides_bundled("openai")
    assert restored.matcher.match("api.openai.com", "/v1/models") == "openai"
    assert restored.matcher.match("gateway.corp.test", "/") is None


def test_without_custom_drops_a_plain_custom_provider() -> None:
    catalogue = ProviderCatalogue.load([custom("acme", "api.acme.com")])
    assert not catalogue.overrides_bundled("acme")
    after = catalogue.without_custom("acme")
    assert after.find("acme") is None
    assert after.matcher.match("api.acme.com", "/") is None
    assert catalogue.find("acme") is not None  # the original is unchanged


def test_without_custom_refuses_bundled_and_unknown_names() -> None:
    with pytest.raises(OperationNotAllowed, match="bundled provider"):
        ProviderCatalogue.load().without_custom("openai")
    with pytest.raises(ProviderNotFound, match="nope"):
        ProviderCatalogue.load().without_custom("nope")
