"""Online sign-up through Stripe Checkout (a local Stripe that answers the documented shapes),
and without Stripe (the embedded default's trial)."""

from __future__ import annotations

import re
import uuid

import sqlalchemy as sa

from repairqc.accounts.models import Role, StaffUser
from repairqc.billing.models import SignUp, SignUpStatus, StripeEvent, Subscription, SubscriptionStatus
from repairqc.db import db, tenant_context
from repairqc.tenants.models import Tenant
from tests.conftest import backend_app
from tests.fakestripe import OWNER_PASSWORD, PLATFORM, deliver

PASSWORD = OWNER_PASSWORD


def slug() -> str:
    return f"shop-{uuid.uuid4().hex[:8]}"


def sign_up_form(address: str, **overrides) -> dict[str, str]:
    return {
        "business_name": "Fix It Fast",
        "slug": address,
        "owner_name": "Olivia Owner",
        "owner_email": f"olivia@{address}.example.com",
        "password": PASSWORD,
        "locale": "en",
        "plan": "starter",
        "interval": "month",
        **overrides,
    }


def test_sign_up_end_to_end_through_checkout(stripe_app):
    app, fake = stripe_app
    client = app.test_client()
    address = slug()
    started = client.post("/signup", base_url=PLATFORM, data=sign_up_form(address))
    assert started.status_code == 303, started.text
    session_id = started.headers["Location"].rsplit("/", 1)[-1]
    assert started.headers["Location"] == f"https://checkout.stripe.test/c/pay/{session_id}"
    (created,) = fake.calls("POST", "/v1/checkout/sessions")
    assert created.params["mode"] == "subscription"
    assert created.params["line_items"] == [{"price": "price_starter_month", "quantity": "1"}]
    assert created.params["customer_email"] == f"olivia@{address}.example.com"
    assert created.params["subscription_data"]["trial_period_days"] == "14"
    with app.app_context():
        sign_up = db.control.execute(sa.select(SignUp).where(SignUp.slug == address)).scalar_one()
        assert created.params["client_reference_id"] == sign_up.public_id
        assert created.idempotency_key == f"checkout:{sign_up.public_id}"
        # Nothing exists yet but the sign-up; the address is held for it.
        assert db.control.execute(sa.select(Tenant).where(Tenant.slug == address)).first() is None
        public_id = sign_up.public_id
    held = client.get(f"/signup/address?slug={address}", base_url=PLATFORM).json
    assert held["available"] is False

    # Back from Checkout before Stripe's event: the page waits, no tenant is made from the redirect.
    waiting = client.get(f"/signup/{public_id}", base_url=PLATFORM)
    assert waiting.status_code == 200 and 'data-state="waiting"' in waiting.text

    fake.pay_checkout(session_id)
    event = fake.event("checkout.session.completed", {"id": session_id, "object": "checkout.session"})
    assert deliver(client, fake, event).status_code == 200

    with app.app_context():
        tenant = db.control.execute(sa.select(Tenant).where(Tenant.slug == address)).scalar_one()
        subscription = db.control.execute(
            sa.select(Subscription).where(Subscription.tenant_id == tenant.id)
        ).scalar_one()
        assert subscription.status is SubscriptionStatus.TRIALING
        assert subscription.plan.code == "starter" and subscription.stripe_customer_id.startswith("cus_")
        with tenant_context(tenant.ref):
            owner = db.session.execute(sa.select(StaffUser)).scalar_one()
            assert owner.email == f"olivia@{address}.example.com"
            assert [a.role for a in owner.roles] == [Role.OWNER] and owner.check_password(PASSWORD)
            db.session.remove()
        assert db.control.execute(
            sa.select(StripeEvent.processed_at).where(StripeEvent.event_id == event["id"])
        ).scalar()

    # The waiting page now hands the owner into the tenant, signed in, on the first-run page.
    ready = client.get(f"/signup/{public_id}", base_url=PLATFORM)
    assert ready.status_code == 302
    handoff = re.match(rf"http://{address}\.localhost(/welcome/.+)$", ready.headers["Location"])
    assert handoff, ready.headers["Location"]
    landed = client.get(handoff[1], base_url=f"http://{address}.localhost")
    assert landed.status_code == 302 and landed.headers["Location"].endswith("/admin/start/")
    start = client.get("/admin/start/", base_url=f"http://{address}.localhost")
    assert start.status_code == 200 and "Getting started" in start.text
    # The link works once.
    again = client.get(handoff[1], base_url=f"http://{address}.localhost")
    assert again.status_code == 302 and "/login" in again.headers["Location"]


def test_without_stripe_sign_up_makes_a_trial_tenant_at_once(tmp_path):
    with backend_app("sqlite", tmp_path) as app:
        client = app.test_client()
        address = slug()
        started = client.post("/signup", base_url=PLATFORM, data=sign_up_form(address, plan="growth"))
        assert started.status_code == 302
        handed = client.get(started.headers["Location"], base_url=PLATFORM)
        assert handed.status_code == 302 and f"{address}.localhost/welcome/" in handed.headers["Location"]
        with app.app_context():
            tenant = db.control.execute(sa.select(Tenant).where(Tenant.slug == address)).scalar_one()
            subscription = db.control.execute(sa.select(Subscription)).scalar_one()
            assert subscription.tenant_id == tenant.id and subscription.status is SubscriptionStatus.TRIALING
            assert subscription.plan.code == "growth" and subscription.stripe_subscription_id is None
            assert (
                abs((subscription.trial_ends_at - subscription.created_at).total_seconds() - 14 * 86400) < 60
            )
            assert db.control.execute(sa.select(SignUp.status)).scalar() is SignUpStatus.COMPLETED
