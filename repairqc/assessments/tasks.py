"""The periodic job "assessments-due" (HB §3.3.2-§3.3.3).

Daily, per tenant: the drafts of the month, quarter and year that ended last are made for every
active technician and store (`services.create_due_drafts`, once each: a second run, a retry or
a second scheduler finds them made and does nothing), and each assessor gets one mail listing
the drafts made for them in that run — store managers for the monthly ones, HR (trainers) for
the quarterly and annual ones. The mails are queued after the drafts commit, one job per
recipient, so a failed mail is retried without making anything twice.
"""

from __future__ import annotations

from datetime import date
from functools import partial

import sqlalchemy as sa
from flask import render_template
from flask_babel import force_locale

from repairqc.accounts.models import StaffUser
from repairqc.assessments import services
from repairqc.assessments.models import Assessment, AssessmentStatus
from repairqc.db import db, on_commit
from repairqc.i18n import normalise_locale
from repairqc.jobs import enqueue, job
from repairqc.mail import send_mail
from repairqc.tenants.services import tenant_url


@job(queue="default", timeout=600)
def create_due_assessments(today_iso: str) -> list[int]:
    """Make the due drafts and queue one mail per assessor; returns the ids made."""
    created = services.create_due_drafts(date.fromisoformat(today_iso))
    by_assessor: dict[int, list[int]] = {}
    for assessment_id in created:
        assessment = db.session.get(Assessment, assessment_id)
        for assessor in services.assessors_for(assessment):
            by_assessor.setdefault(assessor.id, []).append(assessment_id)
    for user_id, ids in by_assessor.items():
        on_commit(partial(enqueue, send_assessments_due_mail, user_id, ids))
    return created


@job(queue="emails", timeout=60, retries=2)
def send_assessments_due_mail(user_id: int, assessment_ids: list[int]) -> str | None:
    """One mail to an assessor listing their new drafts, in their language; drafts finalised in
    the meantime are left out, and nothing is sent when none is left."""
    user = db.session.get(StaffUser, user_id)
    if user is None or not user.is_active:
        return None
    assessments = list(
        db.session.execute(
            sa.select(Assessment)
            .where(Assessment.id.in_(assessment_ids), Assessment.status == AssessmentStatus.DRAFT)
            .order_by(Assessment.kind, Assessment.store_id, Assessment.id)
        ).scalars()
    )
    if not assessments:
        return None
    base = tenant_url("/admin/staff-assessments/")
    context = {
        "recipient": user,
        "assessments": [
            (a, services.period_label(a.kind, a.period_start), f"{base}{a.id}/") for a in assessments
        ],
        "link": base,
    }
    with force_locale(normalise_locale(user.locale) or "en"):
        subject = render_template("assessments/mail/due_subject.txt", count=len(assessments)).strip()
        body = render_template("assessments/mail/due.txt", **context)
    send_mail(user.email, subject, body)
    return user.email
