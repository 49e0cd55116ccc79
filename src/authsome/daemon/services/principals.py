"""Principals: the people who own vaults, how they register and sign in.

The first principal of a deployment becomes ``admin``; it is picked by one
conditional UPDATE of ``dashboard_settings.first_principal_id``, which only
one of several concurrent registrations can win. After that, registering
needs the admin's registration switch or an invite.

Sign-ins never raise for a wrong password: they return a ``SignIn`` so the
failure counter and the audit event commit with the request's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from authsome.audit.writer import record_event
from authsome.daemon.services import throttle
from authsome.daemon.services.ids import new_id
from authsome.daemon.services.invites import find_usable_invite, use_invite
from authsome.daemon.services.passwords import (
    check_password_strength,
    hash_password,
    needs_rehash,
    verify_password,
)
from authsome.errors import (
    AuthenticationFailed,
    InvalidInput,
    OperationNotAllowed,
    RateLimited,
)
from authsome.store.models import DashboardSettings, Principal


def normalize_email(email: str) -> str:
    cleaned = email.strip().lower()
    local, at, domain = cleaned.partition("@")
    if not at or not local or "." not in domain or len(cleaned) > 320 or " " in cleaned:
        raise InvalidInput("that does not look like an email address")
    return cleaned


def dashboard_settings(session: Session) -> DashboardSettings:
    """The one settings row (made by migration 0004)."""
    row = session.get(DashboardSettings, 1)
    if row is None:
        row = DashboardSettings(id=1, registration_open=False)
        session.add(row)
        session.flush()
    return row


def has_principals(session: Session) -> bool:
    return bool(session.scalar(select(func.count()).select_from(Principal)))


def _claim_first(session: Session, principal_id: str) -> bool:
    dashboard_settings(session)
    result = session.execute(
        update(DashboardSettings)
        .where(DashboardSettings.id == 1, DashboardSettings.first_principal_id.is_(None))
        .values(first_principal_id=principal_id)
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


def register_principal(
    session: Session,
    email: str,
    password: str,
    *,
    invite_token: str | None = None,
    now: datetime | None = None,
) -> Principal:
    """Create a principal: admin if first, else only with the switch on or an invite."""
    now = now or datetime.now(UTC)
    address = normalize_email(email)
    check_password_strength(password, email=address)
    if session.scalar(select(Principal.id).where(Principal.email == address)) is not None:
        raise InvalidInput("that email is already registered", hint="sign in instead")
    principal = Principal(
        id=new_id(), email=address, password_hash=hash_password(password), role="user"
    )
    session.add(principal)
    try:
        session.flush()
    except IntegrityError:
        raise InvalidInput("that email is already registered", hint="sign in instead") from None
    via = "first"
    if _claim_first(session, principal.id):
        principal.role = "admin"
    else:
        invite = find_usable_invite(session, invite_token, now) if invite_token else None
        if invite is not None and use_invite(session, invite, principal.id, now):
            via = "invite"
        elif dashboard_settings(session).registration_open:
            via = "open"
        else:
            raise OperationNotAllowed(
                "registration is closed", hint="ask an admin for an invite link"
            )
    record_event(
        session,
        "principal_registered",
        "success",
        principal_id=principal.id,
        detail={"role": principal.role, "via": via},
    )
    return principal


@dataclass(frozen=True)
class SignIn:
    principal: Principal | None
    retry_after: int = 0  # > 0: refused by the rate limit, try again in this many seconds

    def error(self) -> AuthenticationFailed:
        if self.retry_after:
            return RateLimited(
                f"too many failed sign-ins; try again in {self.retry_after} s",
                retry_after=self.retry_after,
            )
        return AuthenticationFailed("email or password is incorrect")


def sign_in(
    session: Session,
    email: str,
    password: str,
    *,
    client: str | None,
    via: str,
    now: datetime | None = None,
) -> SignIn:
    """Check a password, within the per-email and per-client rate limits; audited."""
    now = now or datetime.now(UTC)
    limits = throttle.limits_for(email, client)
    wait = throttle.retry_after(session, limits, now)
    if wait:
        record_event(
            session, "principal_sign_in", "denied", detail={"via": via, "reason": "rate_limited"}
        )
        return SignIn(None, wait)
    address = email.strip().lower()
    principal = session.scalar(select(Principal).where(Principal.email == address))
    if not verify_password(principal.password_hash if principal else None, password):
        throttle.record_failure(session, limits, now)
        record_event(
            session,
            "principal_sign_in",
            "failure",
            principal_id=principal.id if principal else None,
            detail={"via": via},
        )
        return SignIn(None)
    assert principal is not None
    if needs_rehash(principal.password_hash):
        principal.password_hash = hash_password(password)
    throttle.clear(session, limits[0])
    record_event(
        session, "principal_sign_in", "success", principal_id=principal.id, detail={"via": via}
    )
    return SignIn(principal)


def sign_in_or_create_first(
    session: Session, email: str, password: str, *, client: str | None
) -> SignIn:
    """The headless claim: create the first principal (admin) or sign in.

    Once a principal exists, new ones are created only through the dashboard
    (registration switch or invite), never by this path.
    """
    if dashboard_settings(session).first_principal_id is None and not has_principals(session):
        return SignIn(register_principal(session, email, password))
    return sign_in(session, email, password, client=client, via="headless")


def change_password(session: Session, principal: Principal, current: str, new: str) -> None:
    """Replace the password after checking the current one (caller ends the sessions)."""
    if not verify_password(principal.password_hash, current):
        raise AuthenticationFailed("the current password is incorrect")
    check_password_strength(new, email=principal.email)
    principal.password_hash = hash_password(new)
    record_event(session, "password_changed", "success", principal_id=principal.id)


def set_registration_open(session: Session, is_open: bool, *, by: str) -> None:
    row = dashboard_settings(session)
    row.registration_open = is_open
    row.updated_at = datetime.now(UTC)
    record_event(
        session, "registration_switched", "success", principal_id=by, detail={"open": is_open}
    )
