"""Which variables `authsome scan` reads per provider: only those holding a whole key,
never one the ``export`` map fills with half of a 'user:secret' key."""

from __future__ import annotations

from authsome.cli.envscan import Rule, scan_environment
from authsome.daemon.services.scan import scan_rules
from authsome.providers.catalogue import ProviderCatalogue
from authsome.providers.schema import ProviderDefinition
from tests.support.providers import provider

TWILIO_SID = "AC" + "0123456789abcdef" * 2


def _pair_provider(name: str, export: dict[str, str]) -> ProviderDefinition:
    return provider(
        name,
        f"api.{name}.test",
        api_key={
            "auth_scheme": "basic",
            "basic_credentials": "{key}",
            "env_var": f"{name.upper()}_SECRET",
            "key_pattern": "^.+$",  # permissive: a half alone would match it
        },
        export=export,
    )


def _variables(catalogue: ProviderCatalogue) -> dict[str, tuple[str, ...]]:
    return {rule.provider: rule.variables for rule in scan_rules(catalogue)}


def test_a_half_of_a_pair_is_never_a_scan_variable() -> None:
    halves = _pair_provider(
        "halves", {"HALVES_USER": "API_KEY_USER", "HALVES_SECRET": "API_KEY_PASSWORD"}
    )
    whole = _pair_provider("whole", {"WHOLE_PAIR": "API_KEY", "WHOLE_SECRET": "API_KEY_PASSWORD"})
    plain = _pair_provider("plain", {})  # env_var unmapped: it holds the whole key
    variables = _variables(ProviderCatalogue([], [halves, whole, plain]))
    assert variables == {"whole": ("WHOLE_PAIR",), "plain": ("PLAIN_SECRET",)}


def test_twilio_halves_in_the_environment_are_not_compared_with_the_vault() -> None:
    variables = _variables(ProviderCatalogue.load())
    assert "twilio" not in variables
    assert variables["openai"] == ("OPENAI_API_KEY",)
    rules = [
        Rule(r.provider, r.variables, r.key_pattern) for r in scan_rules(ProviderCatalogue.load())
    ]
    environ = {"TWILIO_ACCOUNT_SID": TWILIO_SID, "TWILIO_AUTH_TOKEN": "0123456789abcdef" * 2}
    assert scan_environment(environ, rules) == []
