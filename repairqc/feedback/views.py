"""The screens of follow-ups, surveys and the customer profile, under "Ch.6 Customer service".

* `FollowUpsView` (/admin/follow-ups/): the front desk's list of follow-ups overdue, due today
  and due in the next days, per store (HQ picks the store), each row with the customer's
  history (last orders, last survey, open complaints, a link to the profile); one follow-up's
  page records a try (channel, outcome, notes; "not reached" is retried or closed; a problem
  reported opens a complaint).
* `SurveysView` (/admin/surveys/): surveys to take by phone or on site (no channel, or sent and
  not answered), recent answers; one order's survey page, where the front desk or a manager
  enters a response taken by phone, on a visit or on paper (HB §6.3.1).
* `CustomerProfileView` (/admin/customer-profile/<id>/): the customer profile of HB §6.2.2(3):
  contact details, every order, follow-ups, surveys, complaints, messages sent, and one
  timeline across channels; each section shows only the stores whose rows the user may see.

Thin (aesthetics.md §7): each POST loads its record locked within the user's stores (404
otherwise), checks the page's `version` (409 when stale), calls the service in one unit of work
and redirects; a refusal re-renders the page with the input and the message, nothing saved.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from babel import dates as babel_dates
from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from repairqc.accounts.permissions import Action, current_grants
from repairqc.accounts.scoping import scoped_select
from repairqc.admin.screens import (
    ScopedScreen,
    as_id,
    attempt,
    field_errors,
    load_scoped,
    required_version,
    staff,
    stores_for,
    today,
    validated,
)
from repairqc.db import db, utcnow
from repairqc.errors import Conflict, DomainError
from repairqc.feedback import services
from repairqc.feedback.forms import ComplaintForm, FollowUpForm, StaffSurveyForm, complaint_categories
from repairqc.feedback.models import (
    DIMENSIONS,
    FollowUp,
    FollowUpAttempt,
    FollowUpOutcome,
    SatisfactionSurvey,
    SurveyStatus,
)
from repairqc.privacy.access import log_data_access
from repairqc.repairs.models import Customer, RepairOrder
from repairqc.repairs.models import RepairOrderStatus as S
from repairqc.stores.models import Store

#: Rows per list; the page says when there are more (the store filter narrows them down).
LIST_LIMIT = 300
#: The due list shows what is due within this many days.
NEXT_DAYS = 7
#: Orders of a customer shown on a due-list row.
HISTORY_ORDERS = 3


def chosen_store(stores: list[Store]) -> Store | None:
    """?store=<id> among the user's stores; one outside them is 404 (no probing)."""
    raw = request.args.get("store", "")
    if not raw:
        return None
    store = next((s for s in stores if s.id == as_id(raw)), None)
    if store is None:
        abort(404)
    return store


def visible_store_ids(model: str) -> set[int] | None:
    """The stores whose `model` rows the user may see: None for every store, an empty set for none."""
    return current_grants().stores_for(model, Action.VIEW)


def may_see(model: str, store_id: int) -> bool:
    allowed = visible_store_ids(model)
    return allowed is None or store_id in allowed


def complaints_visible(customer: Customer) -> list:
    """The customer's complaints at the stores whose complaints the user may see."""
    from repairqc.complaints.services import complaints_of

    if not current_grants().can("Complaint", Action.VIEW):
        return []
    return [c for c in complaints_of(customer) if may_see("Complaint", c.store_id)]


def find_complaint(customer: Customer, complaint_id: int):
    return next((c for c in complaints_visible(customer) if c.id == complaint_id), None)


@dataclass
class History:
    """A customer at a glance, for a due-list row (HB §6.2.2 "with the customer's history")."""

    orders: list[RepairOrder] = field(default_factory=list)
    more_orders: int = 0
    last_survey: SatisfactionSurvey | None = None
    open_complaints: list = field(default_factory=list)


def histories(customers: list[Customer]) -> dict[int, History]:
    """Each customer's last orders and last answered survey (two statements for all of them) and
    open complaints, within the user's stores."""
    ids = [c.id for c in customers]
    found = {customer_id: History() for customer_id in ids}
    if not ids:
        return found
    for order in db.session.scalars(
        scoped_select(RepairOrder)
        .where(RepairOrder.customer_id.in_(ids))
        .order_by(RepairOrder.received_at.desc(), RepairOrder.id.desc())
    ):
        history = found[order.customer_id]
        if len(history.orders) < HISTORY_ORDERS:
            history.orders.append(order)
        else:
            history.more_orders += 1
    if current_grants().can("SatisfactionSurvey", Action.VIEW):
        for survey in db.session.scalars(
            scoped_select(SatisfactionSurvey)
            .where(SatisfactionSurvey.customer_id.in_(ids), SatisfactionSurvey.answered_at.is_not(None))
            .order_by(SatisfactionSurvey.answered_at.desc())
        ):
            found[survey.customer_id].last_survey = found[survey.customer_id].last_survey or survey
    if current_grants().can("Complaint", Action.VIEW):
        from repairqc.complaints.models import OPEN_STATUSES, Complaint

        for complaint in db.session.scalars(
            scoped_select(Complaint)
            .where(Complaint.customer_id.in_(ids), Complaint.status.in_(OPEN_STATUSES))
            .order_by(Complaint.received_at.desc(), Complaint.id.desc())
        ):
            found[complaint.customer_id].open_complaints.append(complaint)
    return found


def local_time(moment: datetime | None, store: Store | None) -> str:
    """A stored moment as the store's wall clock shows it (HB §6.2.2: the customer and the desk
    talk in the shop's time, not UTC); UTC for a row without a store."""
    if moment is None:
        return ""
    zone = services.store_zone(store) if store is not None else UTC
    return babel_dates.format_datetime(services.aware(moment), "short", tzinfo=zone, locale=get_locale())


def check_follow_up_version(follow_up: FollowUp) -> None:
    if required_version() != follow_up.version:
        raise Conflict(
            _("Someone else recorded this follow-up in the meantime. Reload the page and try again.")
        )


# --- follow-ups (HB §6.2.2) ---------------------------------------------------------------------------


class FollowUpsView(ScopedScreen):
    model_name = "FollowUp"

    @expose("/")
    def index(self):
        stores = stores_for("FollowUp")
        store = chosen_store(stores)
        # "Today" is each store's own calendar day (a store in Shanghai starts its day 8 hours
        # before UTC does).
        now = utcnow()
        days = {s.id: services.local_day(s, now) for s in stores}
        day = days[store.id] if store is not None else max(days.values(), default=today())
        store_ids = {store.id} if store is not None else visible_store_ids("FollowUp")
        entries = services.due_follow_ups(store_ids, day + timedelta(days=NEXT_DAYS), limit=LIST_LIMIT + 1)
        more = len(entries) > LIST_LIMIT
        entries = entries[:LIST_LIMIT]
        customers = list({e.customer_id: e.customer for e in entries}.values())

        def local(entry: FollowUp):
            return days.get(entry.store_id, day)

        sections = [
            ("overdue", _("Overdue"), [e for e in entries if e.due_on < local(e)]),
            ("today", _("Due today"), [e for e in entries if e.due_on == local(e)]),
            (
                "next",
                _("Due in the next %(num)s days", num=NEXT_DAYS),
                [e for e in entries if local(e) < e.due_on <= local(e) + timedelta(days=NEXT_DAYS)],
            ),
        ]
        if customers:  # the list shows each customer's phone number (HB §7.3.1)
            log_data_access("view", "customer_list", detail=f"follow-ups, {len(customers)} customers")
        return self.render(
            "feedback/follow_ups.html",
            stores=stores,
            filters={"store": store},
            sections=sections,
            histories=histories(customers),
            more=more,
            day=day,
            days=days,
        )

    @expose("/<int:follow_up_id>/")
    def show(self, follow_up_id: int):
        return self._page(load_scoped(FollowUp, follow_up_id))

    @expose("/<int:follow_up_id>/record", methods=("POST",))
    def record(self, follow_up_id: int):
        form = FollowUpForm(request.form, prefix="record")

        def run() -> None:
            follow_up = load_scoped(FollowUp, follow_up_id, for_update=True)
            check_follow_up_version(follow_up)
            validated(form)
            services.record_follow_up(
                follow_up,
                staff(),
                channel=form.channel_value(),
                outcome=form.outcome_value(),
                notes=form.notes.data,
                give_up=bool(form.give_up.data),
                complaint_category_id=form.complaint_category_value(),
                today=services.local_day(follow_up.store),
            )

        error = attempt(run)
        if error is None:
            flash(_("The follow-up is recorded."), "success")
            return redirect(url_for(".show", follow_up_id=follow_up_id))
        messages = field_errors(form, error, {"category": "complaint_category"})
        db.session.expire_all()
        return self._page(
            load_scoped(FollowUp, follow_up_id), record_form=form, refusal_messages=messages
        ), error.status_code

    @expose("/<int:follow_up_id>/complaint", methods=("POST",))
    def complaint(self, follow_up_id: int):
        form = ComplaintForm(request.form, prefix="complaint")
        opened: dict = {}

        def run() -> None:
            follow_up = load_scoped(FollowUp, follow_up_id, for_update=True)
            check_follow_up_version(follow_up)
            validated(form)
            opened["number"] = services.complaint_from_follow_up(
                follow_up, staff(), category_id=form.complaint_category.data
            ).number

        error = attempt(run)
        if error is None:
            flash(_("Complaint %(number)s is open.", number=opened["number"]), "success")
            return redirect(url_for(".show", follow_up_id=follow_up_id))
        messages = field_errors(form, error, {"category": "complaint_category"})
        db.session.expire_all()
        return self._page(
            load_scoped(FollowUp, follow_up_id), complaint_form=form, refusal_messages=messages
        ), error.status_code

    def _page(self, follow_up: FollowUp, *, record_form=None, complaint_form=None, refusal_messages=None):
        user = staff()
        recorder = services.may_record(user, follow_up.store_id)
        show_record = recorder and follow_up.is_open
        show_complaint = (
            recorder
            and follow_up.outcome is FollowUpOutcome.PROBLEM
            and follow_up.complaint_id is None
            and not follow_up.is_open
        )
        attempts = list(
            db.session.scalars(
                sa.select(FollowUpAttempt)
                .where(FollowUpAttempt.follow_up_id == follow_up.id)
                .options(joinedload(FollowUpAttempt.by))
                .order_by(FollowUpAttempt.id)
            )
        )
        complaint = None
        if follow_up.complaint_id is not None:
            complaint = find_complaint(follow_up.customer, follow_up.complaint_id)
        if show_record or record_form:
            record_form = record_form or FollowUpForm(prefix="record")
            record_form.complaint_category.choices = complaint_categories()
        if show_complaint or complaint_form:
            complaint_form = complaint_form or ComplaintForm(prefix="complaint")
            complaint_form.complaint_category.choices = complaint_categories()
        log_data_access(
            "view", "follow_up", record_id=follow_up.id, detail=f"customer {follow_up.customer_id}"
        )  # the page shows the customer's phone and e-mail (HB §7.3.1)
        return self.render(
            "feedback/follow_up.html",
            follow_up=follow_up,
            order=follow_up.order,
            customer=follow_up.customer,
            history=histories([follow_up.customer])[follow_up.customer_id],
            attempts=attempts,
            complaint=complaint,
            record_form=record_form,
            complaint_form=complaint_form,
            refusal_messages=refusal_messages or [],
            refusal_on_field=refusal_messages == [],
            day=services.local_day(follow_up.store),
            when=local_time,
        )


# --- surveys (HB §6.3) ------------------------------------------------------------------------------------


class SurveysView(ScopedScreen):
    model_name = "SatisfactionSurvey"

    @expose("/")
    def index(self):
        stores = stores_for("SatisfactionSurvey")
        store = chosen_store(stores)
        base = scoped_select(SatisfactionSurvey).options(
            joinedload(SatisfactionSurvey.order), joinedload(SatisfactionSurvey.customer)
        )
        if store is not None:
            base = base.where(SatisfactionSurvey.store_id == store.id)
        now = utcnow()
        to_ask = list(
            db.session.scalars(
                base.where(
                    SatisfactionSurvey.answered_at.is_(None),
                    SatisfactionSurvey.status.in_((SurveyStatus.NO_CHANNEL, SurveyStatus.SENT)),
                )
                .order_by(SatisfactionSurvey.sent_at, SatisfactionSurvey.id)
                .limit(LIST_LIMIT)
            )
        )
        answered = list(
            db.session.scalars(
                base.where(SatisfactionSurvey.answered_at >= now - timedelta(days=30))
                .order_by(SatisfactionSurvey.answered_at.desc())
                .limit(LIST_LIMIT)
            )
        )
        return self.render(
            "feedback/surveys.html",
            stores=stores,
            filters={"store": store},
            to_ask=to_ask,
            answered=answered,
            now=now,
            labels=services.dimension_labels(),
            dimensions=DIMENSIONS,
            when=local_time,
        )

    @expose("/order/<int:order_id>/", methods=("GET", "POST"))
    def order(self, order_id: int):
        order = load_scoped(RepairOrder, order_id)
        survey = services.survey_of(order)
        if survey is not None and not may_see("SatisfactionSurvey", survey.store_id):
            abort(404)
        if request.method == "GET":
            return self._page(order, survey)
        form = StaffSurveyForm(request.form, prefix="survey")
        done: dict = {}

        def run() -> None:
            locked_order = load_scoped(RepairOrder, order_id)
            target = services.survey_of(locked_order)
            if target is None:
                target = self._survey_for_old_delivery(locked_order)
            elif required_version() != target.version:
                raise Conflict(
                    _("Someone else changed this survey in the meantime. Reload the page and try again.")
                )
            validated(form)
            done["answered"] = services.enter_response(
                target, staff(), form.answers(), channel=form.channel_value()
            )
            done["complaint"] = done["answered"].complaint.number if done["answered"].complaint else None

        error = attempt(run)
        if error is None:
            flash(_("The survey answer is recorded."), "success")
            if done["complaint"]:
                flash(_("The low score opened complaint %(number)s.", number=done["complaint"]), "warning")
            return redirect(url_for(".order", order_id=order_id))
        messages = field_errors(form, error)
        db.session.expire_all()
        order = load_scoped(RepairOrder, order_id)
        return self._page(
            order, services.survey_of(order), form=form, refusal_messages=messages
        ), error.status_code

    @staticmethod
    def _survey_for_old_delivery(order: RepairOrder) -> SatisfactionSurvey:
        """An order delivered before surveys existed gets its survey (only that: no follow-ups
        overdue for months) when staff enter an answer."""
        if order.delivered_at is None or order.status not in (S.DELIVERED, S.CLOSED):
            raise DomainError(_("Only a delivered repair has a satisfaction survey."))
        return services.ensure_survey(order)

    def _page(
        self, order: RepairOrder, survey: SatisfactionSurvey | None, *, form=None, refusal_messages=None
    ):
        user = staff()
        delivered = order.delivered_at is not None and order.status in (S.DELIVERED, S.CLOSED)
        can_enter = (
            services.may_record(user, order.store_id) and delivered and not (survey and survey.is_answered)
        )
        complaint = None
        if survey is not None and survey.complaint_id is not None:
            complaint = find_complaint(order.customer, survey.complaint_id)
        return self.render(
            "feedback/survey.html",
            order=order,
            survey=survey,
            complaint=complaint,
            form=(form or StaffSurveyForm(prefix="survey")) if can_enter or form else None,
            refusal_messages=refusal_messages or [],
            refusal_on_field=refusal_messages == [],
            labels=services.dimension_labels(),
            dimensions=DIMENSIONS,
            delivered=delivered,
            when=local_time,
        )


# --- the customer profile (HB §6.2.2(3)) --------------------------------------------------------------------


@dataclass(frozen=True)
class Moment:
    """One line of the profile's timeline."""

    at: datetime
    kind: str
    text: str
    href: str | None = None
    store: Store | None = None
    #: `at` on the wall clock of the row's store (the customer's store for rows without one).
    when: str = ""


_aware = services.aware


class CustomerProfileView(ScopedScreen):
    model_name = "Customer"

    def is_visible(self) -> bool:
        return False  # reached from an order or a list, not from the menu

    @expose("/")
    def index(self):
        return redirect(url_for("customers.index_view"))

    @expose("/<int:customer_id>/")
    def show(self, customer_id: int):
        customer = load_scoped(Customer, customer_id)
        grants = current_grants()
        orders = list(
            db.session.scalars(
                scoped_select(RepairOrder)
                .where(RepairOrder.customer_id == customer.id)
                .options(joinedload(RepairOrder.device), joinedload(RepairOrder.store))
                .order_by(RepairOrder.received_at.desc(), RepairOrder.id.desc())
                .limit(LIST_LIMIT)
            )
        )
        follow_ups = None
        if grants.can("FollowUp", Action.VIEW):
            follow_ups = list(
                db.session.scalars(
                    scoped_select(FollowUp)
                    .where(FollowUp.customer_id == customer.id)
                    .options(joinedload(FollowUp.order), joinedload(FollowUp.store))
                    .order_by(FollowUp.due_on.desc(), FollowUp.id.desc())
                    .limit(LIST_LIMIT)
                )
            )
        attempts = []
        if follow_ups:
            attempts = list(
                db.session.scalars(
                    sa.select(FollowUpAttempt)
                    .where(FollowUpAttempt.follow_up_id.in_([f.id for f in follow_ups]))
                    .options(joinedload(FollowUpAttempt.follow_up), joinedload(FollowUpAttempt.store))
                )
            )
        surveys = None
        if grants.can("SatisfactionSurvey", Action.VIEW):
            surveys = list(
                db.session.scalars(
                    scoped_select(SatisfactionSurvey)
                    .where(SatisfactionSurvey.customer_id == customer.id)
                    .options(joinedload(SatisfactionSurvey.order), joinedload(SatisfactionSurvey.store))
                    .order_by(SatisfactionSurvey.id.desc())
                    .limit(LIST_LIMIT)
                )
            )
        complaints = complaints_visible(customer) if grants.can("Complaint", Action.VIEW) else None
        contacts = []
        if complaints:
            from repairqc.complaints.services import contacts_of

            shown = {c.id for c in complaints}
            contacts = [c for c in contacts_of(customer) if c.complaint_id in shown]
        messages = None
        if grants.can("CustomerMessage", Action.VIEW):
            from repairqc.notifications.services import messages_of

            messages = [m for m in messages_of(customer) if may_see("CustomerMessage", m.store_id)]
        log_data_access("view", "customer_profile", record_id=customer.id)  # HB §7.3.1
        return self.render(
            "feedback/profile.html",
            customer=customer,
            orders=orders,
            follow_ups=follow_ups,
            surveys=surveys,
            complaints=complaints,
            messages=messages,
            timeline=timeline(
                orders, attempts, surveys or [], complaints or [], messages or [], contacts, customer.store
            ),
            labels=services.dimension_labels(),
            dimensions=DIMENSIONS,
            may_edit=may_edit_customer(customer),
            day=today(),
            when=local_time,
        )


def may_edit_customer(customer: Customer) -> bool:
    allowed = current_grants().stores_for("Customer", Action.EDIT)
    return allowed is None or customer.store_id in allowed


def order_href(order_id: int) -> str:
    return url_for("repairs_order.show", order_id=order_id)


def timeline(orders, attempts, surveys, complaints, messages, contacts=(), home: Store | None = None):
    """Every contact and step across channels, newest first (HB §6.2.2 several channels): orders,
    follow-up tries, surveys, complaints and their contact log, messages sent."""
    moments: list[Moment] = []
    for order in orders:
        href = order_href(order.id)
        text = _("Order %(number)s received", number=order.number)
        moments.append(Moment(_aware(order.received_at), "order", text, href, order.store))
        if order.delivered_at is not None:
            text = _("Order %(number)s picked up", number=order.number)
            moments.append(Moment(_aware(order.delivered_at), "order", text, href, order.store))
    for attempt_ in attempts:
        text = _(
            "Follow-up (%(channel)s): %(outcome)s",
            channel=attempt_.channel.label,
            outcome=attempt_.outcome.label,
        )
        if attempt_.notes:
            text = f"{text} — {attempt_.notes}"
        href = url_for("feedback_follow_ups.show", follow_up_id=attempt_.follow_up_id)
        moments.append(Moment(_aware(attempt_.at), "follow_up", text, href, attempt_.store))
    for survey in surveys:
        href = url_for("feedback_surveys.order", order_id=survey.order_id)
        if survey.sent_at is not None:
            if survey.status is SurveyStatus.NO_CHANNEL:
                text = _(
                    "Survey of %(number)s not sent: no e-mail or text-message contact",
                    number=survey.order.number,
                )
            else:
                text = _("Survey of %(number)s: link sent", number=survey.order.number)
            moments.append(Moment(_aware(survey.sent_at), "survey", text, href, survey.store))
        if survey.answered_at is not None:
            text = _(
                "Survey of %(number)s answered (%(channel)s): average %(average)s of 5",
                number=survey.order.number,
                channel=survey.channel.label if survey.channel else "",
                average=f"{survey.average:.1f}" if survey.average is not None else "–",
            )
            moments.append(Moment(_aware(survey.answered_at), "survey", text, href, survey.store))
    for complaint in complaints:
        text = _(
            "Complaint %(number)s (%(channel)s): %(status)s",
            number=complaint.number,
            channel=complaint.channel.label,
            status=complaint.status.label,
        )
        moments.append(Moment(_aware(complaint.received_at), "complaint", text, None, complaint.store))
    for contact in contacts:
        text = _(
            "Complaint %(number)s, contact (%(channel)s): %(note)s",
            number=contact.complaint.number,
            channel=contact.channel.label,
            note=(contact.note or "")[:200],
        )
        moments.append(Moment(_aware(contact.at), "complaint_contact", text, None, contact.store))
    for message in messages:
        text = _(
            "Message (%(channel)s): %(text)s",
            channel=message.channel.label if message.channel else message.status.label,
            text=message.subject or (message.body or "")[:120],
        )
        moments.append(
            Moment(_aware(message.sent_at or message.created_at), "message", text, None, message.store)
        )
    moments = [dataclasses.replace(m, when=local_time(m.at, m.store or home)) for m in moments]
    return sorted(moments, key=lambda m: m.at, reverse=True)


def register_feedback_views(admin) -> None:
    from repairqc.chapters import add_screens

    add_screens(
        admin,
        "ch6",
        (FollowUpsView, _l("Follow-ups due"), "feedback_follow_ups", "/admin/follow-ups"),
        (SurveysView, _l("Satisfaction surveys to take"), "feedback_surveys", "/admin/surveys"),
        (CustomerProfileView, _l("Customer profile"), "customer_profile", "/admin/customer-profile"),
    )
