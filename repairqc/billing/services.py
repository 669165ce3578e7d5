"""Plans, what a subscription's state means for its tenant, plan limits, and the owner's own
changes (plan, cancellation) — every billing rule of the product (issue #6).

State comes from Stripe only by re-reading the subscription (`sync_subscription`), never from
an event's payload: events arrive late, twice or out of order, the subscription as Stripe has
it now does not (research/ecosystem.md §3.3-3.4, dj-stripe's handlers). No billing event ever
deletes data: the worst a subscription's state does is make its tenant read-only.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask import current_app, g, has_request_context, url_for
from flask_babel import format_currency, format_date, ngettext
from flask_babel import gettext as _

from repairqc.billing import gateway
from repairqc.billing.models import BillingInterval, Plan, Subscription, SubscriptionStatus
from repairqc.db import current_tenant, db, utcnow
from repairqc.errors import DomainError, Link

#: Statuses Stripe has given up on; the tenant is read-only and the retention clock runs.
ENDED = frozenset({SubscriptionStatus.CANCELED, SubscriptionStatus.INCOMPLETE_EXPIRED})
#: Statuses where a payment is owed: full access for the grace period, then read-only.
OWING = frozenset({SubscriptionStatus.PAST_DUE, SubscriptionStatus.UNPAID, SubscriptionStatus.INCOMPLETE})


# --- plans ----------------------------------------------------------------------------------------------


def public_plans() -> list[Plan]:
    return list(
        db.control.execute(
            sa.select(Plan).where(Plan.is_public.is_(True)).order_by(Plan.sort_order, Plan.id)
        ).scalars()
    )


def get_plan(code: str) -> Plan:
    plan = db.control.execute(sa.select(Plan).where(Plan.code == code)).scalar_one_or_none()
    if plan is None or not plan.is_public:
        raise DomainError(_("Choose one of the plans offered."), field="plan")
    return plan


def parse_interval(raw: str | None) -> BillingInterval:
    try:
        return BillingInterval(raw or "month")
    except ValueError:
        raise DomainError(_("Choose monthly or yearly billing."), field="interval") from None


def format_price(cents: int | None, currency: str) -> str:
    """An amount in minor units with its currency, in the reader's format ("$29.00", "US$29.00")."""
    if cents is None:
        return ""
    return format_currency(Decimal(cents) / 100, currency.upper())


# --- what the subscription's state means ----------------------------------------------------------------


class AccessMode(enum.StrEnum):
    FULL = "full"
    READ_ONLY = "read_only"


@dataclass(frozen=True)
class Access:
    mode: AccessMode
    #: Why, for the banner every user sees in read-only mode (and the owner's past-due notice).
    notice: str | None = None
    #: A payment is owed; the owner is shown the billing link.
    owing: bool = False
    grace_ends_at: datetime | None = None
    retained_until: datetime | None = None

    @property
    def read_only(self) -> bool:
        return self.mode is AccessMode.READ_ONLY


FULL_ACCESS = Access(AccessMode.FULL)


def _day(moment: datetime) -> str:
    return format_date(moment, "long")


def access_for(subscription: Subscription | None, now: datetime) -> Access:
    """Trialing and active work normally; a failed payment starts a grace period of
    BILLING_GRACE_DAYS with a banner, after which the tenant is read-only; an ended
    subscription (or a trial without payment, on the embedded default) is read-only. A tenant
    without a subscription row is not billed."""
    if subscription is None:
        return FULL_ACCESS
    status = subscription.status
    if status is SubscriptionStatus.TRIALING:
        if subscription.trial_ends_at is not None and now >= subscription.trial_ends_at:
            return Access(
                AccessMode.READ_ONLY,
                _("The free trial has ended. Choose a plan to go on working; your data is kept."),
                owing=True,
            )
        return FULL_ACCESS
    if status is SubscriptionStatus.ACTIVE:
        if subscription.cancel_at_period_end and subscription.current_period_end:
            return Access(
                AccessMode.FULL,
                _(
                    "The subscription ends on %(day)s; after that the data can be read but not changed.",
                    day=_day(subscription.current_period_end),
                ),
            )
        return FULL_ACCESS
    if status in OWING:
        since = subscription.past_due_since or subscription.updated_at or now
        grace_ends = since + timedelta(days=current_app.config["BILLING_GRACE_DAYS"])
        if now < grace_ends:
            return Access(
                AccessMode.FULL,
                _(
                    "A payment has failed. Update the card by %(day)s, or the data becomes read-only.",
                    day=_day(grace_ends),
                ),
                owing=True,
                grace_ends_at=grace_ends,
            )
        return Access(
            AccessMode.READ_ONLY,
            _("Payment is overdue, so the data can be read and exported but not changed. Pay to go on."),
            owing=True,
            grace_ends_at=grace_ends,
        )
    # canceled, incomplete_expired, paused
    ended = subscription.ended_at or subscription.updated_at or now
    return Access(
        AccessMode.READ_ONLY,
        _(
            "The subscription has ended. The data can be read and exported until %(day)s; "
            "subscribe again to go on working.",
            day=_day(ended + timedelta(days=current_app.config["BILLING_RETENTION_DAYS"])),
        ),
        owing=True,
        retained_until=ended + timedelta(days=current_app.config["BILLING_RETENTION_DAYS"]),
    )


def subscription_of(tenant_id: int) -> Subscription | None:
    return db.control.execute(
        sa.select(Subscription).where(Subscription.tenant_id == tenant_id)
    ).scalar_one_or_none()


def current_access() -> Access:
    """The current tenant's access, read once per request (one indexed control-plane query)."""
    if "billing_access" not in g:
        g.billing_access = access_for(subscription_of(current_tenant().id), utcnow())
    return g.billing_access


def retention_over(subscription: Subscription | None, now: datetime) -> bool:
    """The operator may delete the tenant: its subscription ended longer ago than retention."""
    if subscription is None or subscription.status not in ENDED or subscription.ended_at is None:
        return False
    return now >= subscription.ended_at + timedelta(days=current_app.config["BILLING_RETENTION_DAYS"])


# --- plan limits ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    stores: int
    staff: int


def usage() -> Usage:
    """The current tenant's active stores and active staff (operator support accounts excluded)."""
    from repairqc.accounts.models import StaffUser
    from repairqc.stores.models import Store

    stores = db.session.scalar(sa.select(sa.func.count()).select_from(Store).where(Store.is_active.is_(True)))
    staff = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(StaffUser)
        .where(StaffUser.is_active.is_(True), StaffUser.is_platform_support.is_(False))
    )
    return Usage(stores or 0, staff or 0)


class PlanLimitReached(DomainError):
    status_code = 403


def limit_refusal(plan: Plan, kind: str, count: int) -> str | None:
    """Why `count` active `kind` ("stores"/"staff") do not fit `plan`, or None if they do."""
    limit = plan.max_stores if kind == "stores" else plan.max_staff
    if limit is None or count <= limit:
        return None
    if kind == "stores":
        return ngettext(
            "The %(plan)s plan allows %(num)d active store; there would be %(count)d.",
            "The %(plan)s plan allows %(num)d active stores; there would be %(count)d.",
            limit,
            plan=plan.name,
            count=count,
        )
    return ngettext(
        "The %(plan)s plan allows %(num)d active staff account; there would be %(count)d.",
        "The %(plan)s plan allows %(num)d active staff accounts; there would be %(count)d.",
        limit,
        plan=plan.name,
        count=count,
    )


def check_limits(adding_stores: int, adding_staff: int) -> None:
    """Refuse growing past the current tenant's plan (called before a flush that adds or
    re-activates stores or staff accounts). Tenants without a subscription have no limits."""
    subscription = subscription_of(current_tenant().id)
    if subscription is None:
        return
    now = usage()
    for kind, adding, count in (("stores", adding_stores, now.stores), ("staff", adding_staff, now.staff)):
        if adding <= 0:
            continue
        refusal = limit_refusal(subscription.plan, kind, count)
        if refusal is None:
            refusal = limit_refusal(subscription.plan, kind, count + adding)
        if refusal is not None:
            raise limit_reached(refusal)


def limit_reached(refusal: str) -> PlanLimitReached:
    """The refusal with the way to lift it, told to whoever hit it: the owner (who alone sees
    the billing page) gets a link there; anyone else is told to ask the owner."""
    from repairqc.accounts.models import Role
    from repairqc.accounts.permissions import current_grants

    if has_request_context() and current_grants().has_role(Role.OWNER):
        return PlanLimitReached(
            _("%(refusal)s Upgrade the plan to add more.", refusal=refusal),
            field="plan_limit",
            link=Link(url_for("billing_page.index", _anchor="plans"), _("See the plans")),
        )
    return PlanLimitReached(
        _("%(refusal)s Ask the owner to upgrade the plan on the billing page.", refusal=refusal),
        field="plan_limit",
    )


def downgrade_refusals(plan: Plan, current: Usage) -> list[str]:
    """What must go before the tenant fits `plan`: one line per limit it exceeds."""
    out = []
    if plan.max_stores is not None and current.stores > plan.max_stores:
        out.append(
            _(
                "Deactivate %(n)d of the %(count)d active stores (the %(plan)s plan allows %(limit)d).",
                n=current.stores - plan.max_stores,
                count=current.stores,
                plan=plan.name,
                limit=plan.max_stores,
            )
        )
    if plan.max_staff is not None and current.staff > plan.max_staff:
        out.append(
            _(
                "Deactivate %(n)d of the %(count)d active staff accounts "
                "(the %(plan)s plan allows %(limit)d).",
                n=current.staff - plan.max_staff,
                count=current.staff,
                plan=plan.name,
                limit=plan.max_staff,
            )
        )
    return out


# --- Stripe's subscription, mirrored ---------------------------------------------------------------------


def _timestamp(raw: Any) -> datetime | None:
    return datetime.fromtimestamp(int(raw), UTC) if raw else None


def _plan_for_price(price: str | None) -> tuple[Plan, BillingInterval] | None:
    for (code, interval), configured in current_app.config["STRIPE_PRICE_IDS"].items():
        if configured == price:
            plan = db.control.execute(sa.select(Plan).where(Plan.code == code)).scalar_one_or_none()
            if plan is not None:
                return plan, BillingInterval(interval)
    return None


def set_status(row: Subscription, status: SubscriptionStatus, now: datetime) -> None:
    """The one place a subscription's status changes: it keeps the clocks the access rules use
    (grace from the first failed payment, retention from the end)."""
    if status in OWING and row.status not in OWING:
        row.past_due_since = now
    elif status not in OWING:
        row.past_due_since = None
    if status in ENDED and row.status not in ENDED:
        row.ended_at = row.ended_at or now
    elif status not in ENDED:
        row.ended_at = None
    row.status = status


def apply_stripe_subscription(row: Subscription, remote: Any, now: datetime) -> None:
    """Copy the subscription as Stripe has it now onto our row (basil-or-later shapes: the
    period end lives on the subscription item)."""
    item = gateway.value(remote, "items", "data", default=[None])[0]
    price = gateway.value(item, "price", "id")
    mapped = _plan_for_price(price)
    if mapped is not None:
        row.plan, row.interval = mapped
    elif price:
        current_app.logger.warning("subscription %s has unknown price %s", gateway.value(remote, "id"), price)
    row.stripe_subscription_id = gateway.value(remote, "id")
    row.stripe_customer_id = gateway.value(remote, "customer", "id") or gateway.value(remote, "customer")
    row.trial_ends_at = _timestamp(gateway.value(remote, "trial_end"))
    row.current_period_end = _timestamp(gateway.value(item, "current_period_end"))
    row.cancel_at_period_end = bool(gateway.value(remote, "cancel_at_period_end", default=False))
    ended = _timestamp(gateway.value(remote, "ended_at"))
    try:
        status = SubscriptionStatus(gateway.value(remote, "status"))
    except ValueError:
        current_app.logger.warning("subscription %s has unknown status", row.stripe_subscription_id)
        return
    set_status(row, status, now)
    if ended is not None and status in ENDED:
        row.ended_at = ended
    row.synced_at = now


def retrieve_subscription(stripe_subscription_id: str) -> Any:
    return gateway.call(
        "retrieve subscription",
        gateway.client().v1.subscriptions.retrieve,
        stripe_subscription_id,
        params={"expand": ["customer"]},
    )


def sync_subscription(stripe_subscription_id: str) -> Subscription | None:
    """Bring our row in line with Stripe's subscription; None if no tenant has it yet (a
    subscription event that beat its checkout's: the checkout's completion will sync it).

    The row is locked before Stripe is asked, so two deliveries for one subscription take
    turns and the later read is the one written."""
    row = db.control.execute(
        sa.select(Subscription)
        .where(Subscription.stripe_subscription_id == stripe_subscription_id)
        .with_for_update(of=Subscription)
    ).scalar_one_or_none()
    if row is None:
        return None
    apply_stripe_subscription(row, retrieve_subscription(stripe_subscription_id), utcnow())
    db.control.flush()
    return row


# --- the owner's changes -----------------------------------------------------------------------------------


def _billed(tenant_id: int) -> Subscription:
    row = subscription_of(tenant_id)
    if row is None:
        raise DomainError(_("This provider is not billed through RepairQC; ask the operator."))
    return row


def fitting_plan(plan_code: str, interval_raw: str | None) -> tuple[Plan, BillingInterval]:
    """The plan and interval asked for, refused with what to remove if the tenant does not fit."""
    plan = get_plan(plan_code)
    interval = parse_interval(interval_raw)
    refusals = downgrade_refusals(plan, usage())
    if refusals:
        raise DomainError(
            " ".join(
                [_("The %(plan)s plan is too small for what is in use now.", plan=plan.name), *refusals]
            ),
            field="plan",
        )
    return plan, interval


def change_plan(tenant_id: int, plan_code: str, interval_raw: str | None) -> Subscription:
    """Switch plan or interval; refused, with what to remove, if the tenant would not fit.

    With Stripe, the subscription's item moves to the new price (prorated) and the row is
    re-read; without Stripe (a trial tenant), the row changes at once."""
    row = _billed(tenant_id)
    plan, interval = fitting_plan(plan_code, interval_raw)
    if row.plan_id == plan.id and row.interval is interval:
        raise DomainError(_("That is the current plan already."), field="plan")
    if row.stripe_subscription_id is None:
        row.plan, row.interval = plan, interval
        db.control.flush()
        return row
    synced = row.synced_at.isoformat() if row.synced_at else "never"
    remote = retrieve_subscription(row.stripe_subscription_id)
    item_id = gateway.value(remote, "items", "data", default=[None])[0]
    gateway.call(
        "change plan",
        gateway.client().v1.subscriptions.update,
        row.stripe_subscription_id,
        params={
            "items": [
                {"id": gateway.value(item_id, "id"), "price": gateway.price_id(plan.code, interval.value)}
            ],
            "proration_behavior": "create_prorations",
            "metadata": {"tenant_id": str(tenant_id), "plan": plan.code},
        },
        # Keyed on the state changed from: a double click repeats it, A→B→A→B does not.
        options={"idempotency_key": f"plan:{tenant_id}:{plan.code}:{interval.value}:{synced}"},
    )
    sync_subscription(row.stripe_subscription_id)
    return row


def set_cancel_at_period_end(tenant_id: int, cancel: bool) -> Subscription:
    """Cancel at the end of the paid period (the data stays, read-only, after it), or undo that."""
    row = _billed(tenant_id)
    if row.status in ENDED:
        raise DomainError(_("The subscription has already ended."))
    if row.stripe_subscription_id is None:
        raise DomainError(_("A trial cannot be cancelled; it simply ends."))
    gateway.call(
        "cancel at period end",
        gateway.client().v1.subscriptions.update,
        row.stripe_subscription_id,
        params={"cancel_at_period_end": cancel},
    )
    sync_subscription(row.stripe_subscription_id)
    return row


def portal_url(tenant_id: int, return_url: str) -> str:
    """Stripe's customer portal for this tenant's customer: the card, invoices, tax ids."""
    row = _billed(tenant_id)
    if not row.stripe_customer_id:
        raise DomainError(_("There is no payment account yet; choose a plan first."))
    portal = gateway.call(
        "portal session",
        gateway.client().v1.billing_portal.sessions.create,
        params={"customer": row.stripe_customer_id, "return_url": return_url},
    )
    return portal.url


@dataclass(frozen=True)
class InvoiceLine:
    number: str
    created: datetime | None
    amount: str
    status: str
    url: str | None


def _invoice_line(invoice: Any) -> InvoiceLine:
    cents = gateway.value(invoice, "amount_due", default=0)
    return InvoiceLine(
        gateway.value(invoice, "number", default="–"),
        _timestamp(gateway.value(invoice, "created")),
        format_price(int(cents), gateway.value(invoice, "currency", default="usd")),
        gateway.value(invoice, "status", default=""),
        gateway.value(invoice, "hosted_invoice_url"),
    )


def invoices(row: Subscription, limit: int = 12) -> tuple[InvoiceLine | None, list[InvoiceLine]]:
    """The next invoice (a preview) and the past ones, read from Stripe when the page is shown."""
    if not row.stripe_customer_id:
        return None, []
    client = gateway.client()
    past = gateway.call(
        "list invoices", client.v1.invoices.list, params={"customer": row.stripe_customer_id, "limit": limit}
    )
    upcoming = None
    if row.stripe_subscription_id and row.status not in ENDED and not row.cancel_at_period_end:
        preview = gateway.call(
            "preview invoice",
            client.v1.invoices.create_preview,
            params={"customer": row.stripe_customer_id, "subscription": row.stripe_subscription_id},
        )
        upcoming = _invoice_line(preview)
    return upcoming, [_invoice_line(invoice) for invoice in gateway.value(past, "data", default=[])]


# --- paying through Checkout from inside a tenant (a trial, or after the subscription ended) -------------

#: Checkout's client_reference_id for a tenant's own checkout; a sign-up's is its public id.
TENANT_REFERENCE = "tenant:"


def start_tenant_checkout(
    tenant_id: int, plan_code: str, interval_raw: str | None, email: str, back_url: str
) -> str:
    """Open Stripe Checkout for a tenant without a live subscription; returns its address."""
    row = _billed(tenant_id)
    if not gateway.billing_enabled():
        raise DomainError(_("Payments are not set up on this installation; ask the operator."))
    if row.stripe_subscription_id and row.status not in ENDED:
        raise DomainError(_("There is a subscription already; change its plan instead."))
    plan, interval = fitting_plan(plan_code, interval_raw)
    params: dict[str, Any] = {
        "mode": "subscription",
        "line_items": [{"price": gateway.price_id(plan.code, interval.value), "quantity": 1}],
        "client_reference_id": f"{TENANT_REFERENCE}{tenant_id}",
        "metadata": {"tenant_id": str(tenant_id)},
        "subscription_data": {"metadata": {"tenant_id": str(tenant_id), "plan": plan.code}},
        "success_url": f"{back_url}?checkout=done",
        "cancel_url": back_url,
    }
    minute = f"{utcnow():%Y%m%d%H%M}"
    if row.stripe_customer_id:
        params["customer"] = row.stripe_customer_id
    else:
        params["customer_email"] = email
    session = gateway.call(
        "create checkout session",
        gateway.client().v1.checkout.sessions.create,
        params=params,
        # One checkout per tenant, plan and minute: a double click opens the same session.
        options={"idempotency_key": f"checkout:tenant:{tenant_id}:{plan.code}:{interval.value}:{minute}"},
    )
    return session.url


def retrieve_checkout(checkout_session_id: str) -> Any:
    return gateway.call(
        "retrieve checkout session",
        gateway.client().v1.checkout.sessions.retrieve,
        checkout_session_id,
        params={"expand": ["subscription"]},
    )


def attach_checkout(tenant_id: int, session: Any) -> Subscription | None:
    """A tenant's own checkout completed: its subscription becomes the tenant's (the one that
    ended, or none with a trial, is replaced), read from Stripe as the session has it."""
    remote = gateway.value(session, "subscription")
    if gateway.value(session, "status") != "complete" or remote is None:
        return None
    row = db.control.execute(
        sa.select(Subscription).where(Subscription.tenant_id == tenant_id).with_for_update(of=Subscription)
    ).scalar_one_or_none()
    if row is None:
        return None
    if isinstance(remote, str):
        remote = retrieve_subscription(remote)
    apply_stripe_subscription(row, remote, utcnow())
    db.control.flush()
    return row
