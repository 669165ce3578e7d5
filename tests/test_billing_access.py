"""What a subscription's state means for its tenant (issue #6): `access_for` per status, and
read-only mode through HTTP in a tenant that signed up: everything can be read and exported,
nothing written, the owner can still pay; paying gives the writes back at once; no billing
event deletes data."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from repairqc.accounts.models import Role
from repairqc.accounts.services import create_staff_user
from repairqc.admin.views import tenant_models
from repairqc.billing.models import Subscription, SubscriptionStatus
from repairqc.billing.services import AccessMode, access_for, set_status
from repairqc.db import db, tenant_context, utcnow
from repairqc.jobs import job_context
from repairqc.stores.models import Store
from repairqc.tenants.models import Tenant, TenantStatus
from tests.fakestripe import (
    deliver,
    invoice_event,
    set_subscription_row,
    sign_in_owner,
    sign_up_tenant,
    subscription_event,
    subscription_row,
)
from tests.htmlforms import form_data

MEMBER_PASSWORD = "member-password-1"
OVERDUE = "Payment is overdue, so the data can be read and exported but not changed."
FAILED = "A payment has failed. Update the card by"
ENDED = "The subscription has ended. The data can be read and exported until"


# --- access_for, status by status ---------------------------------------------------------------------


@pytest.fixture
def rules(stripe_app):
    """A request context of the stripe app (configuration and date formats); yields (app, now)."""
    app, _fake = stripe_app
    with app.test_request_context():
        yield app, utcnow()


def subscription(status: SubscriptionStatus, **values) -> Subscription:
    return Subscription(status=status, **{"cancel_at_period_end": False, **values})


def test_no_subscription_is_full_access(rules):
    _app, now = rules
    access = access_for(None, now)
    assert access.mode is AccessMode.FULL and access.notice is None and not access.owing


def test_a_trial_is_full_until_it_ends_then_read_only(rules):
    _app, now = rules
    running = access_for(
        subscription(SubscriptionStatus.TRIALING, trial_ends_at=now + timedelta(days=3)), now
    )
    assert running.mode is AccessMode.FULL and running.notice is None
    over = access_for(
        subscription(SubscriptionStatus.TRIALING, trial_ends_at=now - timedelta(minutes=1)), now
    )
    assert over.read_only and over.owing
    assert over.notice.startswith("The free trial has ended.")
    # A trial with no end known (Stripe's own trial, before its first read) is not cut short.
    assert not access_for(subscription(SubscriptionStatus.TRIALING), now).read_only


def test_active_is_full_and_a_coming_cancellation_is_announced(rules):
    _app, now = rules
    active = access_for(
        subscription(SubscriptionStatus.ACTIVE, current_period_end=now + timedelta(days=9)), now
    )
    assert active.mode is AccessMode.FULL and active.notice is None and not active.owing
    period_end = now + timedelta(days=9)
    ending = access_for(
        subscription(SubscriptionStatus.ACTIVE, cancel_at_period_end=True, current_period_end=period_end), now
    )
    assert ending.mode is AccessMode.FULL and not ending.owing
    assert ending.notice.startswith("The subscription ends on ")
    assert f"{period_end:%B} {period_end.day}, {period_end.year}" in ending.notice


def test_past_due_is_full_with_a_notice_for_the_grace_period_then_read_only(rules):
    app, now = rules
    grace = timedelta(days=app.config["BILLING_GRACE_DAYS"])
    since = now - grace + timedelta(days=1)
    within = access_for(subscription(SubscriptionStatus.PAST_DUE, past_due_since=since), now)
    assert within.mode is AccessMode.FULL and within.owing
    assert within.grace_ends_at == since + grace
    assert within.notice.startswith(FAILED)
    assert f"{since + grace:%B} {(since + grace).day}" in within.notice

    since = now - grace - timedelta(days=1)
    after = access_for(subscription(SubscriptionStatus.PAST_DUE, past_due_since=since), now)
    assert after.read_only and after.owing and after.grace_ends_at == since + grace
    assert after.notice.startswith(OVERDUE)
    # The grace period ends exactly when it says.
    assert access_for(subscription(SubscriptionStatus.PAST_DUE, past_due_since=now - grace), now).read_only


def test_unpaid_is_read_only_once_the_grace_period_is_over(rules):
    app, now = rules
    since = now - timedelta(days=app.config["BILLING_GRACE_DAYS"] + 10)
    access = access_for(subscription(SubscriptionStatus.UNPAID, past_due_since=since), now)
    assert access.read_only and access.owing and access.notice.startswith(OVERDUE)


@pytest.mark.parametrize("status", [SubscriptionStatus.CANCELED, SubscriptionStatus.INCOMPLETE_EXPIRED])
def test_an_ended_subscription_is_read_only_and_kept_for_the_retention_period(rules, status):
    app, now = rules
    ended = now - timedelta(days=5)
    access = access_for(subscription(status, ended_at=ended), now)
    retained = ended + timedelta(days=app.config["BILLING_RETENTION_DAYS"])
    assert access.read_only and access.retained_until == retained
    assert access.notice.startswith(ENDED)
    assert f"{retained:%B} {retained.day}, {retained.year}" in access.notice


def test_set_status_keeps_the_clocks_of_grace_and_retention(rules):
    _app, now = rules
    row = subscription(SubscriptionStatus.ACTIVE)
    set_status(row, SubscriptionStatus.PAST_DUE, now - timedelta(days=3))
    assert row.past_due_since == now - timedelta(days=3)
    set_status(row, SubscriptionStatus.UNPAID, now)  # still the same run of failures
    assert row.past_due_since == now - timedelta(days=3)
    set_status(row, SubscriptionStatus.ACTIVE, now)
    assert row.past_due_since is None and row.ended_at is None
    set_status(row, SubscriptionStatus.CANCELED, now)
    assert row.ended_at == now
    set_status(row, SubscriptionStatus.CANCELED, now + timedelta(days=1))  # a second read
    assert row.ended_at == now


# --- read-only mode through HTTP ------------------------------------------------------------------------


def open_store(client, tenant, code: str) -> int:
    """The owner (signed in on `client`) opens a store on the first-run page."""
    opened = client.post(
        "/admin/start/store",
        base_url=tenant.host,
        data={"code": code, "name": f"Store {code}", "timezone": "Asia/Shanghai", "address": ""},
    )
    assert opened.status_code == 302, opened.text
    return store_id(client.application, tenant, code)


def store_id(app, tenant, code: str) -> int:
    with app.app_context(), tenant_context(tenant.ref):
        found = db.session.execute(sa.select(Store.id).where(Store.code == code)).scalar_one()
        db.session.remove()
        return found


def add_member(app, tenant, key: str, role: Role, code: str) -> str:
    """A member of staff with a password, working in store `code`; returns the e-mail."""
    email = f"{key}@{tenant.slug}.example.com"
    with job_context(app, tenant.tenant_id, "test"):
        shop = db.session.execute(sa.select(Store).where(Store.code == code)).scalar_one()
        create_staff_user(email, key.capitalize(), MEMBER_PASSWORD, roles=[(role, shop)])
    return email


def row_counts(app, tenant) -> dict[str, int]:
    with app.app_context(), tenant_context(tenant.ref):
        counts = {
            model.__tablename__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in tenant_models()
        }
        db.session.remove()
        return counts


def notice_on(page) -> str | None:
    marker = 'data-testid="billing-notice">'
    if marker not in page.text:
        return None
    return page.text.split(marker, 1)[1].split("</div>", 1)[0]


@pytest.fixture
def shop(stripe_app):
    """A signed-up tenant with one store (code S1) and a store manager: (tenant, owner, manager)."""
    app, fake = stripe_app
    tenant = sign_up_tenant(app, fake)
    owner = app.test_client()
    sign_in_owner(owner, tenant)
    open_store(owner, tenant, "S1")
    manager_email = add_member(app, tenant, "manager", Role.STORE_MANAGER, "S1")
    manager = app.test_client()
    sign_in_owner(manager, tenant, manager_email, MEMBER_PASSWORD)
    return tenant, owner, manager


def test_after_the_grace_period_the_tenant_is_read_only_until_paid(stripe_app, shop, tmp_path, monkeypatch):
    app, fake = stripe_app
    monkeypatch.setitem(app.config, "BACKUP_DIR", str(tmp_path / "backups"))
    monkeypatch.setitem(app.config, "REDIS_URL", "")  # the backup is made in the request
    tenant, owner, manager = shop
    shop_id = store_id(app, tenant, "S1")
    set_subscription_row(
        app, tenant, status=SubscriptionStatus.PAST_DUE, past_due_since=utcnow() - timedelta(days=8)
    )
    before = row_counts(app, tenant)

    # Reading and exporting go on; every user is told why nothing can be changed.
    for client in (owner, manager):
        listed = client.get("/admin/stores/", base_url=tenant.host)
        assert listed.status_code == 200 and "Store S1" in listed.text
        assert OVERDUE in notice_on(listed)
    assert manager.get("/admin/customers/", base_url=tenant.host).status_code == 200
    exported = owner.get("/admin/stores/export/csv/", base_url=tenant.host)
    assert exported.status_code == 200 and "S1" in exported.get_data(as_text=True)
    assert 'href="/admin/stores/new/' not in owner.get("/admin/stores/", base_url=tenant.host).text

    # Writes are refused, whatever screen sends them.
    writes = [
        (owner, "/admin/stores/new/", {"code": "S2", "name": "Second", "timezone": "UTC"}),
        (owner, f"/admin/stores/edit/?id={shop_id}", {"code": "S1", "name": "Renamed", "timezone": "UTC"}),
        (owner, "/admin/start/store", {"code": "S3", "name": "Third", "timezone": "Asia/Shanghai"}),
        (manager, "/admin/customers/new/", {"full_name": "Walk In", "phone": "+86 100 0000"}),
    ]
    for client, path, data in writes:
        refused = client.post(path, base_url=tenant.host, data=data)
        assert refused.status_code == 403, (path, refused.status_code)
        assert OVERDUE in refused.text
    after = row_counts(app, tenant)
    # The one table that grows: the access log (HB §7.3.1) records the customer list and the
    # export, read-only or not; the tenant's own data is untouched.
    assert after.pop("data_access_log") == before.pop("data_access_log") + 2
    assert after == before
    with app.app_context(), tenant_context(tenant.ref):
        assert db.session.get(Store, shop_id).name == "Store S1"
        db.session.remove()

    # The owner can still take all the data out: a backup is made and downloaded.
    made = owner.post("/admin/backups/new", base_url=tenant.host, follow_redirects=True)
    assert made.status_code == 200 and 'data-backup="' in made.text
    backup_id = re.search(r'data-backup="(\d+)"', made.text).group(1)
    download = owner.get(f"/admin/backups/{backup_id}/download", base_url=tenant.host)
    assert download.status_code == 200 and download.mimetype == "application/zip"
    download.close()
    assert row_counts(app, tenant) | {"data_access_log": 0} == after | {"data_access_log": 0}

    # The owner can still reach billing, which is where paying starts.
    billing = owner.get("/admin/billing/", base_url=tenant.host)
    assert billing.status_code == 200 and "Read-only" in billing.text
    assert manager.get("/admin/billing/", base_url=tenant.host).status_code == 403

    # Stripe says it is paid: the very next request may write.
    fake.set_subscription(tenant.subscription_id, status="active")
    assert (
        deliver(
            app.test_client(), fake, invoice_event(fake, "invoice.paid", tenant, status="paid")
        ).status_code
        == 200
    )
    assert subscription_row(app, tenant)["status"] is SubscriptionStatus.ACTIVE
    edit = owner.get(f"/admin/stores/edit/?id={shop_id}", base_url=tenant.host)
    assert edit.status_code == 200
    data = form_data(edit.text, "name") | {"name": "Renamed after paying"}
    saved = owner.post(f"/admin/stores/edit/?id={shop_id}", base_url=tenant.host, data=data)
    assert saved.status_code == 302, saved.text
    with app.app_context(), tenant_context(tenant.ref):
        assert db.session.get(Store, shop_id).name == "Renamed after paying"
        db.session.remove()
    assert notice_on(manager.get("/admin/", base_url=tenant.host)) is None
    created = manager.post(
        "/admin/customers/new/",
        base_url=tenant.host,
        data=form_data(manager.get("/admin/customers/new/", base_url=tenant.host).text, "full_name")
        | {"full_name": "Walk In", "phone": "+86 100 0000"},
    )
    assert created.status_code == 302, created.text


def test_within_the_grace_period_only_the_owner_is_told_and_writes_work(stripe_app, shop):
    app, _fake = stripe_app
    tenant, owner, manager = shop
    shop_id = store_id(app, tenant, "S1")
    set_subscription_row(
        app, tenant, status=SubscriptionStatus.PAST_DUE, past_due_since=utcnow() - timedelta(days=2)
    )
    home = owner.get("/admin/", base_url=tenant.host)
    assert FAILED in notice_on(home) and 'href="/admin/billing/"' in home.text
    assert notice_on(manager.get("/admin/", base_url=tenant.host)) is None
    assert 'href="/admin/stores/new/' in owner.get("/admin/stores/", base_url=tenant.host).text

    edit = owner.get(f"/admin/stores/edit/?id={shop_id}", base_url=tenant.host)
    data = form_data(edit.text, "name") | {"name": "Renamed in grace"}
    assert owner.post(f"/admin/stores/edit/?id={shop_id}", base_url=tenant.host, data=data).status_code == 302
    with app.app_context(), tenant_context(tenant.ref):
        assert db.session.get(Store, shop_id).name == "Renamed in grace"
        db.session.remove()


def test_no_billing_event_deletes_data(stripe_app, shop):
    app, fake = stripe_app
    tenant, owner, _manager = shop
    client = app.test_client()
    before = row_counts(app, tenant)
    assert before["stores"] == 1 and before["staff_users"] == 2

    fake.set_subscription(tenant.subscription_id, status="past_due")
    assert deliver(client, fake, invoice_event(fake, "invoice.payment_failed", tenant)).status_code == 200
    fake.set_subscription(tenant.subscription_id, status="unpaid")
    unpaid = subscription_event(fake, "customer.subscription.updated", tenant.subscription_id)
    assert deliver(client, fake, unpaid).status_code == 200
    fake.set_subscription(tenant.subscription_id, status="canceled", ended_at=int(time.time()))
    deleted = subscription_event(fake, "customer.subscription.deleted", tenant.subscription_id)
    assert deliver(client, fake, deleted).status_code == 200

    row = subscription_row(app, tenant)
    assert row["status"] is SubscriptionStatus.CANCELED and row["ended_at"] is not None
    assert row_counts(app, tenant) == before
    with app.app_context():
        assert db.control.get(Tenant, tenant.tenant_id).status is TenantStatus.ACTIVE
    listed = owner.get("/admin/stores/", base_url=tenant.host)
    assert listed.status_code == 200 and "Store S1" in listed.text
    assert ENDED in notice_on(listed)


def test_the_json_api_refuses_writes_in_json_when_read_only(stripe_app, shop):
    app, _fake = stripe_app
    tenant, _owner, manager = shop
    set_subscription_row(
        app, tenant, status=SubscriptionStatus.PAST_DUE, past_due_since=utcnow() - timedelta(days=8)
    )
    refused = manager.post(
        "/api/repairs/orders/1/transition", base_url=tenant.host, json={"to": "diagnosing", "version": 1}
    )
    assert refused.status_code == 403
    assert refused.is_json and refused.json["error"].startswith(OVERDUE)
