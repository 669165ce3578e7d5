"""The complaint screens (HB §9.3), under "Ch.9 Emergencies and complaints".

`ComplaintsView` (/admin/customer-complaints/):

* `/`: the list of the user's stores' complaints with filters (open, overdue, a status; the
  category; the store) and the first-contact deadline ("5 hours left", "overdue by 3 hours").
* `/new`: registering a complaint received by phone, e-mail, in the store or on a follow-up
  call; the customer is found by phone, e-mail or name (the blind-index search of the intake,
  `repairs.services.find_customers`) or by an order number of the user's stores, else entered.
* `/<id>/`: one complaint: details, deadline, the contact log and its form, resolve, pass on,
  classify, close, reopen, and the timeline.

Thin (aesthetics.md §7): each POST loads the complaint locked for update within the user's
stores (404 otherwise), checks the hidden `version` the page showed (409 when stale), calls the
service in one unit of work and redirects; a refusal re-renders the page with what the user
typed and the message, with its status, nothing saved. The generated lists stay at
/admin/complaints/, /admin/complaint_events/, /admin/complaint_contacts/.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload
from wtforms import Form

from repairqc.accounts.models import StaffUser
from repairqc.accounts.permissions import Action, current_grants, roles_at
from repairqc.accounts.scoping import scoped_select
from repairqc.admin.screens import (
    ScopedScreen,
    as_id,
    attempt,
    field_errors,
    load_scoped,
    staff,
    stores_for,
    validated,
)
from repairqc.complaints import services
from repairqc.complaints.forms import (
    ClassifyForm,
    CloseForm,
    ContactForm,
    ReassignForm,
    RegisterForm,
    ReopenForm,
    ResolveForm,
)
from repairqc.complaints.models import (
    OPEN_STATUSES,
    Complaint,
    ComplaintCategory,
    ComplaintChannel,
    ComplaintStatus,
    ContactMethod,
    ResolutionOutcome,
)
from repairqc.db import db, utcnow
from repairqc.errors import Conflict, DomainError
from repairqc.forms_base import store_choices
from repairqc.i18n import normalise_locale
from repairqc.privacy.access import log_data_access
from repairqc.repairs.models import Customer, RepairOrder
from repairqc.repairs.services import find_customers
from repairqc.stores.models import Store

#: Rows per list; the page says when there are more (filters narrow them down).
LIST_LIMIT = 300
#: The rework choice that opens a warranty rework of the complaint's order.
WARRANTY = "warranty"
NEW_CUSTOMER = "new"
_DAY = timedelta(days=1)


def handler_stores() -> list[Store]:
    """The active stores where the user handles complaints (HQ QA and owners: all)."""
    user = staff()
    return [s for s in stores_for("Complaint", active_only=True) if roles_at(user, s.id) & services.HANDLERS]


def chosen(options: list, raw: str | None):
    """The option whose id is `raw` among `options`; an id outside them is 404 (no probing)."""
    if not raw:
        return None
    found = next((o for o in options if o.id == as_id(raw)), None)
    if found is None:
        abort(404)
    return found


def check_complaint_version(complaint: Complaint) -> None:
    from repairqc.admin.screens import required_version

    if required_version() != complaint.version:
        raise Conflict(
            _("Someone else changed this complaint in the meantime. Reload the page and try again.")
        )


def category_choices(
    current: ComplaintCategory | None = None, *, blank: str | None = None
) -> list[tuple[str, str]]:
    categories = services.active_categories()
    if current is not None and current not in categories:
        categories.append(current)
    return [("", blank or _("Not classified")), *((str(c.id), c.label) for c in categories)]


def _category(raw: str | None) -> ComplaintCategory | None:
    category_id = as_id(raw)
    if category_id is None:
        return None
    category = db.session.get(ComplaintCategory, category_id)
    if category is None:
        raise DomainError(_("Unknown complaint category."), field="category")
    return category


class ComplaintsView(ScopedScreen):
    model_name = "Complaint"

    # --- the list ------------------------------------------------------------------------------

    @expose("/")
    def index(self):
        stores = stores_for("Complaint")
        store = chosen(stores, request.args.get("store"))
        state = request.args.get("state", "open")
        if state not in {"open", "overdue", "all", *(s.value for s in ComplaintStatus)}:
            state = "open"
        categories = list(
            db.session.execute(sa.select(ComplaintCategory).order_by(ComplaintCategory.id)).scalars()
        )
        category = chosen(categories, request.args.get("category"))
        now = utcnow()
        statement = scoped_select(Complaint)
        if store is not None:
            statement = statement.where(Complaint.store_id == store.id)
        if category is not None:
            statement = statement.where(Complaint.category_id == category.id)
        if state == "open":
            statement = statement.where(Complaint.status.in_(OPEN_STATUSES))
        elif state == "overdue":
            statement = statement.where(
                Complaint.status == ComplaintStatus.RECEIVED, Complaint.first_contact_due_at <= now
            )
        elif state != "all":
            statement = statement.where(Complaint.status == ComplaintStatus(state))
        total = db.session.execute(sa.select(sa.func.count()).select_from(statement.subquery())).scalar_one()
        warning = timedelta(hours=services.warning_hours(now.date()))
        complaints = list(
            db.session.execute(
                statement.options(
                    joinedload(Complaint.store),
                    joinedload(Complaint.category),
                    joinedload(Complaint.customer),
                    joinedload(Complaint.responsible),
                )
                .order_by(
                    (Complaint.status == ComplaintStatus.RECEIVED).desc(),
                    Complaint.first_contact_due_at,
                    Complaint.id.desc(),
                )
                .limit(LIST_LIMIT)
            ).scalars()
        )
        return self.render(
            "complaints/list.html",
            complaints=complaints,
            total=total,
            deadlines={c.id: services.describe_deadline(c, now, warning) for c in complaints},
            when=services.local_short,
            stores=stores,
            categories=categories,
            statuses=list(ComplaintStatus),
            filters={"store": store, "state": state, "category": category},
            can_register=bool(handler_stores()),
        )

    # --- registering one -----------------------------------------------------------------------

    @expose("/new", methods=("GET", "POST"))
    def new(self):
        stores = handler_stores()
        if not stores:
            abort(403)
        query = request.args.get("q", "").strip()[:200]
        matches, order_found = self._search(query, stores)
        posting = request.method == "POST"
        form = RegisterForm(request.form if posting else None, data=self._initial(stores, order_found))
        form.store.choices = store_choices(stores)
        form.category.choices = category_choices()
        customer_ids = {c.id for c in matches}
        if posting and as_id(request.form.get("customer")) is not None:
            customer_ids.add(as_id(request.form.get("customer")))
        visible = self._visible_customers(customer_ids)
        form.customer.choices = [*((str(c.id), self._customer_label(c)) for c in visible),
                                 (NEW_CUSTOMER, _("A new customer: enter the contact details"))]  # fmt: skip
        if not posting:
            if len(visible) == 1:
                form.customer.data = str(visible[0].id)
            elif not form.customer.data:
                form.customer.data = NEW_CUSTOMER
            return self.render("complaints/new.html", form=form, query=query, matches=matches,
                               refusal_messages=[])  # fmt: skip
        created: dict = {}

        def register() -> None:
            validated(form)
            store = next(s for s in stores if str(s.id) == form.store.data)
            customer = (
                visible_by_id.get(as_id(form.customer.data)) if form.customer.data != NEW_CUSTOMER else None
            )
            order = self._order(form.order_number.data, store)
            complaint = services.open_complaint(
                store=store,
                channel=ComplaintChannel(form.channel.data),
                description=form.description.data,
                category=_category(form.category.data),
                customer=customer,
                order=order,
                contact_name=form.contact_name.data,
                contact_phone=form.contact_phone.data,
                contact_email=form.contact_email.data,
                language=form.language.data if customer is None else None,
                actor=staff(),
            )
            created["id"], created["number"] = complaint.id, complaint.number

        visible_by_id = {c.id: c for c in visible}
        error = attempt(register)
        if error is None:
            flash(_("Complaint %(number)s is registered; the customer was sent its number.",
                    number=created["number"]), "success")  # fmt: skip
            return redirect(url_for(".complaint", complaint_id=created["id"]))
        messages = field_errors(form, error, {"order": "order_number"})
        return self.render(
            "complaints/new.html", form=form, query=query, matches=matches, refusal_messages=messages
        ), error.status_code

    @staticmethod
    def _initial(stores: list[Store], order: RepairOrder | None) -> dict:
        data = {"language": normalise_locale(str(get_locale())) or "en"}
        raw = request.args.get("store", "")
        if raw and any(str(s.id) == raw for s in stores):
            data["store"] = raw
        if order is not None:
            data.update(store=str(order.store_id), order_number=order.number, customer=str(order.customer_id))
        return data

    @staticmethod
    def _customer_label(customer: Customer) -> str:
        from repairqc.repairs.intake_views import masked

        contact = " · ".join(filter(None, [masked(customer.phone), masked(customer.email)]))
        return f"{customer.full_name} ({contact})" if contact else customer.full_name

    @staticmethod
    def _visible_customers(ids: set[int]) -> list[Customer]:
        if not ids:
            return []
        return list(
            db.session.execute(
                scoped_select(Customer).where(Customer.id.in_(ids)).order_by(Customer.full_name)
            ).scalars()
        )

    @staticmethod
    def _search(query: str, stores: list[Store]) -> tuple[list[Customer], RepairOrder | None]:
        """Customers by exact phone or e-mail or part of the name; an order by its number."""
        if not query:
            return [], None
        order = db.session.execute(
            scoped_select(RepairOrder).where(
                sa.func.upper(RepairOrder.number) == query.upper(),
                RepairOrder.store_id.in_([s.id for s in stores]),
            )
        ).scalar_one_or_none()
        customers = find_customers(query, current_grants().stores_for("Customer", Action.VIEW))
        if order is not None and order.customer not in customers:
            customers.insert(0, order.customer)
        return customers, order

    @staticmethod
    def _order(number: str | None, store: Store) -> RepairOrder | None:
        if not number:
            return None
        order = db.session.execute(
            sa.select(RepairOrder).where(
                RepairOrder.store_id == store.id, sa.func.upper(RepairOrder.number) == number.upper()
            )
        ).scalar_one_or_none()
        if order is None:
            raise DomainError(_("%(store)s has no order %(number)s.", store=store.code, number=number),
                              field="order_number")  # fmt: skip
        return order

    # --- one complaint ---------------------------------------------------------------------------

    @expose("/<int:complaint_id>/")
    def complaint(self, complaint_id: int):
        return self._page(load_scoped(Complaint, complaint_id))

    @expose("/<int:complaint_id>/<step>", methods=("POST",))
    def act(self, complaint_id: int, step: str):
        handler = STEPS.get(step)
        if handler is None:
            abort(404)
        run_step, done = handler
        forms: dict[str, Form] = {}

        def run() -> None:
            complaint = load_scoped(Complaint, complaint_id, for_update=True)
            form = FORMS[step](request.form, prefix=step)
            self._fill(step, form, complaint)
            forms[step] = form
            check_complaint_version(complaint)
            validated(form)
            run_step(complaint, form)

        error = attempt(run)
        if error is None:
            flash(str(done), "success")
            return redirect(url_for(".complaint", complaint_id=complaint_id))
        form = forms.get(step)
        messages = field_errors(form, error, ALIASES) if form is not None else [error.message]
        db.session.expire_all()
        return self._page(
            load_scoped(Complaint, complaint_id), submitted=forms, refusal_messages=messages
        ), error.status_code

    @staticmethod
    def _fill(step: str, form: Form, complaint: Complaint) -> None:
        """The choices that depend on the complaint (people of its store, orders, categories)."""
        if step == "resolve":
            choices = [("", "—")]
            if complaint.order is not None:
                choices.append(
                    (WARRANTY, _("Open a warranty rework of %(number)s", number=complaint.order.number))
                )
            choices += [(str(o.id), f"{o.number} · {o.device.brand} {o.device.model}")
                        for o in services.rework_choices(complaint)]  # fmt: skip
            form.rework.choices = choices
        elif step == "reassign":
            form.responsible.choices = [("", "—")] + [
                (str(p.id), p.full_name) for p in services.responsible_candidates(complaint.store)
            ]
        elif step == "classify":
            form.category.choices = category_choices(complaint.category)

    def _page(self, complaint: Complaint, *, submitted: dict[str, Form] | None = None, refusal_messages=None):
        user, now = staff(), utcnow()
        handler = services.may_handle(user, complaint)
        manager = services.may_manage(user, complaint)
        status = complaint.status
        show = {
            "contact": handler and status is not ComplaintStatus.CLOSED,
            "resolve": handler and status is ComplaintStatus.CONTACTED,
            "reassign": manager and complaint.is_open,
            "classify": handler and complaint.is_open,
            "close": manager and status is ComplaintStatus.RESOLVED,
            "reopen": handler and status in (ComplaintStatus.RESOLVED, ComplaintStatus.CLOSED),
        }
        submitted = submitted or {}
        for key in submitted:
            show[key] = True
        defaults = {
            "classify": {"category": str(complaint.category_id or "")},
            "reassign": {"responsible": str(complaint.responsible_id or "")},
            "contact": {"channel": ContactMethod.PHONE.value},
            "resolve": {"outcome": ResolutionOutcome.NONE.value},
        }
        forms = {}
        for key in FORMS:
            if not show[key]:
                continue
            form = submitted.get(key) or FORMS[key](prefix=key, data=defaults.get(key))
            self._fill(key, form, complaint)
            forms[key] = form
        # HB §7.3.1: the page shows the complainant's contact details.
        log_data_access("view", "complaint", record_id=complaint.id)
        return self.render(
            "complaints/complaint.html",
            complaint=complaint,
            deadline=services.describe_deadline(complaint, now),
            due=services.local_moment(complaint.first_contact_due_at, complaint.store),
            when=lambda moment: services.local_moment(moment, complaint.store),
            show=show,
            forms=forms,
            refusal_messages=refusal_messages or [],
            refusal_on_field=refusal_messages == [],
            events=complaint.events,
            contacts=sorted(complaint.contacts, key=lambda c: (c.at, c.id)),
            S=ComplaintStatus,
            can_see_customer=complaint.customer is not None
            and current_grants().can("Customer", Action.VIEW)
            and (
                current_grants().stores_for("Customer", Action.VIEW) is None
                or complaint.customer.store_id in current_grants().stores_for("Customer", Action.VIEW)
            ),
            unconfirmed_from=services.local_moment(
                complaint.resolved_at + services.UNCONFIRMED_CLOSE_AFTER_DAYS * _DAY, complaint.store
            ) if complaint.resolved_at else None,
        )  # fmt: skip


def _local_to_utc(value: datetime | None, store: Store) -> datetime | None:
    """A time typed in the store's time zone, as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=services.store_zone(store)).astimezone(UTC)


def _contact(complaint: Complaint, form: ContactForm) -> None:
    services.log_contact(
        complaint,
        staff(),
        channel=ContactMethod(form.channel.data),
        note=form.note.data,
        at=_local_to_utc(form.at.data, complaint.store),
    )


def _resolve(complaint: Complaint, form: ResolveForm) -> None:
    rework = form.rework.data or ""
    order = None
    if rework not in ("", WARRANTY):
        order = db.session.get(RepairOrder, int(rework))  # one of the choices (validated)
    services.resolve(
        complaint,
        staff(),
        resolution=form.resolution.data,
        outcome=ResolutionOutcome(form.outcome.data),
        rework_order=order,
        warranty_rework=rework == WARRANTY,
        refund_cents=form.refund_cents,
    )


def _reassign(complaint: Complaint, form: ReassignForm) -> None:
    services.reassign(
        complaint, staff(), db.session.get(StaffUser, int(form.responsible.data)), note=form.note.data
    )


def _classify(complaint: Complaint, form: ClassifyForm) -> None:
    services.classify(complaint, staff(), _category(form.category.data))


def _close(complaint: Complaint, form: CloseForm) -> None:
    services.close(complaint, staff(), confirmed_by_phone=form.how.data == "phone", note=form.note.data)


def _reopen(complaint: Complaint, form: ReopenForm) -> None:
    services.reopen(complaint, staff(), reason=form.reason.data)


#: The forms of the complaint page, by prefix (also the URL segment of its POST).
FORMS: dict[str, type[Form]] = {
    "contact": ContactForm,
    "resolve": ResolveForm,
    "reassign": ReassignForm,
    "classify": ClassifyForm,
    "close": CloseForm,
    "reopen": ReopenForm,
}
STEPS: dict[str, tuple[Callable[[Complaint, Form], None], object]] = {
    "contact": (_contact, _l("The contact is logged.")),
    "resolve": (_resolve, _l("The resolution is recorded; the customer is asked to confirm it.")),
    "reassign": (_reassign, _l("The complaint has been passed on.")),
    "classify": (_classify, _l("The category is saved.")),
    "close": (_close, _l("The complaint is closed.")),
    "reopen": (_reopen, _l("The complaint is reopened.")),
}
#: A service's field name → the form's.
ALIASES = {"rework_order": "rework", "refund": "refund", "reason": "reason", "at": "at"}


def register_complaints_views(admin) -> None:
    from repairqc.chapters import add_screens

    add_screens(
        admin,
        "ch9",
        (ComplaintsView, _l("Customer complaints"), "customer_complaints", "/admin/customer-complaints"),
    )
