"""The assessment screens (HB §3.3), under "Ch.3 Staff and training".

* `AssessmentsView` (/admin/staff-assessments/): the list (drafts to make first for an assessor, then
  every assessment in scope, filtered by cycle, status and store), opening one, and one
  assessment's page: its KPIs with the facts behind them, the weights as applied ("no data" for a
  KPI without any, its weight shared out), the assessor's scores, the total against the pass
  mark, finalising with the outcome and the follow-up of a failure, and its history.
* `/admin/staff-assessments/staff/<id>/`: a technician's KPI trends (monthly scores over the last 12
  months, charted with `reports.charts`) and their assessment history. The training domain's
  technician page can include the same block (`kpi_trend_context` + `assessments/_kpi_trends.html`).

Thin (aesthetics.md §7): each POST loads the assessment locked within the user's scope (404
otherwise), checks the hidden `version` (409 when stale), calls one service in one unit of work
and redirects; a refusal re-renders the page with what the user typed and the message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload
from wtforms import Form

from repairqc.accounts.models import Role, RoleAssignment, StaffUser
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
from repairqc.assessments import kpis, services
from repairqc.assessments.forms import FinaliseForm, NewAssessmentForm, ScoresForm
from repairqc.assessments.models import (
    COMPUTED_KPIS,
    MANUAL_KPIS,
    Assessment,
    AssessmentKind,
    AssessmentStatus,
)
from repairqc.db import db
from repairqc.standards.schema import KPIS
from repairqc.stores.models import Store

LIST_LIMIT = 200
TREND_MONTHS = 12


def register_assessment_views(admin) -> None:
    from repairqc.chapters import add_screens

    add_screens(
        admin,
        "ch3",
        (AssessmentsView, _l("Staff assessments"), "staff_assessments", "/admin/staff-assessments"),
    )
    # For the training domain's technician page: `{% include "assessments/_kpi_trends.html" %}`
    # with `person` in its context draws the same block.
    admin.app.jinja_env.globals["assessment_kpi_trends"] = kpi_trends_for_page


def kpi_trends_for_page(person: StaffUser) -> dict[str, Any] | None:
    """The KPI trends block of `person` as the signed-in user may see it, or None (not a
    technician, or not theirs to see)."""
    viewer = staff()
    if not any(a.role is Role.TECHNICIAN for a in person.roles) or not services.may_view_staff(
        viewer, person
    ):
        return None
    stores = None if person.id == viewer.id else visible_store_ids()
    return kpi_trend_context(person, stores)


def kinds_for(user: StaffUser) -> list[AssessmentKind]:
    """The cycles `user` assesses somewhere."""
    grants = current_grants()
    if grants.read_only:
        return []
    roles = grants.roles
    return [kind for kind in AssessmentKind if roles & services.ASSESSORS[kind]]


def load_assessment(assessment_id: int, *, for_update: bool = False) -> Assessment:
    # No joined eager loads when locking: PostgreSQL refuses FOR UPDATE on an outer join.
    options = () if for_update else (joinedload(Assessment.staff), joinedload(Assessment.store))
    return load_scoped(Assessment, assessment_id, for_update=for_update, options=options)


# --- the KPI trends block (also for the training domain's technician page) -------------------------


def kpi_trend_context(person: StaffUser, store_ids: set[int] | None = None) -> dict[str, Any]:
    """What `assessments/_kpi_trends.html` needs: the chart (inline SVG) and the table of the
    computed KPI scores of the last 12 months, at `store_ids` (None: every store)."""
    from flask_babel import get_locale

    from repairqc.reports import charts
    from repairqc.reports.services import TrendPoint

    periods = services.months_back(today(), TREND_MONTHS)
    results = kpis.compute(person.id, periods, store_ids)
    points = [
        TrendPoint(start, dict(result.scores)) for (start, _end), result in zip(periods, results, strict=True)
    ]
    series = [(kpi, services.kpi_label(kpi)) for kpi in COMPUTED_KPIS]
    title = _("KPI scores of %(name)s, last %(n)s months", name=person.full_name, n=TREND_MONTHS)
    svg = charts.to_svg(charts.trend_chart(points, series, title, str(get_locale() or "en")), title)
    return {
        "trend_svg": svg,
        "trend_rows": [(services.period_label(AssessmentKind.MONTHLY, p.month), p.values) for p in points],
        "trend_kpis": series,
    }


def visible_store_ids() -> set[int] | None:
    """The stores whose KPIs of another person the viewer sees: every store for HQ readers,
    otherwise only the stores they manage (the set `Assessment.store_scope` uses). Being a
    technician at a store shows a colleague's KPIs there to nobody."""
    grants = current_grants()
    stores = grants.stores_for("Assessment", Action.VIEW)
    if stores is None:
        return None
    return {store_id for store_id in stores if Role.STORE_MANAGER in grants.store_roles.get(store_id, ())}


class AssessmentsView(ScopedScreen):
    model_name = "Assessment"

    # --- the list --------------------------------------------------------------------------------

    @expose("/")
    def index(self):
        user = staff()
        stores = stores_for("Assessment")
        kind = request.args.get("kind", "")
        kind = kind if kind in {k.value for k in AssessmentKind} else ""
        status = request.args.get("status", "")
        status = status if status in {s.value for s in AssessmentStatus} else ""
        store = None
        if request.args.get("store"):
            store = next((s for s in stores if s.id == as_id(request.args["store"])), None)
            if store is None:
                abort(404)
        statement = scoped_select(Assessment)
        if kind:
            statement = statement.where(Assessment.kind == AssessmentKind(kind))
        if status:
            statement = statement.where(Assessment.status == AssessmentStatus(status))
        if store is not None:
            statement = statement.where(Assessment.store_id == store.id)
        total = db.session.execute(sa.select(sa.func.count()).select_from(statement.subquery())).scalar_one()
        rows = list(
            db.session.execute(
                statement.options(joinedload(Assessment.staff), joinedload(Assessment.store))
                .order_by(
                    Assessment.period_start.desc(), Assessment.kind, Assessment.store_id, Assessment.id.desc()
                )
                .limit(LIST_LIMIT)
            ).scalars()
        )
        to_do = [
            a
            for a in db.session.execute(
                scoped_select(Assessment)
                .where(Assessment.status == AssessmentStatus.DRAFT)
                .options(joinedload(Assessment.staff), joinedload(Assessment.store))
                .order_by(Assessment.period_start, Assessment.id)
                .limit(LIST_LIMIT)
            ).scalars()
            if services.may_assess(user, a.kind, a.store_id) and a.staff_id != user.id
        ]
        return self.render(
            "assessments/list.html",
            rows=rows,
            total=total,
            to_do=to_do,
            stores=stores,
            kinds=list(AssessmentKind),
            statuses=list(AssessmentStatus),
            filters={"kind": kind, "status": status, "store": store},
            can_open=bool(kinds_for(user)),
            period_label=services.period_label,
        )

    # --- opening one -----------------------------------------------------------------------------

    @expose("/new", methods=("GET", "POST"))
    def new(self):
        user = staff()
        kinds = kinds_for(user)
        if not kinds:
            abort(403)
        form = NewAssessmentForm(request.form if request.method == "POST" else None)
        people = self._choices(form, user, kinds)
        if request.method == "GET":
            form.kind.data = kinds[0].value
            form.period.data = services.period_label(kinds[0], services.previous_period(kinds[0], today())[0])
            form.technician.data = request.args.get("technician", "")
            return self.render("assessments/new.html", form=form, refusal_messages=[])
        created: dict[str, int] = {}

        def run() -> None:
            validated(form)
            person, store = people[form.technician.data]
            period = services.parse_period(form.kind_value, form.period.data or "")
            assessment = services.open_assessment(
                person, store, form.kind_value, period, by=user, today=today()
            )
            created["id"] = assessment.id

        error = attempt(run)
        if error is None:
            flash(_("The assessment is open as a draft; its KPIs are computed."), "success")
            return redirect(url_for(".show", assessment_id=created["id"]))
        messages = field_errors(form, error)
        return self.render("assessments/new.html", form=form, refusal_messages=messages), error.status_code

    @staticmethod
    def _choices(form: NewAssessmentForm, user: StaffUser, kinds: list[AssessmentKind]):
        """Technicians at the stores where the user assesses (every store for HR), keyed
        "user:store"; also the form's choices, so anything else is "not a valid choice"."""
        statement = (
            sa.select(StaffUser, Store)
            .join(RoleAssignment, RoleAssignment.user_id == StaffUser.id)
            .join(Store, Store.id == RoleAssignment.store_id)
            .where(
                RoleAssignment.role == Role.TECHNICIAN, StaffUser.is_active.is_(True), StaffUser.id != user.id
            )
            .order_by(StaffUser.full_name, Store.code)
        )
        grants = current_grants()
        if not grants.has_role(Role.TRAINER):
            managed = {s for s, roles in grants.store_roles.items() if Role.STORE_MANAGER in roles}
            statement = statement.where(Store.id.in_(managed))
        people = {f"{p.id}:{s.id}": (p, s) for p, s in db.session.execute(statement).all()}
        form.technician.choices = [("", "—")] + [
            (key, f"{p.full_name} · {s.code}") for key, (p, s) in people.items()
        ]
        form.kind.choices = [(k.value, k.label) for k in kinds]
        return people

    # --- one assessment ----------------------------------------------------------------------------

    @expose("/<int:assessment_id>/")
    def show(self, assessment_id: int):
        return self._page(load_assessment(assessment_id))

    @expose("/<int:assessment_id>/<step>", methods=("POST",))
    def act(self, assessment_id: int, step: str):
        handler = STEPS.get(step)
        if handler is None:
            abort(404)
        return handler(self, assessment_id)

    def _step(
        self, assessment_id: int, key: str | None, run_step: Callable[[Assessment, Any], Any], done: str
    ):
        """Run `run_step` on the locked assessment in one unit of work; redirect, or show the
        refusal with what the user typed. The assessment is loaded first (404 outside the user's
        scope), so a validation message never tells anything about someone else's."""
        forms: dict[str, Form] = {}
        outcome: dict[str, Any] = {}

        def run() -> None:
            assessment = load_assessment(assessment_id, for_update=True)
            if key:
                forms[key] = FORMS[key](request.form, prefix=key)
            outcome["result"] = run_step(assessment, forms.get(key))

        error = attempt(run)
        if error is None:
            flash(done, "success")
            retake = outcome.get("result")
            if isinstance(retake, Assessment):
                flash(_("A retake of the same period is open: assessment #%(id)s.", id=retake.id), "info")
            return redirect(url_for(".show", assessment_id=assessment_id))
        form = forms.get(key) if key else None
        db.session.expire_all()
        return self._page(
            load_assessment(assessment_id),
            submitted=forms,
            refusal_messages=field_errors(form, error) if form is not None else [error.message],
        ), error.status_code

    def save_scores(self, assessment_id: int):
        def run_step(assessment, form):
            validated(form)
            services.save_scores(
                assessment,
                staff(),
                services.ManualScores(form.communication.data, form.teamwork.data, form.safety.data),
                comment=form.comment.data,
                expected_version=required_version(),
            )

        return self._step(assessment_id, "scores", run_step, _("The scores are saved."))

    def refresh(self, assessment_id: int):
        def run_step(assessment, _form):
            services.refresh(assessment, staff(), expected_version=required_version())

        return self._step(
            assessment_id, None, run_step, _("The KPIs are computed again from the repair data.")
        )

    def finalise(self, assessment_id: int):
        def run_step(assessment, form):
            validated(form)
            return services.finalise(
                assessment,
                staff(),
                today=today(),
                outcome=form.outcome_value,
                follow_up=form.follow_up_value,
                comment=form.comment.data,
                expected_version=required_version(),
            )

        return self._step(assessment_id, "finalise", run_step, _("The assessment is finalised."))

    def _page(
        self, assessment: Assessment, *, submitted: dict[str, Form] | None = None, refusal_messages=None
    ):
        user = staff()
        may_assess = (
            not assessment.is_final
            and not current_grants().read_only
            and services.may_assess(user, assessment.kind, assessment.store_id)
            and user.id != assessment.staff_id
        )
        submitted = submitted or {}
        scores_form = submitted.get("scores") or ScoresForm(
            prefix="scores",
            data={**{k: getattr(assessment, k) for k in MANUAL_KPIS}, "comment": assessment.comment},
        )
        finalise_form = submitted.get("finalise") or FinaliseForm(prefix="finalise")
        scores = services.scores_of(assessment)
        total, applied = services.weighted_total(scores, assessment.weights)
        kpi_rows = [
            {
                "key": kpi,
                "label": services.kpi_label(kpi),
                "score": scores[kpi],
                "weight": assessment.weights.get(kpi, 0),
                "applied": applied.get(kpi),
                "manual": kpi in MANUAL_KPIS,
            }
            for kpi in KPIS
            if assessment.weights.get(kpi, 0) > 0 or scores[kpi] is not None
        ]
        return self.render(
            "assessments/assessment.html",
            assessment=assessment,
            period=services.period_label(assessment.kind, assessment.period_start),
            kpi_rows=kpi_rows,
            total=total,
            facts=assessment.facts or {},
            may_assess=may_assess,
            scores_form=scores_form,
            finalise_form=finalise_form,
            weighted_manual=[k for k in MANUAL_KPIS if assessment.weights.get(k, 0) > 0],
            refusal_messages=refusal_messages or [],
            refusal_on_field=refusal_messages == [],
            events=assessment.events,
            staff_href=url_for(".technician", user_id=assessment.staff_id),
            K=AssessmentKind,
        )

    # --- a technician's KPI trends and history ----------------------------------------------------

    @expose("/staff/<int:user_id>/")
    def technician(self, user_id: int):
        person = db.session.get(StaffUser, user_id) if as_id(str(user_id)) else None
        if person is None or not services.may_view_staff(staff(), person):
            abort(404)
        history = [
            a
            for a in db.session.execute(
                scoped_select(Assessment)
                .where(Assessment.staff_id == person.id)
                .options(joinedload(Assessment.store))
                .order_by(Assessment.period_start.desc(), Assessment.kind, Assessment.attempt.desc())
                .limit(LIST_LIMIT)
            ).scalars()
        ]
        return self.render(
            "assessments/technician.html",
            person=person,
            history=history,
            period_label=services.period_label,
            # a technician's own page shows their work at every store; a manager, their stores'
            kpi=kpi_trends_for_page(person),
        )


#: The forms of the assessment page, by prefix.
FORMS: dict[str, type[Form]] = {"scores": ScoresForm, "finalise": FinaliseForm}

#: The POST steps of the page: URL segment -> handler.
STEPS: dict[str, Callable[[AssessmentsView, int], object]] = {
    "scores": AssessmentsView.save_scores,
    "refresh": AssessmentsView.refresh,
    "finalise": AssessmentsView.finalise,
}
