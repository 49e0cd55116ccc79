"""``POST /reveal`` and ``POST /export``: the only routes that return raw secrets.

Both need the caller's grant to allow ``reveal`` (and the provider), or the
principal's password in the body. Both are audited (``reveal``/``export``).
A refusal's audit event and sign-in throttle counters are committed before
the error is raised, so failed attempts are never lost with a rollback.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import SecretStr

from authsome.daemon.deps import CallerDep, StateDep
from authsome.daemon.schemas import (
    ExportedConnection,
    ExportedSecrets,
    ExportRequest,
    RevealedSecrets,
    RevealRequest,
)
from authsome.daemon.services.connection_admin import get_connection
from authsome.daemon.services.reveal import (
    Refused,
    authorize,
    export_candidates,
    export_variables,
    open_connection,
    record_revealed,
)
from authsome.daemon.services.vault_access import caller_vault
from authsome.errors import InvalidInput
from authsome.store.db import transaction

router = APIRouter(tags=["reveal"])


def _password(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.post("/reveal")
def reveal(
    body: RevealRequest, request: Request, caller: CallerDep, state: StateDep
) -> RevealedSecrets:
    """One connection's raw secret fields (``inspect --reveal``, ``get_credential``)."""
    provider = state.catalogue.get(body.provider).name
    with transaction(state.sessions) as db:
        via = authorize(
            db,
            state.audit,
            caller,
            [provider],
            password=_password(body.password),
            client=_client(request),
            action="reveal",
        )
        if not isinstance(via, Refused):
            vault = caller_vault(db, caller)
            connection = get_connection(db, vault, provider, body.connection)
            revealed = open_connection(
                db, state.vault_keys, vault, connection, include_refresh=body.include_refresh
            )
            record_revealed(db, caller, revealed, action="reveal", via=via)
    if isinstance(via, Refused):
        raise via.error
    return RevealedSecrets(
        provider=revealed.provider,
        connection=revealed.connection,
        auth_type=revealed.auth_type,
        expires_at=revealed.expires_at,
        fields={name: SecretStr(value) for name, value in revealed.fields.items()},
    )


@router.post("/export")
def export(
    body: ExportRequest, request: Request, caller: CallerDep, state: StateDep
) -> ExportedSecrets:
    """Environment variables for one provider's connection, or every default one."""
    catalogue = state.catalogue
    provider = catalogue.get(body.provider).name if body.provider else None
    if body.connection is not None and provider is None:
        raise InvalidInput("a connection name needs a provider")
    items: list[ExportedConnection] = []
    with transaction(state.sessions) as db:
        via = authorize(
            db,
            state.audit,
            caller,
            [provider] if provider else [],
            password=_password(body.password),
            client=_client(request),
            action="export",
        )
        if not isinstance(via, Refused):
            vault = caller_vault(db, caller)
            if provider is not None:
                chosen = [get_connection(db, vault, provider, body.connection)]
            else:
                chosen = export_candidates(db, vault, caller, via=via)
            for connection in chosen:
                revealed = open_connection(
                    db, state.vault_keys, vault, connection, include_refresh=body.include_refresh
                )
                record_revealed(db, caller, revealed, action="export", via=via)
                variables = export_variables(catalogue.find(connection.provider), revealed)
                items.append(
                    ExportedConnection(
                        provider=connection.provider,
                        connection=connection.name,
                        variables={k: SecretStr(v) for k, v in variables.items()},
                    )
                )
    if isinstance(via, Refused):
        raise via.error
    return ExportedSecrets(items=items)
