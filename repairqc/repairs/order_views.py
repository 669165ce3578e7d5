"""One repair order and its next step (HB §2.1.2): the page store staff use all day.

The page shows where the order stands (header, overdue flags, the timeline of every status
change: who, when, why — HB §2.1.1 traceable) and, per state, only the forms the user can use
(`workflow.allowed_moves` and their roles at the store), so the next step is one click away
(HB §2.1.3 simple). Every form posts the order's `version` as the page showed it; the step runs
on the order locked for update, in one unit of work, and passes that version to the service. A
refusal re-renders the page with the user's input kept and the message (409 when someone else
changed the order or the move is not allowed, 400 for bad input), so nothing typed is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from flask import abort, flash, make_response, redirect, request, url_for
from flask_admin import expose
from flask_babel import format_date, get_locale
from flask_babel import gettext as _
from wtforms import Form

from repairqc.accounts.models import Role, RoleAssignment, StaffUser
from repairqc.accounts.permissions import Action, current_grants
from repairqc.accounts.scoping import scoped_select
from repairqc.admin.screens import attempt, expected_version, staff, today
from repairqc.db import db, utcnow
from repairqc.errors import DomainError
from repairqc.privacy.access import log_data_access
from repairqc.repairs import services
from repairqc.repairs.access import RepairsAccess, load_order
from repairqc.repairs.models import (
    DecisionMethod,
    OrderPhoto,
    Part,
    QCCheckResult,
    QuoteStatus,
    RepairOrder,
    RepairStatusEvent,
    Signature,
    StockMovement,
    WorkLog,
)
from repairqc.repairs.models import RepairOrderStatus as S
from repairqc.repairs.order_forms import (
    AssignForm,
    CancelForm,
    DecisionForm,
    DiagnosisForm,
    HoldForm,
    PartForm,
    QuoteForm,
    WorkLogForm,
)
from repairqc.repairs.workflow import BENCH, DESK, MANAGE, allowed_moves, check_version, roles_at
from repairqc.standards.services import EffectiveStandard, effective_for_store
from repairqc.tenants.services import tenant_url

#: States in which a manager may (re)assign the technician: before the device reaches QC.
ASSIGNABLE = frozenset({S.RECEIVED, S.DIAGNOSING, S.QUOTED, S.APPROVED, S.IN_REPAIR})
#: Where a service's `DomainError.field` is shown, per form (other fields: above the form).
FIELD_OF_ERROR = {"diagnosis": "cause"}


class InvalidForm(DomainError):
    """The form itself is not filled in correctly; its fields carry the details."""


def check_form(form: Form, ok: bool) -> None:
    if not ok:
        raise InvalidForm(_("Nothing was saved: correct the fields marked below."))


@dataclass
class Outcome:
    """What a step leaves for the response: the form it read and, for the passcode, the secret."""

    form: Form | None = None
    passcode: str | None = None
    shown: bool = False
    #: A confirmation other than the step's usual one.
    message: str | None = None


class OrderView(RepairsAccess):
    def is_visible(self) -> bool:
        return False  # reached from the board and from intake

    @expose("/")
    def index(self):
        return redirect(url_for("repairs_board.index"))

    @expose("/<int:order_id>/")
    def show(self, order_id: int):
        return self._page(load_order(order_id))

    # --- the steps -------------------------------------------------------------------------------

    @expose("/<int:order_id>/<step>", methods=("POST",))
    def act(self, order_id: int, step: str):
        """One POST route per order; `step` names the form that was submitted."""
        handler = STEPS.get(step)
        if handler is None:
            abort(404)
        return handler(self, order_id)

    def _step(
        self,
        order_id: int,
        key: str | None,
        action: Callable[[RepairOrder, Form | None, Outcome], None],
        done: str,
    ):
        """Run `action` on the locked order in one unit of work; redirect, or show the refusal.

        The order is loaded (404 outside the user's stores) before the form is even read, so
        nobody learns anything about another store's order from a validation message.
        """
        outcome = Outcome()

        def run() -> None:
            order = load_order(order_id, for_update=True)
            outcome.form = self._form(key, order, request.form) if key else None
            if expected_version() is None:  # every form carries it; without it a change could be lost
                raise DomainError(_("This page is incomplete or out of date. Reload it and try again."))
            action(order, outcome.form, outcome)

        error = attempt(run)
        if error is None:
            if outcome.shown:  # the passcode: shown on this response only, never stored
                response = make_response(self._page(load_order(order_id), passcode=outcome))
                response.headers["Cache-Control"] = "no-store"
                return response
            flash(outcome.message or done, "warning" if outcome.message else "success")
            return redirect(url_for(".show", order_id=order_id))
        form = outcome.form
        field = FIELD_OF_ERROR.get(error.field or "", error.field or "")
        if form is not None and field and field in form._fields and not isinstance(error, InvalidForm):
            form[field].errors = [*form[field].errors, error.message]
        order = load_order(order_id)
        submitted = {key: form} if key and form is not None else {}
        return self._page(order, submitted=submitted, refusal=error), error.status_code

    def start_diagnosis(self, order_id: int):
        def action(order, _form, _outcome):
            services.start_diagnosis(order, staff(), expected_version=expected_version())

        return self._step(order_id, None, action, _("Diagnosis started."))

    def assign(self, order_id: int):
        def action(order, form, _outcome):
            check_form(form, form.validate())
            technician = db.session.get(StaffUser, form.technician.data)
            services.assign_technician(order, technician, staff(), expected_version=expected_version())

        return self._step(order_id, "assign", action, _("The technician is assigned."))

    def diagnosis(self, order_id: int):
        def action(order, form, _outcome):
            check_form(form, form.validate())
            services.record_diagnosis(
                order,
                staff(),
                cause=form.cause.data,
                plan=form.plan.data,
                repair_type=form.repair_type.data,
                minutes=form.minutes.data,
                today=today(),
                expected_version=expected_version(),
            )

        return self._step(order_id, "diagnosis", action, _("The diagnosis is recorded."))

    def quote(self, order_id: int):
        """The quote editor: "Add a row" re-renders with one more row; save; save and send."""
        if "add" in request.form:
            order = load_order(order_id)
            form = self._form("quote", order, request.form)
            form.add_row()
            return self._page(order, submitted={"quote": form})
        sending = "send" in request.form

        def action(order, form, _outcome):
            check_form(form, form.validate_rows())
            version = expected_version()
            services.save_quote(order, staff(), form.inputs(), expected_version=version)
            if sending:
                # Same unit of work, the order still locked: the version was checked just above.
                services.send_quote(order, staff(), today=today())

        done = _("The quote is sent.") if sending else _("The quote is saved; it is not sent yet.")
        return self._step(order_id, "quote", action, done)

    def decision(self, order_id: int):
        def action(order, form, _outcome):
            check_form(form, form.validate())
            check_version(order, expected_version())
            revision = form.revision_number()
            if revision is None:
                raise DomainError(_("That quote does not exist."))
            approve = form.decision.data == "approve"
            services.decide_quote(
                order,
                staff(),
                revision=revision,
                approve=approve,
                method=DecisionMethod(form.method.data),
                signer_name=form.signer_name.data,
                today=today(),
                signature_data_url=(request.form.get("signature") or None) if approve else None,
                reason=form.reason.data or None,
            )

        return self._step(order_id, "decision", action, _("The customer's decision is recorded."))

    def start_repair(self, order_id: int):
        def action(order, _form, _outcome):
            services.start_repair(order, staff(), expected_version=expected_version())

        return self._step(order_id, None, action, _("The repair has started."))

    def work(self, order_id: int):
        def action(order, form, _outcome):
            check_form(form, form.validate())
            check_version(order, expected_version())
            services.log_work(
                order,
                staff(),
                step=form.step.data,
                minutes=form.minutes.data,
                equipment=form.equipment.data,
                equipment_ids=form.equipment_items.data or [],
            )

        return self._step(order_id, "work", action, _("The work is logged."))

    def parts(self, order_id: int):
        def action(order, form, outcome):
            check_form(form, form.validate())
            check_version(order, expected_version())
            taken = services.consume_part(
                order,
                staff(),
                part_id=form.part.data,
                quantity=form.quantity.data,
                hold_if_short=form.hold_if_short.data,
            )
            if taken is None:
                outcome.message = _("Not enough in stock: the repair is on hold, waiting for parts.")

        return self._step(order_id, "parts", action, _("The parts are taken out of stock."))

    def hold(self, order_id: int):
        def action(order, form, _outcome):
            check_form(form, form.validate())
            services.set_hold(
                order, staff(), form.chosen(), form.note.data, expected_version=expected_version()
            )

        return self._step(order_id, "hold", action, _("The hold is updated."))

    def send_to_qc(self, order_id: int):
        def action(order, _form, _outcome):
            services.send_to_qc(order, staff(), expected_version=expected_version())

        return self._step(order_id, None, action, _("The repair is waiting for its quality check."))

    def cancel(self, order_id: int):
        def action(order, form, _outcome):
            check_form(form, form.validate())
            services.cancel_order(
                order, staff(), reason=form.reason.data, expected_version=expected_version()
            )

        return self._step(order_id, "cancel", action, _("The order is cancelled."))

    def close(self, order_id: int):
        def action(order, _form, _outcome):
            services.close_order(order, staff(), expected_version=expected_version())

        return self._step(order_id, None, action, _("The order is closed."))

    def passcode(self, order_id: int):
        """The device's passcode, for the assigned technician, on this response only (HB §6.1.2)."""

        def action(order, _form, outcome):
            outcome.passcode = services.passcode_for(order, staff())
            outcome.shown = True

        return self._step(order_id, None, action, "")

    # --- forms -----------------------------------------------------------------------------------

    def _form(self, key: str, order: RepairOrder, formdata=None) -> Form:
        """The form `key` of the page: as submitted (`formdata`) or filled from the order."""
        if key == "assign":
            form = AssignForm(
                formdata, prefix="assign", data=None if formdata else {"technician": order.technician_id}
            )
            form.technician.choices = [(user.id, user.full_name) for user in technicians(order)]
        elif key == "diagnosis":
            data = {"cause": order.diagnosis, "plan": order.repair_plan, "repair_type": order.repair_type,
                    "minutes": order.diagnosis_minutes}  # fmt: skip
            form = DiagnosisForm(formdata, prefix="diagnosis", data=None if formdata else data)
            form.repair_type.choices = [("", "—")] + [(code, code) for code in repair_types(order)]
        elif key == "quote":
            if formdata:
                form = QuoteForm(formdata, prefix="quote", parts=parts_for(order))
            else:
                form = QuoteForm.from_quote(services.current_quote(order), parts_for(order), prefix="quote")
        elif key == "decision":
            sent = sent_quote(order)
            data = {"revision": str(sent.revision) if sent else "", "signer_name": order.customer.full_name}
            form = DecisionForm(formdata, prefix="decision", data=None if formdata else data)
        elif key == "work":
            form = WorkLogForm(formdata, prefix="work")
            form.equipment_items.choices = equipment_choices(order)
        elif key == "parts":
            form = PartForm(formdata, prefix="parts")
            form.part.choices = [(part.id, str(part)) for part in parts_for(order)]
        elif key == "hold":
            data = {"hold": order.hold.value if order.hold else "", "note": order.hold_note}
            form = HoldForm(formdata, prefix="hold", data=None if formdata else data)
        elif key == "cancel":
            form = CancelForm(formdata, prefix="cancel")
        else:  # pragma: no cover - the keys are this module's own
            raise KeyError(key)
        return form

    # --- the page --------------------------------------------------------------------------------

    def _page(
        self,
        order: RepairOrder,
        *,
        submitted: dict[str, Form] | None = None,
        refusal: DomainError | None = None,
        passcode: Outcome | None = None,
    ):
        user = staff()
        roles = roles_at(user, order.store_id)
        moves = {move.target for move in allowed_moves(order, user)}
        status = order.status
        at_bench = status is S.IN_REPAIR and (user.id == order.technician_id or bool(roles & MANAGE))
        show = {
            "start_diagnosis": S.DIAGNOSING in moves,
            "assign": bool(roles & MANAGE) and status in ASSIGNABLE,
            "diagnosis": status is S.DIAGNOSING and bool(roles & BENCH),
            "quote": status in (S.DIAGNOSING, S.IN_REPAIR) and bool(roles & BENCH),
            "decision": status is S.QUOTED and S.APPROVED in moves,
            "start_repair": status is S.APPROVED and S.IN_REPAIR in moves,
            "work": at_bench,
            "parts": at_bench,
            "hold": status.is_open and bool(roles & (BENCH | DESK)),
            "send_to_qc": S.QC in moves,
            "cancel": S.CANCELLED in moves,
            "close": S.CLOSED in moves,
            "passcode": (
                status.is_open and user.id == order.technician_id and order.device.passcode is not None
            ),
        }
        submitted = submitted or {}
        for key in submitted:
            show[key] = True  # the user's input stays on the page even if the step no longer applies
        forms = {
            key: submitted.get(key) or self._form(key, order)
            for key in ("assign", "diagnosis", "quote", "decision", "work", "parts", "hold", "cancel")
            if show[key]
        }
        now = utcnow()
        grants = current_grants()
        customer_stores = grants.stores_for("Customer", Action.VIEW)
        show_contact = customer_stores is None or order.store_id in customer_stores
        if show_contact:  # the page shows the customer's contact data (HB §7.3.1)
            log_data_access("view", "order", record_id=order.id, detail=f"customer {order.customer_id}")
        return self.render(
            "repairs/order.html",
            order=order,
            version=order.version,
            S=S,
            show=show,
            forms=forms,
            refusal=refusal,
            passcode=passcode,
            category=category_name(order),
            show_contact=show_contact,
            diagnosis_overdue=status in (S.RECEIVED, S.DIAGNOSING)
            and order.diagnosis_due_at is not None
            and now > order.diagnosis_due_at,
            promise_missed=status.is_open and order.promised_at is not None and now > order.promised_at,
            events=order.events,
            failed_items=failed_items(order.events),
            quotes=[quote for quote in order.quotes if quote.status is not QuoteStatus.DRAFT],
            draft=draft_quote(order),
            sent=sent_quote(order),
            approved=services.approved_quote(order),
            amount_paid=services.amount_paid(order),
            **records(order),
            tracking_link=tenant_url(f"/track/{services.tracking_token(order)}"),
            qc_open=status is S.QC and services.open_qc_check(order) is not None,
        )


#: The POST steps of the page: URL segment -> handler.
STEPS: dict[str, Callable[[OrderView, int], object]] = {
    "start-diagnosis": OrderView.start_diagnosis,
    "assign": OrderView.assign,
    "diagnosis": OrderView.diagnosis,
    "quote": OrderView.quote,
    "decision": OrderView.decision,
    "start-repair": OrderView.start_repair,
    "work": OrderView.work,
    "parts": OrderView.parts,
    "hold": OrderView.hold,
    "send-to-qc": OrderView.send_to_qc,
    "cancel": OrderView.cancel,
    "close": OrderView.close,
    "passcode": OrderView.passcode,
}


# --- reads of the page (aesthetics.md §7: the few queries of a screen stay in its module) -------------


def rows(statement: sa.Select) -> list:
    return list(db.session.execute(statement).scalars())


def records(order: RepairOrder) -> dict[str, list]:
    """The order's work logs, parts used, photos, signatures and warranty reworks."""
    return {
        "work_logs": rows(
            sa.select(WorkLog).where(WorkLog.order_id == order.id).order_by(WorkLog.at, WorkLog.id)
        ),
        "parts_used": rows(
            sa.select(StockMovement)
            .where(StockMovement.order_id == order.id)
            .order_by(StockMovement.at, StockMovement.id)
        ),
        "photos": rows(sa.select(OrderPhoto).where(OrderPhoto.order_id == order.id).order_by(OrderPhoto.id)),
        "signatures": rows(sa.select(Signature).where(Signature.order_id == order.id).order_by(Signature.id)),
        "reworks": rows(
            scoped_select(RepairOrder).where(RepairOrder.rework_of_id == order.id).order_by(RepairOrder.id)
        ),
    }


def equipment_choices(order: RepairOrder) -> list[tuple[int, str]]:
    """The work-log form's items: the order's store's items in service, those overdue for
    calibration marked (choosing one is refused by the service, naming the date)."""
    from repairqc.equipment.services import usable_items

    day = today()
    return [
        (
            item.id,
            _("%(item)s (calibration overdue: due %(day)s)", item=item.label,
              day=format_date(item.next_calibration_due_on))
            if item.calibration_overdue(day)
            else item.label,
        )
        for item in usable_items(order.store_id)
    ]  # fmt: skip


def technicians(order: RepairOrder) -> list[StaffUser]:
    """Active staff holding the technician role at the order's store."""
    return rows(
        sa.select(StaffUser)
        .join(RoleAssignment, RoleAssignment.user_id == StaffUser.id)
        .where(
            RoleAssignment.role == Role.TECHNICIAN,
            RoleAssignment.store_id == order.store_id,
            StaffUser.is_active.is_(True),
        )
        .order_by(StaffUser.full_name)
    )


def parts_for(order: RepairOrder) -> list[Part]:
    """Active catalogue parts that fit the device's category (or every category)."""
    return rows(
        sa.select(Part)
        .where(
            Part.is_active.is_(True), sa.or_(Part.category.is_(None), Part.category == order.device.category)
        )
        .order_by(Part.sku)
    )


def standard_for(order: RepairOrder) -> EffectiveStandard | None:
    try:
        return effective_for_store(order.store, today())
    except DomainError:  # no version in force: the page still opens
        return None


def repair_types(order: RepairOrder) -> list[str]:
    standard = standard_for(order)
    return services.repair_types(standard, order.device.category) if standard else []


def category_name(order: RepairOrder) -> str:
    standard = standard_for(order)
    code = order.device.category
    for category in standard.document.device_categories if standard else []:
        if category.code == code:
            return category.name.zh if str(get_locale()).startswith("zh") else category.name.en
    return code


def sent_quote(order: RepairOrder):
    """The revision waiting for the customer's answer, if any."""
    return next((quote for quote in reversed(order.quotes) if quote.status is QuoteStatus.SENT), None)


def draft_quote(order: RepairOrder):
    quote = services.current_quote(order)
    return quote if quote is not None and quote.status is QuoteStatus.DRAFT else None


def failed_items(events: list[RepairStatusEvent]) -> dict[int, list[str]]:
    """Event id -> the texts of the QC items it names as failed (HB §5.2.2 result control)."""
    from repairqc.standards.catalog import in_current_language

    wanted = {
        event.id: event.details
        for event in events
        if isinstance(event.details, dict) and event.details.get("failed_items")
    }
    check_ids = {details.get("qc_check_id") for details in wanted.values()} - {None}
    texts: dict[tuple[int, str], str] = {}
    if check_ids:
        for result in rows(sa.select(QCCheckResult).where(QCCheckResult.check_id.in_(check_ids))):
            text = result.item_text or {}
            texts[(result.check_id, result.item_code)] = (
                in_current_language(text.get("en"), text.get("zh")) or ""
            )
    return {
        event_id: [
            texts.get((details.get("qc_check_id"), code)) or str(code) for code in details["failed_items"]
        ]
        for event_id, details in wanted.items()
    }
