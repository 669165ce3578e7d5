"""Jobs of the accounts domain."""

from __future__ import annotations

from flask import render_template
from flask_babel import force_locale

from repairqc.accounts.models import StaffUser
from repairqc.accounts.services import password_reset_token
from repairqc.db import current_tenant, db
from repairqc.jobs import job
from repairqc.mail import send_mail
from repairqc.tenants.models import Tenant
from repairqc.tenants.services import tenant_url


@job(queue="emails", timeout=60)
def send_password_reset_mail(user_id: int) -> str | None:
    """Mail a one-time reset link to the user, in their language."""
    user = db.session.get(StaffUser, user_id)
    if user is None or not user.is_active:
        return None
    link = tenant_url(f"/password/reset/{password_reset_token(user)}")
    with force_locale(user.locale or "en"):
        subject = render_template("accounts/mail/password_reset_subject.txt").strip()
        body = render_template("accounts/mail/password_reset.txt", user=user, link=link)
    send_mail(user.email, subject, body)
    return user.email


@job(queue="emails", timeout=60)
def send_invitation_mail(user_id: int) -> str | None:
    """Invite a new member of staff: the provider's name and a link to choose a password."""
    user = db.session.get(StaffUser, user_id)
    if user is None or not user.is_active or user.password_hash:
        return None  # gone, or the person has chosen a password already
    link = tenant_url(f"/password/reset/{password_reset_token(user, invitation=True)}")
    provider = current_tenant_row()
    with force_locale(user.locale or provider.default_locale):
        subject = render_template("accounts/mail/invitation_subject.txt", provider=provider.name).strip()
        body = render_template("accounts/mail/invitation.txt", user=user, link=link, provider=provider.name)
    send_mail(user.email, subject, body)
    return user.email


def current_tenant_row() -> Tenant:
    """The provider: its name and language, for mails to people who have not chosen one yet."""
    return db.control.get(Tenant, current_tenant().id)
