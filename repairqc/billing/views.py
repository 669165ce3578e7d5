"""Billing inside a tenant: the owner's billing page, the first-run page, the one-time links
that sign a new owner (or an operator's support session) in, and read-only mode."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask_admin import BaseView, expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user

from repairqc.accounts.loader import act_as
from repairqc.accounts.models import Role, StaffUser
from repairqc.accounts.permissions import current_grants
from repairqc.accounts.services import invite_staff, record_sign_in
from repairqc.admin.screens import field_errors, staff, validated
from repairqc.admin.views import deny_access, staff_signed_in
from repairqc.billing import gateway, services, signup
from repairqc.billing.forms import ChangePlanForm, FirstStoreForm, InviteForm
from repairqc.billing.models import BillingInterval
from repairqc.db import current_tenant, db, unit_of_work
from repairqc.errors import DomainError
from repairqc.stores.models import Store
from repairqc.stores.services import open_store

bp = Blueprint("billing", __name__)

#: What a read-only tenant still accepts besides reading: signing in and out, the language,
#: passwords, paying (the billing page) and exports (a report's PDF and the owner's backup are
#: made by a POST: the data can always be taken out, HB §7.3.1).
READ_ONLY_ALLOWED = frozenset(
    {
        "accounts.login",
        "accounts.logout",
        "accounts.forgot_password",
        "accounts.reset_password",
        "main.set_language",
        "billing.welcome",
        "billing.support_entry",
        "billing_page.change_plan",
        "billing_page.subscribe",
        "billing_page.portal",
        "billing_page.cancel",
        "reports.generate",
        "tenant_backups.make",
    }
)


#: An operator's support session only reads: it may sign out and change the page's language.
SUPPORT_ALLOWED = frozenset({"accounts.logout", "main.set_language"})


def refuse_writes_when_read_only():
    """before_request: in a read-only tenant, or in a support session, nothing is written.

    The grants already hide every create/edit/delete button; this refuses the request itself,
    whatever screen sent it, so no path is forgotten."""
    if g.get("tenant") is None or request.method in {"GET", "HEAD", "OPTIONS"}:
        return None
    user = current_user._get_current_object()
    is_support = isinstance(user, StaffUser) and user.is_platform_support
    allowed = SUPPORT_ALLOWED if is_support else READ_ONLY_ALLOWED
    if request.endpoint in allowed:
        return None
    if not is_support and not services.current_access().read_only:
        return None
    if is_support:
        message = _("A support session can read but not change anything.")
    else:
        message = services.current_access().notice or _("This provider's data is read-only.")
    # Through the error handler: JSON for the API, the error page for screens.
    raise ReadOnlyRefusal(message)


class ReadOnlyRefusal(DomainError):
    status_code = 403


def banner() -> dict[str, Any]:
    """Template globals: the billing notice for the signed-in staff member, if any."""
    if g.get("tenant") is None:
        return {}
    user = current_user._get_current_object() if current_user else None
    if not isinstance(user, StaffUser):
        return {}
    if user.is_platform_support:
        return {"billing_notice": _("Support session: read-only."), "billing_notice_level": "info"}
    access = services.current_access()
    if access.notice is None:
        return {}
    owner = current_grants().has_role(Role.OWNER)
    if not access.read_only and not owner:
        return {}  # a failed payment is the owner's business until it makes the data read-only
    return {
        "billing_notice": access.notice,
        "billing_notice_level": "danger" if access.read_only else "warning",
        "billing_link": url_for("billing_page.index") if owner else None,
    }


# --- one-time links into the tenant -------------------------------------------------------------------


@bp.get("/welcome/<token>")
def welcome(token: str):
    """From the sign-up into the new tenant: sign the owner in once, then the first-run page."""
    if g.get("tenant") is None:
        abort(404)
    try:
        with unit_of_work():
            sign_up = signup.redeem_handoff(token, current_tenant().id)
            owner = db.session.execute(
                sa.select(StaffUser).where(StaffUser.email == sign_up.owner_email)
            ).scalar_one_or_none()
            if owner is None or not owner.is_active:
                raise DomainError(signup.expired_link())
            act_as(owner)
            record_sign_in(owner)
    except DomainError as exc:
        flash(exc.message, "warning")
        return redirect(url_for("accounts.login"))
    login_user(owner)
    return redirect(url_for("billing_start.index"))


@bp.get("/support/<token>")
def support_entry(token: str):
    """From the operators' console into this tenant, read-only, for the session's minutes."""
    from repairqc.console import support

    if g.get("tenant") is None:
        abort(404)
    try:
        with unit_of_work():
            support_session, user = support.enter(token)
            public_id = support_session.public_id
    except DomainError as exc:
        return render_template("errors/error.html", code=403, message=exc.message), 403
    session.clear()
    session["support_session"] = public_id
    login_user(user)
    return redirect(url_for("admin.index"))


# --- the owner's screens --------------------------------------------------------------------------


class OwnerScreen(BaseView):
    def is_accessible(self) -> bool:
        return staff_signed_in() and current_grants().has_role(Role.OWNER)

    def inaccessible_callback(self, name, **kwargs):
        return deny_access(name, **kwargs)


class BillingView(OwnerScreen):
    """Plan, status, the next and past invoices; change plan, the card (Stripe's portal),
    cancel at the period's end or undo it; subscribe again once it ended."""

    def _page(self, status: int = 200, refusals: list[str] | None = None):
        tenant_id = current_tenant().id
        subscription = services.subscription_of(tenant_id)
        upcoming, past, stripe_error = None, [], None
        if subscription is not None and gateway.billing_enabled():
            try:
                upcoming, past = services.invoices(subscription)
            except DomainError as exc:
                stripe_error = exc.message
        current_usage = services.usage()
        plans = services.public_plans()
        return self.render(
            "billing/billing.html",
            subscription=subscription,
            access=services.current_access(),
            usage=current_usage,
            plans=plans,
            too_small={plan.id: services.downgrade_refusals(plan, current_usage) for plan in plans},
            intervals=list(BillingInterval),
            upcoming=upcoming,
            invoices=past,
            stripe_error=stripe_error,
            refusals=refusals or [],
            billing_enabled=gateway.billing_enabled(),
            ended=subscription is not None and subscription.status in services.ENDED,
            form=ChangePlanForm(),
        ), status

    @expose("/")
    def index(self):
        return self._page()

    @expose("/plan", methods=("POST",))
    def change_plan(self):
        form = ChangePlanForm()
        if not form.validate_on_submit():
            return self._page(
                400, [_("The form expired or was sent from another page. Reload it and try again.")]
            )
        try:
            with unit_of_work():
                row = services.change_plan(current_tenant().id, form.plan.data, form.interval.data)
                plan_name = row.plan.name
        except DomainError as exc:
            return self._page(exc.status_code, [exc.message])
        flash(_("You are now on the %(plan)s plan.", plan=plan_name), "success")
        return redirect(url_for(".index"))

    @expose("/subscribe", methods=("POST",))
    def subscribe(self):
        """A trial or an ended subscription: pay through Stripe Checkout."""
        form = ChangePlanForm()
        if not form.validate_on_submit():
            return self._page(
                400, [_("The form expired or was sent from another page. Reload it and try again.")]
            )
        back = url_for(".index", _external=True)
        try:
            with unit_of_work():
                url = services.start_tenant_checkout(
                    current_tenant().id, form.plan.data, form.interval.data, staff().email, back
                )
        except DomainError as exc:
            return self._page(exc.status_code, [exc.message])
        return redirect(url, 303)

    @expose("/portal", methods=("POST",))
    def portal(self):
        try:
            url = services.portal_url(current_tenant().id, url_for(".index", _external=True))
        except DomainError as exc:
            return self._page(exc.status_code, [exc.message])
        return redirect(url, 303)

    @expose("/cancel", methods=("POST",))
    def cancel(self):
        cancel = request.form.get("cancel") == "1"
        try:
            with unit_of_work():
                services.set_cancel_at_period_end(current_tenant().id, cancel)
        except DomainError as exc:
            return self._page(exc.status_code, [exc.message])
        if cancel:
            flash(_("The subscription will end at the end of the paid period."), "info")
        else:
            flash(_("The subscription goes on."), "success")
        return redirect(url_for(".index"))


class StartView(OwnerScreen):
    """The first-run page: the first store, then the staff, in a few minutes."""

    def _page(
        self, store_form: FirstStoreForm | None = None, invite_form: InviteForm | None = None, status=200
    ):
        stores = list(db.session.execute(sa.select(Store).order_by(Store.code)).scalars())
        invite_form = invite_form or InviteForm()
        invite_form.store_id.choices = [(s.id, f"{s.code} {s.name}") for s in stores if s.is_active]
        staff_users = list(
            db.session.execute(
                sa.select(StaffUser).where(StaffUser.is_platform_support.is_(False)).order_by(StaffUser.id)
            ).scalars()
        )
        return self.render(
            "billing/start.html",
            stores=stores,
            staff_users=staff_users,
            store_form=store_form or FirstStoreForm(),
            invite_form=invite_form,
            usage=services.usage(),
            subscription=services.subscription_of(current_tenant().id),
        ), status

    @expose("/")
    def index(self):
        return self._page()

    @expose("/store", methods=("POST",))
    def add_store(self):
        form = FirstStoreForm()
        try:
            with unit_of_work():
                validated(form)
                store = open_store(
                    form.code.data,
                    form.name.data,
                    form.timezone.data,
                    form.address.data,
                    chain_name=g.tenant.name,  # the provider's first chain bears its name
                )
                code = store.code
        except DomainError as exc:
            for message in field_errors(form, exc, {"plan_limit": "code"}):
                flash(message, "danger")
            return self._page(store_form=form, status=exc.status_code)
        flash(_("The store %(code)s is open. Now invite your staff.", code=code), "success")
        return redirect(url_for(".index"))

    @expose("/invite", methods=("POST",))
    def invite(self):
        form = InviteForm()
        form.store_id.choices = []
        try:
            with unit_of_work():
                validated(form)
                role = Role(form.role.data)
                store = db.session.get(Store, form.store_id.data) if form.store_id.data else None
                if store is None and not role.is_tenant_wide:
                    raise DomainError(_("Choose the store this person works in."), field="store_id")
                user = invite_staff(form.full_name.data, form.email.data, role, store)
                email = user.email
        except DomainError as exc:
            for message in field_errors(form, exc, {"plan_limit": "email", "store": "store_id"}):
                flash(message, "danger")
            return self._page(invite_form=form, status=exc.status_code)
        flash(_("An invitation is on its way to %(email)s.", email=email), "success")
        return redirect(url_for(".index"))


def register_billing_views(admin) -> None:
    from repairqc.chapters import add_screens

    add_screens(
        admin,
        "organisation",
        (StartView, _l("Getting started"), "billing_start", "/admin/start"),
        (BillingView, _l("Billing"), "billing_page", "/admin/billing"),
    )
