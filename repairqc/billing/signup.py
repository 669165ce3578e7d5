"""Online sign-up: the form → Stripe Checkout → the tenant, made when Stripe says it is paid.

No tenant exists before `checkout.session.completed` (never from the success redirect, which
anyone can open), so an abandoned checkout leaves only its `SignUp` row, marked abandoned when
Checkout expires (its event, or the hourly sweep). The address stays reserved for the sign-up
while Checkout is open. With no Stripe keys (the embedded default) the tenant is provisioned at
once, on a trial of the plan's length.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from repairqc.accounts.models import Role
from repairqc.accounts.services import create_staff_user, normalise_email, validate_password
from repairqc.billing import gateway
from repairqc.billing.models import (
    SignUp,
    SignUpStatus,
    Subscription,
    SubscriptionStatus,
)
from repairqc.billing.services import apply_stripe_subscription, get_plan, parse_interval, set_status
from repairqc.crypto import hash_password
from repairqc.db import db, on_commit, utcnow
from repairqc.errors import DomainError, NotFound
from repairqc.i18n import normalise_locale
from repairqc.tenants.models import Tenant
from repairqc.tenants.services import create_tenant, validate_slug

#: How long the one-time link from the sign-up into the new tenant works.
HANDOFF_MAX_AGE = 15 * 60


def expired_link() -> str:
    return _("This link has expired or was used already. Sign in with your e-mail and password.")


def _held_by_sign_up(slug: str, except_id: int | None = None) -> bool:
    condition = sa.and_(
        SignUp.slug == slug,
        SignUp.status == SignUpStatus.PENDING,
        SignUp.expires_at > utcnow(),
    )
    if except_id is not None:
        condition = sa.and_(condition, SignUp.id != except_id)
    return db.control.execute(sa.select(SignUp.id).where(condition)).first() is not None


def check_address(slug: str) -> str:
    """The address, normalised, if it can be had now; otherwise a DomainError saying why."""
    slug = (slug or "").strip().lower()
    validate_slug(slug)
    if _held_by_sign_up(slug):
        raise DomainError(_("The address “%(slug)s” is taken.", slug=slug), field="slug")
    return slug


def start(
    *,
    slug: str,
    business_name: str,
    owner_name: str,
    owner_email: str,
    password: str,
    locale: str | None,
    plan_code: str,
    interval: str | None,
    return_url: Callable[[SignUp], tuple[str, str]],
) -> tuple[SignUp, str | None]:
    """Record the sign-up and open Stripe Checkout for it; returns the Checkout address.

    Without Stripe the tenant is provisioned here (trialing) and the address is None.
    `return_url(sign_up)` gives Checkout's success and cancel addresses.
    """
    plan = get_plan(plan_code)
    billing_interval = parse_interval(interval)
    slug = check_address(slug)
    if not (business_name or "").strip():
        raise DomainError(_("Enter the name of the business."), field="business_name")
    if not (owner_name or "").strip():
        raise DomainError(_("Enter your name."), field="owner_name")
    email = normalise_email(owner_email or "")
    if "@" not in email:
        raise DomainError(_("Enter a valid e-mail address."), field="owner_email")
    validate_password(password or "")
    now = utcnow()
    sign_up = SignUp(
        slug=slug,
        business_name=business_name.strip(),
        owner_name=owner_name.strip(),
        owner_email=email,
        password_hash=hash_password(password),
        locale=normalise_locale(locale) or "en",
        plan=plan,
        interval=billing_interval,
        expires_at=now + timedelta(hours=current_app.config["SIGNUP_HOLD_HOURS"]),
    )
    db.control.add(sign_up)
    db.control.flush()
    if not gateway.billing_enabled():
        provision(sign_up, remote_subscription=None)
        return sign_up, None
    success, cancel = return_url(sign_up)
    session = gateway.call(
        "create checkout session",
        gateway.client().v1.checkout.sessions.create,
        params={
            "mode": "subscription",
            "line_items": [{"price": gateway.price_id(plan.code, billing_interval.value), "quantity": 1}],
            "customer_email": email,
            "client_reference_id": sign_up.public_id,
            "metadata": {"sign_up": sign_up.public_id, "slug": slug},
            "subscription_data": {
                "trial_period_days": plan.trial_days,
                "metadata": {"sign_up": sign_up.public_id, "slug": slug, "plan": plan.code},
            },
            "locale": "zh" if sign_up.locale.startswith("zh") else "en",
            # Checkout lives at most 24 h; the address is held exactly as long.
            "expires_at": int(sign_up.expires_at.timestamp()),
            "success_url": success,
            "cancel_url": cancel,
        },
        options={"idempotency_key": f"checkout:{sign_up.public_id}"},
    )
    sign_up.checkout_session_id = session.id
    db.control.flush()
    return sign_up, session.url


def get_sign_up(public_id: str) -> SignUp:
    sign_up = db.control.execute(sa.select(SignUp).where(SignUp.public_id == public_id)).scalar_one_or_none()
    if sign_up is None:
        raise NotFound(_("There is no such sign-up."))
    return sign_up


def complete_checkout(session: object) -> SignUp | None:
    """A checkout completed (`session` as just re-read from Stripe): provision its sign-up.

    Safe to call twice or late: a sign-up is provisioned once (claimed by a conditional
    UPDATE); a session that is not ours or not paid changes nothing."""
    public_id = gateway.value(session, "client_reference_id")
    sign_up = (
        db.control.execute(sa.select(SignUp).where(SignUp.public_id == public_id)).scalar_one_or_none()
        if public_id
        else None
    )
    if sign_up is None:
        current_app.logger.warning("checkout session %s belongs to no sign-up", gateway.value(session, "id"))
        return None
    if gateway.value(session, "status") != "complete":
        return sign_up
    if sign_up.status is SignUpStatus.COMPLETED:
        return sign_up
    provision(sign_up, remote_subscription=gateway.value(session, "subscription"))
    return sign_up


def provision(sign_up: SignUp, remote_subscription: object | None) -> Tenant:
    """Make the tenant of a paid (or, without Stripe, a trial) sign-up, its owner and its
    subscription; mail the welcome. A failure leaves the sign-up failed, for the operators."""
    claimed = db.control.execute(
        sa.update(SignUp)
        .where(SignUp.id == sign_up.id, SignUp.status.in_([SignUpStatus.PENDING, SignUpStatus.ABANDONED]))
        .values(status=SignUpStatus.COMPLETED, completed_at=utcnow())
    ).rowcount
    if not claimed:
        db.control.refresh(sign_up)
        if sign_up.tenant_id is None:
            raise DomainError(
                _("This sign-up cannot be completed (it is %(status)s).", status=sign_up.status.label)
            )
        return sign_up.tenant
    db.control.commit()  # the claim holds even if provisioning fails below
    if _held_by_sign_up(sign_up.slug, except_id=sign_up.id):
        return _fail(sign_up, f"address {sign_up.slug} is held by another sign-up")

    def first_rows() -> None:
        owner = create_staff_user(
            sign_up.owner_email, sign_up.owner_name, None, roles=[(Role.OWNER, None)], locale=sign_up.locale
        )
        owner.password_hash = sign_up.password_hash  # chosen on the sign-up form, stored hashed only

    try:
        tenant = create_tenant(sign_up.slug, sign_up.business_name, seed=first_rows)
    except DomainError as exc:
        return _fail(sign_up, exc.message)
    tenant.default_locale = sign_up.locale
    subscription = Subscription(tenant=tenant, plan=sign_up.plan, interval=sign_up.interval)
    now = utcnow()
    if remote_subscription is None:
        set_status(subscription, SubscriptionStatus.TRIALING, now)
        subscription.trial_ends_at = now + timedelta(days=sign_up.plan.trial_days)
    else:
        subscription.status = SubscriptionStatus.INCOMPLETE
        apply_stripe_subscription(subscription, remote_subscription, now)
    db.control.add(subscription)
    sign_up.tenant = tenant
    db.control.flush()

    from repairqc.billing.tasks import send_welcome_mail
    from repairqc.jobs import enqueue

    ref = tenant.ref
    on_commit(lambda: enqueue(send_welcome_mail, sign_up.public_id, tenant=ref))
    return tenant


def _fail(sign_up: SignUp, reason: str) -> Tenant:
    db.control.rollback()
    sign_up = db.control.get(SignUp, sign_up.id)
    sign_up.status = SignUpStatus.FAILED
    sign_up.failure_reason = reason[:2000]
    db.control.commit()
    current_app.logger.error("sign-up %s failed: %s", sign_up.public_id, reason)
    raise DomainError(_("Setting up your account failed. We have been told and will contact you."))


def abandon(checkout_session_id: str) -> SignUp | None:
    """Checkout expired or was given up: free the address. A completed sign-up is untouched."""
    sign_up = db.control.execute(
        sa.select(SignUp).where(SignUp.checkout_session_id == checkout_session_id)
    ).scalar_one_or_none()
    if sign_up is not None and sign_up.status is SignUpStatus.PENDING:
        sign_up.status = SignUpStatus.ABANDONED
        db.control.flush()
    return sign_up


def sweep_abandoned() -> int:
    """Mark every pending sign-up past its hold abandoned (in case Checkout's event was lost)."""
    return db.control.execute(
        sa.update(SignUp)
        .where(SignUp.status == SignUpStatus.PENDING, SignUp.expires_at <= utcnow())
        .values(status=SignUpStatus.ABANDONED)
    ).rowcount


# --- the one-time link from the sign-up into the new tenant ----------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="repairqc.sign-up.handoff")


def handoff_token(sign_up: SignUp) -> str:
    return _serializer().dumps({"s": sign_up.public_id, "t": sign_up.tenant_id})


def redeem_handoff(token: str, tenant_id: int) -> SignUp:
    """The sign-up whose owner may be signed in to `tenant_id` by this link; usable once."""
    try:
        data = _serializer().loads(token, max_age=HANDOFF_MAX_AGE)
    except (BadSignature, SignatureExpired):
        raise DomainError(expired_link()) from None
    if data.get("t") != tenant_id:
        raise DomainError(expired_link())
    used = db.control.execute(
        sa.update(SignUp)
        .where(
            SignUp.public_id == data.get("s"), SignUp.tenant_id == tenant_id, SignUp.handed_off_at.is_(None)
        )
        .values(handed_off_at=utcnow())
    ).rowcount
    if not used:
        raise DomainError(expired_link())
    return get_sign_up(data["s"])
