"""Mails and the daily "improvements-due" job of the improvement domain (HB §2.3.1, §2.3.2).

* `send_decision_mail`: the submitter (and, on adoption, the responsible person) learns of QA's
  decision, in their own language; queued by the services after the decision commits.
* `remind_improvements_due` (daily, 00:40 UTC): adopted suggestions past their due date (to the
  responsible person), effect reviews due and the process review due (to QA: the QA managers, or
  the owners when there are none). Idempotent: each reminder is claimed in
  `improvement_reminders` by its key (kind, suggestion, due date) before any mail goes out, so a
  second run, a retry or a second scheduler sends nothing twice; then one mail per recipient,
  each its own job, so a failed mail is retried alone.
"""

from __future__ import annotations

from datetime import date
from functools import partial

import sqlalchemy as sa
from flask import render_template
from flask_babel import force_locale, format_date

from repairqc.accounts.models import StaffUser
from repairqc.db import db, on_commit
from repairqc.i18n import normalise_locale
from repairqc.improvements import services
from repairqc.improvements.models import (
    SUGGESTION_PENDING,
    ImprovementReminder,
    ImprovementSuggestion,
    ReminderKind,
    SuggestionStatus,
)
from repairqc.jobs import enqueue, job
from repairqc.mail import send_mail
from repairqc.tenants.services import tenant_url


def suggestion_link(suggestion_id: int) -> str:
    return tenant_url(f"/admin/improvements/suggestions/{suggestion_id}/")


@job(queue="emails", timeout=60, retries=2)
def send_decision_mail(suggestion_id: int, user_id: int) -> str | None:
    """QA's decision on a suggestion, to its submitter or responsible person, in their language."""
    suggestion = db.session.get(ImprovementSuggestion, suggestion_id)
    user = db.session.get(StaffUser, user_id)
    if suggestion is None or user is None or not user.is_active or suggestion.decided_at is None:
        return None
    context = {
        "suggestion": suggestion,
        "recipient": user,
        "adopted": suggestion.status is not SuggestionStatus.REJECTED,
        "is_submitter": user.id == suggestion.submitted_by_id,
        "is_responsible": user.id == suggestion.responsible_id,
        "link": suggestion_link(suggestion.id),
    }
    with force_locale(normalise_locale(user.locale) or "en"):
        context["due"] = format_date(suggestion.due_on) if suggestion.due_on else ""
        subject = render_template("improvements/mail/decision_subject.txt", **context).strip()
        body = render_template("improvements/mail/decision.txt", **context)
    send_mail(user.email, subject, body)
    return user.email


@job(queue="default", timeout=600)
def remind_improvements_due(today_iso: str) -> dict[int, list[int]]:
    """Claim every reminder due and not yet sent, then queue one mail per recipient.
    Returns {recipient id: [reminder ids]} of what was claimed."""
    today = date.fromisoformat(today_iso)
    by_recipient: dict[int, list[int]] = {}
    for reminder, row in services.claim_reminders(today):
        recipients = services.reminder_recipients(reminder)
        row.recipients = ", ".join(user.email for user in recipients) or None
        db.session.flush()
        for user in recipients:
            by_recipient.setdefault(user.id, []).append(row.id)
    for user_id, reminder_ids in by_recipient.items():
        on_commit(partial(enqueue, send_due_mail, user_id, reminder_ids, today_iso))
    return by_recipient


def _still_due(row: ImprovementReminder) -> bool:
    """Whether the reminder still stands when the mail goes out (not done meanwhile)."""
    suggestion = row.suggestion
    if row.kind is ReminderKind.OVERDUE:
        return suggestion is not None and suggestion.status in SUGGESTION_PENDING
    if row.kind is ReminderKind.EFFECT_REVIEW:
        return suggestion is not None and suggestion.status is SuggestionStatus.IMPLEMENTED
    due = services.process_review_due_on()
    return due is not None and due <= row.due_on


@job(queue="emails", timeout=60, retries=2)
def send_due_mail(user_id: int, reminder_ids: list[int], today_iso: str) -> str | None:
    """One recipient's list of what is due, in their language; what was done since the claim
    is left out, and nothing is sent when nothing is left."""
    user = db.session.get(StaffUser, user_id)
    if user is None or not user.is_active:
        return None
    today = date.fromisoformat(today_iso)
    rows = [
        row
        for row in db.session.execute(
            sa.select(ImprovementReminder)
            .where(ImprovementReminder.id.in_(reminder_ids))
            .order_by(ImprovementReminder.kind, ImprovementReminder.due_on, ImprovementReminder.id)
        ).scalars()
        if _still_due(row)
    ]
    if not rows:
        return None
    from repairqc.inspections.services import describe_due

    with force_locale(normalise_locale(user.locale) or "en"):
        lines = [
            {
                "kind": row.kind,
                "label": row.kind.label,
                "suggestion": row.suggestion,
                "date": format_date(row.due_on),
                "due": describe_due(row.due_on, today),
                "link": suggestion_link(row.suggestion_id)
                if row.suggestion_id
                else tenant_url("/admin/improvements/reviews/new"),
            }
            for row in rows
        ]
        context = {"recipient": user, "lines": lines, "count": len(lines)}
        subject = render_template("improvements/mail/due_subject.txt", **context).strip()
        body = render_template("improvements/mail/due.txt", **context)
    send_mail(user.email, subject, body)
    return user.email
