"""Flask-Login's user loader and the audit actor of each request."""

from __future__ import annotations

from flask import g, request, session
from flask_login import current_user

from repairqc.accounts.models import StaffUser
from repairqc.audit.services import SYSTEM, Actor, _current_actor
from repairqc.console.models import Operator
from repairqc.db import current_tenant_or_none, db


def load_user(user_id: str) -> StaffUser | Operator | None:
    """Staff load only inside the tenant named in their id; operators only on the platform host."""
    kind, _, rest = user_id.partition(":")
    tenant = current_tenant_or_none()
    if kind == "staff":
        tenant_id, _, rest = rest.partition(":")
        raw, _, fingerprint = rest.partition(":")
        if tenant is None or not raw.isdigit() or tenant_id != str(tenant.id):
            return None
        user = db.session.get(StaffUser, int(raw))
        if user is not None and user.credential_fingerprint() != fingerprint:
            return None  # the password changed since this session or cookie was issued
        if user is not None and user.is_platform_support:
            from repairqc.console.support import session_is_open

            if not session_is_open(session.get("support_session")):
                return None  # the operator's support session has ended or expired
    elif kind == "operator" and rest.isdigit():
        if tenant is not None:
            return None
        user = db.control.get(Operator, int(rest))
    else:
        return None
    return user if user is not None and user.is_active else None


def actor_for(user: StaffUser | Operator, ip_address: str | None) -> Actor:
    kind = "staff" if isinstance(user, StaffUser) else "operator"
    return Actor(kind, user.id, user.email, ip_address)


def act_as(user: StaffUser | Operator) -> None:
    """From now on in this request, changes are recorded as `user`'s (sign-in, password reset)."""
    _current_actor.set(actor_for(user, request.remote_addr))


def bind_actor() -> None:
    """before_request: every change this request makes is recorded as the signed-in user's."""
    user = current_user._get_current_object() if current_user else None
    if user is not None and user.is_authenticated:
        g.actor_token = _current_actor.set(actor_for(user, request.remote_addr))
    else:
        g.actor_token = _current_actor.set(Actor("anonymous", None, "anonymous", request.remote_addr))


def release_actor(exc: BaseException | None = None) -> None:
    token = g.pop("actor_token", None)
    if token is not None:
        _current_actor.reset(token)
    else:
        _current_actor.set(SYSTEM)
