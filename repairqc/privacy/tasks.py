"""The daily "confidentiality-reminders" job (HB §7.3.2; each person is reminded at most weekly).

It first makes sure the tenant has the confidentiality training programme and inspection plan
(tenants provisioned before this feature get them here, idempotently), then claims the members
of staff to remind (`services.claim_reminders`: no agreement in force, not reminded within 7
days) in its unit of work, and only after that commits sends one mail per person, in their
language, and one digest per owner listing everyone still without an agreement. A rerun the
same week claims nobody and sends nothing.
"""

from __future__ import annotations

from datetime import date
from functools import partial

from flask import render_template
from flask_babel import force_locale, format_date

from repairqc.accounts.models import StaffUser
from repairqc.db import db, on_commit
from repairqc.i18n import normalise_locale
from repairqc.jobs import enqueue, job
from repairqc.mail import send_mail
from repairqc.privacy import seed, services
from repairqc.tenants.services import tenant_url


@job(queue="default", timeout=600)
def confidentiality_reminders(today_iso: str) -> dict[str, int]:
    day = date.fromisoformat(today_iso)
    seed.ensure_confidentiality_catalogue(day)
    claimed = services.claim_reminders()
    for user_id in claimed:
        on_commit(partial(enqueue, send_reminder_mail, user_id, today_iso))
    owners = services.owners() if claimed else []
    for owner in owners:
        on_commit(partial(enqueue, send_owner_digest, owner.id, today_iso))
    return {"reminded": len(claimed), "digests": len(owners)}


def _language(user: StaffUser) -> str:
    return normalise_locale(user.locale) or "en"


@job(queue="emails", timeout=60, retries=2)
def send_reminder_mail(user_id: int, today_iso: str) -> str | None:
    user = db.session.get(StaffUser, user_id)
    if user is None or not user.is_active:
        return None
    [missing] = [
        m for m in services.staff_without_agreement(date.fromisoformat(today_iso)) if m.user.id == user_id
    ] or [None]
    if missing is None:
        return None  # signed in the meantime
    with force_locale(_language(user)):
        context = {
            "recipient": user,
            "last_valid_until": format_date(missing.last_valid_until) if missing.last_valid_until else None,
        }
        subject = render_template("privacy/mail/reminder_subject.txt", **context).strip()
        body = render_template("privacy/mail/reminder.txt", **context)
    send_mail(user.email, subject, body)
    return user.email


@job(queue="emails", timeout=60, retries=2)
def send_owner_digest(owner_id: int, today_iso: str) -> str | None:
    owner = db.session.get(StaffUser, owner_id)
    if owner is None or not owner.is_active:
        return None
    missing = services.staff_without_agreement(date.fromisoformat(today_iso))
    if not missing:
        return None
    with force_locale(_language(owner)):
        rows = [
            {
                "name": m.user.full_name,
                "email": m.user.email,
                "expired": format_date(m.last_valid_until) if m.last_valid_until else None,
            }
            for m in missing
        ]
        context = {"recipient": owner, "missing": rows, "link": tenant_url("/admin/confidentiality/")}
        subject = render_template("privacy/mail/digest_subject.txt", **context).strip()
        body = render_template("privacy/mail/digest.txt", **context)
    send_mail(owner.email, subject, body)
    return owner.email
