"""Principals: the people who own vaults, and their passwords (Argon2id)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from authsome.audit.writer import record_event
from authsome.daemon.services.ids import new_id
from authsome.errors import AuthenticationFailed, InvalidInput
from authsome.store.models import Principal

MIN_PASSWORD_LENGTH = 12
_hasher = PasswordHasher()
# Verified when the email is unknown, so the answer takes as long either way.
_DUMMY_HASH = _hasher.hash("authsome-dummy-password-for-timing")


def normalize_email(email: str) -> str:
    cleaned = email.strip().lower()
    local, at, domain = cleaned.partition("@")
    if not at or not local or "." not in domain or len(cleaned) > 320 or " " in cleaned:
        raise InvalidInput("that does not look like an email address")
    return cleaned


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"passwords need at least {MIN_PASSWORD_LENGTH} characters")


def sign_in_or_create_first(session: Session, email: str, password: str) -> Principal:
    """Create the first principal (admin) or authenticate an existing one.

    Once a principal exists, new ones are created only through the dashboard
    (registration switch or invite), never by this headless path.
    """
    address = normalize_email(email)
    if session.scalar(select(func.count()).select_from(Principal)) == 0:
        check_password_strength(password)
        principal = Principal(
            id=new_id(), email=address, password_hash=_hasher.hash(password), role="admin"
        )
        session.add(principal)
        session.flush()
        record_event(session, "principal_registered", "success", principal_id=principal.id)
        return principal
    existing = session.scalar(select(Principal).where(Principal.email == address))
    if not _password_matches(existing, password) or existing is None:
        raise AuthenticationFailed("email or password is incorrect")
    principal = existing
    if _hasher.check_needs_rehash(principal.password_hash):
        principal.password_hash = _hasher.hash(password)
    record_event(session, "principal_signed_in", "success", principal_id=principal.id)
    return principal


def _password_matches(principal: Principal | None, password: str) -> bool:
    stored = principal.password_hash if principal is not None else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False
    return principal is not None
