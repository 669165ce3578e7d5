"""Control plane: plans, each tenant's subscription, pending sign-ups, Stripe's events and the
operators' support sessions (design.md §2; issue #6).

Nothing here references a tenant table and no tenant table references these: billing state is
read by the tenant plane only through `billing.services.access_for` and `limits_for`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from repairqc.console.models import Operator, in_current_language
from repairqc.db import ControlBase, utcnow
from repairqc.models_base import LabelledEnum, Timestamped, enum_column, enum_labels
from repairqc.tenants.models import Tenant


class BillingInterval(LabelledEnum):
    MONTH = "month"
    YEAR = "year"


enum_labels({BillingInterval.MONTH: _l("Monthly"), BillingInterval.YEAR: _l("Yearly")})


class Plan(Timestamped, ControlBase):
    """What a tenant may have (stores, staff) and what it costs; the Stripe price of each
    interval comes from configuration (`STRIPE_PRICES`), so test and live keys share the rows."""

    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name_en: Mapped[str] = mapped_column(sa.String(100))
    name_zh: Mapped[str] = mapped_column(sa.String(100))
    #: None = unlimited.
    max_stores: Mapped[int | None]
    max_staff: Mapped[int | None]
    #: Shown on the pricing page and used for MRR; Stripe's price is what is charged.
    monthly_price_cents: Mapped[int]
    yearly_price_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(sa.String(3), default="usd")
    trial_days: Mapped[int] = mapped_column(default=14)
    #: Offered on the pricing page and in "change plan".
    is_public: Mapped[bool] = mapped_column(default=True)
    sort_order: Mapped[int] = mapped_column(default=0)

    @property
    def name(self) -> str:
        return in_current_language(self.name_en, self.name_zh) or self.code

    def price_cents(self, interval: BillingInterval) -> int:
        return self.yearly_price_cents if interval is BillingInterval.YEAR else self.monthly_price_cents

    def monthly_revenue_cents(self, interval: BillingInterval) -> int:
        """The plan's contribution to MRR: a yearly price counts as a twelfth each month."""
        return (
            round(self.price_cents(interval) / 12)
            if interval is BillingInterval.YEAR
            else self.monthly_price_cents
        )

    def __repr__(self) -> str:
        return f"<Plan {self.code}>"


class SubscriptionStatus(LabelledEnum):
    """Stripe's subscription statuses, as Stripe spells them."""

    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    UNPAID = "unpaid"
    CANCELED = "canceled"
    INCOMPLETE = "incomplete"
    INCOMPLETE_EXPIRED = "incomplete_expired"
    PAUSED = "paused"


enum_labels(
    {
        SubscriptionStatus.TRIALING: _l("Trial"),
        SubscriptionStatus.ACTIVE: _l("Active"),
        SubscriptionStatus.PAST_DUE: _l("Payment overdue"),
        SubscriptionStatus.UNPAID: _l("Unpaid"),
        SubscriptionStatus.CANCELED: _l("Cancelled"),
        SubscriptionStatus.INCOMPLETE: _l("Awaiting first payment"),
        SubscriptionStatus.INCOMPLETE_EXPIRED: _l("First payment failed"),
        SubscriptionStatus.PAUSED: _l("Paused"),
    }
)


class Subscription(ControlBase):
    """A tenant's plan and where its payments stand: Stripe's subscription as last read from
    Stripe (never from an event's payload, which may be stale or out of order).

    A tenant without a row (provisioned from the command line) is not billed and has no limits.
    """

    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"), unique=True)
    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("plans.id"))
    interval: Mapped[BillingInterval] = mapped_column(
        enum_column(BillingInterval), default=BillingInterval.MONTH
    )
    status: Mapped[SubscriptionStatus] = mapped_column(enum_column(SubscriptionStatus))
    stripe_customer_id: Mapped[str | None] = mapped_column(sa.String(255), index=True)
    stripe_subscription_id: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    trial_ends_at: Mapped[datetime | None]
    current_period_end: Mapped[datetime | None]
    cancel_at_period_end: Mapped[bool] = mapped_column(default=False)
    #: When a payment first failed in the current run of failures; the grace period counts from it.
    past_due_since: Mapped[datetime | None]
    #: When the subscription ended; the retention period counts from it.
    ended_at: Mapped[datetime | None]
    #: When this row was last brought in line with Stripe.
    synced_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    tenant: Mapped[Tenant] = relationship()
    plan: Mapped[Plan] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"<Subscription tenant={self.tenant_id} {self.status} plan={self.plan_id}>"


class SignUpStatus(LabelledEnum):
    PENDING = "pending"  # at Stripe Checkout
    COMPLETED = "completed"
    ABANDONED = "abandoned"  # Checkout expired or was left; the address is free again
    FAILED = "failed"  # paid, but provisioning failed: the operators are told


enum_labels(
    {
        SignUpStatus.PENDING: _l("At checkout"),
        SignUpStatus.COMPLETED: _l("Completed"),
        SignUpStatus.ABANDONED: _l("Abandoned"),
        SignUpStatus.FAILED: _l("Failed"),
    }
)


def _public_id() -> str:
    return uuid.uuid4().hex


class SignUp(ControlBase):
    """Someone on their way through Stripe Checkout. No tenant exists until Stripe says the
    checkout completed, so an abandoned sign-up leaves nothing behind but this row."""

    __tablename__ = "sign_ups"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: In URLs and as Checkout's client_reference_id; the integer id is never shown.
    public_id: Mapped[str] = mapped_column(sa.String(32), unique=True, default=_public_id)
    slug: Mapped[str] = mapped_column(sa.String(40), index=True)
    business_name: Mapped[str] = mapped_column(sa.String(200))
    owner_name: Mapped[str] = mapped_column(sa.String(200))
    owner_email: Mapped[str] = mapped_column(sa.String(254))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    locale: Mapped[str] = mapped_column(sa.String(16), default="en")
    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("plans.id"))
    interval: Mapped[BillingInterval] = mapped_column(enum_column(BillingInterval))
    status: Mapped[SignUpStatus] = mapped_column(enum_column(SignUpStatus), default=SignUpStatus.PENDING)
    checkout_session_id: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    #: The address stays reserved for this sign-up until then.
    expires_at: Mapped[datetime]
    tenant_id: Mapped[int | None] = mapped_column(sa.ForeignKey("tenants.id", ondelete="SET NULL"))
    failure_reason: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]
    #: The one-time link into the new tenant has been used.
    handed_off_at: Mapped[datetime | None]

    plan: Mapped[Plan] = relationship(lazy="joined")
    tenant: Mapped[Tenant | None] = relationship()


class StripeEvent(ControlBase):
    """Every webhook delivery whose signature was good, stored once per event id (a replay is a
    no-op), with what processing it did: the console's webhook log."""

    __tablename__ = "stripe_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(sa.String(255), unique=True)
    type: Mapped[str] = mapped_column(sa.String(100), index=True)
    #: Stripe's `created`: when the event happened, not when it arrived.
    created: Mapped[datetime]
    livemode: Mapped[bool] = mapped_column(default=False)
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    processed_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    #: The last processing error (type and message); cleared when a retry succeeds.
    error: Mapped[str | None] = mapped_column(sa.Text)
    #: The tenant the event turned out to concern, once processed.
    tenant_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("tenants.id", ondelete="SET NULL"), index=True
    )

    tenant: Mapped[Tenant | None] = relationship()


class SupportSession(ControlBase):
    """An operator's time-limited, read-only visit to one tenant, with the reason given.

    Recorded here and in the tenant's own audit log; it ends at `expires_at` or when ended.
    """

    __tablename__ = "support_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(sa.String(32), unique=True, default=_public_id)
    operator_id: Mapped[int] = mapped_column(sa.ForeignKey("operators.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[int] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(sa.Text)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    #: The one-time link into the tenant has been used.
    entered_at: Mapped[datetime | None]

    operator: Mapped[Operator] = relationship()
    tenant: Mapped[Tenant] = relationship()

    def is_open(self, now: datetime) -> bool:
        return self.ended_at is None and now < self.expires_at
