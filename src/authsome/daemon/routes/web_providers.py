"""Providers page: bundled and custom ones, search and filter; admins manage custom ones."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse

from authsome.daemon.deps import StateDep
from authsome.daemon.services.connections import ActingFor, list_connections
from authsome.daemon.services.custom_providers import (
    field_errors,
    remove_custom_provider,
    save_custom_provider,
    stored_definition,
)
from authsome.daemon.services.dashboard import vault_of
from authsome.daemon.services.oauth_clients import provider_clients, save_user_client
from authsome.daemon.services.oauth_endpoints import base_url_for
from authsome.daemon.services.oauth_revoke import revoke_provider
from authsome.daemon.web.paging import PagingDep
from authsome.daemon.web.render import render
from authsome.daemon.web.security import AdminDep, FormDep, SignedInDep, WebRoute, not_found
from authsome.errors import InvalidInput, InvalidProvider, ProviderExists
from authsome.providers.schema import ProviderDefinition
from authsome.store.db import transaction

router = APIRouter(prefix="/ui/providers", route_class=WebRoute, include_in_schema=False)

AUTH_TYPES = ("api_key", "oauth2")
MAX_DEFINITION = 64 * 1024


def _matches(definition: ProviderDefinition, query: str, auth_type: str) -> bool:
    if auth_type and definition.auth_type != auth_type:
        return False
    if not query:
        return True
    text = " ".join((definition.name, definition.display_name, *definition.api_url)).lower()
    return query.lower() in text


@router.get("")
def providers(
    request: Request,
    signed_in: SignedInDep,
    paging: PagingDep,
    state: StateDep,
    q: Annotated[str, Query(max_length=100)] = "",
    auth_type: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    catalogue = state.catalogue
    chosen = [d for d in catalogue.all() if _matches(d, q.strip(), auth_type)]
    rows, pager = paging.slice(chosen)
    with transaction(state.sessions) as db:
        vault = vault_of(db, signed_in.principal_id)
        connected = {c.provider for c in list_connections(db, vault.id)} if vault else set()
    return render(
        request,
        "providers.html",
        rows=rows,
        pager=pager,
        q=q,
        auth_type=auth_type,
        auth_types=AUTH_TYPES,
        catalogue=catalogue,
        connected=connected,
    )


def _editor(
    request: Request, *, action: str, text: str, errors: list[str], status: int = 200
) -> Response:
    return render(
        request, "provider_form.html", status=status, action=action, text=text, errors=errors
    )


@router.get("/new")
def new_provider(request: Request, admin: AdminDep) -> Response:
    return _editor(request, action="/ui/providers/new", text="", errors=[])


def _save(
    request: Request,
    admin: AdminDep,
    form: FormDep,
    state: StateDep,
    *,
    action: str,
    expected_name: str | None,
) -> Response:
    text = form.get("definition")
    if len(text) > MAX_DEFINITION:
        return _editor(
            request, action=action, text="", errors=["definition: too large"], status=413
        )
    try:
        with state.catalogue_lock:
            with transaction(state.sessions) as db:
                saved = save_custom_provider(
                    db,
                    state.catalogue,
                    text,
                    force=expected_name is not None or form.flag("replace"),
                    by=admin.principal_id,
                    expected_name=expected_name,
                )
            state.catalogue = saved.catalogue  # only once the row is committed
    except InvalidProvider as exc:
        return _editor(
            request, action=action, text=text, errors=field_errors(exc.message), status=422
        )
    except ProviderExists as exc:
        message = f"name: {exc.message}; tick “replace” to override it"
        return _editor(request, action=action, text=text, errors=[message], status=409)
    state.resolver.invalidate_provider(saved.definition.name)
    return RedirectResponse(f"/ui/providers/{saved.definition.name}?done=provider_saved", 303)


@router.post("/new")
def register_provider(
    request: Request, admin: AdminDep, form: FormDep, state: StateDep
) -> Response:
    return _save(request, admin, form, state, action="/ui/providers/new", expected_name=None)


@router.get("/{name}")
def provider(name: str, request: Request, signed_in: SignedInDep, state: StateDep) -> Response:
    return _provider_page(request, signed_in.is_admin, state, name, error=None)


def _provider_page(
    request: Request, is_admin: bool, state: StateDep, name: str, *, error: str | None
) -> Response:
    catalogue = state.catalogue
    definition = catalogue.find(name[:64])
    if definition is None:
        raise not_found()
    clients = []
    if is_admin and definition.auth_type == "oauth2":
        with transaction(state.sessions) as db:
            clients = [(c.source, c.client_id, c.base_url) for c in provider_clients(db, name)]
    return render(
        request,
        "provider.html",
        status=400 if error else 200,
        definition=definition,
        bundled=catalogue.is_bundled(definition.name),
        overrides=catalogue.overrides_bundled(definition.name),
        clients=clients,
        error=error,
    )


@router.post("/{name}/client")
def set_client(
    name: str, request: Request, admin: AdminDep, form: FormDep, state: StateDep
) -> Response:
    """The deployment's OAuth client for this provider (the secret is sealed, never shown)."""
    definition = state.catalogue.find(name[:64])
    if definition is None or definition.auth_type != "oauth2":
        raise not_found()
    try:
        with transaction(state.sessions) as db:
            save_user_client(
                db,
                state.master_key.key,
                provider=definition.name,
                base_url=base_url_for(definition, form.get("base_url").strip() or None),
                client_id=form.get("client_id"),
                client_secret=form.get("client_secret") or None,
                actor=ActingFor(identity=None, principal_id=admin.principal_id),
            )
    except InvalidInput as exc:
        return _provider_page(request, True, state, name, error=exc.message)
    return RedirectResponse(f"/ui/providers/{definition.name}?done=client_saved", 303)


@router.post("/{name}/revoke")
async def revoke_everywhere(name: str, admin: AdminDep, form: FormDep, state: StateDep) -> Response:
    """Revoke every token of this provider in every vault; remove its connections and clients."""
    definition = state.catalogue.find(name[:64])
    if definition is None or definition.auth_type != "oauth2":
        raise not_found()
    _result, vaults = await revoke_provider(
        provider=definition.name,
        sessions=state.sessions,
        keys=state.vault_keys,
        master_key=state.master_key.key,
        outbound=state.outbound,
        actor=ActingFor(identity=None, principal_id=admin.principal_id),
    )
    for vault_id in vaults:
        state.resolver.invalidate(vault_id, definition.name)
    return RedirectResponse(f"/ui/providers/{definition.name}?done=provider_revoked", 303)


def _custom_text(state: StateDep, name: str) -> str:
    catalogue = state.catalogue
    if catalogue.find(name) is None or catalogue.is_bundled(name):
        raise not_found()
    with transaction(state.sessions) as db:
        raw = stored_definition(db, name)
    if raw is None:
        raise not_found()
    return json.dumps(json.loads(raw), indent=2)


@router.get("/{name}/edit")
def edit_provider(name: str, request: Request, admin: AdminDep, state: StateDep) -> Response:
    text = _custom_text(state, name[:64])
    return _editor(request, action=f"/ui/providers/{name}/edit", text=text, errors=[])


@router.post("/{name}/edit")
def save_provider(
    name: str, request: Request, admin: AdminDep, form: FormDep, state: StateDep
) -> Response:
    _custom_text(state, name[:64])
    return _save(
        request, admin, form, state, action=f"/ui/providers/{name}/edit", expected_name=name
    )


@router.post("/{name}/remove")
def remove_provider(name: str, admin: AdminDep, form: FormDep, state: StateDep) -> Response:
    _custom_text(state, name[:64])
    with state.catalogue_lock:
        with transaction(state.sessions) as db:
            updated = remove_custom_provider(db, state.catalogue, name, by=admin.principal_id)
        state.catalogue = updated
    state.resolver.invalidate_provider(name)
    return RedirectResponse("/ui/providers?done=provider_removed", 303)
