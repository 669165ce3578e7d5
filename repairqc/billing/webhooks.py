"""Stripe's webhooks: verified, stored once per event id, processed in a job.

The endpoint only checks the signature (with the library), stores the event and queues its
processing, so Stripe gets its 2xx fast. Processing re-reads the object from Stripe and is
idempotent, so a replay, a retry or an event that arrives after a later one changes nothing
twice (research/ecosystem.md §3.3-3.4).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
import stripe
from flask import current_app

from repairqc.billing import gateway, services, signup
from repairqc.billing.models import StripeEvent, Subscription
from repairqc.db import db, utcnow

logger = logging.getLogger(__name__)

#: What each event type makes us do; everything else is stored and marked processed.
CHECKOUT_COMPLETED = {"checkout.session.completed", "checkout.session.async_payment_succeeded"}
CHECKOUT_EXPIRED = {"checkout.session.expired"}
SUBSCRIPTION_EVENTS = {
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.resumed",
    "customer.subscription.trial_will_end",
}
INVOICE_EVENTS = {"invoice.paid", "invoice.payment_failed", "invoice.payment_action_required"}


class BadWebhook(ValueError):
    """The request is not a genuine Stripe event (no or a wrong signature, or not JSON)."""


def verify(payload: bytes, signature: str | None) -> stripe.Event:
    secret = current_app.config["STRIPE_WEBHOOK_SECRET"]
    if not secret or not signature:
        raise BadWebhook("missing signature or webhook secret")
    try:
        return stripe.Webhook.construct_event(payload, signature, secret)
    except (stripe.SignatureVerificationError, ValueError) as exc:
        raise BadWebhook(str(exc)) from exc


def store(event: stripe.Event, payload: bytes) -> StripeEvent | None:
    """Keep the event; None if its id was stored before (a replay: nothing more to do)."""
    row = StripeEvent(
        event_id=event.id,
        type=event.type,
        created=datetime.fromtimestamp(int(event.created), UTC),
        livemode=bool(gateway.value(event, "livemode", default=False)),
        payload=json.loads(payload),
    )
    try:
        with db.control.begin_nested():
            db.control.add(row)
    except sa.exc.IntegrityError:
        return None
    return row


def _object_id(payload: dict[str, Any], key: str = "id") -> str | None:
    obj = payload.get("data", {}).get("object", {})
    value = obj.get(key)
    return value.get("id") if isinstance(value, dict) else value


def _invoice_subscription(payload: dict[str, Any]) -> str | None:
    invoice = payload.get("data", {}).get("object", {})
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    sub = details.get("subscription") or invoice.get("subscription")  # basil, or older API versions
    return sub.get("id") if isinstance(sub, dict) else sub


def process(row: StripeEvent) -> None:
    """Do what the event asks, from Stripe's current state; records the tenant it concerned."""
    payload, kind = row.payload, row.type
    tenant_id = None
    if kind in CHECKOUT_COMPLETED:
        session = services.retrieve_checkout(_object_id(payload))
        reference = gateway.value(session, "client_reference_id", default="")
        if reference.startswith(services.TENANT_REFERENCE):
            tenant_id = int(reference.removeprefix(services.TENANT_REFERENCE))
            services.attach_checkout(tenant_id, session)
        else:
            sign_up = signup.complete_checkout(session)
            tenant_id = sign_up.tenant_id if sign_up is not None else None
    elif kind in CHECKOUT_EXPIRED:
        sign_up = signup.abandon(_object_id(payload))
        tenant_id = sign_up.tenant_id if sign_up is not None else None
    elif kind in SUBSCRIPTION_EVENTS or kind in INVOICE_EVENTS:
        stripe_subscription_id = (
            _object_id(payload) if kind in SUBSCRIPTION_EVENTS else _invoice_subscription(payload)
        )
        if stripe_subscription_id:
            subscription = services.sync_subscription(stripe_subscription_id)
            if subscription is not None:
                tenant_id = subscription.tenant_id
                _notify(kind, subscription, payload)
    row.tenant_id = tenant_id


def _notify(kind: str, subscription: Subscription, payload: dict[str, Any]) -> None:
    """Mail the owners about a failed payment or a trial ending (once per event: events are
    processed once)."""
    from repairqc.billing.tasks import send_billing_notice
    from repairqc.db import on_commit
    from repairqc.jobs import enqueue

    notice = {
        "invoice.payment_failed": "payment_failed",
        "invoice.payment_action_required": "payment_action_required",
        "customer.subscription.trial_will_end": "trial_will_end",
    }.get(kind)
    if notice is None:
        return
    ref = subscription.tenant.ref
    on_commit(lambda: enqueue(send_billing_notice, notice, tenant=ref))


def record_failure(event_row_id: int, exc: BaseException) -> None:
    """Keep the error on the event (the console's webhook log), outside the failed transaction."""
    db.control.rollback()
    db.control.execute(
        sa.update(StripeEvent)
        .where(StripeEvent.id == event_row_id)
        # Counted here: the failed transaction's own increment was rolled back with it.
        .values(error=f"{type(exc).__name__}: {exc}"[:2000], attempts=StripeEvent.attempts + 1)
    )
    db.control.commit()


def mark_processed(row: StripeEvent) -> None:
    row.processed_at = utcnow()
    row.error = None
