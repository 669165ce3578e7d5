"""Inspections (HB §8.2.1-§8.3.1): the work list, conducting one on site, and QA's review.

* `/` the list: "mine" (assigned to me, or to nobody at a store I may inspect), due and
  overdue, to review (QA), all; filtered by status and store.
* `/<id>/` one inspection. What it shows depends on the state and the reader: the start button
  for the inspector of a scheduled one; the form built from the copied items while it is in
  progress (works on a phone: one column, big radio buttons, the camera for photos); the record
  read-only with QA's forms (corrective action per finding, return, reviewed) once submitted;
  read-only with links to the corrective actions once reviewed or closed. Its event history
  (who moved it, when, with what comment) is always at the bottom (HB §8.3.1 traceable).

Thin (aesthetics.md §7): each POST loads the inspection locked for update within the user's
stores (404 otherwise), passes the version the page showed to the service in one unit of work,
and redirects; a refusal re-renders the page with what the user typed and the service's
message (400 input, 409 conflict or a move not allowed).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import format_date, format_datetime
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from repairqc.accounts.models import RoleAssignment, StaffUser
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
from repairqc.db import db
from repairqc.errors import DomainError, FormInvalid
from repairqc.inspections import services
from repairqc.inspections.forms import (
    ActionForm,
    CommentForm,
    FindingForm,
    ReassignForm,
    give_ids,
    parse_answers,
    sections,
)
from repairqc.inspections.models import (
    Finding,
    FindingCategory,
    Inspection,
    InspectionItemResult,
    InspectionStatus,
    Severity,
)

St = InspectionStatus
OPEN = (St.SCHEDULED, St.IN_PROGRESS)
#: "Due" on the list: open inspections due within this many days (overdue ones included).
DUE_WITHIN_DAYS = 7
#: Rows on one list page; the filters narrow a longer list.
LIST_LIMIT = 200
#: Bootstrap colour of each status, on the list and the calendar.
STATUS_COLOURS = {
    St.SCHEDULED: "secondary",
    St.IN_PROGRESS: "primary",
    St.SUBMITTED: "warning",
    St.REVIEWED: "info",
    St.CLOSED: "success",
}
TABS = {
    "mine": _l("Mine"),
    "due": _l("Due and overdue"),
    "review": _l("To review"),
    "all": _l("All"),
}


class SupervisionAccess(ScopedScreen):
    model_name = "Inspection"


def load_inspection(inspection_id: int, *, for_update: bool = False) -> Inspection:
    """The inspection if the user may see it (404 otherwise; a store's staff do not see an
    unannounced one coming, `Inspection.store_scope`)."""
    # The page shows every item with its photos: two queries instead of one per item.
    items = selectinload(Inspection.results).selectinload(InspectionItemResult.photos)
    return load_scoped(Inspection, inspection_id, for_update=for_update, options=(items,))


def status_colour(status: St) -> str:
    return STATUS_COLOURS[status]


def is_overdue(inspection: Inspection) -> bool:
    return inspection.is_overdue(today())


def action_href(action_id: int) -> str:
    return url_for("inspection_actions.action", action_id=action_id)


class InspectionView(SupervisionAccess):
    # --- the list ----------------------------------------------------------------------------------

    @expose("/")
    def index(self):
        user = staff()
        is_qa = current_grants().has_role(*services.QA)
        tabs = {key: label for key, label in TABS.items() if key != "review" or is_qa}
        tab = request.args.get("tab", "mine")
        if tab not in tabs:
            tab = "mine"
        status = request.args.get("status", "")
        if status not in {s.value for s in St}:
            status = ""
        stores = stores_for("Inspection", active_only=True)
        store_id = as_id(request.args.get("store"))
        if store_id not in {s.id for s in stores}:
            store_id = None  # another store, or garbage: every store the user sees
        statement = scoped_select(Inspection).options(
            selectinload(Inspection.store), selectinload(Inspection.inspector), selectinload(Inspection.plan)
        )
        day = today()
        if tab == "mine":
            statement = statement.where(services.may_conduct_condition(user), Inspection.status.in_(OPEN))
        elif tab == "due":
            statement = statement.where(
                Inspection.status.in_(OPEN), Inspection.due_on <= day + timedelta(days=DUE_WITHIN_DAYS)
            )
        elif tab == "review":
            statement = statement.where(Inspection.status == St.SUBMITTED)
        if status:
            statement = statement.where(Inspection.status == St(status))
        if store_id is not None:
            statement = statement.where(Inspection.store_id == store_id)
        order = (Inspection.due_on.desc(),) if tab == "all" else (Inspection.due_on,)
        rows = list(
            db.session.execute(statement.order_by(*order, Inspection.id).limit(LIST_LIMIT + 1)).scalars()
        )
        return self.render(
            "inspections/list.html",
            rows=rows[:LIST_LIMIT],
            more=len(rows) > LIST_LIMIT,
            tabs=tabs,
            tab=tab,
            statuses=list(St),
            status=status,
            stores=stores,
            store_id=store_id,
            is_overdue=is_overdue,
            status_colour=status_colour,
            format_date=format_date,
            can_schedule=current_grants().can("InspectionPlan", Action.CREATE),
        )

    # --- one inspection ----------------------------------------------------------------------------

    @expose("/<int:inspection_id>/")
    def show(self, inspection_id: int):
        return self._page(load_inspection(inspection_id))

    @expose("/<int:inspection_id>/start", methods=("POST",))
    def start(self, inspection_id: int):
        def run(inspection: Inspection) -> None:
            services.start_inspection(inspection, staff(), expected_version=required_version())

        return self._step(
            inspection_id, run, _("The inspection has started. Answer every item, then submit.")
        )

    @expose("/<int:inspection_id>/answers", methods=("POST",))
    def answers(self, inspection_id: int):
        """Save the answers and photos ("Save"), or save them and hand the record to QA
        ("Submit"). Submitting is one unit of work with the answers: a refusal (an unanswered
        required item) saves nothing and shows the page with every answer as typed."""
        submitting = request.form.get("action") == "submit"
        raised: list[Finding] = []
        photo_count = 0

        def run(inspection: Inspection) -> None:
            nonlocal photo_count
            version = required_version()
            submission = parse_answers(
                inspection.results,
                request.form,
                request.files,
                upload_limit=current_app.config["UPLOAD_MAX_BYTES"],
            )
            photo_count = submission.photo_count
            user = staff()
            raised.extend(
                services.answer_items(
                    inspection, submission.answers, user, photos=submission.photos, expected_version=version
                )
            )
            if submitting:
                services.submit_inspection(inspection, user, request.form.get("summary", ""))

        def refused(inspection: Inspection, error: DomainError):
            notes = []
            if photo_count:
                notes.append(_("The photos chosen were not uploaded; choose them again."))
            return self._page(inspection, error=error, posted=request.form, notes=notes)

        done = _("The inspection is submitted for review.") if submitting else _("The answers are saved.")

        def announce() -> None:
            for finding in raised:
                flash(
                    _(
                        "A finding was raised at once: %(finding)s",
                        finding=finding.description.splitlines()[0],
                    ),
                    "warning",
                )

        return self._step(inspection_id, run, done, refused=refused, after=announce)

    @expose("/<int:inspection_id>/findings", methods=("POST",))
    def findings(self, inspection_id: int):
        form = FindingForm()

        def run(inspection: Inspection) -> None:
            services.check_version(inspection, required_version())
            validated(form)
            services.add_finding(
                inspection,
                staff(),
                category=FindingCategory(form.category.data),
                severity=Severity(form.severity.data),
                description=form.description.data or "",
                root_cause=form.root_cause.data,
            )

        def refused(inspection: Inspection, error: DomainError):
            return self._page(inspection, error=error, sent={"finding": form})

        return self._step(inspection_id, run, _("The finding is recorded."), refused=refused)

    @expose("/<int:inspection_id>/actions", methods=("POST",))
    def actions(self, inspection_id: int):
        """A corrective action for one finding; the owner defaults to the store's manager and
        the due date to the standard's target (HB §8.3.2)."""
        finding_id = as_id(request.form.get("finding"))
        owners = self._owners(load_inspection(inspection_id).store_id)
        form = ActionForm(owners=owners)

        def run(inspection: Inspection) -> None:
            services.check_version(inspection, required_version())
            finding = db.session.execute(
                sa.select(Finding).where(Finding.id == finding_id, Finding.inspection_id == inspection.id)
            ).scalar()
            if finding is None:
                raise DomainError(_("That finding is not part of this inspection."))
            validated(form)
            owner = db.session.get(StaffUser, int(form.owner.data)) if form.owner.data else None
            services.add_action(
                finding,
                staff(),
                description=form.description.data or "",
                owner=owner,
                due_on=form.due_on.data,
                today=today(),
            )

        def refused(inspection: Inspection, error: DomainError):
            return self._page(inspection, error=error, sent={finding_id: form})

        return self._step(inspection_id, run, _("The corrective action is set."), refused=refused)

    @expose("/<int:inspection_id>/return", methods=("POST",))
    def return_(self, inspection_id: int):
        form = CommentForm()

        def run(inspection: Inspection) -> None:
            validated(form)
            services.return_inspection(
                inspection, staff(), form.comment.data or "", expected_version=required_version()
            )

        def refused(inspection: Inspection, error: DomainError):
            return self._page(inspection, error=error, sent={"return": form})

        return self._step(
            inspection_id, run, _("The inspection is returned to the inspector."), refused=refused
        )

    @expose("/<int:inspection_id>/reassign", methods=("POST",))
    def reassign(self, inspection_id: int):
        form = ReassignForm(inspectors=services.inspector_candidates())

        def run(inspection: Inspection) -> None:
            validated(form)
            inspector = db.session.get(StaffUser, int(form.inspector.data))
            services.reassign_inspection(
                inspection,
                staff(),
                inspector,
                form.due_on.data,
                today=today(),
                expected_version=required_version(),
            )

        def refused(inspection: Inspection, error: DomainError):
            return self._page(inspection, error=error, sent={"reassign": form})

        return self._step(inspection_id, run, _("The inspection is reassigned."), refused=refused)

    @expose("/<int:inspection_id>/reviewed", methods=("POST",))
    def reviewed(self, inspection_id: int):
        form = CommentForm()

        def run(inspection: Inspection) -> None:
            validated(form)
            services.review_inspection(
                inspection, staff(), form.comment.data, expected_version=required_version()
            )

        def refused(inspection: Inspection, error: DomainError):
            return self._page(inspection, error=error, sent={"review": form})

        return self._step(inspection_id, run, _("The inspection is reviewed."), refused=refused)

    # --- how every POST runs -------------------------------------------------------------------------

    def _step(
        self,
        inspection_id: int,
        action: Callable[[Inspection], None],
        done: str,
        *,
        refused: Callable[[Inspection, DomainError], object] | None = None,
        after: Callable[[], None] | None = None,
    ):
        """Run `action` on the locked inspection in one unit of work; redirect, or show the refusal.

        The inspection is loaded (404 outside the user's stores) before the form is read, so
        nobody learns anything about another store's inspection from a validation message.
        """
        load_inspection(inspection_id)
        error = attempt(lambda: action(load_inspection(inspection_id, for_update=True)))
        if error is None:
            flash(done, "success")
            if after is not None:
                after()
            return redirect(url_for(".show", inspection_id=inspection_id))
        inspection = load_inspection(inspection_id)
        if refused is not None:
            return refused(inspection, error)
        return self._page(inspection, error=error)

    # --- the page ------------------------------------------------------------------------------------

    @staticmethod
    def _owners(store_id: int) -> list[StaffUser]:
        """Who may own a corrective action of the store: its active staff (the service checks)."""
        working_here = sa.select(RoleAssignment.user_id).where(RoleAssignment.store_id == store_id)
        return list(
            db.session.execute(
                sa.select(StaffUser)
                .where(StaffUser.id.in_(working_here), StaffUser.is_active.is_(True))
                .order_by(StaffUser.full_name)
            ).scalars()
        )

    def _page(
        self,
        inspection: Inspection,
        *,
        error: DomainError | None = None,
        posted=None,
        notes: list[str] | None = None,
        sent: dict | None = None,
    ):
        """The inspection as this user may see and act on it.

        `sent` holds the form that was refused ("finding", "return", "review", or a finding's id
        for its corrective action), so it is shown again as typed with the message on its field.
        """
        user = staff()
        sent = sent or {}
        conducting = inspection.status is St.IN_PROGRESS and services.may_conduct(user, inspection)
        can_start = inspection.status is St.SCHEDULED and services.may_conduct(user, inspection)
        reviewing = inspection.status is St.SUBMITTED and services.may_review(user, inspection)
        findings = services.findings_of(inspection)
        # QA sets corrective actions while the record is in review (HB §8.2.2: before "reviewed").
        setting_actions = inspection.status is St.SUBMITTED and current_grants().has_role(*services.QA)
        action_forms: dict[int, ActionForm] = {}
        if setting_actions:
            owners = self._owners(inspection.store_id)
            default_owner = services.default_owner(inspection.store)
            default_due = services.default_due_on(inspection.store, today())
            for finding in findings:
                form = sent.get(finding.id)
                if form is None:
                    form = ActionForm(formdata=None, owners=owners)
                    form.owner.data = str(default_owner.id) if default_owner is not None else None
                    form.due_on.data = default_due
                    form.finding.data = str(finding.id)
                action_forms[finding.id] = form
        reassigning = inspection.status is St.SCHEDULED and current_grants().has_role(*services.QA)
        reassign = sent.get("reassign")
        if reassign is None and reassigning:
            reassign = ReassignForm(formdata=None, inspectors=services.inspector_candidates())
            reassign.inspector.data = str(inspection.inspector_id or "")
            reassign.due_on.data = inspection.due_on
        forms = {
            "finding": sent.get("finding") or FindingForm(formdata=None),
            "return": sent.get("return") or CommentForm(formdata=None),
            "review": sent.get("review") or CommentForm(formdata=None),
        }
        if reassign is not None:
            forms["reassign"] = reassign
        messages: list[str] = []
        if error is not None:
            refused_form = next(iter(sent.values()), None)
            messages = field_errors(refused_form, error) if refused_form is not None else [error.message]
            if posted is not None and not isinstance(error, FormInvalid) and error.field:
                # An item's refusal is shown on the item as well as above the form.
                messages = [error.message]
        for key, form in [*forms.items(), *action_forms.items()]:
            give_ids(form, f"{'action-' if isinstance(key, int) else ''}{key}-")
            form.version.data = str(inspection.version)  # a resubmission is made against this page
        page = self.render(
            "inspections/inspection.html",
            inspection=inspection,
            store=inspection.store,
            sections=sections(inspection.results, posted, error),
            score=services.score_of(inspection.results),
            conducting=conducting,
            can_start=can_start,
            reviewing=reviewing,
            setting_actions=setting_actions,
            findings=findings,
            action_forms=action_forms,
            forms=forms,
            can_add_finding=conducting or reviewing,
            error=error,
            messages=messages,
            notes=notes or [],
            summary=(posted or {}).get("summary", inspection.summary or ""),
            events=inspection.events,
            overdue=is_overdue(inspection),
            status_colour=status_colour,
            action_href=action_href,
            format_date=format_date,
            format_datetime=format_datetime,
        )
        return page, (error.status_code if error is not None else 200)


__all__ = ["InspectionView", "SupervisionAccess", "load_inspection"]
