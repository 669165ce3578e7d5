"""The emergency screens (HB §9.1-§9.2), under "Ch.9 Emergencies and complaints".

* `PlansView` (/admin/emergency/plans/): the plans by family with their versions; a version's
  page (content, drills, incidents that followed it); a new plan, editing and publishing a draft,
  starting a new draft from a published version (QA and the owner).
* `DrillsView` (/admin/emergency/drills/): the drills of the user's stores and recording one.
* `IncidentsView` (/admin/emergency/incidents/): the incidents of the user's stores, the report
  form for any member of staff, and the incident page: the plan's steps as a checklist, the
  alerts, the action log, take command, send customers an update now, the customers to call,
  and closing with a review (and a new draft of the plan).

Thin (aesthetics.md §7): each POST loads its record within the user's stores (404 otherwise),
locked for update, checks the hidden `version` the page showed (409 when stale), calls the
service in one unit of work and redirects; a refusal re-renders the page with what the user
typed and the message, with its status, nothing saved. The generated lists of the same records
stay at /admin/emergency_plans/, /admin/incidents/, ...
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload
from wtforms import Form

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
from repairqc.errors import DomainError
from repairqc.forms_base import store_choices
from repairqc.incidents import services
from repairqc.incidents.forms import (
    ActionForm,
    CloseForm,
    CommandForm,
    DrillForm,
    PlanForm,
    ReportForm,
    UpdateForm,
    int_or_none,
)
from repairqc.incidents.models import (
    EmergencyDrill,
    EmergencyPlan,
    Incident,
    IncidentStatus,
    PlanKind,
    PlanStatus,
    Severity,
)
from repairqc.privacy.access import log_data_access
from repairqc.stores.models import Store

#: Rows per list; the page says when there are more (filters narrow them down).
LIST_LIMIT = 300


def chosen_store(stores: list[Store]) -> Store | None:
    """?store=<id> among the user's stores; one outside them is 404 (no probing)."""
    raw = request.args.get("store", "")
    if not raw:
        return None
    store = next((s for s in stores if s.id == as_id(raw)), None)
    if store is None:
        abort(404)
    return store


# --- plans (HB §9.1) -----------------------------------------------------------------------------------


class PlansView(ScopedScreen):
    model_name = "EmergencyPlan"

    @expose("/")
    def index(self):
        plans = list(
            db.session.execute(
                scoped_select(EmergencyPlan)
                .options(joinedload(EmergencyPlan.store))
                .order_by(EmergencyPlan.code, EmergencyPlan.number)
                .limit(LIST_LIMIT)
            ).scalars()
        )
        families: dict[str, list[EmergencyPlan]] = {}
        for plan in plans:
            families.setdefault(plan.code, []).append(plan)
        rows = [
            {
                "code": code,
                "versions": versions,
                "active": next((v for v in versions if v.status is PlanStatus.ACTIVE), None),
                "draft": next((v for v in versions if v.status is PlanStatus.DRAFT), None),
                "newest": versions[-1],
            }
            for code, versions in families.items()
        ]
        return self.render(
            "incidents/plans.html", rows=rows, can_plan=services.may_plan(staff()), S=PlanStatus
        )

    @expose("/new", methods=("GET", "POST"))
    def new(self):
        if not services.may_plan(staff()):
            abort(403)
        form = self._form(request.form if request.method == "POST" else None)
        if request.method == "GET":
            form.update_interval_hours.data = None
            return self.render("incidents/plan_form.html", form=form, plan=None, refusal_messages=[])
        created: dict = {}

        def run() -> None:
            validated(form)
            plan = services.create_plan(staff(), form.code.data, self._content(form))
            created["id"] = plan.id

        error = attempt(run)
        if error is None:
            flash(_("The plan is saved as a draft; publish it to put it in force."), "success")
            return redirect(url_for(".show", plan_id=created["id"]))
        messages = field_errors(form, error, {"store_id": "store"})
        return self.render(
            "incidents/plan_form.html", form=form, plan=None, refusal_messages=messages
        ), error.status_code

    @expose("/<int:plan_id>/")
    def show(self, plan_id: int):
        return self._page(load_scoped(EmergencyPlan, plan_id))

    @expose("/<int:plan_id>/edit", methods=("GET", "POST"))
    def edit(self, plan_id: int):
        plan = load_scoped(EmergencyPlan, plan_id)
        if not services.may_plan(staff()):
            abort(403)
        if request.method == "GET":
            if plan.status is not PlanStatus.DRAFT:
                flash(_("A published version cannot change; start a new draft."), "warning")
                return redirect(url_for(".show", plan_id=plan_id))
            form = self._form(None, plan)
            return self.render("incidents/plan_form.html", form=form, plan=plan, refusal_messages=[])
        form = self._form(request.form)

        def run() -> None:
            record = load_scoped(EmergencyPlan, plan_id, for_update=True)
            version = required_version()
            validated(form)
            services.save_draft(record, staff(), self._content(form), expected_version=version)

        error = attempt(run)
        if error is None:
            flash(_("The draft is saved."), "success")
            return redirect(url_for(".show", plan_id=plan_id))
        messages = field_errors(form, error, {"store_id": "store"})
        db.session.expire_all()
        plan = load_scoped(EmergencyPlan, plan_id)
        return self.render(
            "incidents/plan_form.html", form=form, plan=plan, refusal_messages=messages
        ), error.status_code

    @expose("/<int:plan_id>/publish", methods=("POST",))
    def publish(self, plan_id: int):
        def run() -> None:
            plan = load_scoped(EmergencyPlan, plan_id, for_update=True)
            services.publish_plan(plan, staff(), expected_version=required_version(), now=utcnow())

        return self._step(
            plan_id, run, _("The version is published and in force; the previous one is superseded.")
        )

    @expose("/<int:plan_id>/new-draft", methods=("POST",))
    def new_draft(self, plan_id: int):
        made: dict = {}

        def run() -> None:
            plan = load_scoped(EmergencyPlan, plan_id)
            made["id"] = services.start_draft(plan, staff()).id

        error = attempt(run)
        if error is None:
            flash(_("A new draft is started from the version in force."), "success")
            return redirect(url_for(".show", plan_id=made["id"]))
        db.session.expire_all()
        return self._page(load_scoped(EmergencyPlan, plan_id), [error.message]), error.status_code

    def _step(self, plan_id: int, run, done: str):
        error = attempt(run)
        if error is None:
            flash(done, "success")
            return redirect(url_for(".show", plan_id=plan_id))
        db.session.expire_all()
        return self._page(load_scoped(EmergencyPlan, plan_id), [error.message]), error.status_code

    def _page(self, plan: EmergencyPlan, refusal_messages=None):
        drills = list(
            db.session.execute(
                scoped_select(EmergencyDrill)
                .where(EmergencyDrill.plan_id == plan.id)
                .options(joinedload(EmergencyDrill.store))
                .order_by(EmergencyDrill.held_on.desc(), EmergencyDrill.id.desc())
                .limit(LIST_LIMIT)
            ).scalars()
        )
        incidents = list(
            db.session.execute(
                scoped_select(Incident)
                .where(sa.or_(Incident.plan_id == plan.id, Incident.revision_plan_id == plan.id))
                .options(joinedload(Incident.store))
                .order_by(Incident.id.desc())
                .limit(LIST_LIMIT)
            ).scalars()
        )
        versions = list(
            db.session.execute(
                scoped_select(EmergencyPlan)
                .where(EmergencyPlan.code == plan.code)
                .order_by(EmergencyPlan.number.desc())
            ).scalars()
        )
        planner = services.may_plan(staff())
        has_draft = any(v.status is PlanStatus.DRAFT for v in versions)
        return self.render(
            "incidents/plan.html",
            plan=plan,
            versions=versions,
            drills=drills,
            incidents=incidents,
            roles=services.command_roles(plan),
            can_edit=planner and plan.status is PlanStatus.DRAFT,
            can_start_draft=planner and plan.status is not PlanStatus.DRAFT and not has_draft,
            refusal_messages=refusal_messages or [],
            S=PlanStatus,
            placeholders=services.PLACEHOLDERS,
        )

    @staticmethod
    def _form(formdata=None, plan: EmergencyPlan | None = None) -> PlanForm:
        form = PlanForm(formdata)
        stores = list(
            db.session.execute(
                sa.select(Store).where(Store.is_active.is_(True)).order_by(Store.code)
            ).scalars()
        )
        form.store.choices = [("", _("Every store")), *store_choices(stores)]
        if plan is not None and formdata is None:
            form.code.data = plan.code
            form.kind.data = plan.kind.value
            form.title.data = plan.title
            form.store.data = str(plan.store_id) if plan.store_id else ""
            form.command_roles.data = list(plan.command_roles)
            for name in (
                "rescue_team", "supplies", "warning_triggers", "response_steps", "rescue_measures",
                "customer_template_en", "customer_template_zh", "update_interval_hours", "notes",
            ):  # fmt: skip
                getattr(form, name).data = getattr(plan, name)
        return form

    @staticmethod
    def _content(form: PlanForm) -> services.PlanContent:
        kind = form.kind.data or ""
        if kind not in {k.value for k in PlanKind}:
            raise DomainError(_("Choose the kind of emergency."), field="kind")
        store_id = as_id(form.store.data) if form.store.data else None
        if form.store.data and store_id is None:
            raise DomainError(_("Choose an active store, or every store."), field="store_id")
        return services.PlanContent(
            kind=PlanKind(kind),
            title=form.title.data,
            store_id=store_id,
            command_roles=form.command_roles.data or [],
            response_steps=form.response_steps.data,
            customer_template_en=form.customer_template_en.data,
            customer_template_zh=form.customer_template_zh.data,
            update_interval_hours=form.update_interval_hours.data,
            rescue_team=form.rescue_team.data,
            supplies=form.supplies.data,
            warning_triggers=form.warning_triggers.data,
            rescue_measures=form.rescue_measures.data,
            notes=form.notes.data,
        )


# --- drills ---------------------------------------------------------------------------------------------


class DrillsView(ScopedScreen):
    model_name = "EmergencyDrill"

    @expose("/")
    def index(self):
        stores = stores_for("EmergencyDrill")
        store = chosen_store(stores)
        statement = scoped_select(EmergencyDrill)
        if store is not None:
            statement = statement.where(EmergencyDrill.store_id == store.id)
        drills = list(
            db.session.execute(
                statement.options(joinedload(EmergencyDrill.store), joinedload(EmergencyDrill.plan))
                .order_by(EmergencyDrill.held_on.desc(), EmergencyDrill.id.desc())
                .limit(LIST_LIMIT)
            ).scalars()
        )
        return self.render(
            "incidents/drills.html",
            drills=drills,
            stores=stores,
            filters={"store": store},
            can_record=bool(self._recording_stores()),
        )

    @staticmethod
    def _recording_stores() -> list[Store]:
        user = staff()
        return [
            s for s in stores_for("EmergencyDrill", active_only=True) if services.may_record_drill(user, s.id)
        ]

    @staticmethod
    def _plans(stores: list[Store]) -> list[EmergencyPlan]:
        ids = [s.id for s in stores]
        return list(
            db.session.execute(
                sa.select(EmergencyPlan)
                .where(
                    EmergencyPlan.status == PlanStatus.ACTIVE,
                    sa.or_(EmergencyPlan.store_id.is_(None), EmergencyPlan.store_id.in_(ids)),
                )
                .order_by(EmergencyPlan.code)
            ).scalars()
        )

    @expose("/new", methods=("GET", "POST"))
    def new(self):
        stores = {s.id: s for s in self._recording_stores()}
        if not stores:
            abort(403)
        plans = {p.id: p for p in self._plans(list(stores.values()))}
        form = DrillForm(request.form if request.method == "POST" else None)
        form.store.choices = store_choices(stores.values(), blank=True)
        form.plan.choices = [
            ("", "—"),
            *((str(p.id), f"{p.code} v{p.number} · {p.title}") for p in plans.values()),
        ]
        if request.method == "GET":
            form.held_on.data = today()
            form.store.data = request.args.get("store", "")
            form.plan.data = request.args.get("plan", "")
            return self.render("incidents/drill_form.html", form=form, refusal_messages=[])
        created: dict = {}

        def run() -> None:
            validated(form)
            drill = services.record_drill(
                staff(),
                plans[int(form.plan.data)],
                stores[int(form.store.data)],
                held_on=form.held_on.data,
                participants=form.participants.data,
                scenario=form.scenario.data,
                findings=form.findings.data,
                follow_up=form.follow_up.data,
                today=today(),
            )
            created["id"] = drill.id

        error = attempt(run)
        if error is None:
            flash(_("The drill is recorded."), "success")
            return redirect(url_for(".show", drill_id=created["id"]))
        messages = field_errors(form, error)
        return self.render(
            "incidents/drill_form.html", form=form, refusal_messages=messages
        ), error.status_code

    @expose("/<int:drill_id>/")
    def show(self, drill_id: int):
        drill = load_scoped(EmergencyDrill, drill_id)
        return self.render("incidents/drill.html", drill=drill)


# --- incidents (HB §9.2) --------------------------------------------------------------------------------


def store_local_to_utc(moment: datetime | None, store: Store) -> datetime:
    """A time typed in the store's clock, in UTC (empty: now)."""
    if moment is None:
        return utcnow()
    try:
        zone = ZoneInfo(store.timezone or "UTC")
    except (ValueError, KeyError, OSError):
        zone = ZoneInfo("UTC")
    return moment.replace(tzinfo=zone).astimezone(UTC)


def _store_time(store: Store, moment: datetime | None) -> str:
    """A moment as the store's clock shows it: times are typed in it (`store_local_to_utc`)."""
    return services.store_time(store, moment, str(get_locale())) if moment is not None else ""


class IncidentsView(ScopedScreen):
    model_name = "Incident"

    @expose("/")
    def index(self):
        stores = stores_for("Incident")
        store = chosen_store(stores)
        status = request.args.get("status", "open")
        if status not in {"open", "any", *(s.value for s in IncidentStatus)}:
            status = "open"
        statement = scoped_select(Incident)
        if store is not None:
            statement = statement.where(Incident.store_id == store.id)
        if status == "open":
            statement = statement.where(Incident.status != IncidentStatus.CLOSED)
        elif status != "any":
            statement = statement.where(Incident.status == IncidentStatus(status))
        incidents = list(
            db.session.execute(
                statement.options(joinedload(Incident.store), joinedload(Incident.commander))
                .order_by(Incident.reported_at.desc(), Incident.id.desc())
                .limit(LIST_LIMIT)
            ).scalars()
        )
        return self.render(
            "incidents/incidents.html",
            incidents=incidents,
            stores=stores,
            filters={"store": store, "status": status},
            statuses=list(IncidentStatus),
            can_report=bool(self._reporting_stores()),
            S=IncidentStatus,
            when=_store_time,
        )

    @staticmethod
    def _reporting_stores() -> list[Store]:
        user = staff()
        return [s for s in stores_for("Incident", active_only=True) if services.may_report(user, s.id)]

    @expose("/report", methods=("GET", "POST"))
    def report(self):
        stores = {s.id: s for s in self._reporting_stores()}
        if not stores:
            abort(403)
        form = ReportForm(request.form if request.method == "POST" else None)
        form.store.choices = store_choices(stores.values(), blank=len(stores) > 1)
        if request.method == "GET":
            if request.args.get("store"):
                form.store.data = request.args["store"]
            return self.render("incidents/report_form.html", form=form, refusal_messages=[])
        created: dict = {}

        def run() -> None:
            validated(form)
            store = stores[int(form.store.data)]
            incident = services.report_incident(
                staff(),
                store,
                kind=PlanKind(form.kind.data),
                severity=Severity(form.severity.data),
                description=form.description.data,
                occurred_at=store_local_to_utc(form.occurred_at.data, store),
                notify_customers=bool(form.notify_customers.data),
                now=utcnow(),
            )
            created.update(id=incident.id, plan=incident.plan_id, alerted=len(incident.alerts))

        error = attempt(run)
        if error is None:
            flash(
                _(
                    "The incident is reported; %(count)s people in command were alerted.",
                    count=created["alerted"],
                ),
                "success",
            )
            if created["plan"] is None:
                flash(
                    _("No emergency plan of this kind is in force for the store: lead the response by "
                      "judgement and write a plan afterwards."),
                    "warning",
                )  # fmt: skip
            return redirect(url_for(".show", incident_id=created["id"]))
        messages = field_errors(form, error)
        return self.render(
            "incidents/report_form.html", form=form, refusal_messages=messages
        ), error.status_code

    @expose("/<int:incident_id>/")
    def show(self, incident_id: int):
        return self._page(load_scoped(Incident, incident_id))

    @expose("/<int:incident_id>/<step>", methods=("POST",))
    def act(self, incident_id: int, step: str):
        if step not in INCIDENT_FORMS:
            abort(404)
        forms: dict[str, Form] = {}
        result: dict = {}

        def run() -> None:
            incident = load_scoped(Incident, incident_id, for_update=True)
            form = forms[step] = INCIDENT_FORMS[step](request.form, prefix=step)
            user, now = staff(), utcnow()
            if step == "action":
                validated(form)
                step_no = int_or_none(form.step.data) if form.step.data else None
                if form.step.data and step_no is None:
                    raise DomainError(_("Choose a step of the plan."), field="step")
                services.log_action(incident, user, what=form.what.data, step=step_no, now=now)
                return
            version = required_version()
            validated(form)
            if step == "command":
                services.take_command(incident, user, expected_version=version, now=now)
            elif step == "update":
                update = services.send_update(
                    incident, user, note=form.note.data, expected_version=version, now=now
                )
                result["recipients"] = update.recipients
            else:
                draft = services.close_incident(
                    incident,
                    user,
                    review=form.review.data,
                    revise_plan=bool(form.revise_plan.data),
                    expected_version=version,
                    now=now,
                )
                result["draft"] = draft.id if draft is not None else None

        error = attempt(run)
        if error is None:
            if step == "update":
                flash(
                    _("The update is on its way to %(count)s customers.", count=result["recipients"]),
                    "success",
                )
            elif step == "close" and result.get("draft"):
                flash(_("The incident is closed; a new draft of the plan is started."), "success")
            else:
                flash(str(INCIDENT_DONE[step]), "success")
            return redirect(url_for(".show", incident_id=incident_id))
        form = forms.get(step)
        messages = field_errors(form, error) if form is not None else [error.message]
        db.session.expire_all()
        return self._page(
            load_scoped(Incident, incident_id), submitted=forms, refusal_messages=messages
        ), error.status_code

    def _page(self, incident: Incident, *, submitted=None, refusal_messages=None):
        user = staff()
        open_ = incident.status is not IncidentStatus.CLOSED
        commander = services.may_command(user, incident)
        show = {
            "command": open_ and commander and incident.commander_id != user.id,
            "action": open_ and services.may_report(user, incident.store_id),
            "update": open_ and commander,
            "close": open_ and commander and incident.status is IncidentStatus.RESPONDING,
        }
        submitted = submitted or {}
        for key in submitted:
            show[key] = True
        forms = {
            key: submitted.get(key) or INCIDENT_FORMS[key](prefix=key) for key in INCIDENT_FORMS if show[key]
        }
        steps = incident.plan.steps if incident.plan is not None else []
        if "action" in forms:
            forms["action"].step.choices = [("", _("Not a plan step"))] + [
                (str(n), f"{n}. {text[:80]}") for n, text in enumerate(steps, start=1)
            ]
        to_call = services.customers_to_call(incident)
        if to_call:  # HB §7.3.1: the customers' names and phone numbers are on the page
            log_data_access("view", "incident_customers", record_id=incident.id, detail=str(len(to_call)))
        return self.render(
            "incidents/incident.html",
            incident=incident,
            plan=incident.plan,
            steps=steps,
            done=services.steps_done(incident),
            show=show,
            forms=forms,
            refusal_messages=refusal_messages or [],
            refusal_on_field=refusal_messages == [],
            affected=len(services.affected_customers(incident.store_id)) if open_ else None,
            to_call=to_call,
            command_roles=services.command_roles(incident.plan),
            S=IncidentStatus,
            when=lambda moment: _store_time(incident.store, moment),
        )


INCIDENT_FORMS: dict[str, type[Form]] = {
    "command": CommandForm,
    "action": ActionForm,
    "update": UpdateForm,
    "close": CloseForm,
}
INCIDENT_DONE = {
    "command": _l("You are in command of the incident."),
    "action": _l("The action is logged."),
    "update": _l("The update is sent."),
    "close": _l("The incident is closed."),
}


def register_incidents_views(admin) -> None:
    from repairqc.chapters import add_screens

    add_screens(
        admin,
        "ch9",
        (IncidentsView, _l("Incidents"), "incident_screens", "/admin/emergency/incidents"),
        (PlansView, _l("Emergency plans"), "emergency_plan_screens", "/admin/emergency/plans"),
        (DrillsView, _l("Emergency drills"), "emergency_drill_screens", "/admin/emergency/drills"),
    )
