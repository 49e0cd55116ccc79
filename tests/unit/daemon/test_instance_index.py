"""Per-vault instances: what the proxy matches for each vault, and when it reads again.

A real store (SQLite in a temporary folder) holds two vaults: each vault's
matcher knows its own connections' instances and never the other's.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from authsome.daemon.services.instances import (
    InstanceIndex,
    check_new_instance,
    instance_refusal,
)
from authsome.errors import InvalidInput
from authsome.providers.catalogue import ProviderCatalogue
from authsome.providers.matching import Owner
from authsome.store.db import create_store_engine, make_session_factory, migrate
from authsome.store.models import Connection, OAuthGrant, Principal, Vault

CATALOGUE = ProviderCatalogue.load()


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'i.db'}")
    migrate(engine)
    factory = make_session_factory(engine)
    with factory() as session:
        for who in ("a", "b"):
            session.add(
                Principal(id=who, email=f"{who}@example.com", password_hash="x", role="user")
            )
            session.flush()
            session.add(
                Vault(id=f"vault-{who}", principal_id=who, name=who, wrapped_data_key=b"unused")
            )
        session.commit()
    yield factory
    engine.dispose()


def _add(
    sessions: sessionmaker[Session],
    vault: str,
    provider: str,
    name: str,
    *,
    api_key_base: str | None = None,
    oauth_base: str | None = None,
) -> None:
    now = datetime.now(UTC)
    with sessions() as session:
        connection = Connection(
            id=f"{vault}-{provider}-{name}",
            vault_id=vault,
            provider=provider,
            name=name,
            is_default=True,
            auth_type="oauth2" if oauth_base is not None else "api_key",
            created_at=now,
            updated_at=now,
            base_url=api_key_base,
        )
        session.add(connection)
        session.flush()
        if oauth_base is not None:
            session.add(OAuthGrant(connection_id=connection.id, endpoints={"base_url": oauth_base}))
        session.commit()


def test_each_vault_matches_its_own_instances_only(sessions: sessionmaker[Session]) -> None:
    _add(sessions, "vault-a", "shopify", "default", api_key_base="https://a.myshopify.com")
    _add(sessions, "vault-b", "github-enterprise", "default", oauth_base="https://ghe.b.example")
    index = InstanceIndex(sessions)
    a, b = index.matcher("vault-a", CATALOGUE), index.matcher("vault-b", CATALOGUE)
    assert a.match_owners("a.myshopify.com", "/admin/api/x") == (
        Owner("shopify", "default", "https://a.myshopify.com"),
    )
    assert not a.intercepts_host("ghe.b.example")
    assert b.match("ghe.b.example", "/api/v3/user") == "github-enterprise"
    assert not b.intercepts_host("a.myshopify.com")
    assert index.matcher(None, CATALOGUE) is CATALOGUE.matcher
    assert index.matcher("vault-a", CATALOGUE) is a  # built once per catalogue


def test_a_vault_without_instances_uses_the_catalogue_matcher(
    sessions: sessionmaker[Session],
) -> None:
    _add(sessions, "vault-a", "openai", "default")
    _add(sessions, "vault-b", "gitlab", "default", oauth_base="https://gitlab.com")
    index = InstanceIndex(sessions)
    assert index.matcher("vault-a", CATALOGUE) is CATALOGUE.matcher
    # gitlab.com is gitlab's listed URL: served as listed, any connection of the run's choice
    assert index.matcher("vault-b", CATALOGUE).match_owners("gitlab.com", "/api/v4/user") == (
        Owner("gitlab"),
    )


def test_a_vault_is_read_again_only_after_forget(sessions: sessionmaker[Session]) -> None:
    index = InstanceIndex(sessions)
    assert index.matcher("vault-a", CATALOGUE) is CATALOGUE.matcher
    _add(sessions, "vault-a", "shopify", "default", api_key_base="https://a.myshopify.com")
    assert not index.matcher("vault-a", CATALOGUE).intercepts_host("a.myshopify.com")
    index.forget("vault-b")
    assert not index.matcher("vault-a", CATALOGUE).intercepts_host("a.myshopify.com")
    index.forget("vault-a")
    assert index.matcher("vault-a", CATALOGUE).intercepts_host("a.myshopify.com")


def test_a_new_catalogue_gets_a_new_matcher(sessions: sessionmaker[Session]) -> None:
    _add(sessions, "vault-a", "shopify", "default", api_key_base="https://a.myshopify.com")
    index = InstanceIndex(sessions)
    first = index.matcher("vault-a", CATALOGUE)
    other = ProviderCatalogue.load()
    second = index.matcher("vault-a", other)
    assert second is not first and second.intercepts_host("a.myshopify.com")


def test_the_connection_itself_is_checked_against_the_matched_instance(
    sessions: sessionmaker[Session],
) -> None:
    shopify, gitlab = CATALOGUE.get("shopify"), CATALOGUE.get("gitlab")
    shop = Connection(name="default", auth_type="api_key", base_url="https://a.myshopify.com")
    assert instance_refusal(shopify, shop, None, "https://a.myshopify.com") is None
    assert instance_refusal(shopify, shop, None, "https://A.myshopify.com/") is None
    moved = instance_refusal(shopify, shop, None, "https://b.myshopify.com")
    assert moved is not None and "no longer for https://b.myshopify.com" in moved
    listed = instance_refusal(shopify, shop, None, None)
    assert listed is not None and "is for https://a.myshopify.com" in listed

    lab = Connection(name="default", auth_type="oauth2")
    public = OAuthGrant(endpoints={"base_url": "https://gitlab.com"})
    corp = OAuthGrant(endpoints={"base_url": "https://git.corp.example"})
    assert instance_refusal(gitlab, lab, public, None) is None
    assert instance_refusal(gitlab, lab, corp, None) is not None
    assert instance_refusal(gitlab, lab, corp, "https://git.corp.example") is None
    plain = Connection(name="default", auth_type="api_key")
    assert instance_refusal(CATALOGUE.get("openai"), plain, None, None) is None


def test_a_new_instance_is_checked_before_it_is_stored(sessions: sessionmaker[Session]) -> None:
    _add(sessions, "vault-a", "github-enterprise", "default", oauth_base="https://git.corp.example")
    with sessions() as session:

        def check(provider: str, url: str, connection: str = "default") -> str:
            return check_new_instance(
                session, CATALOGUE, "vault-a", CATALOGUE.get(provider), connection=connection,
                base_url=url,
            )  # fmt: skip

        assert check("shopify", "https://Acme.myshopify.com/") == "https://acme.myshopify.com"
        with pytest.raises(InvalidInput, match="takes no --base-url"):
            check("openai", "https://acme.example")
        with pytest.raises(InvalidInput, match="IP address"):
            check("shopify", "https://10.1.2.3")
        # gitlab's {base_url}/api/ there is github-enterprise's, in this vault
        with pytest.raises(InvalidInput, match="already belongs to github-enterprise"):
            check("gitlab", "https://git.corp.example")
        # the connection being replaced does not tie with itself
        assert check("github-enterprise", "https://git.corp.example") == "https://git.corp.example"
        # nor does another vault's connection
        assert check_new_instance(
            session, CATALOGUE, "vault-b", CATALOGUE.get("gitlab"), connection="default",
            base_url="https://git.corp.example",
        ) == "https://git.corp.example"  # fmt: skip
        # a URL the catalogue lists for another provider: {base_url}/api/ is discord's
        with pytest.raises(InvalidInput, match="already belongs to discord"):
            check("gitlab", "https://discord.com")
