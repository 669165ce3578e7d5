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
from werkzeug.security import check_password_hash, generate_password_hash

from repairqc.accounts.models import Role, RoleAssignment, StaffUser
from repairqc.db import current_tenant, db, on_commit, utcnow
from repairqc.errors import DomainError
from repairqc.stores.models import Store

MIN_PASSWORD_LENGTH = 10


@functools.cache
def _dummy_hash() -> str:
    # Checked when no account matches, so a wrong e-mail costs as long as a wrong password.
    return generate_password_hash(secrets.token_hex(16))


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_user_by_email(email: str) -> StaffUser | None:
    return db.session.execute(
        sa.select(StaffUser).where(StaffUser.email == normalise_email(email))
    ).scalar_one_or_none()


def authenticate(email: str, password: str) -> StaffUser | None:
    user = find_user_by_email(email)
    if user is None or not user.is_active:
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


def password_reset_token(user: StaffUser) -> str:
    return _serializer().dumps({"t": current_tenant().id, "u": user.id, "h": user.credential_fingerprint()})


def user_for_reset_token(token: str) -> StaffUser:
    try:
        data = _serializer().loads(token, max_age=current_app.config["PASSWORD_RESET_MAX_AGE"])
    except SignatureExpired:
        raise DomainError(_("This password-reset link has expired. Ask for a new one.")) from None
    except BadSignature:
        raise DomainError(_("This password-reset link is not valid. Ask for a new one.")) from None
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


def reset_password(user: StaffUser, password: str) -> None:
    validate_password(password)
    user.set_password(password)
    db.session.flush()
