"""Jobs of billing: processing Stripe's events, the nightly reconciliation, and the mails."""

from __future__ import annotations

import logging
from datetime import timedelta

import sqlalchemy as sa
from flask import render_template
from flask_babel import force_locale, format_date

from repairqc.accounts.models import Role, RoleAssignment, StaffUser
from repairqc.billing import gateway, services, signup, webhooks
from repairqc.billing.models import StripeEvent, Subscription
from repairqc.db import db, utcnow
from repairqc.jobs import enqueue, job
from repairqc.mail import send_mail
from repairqc.tenants.services import tenant_url

logger = logging.getLogger(__name__)

#: Events still unprocessed this long after arriving are retried by the reconciliation.
RETRY_AFTER = timedelta(minutes=10)
MAX_ATTEMPTS = 10


@job(queue="billing", timeout=300, retries=3, platform=True)
def process_stripe_event(event_row_id: int) -> str | None:
    """Process one stored event; a failure keeps its error on the row and is retried."""
    row = db.control.get(StripeEvent, event_row_id)
    if row is None or row.processed_at is not None:
        return None
    row.attempts += 1
    try:
        webhooks.process(row)
    except Exception as exc:
        webhooks.record_failure(event_row_id, exc)
        raise
    webhooks.mark_processed(row)
    return row.type


@job(queue="billing", timeout=1800, platform=True)
def reconcile_billing(today_iso: str | None = None) -> dict[str, int]:
    """Nightly: re-read every subscription from Stripe (a lost or failed event is made good),
    retry events left unprocessed, and free the addresses of abandoned sign-ups."""
    counts = {"subscriptions": 0, "events": 0, "abandoned": signup.sweep_abandoned()}
    db.control.commit()
    if gateway.billing_enabled():
        ids = db.control.execute(
            sa.select(Subscription.stripe_subscription_id).where(
                Subscription.stripe_subscription_id.is_not(None)
            )
        ).scalars()
        for stripe_subscription_id in list(ids):
            try:
                services.sync_subscription(stripe_subscription_id)
                db.control.commit()
                counts["subscriptions"] += 1
            except Exception:  # one subscription's trouble must not stop the others
                db.control.rollback()
                logger.exception("reconciling %s failed", stripe_subscription_id)
    stale = db.control.execute(
        sa.select(StripeEvent.id).where(
            StripeEvent.processed_at.is_(None),
            StripeEvent.received_at < utcnow() - RETRY_AFTER,
            StripeEvent.attempts < MAX_ATTEMPTS,
        )
    ).scalars()
    for event_row_id in list(stale):
        enqueue(process_stripe_event, event_row_id)
        counts["events"] += 1
    return counts


def _owners() -> list[StaffUser]:
    return list(
        db.session.execute(
            sa.select(StaffUser)
            .join(RoleAssignment)
            .where(RoleAssignment.role == Role.OWNER, StaffUser.is_active.is_(True))
            .order_by(StaffUser.id)
        )
        .scalars()
        .unique()
    )


@job(queue="emails", timeout=60)
def send_welcome_mail(sign_up_public_id: str) -> str | None:
    """Welcome the new owner, in the language they signed up in, with their tenant's address."""
    sign_up = signup.get_sign_up(sign_up_public_id)
    with force_locale(sign_up.locale):
        subject = render_template("billing/mail/welcome_subject.txt", sign_up=sign_up).strip()
        body = render_template(
            "billing/mail/welcome.txt",
            sign_up=sign_up,
            login_link=tenant_url("/login"),
            start_link=tenant_url("/admin/start/"),
        )
    send_mail(sign_up.owner_email, subject, body)
    return sign_up.owner_email


#: Billing notices mailed to the owners.
NOTICES = ("payment_failed", "payment_action_required", "trial_will_end")


@job(queue="emails", timeout=60)
def send_billing_notice(notice: str) -> list[str]:
    if notice not in NOTICES:
        raise ValueError(f"unknown billing notice {notice!r}")
    from repairqc.db import current_tenant

    subscription = services.subscription_of(current_tenant().id)
    sent = []
    for owner in _owners():
        with force_locale(owner.locale or "en"):
            subject = render_template(f"billing/mail/{notice}_subject.txt").strip()
            body = render_template(
                f"billing/mail/{notice}.txt",
                user=owner,
                subscription=subscription,
                trial_day=format_date(subscription.trial_ends_at, "long")
                if subscription is not None and subscription.trial_ends_at
                else "–",
                billing_link=tenant_url("/admin/billing/"),
            )
        send_mail(owner.email, subject, body)
        sent.append(owner.email)
    return sent
