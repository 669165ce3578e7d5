"""Plan limits (issue #6): a tenant cannot grow past its plan by any path (the first-run page,
the generated admin, re-activating, services), tenants without a subscription have no limits,
and a plan change is refused while the tenant would not fit."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from repairqc.accounts.models import Role, StaffUser
from repairqc.accounts.services import create_staff_user
from repairqc.billing.services import PlanLimitReached
from repairqc.db import db, tenant_context
from repairqc.jobs import job_context
from repairqc.stores.models import Store
from tests.conftest import sign_in
from tests.fakestripe import (
    sign_in_owner,
    sign_up_tenant,
    subscription_row,
)
from tests.htmlforms import form_data

#: Without the plural's "s", which a singular limit should not have.
STORE_LIMIT = "The Starter plan allows 1 active store"
STORE_COUNT = "there would be 2."
STAFF_LIMIT = "The Starter plan allows 5 active staff accounts; there would be 6."
UPGRADE = "Upgrade the plan to add more."
#: What a member of staff other than the owner is told (only the owner sees the billing page).
ASK_OWNER = "Ask the owner to upgrade the plan on the billing page."
#: The owner's way out: a link to the billing page, next to the message.
UPGRADE_LINK = (
    '<a href="/admin/billing/#plans" class="alert-link" data-testid="refusal-link">See the plans</a>'
)


TRAINER_PASSWORD = "trainer-password-1"


def open_store(client, host: str, code: str):
    return client.post(
        "/admin/start/store",
        base_url=host,
        data={"code": code, "name": f"Store {code}", "timezone": "Asia/Shanghai", "address": ""},
    )


def invite(client, host: str, n: int, store: int):
    return client.post(
        "/admin/start/invite",
        base_url=host,
        data={
            "full_name": f"Person {n}",
            "email": f"person{n}@staff.example.com",
            "role": "technician",
            "store_id": str(store),
        },
    )


def stores(app, tenant) -> dict[str, bool]:
    """code -> is_active."""
    with app.app_context(), tenant_context(tenant.ref):
        found = dict(db.session.execute(sa.select(Store.code, Store.is_active)).all())
        db.session.remove()
        return found


def active_staff(app, tenant) -> int:
    with app.app_context(), tenant_context(tenant.ref):
        count = db.session.scalar(
            sa.select(sa.func.count()).select_from(StaffUser).where(StaffUser.is_active.is_(True))
        )
        db.session.remove()
        return count


def set_store_active(app, tenant, code: str, active: bool) -> None:
    with job_context(app, tenant.tenant_id, "test"):
        db.session.execute(sa.select(Store).where(Store.code == code)).scalar_one().is_active = active


@pytest.fixture
def starter(stripe_app):
    """A starter tenant (1 store, 5 staff) and its owner's client."""
    app, fake = stripe_app
    tenant = sign_up_tenant(app, fake, plan="starter")
    owner = app.test_client()
    sign_in_owner(owner, tenant)
    return tenant, owner


def test_the_first_store_opens_and_the_second_is_refused_with_the_plan(stripe_app, starter):
    app, _fake = stripe_app
    tenant, owner = starter
    assert open_store(owner, tenant.host, "S1").status_code == 302
    assert stores(app, tenant) == {"S1": True}

    refused = open_store(owner, tenant.host, "S2")
    assert refused.status_code == 403
    assert STORE_LIMIT in refused.text and STORE_COUNT in refused.text and UPGRADE in refused.text
    assert UPGRADE_LINK in refused.text
    assert stores(app, tenant) == {"S1": True}  # nothing written
    # The link leads the owner to the plans.
    billing_page = owner.get("/admin/billing/", base_url=tenant.host)
    assert billing_page.status_code == 200
    assert '<h2 class="h5" id="plans">' in billing_page.text
    assert 'data-testid="switch-growth-month"' in billing_page.text


def test_a_sixth_active_staff_account_is_refused(stripe_app, starter):
    app, _fake = stripe_app
    tenant, owner = starter
    assert open_store(owner, tenant.host, "S1").status_code == 302
    shop = stores_ids(app, tenant)["S1"]
    for n in range(1, 5):  # the owner and four more: five
        assert invite(owner, tenant.host, n, shop).status_code == 302
    assert active_staff(app, tenant) == 5

    refused = invite(owner, tenant.host, 5, shop)
    assert refused.status_code == 403
    assert STAFF_LIMIT in refused.text and UPGRADE_LINK in refused.text
    assert active_staff(app, tenant) == 5
    with app.app_context(), tenant_context(tenant.ref):
        assert (
            db.session.execute(
                sa.select(StaffUser).where(StaffUser.email == "person5@staff.example.com")
            ).first()
            is None
        )
        db.session.remove()


def stores_ids(app, tenant) -> dict[str, int]:
    with app.app_context(), tenant_context(tenant.ref):
        found = dict(db.session.execute(sa.select(Store.code, Store.id)).all())
        db.session.remove()
        return found


def test_re_activating_a_store_beyond_the_limit_is_refused(stripe_app, starter):
    app, _fake = stripe_app
    tenant, owner = starter
    assert open_store(owner, tenant.host, "S1").status_code == 302
    set_store_active(app, tenant, "S1", False)
    assert open_store(owner, tenant.host, "S2").status_code == 302  # S1 no longer counts
    assert stores(app, tenant) == {"S1": False, "S2": True}

    # Through the generated admin's edit form...
    s1 = stores_ids(app, tenant)["S1"]
    edit = owner.get(f"/admin/stores/edit/?id={s1}", base_url=tenant.host)
    assert edit.status_code == 200
    data = form_data(edit.text, "name") | {"is_active": "y"}
    refused = owner.post(f"/admin/stores/edit/?id={s1}", base_url=tenant.host, data=data)
    assert refused.status_code < 500
    assert STORE_LIMIT in refused.text
    # The plan's own message, not Flask-Admin's generic failure.
    assert "Failed to create record" not in refused.text
    assert stores(app, tenant) == {"S1": False, "S2": True}

    # ...and by any other code path: the flush itself is refused.
    with pytest.raises(PlanLimitReached, match="allows 1 active store"):
        set_store_active(app, tenant, "S1", True)
    assert stores(app, tenant) == {"S1": False, "S2": True}


def test_the_generated_admin_refuses_a_store_past_the_plan(stripe_app, starter):
    app, _fake = stripe_app
    tenant, owner = starter
    assert open_store(owner, tenant.host, "S1").status_code == 302
    form = owner.get("/admin/stores/new/", base_url=tenant.host)
    assert form.status_code == 200
    data = form_data(form.text, "code") | {"code": "S2", "name": "Store S2", "timezone": "UTC"}
    refused = owner.post("/admin/stores/new/", base_url=tenant.host, data=data, follow_redirects=True)
    assert refused.status_code < 500
    assert STORE_LIMIT in refused.text and UPGRADE in refused.text and UPGRADE_LINK in refused.text
    # The plan's own message, not Flask-Admin's generic failure.
    assert "Failed to create record" not in refused.text
    assert stores(app, tenant) == {"S1": True}


def test_staff_other_than_the_owner_are_told_to_ask_the_owner(stripe_app, starter):
    """A trainer may create staff accounts but not see the billing page: no link, the way to ask."""
    app, _fake = stripe_app
    tenant, owner = starter
    assert open_store(owner, tenant.host, "S1").status_code == 302
    shop = stores_ids(app, tenant)["S1"]
    for n in range(1, 4):  # the owner and three more
        assert invite(owner, tenant.host, n, shop).status_code == 302
    with job_context(app, tenant.tenant_id, "test"):
        create_staff_user(
            "trainer@staff.example.com", "Tina Trainer", TRAINER_PASSWORD, roles=[(Role.TRAINER, None)]
        )
    assert active_staff(app, tenant) == 5
    trainer = app.test_client()
    signed_in = trainer.post(
        "/login",
        base_url=tenant.host,
        data={"email": "trainer@staff.example.com", "password": TRAINER_PASSWORD},
    )
    assert signed_in.status_code == 302
    assert trainer.get("/admin/billing/", base_url=tenant.host).status_code == 403

    form = trainer.get("/admin/staff_users/new/", base_url=tenant.host)
    assert form.status_code == 200
    data = form_data(form.text, "email") | {"email": "sixth@staff.example.com", "full_name": "Sixth Person"}
    refused = trainer.post("/admin/staff_users/new/", base_url=tenant.host, data=data, follow_redirects=True)
    assert refused.status_code < 500
    assert STAFF_LIMIT in refused.text and ASK_OWNER in refused.text
    assert 'data-testid="refusal-link"' not in refused.text
    assert active_staff(app, tenant) == 5

    # Outside a request (a job, the command line) nobody is signed in: the same advice, no link.
    with pytest.raises(PlanLimitReached) as raised, job_context(app, tenant.tenant_id, "test"):
        create_staff_user("seventh@staff.example.com", "Seventh Person", None)
    assert ASK_OWNER in raised.value.message and raised.value.link is None


def test_tenants_without_a_subscription_have_no_limits(client, alpha):
    """alpha has two stores and ten staff and was provisioned without a subscription."""
    assert sign_in(client, alpha, "owner").status_code == 302
    for code in ("S3", "S4"):
        assert open_store(client, f"http://{alpha.host}", code).status_code == 302
    assert invite(client, f"http://{alpha.host}", 1, alpha.store_ids["S1"]).status_code == 302
    with client.application.app_context(), tenant_context(alpha.ref):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Store).where(Store.is_active)) == 4
        assert (
            db.session.execute(sa.select(StaffUser).where(StaffUser.email == "person1@staff.example.com"))
            .scalar_one()
            .is_active
        )


# --- changing plan -----------------------------------------------------------------------------------


def change_plan(client, host: str, plan: str, interval: str = "month"):
    return client.post("/admin/billing/plan", base_url=host, data={"plan": plan, "interval": interval})


def test_a_downgrade_that_does_not_fit_is_refused_without_asking_stripe(stripe_app):
    app, fake = stripe_app
    tenant = sign_up_tenant(app, fake, plan="growth")
    owner = app.test_client()
    sign_in_owner(owner, tenant)
    for code in ("S1", "S2"):
        assert open_store(owner, tenant.host, code).status_code == 302
    page = owner.get("/admin/billing/", base_url=tenant.host)
    assert 'data-testid="too-small-starter"' in page.text  # said before anyone tries

    refused = change_plan(owner, tenant.host, "starter")
    assert refused.status_code == 400
    assert "Deactivate 1 of the 2 active stores" in refused.text
    assert fake.calls("POST", f"/v1/subscriptions/{tenant.subscription_id}") == []
    assert subscription_row(app, tenant)["plan_code"] == "growth"
    assert (
        fake.subscriptions[tenant.subscription_id]["items"]["data"][0]["price"]["id"] == "price_growth_month"
    )


def test_an_upgrade_moves_the_stripe_subscription_to_the_new_price(stripe_app, starter):
    app, fake = stripe_app
    tenant, owner = starter
    assert open_store(owner, tenant.host, "S1").status_code == 302
    item = fake.subscriptions[tenant.subscription_id]["items"]["data"][0]["id"]

    changed = change_plan(owner, tenant.host, "growth")
    assert changed.status_code == 302, changed.text
    (update,) = fake.calls("POST", f"/v1/subscriptions/{tenant.subscription_id}")
    assert update.params["items"] == [{"id": item, "price": "price_growth_month"}]
    assert update.idempotency_key and update.idempotency_key.startswith(f"plan:{tenant.tenant_id}:")
    row = subscription_row(app, tenant)
    assert row["plan_code"] == "growth" and row["stripe_subscription_id"] == tenant.subscription_id
    assert "You are now on the Growth plan." in owner.get("/admin/billing/", base_url=tenant.host).text

    # The new plan's limits apply at once.
    assert open_store(owner, tenant.host, "S2").status_code == 302
    assert stores(app, tenant) == {"S1": True, "S2": True}


def test_changing_plan_back_and_forth_within_a_minute_ends_on_the_last_choice(stripe_app, starter):
    """Idempotency keys guard a double click, not a second, deliberate change to the same plan."""
    app, fake = stripe_app
    tenant, owner = starter
    for plan in ("growth", "starter", "growth"):
        assert change_plan(owner, tenant.host, plan).status_code == 302
    remote = fake.subscriptions[tenant.subscription_id]
    assert remote["items"]["data"][0]["price"]["id"] == "price_growth_month"
    assert subscription_row(app, tenant)["plan_code"] == "growth"
