"""Stripe's webhooks (issue #6): only signed events are stored, each once; processing re-reads
Stripe, so replays, late and out-of-order events change nothing twice; the nightly
reconciliation makes good what an event lost or a failure left undone."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import stripe

from repairqc.billing.models import SignUp, SignUpStatus, StripeEvent, Subscription, SubscriptionStatus
from repairqc.billing.tasks import MAX_ATTEMPTS, reconcile_billing
from repairqc.db import db, utcnow
from repairqc.jobs import job_context
from repairqc.tenants.models import Tenant
from tests.fakestripe import (
    PLATFORM,
    WEBHOOK_SECRET,
    deliver,
    invoice_event,
    sign_up_tenant,
    start_sign_up,
    subscription_event,
    subscription_row,
)
from tests.mailserver import send_mail_to, smtp_server


@pytest.fixture
def stripe_up(stripe_app):
    """The fake answers again after a test that took it down."""
    yield stripe_app
    stripe_app[1].fail_with = None


def events(app, event_id: str) -> list[dict]:
    with app.app_context():
        rows = db.control.execute(sa.select(StripeEvent).where(StripeEvent.event_id == event_id)).scalars()
        return [
            {
                "processed_at": r.processed_at,
                "error": r.error,
                "attempts": r.attempts,
                "tenant_id": r.tenant_id,
            }
            for r in rows
        ]


def event_count(app) -> int:
    with app.app_context():
        return db.control.scalar(sa.select(sa.func.count()).select_from(StripeEvent))


def sign_up_row(app, address: str) -> dict:
    with app.app_context():
        row = db.control.execute(sa.select(SignUp).where(SignUp.slug == address)).scalar_one()
        return {"status": row.status, "tenant_id": row.tenant_id, "id": row.id}


def address_available(client, address: str) -> bool:
    return client.get(f"/signup/address?slug={address}", base_url=PLATFORM).json["available"]


def reconcile(app) -> dict[str, int]:
    """The nightly job, as the worker runs it."""
    with job_context(app, None, "reconcile_billing"):
        return reconcile_billing()


def age_event(app, event_id: str, minutes: int) -> None:
    with app.app_context():
        db.control.execute(
            sa.update(StripeEvent)
            .where(StripeEvent.event_id == event_id)
            .values(received_at=utcnow() - timedelta(minutes=minutes))
        )
        db.control.commit()


def close_to_now(moment: datetime | None, seconds: int = 120) -> bool:
    return moment is not None and abs((utcnow() - moment).total_seconds()) < seconds


# --- the signature ----------------------------------------------------------------------------------------


def _payload(event: dict) -> str:
    return json.dumps(event)


BAD_SIGNATURES = {
    "missing header": lambda event: {"Content-Type": "application/json"},
    "wrong secret": lambda event: {
        "Stripe-Signature": stripe.WebhookSignature.generate_signature_header(_payload(event), "whsec_other")
    },
    "older than 300 s": lambda event: {
        "Stripe-Signature": stripe.WebhookSignature.generate_signature_header(
            _payload(event), WEBHOOK_SECRET, timestamp=int(time.time()) - 301
        )
    },
    "not a signature": lambda event: {"Stripe-Signature": "t=1,v1=deadbeef"},
}


@pytest.mark.parametrize("case", sorted(BAD_SIGNATURES))
def test_a_badly_signed_event_is_refused_and_nothing_is_stored(stripe_app, case):
    app, fake = stripe_app
    client = app.test_client()
    event = fake.event("invoice.paid", {"id": "in_forged", "object": "invoice"})
    before, requests = event_count(app), len(fake.requests)
    headers = {"Content-Type": "application/json", **BAD_SIGNATURES[case](event)}
    response = client.post("/stripe/webhook", base_url=PLATFORM, data=_payload(event), headers=headers)
    assert response.status_code == 400
    assert events(app, event["id"]) == [] and event_count(app) == before
    assert len(fake.requests) == requests  # nothing was processed either


def test_a_tampered_payload_is_refused(stripe_app):
    app, fake = stripe_app
    client = app.test_client()
    event = fake.event("checkout.session.completed", {"id": "cs_genuine", "object": "checkout.session"})
    payload, headers = fake.signed(event)
    forged = payload.replace(b"cs_genuine", b"cs_attacker")
    response = client.post("/stripe/webhook", base_url=PLATFORM, data=forged, headers=headers)
    assert response.status_code == 400
    assert events(app, event["id"]) == []


def test_a_signature_within_the_tolerance_is_accepted(stripe_app):
    """The control for the cases above: the same kind of header, 200 s old, is good."""
    app, fake = stripe_app
    client = app.test_client()
    event = fake.event("customer.created", {"id": "cus_unrelated", "object": "customer"})
    header = stripe.WebhookSignature.generate_signature_header(
        _payload(event), WEBHOOK_SECRET, timestamp=int(time.time()) - 200
    )
    response = client.post(
        "/stripe/webhook",
        base_url=PLATFORM,
        data=_payload(event),
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
    )
    assert response.status_code == 200
    (stored,) = events(app, event["id"])
    assert stored["processed_at"] is not None and stored["tenant_id"] is None  # a type we ignore


def test_the_webhook_answers_on_the_platform_host_only(stripe_app):
    app, fake = stripe_app
    tenant = sign_up_tenant(app, fake)
    event = invoice_event(fake, "invoice.paid", tenant, status="paid")
    payload, headers = fake.signed(event)
    response = app.test_client().post("/stripe/webhook", base_url=tenant.host, data=payload, headers=headers)
    assert response.status_code == 404
    assert events(app, event["id"]) == []


# --- replays and order ------------------------------------------------------------------------------------


def test_a_replayed_event_is_stored_and_processed_once(stripe_app):
    app, fake = stripe_app
    client = app.test_client()
    tenant = sign_up_tenant(app, fake)
    event = invoice_event(fake, "invoice.paid", tenant, status="paid")
    first = deliver(client, fake, event)
    assert first.status_code == 200 and first.json == {"received": True}
    (stored,) = events(app, event["id"])
    assert stored["processed_at"] is not None and stored["tenant_id"] == tenant.tenant_id
    # Processing read the subscription from Stripe...
    assert fake.calls("GET", f"/v1/subscriptions/{tenant.subscription_id}")
    requests = len(fake.requests)

    again = deliver(client, fake, event)
    assert again.status_code == 200 and again.json == {"received": True, "duplicate": True}
    assert len(events(app, event["id"])) == 1
    assert len(fake.requests) == requests  # ...and the replay asked Stripe nothing


def test_events_out_of_order_end_with_stripes_current_state(stripe_app):
    app, fake = stripe_app
    client = app.test_client()
    tenant = sign_up_tenant(app, fake)
    now = int(time.time())
    fake.set_subscription(tenant.subscription_id, status="past_due")
    older = subscription_event(
        fake, "customer.subscription.updated", tenant.subscription_id, created=now - 120
    )
    fake.set_subscription(tenant.subscription_id, status="active", cancel_at_period_end=True)
    newer = subscription_event(
        fake, "customer.subscription.updated", tenant.subscription_id, created=now - 60
    )
    assert older["data"]["object"]["status"] == "past_due"

    assert deliver(client, fake, newer).status_code == 200
    row = subscription_row(app, tenant)
    assert row["status"] is SubscriptionStatus.ACTIVE and row["cancel_at_period_end"] is True

    reads = len(fake.calls("GET", f"/v1/subscriptions/{tenant.subscription_id}"))
    assert deliver(client, fake, older).status_code == 200
    # The stale event was processed (Stripe was asked again), but its payload was not believed.
    assert len(fake.calls("GET", f"/v1/subscriptions/{tenant.subscription_id}")) == reads + 1
    assert events(app, older["id"])[0]["processed_at"] is not None
    row = subscription_row(app, tenant)
    assert row["status"] is SubscriptionStatus.ACTIVE and row["past_due_since"] is None
    assert row["cancel_at_period_end"] is True


def test_a_subscription_event_before_its_checkout_changes_nothing(stripe_app):
    app, fake = stripe_app
    client = app.test_client()
    address, session_id = start_sign_up(client)
    session = fake.pay_checkout(session_id, trial_days=0)
    early = subscription_event(fake, "customer.subscription.created", session["subscription"])
    assert deliver(client, fake, early).status_code == 200
    (stored,) = events(app, early["id"])
    assert stored["processed_at"] is not None and stored["tenant_id"] is None
    with app.app_context():
        assert db.control.execute(sa.select(Tenant).where(Tenant.slug == address)).first() is None
        assert (
            db.control.execute(
                sa.select(Subscription).where(Subscription.stripe_subscription_id == session["subscription"])
            ).first()
            is None
        )
    assert sign_up_row(app, address)["status"] is SignUpStatus.PENDING

    completed = fake.event("checkout.session.completed", {"id": session_id, "object": "checkout.session"})
    assert deliver(client, fake, completed).status_code == 200
    with app.app_context():
        tenant = db.control.execute(sa.select(Tenant).where(Tenant.slug == address)).scalar_one()
        row = db.control.execute(
            sa.select(Subscription).where(Subscription.tenant_id == tenant.id)
        ).scalar_one()
        assert row.stripe_subscription_id == session["subscription"]
        assert row.status is SubscriptionStatus.ACTIVE and row.plan.code == "starter"
    assert sign_up_row(app, address)["status"] is SignUpStatus.COMPLETED


# --- what each event does -------------------------------------------------------------------------------


def test_a_failed_payment_makes_the_subscription_past_due_and_tells_the_owner(stripe_app, monkeypatch):
    app, fake = stripe_app
    client = app.test_client()
    tenant = sign_up_tenant(app, fake)
    with smtp_server() as box:
        send_mail_to(box, app, monkeypatch)
        fake.set_subscription(tenant.subscription_id, status="past_due")
        failed = invoice_event(fake, "invoice.payment_failed", tenant)
        assert deliver(client, fake, failed).status_code == 200
        row = subscription_row(app, tenant)
        assert row["status"] is SubscriptionStatus.PAST_DUE and close_to_now(row["past_due_since"])
        (mail,) = box.to(tenant.owner_email)
        assert mail["Subject"] == "RepairQC: a payment has failed"
        assert f"{tenant.host}/admin/billing/" in mail.get_content()

        # A second failure in the same run keeps the grace period's start.
        first_failure = row["past_due_since"]
        again = invoice_event(fake, "invoice.payment_failed", tenant)
        assert deliver(client, fake, again).status_code == 200
        assert subscription_row(app, tenant)["past_due_since"] == first_failure
        assert len(box.to(tenant.owner_email)) == 2

        fake.set_subscription(tenant.subscription_id, status="active")
        paid = invoice_event(fake, "invoice.paid", tenant, status="paid")
        assert deliver(client, fake, paid).status_code == 200
        row = subscription_row(app, tenant)
        assert row["status"] is SubscriptionStatus.ACTIVE and row["past_due_since"] is None
        assert len(box.to(tenant.owner_email)) == 2  # a payment is no news to mail about


def test_a_deleted_subscription_is_canceled_with_its_end(stripe_app):
    app, fake = stripe_app
    client = app.test_client()
    tenant = sign_up_tenant(app, fake)
    remote = fake.set_subscription(
        tenant.subscription_id, status="canceled", ended_at=int(time.time()) - 3600
    )
    deleted = subscription_event(fake, "customer.subscription.deleted", tenant.subscription_id)
    assert deliver(client, fake, deleted).status_code == 200
    row = subscription_row(app, tenant)
    assert row["status"] is SubscriptionStatus.CANCELED
    assert row["ended_at"] == datetime.fromtimestamp(remote["ended_at"], UTC)
    with app.app_context():  # the tenant itself is untouched
        assert db.control.get(Tenant, tenant.tenant_id) is not None


def test_an_expired_checkout_abandons_the_sign_up_and_frees_the_address(stripe_app):
    app, fake = stripe_app
    client = app.test_client()
    address, session_id = start_sign_up(client)
    assert address_available(client, address) is False
    expired = fake.event("checkout.session.expired", {"id": session_id, "object": "checkout.session"})
    assert deliver(client, fake, expired).status_code == 200
    assert sign_up_row(app, address)["status"] is SignUpStatus.ABANDONED
    assert address_available(client, address) is True


def test_an_expired_event_for_a_completed_checkout_changes_nothing(stripe_app):
    app, fake = stripe_app
    client = app.test_client()
    tenant = sign_up_tenant(app, fake)
    expired = fake.event("checkout.session.expired", {"id": tenant.session_id, "object": "checkout.session"})
    assert deliver(client, fake, expired).status_code == 200
    assert sign_up_row(app, tenant.slug)["status"] is SignUpStatus.COMPLETED
    assert address_available(client, tenant.slug) is False


# --- the nightly reconciliation and failures ------------------------------------------------------------


def test_reconciliation_makes_good_a_lost_event(stripe_app):
    app, fake = stripe_app
    tenant = sign_up_tenant(app, fake)
    fake.set_subscription(tenant.subscription_id, status="past_due", cancel_at_period_end=True)
    assert subscription_row(app, tenant)["status"] is SubscriptionStatus.ACTIVE  # no event came

    counts = reconcile(app)

    assert counts["subscriptions"] >= 1
    row = subscription_row(app, tenant)
    assert row["status"] is SubscriptionStatus.PAST_DUE and close_to_now(row["past_due_since"])
    assert row["cancel_at_period_end"] is True and close_to_now(row["synced_at"])


def test_reconciliation_sweeps_sign_ups_past_their_hold(stripe_app):
    app, _fake = stripe_app
    client = app.test_client()
    address, _session_id = start_sign_up(client)
    fresh, _other_session = start_sign_up(client)
    with app.app_context():
        db.control.execute(
            sa.update(SignUp).where(SignUp.slug == address).values(expires_at=utcnow() - timedelta(minutes=1))
        )
        db.control.commit()

    counts = reconcile(app)

    assert counts["abandoned"] == 1
    assert sign_up_row(app, address)["status"] is SignUpStatus.ABANDONED
    assert sign_up_row(app, fresh)["status"] is SignUpStatus.PENDING  # still at Checkout
    assert address_available(client, address) is True and address_available(client, fresh) is False


def test_stripe_down_keeps_the_error_and_the_nightly_retry_succeeds(stripe_up):
    app, fake = stripe_up
    client = app.test_client()
    tenant = sign_up_tenant(app, fake)
    fake.set_subscription(tenant.subscription_id, status="past_due")
    failed = invoice_event(fake, "invoice.payment_failed", tenant)
    recent = invoice_event(fake, "invoice.payment_failed", tenant)

    fake.fail_with = 500
    assert deliver(client, fake, failed).status_code == 200  # stored: Stripe gets its 2xx
    assert deliver(client, fake, recent).status_code == 200
    (stored,) = events(app, failed["id"])
    assert stored["processed_at"] is None and stored["tenant_id"] is None
    assert "StripeUnavailable" in stored["error"]
    assert subscription_row(app, tenant)["status"] is SubscriptionStatus.ACTIVE  # nothing half-done

    fake.fail_with = None
    age_event(app, failed["id"], minutes=11)
    counts = reconcile(app)

    assert counts["events"] == 1  # the one received 11 minutes ago; the other is too recent
    (retried,) = events(app, failed["id"])
    assert retried["processed_at"] is not None and retried["error"] is None
    assert retried["tenant_id"] == tenant.tenant_id
    assert events(app, recent["id"])[0]["processed_at"] is None
    row = subscription_row(app, tenant)
    assert row["status"] is SubscriptionStatus.PAST_DUE and close_to_now(row["past_due_since"])


def test_a_failed_attempt_is_counted(stripe_up):
    """Retries stop at MAX_ATTEMPTS, so each failed attempt must be counted."""
    app, fake = stripe_up
    client = app.test_client()
    tenant = sign_up_tenant(app, fake)
    event = invoice_event(fake, "invoice.payment_failed", tenant)
    fake.fail_with = 500
    assert deliver(client, fake, event).status_code == 200
    (stored,) = events(app, event["id"])
    assert stored["error"] and stored["attempts"] == 1


def test_an_event_that_failed_too_often_is_left_to_the_operators(stripe_app):
    app, fake = stripe_app
    client = app.test_client()
    # A checkout Stripe does not know: processing fails every time, Stripe up or not.
    poison = fake.event("checkout.session.completed", {"id": "cs_poison", "object": "checkout.session"})
    assert deliver(client, fake, poison).status_code == 200
    assert events(app, poison["id"])[0]["error"]
    age_event(app, poison["id"], minutes=60)

    def asked() -> int:
        return len(fake.calls("GET", "/v1/checkout/sessions/cs_poison"))

    before = asked()
    reconcile(app)
    assert asked() == before + 1  # retried once more...
    with app.app_context():
        db.control.execute(
            sa.update(StripeEvent).where(StripeEvent.event_id == poison["id"]).values(attempts=MAX_ATTEMPTS)
        )
        db.control.commit()
    reconcile(app)
    assert asked() == before + 1  # ...but not after MAX_ATTEMPTS
    assert events(app, poison["id"])[0]["processed_at"] is None


def test_a_second_event_for_a_completed_checkout_makes_no_second_tenant(stripe_app):
    app, fake = stripe_app
    client = app.test_client()
    tenant = sign_up_tenant(app, fake)
    again = fake.event(
        "checkout.session.async_payment_succeeded", {"id": tenant.session_id, "object": "checkout.session"}
    )
    assert deliver(client, fake, again).status_code == 200
    (stored,) = events(app, again["id"])
    assert stored["processed_at"] is not None and stored["error"] is None
    assert stored["tenant_id"] == tenant.tenant_id
    with app.app_context():
        assert (
            db.control.scalar(
                sa.select(sa.func.count()).select_from(Tenant).where(Tenant.slug == tenant.slug)
            )
            == 1
        )
        assert (
            db.control.scalar(
                sa.select(sa.func.count())
                .select_from(Subscription)
                .where(Subscription.tenant_id == tenant.tenant_id)
            )
            == 1
        )
