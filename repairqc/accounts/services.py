"""Staff sign-in, accounts and password resets. Services flush; the caller's unit of work commits."""

from __future__ import annotations

import functools
import secrets
from collections.abc import Iterable
from functools import partial

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from werkzeug.security import check_password_hash

from repairqc.accounts.models import Role, RoleAssignment, StaffUser
from repairqc.crypto import hash_password
from repairqc.db import current_tenant, db, on_commit, utcnow
from repairqc.errors import DomainError
from repairqc.stores.models import Store

MIN_PASSWORD_LENGTH = 10


@functools.cache
def _dummy_hash() -> str:
    # Checked when no account matches, so a wrong e-mail costs as long as a wrong password.
    return hash_password(secrets.token_hex(16))


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_user_by_email(email: str) -> StaffUser | None:
    return db.session.execute(
        sa.select(StaffUser).where(StaffUser.email == normalise_email(email))
    ).scalar_one_or_none()


def authenticate(email: str, password: str) -> StaffUser | None:
    user = find_user_by_email(email)
    if user is None or not user.is_active or user.is_platform_support:
        check_password_hash(_dummy_hash(), password)
        return None
    return user if user.check_password(password) else None


def record_sign_in(user: StaffUser) -> None:
    user.last_login_at = utcnow()
    db.session.flush()


def validate_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(
            _("The password must be at least %(n)d characters long.", n=MIN_PASSWORD_LENGTH), field="password"
        )


def create_staff_user(
    email: str,
    full_name: str,
    password: str | None,
    roles: Iterable[tuple[Role, Store | None]] = (),
    locale: str | None = None,
) -> StaffUser:
    email = normalise_email(email)
    if find_user_by_email(email) is not None:
        raise DomainError(
            _("A staff account with the e-mail %(email)s already exists.", email=email), field="email"
        )
    user = StaffUser(email=email, full_name=full_name, locale=locale)
    if password is not None:
        validate_password(password)
        user.set_password(password)
    for role, store in roles:
        user.roles.append(RoleAssignment(role=role, store=store))
    db.session.add(user)
    db.session.flush()
    return user


def set_preferred_locale(user: StaffUser, locale: str) -> None:
    user.locale = locale
    db.session.flush()


# --- password reset by e-mail --------------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="repairqc-password-reset")


#: An invitation's link (choose your password) works for a week; a reset link for an hour.
INVITATION_MAX_AGE = 7 * 24 * 3600


def password_reset_token(user: StaffUser, *, invitation: bool = False) -> str:
    data = {"t": current_tenant().id, "u": user.id, "h": user.credential_fingerprint()}
    if invitation:
        data["i"] = 1
    return _serializer().dumps(data)


def user_for_reset_token(token: str) -> StaffUser:
    expired = _("This password-reset link has expired. Ask for a new one.")
    try:
        data, signed_at = _serializer().loads(token, max_age=INVITATION_MAX_AGE, return_timestamp=True)
    except SignatureExpired:
        raise DomainError(expired) from None
    except BadSignature:
        raise DomainError(_("This password-reset link is not valid. Ask for a new one.")) from None
    age = (utcnow() - signed_at).total_seconds()
    if not data.get("i") and age > current_app.config["PASSWORD_RESET_MAX_AGE"]:
        raise DomainError(expired)
    user = db.session.get(StaffUser, data.get("u")) if data.get("t") == current_tenant().id else None
    if user is None or not user.is_active or data.get("h") != user.credential_fingerprint():
        raise DomainError(_("This password-reset link has already been used or is not valid."))
    return user


def request_password_reset(email: str) -> None:
    """Mail a reset link if an active account has this address; say nothing either way."""
    from repairqc.accounts import tasks
    from repairqc.jobs import enqueue

    user = find_user_by_email(email)
    if user is not None and user.is_active:
        on_commit(partial(enqueue, tasks.send_password_reset_mail, user.id))


def invite_staff(full_name: str, email: str, role: Role, store: Store | None) -> StaffUser:
    """A new staff account with one role and no password; the invitation mail's link lets the
    person choose one (the plan's staff limit applies: `billing.limits`)."""
    from repairqc.accounts import tasks
    from repairqc.jobs import enqueue

    user = create_staff_user(email, full_name, None, roles=[(role, None if role.is_tenant_wide else store)])
    on_commit(partial(enqueue, tasks.send_invitation_mail, user.id))
    return user


def reset_password(user: StaffUser, password: str) -> None:
    validate_password(password)
    user.set_password(password)
    db.session.flush()
