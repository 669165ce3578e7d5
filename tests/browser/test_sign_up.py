"""A shop owner signs up in Chromium: pricing → the form (with the live address check) →
Stripe Checkout (answered here: the test pays through the local Stripe and delivers Stripe's
signed event to the server, as Stripe would) → back on our page, which hands the owner into the
new tenant → the first-run page → the first store."""

from __future__ import annotations

import re
import urllib.request
import uuid

import pytest
from playwright.sync_api import Route, expect

from tests.browser.conftest import running_server
from tests.fakestripe import fake_stripe, stripe_settings

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def billed_server(tmp_path_factory):
    """A server with no tenants whose Stripe is the local fake: (live server, fake)."""
    with (
        fake_stripe() as fake,
        running_server(tmp_path_factory.mktemp("billed-server"), demo=False, **stripe_settings(fake)) as live,
    ):
        yield live, fake


def deliver(live, fake, event: dict) -> int:
    payload, headers = fake.signed(event)
    request = urllib.request.Request(live.url("localhost", "/stripe/webhook"), data=payload, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def test_a_shop_owner_signs_up_pays_and_opens_the_first_store(billed_server, page):
    live, fake = billed_server
    address = f"fix-{uuid.uuid4().hex[:6]}"

    def checkout(route: Route) -> None:
        """Stripe's hosted Checkout: the customer pays; Stripe sends its event, then returns them."""
        session_id = route.request.url.rsplit("/", 1)[-1]
        session = fake.pay_checkout(session_id)
        event = fake.event("checkout.session.completed", {"id": session_id, "object": "checkout.session"})
        assert deliver(live, fake, event) == 200
        route.fulfill(status=303, headers={"Location": session["success_url"]})

    page.route("https://checkout.stripe.test/**", checkout)

    page.goto(live.url("localhost", "/"))
    expect(page.get_by_test_id("plan-starter")).to_be_visible()
    page.get_by_test_id("choose-growth").click()

    form = page.get_by_test_id("signup-form")
    form.get_by_label("Business name").fill("Fix It Fast")
    form.get_by_label("Your address").fill("www")  # reserved: the live check says so
    expect(page.get_by_test_id("slug-status")).to_contain_text("reserved")
    form.get_by_label("Your address").fill(address)
    expect(page.get_by_test_id("slug-status")).to_contain_text(f"{address}.localhost is free")
    form.get_by_label("Your name").fill("Olivia Owner")
    form.get_by_label("Your e-mail").fill(f"olivia@{address}.example.com")
    form.get_by_label("Password").fill("owner-password-1")
    form.get_by_label("Yearly").check()
    page.get_by_test_id("signup-submit").click()

    # Checkout was asked for the growth plan's yearly price; the owner is now in the new tenant.
    expect(page).to_have_url(
        re.compile(rf"^http://{address}\.localhost:{live.port}/admin/start/$"), timeout=20_000
    )
    (created,) = fake.calls("POST", "/v1/checkout/sessions")
    assert created.params["line_items"][0]["price"] == "price_growth_year"
    expect(page.get_by_test_id("signed-in-as")).to_have_text("Olivia Owner")

    store_form = page.get_by_test_id("store-form")
    store_form.get_by_label("Store code").fill("FF-01")
    store_form.get_by_label("Store name").fill("Fix It Fast Central")
    page.get_by_test_id("add-store").click()
    expect(page.get_by_test_id("stores")).to_contain_text("FF-01 · Fix It Fast Central")

    invite = page.get_by_test_id("invite-form")
    invite.get_by_label("Name").fill("Tom Technician")
    invite.get_by_label("E-mail").fill(f"tom@{address}.example.com")
    invite.get_by_label("Role").select_option(label="Technician")
    page.get_by_test_id("invite").click()
    expect(page.get_by_test_id("staff")).to_contain_text(f"tom@{address}.example.com")

    # The billing page shows the plan Stripe reports: growth, yearly, in trial.
    page.goto(live.tenant_url(address, "/admin/billing/"))
    expect(page.get_by_test_id("plan")).to_contain_text("Growth · Yearly")
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "trialing")
    assert created.params["subscription_data"]["metadata"]["slug"] == address
