"""The equipment screens (HB ch.4, §5.1.3(2)), under "Ch.4 Equipment".

* `RegisterView` (/admin/equipment/register/): the register per store with due badges, entering
  an item, and one item's page (details, status history, maintenance and calibration records,
  documents, and per role and state the next steps: daily care or full inspection, a failure
  and its repair, a calibration with its certificate, documents, back into service, retirement).
* `DueView` (/admin/equipment/due/): maintenance, full inspections and calibrations overdue or
  due within the week, per store.
* `ProcurementView` (/admin/equipment/procurement/): requests and the one page that walks one
  through needs → options → decision → acceptance check (HB §4.1.2).
* `RetirementView` (/admin/equipment/retirements/): retirements and the page that walks one
  through plan → approval → disposal (HB §4.3.2).

Thin (aesthetics.md §7): each POST loads its record locked for update within the user's stores
(404 otherwise), checks the hidden `version` the page showed (409 when stale), calls the service
in one unit of work and redirects; a refusal re-renders the page with what the user typed and
the message, with its status, nothing saved. The generated lists of the same records stay at
/admin/equipment_items/, /admin/calibration_records/, ...
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload
from wtforms import Form

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
from repairqc.equipment import services
from repairqc.equipment.forms import (
    AcceptanceForm,
    CalibrationForm,
    DecisionForm,
    DisposalForm,
    DocumentForm,
    FailureForm,
    ItemForm,
    MaintenanceForm,
    OptionForm,
    PlanForm,
    RepairDoneForm,
    RequestForm,
    RetireForm,
    RetirementDecisionForm,
    ReturnForm,
)
from repairqc.equipment.models import (
    CalibrationRecord,
    CalibrationResult,
    DisposalMethod,
    DocumentKind,
    EquipmentDocument,
    EquipmentItem,
    EquipmentStatus,
    MaintenanceKind,
    MaintenanceRecord,
    MaintenanceResult,
    ProcurementRequest,
    ProcurementStatus,
    ReminderKind,
    RetirementReason,
    RetirementRequest,
    RetirementStatus,
)
from repairqc.errors import Conflict, DomainError
from repairqc.forms_base import store_choices
from repairqc.i18n import current_language
from repairqc.inspections.services import describe_due
from repairqc.stores.models import Store

#: Rows per list; the page says when there are more (filters narrow them down).
LIST_LIMIT = 300


def type_choices(day: date) -> list[tuple[str, str]]:
    lang = current_language()
    return [
        (code, rule.name.zh if lang.startswith("zh") else rule.name.en)
        for code, rule in services.policy(day).items()
    ]


def managed_stores() -> list[Store]:
    """The active stores whose equipment the user runs (HQ: all of them)."""
    user = staff()
    return [s for s in stores_for("EquipmentItem", active_only=True) if services.may_manage(user, s.id)]


def chosen_store(stores: list[Store]) -> Store | None:
    """?store=<id> among the user's stores; one outside them is 404 (no probing)."""
    raw = request.args.get("store", "")
    if not raw:
        return None
    store = next((s for s in stores if s.id == as_id(raw)), None)
    if store is None:
        abort(404)
    return store


def check_item_version(item: EquipmentItem) -> None:
    if required_version() != item.version:
        raise Conflict(_("Someone else changed this item in the meantime. Reload the page and try again."))


def uploads(name: str) -> list[tuple[bytes, str]]:
    limit = current_app.config["UPLOAD_MAX_BYTES"]
    return [(u.read(limit + 1), u.filename or "") for u in request.files.getlist(name) if u and u.filename]


@dataclass
class Badge:
    kind: ReminderKind
    due_on: date
    overdue: bool
    text: str


def badges(item: EquipmentItem, day: date) -> list[Badge]:
    """The item's maintenance, full inspection and calibration due within the week or overdue."""
    horizon = day + timedelta(days=services.DUE_SOON_DAYS)
    found = []
    if item.status is EquipmentStatus.RETIRED:
        return found
    for kind, due_on in (
        (ReminderKind.CALIBRATION, item.next_calibration_due_on),
        (ReminderKind.FULL_INSPECTION, item.next_full_inspection_due_on),
        (ReminderKind.MAINTENANCE, item.next_maintenance_due_on),
    ):
        if due_on is not None and due_on <= horizon:
            found.append(Badge(kind, due_on, due_on < day, describe_due(due_on, day)))
    return found


# --- the register and one item ---------------------------------------------------------------------


class RegisterView(ScopedScreen):
    model_name = "EquipmentItem"

    @expose("/")
    def index(self):
        stores = stores_for("EquipmentItem")
        store = chosen_store(stores)
        status = request.args.get("status", "current")
        if status not in {"current", "any", *(s.value for s in EquipmentStatus)}:
            status = "current"
        statement = scoped_select(EquipmentItem)
        if store is not None:
            statement = statement.where(EquipmentItem.store_id == store.id)
        if status == "current":
            statement = statement.where(EquipmentItem.status != EquipmentStatus.RETIRED)
        elif status != "any":
            statement = statement.where(EquipmentItem.status == EquipmentStatus(status))
        total = db.session.execute(sa.select(sa.func.count()).select_from(statement.subquery())).scalar_one()
        items = list(
            db.session.execute(
                statement.options(joinedload(EquipmentItem.store))
                .order_by(EquipmentItem.store_id, EquipmentItem.asset_tag)
                .limit(LIST_LIMIT)
            ).scalars()
        )
        day = today()
        names = dict(type_choices(day))
        return self.render(
            "equipment/register.html",
            items=items,
            total=total,
            badges={item.id: badges(item, day) for item in items},
            type_names=names,
            stores=stores,
            filters={"store": store, "status": status},
            statuses=list(EquipmentStatus),
            can_register=bool(managed_stores()),
        )

    @expose("/new", methods=("GET", "POST"))
    def new(self):
        stores = {s.id: s for s in managed_stores()}
        if not stores:
            abort(403)
        form = ItemForm(request.form if request.method == "POST" else None, data=self._initial())
        form.store.choices = store_choices(stores.values(), blank=True)
        form.equipment_type.choices = [("", "—"), *type_choices(today())]
        if request.method == "GET":
            return self.render("equipment/item_form.html", form=form, refusal_messages=[])
        created: dict = {}

        def register() -> None:
            validated(form)
            item = services.register_item(
                stores[int(form.store.data)],
                staff(),
                asset_tag=form.asset_tag.data,
                equipment_type=form.equipment_type.data,
                name=form.name.data,
                brand=form.brand.data,
                model=form.model.data,
                serial_number=form.serial_number.data,
                supplier=form.supplier.data,
                purchased_on=form.purchased_on.data,
                price_cents=form.price_cents,
                in_service_on=form.in_service_on.data,
                notes=form.notes.data,
                today=today(),
            )
            created["id"] = item.id
            created["label"] = item.label

        error = attempt(register)
        if error is None:
            flash(_("%(item)s is in the register.", item=created["label"]), "success")
            return redirect(url_for(".item", item_id=created["id"]))
        messages = field_errors(form, error, {"price": "price"})
        return self.render(
            "equipment/item_form.html", form=form, refusal_messages=messages
        ), error.status_code

    @staticmethod
    def _initial() -> dict:
        return {"store": request.args.get("store", "")}

    @expose("/<int:item_id>/")
    def item(self, item_id: int):
        return self._page(load_scoped(EquipmentItem, item_id))

    @expose("/<int:item_id>/<step>", methods=("POST",))
    def act(self, item_id: int, step: str):
        handler = ITEM_STEPS.get(step)
        if handler is None:
            abort(404)
        key, run_step, done = handler
        forms: dict[str, Form] = {}

        def run() -> None:
            item = load_scoped(EquipmentItem, item_id, for_update=True)
            forms[key] = ITEM_FORMS[key](request.form, prefix=key)
            check_item_version(item)
            validated(forms[key])
            run_step(item, forms[key])

        error = attempt(run)
        if error is None:
            flash(str(done), "success")
            return redirect(url_for(".item", item_id=item_id))
        form = forms.get(key)
        messages = field_errors(form, error, ALIASES) if form is not None else [error.message]
        db.session.expire_all()
        return self._page(
            load_scoped(EquipmentItem, item_id), submitted=forms, refusal_messages=messages
        ), error.status_code

    def _page(self, item: EquipmentItem, *, submitted: dict[str, Form] | None = None, refusal_messages=None):
        user, day = staff(), today()
        manager = services.may_manage(user, item.store_id)
        carer = services.may_care(user, item.store_id)
        status = item.status
        live = status is not EquipmentStatus.RETIRED
        retirement = services.open_retirement(item)
        show = {
            "care": carer and live,
            "failure": carer and status in (EquipmentStatus.IN_SERVICE, EquipmentStatus.OUT_OF_SERVICE),
            "repair": manager and status is EquipmentStatus.UNDER_MAINTENANCE,
            "calibration": manager and live,
            "document": manager and live,
            "return": manager and status is EquipmentStatus.OUT_OF_SERVICE,
            "retire": manager and live and retirement is None,
        }
        submitted = submitted or {}
        for key in submitted:
            show[key] = True
        forms = {key: submitted.get(key) or self._form(key, day) for key in ITEM_FORMS if show[key]}
        maintenance = list(
            db.session.execute(
                sa.select(MaintenanceRecord)
                .where(MaintenanceRecord.item_id == item.id)
                .options(joinedload(MaintenanceRecord.performed_by))
                .order_by(MaintenanceRecord.performed_on.desc(), MaintenanceRecord.id.desc())
                .limit(LIST_LIMIT)
            ).scalars()
        )
        calibrations = list(
            db.session.execute(
                sa.select(CalibrationRecord)
                .where(CalibrationRecord.item_id == item.id)
                .order_by(CalibrationRecord.calibrated_on.desc(), CalibrationRecord.id.desc())
                .limit(LIST_LIMIT)
            ).scalars()
        )
        documents = list(
            db.session.execute(
                sa.select(EquipmentDocument)
                .where(EquipmentDocument.item_id == item.id)
                .options(joinedload(EquipmentDocument.file))
                .order_by(EquipmentDocument.id)
            ).scalars()
        )
        retirements = list(
            db.session.execute(
                sa.select(RetirementRequest)
                .where(RetirementRequest.item_id == item.id)
                .order_by(RetirementRequest.id.desc())
            ).scalars()
        )
        rule = services.policy(day).get(item.equipment_type)
        return self.render(
            "equipment/item.html",
            item=item,
            rule=rule,
            type_name=services.type_name(item.equipment_type, day, current_language()),
            badges=badges(item, day),
            show=show,
            forms=forms,
            refusal_messages=refusal_messages or [],
            refusal_on_field=refusal_messages == [],
            events=item.events,
            maintenance=maintenance,
            calibrations=calibrations,
            documents=documents,
            retirements=retirements,
            open_repair=services.open_repair(item),
            S=EquipmentStatus,
            retirement_href=lambda r: url_for("equipment_retirements.show", retirement_id=r.id),
        )

    @staticmethod
    def _form(key: str, day: date) -> Form:
        defaults = {
            "care": {"performed_on": day},
            "repair": {"completed_on": day},
            "calibration": {"calibrated_on": day},
        }
        return ITEM_FORMS[key](prefix=key, data=defaults.get(key))


def _care(item, form: MaintenanceForm) -> None:
    services.record_maintenance(
        item,
        staff(),
        kind=MaintenanceKind(form.kind.data),
        performed_on=form.performed_on.data,
        result=MaintenanceResult(form.result.data),
        checklist=services.Checklist(
            form.inspected.data, form.cleaned.data, form.lubricated.data, form.tightened.data
        ),
        problems=form.problems.data,
        cost_cents=form.cost_cents,
        today=today(),
    )


def _failure(item, form: FailureForm) -> None:
    services.report_failure(item, staff(), problem=form.problem.data, today=today())


def _repair(item, form: RepairDoneForm) -> None:
    services.finish_repair(
        item,
        staff(),
        repaired=form.outcome.data == "repaired",
        completed_on=form.completed_on.data,
        cost_cents=form.cost_cents,
        note=form.note.data,
        today=today(),
    )


def _calibration(item, form: CalibrationForm) -> None:
    scans = uploads("calibration-scan")
    services.record_calibration(
        item,
        staff(),
        calibrated_on=form.calibrated_on.data,
        certificate_number=form.certificate_number.data,
        calibrating_body=form.calibrating_body.data,
        result=CalibrationResult(form.result.data),
        scan=scans[0] if scans else None,
        notes=form.notes.data,
        today=today(),
    )


def _document(item, form: DocumentForm) -> None:
    files = uploads("document-file")
    if not files:
        raise DomainError(_("Choose the file."), field="title")
    data, filename = files[0]
    services.add_document(
        item,
        staff(),
        kind=DocumentKind(form.kind.data),
        title=form.title.data or "",
        data=data,
        filename=filename,
    )


def _return(item, form: ReturnForm) -> None:
    services.return_to_service(item, staff(), note=form.note.data, today=today())


def _retire(item, form: RetireForm) -> None:
    services.assess_retirement(
        item, staff(), reason=RetirementReason(form.reason.data), condition=form.condition.data, today=today()
    )


#: The forms of the item page, by prefix (also the key of `show`).
ITEM_FORMS: dict[str, type[Form]] = {
    "care": MaintenanceForm,
    "failure": FailureForm,
    "repair": RepairDoneForm,
    "calibration": CalibrationForm,
    "document": DocumentForm,
    "return": ReturnForm,
    "retire": RetireForm,
}
#: The POST steps of the item page: URL segment -> (form key, service call, confirmation).
ITEM_STEPS: dict[str, tuple[str, Callable[[EquipmentItem, Form], None], object]] = {
    "care": ("care", _care, _l("The maintenance is recorded.")),
    "failure": ("failure", _failure, _l("The failure is recorded; the item is under maintenance.")),
    "repair": ("repair", _repair, _l("The repair is recorded.")),
    "calibration": ("calibration", _calibration, _l("The calibration is recorded.")),
    "document": ("document", _document, _l("The document is filed.")),
    "return": ("return", _return, _l("The item is back in service.")),
    "retire": ("retire", _retire, _l("The condition is assessed; plan the retirement next.")),
}
#: A service's field name → the form's.
ALIASES = {
    "checklist": "inspected",
    "problems": "problems",
    "cost": "cost",
    "attachments": "title",
    "price": "price",
    "unit_price": "unit_price",
}


# --- the due list ------------------------------------------------------------------------------------


class DueView(ScopedScreen):
    model_name = "EquipmentItem"

    @expose("/")
    def index(self):
        stores = stores_for("EquipmentItem")
        store = chosen_store(stores)
        day = today()
        allowed = current_grants().stores_for("EquipmentItem", Action.VIEW)
        entries = services.due_items(
            day + timedelta(days=services.DUE_SOON_DAYS),
            store_ids=[store.id] if store is not None else allowed,
        )
        by_store: dict[int, list] = {}
        for entry in entries:
            by_store.setdefault(entry.item.store_id, []).append(entry)
        return self.render(
            "equipment/due.html",
            stores=stores,
            groups=[(s, by_store[s.id]) for s in stores if s.id in by_store],
            filters={"store": store},
            day=day,
            describe=lambda d: describe_due(d, day),
            horizon=services.DUE_SOON_DAYS,
        )


# --- procurement (HB §4.1.2) ------------------------------------------------------------------------


class ProcurementView(ScopedScreen):
    model_name = "ProcurementRequest"

    @expose("/")
    def index(self):
        stores = stores_for("ProcurementRequest")
        store = chosen_store(stores)
        status = request.args.get("status", "")
        if status not in {s.value for s in ProcurementStatus}:
            status = ""
        statement = scoped_select(ProcurementRequest)
        if store is not None:
            statement = statement.where(ProcurementRequest.store_id == store.id)
        if status:
            statement = statement.where(ProcurementRequest.status == ProcurementStatus(status))
        requests = list(
            db.session.execute(
                statement.options(
                    joinedload(ProcurementRequest.store), joinedload(ProcurementRequest.requested_by)
                )
                .order_by(ProcurementRequest.id.desc())
                .limit(LIST_LIMIT)
            ).scalars()
        )
        return self.render(
            "equipment/procurements.html",
            requests=requests,
            stores=stores,
            filters={"store": store, "status": status},
            statuses=list(ProcurementStatus),
            type_names=dict(type_choices(today())),
            can_request=bool(managed_stores()),
        )

    @expose("/new", methods=("GET", "POST"))
    def new(self):
        stores = {s.id: s for s in managed_stores()}
        if not stores:
            abort(403)
        form = RequestForm(request.form if request.method == "POST" else None)
        form.store.choices = store_choices(stores.values(), blank=True)
        form.equipment_type.choices = [("", "—"), *type_choices(today())]
        if request.method == "GET":
            return self.render("equipment/procurement_form.html", form=form, refusal_messages=[])
        created: dict = {}

        def run() -> None:
            validated(form)
            made = services.request_procurement(
                stores[int(form.store.data)],
                staff(),
                equipment_type=form.equipment_type.data,
                quantity=form.quantity.data,
                needs=form.needs.data,
                today=today(),
            )
            created["id"] = made.id

        error = attempt(run)
        if error is None:
            flash(_("The request is recorded; add the options compared."), "success")
            return redirect(url_for(".show", request_id=created["id"]))
        messages = field_errors(form, error)
        return self.render(
            "equipment/procurement_form.html", form=form, refusal_messages=messages
        ), error.status_code

    @expose("/<int:request_id>/")
    def show(self, request_id: int):
        return self._page(load_scoped(ProcurementRequest, request_id))

    @expose("/<int:request_id>/<step>", methods=("POST",))
    def act(self, request_id: int, step: str):
        if step not in PROCUREMENT_FORMS:
            abort(404)
        forms: dict[str, Form] = {}

        def run() -> None:
            record = load_scoped(ProcurementRequest, request_id, for_update=True)
            form = forms[step] = self._form(step, record, request.form)
            version = required_version()
            validated(form)
            user, day = staff(), today()
            if step == "option":
                if version != record.version:
                    raise Conflict(_("Someone else changed this request in the meantime. Reload the page."))
                services.add_option(
                    record,
                    user,
                    brand=form.brand.data,
                    model=form.model.data,
                    supplier=form.supplier.data,
                    unit_price_cents=form.unit_price_cents,
                    after_sales=form.after_sales.data,
                    notes=form.notes.data,
                )
            elif step == "decision":
                services.decide_procurement(
                    record,
                    user,
                    approve=form.approve,
                    option_id=as_id(form.option.data),
                    note=form.note.data,
                    expected_version=version,
                )
            else:
                services.check_delivery(
                    record,
                    user,
                    passed=form.outcome.data == "passed",
                    checked_on=form.checked_on.data,
                    notes=form.notes.data,
                    asset_tags=form.lines(form.asset_tags.data),
                    serial_numbers=form.lines(form.serial_numbers.data),
                    today=day,
                    expected_version=version,
                )

        error = attempt(run)
        if error is None:
            flash(str(PROCUREMENT_DONE[step]), "success")
            return redirect(url_for(".show", request_id=request_id))
        form = forms.get(step)
        messages = field_errors(form, error, ALIASES) if form is not None else [error.message]
        db.session.expire_all()
        return self._page(
            load_scoped(ProcurementRequest, request_id), submitted=forms, refusal_messages=messages
        ), error.status_code

    @staticmethod
    def _form(key: str, record: ProcurementRequest, formdata=None) -> Form:
        data = None if formdata else ({"checked_on": today()} if key == "acceptance" else None)
        form = PROCUREMENT_FORMS[key](formdata, prefix=key, data=data)
        if key == "decision":
            form.option.choices = [("", "—")] + [
                (str(o.id), f"{o.brand} {o.model} · {o.supplier}") for o in record.options
            ]
        return form

    def _page(self, record: ProcurementRequest, *, submitted=None, refusal_messages=None):
        user = staff()
        manager = services.may_manage(user, record.store_id)
        status = record.status
        show = {
            "option": manager and status is ProcurementStatus.COMPARING,
            "decision": services.may_approve(user)
            and status is ProcurementStatus.COMPARING
            and bool(record.options),
            "acceptance": manager
            and status in (ProcurementStatus.APPROVED, ProcurementStatus.ACCEPTANCE_FAILED),
        }
        submitted = submitted or {}
        for key in submitted:
            show[key] = True
        forms = {key: submitted.get(key) or self._form(key, record) for key in PROCUREMENT_FORMS if show[key]}
        items = list(
            db.session.execute(
                sa.select(EquipmentItem)
                .where(EquipmentItem.procurement_id == record.id)
                .order_by(EquipmentItem.asset_tag)
            ).scalars()
        )
        return self.render(
            "equipment/procurement.html",
            record=record,
            type_name=services.type_name(record.equipment_type, today(), current_language()),
            show=show,
            forms=forms,
            refusal_messages=refusal_messages or [],
            refusal_on_field=refusal_messages == [],
            items=items,
            S=ProcurementStatus,
            item_href=lambda item: url_for("equipment_register.item", item_id=item.id),
        )


PROCUREMENT_FORMS: dict[str, type[Form]] = {
    "option": OptionForm,
    "decision": DecisionForm,
    "acceptance": AcceptanceForm,
}
PROCUREMENT_DONE = {
    "option": _l("The option is added to the comparison."),
    "decision": _l("The decision is recorded."),
    "acceptance": _l("The acceptance check is recorded."),
}


# --- retirement (HB §4.3) ---------------------------------------------------------------------------


class RetirementView(ScopedScreen):
    model_name = "RetirementRequest"

    @expose("/")
    def index(self):
        stores = stores_for("RetirementRequest")
        store = chosen_store(stores)
        statement = scoped_select(RetirementRequest)
        if store is not None:
            statement = statement.where(RetirementRequest.store_id == store.id)
        records = list(
            db.session.execute(
                statement.options(joinedload(RetirementRequest.store), joinedload(RetirementRequest.item))
                .order_by(
                    sa.case((RetirementRequest.status.in_(services.RETIREMENT_OPEN), 0), else_=1),
                    RetirementRequest.id.desc(),
                )
                .limit(LIST_LIMIT)
            ).scalars()
        )
        return self.render(
            "equipment/retirements.html", records=records, stores=stores, filters={"store": store}
        )

    @expose("/<int:retirement_id>/")
    def show(self, retirement_id: int):
        return self._page(load_scoped(RetirementRequest, retirement_id))

    @expose("/<int:retirement_id>/<step>", methods=("POST",))
    def act(self, retirement_id: int, step: str):
        if step not in RETIREMENT_FORMS:
            abort(404)
        forms: dict[str, Form] = {}

        def run() -> None:
            record = load_scoped(RetirementRequest, retirement_id, for_update=True)
            form = forms[step] = RETIREMENT_FORMS[step](request.form, prefix=step)
            version = required_version()
            validated(form)
            user = staff()
            if step == "plan":
                services.plan_retirement(
                    record,
                    user,
                    planned_on=form.planned_on.data,
                    method=DisposalMethod(form.method.data),
                    notes=form.notes.data,
                    expected_version=version,
                )
            elif step == "decision":
                services.decide_retirement(
                    record, user, approve=form.approve, note=form.note.data, expected_version=version
                )
            else:
                services.record_disposal(
                    record,
                    user,
                    disposed_on=form.disposed_on.data,
                    record=form.record.data,
                    today=today(),
                    expected_version=version,
                )

        error = attempt(run)
        if error is None:
            flash(str(RETIREMENT_DONE[step]), "success")
            return redirect(url_for(".show", retirement_id=retirement_id))
        form = forms.get(step)
        messages = field_errors(form, error) if form is not None else [error.message]
        db.session.expire_all()
        return self._page(
            load_scoped(RetirementRequest, retirement_id), submitted=forms, refusal_messages=messages
        ), error.status_code

    def _page(self, record: RetirementRequest, *, submitted=None, refusal_messages=None):
        user = staff()
        manager = services.may_manage(user, record.store_id)
        status = record.status
        show = {
            "plan": manager and status in (RetirementStatus.ASSESSED, RetirementStatus.PLANNED),
            "decision": services.may_approve(user) and status is RetirementStatus.PLANNED,
            "disposal": manager and status is RetirementStatus.APPROVED,
        }
        submitted = submitted or {}
        for key in submitted:
            show[key] = True
        day = today()
        defaults = {
            "plan": {
                "planned_on": record.planned_on or day,
                "method": record.disposal_method.value if record.disposal_method else None,
                "notes": record.plan_notes,
            },
            "disposal": {"disposed_on": day},
        }
        forms = {
            key: submitted.get(key) or RETIREMENT_FORMS[key](prefix=key, data=defaults.get(key))
            for key in RETIREMENT_FORMS
            if show[key]
        }
        in_use = services.open_order_using(record.item) if status in services.RETIREMENT_OPEN else None
        return self.render(
            "equipment/retirement.html",
            record=record,
            item=record.item,
            show=show,
            forms=forms,
            refusal_messages=refusal_messages or [],
            refusal_on_field=refusal_messages == [],
            in_use=in_use,
            S=RetirementStatus,
            item_href=url_for("equipment_register.item", item_id=record.item_id),
        )


RETIREMENT_FORMS: dict[str, type[Form]] = {
    "plan": PlanForm,
    "decision": RetirementDecisionForm,
    "disposal": DisposalForm,
}
RETIREMENT_DONE = {
    "plan": _l("The retirement plan is saved; it now awaits approval."),
    "decision": _l("The decision is recorded."),
    "disposal": _l("The disposal is recorded; the item is retired."),
}


def register_equipment_views(admin) -> None:
    from repairqc.chapters import add_screens

    add_screens(
        admin,
        "ch4",
        (RegisterView, _l("Equipment and tools"), "equipment_register", "/admin/equipment/register"),
        (DueView, _l("Equipment due"), "equipment_due", "/admin/equipment/due"),
        (
            ProcurementView,
            _l("Equipment procurement"),
            "equipment_procurement",
            "/admin/equipment/procurement",
        ),
        (RetirementView, _l("Equipment retirement"), "equipment_retirements", "/admin/equipment/retirements"),
    )
