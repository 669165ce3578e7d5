"""Support sessions: an operator's audited, time-limited, read-only visit to one tenant.

Operators see no tenant data otherwise (design.md §3). A session is opened in the console with
a reason and a length (at most SUPPORT_SESSION_MINUTES); a one-time link on the tenant's host
signs the operator in as the tenant's *support account*: a staff account with the auditor role
and nothing else, never usable with a password, not counted against the plan, and read-only
whatever the billing state (`accounts.permissions.current_grants`). Each entry writes to the
tenant's audit log, as the operator, the account's change (name, time). The session ends at its
time or when the operator ends it; the next request after that is signed out
(`accounts.loader.load_user`).
"""

from __future__ import annotations

import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from repairqc.accounts.models import Role, RoleAssignment, StaffUser
from repairqc.audit.services import Actor, acting_as
from repairqc.billing.models import SupportSession
from repairqc.console.models import Operator
from repairqc.crypto import hash_password
from repairqc.db import current_tenant, db, utcnow
from repairqc.errors import DomainError, NotFound
from repairqc.tenants.models import Tenant, TenantStatus

#: The link from the console into the tenant works this long, once.
ENTRY_MAX_AGE = 120


def start(operator: Operator, tenant_id: int, reason: str, minutes: int) -> SupportSession:
    tenant = db.control.get(Tenant, tenant_id)
    if tenant is None or tenant.status is not TenantStatus.ACTIVE:
        raise NotFound(_("There is no such active tenant."))
    reason = (reason or "").strip()
    if len(reason) < 10:
        raise DomainError(_("Say why you need to enter the tenant (at least 10 characters)."), field="reason")
    longest = current_app.config["SUPPORT_SESSION_MINUTES"]
    if not 1 <= minutes <= longest:
        raise DomainError(_("A session lasts 1 to %(n)d minutes.", n=longest), field="minutes")
    now = utcnow()
    session = SupportSession(
        operator=operator,
        tenant=tenant,
        reason=reason,
        started_at=now,
        expires_at=now + timedelta(minutes=minutes),
    )
    db.control.add(session)
    db.control.flush()
    return session


def end(session_id: int, operator: Operator) -> SupportSession:
    session = db.control.get(SupportSession, session_id)
    if session is None:
        raise NotFound(_("There is no such support session."))
    if session.ended_at is None:
        session.ended_at = utcnow()
        db.control.flush()
    return session


def open_sessions() -> list[SupportSession]:
    return list(
        db.control.execute(
            sa.select(SupportSession)
            .where(SupportSession.ended_at.is_(None), SupportSession.expires_at > utcnow())
            .order_by(SupportSession.started_at.desc())
        ).scalars()
    )


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="repairqc.support-session")


def entry_token(session: SupportSession) -> str:
    return _serializer().dumps({"s": session.public_id, "t": session.tenant_id})


def enter(token: str) -> tuple[SupportSession, StaffUser]:
    """On the tenant's host: check the one-time link and ready the support account."""
    tenant = current_tenant()
    refused = DomainError(_("This support link has expired or was used already."))
    try:
        data = _serializer().loads(token, max_age=ENTRY_MAX_AGE)
    except (BadSignature, SignatureExpired):
        raise refused from None
    if data.get("t") != tenant.id:
        raise refused
    now = utcnow()
    claimed = db.control.execute(
        sa.update(SupportSession)
        .where(
            SupportSession.public_id == data.get("s"),
            SupportSession.tenant_id == tenant.id,
            SupportSession.entered_at.is_(None),
            SupportSession.ended_at.is_(None),
            SupportSession.expires_at > now,
        )
        .values(entered_at=now)
    ).rowcount
    if not claimed:
        raise refused
    session = db.control.execute(
        sa.select(SupportSession).where(SupportSession.public_id == data["s"])
    ).scalar_one()
    # The tenant's audit log records the entry as the operator's own change.
    with acting_as(Actor("operator", session.operator_id, session.operator.email)):
        return session, _support_account(session)


def _support_account(session: SupportSession) -> StaffUser:
    """The tenant's account for this operator: auditor only, a fresh unusable password (which
    also signs out any earlier session of it), named after the operator."""
    operator = session.operator
    email = f"support-{operator.id}@{current_app.config['BASE_DOMAIN']}"
    user = db.session.execute(sa.select(StaffUser).where(StaffUser.email == email)).scalar_one_or_none()
    if user is None:
        user = StaffUser(email=email, full_name="", is_platform_support=True)
        db.session.add(user)
    if not user.is_platform_support:
        raise DomainError(
            _("The tenant has a staff account with the support address; ask them to change it.")
        )
    user.full_name = f"RepairQC support: {operator.full_name}"
    user.is_active = True
    user.password_hash = hash_password(secrets.token_urlsafe(32))
    user.roles = [RoleAssignment(role=Role.AUDITOR, store=None)]
    user.last_login_at = utcnow()
    db.session.flush()
    return user


def session_is_open(public_id: str | None) -> bool:
    """Whether the support session a browser holds is still open for the current tenant."""
    if not public_id:
        return False
    session = db.control.execute(
        sa.select(SupportSession).where(SupportSession.public_id == public_id)
    ).scalar_one_or_none()
    return session is not None and session.tenant_id == current_tenant().id and session.is_open(utcnow())
