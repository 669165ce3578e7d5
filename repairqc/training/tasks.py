"""Periodic jobs of training (HB ch.3, §5.1.3(1)), run daily per tenant (`jobs.periodic`).

* "training-schedule": expire exam attempts whose time ran out, enrol serving staff in the
  year's in-service sessions, make the evaluations that fell due (0/3/6/12 months) and remind
  their assessors.
* "certificate-expiry": remind holders, their store managers and HR of certificates expiring
  within 30 days, once per certificate and expiry date.

Both are idempotent: evaluations are unique per enrolment and offset, and reminders are claimed
by a conditional UPDATE before any mail, each mail then being its own retried job. They work
from the day they are given (everything due by then), so a missed day is made up the next day.
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
from repairqc.tenants.services import tenant_url
from repairqc.training import services
from repairqc.training.models import Certificate, Evaluation, EvaluationStatus


@job(queue="default", timeout=600)
def training_schedule(today_iso: str) -> dict[str, int]:
    day = date.fromisoformat(today_iso)
    expired = services.expire_overdue_attempts()
    in_service = services.enrol_in_service(day)
    made = services.create_due_evaluations(day)
    db.session.flush()
    reminded = services.evaluations_to_remind(day)
    for evaluation_id in reminded:
        on_commit(partial(enqueue, send_evaluation_mail, evaluation_id, today_iso))
    return {"expired": expired, "in_service": in_service, "evaluations": len(made), "reminded": len(reminded)}


@job(queue="emails", timeout=60, retries=2)
def send_evaluation_mail(evaluation_id: int, today_iso: str) -> str | None:
    evaluation = db.session.get(Evaluation, evaluation_id)
    if evaluation is None or evaluation.status != EvaluationStatus.DUE or evaluation.assessor is None:
        return None
    recipient = evaluation.assessor
    if not recipient.is_active:
        return None
    context = {
        "evaluation": evaluation,
        "trainee": evaluation.user,
        "programme": evaluation.enrolment.programme.name,
        "recipient": recipient,
        "link": tenant_url(f"/admin/training/evaluations/{evaluation.id}"),
    }
    with force_locale(normalise_locale(recipient.locale) or "en"):
        context["due_date"] = format_date(evaluation.due_on)
        subject = render_template("training/mail/evaluation_subject.txt", **context).strip()
        body = render_template("training/mail/evaluation.txt", **context)
    send_mail(recipient.email, subject, body)
    return recipient.email


@job(queue="default", timeout=600)
def certificate_expiry(today_iso: str) -> list[int]:
    """Claim the certificates to remind, then one mail job per certificate and recipient."""
    claimed = services.certificates_to_remind(date.fromisoformat(today_iso))
    for cert_id in claimed:
        cert = db.session.get(Certificate, cert_id)
        for recipient in certificate_recipients(cert):
            on_commit(partial(enqueue, send_certificate_mail, cert_id, recipient.id))
    return claimed


def certificate_recipients(cert: Certificate) -> list[StaffUser]:
    """The holder, their store managers and HR (trainers), each once."""
    recipients: dict[int, StaffUser] = {}
    for user in [cert.holder, *services.store_managers(cert.holder), *services.trainers()]:
        if user is not None and user.is_active:
            recipients.setdefault(user.id, user)
    return list(recipients.values())


@job(queue="emails", timeout=60, retries=2)
def send_certificate_mail(cert_id: int, user_id: int) -> str | None:
    cert = db.session.get(Certificate, cert_id)
    user = db.session.get(StaffUser, user_id)
    if cert is None or user is None or not user.is_active or cert.expires_on is None:
        return None
    context = {
        "certificate": cert,
        "holder": cert.holder,
        "recipient": user,
        "link": tenant_url(f"/admin/training/staff/{cert.holder_id}"),
    }
    with force_locale(normalise_locale(user.locale) or "en"):
        context["expiry"] = format_date(cert.expires_on)
        context["category"] = services.category_names(cert.expires_on).get(
            cert.device_category, cert.device_category
        )
        subject = render_template("training/mail/certificate_subject.txt", **context).strip()
        body = render_template("training/mail/certificate.txt", **context)
    send_mail(user.email, subject, body)
    return user.email
