"""Corrective actions and rewards/penalties (HB §8.2.2, §8.3.2-§8.3.4), under "Ch.8".

* `ActionsView` (/admin/inspections/actions/): "my actions" for the owner and the store manager
  (pending ones, overdue first, with the due date and "3 days overdue"), every action in scope
  for QA with filters (status, store, overdue), and the effectiveness checks that are due.
  `/<id>/` is one action: its finding, measure, owner, due date, history, evidence and photos,
  and per role and state the next step (start, mark done with evidence, verify or reopen, the
  effectiveness check, the finding's root cause).
* `RewardsView` (/admin/inspections/rewards/): rewards and penalties by store and kind; QA
  records them, store managers read their stores' entries.

Thin (aesthetics.md §7): each POST loads the action locked for update within the user's stores
(404 otherwise), checks the hidden `version` the page showed (409 when stale), calls the service
in one unit of work and redirects; a refusal re-renders the page with what the user typed and
the message, with its status (400 input, 409 conflict or a move not allowed), nothing saved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload
from wtforms import Form

from repairqc.accounts.models import Role, RoleAssignment, StaffUser
from repairqc.accounts.permissions import Grants, current_grants
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
from repairqc.forms_base import store_choices
from repairqc.inspections import services
from repairqc.inspections.action_forms import (
    CompleteForm,
    EffectivenessForm,
    ReopenForm,
    RewardForm,
    RootCauseForm,
    VerifyForm,
)
from repairqc.inspections.models import (
    ACTION_PENDING,
    ActionStatus,
    CorrectiveAction,
    Finding,
    Inspection,
    RewardKind,
    RewardPenalty,
)
from repairqc.stores.models import Store

#: Rows per list; the page says how many more there are (filters narrow them down).
LIST_LIMIT = 200
#: Inspections offered in the reward form: the most recent ones.
INSPECTION_CHOICES = 300


def is_qa(grants: Grants | None = None) -> bool:
    return (grants or current_grants()).has_role(*services.QA)


def chosen_store(stores: list[Store]) -> Store | None:
    """?store=<id> among the user's stores; one outside them is 404 (no probing)."""
    raw = request.args.get("store", "")
    if not raw:
        return None
    store = next((s for s in stores if s.id == as_id(raw)), None)
    if store is None:
        abort(404)
    return store


def load_action(action_id: int, *, for_update: bool = False) -> CorrectiveAction:
    return load_scoped(CorrectiveAction, action_id, for_update=for_update)


def inspection_href(inspection_id: int) -> str:
    return url_for("inspections_work.show", inspection_id=inspection_id)


# --- the list of actions -------------------------------------------------------------------------------

STATUS_FILTERS = {
    "pending": _l("To do (open, in progress, reopened)"),
    **{status.value: status.label for status in ActionStatus},
    "any": _l("Any status"),
}


@dataclass
class Row:
    action: CorrectiveAction
    overdue: bool
    due: str
    href: str


def manages_a_store(grants: Grants) -> bool:
    return any(Role.STORE_MANAGER in roles for roles in grants.store_roles.values())


class ActionsView(ScopedScreen):
    model_name = "CorrectiveAction"

    @expose("/")
    def index(self):
        grants = current_grants()
        user, day = staff(), today()
        stores = stores_for("CorrectiveAction")
        store = chosen_store(stores)
        qa = is_qa(grants)
        # "My actions" first for those who carry them out; everyone in scope for QA and readers.
        default_scope = "mine" if manages_a_store(grants) and not qa else "all"
        scope = request.args.get("scope") if request.args.get("scope") in ("mine", "all") else default_scope
        status = request.args.get("status", "pending")
        if status not in STATUS_FILTERS:
            status = "pending"
        overdue_only = request.args.get("overdue") == "1"

        pending = CorrectiveAction.status.in_(ACTION_PENDING)
        is_overdue = sa.and_(pending, CorrectiveAction.due_on < day)
        statement = scoped_select(CorrectiveAction)
        if scope == "mine":
            managed = {s for s, roles in grants.store_roles.items() if Role.STORE_MANAGER in roles}
            statement = statement.where(
                sa.or_(CorrectiveAction.owner_id == user.id, CorrectiveAction.store_id.in_(managed))
            )
        if status == "pending":
            statement = statement.where(pending)
        elif status != "any":
            statement = statement.where(CorrectiveAction.status == ActionStatus(status))
        if store is not None:
            statement = statement.where(CorrectiveAction.store_id == store.id)
        if overdue_only:
            statement = statement.where(is_overdue)
        total = db.session.execute(sa.select(sa.func.count()).select_from(statement.subquery())).scalar_one()
        actions = db.session.execute(
            statement.options(
                joinedload(CorrectiveAction.finding),
                joinedload(CorrectiveAction.store),
                joinedload(CorrectiveAction.owner),
            )
            .order_by(sa.case((is_overdue, 0), else_=1), CorrectiveAction.due_on, CorrectiveAction.id)
            .limit(LIST_LIMIT)
        ).scalars()
        rows = [self._row(action) for action in actions]

        checks_due: list[Row] = []
        if qa:
            checks_due = [
                self._row(action)
                for action in db.session.execute(
                    scoped_select(CorrectiveAction)
                    .where(
                        CorrectiveAction.status == ActionStatus.VERIFIED,
                        CorrectiveAction.effectiveness_due_on <= day,
                        CorrectiveAction.effectiveness_checked_at.is_(None),
                    )
                    .options(joinedload(CorrectiveAction.finding), joinedload(CorrectiveAction.store))
                    .order_by(CorrectiveAction.effectiveness_due_on, CorrectiveAction.id)
                    .limit(LIST_LIMIT)
                ).scalars()
            ]
        return self.render(
            "inspections/actions.html",
            rows=rows,
            total=total,
            checks_due=checks_due,
            qa=qa,
            stores=stores,
            filters={"scope": scope, "status": status, "store": store, "overdue": overdue_only},
            status_filters=STATUS_FILTERS,
            can_choose_scope=manages_a_store(grants) or qa,
        )

    @staticmethod
    def _row(action: CorrectiveAction) -> Row:
        day = today()
        return Row(
            action,
            action.is_overdue(day),
            services.describe_due(action.due_on, day),
            url_for(".action", action_id=action.id),
        )

    # --- one action ----------------------------------------------------------------------------

    @expose("/<int:action_id>/")
    def action(self, action_id: int):
        return self._page(load_action(action_id))

    @expose("/<int:action_id>/<step>", methods=("POST",))
    def act(self, action_id: int, step: str):
        """One POST route per action; `step` names the form that was submitted."""
        handler = STEPS.get(step)
        if handler is None:
            abort(404)
        return handler(self, action_id)

    def _step(
        self,
        action_id: int,
        key: str | None,
        run_step: Callable[[CorrectiveAction, Form | None], None],
        done: str,
    ):
        """Run `run_step` on the locked action in one unit of work; redirect, or show the refusal.

        The action is loaded (404 outside the user's stores) before the form is even read, so
        nobody learns anything about another store's action from a validation message.
        """
        forms: dict[str, Form] = {}

        def run() -> None:
            action = load_action(action_id, for_update=True)
            if key:
                forms[key] = FORMS[key](request.form, prefix=key)
            required_version()
            run_step(action, forms.get(key) if key else None)

        error = attempt(run)
        if error is None:
            flash(done, "success")
            return redirect(url_for(".action", action_id=action_id))
        form = forms.get(key) if key else None
        db.session.expire_all()
        return self._page(
            load_action(action_id),
            submitted=forms,
            refusal_messages=field_errors(form, error) if form is not None else [error.message],
        ), error.status_code

    def start(self, action_id: int):
        def run_step(action, _form):
            services.start_action(action, staff(), expected_version=required_version())

        return self._step(action_id, None, run_step, _("Work on the action has started."))

    def complete(self, action_id: int):
        def run_step(action, form):
            validated(form)
            limit = current_app.config["UPLOAD_MAX_BYTES"]
            uploads = [u for u in request.files.getlist("complete-photos") if u and u.filename]
            services.complete_action(
                action,
                staff(),
                form.evidence.data or "",
                photos=[(upload.read(limit + 1), upload.filename or "") for upload in uploads],
                expected_version=required_version(),
            )

        return self._step(
            action_id, "complete", run_step, _("The action is reported done; QA will verify it.")
        )

    def verify(self, action_id: int):
        def run_step(action, form):
            validated(form)
            services.verify_action(
                action, staff(), form.comment.data, today=today(), expected_version=required_version()
            )

        return self._step(action_id, "verify", run_step, _("The action is verified."))

    def reopen(self, action_id: int):
        def run_step(action, form):
            validated(form)
            services.reopen_action(
                action, staff(), form.comment.data or "", today=today(), expected_version=required_version()
            )

        return self._step(action_id, "reopen", run_step, _("The action is reopened."))

    def effectiveness(self, action_id: int):
        def run_step(action, form):
            validated(form)
            services.record_effectiveness(
                action,
                staff(),
                form.is_effective,
                form.note.data,
                today=today(),
                expected_version=required_version(),
            )

        return self._step(action_id, "effect", run_step, _("The effectiveness check is recorded."))

    def root_cause(self, action_id: int):
        """The hidden `version` of this form is the finding's, which is what it changes."""

        def run_step(action, form):
            validated(form)
            services.set_root_cause(
                action.finding, staff(), form.root_cause.data, expected_version=required_version()
            )

        return self._step(action_id, "cause", run_step, _("The root cause is saved."))

    # --- the page ------------------------------------------------------------------------------

    def _page(
        self,
        action: CorrectiveAction,
        *,
        submitted: dict[str, Form] | None = None,
        refusal_messages: list[str] | None = None,
    ):
        """`refusal_messages`: a refusal's messages that belong to no field; an empty list means
        the refusal is shown on the fields of the submitted form."""
        user = staff()
        grants = current_grants()
        qa = is_qa(grants)
        status = action.status
        finding: Finding = action.finding
        works_on = services.may_work_on(user, action)
        show = {
            "start": works_on and status in (ActionStatus.OPEN, ActionStatus.REOPENED),
            "complete": works_on and status in ACTION_PENDING,
            "verify": qa and status is ActionStatus.DONE,
            "reopen": qa and status in (ActionStatus.DONE, ActionStatus.VERIFIED),
            "effect": qa and status is ActionStatus.VERIFIED and action.effectiveness_checked_at is None,
            "cause": services.may_edit_root_cause(user, finding),
        }
        submitted = submitted or {}
        for key in submitted:
            show[key] = True  # the user's input stays on the page even if the step no longer applies
        forms = {key: submitted.get(key) or self._form(key, action) for key in FORMS if show[key]}
        day = today()
        return self.render(
            "inspections/action.html",
            action=action,
            finding=finding,
            inspection_href=inspection_href(finding.inspection_id),
            show=show,
            forms=forms,
            refusal_messages=refusal_messages or [],
            refusal_on_field=refusal_messages == [],
            overdue=action.is_overdue(day),
            pending=action.status in ACTION_PENDING,
            due=services.describe_due(action.due_on, day),
            check_due=action.effectiveness_due_on is not None and action.effectiveness_due_on <= day,
            events=action.events,
            photos=action.photos,
            S=ActionStatus,
        )

    @staticmethod
    def _form(key: str, action: CorrectiveAction) -> Form:
        if key == "cause":
            return RootCauseForm(prefix=key, data={"root_cause": action.finding.root_cause})
        return FORMS[key](prefix=key)


#: The forms of the action page, by prefix (also the key of `show`).
FORMS: dict[str, type[Form]] = {
    "complete": CompleteForm,
    "verify": VerifyForm,
    "reopen": ReopenForm,
    "effect": EffectivenessForm,
    "cause": RootCauseForm,
}

#: The POST steps of the page: URL segment -> handler.
STEPS: dict[str, Callable[[ActionsView, int], object]] = {
    "start": ActionsView.start,
    "complete": ActionsView.complete,
    "verify": ActionsView.verify,
    "reopen": ActionsView.reopen,
    "effectiveness": ActionsView.effectiveness,
    "root-cause": ActionsView.root_cause,
}


# --- rewards and penalties (HB §8.3.4) -----------------------------------------------------------------


class RewardsView(ScopedScreen):
    model_name = "RewardPenalty"

    @expose("/")
    def index(self):
        stores = stores_for("RewardPenalty")
        store = chosen_store(stores)
        kind = request.args.get("kind", "")
        if kind not in {k.value for k in RewardKind}:
            kind = ""
        statement = scoped_select(RewardPenalty)
        if store is not None:
            statement = statement.where(RewardPenalty.store_id == store.id)
        if kind:
            statement = statement.where(RewardPenalty.kind == RewardKind(kind))
        total = db.session.execute(sa.select(sa.func.count()).select_from(statement.subquery())).scalar_one()
        records = db.session.execute(
            statement.options(
                joinedload(RewardPenalty.store),
                joinedload(RewardPenalty.staff),
                joinedload(RewardPenalty.decided_by),
            )
            .order_by(RewardPenalty.decided_on.desc(), RewardPenalty.id.desc())
            .limit(LIST_LIMIT)
        ).scalars()
        return self.render(
            "inspections/rewards.html",
            records=list(records),
            total=total,
            stores=stores,
            filters={"store": store, "kind": kind},
            kinds=list(RewardKind),
            can_record=is_qa(),
            inspection_href=inspection_href,
        )

    @expose("/new", methods=("GET", "POST"))
    def new(self):
        if not is_qa():
            abort(403)  # the screen itself is QA's; store managers read the list (HB §8.3.4)
        form = RewardForm(request.form if request.method == "POST" else None, data=self._initial())
        stores, people, inspections = self._choices(form)
        if request.method == "GET":
            return self._form_page(form, people, inspections)
        created: dict = {}

        def record() -> None:
            validated(form)
            store = stores[int(form.store.data)]
            staff_id = as_id(form.staff.data)
            inspection_id = as_id(form.inspection.data)
            saved = services.record_reward_penalty(
                staff(),
                kind=form.kind_value,
                store=store,
                reason=form.reason.data or "",
                staff=people[staff_id][0] if staff_id else None,
                inspection=inspections[inspection_id] if inspection_id else None,
                measure=form.measure.data,
                amount_cents=form.amount_cents,
                decided_on=form.decided_on.data or today(),
            )
            created.update(kind=saved.kind, store=store.code)

        error = attempt(record)
        if error is None:
            flash(
                _("%(kind)s recorded for %(store)s.", kind=created["kind"].label, store=created["store"]),
                "success",
            )
            return redirect(url_for(".index"))
        messages = field_errors(form, error)
        return self._form_page(form, people, inspections, refusal_messages=messages), error.status_code

    @staticmethod
    def _initial() -> dict:
        return {
            "store": request.args.get("store", ""),
            "inspection": request.args.get("inspection", ""),
            "decided_on": today(),
        }

    @staticmethod
    def _choices(form: RewardForm):
        """Stores, their staff and inspections the user may choose, keyed by id; also set as the
        form's choices, so anything else is refused as "not a valid choice"."""
        stores = {s.id: s for s in stores_for("RewardPenalty", active_only=True)}
        people: dict[int, tuple[StaffUser, list[int]]] = {}
        for user, store_id in db.session.execute(
            sa.select(StaffUser, RoleAssignment.store_id)
            .join(RoleAssignment, RoleAssignment.user_id == StaffUser.id)
            .where(StaffUser.is_active.is_(True), RoleAssignment.store_id.in_(stores))
            .order_by(StaffUser.full_name, StaffUser.id)
        ).all():
            people.setdefault(user.id, (user, []))[1].append(store_id)
        inspections = {
            i.id: i
            for i in db.session.execute(
                scoped_select(Inspection)
                .where(Inspection.store_id.in_(stores))
                .options(joinedload(Inspection.store))
                .order_by(Inspection.due_on.desc(), Inspection.id.desc())
                .limit(INSPECTION_CHOICES)
            ).scalars()
        }
        form.store.choices = store_choices(stores.values(), blank=True)
        form.staff.choices = [("", _("The whole store"))] + [
            (str(uid), f"{user.full_name} · {', '.join(stores[s].code for s in ids)}")
            for uid, (user, ids) in people.items()
        ]
        form.inspection.choices = [("", "—")] + [
            (str(i.id), f"#{i.id} · {i.store.code} · {i.due_on.isoformat()} · {i.kind.label}")
            for i in inspections.values()
        ]
        return stores, people, inspections

    def _form_page(self, form: RewardForm, people, inspections, *, refusal_messages=()):
        return self.render(
            "inspections/reward_form.html",
            form=form,
            # Which stores each person and inspection belong to, so the page can offer only the
            # chosen store's (the service refuses the others all the same).
            option_stores={
                "staff": {str(uid): ids for uid, (_user, ids) in people.items()},
                "inspection": {str(i.id): [i.store_id] for i in inspections.values()},
            },
            refusal_messages=refusal_messages,
        )
