"""The public side of billing on the bare BASE_DOMAIN: pricing, sign-up, the return from
Stripe Checkout, and Stripe's webhook."""

from __future__ import annotations

import logging

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from repairqc.billing import gateway, services, signup, webhooks
from repairqc.billing.forms import SignUpForm
from repairqc.billing.models import SignUp, SignUpStatus
from repairqc.db import db, unit_of_work
from repairqc.errors import DomainError
from repairqc.extensions import csrf, limiter
from repairqc.i18n import normalise_locale
from repairqc.tenants.services import tenant_host, tenant_url

logger = logging.getLogger(__name__)

bp = Blueprint("signup", __name__)

#: Sign-ups this browser started, so only it is handed into the new tenant.
SESSION_KEY = "sign_ups"


@bp.before_request
def _platform_host_only():
    if not g.get("is_platform"):
        abort(404)


def _plans_page(status: int = 200):
    plans = services.public_plans()
    return render_template(
        "billing/pricing.html", plans=plans, billing_enabled=gateway.billing_enabled()
    ), status


@bp.get("/pricing")
def pricing():
    return _plans_page()


def _form_page(form: SignUpForm, status: int = 200):
    plan = next((p for p in services.public_plans() if p.code == form.plan.data), None)
    return render_template(
        "billing/signup.html",
        form=form,
        plan=plan,
        base_domain=request.host.split(":")[0],
        billing_enabled=gateway.billing_enabled(),
    ), status


@bp.get("/signup")
def signup_form():
    form = SignUpForm(formdata=None)
    form.plan.data = request.args.get("plan", "starter")
    form.interval.data = request.args.get("interval", "month")
    form.locale.data = normalise_locale(request.accept_languages.best) or "en"
    return _form_page(form)


def _return_urls(sign_up: SignUp) -> tuple[str, str]:
    return (
        url_for("signup.returned", public_id=sign_up.public_id, _external=True),
        url_for("signup.cancelled", public_id=sign_up.public_id, _external=True),
    )


@bp.post("/signup")
@limiter.limit("10 per hour", methods=["POST"])
def start_sign_up():
    form = SignUpForm()
    if not form.validate_on_submit():
        return _form_page(form, 400)
    try:
        with unit_of_work():
            sign_up, checkout_url = signup.start(
                slug=form.slug.data,
                business_name=form.business_name.data,
                owner_name=form.owner_name.data,
                owner_email=form.owner_email.data,
                password=form.password.data,
                locale=form.locale.data,
                plan_code=form.plan.data,
                interval=form.interval.data,
                return_url=_return_urls,
            )
            public_id = sign_up.public_id
    except DomainError as exc:
        field = exc.field if exc.field in form else None
        if field:
            form[field].errors = [*form[field].errors, exc.message]
        else:
            flash(exc.message, "danger")
        return _form_page(form, exc.status_code)
    session[SESSION_KEY] = [*session.get(SESSION_KEY, [])[-4:], public_id]
    if checkout_url is None:  # no Stripe: the trial tenant exists already
        return redirect(url_for("signup.returned", public_id=public_id))
    return redirect(checkout_url, 303)


@bp.get("/signup/address")
@limiter.limit("120 per minute")
def check_address():
    """The form's live check: is this address free? (JSON for the page's script)."""
    slug = request.args.get("slug", "")
    try:
        slug = signup.check_address(slug)
    except DomainError as exc:
        return jsonify(available=False, message=exc.message)
    return jsonify(available=True, message=_("%(host)s is free.", host=tenant_host(slug)))


@bp.get("/signup/<public_id>")
def returned(public_id: str):
    """Where Checkout returns to: wait for Stripe's event to make the tenant, then go in."""
    sign_up = signup.get_sign_up(public_id)
    mine = public_id in session.get(SESSION_KEY, [])
    if sign_up.status is SignUpStatus.COMPLETED and sign_up.tenant_id is not None:
        if not mine:
            # Someone else's link: say where the tenant is, sign nobody in.
            return render_template("billing/signup_status.html", sign_up=sign_up, state="ready_elsewhere")
        token = signup.handoff_token(sign_up)
        return redirect(tenant_url(f"/welcome/{token}", sign_up.tenant.ref))
    state = {
        SignUpStatus.PENDING: "waiting",
        SignUpStatus.COMPLETED: "waiting",
        SignUpStatus.ABANDONED: "abandoned",
        SignUpStatus.FAILED: "failed",
    }[sign_up.status]
    return render_template("billing/signup_status.html", sign_up=sign_up, state=state)


@bp.get("/signup/<public_id>/cancelled")
def cancelled(public_id: str):
    """Checkout's back button: free the address and offer the form again, filled in."""
    sign_up = signup.get_sign_up(public_id)
    if public_id in session.get(SESSION_KEY, []) and sign_up.status is SignUpStatus.PENDING:
        with unit_of_work():
            if sign_up.checkout_session_id:
                signup.abandon(sign_up.checkout_session_id)
    form = SignUpForm(formdata=None)
    for name in ("business_name", "slug", "owner_name", "owner_email", "locale"):
        form[name].data = getattr(sign_up, name)
    form.plan.data, form.interval.data = sign_up.plan.code, sign_up.interval.value
    flash(_("Checkout was cancelled; nothing was charged. You can try again."), "info")
    return _form_page(form)


# --- Stripe's webhook --------------------------------------------------------------------------------


@bp.post("/stripe/webhook")
@csrf.exempt
def stripe_webhook():
    """Verify, store once, queue; 400 for anything not signed by Stripe with our secret."""
    from repairqc.billing.tasks import process_stripe_event
    from repairqc.jobs import enqueue

    payload = request.get_data(cache=False)
    try:
        event = webhooks.verify(payload, request.headers.get("Stripe-Signature"))
    except webhooks.BadWebhook as exc:
        logger.warning("refused a Stripe webhook from %s: %s", request.remote_addr, exc)
        return jsonify(error="bad signature"), 400
    with unit_of_work():
        row = webhooks.store(event, payload)
        row_id = row.id if row is not None else None
    if row_id is None:
        return jsonify(received=True, duplicate=True)
    enqueue(process_stripe_event, row_id)
    db.control.commit()
    return jsonify(received=True)
