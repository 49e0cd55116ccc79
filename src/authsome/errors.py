"""Every error Authsome raises on purpose, with its three renderings.

Each class carries ``code`` (the JSON ``error`` string), ``exit_code``
(DESIGN §9) and ``http_status``. The daemon renders them in one exception
handler, ``authsome.client`` turns the JSON back into the same class, and the
CLI prints ``message`` and exits with ``exit_code``.

    AuthsomeError                      1  500  internal_error
    ├── InvalidInput                   2  400  invalid_request
    │   ├── InvalidProvider            2  422  invalid_provider
    │   ├── PayloadTooLarge            2  413  payload_too_large
    │   └── HostNotAllowed             2  421  host_not_allowed
    ├── AuthenticationFailed           2  401  authentication_failed
    │   ├── PopMissing / PopInvalid / PopExpired / PopReplayed
    │   ├── IdentityUnknown / IdentityPending / IdentityRevoked
    │   └── RateLimited                2  429  rate_limited
    ├── ConnectionNotFound             3  404  connection_not_found
    ├── ProviderNotFound               4  404  provider_not_found
    ├── OperationNotAllowed            4  403  forbidden
    ├── CredentialUnavailable          5  409  credential_unavailable
    │   └── AuditUnavailable           5  503  audit_unavailable
    ├── ConnectionExists               6  409  connection_exists
    ├── ProviderExists                 7  409  provider_exists
    ├── EndpointUnreachable            8  502  endpoint_unreachable
    ├── DaemonUnavailable              9  503  daemon_unavailable
    │   └── PortInUse                  9  503  port_in_use
    ├── VaultKeyError                  1  500  vault_key_error
    └── DecryptionError                1  500  decryption_failed

Messages never contain secrets: they are shown to users, written to logs and
sent over HTTP.
"""

from __future__ import annotations

from typing import Any, ClassVar


class AuthsomeError(Exception):
    """Base class: an unexpected failure unless a subclass says otherwise."""

    code: ClassVar[str] = "internal_error"
    exit_code: ClassVar[int] = 1
    http_status: ClassVar[int] = 500

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.hint:
            body["hint"] = self.hint
        return body


class InvalidInput(AuthsomeError):
    code = "invalid_request"
    exit_code = 2
    http_status = 400


class InvalidProvider(InvalidInput):
    code = "invalid_provider"
    http_status = 422


class PayloadTooLarge(InvalidInput):
    code = "payload_too_large"
    http_status = 413


class HostNotAllowed(InvalidInput):
    code = "host_not_allowed"
    http_status = 421


class AuthenticationFailed(AuthsomeError):
    code = "authentication_failed"
    exit_code = 2
    http_status = 401


class PopMissing(AuthenticationFailed):
    code = "pop_missing"


class PopInvalid(AuthenticationFailed):
    code = "pop_invalid"


class PopExpired(AuthenticationFailed):
    code = "pop_expired"


class PopReplayed(AuthenticationFailed):
    code = "pop_replayed"


class IdentityUnknown(AuthenticationFailed):
    code = "identity_unknown"


class IdentityPending(AuthenticationFailed):
    code = "identity_pending"


class IdentityRevoked(AuthenticationFailed):
    code = "identity_revoked"


class RateLimited(AuthenticationFailed):
    """Too many failed sign-ins; ``retry_after`` seconds until the next try."""

    code = "rate_limited"
    http_status = 429

    def __init__(self, message: str, *, retry_after: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class ConnectionNotFound(AuthsomeError):
    code = "connection_not_found"
    exit_code = 3
    http_status = 404


class ProviderNotFound(AuthsomeError):
    code = "provider_not_found"
    exit_code = 4
    http_status = 404


class OperationNotAllowed(AuthsomeError):
    code = "forbidden"
    exit_code = 4
    http_status = 403


class CredentialUnavailable(AuthsomeError):
    code = "credential_unavailable"
    exit_code = 5
    http_status = 409


class AuditUnavailable(CredentialUnavailable):
    """Audit events cannot be written now, so no credential is served (fail closed)."""

    code = "audit_unavailable"
    http_status = 503


class ConnectionExists(AuthsomeError):
    code = "connection_exists"
    exit_code = 6
    http_status = 409


class ProviderExists(AuthsomeError):
    code = "provider_exists"
    exit_code = 7
    http_status = 409


class EndpointUnreachable(AuthsomeError):
    code = "endpoint_unreachable"
    exit_code = 8
    http_status = 502


class DaemonUnavailable(AuthsomeError):
    code = "daemon_unavailable"
    exit_code = 9
    http_status = 503


class PortInUse(DaemonUnavailable):
    code = "port_in_use"


class VaultKeyError(AuthsomeError):
    """The master key is missing, malformed or does not open existing data."""

    code = "vault_key_error"


class DecryptionError(AuthsomeError):
    """One opaque failure for every way a sealed value can fail to open."""

    code = "decryption_failed"


def _all_error_classes() -> list[type[AuthsomeError]]:
    found: list[type[AuthsomeError]] = []
    pending: list[type[AuthsomeError]] = [AuthsomeError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def error_class_for(code: str) -> type[AuthsomeError]:
    """The class whose ``code`` is ``code`` (the base class when unknown)."""
    for cls in _all_error_classes():
        if cls.code == code:
            return cls
    return AuthsomeError


ALL_ERROR_CLASSES = tuple(_all_error_classes())
