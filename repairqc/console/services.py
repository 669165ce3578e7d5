"""Operator accounts, the per-tenant rollup the console shows, the standard templates, and what
the console shows of billing: plans and revenue per tenant, failed payments, Stripe's webhook log,
the background jobs and the support sessions."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from redis.exceptions import RedisError
from rq.exceptions import DeserializationError
from rq.job import Job
from rq.registry import FailedJobRegistry
from sqlalchemy.orm import joinedload
from werkzeug.security import check_password_hash

from repairqc import jobs
from repairqc.accounts.services import _dummy_hash, normalise_email, validate_password
from repairqc.billing import services as billing
from repairqc.billing.models import (
    SignUp,
    SignUpStatus,
    StripeEvent,
    Subscription,
    SubscriptionStatus,
    SupportSession,
)
from repairqc.console.models import Operator, StandardTemplate, TenantRollup
from repairqc.db import db, on_commit, utcnow
from repairqc.errors import DomainError, NotFound
from repairqc.standards.services import read_export, validated
from repairqc.tenants.models import Domain, Tenant
from repairqc.tenants.services import delete_tenant, tenant_url

logger = logging.getLogger(__name__)

#: Same shape as the codes inside a standards document: lowercase, digits, - and _.
TEMPLATE_CODE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def authenticate_operator(email: str, password: str) -> Operator | None:
    operator = db.control.execute(
        sa.select(Operator).where(Operator.email == normalise_email(email))
    ).scalar_one_or_none()
    if operator is None or not operator.is_active:
        check_password_hash(_dummy_hash(), password)
        return None
    if not operator.check_password(password):
        return None
    operator.last_login_at = utcnow()
    db.control.flush()
    return operator


def create_operator(email: str, full_name: str, password: str) -> Operator:
    email = normalise_email(email)
    validate_password(password)
    if db.control.execute(sa.select(Operator.id).where(Operator.email == email)).first():
        raise DomainError(f"an operator with e-mail {email} already exists")
    operator = Operator(email=email, full_name=full_name)
    operator.set_password(password)
    db.control.add(operator)
    db.control.flush()
    return operator


def refresh_rollups() -> int:
    """Enqueue `compute_tenant_rollup` in every active tenant; returns how many."""
    from repairqc.console.tasks import compute_tenant_rollup
    from repairqc.jobs import enqueue
    from repairqc.tenants.models import TenantStatus

    tenants = (
        db.control.execute(sa.select(Tenant).where(Tenant.status == TenantStatus.ACTIVE)).scalars().all()
    )
    for tenant in tenants:
        enqueue(compute_tenant_rollup, tenant=tenant.ref)
    return len(tenants)


# --- standard templates ----------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadedTemplate:
    template: StandardTemplate
    #: How many attachment references were removed from the SOPs (templates carry no files).
    stripped_attachments: int


def strip_attachments(document: Any) -> tuple[Any, int]:
    """The document without attachment references in its SOPs, and how many were removed.

    A template is copied into many tenants, but an attachment is a file one tenant stored; in the
    others its reference would name a file they do not have. Any key inside the SOPs whose name
    starts with "attachment" is such a reference (`Sop.attachments` today): lists become empty,
    so a required list stays valid, and other values are dropped.
    """
    if not isinstance(document, dict) or not isinstance(document.get("sops"), list):
        return document, 0
    removed = 0

    def clean(value: Any) -> Any:
        nonlocal removed
        if isinstance(value, list):
            return [clean(item) for item in value]
        if not isinstance(value, dict):
            return value
        kept: dict[Any, Any] = {}
        for key, item in value.items():
            if not str(key).startswith("attachment"):
                kept[key] = clean(item)
            elif isinstance(item, list):
                removed += len(item)
                kept[key] = []
            else:
                removed += item is not None
        return kept

    return {**document, "sops": clean(document["sops"])}, removed


def get_template(template_id: int) -> StandardTemplate:
    template = db.control.get(StandardTemplate, template_id)
    if template is None:
        raise NotFound(_("There is no such template."))
    return template


def upload_template(
    text: str,
    fmt: str,
    *,
    code: str,
    name_en: str,
    name_zh: str,
    description_en: str | None = None,
    description_zh: str | None = None,
    is_active: bool = False,
    uploaded_by: Operator | None,
) -> UploadedTemplate:
    """A new template from an exported standards file; invalid files save nothing.

    :raises InvalidStandard: the document breaks the schema (`problems` names each field).
    """
    code = code.strip().lower()
    if not TEMPLATE_CODE_RE.match(code):
        raise DomainError(_("Use lowercase letters, digits, - and _ only (at most 40)."), field="code")
    taken = DomainError(_("A template with the code %(code)s already exists.", code=code), field="code")
    if db.control.execute(sa.select(StandardTemplate.id).where(StandardTemplate.code == code)).first():
        raise taken
    document, stripped = strip_attachments(read_export(text, fmt))
    template = StandardTemplate(
        code=code,
        name_en=name_en,
        name_zh=name_zh,
        description_en=description_en or None,
        description_zh=description_zh or None,
        document=validated(document).model_dump(mode="json"),
        is_active=is_active,
        created_by=uploaded_by,
    )
    db.control.add(template)
    try:
        db.control.flush()
    except sa.exc.IntegrityError:
        raise taken from None  # another operator took the code since the check above
    logger.info("standard template %s uploaded by operator %s", code, uploaded_by and uploaded_by.id)
    return UploadedTemplate(template, stripped)


def update_template(
    template: StandardTemplate,
    *,
    name_en: str,
    name_zh: str,
    description_en: str | None,
    description_zh: str | None,
) -> StandardTemplate:
    """Names and descriptions only: the document is a snapshot, replaced by uploading anew."""
    template.name_en, template.name_zh = name_en, name_zh
    template.description_en, template.description_zh = description_en or None, description_zh or None
    db.control.flush()
    return template


def set_template_active(template: StandardTemplate, is_active: bool) -> StandardTemplate:
    """Offer the template to tenants, or stop offering it (drafts already started keep theirs)."""
    template.is_active = is_active
    db.control.flush()
    logger.info("standard template %s %s", template.code, "offered" if is_active else "withdrawn")
    return template


# --- billing: the tenants' plans, revenue, failed payments, webhooks -------------------------------

#: Subscriptions that bring money in each month: a trial does not yet; a payment Stripe is still
#: retrying counts until Stripe gives up (then the status is unpaid or canceled).
MRR_STATUSES = frozenset({SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE})


def monthly_revenue_cents(subscription: Subscription | None) -> int:
    """The subscription's share of the monthly recurring revenue (a yearly price counts 1/12)."""
    if subscription is None or subscription.status not in MRR_STATUSES:
        return 0
    return subscription.plan.monthly_revenue_cents(subscription.interval)


@dataclass(frozen=True)
class TenantLine:
    """One row of the console's tenant list."""

    tenant: Tenant
    rollup: TenantRollup | None
    host: str | None
    #: None: provisioned from the command line, not billed.
    subscription: Subscription | None
    access: billing.Access
    mrr_cents: int
    #: The subscription has ended: the operator may export the tenant's data.
    ended: bool
    #: The subscription ended longer ago than BILLING_RETENTION_DAYS: the operator may delete it.
    retention_over: bool

    @property
    def currency(self) -> str | None:
        return self.subscription.plan.currency if self.subscription is not None else None


def tenant_lines(now: datetime) -> list[TenantLine]:
    rows = db.control.execute(
        sa.select(Tenant, TenantRollup, Domain.host, Subscription)
        .outerjoin(TenantRollup, TenantRollup.tenant_id == Tenant.id)
        .outerjoin(Domain, sa.and_(Domain.tenant_id == Tenant.id, Domain.is_primary.is_(True)))
        .outerjoin(Subscription, Subscription.tenant_id == Tenant.id)
        .order_by(Tenant.slug)
    ).all()
    return [
        TenantLine(
            tenant=tenant,
            rollup=rollup,
            host=host,
            subscription=subscription,
            access=billing.access_for(subscription, now),
            mrr_cents=monthly_revenue_cents(subscription),
            ended=subscription is not None and subscription.status in billing.ENDED,
            retention_over=billing.retention_over(subscription, now),
        )
        for tenant, rollup, host, subscription in rows
    ]


def mrr_totals(lines: list[TenantLine]) -> dict[str, int]:
    """Monthly recurring revenue per currency (plans may be priced in more than one)."""
    totals: dict[str, int] = {}
    for line in lines:
        if line.mrr_cents and line.currency:
            totals[line.currency] = totals.get(line.currency, 0) + line.mrr_cents
    return totals


def delete_ended_tenant(tenant_id: int, operator: Operator, now: datetime) -> str:
    """Delete a tenant whose subscription ended longer ago than the retention period; returns
    its slug. Tenants that are not billed are deleted from the command line only."""
    tenant = db.control.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound(_("There is no such tenant."))
    subscription = db.control.execute(
        sa.select(Subscription).where(Subscription.tenant_id == tenant.id).with_for_update(of=Subscription)
    ).scalar_one_or_none()
    if subscription is None:
        raise DomainError(
            _("%(slug)s is not billed through RepairQC; delete it from the command line.", slug=tenant.slug)
        )
    if not billing.retention_over(subscription, now):
        raise DomainError(
            _(
                "The data of %(slug)s is kept until its subscription has been over for %(n)d days.",
                slug=tenant.slug,
                n=current_app.config["BILLING_RETENTION_DAYS"],
            )
        )
    slug = tenant.slug
    delete_tenant(slug)
    logger.warning("tenant %s deleted by operator %s: retention over", slug, operator.id)
    return slug


@dataclass(frozen=True)
class FailedPayment:
    subscription: Subscription
    since: datetime | None
    grace_ends_at: datetime | None
    read_only: bool


def failed_payments(now: datetime) -> list[FailedPayment]:
    """Subscriptions with a payment owed, the longest-owing first."""
    rows = db.control.execute(
        sa.select(Subscription)
        .options(joinedload(Subscription.tenant))
        .where(Subscription.status.in_(billing.OWING))
        .order_by(Subscription.past_due_since, Subscription.id)
    ).scalars()
    out = []
    for subscription in rows:
        access = billing.access_for(subscription, now)
        out.append(
            FailedPayment(subscription, subscription.past_due_since, access.grace_ends_at, access.read_only)
        )
    return out


PAYMENT_FAILED = "invoice.payment_failed"


@dataclass(frozen=True)
class FailedPaymentEvent:
    event: StripeEvent
    amount_cents: int | None
    currency: str
    customer_email: str | None


def failed_payment_events(limit: int = 50) -> list[FailedPaymentEvent]:
    """The latest `invoice.payment_failed` events, with the amount their invoice asked for."""
    rows = db.control.execute(
        sa.select(StripeEvent)
        .options(joinedload(StripeEvent.tenant))
        .where(StripeEvent.type == PAYMENT_FAILED)
        .order_by(StripeEvent.created.desc(), StripeEvent.id.desc())
        .limit(limit)
    ).scalars()
    out = []
    for event in rows:
        invoice = ((event.payload or {}).get("data") or {}).get("object") or {}
        amount = invoice.get("amount_due")
        out.append(
            FailedPaymentEvent(
                event,
                amount if isinstance(amount, int) else None,
                str(invoice.get("currency") or "usd"),
                invoice.get("customer_email"),
            )
        )
    return out


def sign_ups_needing_attention(limit: int = 100) -> tuple[list[SignUp], list[SignUp]]:
    """Sign-ups whose provisioning failed after payment, and those still at checkout."""

    def of(status: SignUpStatus) -> list[SignUp]:
        return list(
            db.control.execute(
                sa.select(SignUp)
                .where(SignUp.status == status)
                .order_by(SignUp.created_at.desc(), SignUp.id.desc())
                .limit(limit)
            ).scalars()
        )

    return of(SignUpStatus.FAILED), of(SignUpStatus.PENDING)


#: The states the webhook log filters by.
WEBHOOK_STATES = ("processed", "failed", "pending")
WEBHOOK_PAGE_SIZE = 50


@dataclass(frozen=True)
class Page:
    rows: list[Any]
    number: int
    total: int
    size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def webhook_log(event_type: str | None, state: str | None, page: int) -> Page:
    """Stored Stripe events, newest first, filtered by type and by processing state."""
    where = []
    if event_type:
        where.append(StripeEvent.type == event_type)
    if state == "processed":
        where.append(StripeEvent.processed_at.is_not(None))
    elif state == "failed":
        where.append(StripeEvent.error.is_not(None))
    elif state == "pending":
        where.append(StripeEvent.processed_at.is_(None))
        where.append(StripeEvent.error.is_(None))
    total = db.control.scalar(sa.select(sa.func.count()).select_from(StripeEvent).where(*where)) or 0
    number = min(max(page, 1), max(1, -(-total // WEBHOOK_PAGE_SIZE)))
    rows = db.control.execute(
        sa.select(StripeEvent)
        .options(joinedload(StripeEvent.tenant))
        .where(*where)
        .order_by(StripeEvent.received_at.desc(), StripeEvent.id.desc())
        .offset((number - 1) * WEBHOOK_PAGE_SIZE)
        .limit(WEBHOOK_PAGE_SIZE)
    ).scalars()
    return Page(list(rows), number, total, WEBHOOK_PAGE_SIZE)


def webhook_event_types() -> list[str]:
    return list(
        db.control.execute(sa.select(StripeEvent.type).distinct().order_by(StripeEvent.type)).scalars()
    )


def retry_stripe_event(event_row_id: int) -> StripeEvent:
    """Process an unprocessed event again, once the caller's unit of work has committed."""
    from repairqc.billing.tasks import process_stripe_event

    row = db.control.get(StripeEvent, event_row_id)
    if row is None:
        raise NotFound(_("There is no such event."))
    if row.processed_at is not None:
        raise DomainError(_("The event %(id)s was processed already.", id=row.event_id))
    on_commit(lambda: jobs.enqueue(process_stripe_event, event_row_id))
    logger.info("stripe event %s queued again by an operator", row.event_id)
    return row


# --- background jobs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueFigures:
    name: str
    queued: int
    started: int
    failed: int


@dataclass(frozen=True)
class FailedJob:
    id: str
    queue: str
    func_name: str
    ended_at: datetime | None
    #: The last line of the traceback: the exception and its message.
    error: str


@dataclass(frozen=True)
class JobsOverview:
    queues: list[QueueFigures]
    failed: list[FailedJob]
    #: Redis could not be asked.
    error: str | None = None


def _last_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[-1] if lines else ""


def _failed_job(rq_job: Job, queue_name: str) -> FailedJob:
    result = rq_job.latest_result()
    exc_string = result.exc_string if result is not None else None
    try:
        func_name = rq_job.func_name
    except DeserializationError:
        func_name = "?"
    return FailedJob(
        rq_job.id,
        queue_name,
        func_name or "?",
        rq_job.ended_at,
        _last_line(exc_string or getattr(rq_job, "_exc_info", None)),
    )


def jobs_overview(failed_limit: int = 20) -> JobsOverview | None:
    """Each RQ queue's figures and the latest failed jobs; None when jobs run in-process."""
    if not current_app.config["REDIS_URL"]:
        return None
    figures, failed = [], []
    try:
        for name in jobs.QUEUES:
            queue = jobs.queue(name)
            registry = FailedJobRegistry(queue=queue)
            figures.append(QueueFigures(name, queue.count, queue.started_job_registry.count, registry.count))
            # The registry is ordered by expiry, which is the failure time plus a fixed TTL.
            ids = registry.get_job_ids(-failed_limit, -1)
            for rq_job in Job.fetch_many(ids, connection=queue.connection, serializer=queue.serializer):
                if rq_job is not None:
                    failed.append(_failed_job(rq_job, name))
    except RedisError as exc:
        logger.warning("the jobs page could not read Redis: %s", exc)
        return JobsOverview(figures, [], _("Redis did not answer: %(error)s", error=str(exc)))
    oldest = datetime.min.replace(tzinfo=UTC)
    failed.sort(key=lambda job: job.ended_at or oldest, reverse=True)
    return JobsOverview(figures, failed[:failed_limit])


# --- support sessions ---------------------------------------------------------------------------------


def support_entry_url(session: SupportSession) -> str:
    """The one-time link on the tenant's own host that starts the session there."""
    from repairqc.console import support

    return tenant_url(f"/support/{support.entry_token(session)}", session.tenant.ref)


def past_support_sessions(now: datetime, limit: int = 50) -> list[SupportSession]:
    """The latest sessions that were ended or ran out."""
    return list(
        db.control.execute(
            sa.select(SupportSession)
            .options(joinedload(SupportSession.operator), joinedload(SupportSession.tenant))
            .where(sa.or_(SupportSession.ended_at.is_not(None), SupportSession.expires_at <= now))
            .order_by(SupportSession.started_at.desc(), SupportSession.id.desc())
            .limit(limit)
        ).scalars()
    )
