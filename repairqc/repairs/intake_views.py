"""Receiving a device (HB §2.1.2(1)): the front desk's screen and the receipt the customer takes.

The desk uses this page all day, so it is built to be fast (HB §2.1.3): one page, top to bottom
in the order of the conversation at the counter; the store is pre-selected; the customer is
found by phone, e-mail or name (or typed in, pre-filled from the search); the condition is
ticked, not typed. The view is thin: it parses the form and calls
`repairs.services.receive_order` in one unit of work; every refusal comes back to its field.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from functools import partial
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from babel import dates
from flask import abort, current_app, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice

from repairqc.accounts.permissions import Action, current_grants
from repairqc.admin.screens import attempt, staff, today
from repairqc.db import db, on_commit, utcnow
from repairqc.errors import DomainError
from repairqc.jobs import enqueue
from repairqc.repairs import services
from repairqc.repairs.access import RepairsAccess, load_order
from repairqc.repairs.intake_forms import NEW_CUSTOMER, IntakeForm, condition_label
from repairqc.repairs.models import Customer, OrderPhoto, PhotoStage, RepairOrder, Signature, SignaturePurpose
from repairqc.repairs.tasks import send_intake_receipt
from repairqc.repairs.workflow import DESK, roles_at
from repairqc.standards.services import EffectiveStandard, effective_for_store
from repairqc.stores.models import Store
from repairqc.tenants.services import tenant_url

#: Where the service's `DomainError.field` is shown on this form.
FIELD_OF_ERROR = {"phone": "new_phone", "customer": "customer_id", "attachments": "photos"}


def may_receive() -> bool:
    """The user holds a desk role (owner, store manager, front desk) somewhere."""
    grants = current_grants()
    return bool(grants.tenant_roles & DESK) or any(roles & DESK for roles in grants.store_roles.values())


def desk_stores() -> list[Store]:
    """The active stores where the user may receive devices, by code."""
    grants = current_grants()
    statement = sa.select(Store).where(Store.is_active.is_(True)).order_by(Store.code)
    if not grants.tenant_roles & DESK:
        ids = {store_id for store_id, roles in grants.store_roles.items() if roles & DESK}
        statement = statement.where(Store.id.in_(ids))
    return list(db.session.execute(statement).scalars())


def category_names(standard: EffectiveStandard) -> dict[str, str]:
    """Device category code -> its name in the reader's language, in the standard's order."""
    chinese = str(get_locale()).startswith("zh")
    return {c.code: (c.name.zh if chinese else c.name.en) for c in standard.document.device_categories}


def store_zone(store: Store) -> tzinfo:
    """The store's time zone: the customer reads dates as the clock on the shop's wall shows them."""
    try:
        return ZoneInfo(store.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def local_datetime(moment: datetime, store: Store) -> str:
    return dates.format_datetime(moment, "medium", tzinfo=store_zone(store), locale=get_locale())


def local_date(moment: datetime, store: Store, style: str) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return dates.format_date(aware.astimezone(store_zone(store)).date(), style, locale=get_locale())


def masked(value: str | None, keep: int = 4) -> str:
    """Enough of a phone number or e-mail address to tell two customers apart (HB §6.1.2)."""
    if not value:
        return ""
    if "@" in value:
        name, _at, domain = value.partition("@")
        return f"{name[:1]}•••@{domain}"
    return "•••" + value[-keep:]


class IntakeView(RepairsAccess):
    def is_accessible(self) -> bool:
        # Only those who may receive devices see the menu item and open the screen.
        return super().is_accessible() and may_receive()

    # --- the intake form -------------------------------------------------------------------------

    @expose("/", methods=("GET", "POST"))
    def index(self):
        stores = desk_stores()
        if not stores:
            abort(403)
        query = request.args.get("q", "").strip()[:200]
        matches = self._search(query)
        store = self._chosen_store(stores)
        standard = effective_for_store(store, today())
        if request.method == "POST":
            form = IntakeForm()
        else:
            form = IntakeForm(formdata=None, store=store.id)
            form.set_defaults(query=query, matches=len(matches))
            if len(matches) == 1:  # one hit: pick it, the desk only checks the name
                form.customer_id.data = str(matches[0].id)
        form.store.choices = [SelectChoice(s.id, f"{s.code} · {s.name}") for s in stores]
        categories = category_names(standard)
        form.category.choices = [SelectChoice(code, name) for code, name in categories.items()]
        form.customer_id.choices = [SelectChoice(str(c.id), c.full_name) for c in matches] + [
            SelectChoice(NEW_CUSTOMER, _("A new customer"))
        ]
        if not form.customer_id.data or form.customer_id.data == "None":
            form.customer_id.data = NEW_CUSTOMER

        general: list[str] = []
        signature_errors: list[str] = []
        status = 200
        if request.method == "POST":
            status = 400
            if form.validate():
                error = self._receive(form, stores)
                if isinstance(error, int):
                    flash(_("The device is received. Print the receipt or e-mail it."), "success")
                    return redirect(url_for(".receipt", order_id=error))
                status = error.status_code
                field = FIELD_OF_ERROR.get(error.field or "", error.field or "")
                if field == "signature":
                    signature_errors.append(error.message)
                elif field in form and field != "csrf_token":
                    form[field].errors = [*form[field].errors, error.message]
                else:
                    general.append(error.message)
            elif "csrf_token" in form:  # an expired or missing token belongs to no visible field
                general.extend(str(message) for message in form["csrf_token"].errors)
        # The dates `receive_order` would promise if the device were received now (HB §2.1.3).
        turnaround = standard.document.service_targets.turnaround_days
        now = utcnow()
        promised = {
            code: local_date(now + timedelta(days=turnaround[code]), store, "medium")
            for code in categories
            if code in turnaround
        }
        return self.render(
            "repairs/intake.html",
            form=form,
            query=query,
            matches=matches,
            masked=masked,
            categories=categories,
            promised=promised,
            general=general,
            signature_errors=signature_errors,
            refused=status != 200,
        ), status

    def _search(self, query: str) -> list[Customer]:
        """Customers of the stores the user may see, by exact phone/e-mail or part of the name."""
        if not query:
            return []
        return services.find_customers(query, current_grants().stores_for("Customer", Action.VIEW))

    def _chosen_store(self, stores: list[Store]) -> Store:
        """The store posted (or in ?store=), if the user may receive there; else the first one."""
        raw = request.form.get("store") if request.method == "POST" else request.args.get("store")
        by_id = {str(s.id): s for s in stores}
        return by_id.get((raw or "").strip(), stores[0])

    def _receive(self, form: IntakeForm, stores: list[Store]) -> int | DomainError:
        """Receive the order in one unit of work: its id, or the refusal (nothing saved)."""
        store = next(s for s in stores if s.id == form.store.data)  # validated against the choices
        limit = current_app.config["UPLOAD_MAX_BYTES"]
        # One byte past the limit is enough for `store_bytes` to refuse a file that is too large.
        photos = [(upload.read(limit + 1), upload.filename or "") for upload in form.photos.data or []
                  if upload and upload.filename]  # fmt: skip
        user = staff()
        received: list[int] = []

        def receive() -> None:
            intake = form.intake(request.form.get("signature", ""), photos)
            received.append(services.receive_order(store, user, intake).id)

        error = attempt(receive)
        return error if error is not None else received[0]

    # --- the receipt -----------------------------------------------------------------------------

    def _receipt_order(self, order_id: int) -> RepairOrder:
        order = load_order(order_id)
        if not roles_at(staff(), order.store_id) & DESK:
            abort(403)  # sees the order, but does not serve customers at its store
        return order

    @expose("/receipt/<int:order_id>")
    def receipt(self, order_id: int):
        return self._render_receipt(self._receipt_order(order_id))

    @expose("/receipt/<int:order_id>/email", methods=("POST",))
    def email_receipt(self, order_id: int):
        """Queue the receipt by e-mail once the request commits (the job reads committed data)."""
        if not FlaskForm().validate():  # the CSRF token
            abort(400)
        sent_to: list[str] = []

        def queue() -> None:
            order = self._receipt_order(order_id)
            if not order.customer.email:
                raise DomainError(
                    _("%(name)s has no e-mail address; give them the printed receipt.",
                      name=order.customer.full_name),
                    field="email",
                )  # fmt: skip
            sent_to.append(order.customer.email)
            on_commit(partial(enqueue, send_intake_receipt, order.id))

        error = attempt(queue)
        if error is not None:
            return self._render_receipt(self._receipt_order(order_id), error=error.message), error.status_code
        flash(_("The receipt is on its way to %(email)s.", email=sent_to[0]), "success")
        return redirect(url_for(".receipt", order_id=order_id))

    def _render_receipt(self, order: RepairOrder, error: str | None = None):
        signature = db.session.execute(
            sa.select(Signature)
            .where(Signature.order_id == order.id, Signature.purpose == SignaturePurpose.INTAKE_TERMS)
            .order_by(Signature.id.desc())
        ).scalar()
        photos = db.session.execute(
            sa.select(OrderPhoto)
            .where(OrderPhoto.order_id == order.id, OrderPhoto.stage == PhotoStage.INTAKE)
            .order_by(OrderPhoto.id)
        ).scalars()
        try:
            categories = category_names(effective_for_store(order.store, today()))
        except DomainError:  # no standard in force any more: show the code
            categories = {}
        return self.render(
            "repairs/receipt.html",
            order=order,
            category=categories.get(order.device.category, order.device.category),
            conditions=[condition_label(code) for code in order.device.condition_checks or []],
            signature=signature,
            photos=list(photos),
            received_at=local_datetime(order.received_at, order.store),
            promised=local_date(order.promised_at, order.store, "long") if order.promised_at else None,
            tracking_link=tenant_url(f"/track/{services.tracking_token(order)}"),
            order_href=f"/admin/repairs/orders/{order.id}/",
            error=error,
        )
