"""Inspection plans and the calendar (HB §8.2.1-§8.2.2).

* `PlanView` (/admin/inspections/plans/): the plans with their stores, inspector, next date
  and how many of their inspections are open or overdue (QA sees at a glance which plans are
  behind); the plan form for QA (owner, QA manager), read-only for the others who may see the
  plan; deactivating a plan; a one-off unannounced inspection.
* `CalendarView` (/admin/inspections/calendar/): a month of inspections by due date, coloured
  by status, overdue flagged, and the dates the plans will still generate shown as "planned".

A store's own staff must not learn of an unannounced inspection before it happens (HB §8.2.1):
`Inspection.store_scope` hides the inspections themselves; here an unannounced plan (its next
date, its projected dates) is shown only to HQ roles and to the plan's inspector.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import format_date
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from repairqc.accounts.models import StaffUser
from repairqc.accounts.permissions import Action, current_grants
from repairqc.accounts.scoping import scope_condition, scoped_select
from repairqc.admin.screens import (
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
from repairqc.db import db
from repairqc.inspections import services
from repairqc.inspections.forms import PlanForm, UnannouncedForm
from repairqc.inspections.inspection_views import (
    OPEN,
    SupervisionAccess,
    is_overdue,
    status_colour,
)
from repairqc.inspections.models import (
    Inspection,
    InspectionChecklist,
    InspectionKind,
    InspectionPlan,
    InspectionStatus,
    Recurrence,
)
from repairqc.stores.models import Chain, Region, Store


def load_plan(plan_id: int, action: Action = Action.VIEW, *, for_update: bool = False) -> InspectionPlan:
    """The plan if the user may `action` it (404 otherwise; `InspectionPlan.store_scope` hides
    unannounced plans from the store's staff)."""
    return load_scoped(InspectionPlan, plan_id, action=action, for_update=for_update)


def active_stores() -> list[Store]:
    return list(
        db.session.execute(sa.select(Store).where(Store.is_active.is_(True)).order_by(Store.code)).scalars()
    )


class PlanView(SupervisionAccess):
    model_name = "InspectionPlan"

    # --- the list ----------------------------------------------------------------------------------

    @expose("/")
    def index(self):
        plans = list(
            db.session.execute(
                scoped_select(InspectionPlan)
                .options(selectinload(InspectionPlan.stores), selectinload(InspectionPlan.inspector))
                .order_by(InspectionPlan.is_active.desc(), InspectionPlan.name, InspectionPlan.id)
            ).scalars()
        )
        counts = self._open_counts([plan.id for plan in plans])
        behind = sum(1 for plan in plans if counts.get(plan.id, (0, 0))[1])
        return self.render(
            "inspections/plans.html",
            plans=plans,
            counts=counts,
            behind=behind,
            can_edit=current_grants().can("InspectionPlan", Action.CREATE),
            format_date=format_date,
        )

    @staticmethod
    def _open_counts(plan_ids: list[int]) -> dict[int, tuple[int, int]]:
        """plan id -> (open inspections, overdue ones), counted in SQL among those the user sees."""
        if not plan_ids:
            return {}
        conditions = [Inspection.plan_id.in_(plan_ids), Inspection.status.in_(OPEN)]
        scope = scope_condition(Inspection, Action.VIEW)
        if scope is not None:
            conditions.append(scope)
        rows = db.session.execute(
            sa.select(
                Inspection.plan_id,
                sa.func.count(),
                sa.func.sum(sa.case((Inspection.due_on < today(), 1), else_=0)),
            )
            .where(*conditions)
            .group_by(Inspection.plan_id)
        )
        return {plan_id: (total, int(overdue or 0)) for plan_id, total, overdue in rows}

    # --- creating and editing ----------------------------------------------------------------------

    @expose("/new", methods=("GET",))
    def new(self):
        self._require_edit()
        form = self._form(None, formdata=None)
        form.starts_on.data = today()
        return self._page(None, form)

    @expose("/new", methods=("POST",))
    def create(self):
        self._require_edit()
        return self._save(None)

    @expose("/<int:plan_id>/", methods=("GET",))
    def show(self, plan_id: int):
        plan = load_plan(plan_id)
        return self._page(plan, self._filled_form(plan))

    @expose("/<int:plan_id>/", methods=("POST",))
    def update(self, plan_id: int):
        load_plan(plan_id, Action.EDIT)
        return self._save(plan_id)

    @expose("/<int:plan_id>/deactivate", methods=("POST",))
    def deactivate(self, plan_id: int):
        """Stop the plan making inspections; those already made stay as they are."""
        load_plan(plan_id, Action.EDIT)

        def run() -> None:
            plan = load_plan(plan_id, Action.EDIT, for_update=True)
            services.check_version(plan, required_version())
            services.deactivate_plan(plan, today())

        error = attempt(run)
        if error is not None:
            plan = load_plan(plan_id)
            return self._page(
                plan, self._filled_form(plan), messages=[error.message], status=error.status_code
            )
        flash(
            _("The plan is deactivated; it makes no more inspections, and those not yet due are withdrawn."),
            "success",
        )
        return redirect(url_for(".show", plan_id=plan_id))

    def _save(self, plan_id: int | None):
        existing = load_plan(plan_id) if plan_id is not None else None
        form = self._form(existing)
        outcome: dict = {}

        def run() -> None:
            validated(form)
            if plan_id is None:
                plan = InspectionPlan()
            else:
                plan = load_plan(plan_id, Action.EDIT, for_update=True)
                services.check_version(plan, required_version())
            plan.name = form.name.data.strip()
            plan.kind = InspectionKind(form.kind.data)
            plan.recurrence = Recurrence(form.recurrence.data)
            plan.checklist = InspectionChecklist(form.checklist.data)
            plan.starts_on = form.starts_on.data
            plan.ends_on = form.ends_on.data
            plan.inspector_id = form.inspector_id
            plan.notes = (form.notes.data or "").strip() or None
            made = services.save_plan(plan, self._chosen_stores(form), today=today())
            outcome.update(id=plan.id, made=len(made))

        error = attempt(run)
        if error is not None:
            plan = load_plan(plan_id) if plan_id is not None else None
            return self._page(plan, form, messages=field_errors(form, error), status=error.status_code)
        if outcome["made"]:
            flash(
                _("The plan is saved; %(count)s inspections are scheduled.", count=outcome["made"]), "success"
            )
        else:
            flash(_("The plan is saved."), "success")
        return redirect(url_for(".show", plan_id=outcome["id"]))

    @staticmethod
    def _chosen_stores(form: PlanForm) -> list[Store]:
        """The stores ticked plus, if chosen, every active store of the chain or region."""
        conditions = [Store.id.in_(form.store_ids)]
        group = form.group
        if group is not None:
            kind, ident = group
            conditions.append(Store.chain_id == ident if kind == "chain" else Store.region_id == ident)
        return list(
            db.session.execute(
                sa.select(Store).where(Store.is_active.is_(True), sa.or_(*conditions)).order_by(Store.code)
            ).scalars()
        )

    def _require_edit(self) -> None:
        if not current_grants().can("InspectionPlan", Action.CREATE):
            abort(403)

    @staticmethod
    def _form(plan: InspectionPlan | None, **kwargs) -> PlanForm:
        people = services.inspector_candidates()
        if plan is not None and plan.inspector is not None and plan.inspector not in people:
            people.append(plan.inspector)  # keep the current choice visible even if inactive now
        chains = db.session.execute(sa.select(Chain).where(Chain.is_active.is_(True)).order_by(Chain.name))
        regions = db.session.execute(sa.select(Region).order_by(Region.name))
        return PlanForm(
            inspectors=people,
            stores=active_stores(),
            chains=list(chains.scalars()),
            regions=list(regions.scalars()),
            **kwargs,
        )

    def _filled_form(self, plan: InspectionPlan) -> PlanForm:
        """The form showing the plan as stored."""
        form = self._form(plan, formdata=None, obj=plan)
        form.inspector.data = str(plan.inspector_id) if plan.inspector_id else ""
        form.stores.data = [str(store.id) for store in plan.stores]
        form.kind.data, form.recurrence.data = plan.kind.value, plan.recurrence.value
        form.checklist.data = plan.checklist.value
        return form

    def _page(
        self,
        plan: InspectionPlan | None,
        form: PlanForm,
        *,
        messages: list[str] | None = None,
        status: int = 200,
    ):
        if plan is not None:
            form.version.data = str(plan.version)
        inspections = []
        if plan is not None:
            inspections = list(
                db.session.execute(
                    scoped_select(Inspection)
                    .where(Inspection.plan_id == plan.id)
                    .options(selectinload(Inspection.store))
                    .order_by(Inspection.due_on.desc(), Inspection.id)
                    .limit(100)
                ).scalars()
            )
        editable = current_grants().can("InspectionPlan", Action.EDIT if plan is not None else Action.CREATE)
        page = self.render(
            "inspections/plan.html",
            plan=plan,
            form=form,
            editable=editable,
            messages=messages or [],
            inspections=inspections,
            is_overdue=is_overdue,
            status_colour=status_colour,
            format_date=format_date,
            ahead=services.SCHEDULE_AHEAD_DAYS,
        )
        return page, status

    # --- a one-off unannounced inspection (HB §8.2.1) ----------------------------------------------

    @expose("/unannounced", methods=("GET", "POST"))
    def unannounced(self):
        self._require_edit()
        if request.method == "GET":
            form = UnannouncedForm(
                formdata=None, inspectors=services.inspector_candidates(), stores=active_stores()
            )
            form.due_on.data = today()
            return self._unannounced_page(form)
        form = UnannouncedForm(inspectors=services.inspector_candidates(), stores=active_stores())
        created: dict = {}

        def run() -> None:
            validated(form)
            store = db.session.get(Store, int(form.store.data))
            inspector = db.session.get(StaffUser, int(form.inspector.data))
            inspection = services.schedule_unannounced(store, inspector, form.due_on.data, staff())
            created["id"] = inspection.id

        error = attempt(run)
        if error is not None:
            return self._unannounced_page(form, messages=field_errors(form, error), status=error.status_code)
        flash(_("The unannounced inspection is scheduled; the store does not see it."), "success")
        return redirect(url_for("inspections_work.show", inspection_id=created["id"]))

    def _unannounced_page(
        self, form: UnannouncedForm, *, messages: list[str] | None = None, status: int = 200
    ):
        return self.render("inspections/unannounced.html", form=form, messages=messages or []), status


# --- the calendar -------------------------------------------------------------------------------------------


@dataclass
class Planned:
    """A date a plan will still generate (`services.occurrences` beyond `next_occurrence_on`)."""

    plan: InspectionPlan
    stores: list[Store]


def month_of(raw: str | None) -> date:
    """?month=YYYY-MM, or this month when missing or garbage."""
    raw = (raw or "").strip()
    year, _sep, month = raw.partition("-")
    digits = year.isascii() and year.isdigit() and month.isascii() and month.isdigit()
    if digits and 1900 <= int(year) <= 2999 and 1 <= int(month) <= 12:
        return date(int(year), int(month), 1)
    return today().replace(day=1)


class CalendarView(SupervisionAccess):
    @expose("/")
    def index(self):
        first = month_of(request.args.get("month"))
        weeks = calendar.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month)
        start, end = weeks[0][0], weeks[-1][-1]
        stores = stores_for("Inspection", active_only=True)
        store_id = as_id(request.args.get("store"))
        if store_id not in {s.id for s in stores}:
            store_id = None
        statement = (
            scoped_select(Inspection)
            .where(Inspection.due_on.between(start, end))
            .options(selectinload(Inspection.store))
            .order_by(Inspection.due_on, Inspection.id)
        )
        if store_id is not None:
            statement = statement.where(Inspection.store_id == store_id)
        by_day: dict[date, list[Inspection]] = defaultdict(list)
        for inspection in db.session.execute(statement).scalars():
            by_day[inspection.due_on].append(inspection)
        planned = self._planned(start, end, {s.id for s in stores} if store_id is None else {store_id})
        previous = (first - timedelta(days=1)).replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        return self.render(
            "inspections/calendar.html",
            first=first,
            weeks=weeks,
            weekdays=[format_date(weeks[0][i], "EEE") for i in range(7)],
            by_day=by_day,
            planned=planned,
            stores=stores,
            store_id=store_id,
            today=today(),
            previous=previous.strftime("%Y-%m"),
            following=following.strftime("%Y-%m"),
            status_colour=status_colour,
            is_overdue=is_overdue,
            format_date=format_date,
            statuses=list(InspectionStatus),
        )

    @staticmethod
    def _planned(start: date, end: date, store_ids: set[int]) -> dict[date, list[Planned]]:
        """The dates active plans will still generate in [start, end], for the stores shown."""
        if not current_grants().can("InspectionPlan", Action.VIEW):
            return {}
        plans = db.session.execute(
            scoped_select(InspectionPlan)
            .where(
                InspectionPlan.is_active.is_(True),
                InspectionPlan.next_occurrence_on.is_not(None),
                InspectionPlan.next_occurrence_on <= end,
            )
            .options(selectinload(InspectionPlan.stores))
        ).scalars()
        planned: dict[date, list[Planned]] = defaultdict(list)
        for plan in plans:
            stores = [s for s in plan.stores if s.id in store_ids and s.is_active]
            if not stores:
                continue
            for day in services.occurrences(plan, max(start, plan.next_occurrence_on), end):
                planned[day].append(Planned(plan, stores))
        return planned
