"""The complaint clock (HB §9.3.3): warn the responsible person before the first-contact
deadline, escalate to the store's managers and QA when it passes.

"complaint-deadlines" runs every 15 minutes per tenant (`jobs.periodic`). It claims each warning
and escalation with a conditional UPDATE before anything is mailed
(`services.claim_deadline_work`), then queues one mail job per complaint and recipient after the
claim commits: a failed mail is retried by its own job without claiming again or mailing the
others twice, and a re-run, a retry or a second scheduler finds nothing left to claim.
"""

from __future__ import annotations

from functools import partial

from flask import render_template
from flask_babel import force_locale

from repairqc.accounts.models import StaffUser
from repairqc.complaints import services
from repairqc.complaints.models import Complaint
from repairqc.db import db, on_commit, utcnow
from repairqc.i18n import normalise_locale
from repairqc.jobs import enqueue, job
from repairqc.jobs.periodic import parse_moment
from repairqc.mail import send_mail
from repairqc.tenants.services import tenant_url

WARNING = "warning"
ESCALATION = "escalation"


@job(queue="default", timeout=600)
def complaint_deadlines(today_iso: str, now_iso: str | None = None) -> dict[str, list[int]]:
    """Claim the warnings and escalations due at this moment and queue their mails.

    The scheduler passes the day (the periodic jobs' convention); the clock works to the minute,
    so the moment is now (`now_iso` lets tests travel in time)."""
    now = parse_moment(now_iso) if now_iso else utcnow()
    warned, escalated = services.claim_deadline_work(now)
    for kind, ids, recipients in (
        (WARNING, warned, services.warning_recipients),
        (ESCALATION, escalated, services.escalation_recipients),
    ):
        for complaint_id in ids:
            complaint = db.session.get(Complaint, complaint_id)
            for person in recipients(complaint):
                on_commit(
                    partial(enqueue, send_deadline_mail, complaint_id, person.id, kind, now.isoformat())
                )
    return {WARNING: warned, ESCALATION: escalated}


@job(queue="emails", timeout=60, retries=2)
def send_deadline_mail(complaint_id: int, user_id: int, kind: str, now_iso: str) -> str | None:
    """One warning or escalation mail, in the recipient's language. Nothing is sent when the
    customer was contacted (or the recipient left) between the claim and this job."""
    complaint = db.session.get(Complaint, complaint_id)
    user = db.session.get(StaffUser, user_id)
    if complaint is None or user is None or not user.is_active or complaint.first_contacted_at is not None:
        return None
    now = parse_moment(now_iso)
    context = {
        "complaint": complaint,
        "store": complaint.store,
        "recipient": user,
        "is_responsible": user.id == complaint.responsible_id,
        "link": tenant_url(f"/admin/customer-complaints/{complaint.id}/"),
    }
    with force_locale(normalise_locale(user.locale) or "en"):
        context["deadline"] = services.describe_deadline(complaint, now).text
        context["due"] = services.local_moment(complaint.first_contact_due_at, complaint.store)
        context["category"] = complaint.category.label if complaint.category else ""
        subject = render_template(f"complaints/mail/{kind}_subject.txt", **context).strip()
        body = render_template(f"complaints/mail/{kind}.txt", **context)
    send_mail(user.email, subject, body)
    return user.email
