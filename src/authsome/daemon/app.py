"""The daemon's HTTP API: ``create_app(state)`` wires routes, guards and errors."""

from __future__ import annotations

import logging
from http import HTTPStatus
from traceback import extract_tb
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.telemetry import TelemetryConfig
from starlette.exceptions import HTTPException

from authsome import __version__
from authsome.daemon.guards import RequestGuard, allowed_host_names
from authsome.daemon.routes import ROUTERS
from authsome.daemon.schemas import ErrorPublic
from authsome.daemon.state import DaemonState
from authsome.errors import AuthsomeError, RateLimited

log = logging.getLogger("authsome.daemon")

#: FastAPI's built-in OpenTelemetry bridge stays off whatever the process or its
#: environment configures (a global provider, ``FASTAPI_OTEL_AUTO_CONFIGURE``):
#: its spans and logs carry paths, request bodies and error text, and a
#: credential gateway sends nothing to a telemetry collector.
NO_TELEMETRY: TelemetryConfig = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
    "auto_configure": False,
}


async def _authsome_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AuthsomeError)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
    return JSONResponse(exc.to_json(), status_code=exc.http_status, headers=headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Field locations only: pydantic's "input" would echo submitted secrets.
    fields = [".".join(str(part) for part in error["loc"]) for error in exc.errors()]
    message = "invalid request: " + ", ".join(f"{field} is invalid" for field in fields)
    return JSONResponse({"error": "invalid_request", "message": message}, status_code=422)


async def _framework_error(_request: Request, exc: Exception) -> JSONResponse:
    """The framework's own refusals (unknown path or method, an undecodable body) in
    the error body every other failure has, instead of Starlette's ``{"detail"}``."""
    assert isinstance(exc, HTTPException)
    phrase = HTTPStatus(exc.status_code).phrase
    code = "invalid_request" if exc.status_code == 400 else phrase.lower().replace(" ", "_")
    message = exc.detail if isinstance(exc.detail, str) else phrase
    return JSONResponse(
        {"error": code, "message": message}, status_code=exc.status_code, headers=exc.headers
    )


async def _unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    # Frames but not the message: an exception's text may quote a secret.
    where = "; ".join(
        f"{frame.filename}:{frame.lineno}" for frame in extract_tb(exc.__traceback__)[-3:]
    )
    log.error("unexpected %s while serving a request at %s", type(exc).__name__, where)
    return JSONResponse(
        {"error": "internal_error", "message": "the daemon hit an unexpected error; see its log"},
        status_code=500,
    )


def _error_classes(base: type[AuthsomeError]) -> list[type[AuthsomeError]]:
    return [base] + [found for sub in base.__subclasses__() for found in _error_classes(sub)]


def error_responses() -> dict[int | str, dict[str, Any]]:
    """Every status an error may answer with, each with the one error body.

    Documented on every operation, so the OpenAPI document lists what a client
    can really get (schemathesis checks that no other status appears).
    """
    statuses = {error.http_status for error in _error_classes(AuthsomeError)} | {422}
    schema = ErrorPublic.model_json_schema()
    return {
        status: {
            "description": HTTPStatus(status).phrase,
            "content": {"application/json": {"schema": schema}},
        }
        for status in sorted(statuses)
    }


def create_app(state: DaemonState) -> FastAPI:
    app = FastAPI(
        title="Authsome daemon",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        responses=error_responses(),
        telemetry=NO_TELEMETRY,
    )
    app.state.daemon = state
    for router in ROUTERS:
        app.include_router(router)
    app.add_exception_handler(AuthsomeError, _authsome_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _framework_error)
    app.add_exception_handler(Exception, _unexpected_error)
    app.add_middleware(
        RequestGuard,
        allowed_hosts=allowed_host_names(state.settings.public_url),
        max_body=state.settings.max_body_bytes,
    )
    return app
