"""Jobs of the accounts domain."""

from __future__ import annotations

from flask import render_template
from flask_babel import force_locale

from repairqc.accounts.models import StaffUser
from repairqc.accounts.services import password_reset_token
from repairqc.db import db
from repairqc.jobs import job
from repairqc.mail import send_mail
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
