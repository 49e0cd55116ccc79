"""Opening a connection's secrets for reveal/export: refresh tokens only on request;
export variable names from the provider's ``export`` map, ``env_var`` or a fallback;
the halves of a 'user:secret' key."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from authsome.crypto.envelope import FieldContext, seal_field
from authsome.daemon.services.reveal import Revealed, export_variables, open_connection
from authsome.daemon.services.vaults import VaultKeys
from authsome.providers.catalogue import ProviderCatalogue
from authsome.providers.schema import ProviderDefinition, load_provider_data
from authsome.store.db import create_store_engine, make_session_factory, migrate
from authsome.store.models import Connection, ConnectionSecret, Principal, Vault

SECRETS = {"access_token": "at-123", "refresh_token": "rt-456"}


@pytest.fixture
def stored(tmp_path: Path) -> Iterator[tuple[Session, VaultKeys, Vault, Connection]]:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'r.db'}")
    migrate(engine)
    keys = VaultKeys(secrets.token_bytes(32))
    with make_session_factory(engine)() as session:
        principal = Principal(id="p1", email="p@example.com", password_hash="x", role="admin")
        session.add(principal)
        session.flush()
        vault = keys.ensure_vault(session, principal)
        now = datetime.now(UTC)
        connection = Connection(
            id="c1",
            vault_id=vault.id,
            provider="acme",
            name="work",
            is_default=True,
            auth_type="oauth2",
            created_at=now,
            updated_at=now,
        )
        session.add(connection)
        session.flush()
        for field, value in SECRETS.items():
            sealed = seal_field(
                keys.data_key(vault), value.encode(), FieldContext(vault.id, "acme", "work", field)
            )
            session.add(ConnectionSecret(connection_id="c1", field=field, ciphertext=sealed))
        session.flush()
        yield session, keys, vault, connection
    engine.dispose()


def test_refresh_token_only_when_asked(
    stored: tuple[Session, VaultKeys, Vault, Connection],
) -> None:
    session, keys, vault, connection = stored
    without = open_connection(session, keys, vault, connection, include_refresh=False)
    assert without.fields == {"access_token": "at-123"}
    assert without.primary == "at-123" and "at-123" not in repr(without)
    with_refresh = open_connection(session, keys, vault, connection, include_refresh=True)
    assert with_refresh.fields == SECRETS


def _definition(**extra: object) -> ProviderDefinition:
    return load_provider_data(
        {
            "schema_version": 1,
            "name": "acme",
            "display_name": "Acme",
            "auth_type": "api_key",
            "flow": "api_key",
            "api_url": ["api.acme.test"],
            **extra,
        },
        source="test",
    )


def test_export_names() -> None:
    revealed = Revealed("acme", "work", "api_key", None, {"api_key": "k", "refresh_token": "r"})
    named = _definition(api_key={"env_var": "ACME_KEY"}, export={"ACME_REFRESH": "REFRESH_TOKEN"})
    assert export_variables(named, revealed) == {"ACME_KEY": "k", "ACME_REFRESH": "r"}
    bare = _definition(api_key={})
    assert export_variables(bare, revealed) == {"ACME_API_KEY": "k", "ACME_REFRESH_TOKEN": "r"}
    dotted = Revealed("my.tool-x", "default", "api_key", None, {"api_key": "k"})
    assert export_variables(None, dotted) == {"MY_TOOL_X_API_KEY": "k"}


TWILIO_SID = "AC" + "0123456789abcdef" * 2


def test_a_pair_key_is_exported_as_its_two_halves() -> None:
    twilio = ProviderCatalogue.load().get("twilio")
    revealed = Revealed("twilio", "default", "api_key", None, {"api_key": f"{TWILIO_SID}:tok3n"})
    assert export_variables(twilio, revealed) == {
        "TWILIO_ACCOUNT_SID": TWILIO_SID,
        "TWILIO_AUTH_TOKEN": "tok3n",
    }  # and no variable holding the whole pair


def test_a_key_without_a_colon_has_no_halves() -> None:
    pair = _definition(
        api_key={
            "auth_scheme": "basic",
            "basic_credentials": "{key}",
            "key_pattern": "^.+$",
            "env_var": "ACME_SECRET",
        },
        export={"ACME_USER": "API_KEY_USER", "ACME_SECRET": "API_KEY_PASSWORD"},
    )
    whole = Revealed("acme", "work", "api_key", None, {"api_key": "no-colon"})
    # Nothing is made up for the halves; the key still leaves under the fallback name.
    assert export_variables(pair, whole) == {"ACME_API_KEY": "no-colon"}
    user_only = Revealed("acme", "work", "api_key", None, {"api_key": "me:"})
    assert export_variables(pair, user_only) == {"ACME_USER": "me"}
