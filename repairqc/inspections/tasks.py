"""Jobs of HQ supervision (HB ch.8): plans become inspections, overdue actions are escalated.

Both sweeps run once a day per tenant through `repairqc.jobs.periodic` and are idempotent: the
generation skips inspections that exist, and the escalation claims an action before it mails,
so running either twice on one day does nothing the second time. Both work from the day they
are given (every inspection up to its horizon, every action overdue by then), so a day on which
no sweep ran is made up by the next day's.
"""

from __future__ import annotations

from datetime import date
from functools import partial

from flask import render_template
from flask_babel import force_locale, format_date

from repairqc.accounts.models import StaffUser
from repairqc.db import db, on_commit
from repairqc.i18n import normalise_locale
from repairqc.inspections import services
from repairqc.inspections.models import ACTION_PENDING, CorrectiveAction
from repairqc.jobs import enqueue, job
from repairqc.mail import send_mail
from repairqc.tenants.services import tenant_url


@job(queue="default", timeout=600)
def generate_inspections(today_iso: str) -> int:
    """Make the scheduled inspections of every active plan up to the horizon (HB §8.2.2)."""
    return services.generate_due_inspections(date.fromisoformat(today_iso))


@job(queue="default", timeout=600)
def escalate_corrective_actions(today_iso: str) -> list[int]:
    """Claim the overdue actions due an escalation and mail each to its owner and QA.

    The mails go out after the claim commits, one job per action and recipient: a failed mail
    is retried by its own job, without claiming the action again and without mailing the other
    recipients twice. Returns the ids of the actions claimed."""
    claimed = services.overdue_actions_to_escalate(date.fromisoformat(today_iso))
    for action_id in claimed:
        action = db.session.get(CorrectiveAction, action_id)
        for recipient in escalation_recipients(action):
            on_commit(partial(enqueue, send_escalation_mail, action_id, recipient.id, today_iso))
    return claimed


def escalation_recipients(action: CorrectiveAction) -> list[StaffUser]:
    """The action's owner, then the tenant's QA (HB §8.3.2: QA follows up), each once."""
    recipients: dict[int, StaffUser] = {}
    for user in [action.owner, *services.qa_recipients()]:
        if user is not None and user.is_active:
            recipients.setdefault(user.id, user)
    return list(recipients.values())


@job(queue="emails", timeout=60, retries=2)
def send_escalation_mail(action_id: int, user_id: int, today_iso: str) -> str | None:
    """One escalation mail, in the recipient's language. Nothing is sent when the action was
    completed (or the recipient left) between the claim and this job."""
    action = db.session.get(CorrectiveAction, action_id)
    user = db.session.get(StaffUser, user_id)
    if action is None or user is None or not user.is_active or action.status not in ACTION_PENDING:
        return None
    today = date.fromisoformat(today_iso)
    context = {
        "action": action,
        "finding": action.finding,
        "store": action.store,
        "recipient": user,
        "is_owner": user.id == action.owner_id,
        "link": tenant_url(f"/admin/corrective_actions/details/?id={action.id}"),
    }
    with force_locale(normalise_locale(user.locale) or "en"):
        context["due"] = services.describe_due(action.due_on, today)
        context["due_date"] = format_date(action.due_on)
        subject = render_template("inspections/mail/escalation_subject.txt", **context).strip()
        body = render_template("inspections/mail/escalation.txt", **context)
    send_mail(user.email, subject, body)
    return user.email
