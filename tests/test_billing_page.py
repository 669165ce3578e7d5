"""The owner's billing page (issue #6): plan, status and invoices read from Stripe, the card in
Stripe's portal, cancelling at the period's end and undoing it; only the owner, only their own
tenant, and a page that still works when Stripe does not."""

from __future__ import annotations

import pytest

from repairqc.accounts.models import Role
from repairqc.accounts.services import create_staff_user
from repairqc.billing.models import BillingInterval, SubscriptionStatus
from repairqc.jobs import job_context
from tests.fakestripe import (
    deliver,
    sign_in_owner,
    sign_up_tenant,
    subscription_event,
    subscription_row,
)

MEMBER_PASSWORD = "member-password-1"
STRIPE_DOWN = "The payment service did not answer as expected."


@pytest.fixture
def owned(stripe_app):
    """A starter tenant, active, with two past invoices; (tenant, owner client, invoices)."""
    app, fake = stripe_app
    tenant = sign_up_tenant(app, fake)
    invoices = [
        fake.add_invoice(tenant.customer_id, tenant.subscription_id, 2900, status="paid"),
        fake.add_invoice(tenant.customer_id, tenant.subscription_id, 2900, status="open"),
    ]
    owner = app.test_client()
    sign_in_owner(owner, tenant)
    yield tenant, owner, invoices
    fake.fail_with = None


def section(html: str, testid: str) -> str:
    """The text of the element marked data-testid=`testid` (up to its closing tag)."""
    marker = f'data-testid="{testid}"'
    assert marker in html, f"no {testid} on the page"
    return html.split(marker, 1)[1].split(">", 1)[1].split("</", 1)[0]


def test_the_owner_sees_plan_status_and_invoices(stripe_app, owned):
    _app, fake = stripe_app
    tenant, owner, invoices = owned
    page = owner.get("/admin/billing/", base_url=tenant.host)
    assert page.status_code == 200
    assert section(page.text, "plan").startswith("Starter · Monthly") and "$29.00" in section(
        page.text, "plan"
    )
    assert 'data-status="active"' in page.text
    assert "$29.00" in section(page.text, "next-invoice")
    for invoice in invoices:
        assert invoice["number"] in page.text and invoice["hosted_invoice_url"] in page.text
    # Read from Stripe for this tenant's customer and subscription.
    listed = fake.calls("GET", "/v1/invoices")[-1]
    assert listed.params["customer"] == tenant.customer_id
    preview = fake.calls("POST", "/v1/invoices/create_preview")[-1]
    assert preview.params == {"customer": tenant.customer_id, "subscription": tenant.subscription_id}


def test_only_the_owner_may_open_the_billing_page(stripe_app, owned):
    app, _fake = stripe_app
    tenant, _owner, _invoices = owned
    email = f"manager@{tenant.slug}.example.com"
    with job_context(app, tenant.tenant_id, "test"):
        create_staff_user(email, "Manager", MEMBER_PASSWORD, roles=[(Role.QA_MANAGER, None)])
    manager = app.test_client()
    sign_in_owner(manager, tenant, email, MEMBER_PASSWORD)
    for method, path in [
        ("get", "/admin/billing/"),
        ("post", "/admin/billing/portal"),
        ("post", "/admin/billing/cancel"),
        ("post", "/admin/billing/plan"),
    ]:
        assert getattr(manager, method)(path, base_url=tenant.host, data={"cancel": "1"}).status_code == 403
    anonymous = app.test_client().get("/admin/billing/", base_url=tenant.host)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert subscription_row(app, tenant)["cancel_at_period_end"] is False


def test_update_card_goes_to_stripes_portal_for_this_customer(stripe_app, owned):
    _app, fake = stripe_app
    tenant, owner, _invoices = owned
    response = owner.post("/admin/billing/portal", base_url=tenant.host)
    assert response.status_code == 303
    portal = fake.calls("POST", "/v1/billing_portal/sessions")[-1]
    assert portal.params == {"customer": tenant.customer_id, "return_url": f"{tenant.host}/admin/billing/"}
    assert response.headers["Location"].startswith("https://billing.stripe.test/p/session/bps_")


def test_cancel_at_the_period_end_and_keep_it_after_all(stripe_app, owned):
    app, fake = stripe_app
    tenant, owner, _invoices = owned
    cancelled = owner.post("/admin/billing/cancel", base_url=tenant.host, data={"cancel": "1"})
    assert cancelled.status_code == 302
    update = fake.calls("POST", f"/v1/subscriptions/{tenant.subscription_id}")[-1]
    assert update.params == {"cancel_at_period_end": "true"}
    assert subscription_row(app, tenant)["cancel_at_period_end"] is True
    page = owner.get("/admin/billing/", base_url=tenant.host).text
    assert "The subscription will end at the end of the paid period." in page
    assert 'data-testid="resume"' in page and "Keep the subscription" in page
    assert "The subscription ends on" in page and 'data-testid="next-invoice"' not in page

    kept = owner.post("/admin/billing/cancel", base_url=tenant.host, data={"cancel": "0"})
    assert kept.status_code == 302
    update = fake.calls("POST", f"/v1/subscriptions/{tenant.subscription_id}")[-1]
    assert update.params == {"cancel_at_period_end": "false"}
    assert subscription_row(app, tenant)["cancel_at_period_end"] is False
    page = owner.get("/admin/billing/", base_url=tenant.host).text
    assert 'data-testid="cancel"' in page and 'data-testid="resume"' not in page


def test_with_stripe_down_the_page_still_renders_with_a_warning(stripe_app, owned):
    app, fake = stripe_app
    tenant, owner, invoices = owned
    fake.fail_with = 500
    page = owner.get("/admin/billing/", base_url=tenant.host)
    assert page.status_code == 200
    assert STRIPE_DOWN in page.text
    assert section(page.text, "plan").startswith("Starter · Monthly")  # what we know ourselves
    assert invoices[0]["number"] not in page.text

    for path, data in [("/admin/billing/portal", {}), ("/admin/billing/cancel", {"cancel": "1"})]:
        refused = owner.post(path, base_url=tenant.host, data=data)
        assert refused.status_code == 502 and STRIPE_DOWN in refused.text
    assert subscription_row(app, tenant)["cancel_at_period_end"] is False


def test_an_owner_sees_only_their_own_tenants_billing(stripe_app):
    app, fake = stripe_app
    a = sign_up_tenant(app, fake, plan="starter")
    b = sign_up_tenant(app, fake, plan="growth", interval="year")
    a_invoice = fake.add_invoice(a.customer_id, a.subscription_id, 2900)
    b_invoice = fake.add_invoice(b.customer_id, b.subscription_id, 123456)
    owner_a, owner_b = app.test_client(), app.test_client()
    sign_in_owner(owner_a, a)
    sign_in_owner(owner_b, b)

    seen = len(fake.requests)
    page_a = owner_a.get("/admin/billing/", base_url=a.host).text
    assert section(page_a, "plan").startswith("Starter · Monthly")
    assert a_invoice["number"] in page_a
    assert b_invoice["number"] not in page_a and b.customer_id not in page_a and "$1,234.56" not in page_a
    assert owner_a.post("/admin/billing/portal", base_url=a.host).status_code == 303
    asked = fake.requests[seen:]
    assert asked and {call.params.get("customer") for call in asked} == {a.customer_id}
    assert all(b.subscription_id not in call.path for call in asked)

    page_b = owner_b.get("/admin/billing/", base_url=b.host).text
    assert section(page_b, "plan").startswith("Growth · Yearly")
    assert b_invoice["number"] in page_b and "$1,234.56" in page_b and a_invoice["number"] not in page_b

    # A's session does not open B's billing page on B's host, even with its cookie copied there.
    name = app.config["SESSION_COOKIE_NAME"]
    cookie = owner_a.get_cookie(name, domain=f"{a.slug}.localhost")
    assert cookie is not None
    owner_a.set_cookie(name, cookie.value, domain=f"{b.slug}.localhost")
    crossed = owner_a.get("/admin/billing/", base_url=b.host)
    assert crossed.status_code == 302 and "/login" in crossed.headers["Location"]
    portal = owner_a.post("/admin/billing/portal", base_url=b.host)
    assert portal.status_code in (302, 403) and "billing.stripe.test" not in portal.headers.get(
        "Location", ""
    )
    assert fake.calls("POST", "/v1/billing_portal/sessions")[-1].params["customer"] == a.customer_id


def test_after_the_end_the_owner_subscribes_again_through_checkout(stripe_app, owned):
    app, fake = stripe_app
    tenant, owner, _invoices = owned
    fake.set_subscription(tenant.subscription_id, status="canceled")
    ended = subscription_event(fake, "customer.subscription.deleted", tenant.subscription_id)
    assert deliver(app.test_client(), fake, ended).status_code == 200
    page = owner.get("/admin/billing/", base_url=tenant.host).text
    assert 'data-status="canceled"' in page and 'data-testid="subscribe-starter-month"' in page
    assert 'data-testid="cancel"' not in page

    started = owner.post(
        "/admin/billing/subscribe", base_url=tenant.host, data={"plan": "starter", "interval": "year"}
    )
    assert started.status_code == 303
    created = fake.calls("POST", "/v1/checkout/sessions")[-1]
    assert created.params["client_reference_id"] == f"tenant:{tenant.tenant_id}"
    assert created.params["customer"] == tenant.customer_id  # the same customer, not a new one
    assert created.params["line_items"] == [{"price": "price_starter_year", "quantity": "1"}]
    session_id = started.headers["Location"].rsplit("/", 1)[-1]

    paid = fake.pay_checkout(session_id, trial_days=0)
    completed = fake.event("checkout.session.completed", {"id": session_id, "object": "checkout.session"})
    assert deliver(app.test_client(), fake, completed).status_code == 200
    row = subscription_row(app, tenant)
    assert row["stripe_subscription_id"] == paid["subscription"] != tenant.subscription_id
    assert row["status"] is SubscriptionStatus.ACTIVE and row["ended_at"] is None
    assert row["interval"] is BillingInterval.YEAR
    assert 'data-testid="cancel"' in owner.get("/admin/billing/", base_url=tenant.host).text
