"""The operators' console for billing (issue #6): plans and revenue per tenant, failed payments,
Stripe's webhook log with retries, the background jobs, deleting tenants whose retention is
over, and support sessions from the console into a tenant, read-only and audited.

The control plane is not rolled back between tests: every row made here is removed in `finally`.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from rq import Queue
from rq.job import JobStatus

from repairqc import jobs
from repairqc.accounts.models import StaffUser
from repairqc.audit.models import AuditLog
from repairqc.billing.models import (
    BillingInterval,
    Plan,
    SignUp,
    SignUpStatus,
    StripeEvent,
    Subscription,
    SubscriptionStatus,
    SupportSession,
)
from repairqc.billing.services import usage
from repairqc.billing.tasks import send_billing_notice
from repairqc.console.models import Operator, TenantRollup
from repairqc.console.services import create_operator
from repairqc.console.tasks import compute_tenant_rollup
from repairqc.db import TenantRef, db, unit_of_work, utcnow
from repairqc.stores.models import Store
from repairqc.tenants import ddl
from repairqc.tenants import services as tenants
from repairqc.tenants.models import Tenant
from tests.conftest import in_tenant, require_service, sign_in
from tests.test_jobs import REDIS_URL, purge, redis_reachable, rollups_restored, run_worker

PLATFORM = "http://localhost"
PASSWORD = "operator-password-1"


# --- helpers -----------------------------------------------------------------------------------------


@pytest.fixture
def operator(backend) -> Iterator[Operator]:
    """An operator of this test (its support sessions go with it)."""
    app = backend.app
    email = f"op{uuid.uuid4().hex[:6]}@example.com"
    with app.app_context(), unit_of_work():
        created = create_operator(email, "Olga Operator", PASSWORD)
        db.control.expunge(created)
    try:
        yield created
    finally:
        with app.app_context(), unit_of_work():
            db.control.execute(sa.delete(SupportSession).where(SupportSession.operator_id == created.id))
            db.control.execute(sa.delete(Operator).where(Operator.id == created.id))


def console(app: Flask, operator: Operator) -> FlaskClient:
    client = app.test_client()
    signed_in = client.post(
        "/console/login", base_url=PLATFORM, data={"email": operator.email, "password": PASSWORD}
    )
    assert signed_in.status_code == 302, signed_in.text
    return client


def plan(code: str) -> Plan:
    return db.control.execute(sa.select(Plan).where(Plan.code == code)).scalar_one()


@contextlib.contextmanager
def billed(app: Flask, *specs: tuple[TenantRef, str, BillingInterval, SubscriptionStatus, dict]):
    """Subscription rows for the given tenants for the block: (tenant, plan, interval, status, extra)."""
    ids: list[int] = []
    try:
        with app.app_context(), unit_of_work():
            for tenant, code, interval, status, extra in specs:
                row = Subscription(
                    tenant_id=tenant.id, plan=plan(code), interval=interval, status=status, **extra
                )
                db.control.add(row)
                db.control.flush()
                ids.append(row.id)
        yield ids
    finally:
        with app.app_context(), unit_of_work():
            db.control.execute(sa.delete(Subscription).where(Subscription.id.in_(ids)))


def set_subscription(app: Flask, subscription_id: int, **values) -> None:
    with app.app_context(), unit_of_work():
        db.control.execute(sa.update(Subscription).where(Subscription.id == subscription_id).values(**values))


def row_of(html: str, attribute: str, value: object) -> str:
    match = re.search(rf'<tr {attribute}="{re.escape(str(value))}">(.*?)</tr>', html, re.S)
    assert match, f"no row with {attribute}={value}"
    return match.group(1)


def text(fragment: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).split())


def cell(row: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}">(.*?)</td>', row, re.S)
    assert match, f"no cell {testid}"
    return text(match.group(1))


def event_row(**values) -> StripeEvent:
    values.setdefault("event_id", f"evt_{uuid.uuid4().hex[:16]}")
    values.setdefault("created", utcnow())
    values.setdefault("payload", {"data": {"object": {}}})
    return StripeEvent(**values)


@contextlib.contextmanager
def stripe_events(app: Flask, rows: list[StripeEvent]) -> Iterator[dict[str, int]]:
    """Store events for the block; yields event_id -> row id."""
    ids: dict[str, int] = {}
    try:
        with app.app_context(), unit_of_work():
            db.control.add_all(rows)
            db.control.flush()
            ids = {row.event_id: row.id for row in rows}
            for row in rows:  # the test reads them after the commit
                db.control.expunge(row)
        yield ids
    finally:
        with app.app_context(), unit_of_work():
            db.control.execute(sa.delete(StripeEvent).where(StripeEvent.id.in_(list(ids.values()))))


def stored_event(app: Flask, row_id: int) -> StripeEvent:
    with app.app_context():
        row = db.control.get(StripeEvent, row_id)
        db.control.expunge(row)
        return row


# --- the tenant list -------------------------------------------------------------------------------------


def test_tenant_list_shows_plans_billing_status_and_revenue(app, alpha, beta, operator):
    client = console(app, operator)
    page = client.get("/console/", base_url=PLATFORM).text
    # Neither seeded tenant was made by a sign-up: not billed, no revenue.
    assert cell(row_of(page, "data-slug", alpha.ref.slug), "billing-status") == "not billed"
    assert cell(row_of(page, "data-slug", alpha.ref.slug), "mrr") == "–"

    overdue_since = utcnow() - timedelta(days=10)  # longer than the 7 days' grace
    with (
        rollups_restored(app, [alpha.ref.id]),
        billed(
            app,
            (alpha.ref, "starter", BillingInterval.MONTH, SubscriptionStatus.ACTIVE, {}),
            (beta.ref, "growth", BillingInterval.YEAR, SubscriptionStatus.PAST_DUE,
             {"past_due_since": overdue_since}),
        ) as (_, beta_subscription),
    ):  # fmt: skip
        with app.app_context(), unit_of_work():
            db.control.merge(TenantRollup(tenant_id=alpha.ref.id, stores=7, staff_users=42))
        page = client.get("/console/", base_url=PLATFORM).text
        alpha_row, beta_row = (
            row_of(page, "data-slug", alpha.ref.slug),
            row_of(page, "data-slug", beta.ref.slug),
        )
        assert cell(alpha_row, "plan") == "Starter (Monthly)"
        assert cell(beta_row, "plan") == "Growth (Yearly)"
        assert cell(alpha_row, "billing-status") == "Active"
        # Beta's payment failed ten days ago: past the grace period, so read-only.
        assert cell(beta_row, "billing-status") == "Payment overdue read-only"
        assert 'data-testid="read-only"' not in alpha_row
        # The rollup's figures are the tenant's stores and staff.
        assert re.search(r">\s*7\s*</td>\s*<td[^>]*>\s*42\s*</td>", alpha_row)
        # $29 a month; $1,990 a year counts as 199000 / 12 = 16583 cents a month.
        assert cell(alpha_row, "mrr") == "$29.00"
        assert cell(beta_row, "mrr") == "$165.83"
        assert "$194.83" in text(re.search(r'data-testid="mrr-total">(.*?)</p>', page, re.S)[1])

        # A trial brings nothing in yet.
        set_subscription(app, beta_subscription, status=SubscriptionStatus.TRIALING, past_due_since=None)
        page = client.get("/console/", base_url=PLATFORM).text
        beta_row = row_of(page, "data-slug", beta.ref.slug)
        assert cell(beta_row, "billing-status") == "Trial" and cell(beta_row, "mrr") == "–"
        assert "$29.00" in text(re.search(r'data-testid="mrr-total">(.*?)</p>', page, re.S)[1])
        assert "$194.83" not in page


def test_only_tenants_whose_retention_is_over_can_be_deleted(app, alpha, beta, operator):
    slug = f"gone{uuid.uuid4().hex[:6]}"
    try:
        with app.app_context(), unit_of_work():
            gone = tenants.create_tenant(slug, "Gone Ltd").ref
        long_ago, lately = utcnow() - timedelta(days=91), utcnow() - timedelta(days=10)
        with billed(
            app,
            (gone, "starter", BillingInterval.MONTH, SubscriptionStatus.CANCELED, {"ended_at": long_ago}),
            (beta.ref, "starter", BillingInterval.MONTH, SubscriptionStatus.CANCELED, {"ended_at": lately}),
        ):
            client = console(app, operator)
            page = client.get("/console/", base_url=PLATFORM).text
            gone_row, beta_row = row_of(page, "data-slug", slug), row_of(page, "data-slug", beta.ref.slug)
            assert 'data-testid="retention-over"' in gone_row and 'data-testid="delete-tenant"' in gone_row
            # Beta's subscription ended ten days ago: read-only, but its data is kept.
            assert 'data-testid="read-only"' in beta_row
            assert 'data-testid="delete-tenant"' not in beta_row

            kept = client.post(
                f"/console/tenants/{beta.ref.id}/delete", base_url=PLATFORM, follow_redirects=True
            )
            assert "is kept until its subscription has been over for 90 days" in kept.text
            unbilled = client.post(
                f"/console/tenants/{alpha.ref.id}/delete", base_url=PLATFORM, follow_redirects=True
            )
            assert "delete it from the command line" in unbilled.text
            with app.app_context():
                assert db.control.get(Tenant, beta.ref.id) is not None
                assert db.control.get(Tenant, alpha.ref.id) is not None

            deleted = client.post(
                f"/console/tenants/{gone.id}/delete", base_url=PLATFORM, follow_redirects=True
            )
            assert f"The tenant {slug} and all its data are deleted." in deleted.text
            with app.app_context():
                assert db.control.get(Tenant, gone.id) is None
                assert (
                    db.control.execute(
                        sa.select(Subscription).where(Subscription.tenant_id == gone.id)
                    ).first()
                    is None
                )
                if db.backend == "postgresql":
                    with db.state.raw_control.connect() as conn:
                        assert not ddl.schema_exists(conn, gone.schema)
                else:
                    assert not db.state.tenant_file(gone.schema).exists()
            assert f'data-slug="{slug}"' not in client.get("/console/", base_url=PLATFORM).text
    finally:
        with app.app_context(), unit_of_work():
            if db.control.execute(sa.select(Tenant).where(Tenant.slug == slug)).first() is not None:
                tenants.delete_tenant(slug)


# --- the billing page --------------------------------------------------------------------------------


def test_billing_page_lists_failed_payments_their_events_and_sign_ups_in_trouble(app, alpha, beta, operator):
    since = utcnow() - timedelta(days=2)
    tag = uuid.uuid4().hex[:6]
    payment_failed = event_row(
        type="invoice.payment_failed",
        tenant_id=beta.ref.id,
        processed_at=utcnow(),
        payload={
            "data": {"object": {"amount_due": 19900, "currency": "usd", "customer_email": "b@example.com"}}
        },
    )
    paid = event_row(type="invoice.paid", tenant_id=alpha.ref.id, processed_at=utcnow())
    with app.app_context(), unit_of_work():
        starter = plan("starter")
        sign_ups = [
            SignUp(
                slug=f"{status.value}-{tag}",
                business_name=f"Business {status.value}",
                owner_name="Owner",
                owner_email=f"{status.value}-{tag}@example.com",
                password_hash="x",
                plan=starter,
                interval=BillingInterval.MONTH,
                status=status,
                expires_at=utcnow() + timedelta(hours=20),
                failure_reason="ProvisioningFailed: the disk is full"
                if status is SignUpStatus.FAILED
                else None,
            )
            for status in (SignUpStatus.FAILED, SignUpStatus.PENDING, SignUpStatus.COMPLETED)
        ]
        db.control.add_all(sign_ups)
        db.control.flush()
        sign_up_ids = [s.id for s in sign_ups]
    try:
        with (
            billed(
                app,
                (alpha.ref, "starter", BillingInterval.MONTH, SubscriptionStatus.ACTIVE, {}),
                (
                    beta.ref,
                    "growth",
                    BillingInterval.YEAR,
                    SubscriptionStatus.PAST_DUE,
                    {"past_due_since": since},
                ),
            ),
            stripe_events(app, [payment_failed, paid]),
        ):
            page = console(app, operator).get("/console/billing", base_url=PLATFORM)
            assert page.status_code == 200
            failed = re.search(r'data-testid="failed-payments">(.*?)</table>', page.text, re.S)[1]
            assert f'data-slug="{alpha.ref.slug}"' not in failed  # paying normally
            beta_row = row_of(failed, "data-slug", beta.ref.slug)
            assert "Growth" in beta_row and "Payment overdue" in beta_row
            assert cell(beta_row, "since") == since.strftime("%Y-%m-%d %H:%M")
            # Seven days' grace from the first failure; two days in, still full access.
            assert cell(beta_row, "grace-ends") == (since + timedelta(days=7)).strftime("%Y-%m-%d %H:%M")

            events = re.search(r'data-testid="failed-payment-events">(.*?)</table>', page.text, re.S)[1]
            failed_event = text(row_of(events, "data-event", payment_failed.event_id))
            assert (
                beta.ref.slug in failed_event
                and "$199.00" in failed_event
                and "b@example.com" in failed_event
            )
            assert paid.event_id not in events

            failed_sign_ups = re.search(r'data-testid="failed-sign-ups">(.*?)</table>', page.text, re.S)[1]
            assert "ProvisioningFailed: the disk is full" in row_of(
                failed_sign_ups, "data-slug", f"failed-{tag}"
            )
            pending = re.search(r'data-testid="pending-sign-ups">(.*?)</table>', page.text, re.S)[1]
            assert f'data-slug="pending-{tag}"' in pending and f"failed-{tag}" not in pending
            assert f"completed-{tag}" not in page.text
    finally:
        with app.app_context(), unit_of_work():
            db.control.execute(sa.delete(SignUp).where(SignUp.id.in_(sign_up_ids)))


# --- the webhook log --------------------------------------------------------------------------------------


def test_webhook_log_is_paged_newest_first_and_filtered_by_type_and_state(app, operator):
    tag = uuid.uuid4().hex[:6]
    paged, states = f"test_{tag}.paged", f"test_{tag}.states"
    start = utcnow() - timedelta(hours=2)
    rows = [
        event_row(event_id=f"evt_{tag}_{n:02d}", type=paged, received_at=start + timedelta(minutes=n))
        for n in range(52)
    ]
    rows += [
        event_row(event_id=f"evt_{tag}_done", type=states, processed_at=utcnow(), attempts=1),
        event_row(event_id=f"evt_{tag}_broken", type=states, error="RuntimeError: boom", attempts=2),
        event_row(event_id=f"evt_{tag}_waiting", type=states),
    ]
    with stripe_events(app, rows):
        client = console(app, operator)
        first = client.get("/console/webhooks", base_url=PLATFORM, query_string={"type": paged}).text
        shown = re.findall(rf'data-event="(evt_{tag}_\d+)"', first)
        assert shown == [f"evt_{tag}_{n:02d}" for n in range(51, 1, -1)]  # 50, newest first
        assert "52 events" in first and "page 1 of 2" in first
        assert f"/console/webhooks?type={paged}&amp;page=2" in first
        second = client.get(
            "/console/webhooks", base_url=PLATFORM, query_string={"type": paged, "page": 2}
        ).text
        assert re.findall(rf'data-event="(evt_{tag}_\d+)"', second) == [f"evt_{tag}_01", f"evt_{tag}_00"]
        beyond = client.get(
            "/console/webhooks", base_url=PLATFORM, query_string={"type": paged, "page": 99}
        ).text
        assert "page 2 of 2" in beyond

        def shown_for(state: str) -> list[str]:
            page = client.get(
                "/console/webhooks", base_url=PLATFORM, query_string={"type": states, "state": state}
            )
            return re.findall(rf'data-event="evt_{tag}_([a-z]+)"', page.text)

        assert shown_for("processed") == ["done"]
        assert shown_for("failed") == ["broken"]
        assert shown_for("pending") == ["waiting"]
        assert sorted(shown_for("")) == ["broken", "done", "waiting"]
        everything = client.get("/console/webhooks", base_url=PLATFORM, query_string={"type": states}).text
        broken = row_of(everything, "data-event", f"evt_{tag}_broken")
        assert "RuntimeError: boom" in broken and 'data-testid="retry"' in broken
        assert 'data-testid="retry"' not in row_of(everything, "data-event", f"evt_{tag}_done")


def test_retrying_an_event_without_redis_processes_it_at_once(app, operator, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "")
    tag = uuid.uuid4().hex[:6]
    unhandled = event_row(
        event_id=f"evt_{tag}_customer", type="customer.created", error="RuntimeError: earlier"
    )
    # Completing a checkout asks Stripe, which this installation has no key for: it fails again.
    needs_stripe = event_row(
        event_id=f"evt_{tag}_checkout",
        type="checkout.session.completed",
        payload={"data": {"object": {"id": f"cs_{tag}", "object": "checkout.session"}}},
    )
    done = event_row(event_id=f"evt_{tag}_done", type="invoice.paid", processed_at=utcnow(), attempts=1)
    with stripe_events(app, [unhandled, needs_stripe, done]) as ids:
        client = console(app, operator)
        back = "/console/webhooks?type=customer.created"
        retried = client.post(
            f"/console/webhooks/{ids[unhandled.event_id]}/retry", base_url=PLATFORM, data={"next": back}
        )
        assert retried.status_code == 302 and retried.headers["Location"] == back
        row = stored_event(app, ids[unhandled.event_id])
        assert row.processed_at is not None and row.error is None and row.attempts == 1

        client.post(f"/console/webhooks/{ids[needs_stripe.event_id]}/retry", base_url=PLATFORM)
        row = stored_event(app, ids[needs_stripe.event_id])
        assert row.processed_at is None and row.error == "RuntimeError: STRIPE_SECRET_KEY is not set"

        refused = client.post(
            f"/console/webhooks/{ids[done.event_id]}/retry", base_url=PLATFORM, follow_redirects=True
        )
        assert f"The event {done.event_id} was processed already." in refused.text
        assert stored_event(app, ids[done.event_id]).attempts == 1
        # An open redirect is not followed back.
        elsewhere = client.post(
            f"/console/webhooks/{ids[needs_stripe.event_id]}/retry",
            base_url=PLATFORM,
            data={"next": "https://evil.example.com/"},
        )
        assert elsewhere.headers["Location"] == "/console/webhooks"


# --- the jobs page, and retrying on Redis ------------------------------------------------------------


@pytest.fixture
def redis_prefix(backend, monkeypatch) -> Iterator[str]:
    """The session app on the test Redis database, its queues under a prefix of this test."""
    require_service("Redis", redis_reachable())
    app, conn = backend.app, Redis.from_url(REDIS_URL)
    prefix = f"test-{uuid.uuid4().hex[:8]}-"
    monkeypatch.setitem(app.config, "REDIS_URL", REDIS_URL)
    monkeypatch.setitem(app.config, "RQ_QUEUE_PREFIX", prefix)
    monkeypatch.setitem(app.extensions, "repairqc.redis", conn)
    try:
        yield prefix
    finally:
        purge(conn, [f"{prefix}{name}" for name in jobs.QUEUES])
        conn.close()


def test_jobs_page_without_redis_says_jobs_run_in_process(app, operator, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "")
    page = console(app, operator).get("/console/jobs", base_url=PLATFORM)
    assert page.status_code == 200
    assert 'data-testid="in-process"' in page.text and "jobs run in-process" in page.text
    assert 'data-testid="queues"' not in page.text


def test_jobs_page_and_retry_say_so_when_redis_does_not_answer(app, operator, monkeypatch):
    unreachable = "redis://127.0.0.1:1/0"
    monkeypatch.setitem(app.config, "REDIS_URL", unreachable)
    monkeypatch.setitem(
        app.extensions, "repairqc.redis", Redis.from_url(unreachable, socket_connect_timeout=1)
    )
    client = console(app, operator)
    page = client.get("/console/jobs", base_url=PLATFORM)
    assert page.status_code == 200 and 'data-testid="redis-error"' in page.text
    assert "Redis did not answer" in page.text
    pending = event_row(type="customer.created")
    with stripe_events(app, [pending]) as ids:
        retried = client.post(
            f"/console/webhooks/{ids[pending.event_id]}/retry", base_url=PLATFORM, follow_redirects=True
        )
        assert retried.status_code == 200 and "Redis did not answer" in retried.text
        assert stored_event(app, ids[pending.event_id]).processed_at is None


@pytest.mark.redis
def test_jobs_page_shows_each_queue_and_the_failed_jobs(backend, alpha, operator, redis_prefix):
    app = backend.app
    gone = TenantRef(10**9, "gone", "t_1000000000")
    with app.app_context():
        failing = jobs.enqueue(compute_tenant_rollup, tenant=gone)  # its tenant does not exist
        waiting = jobs.enqueue(send_billing_notice, "payment_failed", tenant=alpha.ref)
    run_worker(app, [f"{redis_prefix}reports"], RQ_QUEUE_PREFIX=redis_prefix)

    page = console(app, operator).get("/console/jobs", base_url=PLATFORM).text
    figures = {
        name: (cell(row, "queued"), cell(row, "started"), cell(row, "failed"))
        for name in jobs.QUEUES
        for row in [row_of(page, "data-queue", name)]
    }
    assert figures == {"default": ("0", "0", "0"), "emails": ("1", "0", "0"),
                       "reports": ("0", "0", "1"), "billing": ("0", "0", "0")}  # fmt: skip
    failed = text(row_of(page, "data-job", failing))
    assert "reports" in failed and "repairqc.console.tasks.compute_tenant_rollup" in failed
    assert "TenantUnavailable: tenant 1000000000 is missing or not active" in failed
    assert "Traceback" not in failed  # the last line only
    assert f'data-job="{waiting}"' not in page


@pytest.mark.redis
def test_retrying_an_event_on_redis_queues_a_platform_job_a_worker_runs(backend, operator, redis_prefix):
    app = backend.app
    pending = event_row(type="customer.created", error="RuntimeError: earlier")
    with stripe_events(app, [pending]) as ids:
        row_id = ids[pending.event_id]
        client = console(app, operator)
        assert client.post(f"/console/webhooks/{row_id}/retry", base_url=PLATFORM).status_code == 302
        with app.app_context():
            queue = Queue(f"{redis_prefix}billing", connection=app.extensions["repairqc.redis"])
            (job,) = queue.get_jobs()
        assert job.func_name == "repairqc.billing.tasks.process_stripe_event" and job.args == (row_id,)
        assert job.meta == {"tenant_id": None}  # a platform job
        assert stored_event(app, row_id).processed_at is None  # queued, not run

        run_worker(app, [f"{redis_prefix}billing"], RQ_QUEUE_PREFIX=redis_prefix)
        job.refresh()
        assert job.get_status() == JobStatus.FINISHED, job.latest_result()
        row = stored_event(app, row_id)
        assert row.processed_at is not None and row.error is None


# --- support sessions -------------------------------------------------------------------------------------


def entry_link(response, tenant_host: str) -> str:
    assert response.status_code == 303, response.text
    match = re.fullmatch(rf"http://{re.escape(tenant_host)}(/support/[^/]+)", response.headers["Location"])
    assert match, response.headers["Location"]
    return match[1]


def test_support_session_end_to_end(app, alpha, beta, operator):
    client = console(app, operator)
    tenants_page = client.get("/console/", base_url=PLATFORM).text
    assert f'action="/console/tenants/{alpha.ref.id}/support"' in tenants_page
    reason = "Owner reports orders missing from the board"
    opened = client.post(
        f"/console/tenants/{alpha.ref.id}/support", base_url=PLATFORM, data={"reason": reason, "minutes": 10}
    )
    link = entry_link(opened, alpha.host)

    # The link is for alpha: beta's host refuses it (and it stays unused).
    on_beta = client.get(link, base_url=f"http://{beta.host}")
    assert on_beta.status_code == 403 and "expired or was used already" in on_beta.text

    entered = client.get(link, base_url=f"http://{alpha.host}")
    assert entered.status_code == 302 and entered.headers["Location"].endswith("/admin/")
    home = client.get("/admin/", base_url=f"http://{alpha.host}")
    assert home.status_code == 200 and "Support session: read-only." in home.text
    stores = client.get("/admin/stores/", base_url=f"http://{alpha.host}")
    assert stores.status_code == 200 and alpha.store_sentinel("S1") in stores.text
    with in_tenant(app, alpha):
        stores_before = db.session.scalar(sa.select(sa.func.count()).select_from(Store))
    refused = client.post(
        "/admin/stores/new/",
        base_url=f"http://{alpha.host}",
        data={
            "region": "__None",
            "code": "SUP-1",
            "name": "Support store",
            "timezone": "UTC",
            "is_active": "y",
        },
    )
    assert (
        refused.status_code == 403 and "A support session can read but not change anything." in refused.text
    )
    with in_tenant(app, alpha):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Store)) == stores_before
        # The entry is in alpha's own audit log, as the operator.
        entries = (
            db.session.execute(
                sa.select(AuditLog).where(AuditLog.actor_kind == "operator", AuditLog.actor_id == operator.id)
            )
            .scalars()
            .all()
        )
        assert entries and {e.actor_name for e in entries} == {operator.email}
        assert {e.table_name for e in entries} >= {"staff_users"}
        support_user = db.session.execute(
            sa.select(StaffUser).where(StaffUser.is_platform_support.is_(True))
        ).scalar_one()
        assert support_user.full_name == "RepairQC support: Olga Operator"
        # The support account is not counted against the plan.
        active = db.session.scalar(
            sa.select(sa.func.count()).select_from(StaffUser).where(StaffUser.is_active.is_(True))
        )
        assert usage().staff == active - 1 == 10
    with in_tenant(app, beta):
        assert not db.session.execute(
            sa.select(AuditLog).where(AuditLog.actor_kind == "operator", AuditLog.actor_id == operator.id)
        ).first()

    # Used once: the same link is refused.
    assert client.get(link, base_url=f"http://{alpha.host}").status_code == 403

    with app.app_context():
        session = db.control.execute(
            sa.select(SupportSession).where(SupportSession.operator_id == operator.id)
        ).scalar_one()
        session_id = session.id
        assert session.reason == reason and session.entered_at is not None
        assert timedelta(minutes=9) < session.expires_at - session.started_at <= timedelta(minutes=10)
    listing = client.get("/console/support", base_url=PLATFORM).text
    open_table = re.search(r'data-testid="open-sessions">(.*?)</table>', listing, re.S)[1]
    assert reason in row_of(open_table, "data-session", session_id) and alpha.ref.slug in open_table

    ended = client.post(f"/console/support/{session_id}/end", base_url=PLATFORM, follow_redirects=True)
    assert f"The support session in {alpha.ref.slug} has ended." in ended.text
    past_table = re.search(r'data-testid="past-sessions">(.*?)</table>', ended.text, re.S)[1]
    assert reason in row_of(past_table, "data-session", session_id)
    assert (
        f'data-session="{session_id}"'
        not in re.search(r'data-testid="open-sessions">(.*?)</table>', ended.text, re.S)[1]
    )
    # The browser in alpha is signed out at its next request.
    after = client.get("/admin/stores/", base_url=f"http://{alpha.host}")
    assert after.status_code == 302 and "/login" in after.headers["Location"]


def test_support_links_of_expired_or_ended_sessions_are_refused(app, alpha, operator):
    client = console(app, operator)
    data = {"reason": "Checking a reported bug in the board", "minutes": 5}
    start = f"/console/tenants/{alpha.ref.id}/support"
    expired = entry_link(client.post(start, base_url=PLATFORM, data=data), alpha.host)
    with app.app_context(), unit_of_work():
        db.control.execute(
            sa.update(SupportSession)
            .where(SupportSession.operator_id == operator.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    refused = client.get(expired, base_url=f"http://{alpha.host}")
    assert refused.status_code == 403 and "expired or was used already" in refused.text

    ended = entry_link(client.post(start, base_url=PLATFORM, data=data), alpha.host)
    with app.app_context():
        session_id = db.control.execute(
            sa.select(SupportSession.id).where(
                SupportSession.operator_id == operator.id, SupportSession.expires_at > utcnow()
            )
        ).scalar_one()
    client.post(f"/console/support/{session_id}/end", base_url=PLATFORM)
    assert client.get(ended, base_url=f"http://{alpha.host}").status_code == 403
    with in_tenant(app, alpha):  # nobody was signed in as support
        assert not db.session.execute(
            sa.select(StaffUser).where(StaffUser.is_platform_support.is_(True))
        ).first()


def test_support_session_form_is_checked(app, alpha, operator):
    client = console(app, operator)
    short = client.post(
        f"/console/tenants/{alpha.ref.id}/support", base_url=PLATFORM, data={"reason": "look", "minutes": 10}
    )
    assert short.status_code == 400 and "Field must be between 10 and 500 characters long." in short.text
    long = client.post(
        f"/console/tenants/{alpha.ref.id}/support",
        base_url=PLATFORM,
        data={"reason": "A long look at everything", "minutes": 120},
    )
    assert long.status_code == 400 and "A session lasts 1 to 30 minutes." in long.text
    missing = client.post(
        "/console/tenants/999999999/support",
        base_url=PLATFORM,
        data={"reason": "A tenant that is gone", "minutes": 5},
    )
    assert missing.status_code == 404 and "There is no such active tenant." in missing.text
    with app.app_context():
        assert not db.control.execute(
            sa.select(SupportSession).where(SupportSession.operator_id == operator.id)
        ).first()


# --- who reaches the console -----------------------------------------------------------------------------

PAGES = ("/console/", "/console/billing", "/console/webhooks", "/console/jobs", "/console/support",
         "/console/exports")  # fmt: skip


def test_staff_and_anonymous_visitors_do_not_reach_the_console(app, alpha, operator):
    staff = app.test_client()
    assert sign_in(staff, alpha, "owner").status_code == 302
    for path in PAGES:
        # On a tenant host the console does not exist, even for its owner...
        assert staff.get(path, base_url=f"http://{alpha.host}").status_code == 404
        # ...and on the platform host a member of staff is nobody: sign in as an operator.
        answer = staff.get(path, base_url=PLATFORM)
        assert answer.status_code == 302 and "/console/login" in answer.headers["Location"]
        assert app.test_client().get(path, base_url=PLATFORM).status_code == 302
    posts = ("/console/tenants/1/support", "/console/tenants/1/delete", "/console/webhooks/1/retry",
             "/console/support/1/end", "/console/tenants/1/export", "/console/exports/1/remove")  # fmt: skip
    for path in posts:
        answer = app.test_client().post(path, base_url=PLATFORM)
        assert answer.status_code == 302 and "/console/login" in answer.headers["Location"]
    for tenant_host in (PLATFORM, f"http://{alpha.host}"):
        # An export's download, even guessed, is an operator's only.
        answer = staff.get("/console/exports/1/download", base_url=tenant_host)
        assert answer.status_code in (302, 404) and not answer.data.startswith(b"PK")
    # The operator reaches every page, each linked from the navigation.
    client = console(app, operator)
    for path in PAGES:
        page = client.get(path, base_url=PLATFORM)
        assert page.status_code == 200, path
        nav = re.search(r'<ul class="nav[^"]*">(.*?)</ul>', page.text, re.S)[1]
        assert set(re.findall(r'href="([^"]+)"', nav)) >= set(PAGES), path
