"""The step pages of a repair order after the bench (HB ch.2, §5.1.3(5), §5.2.2):

* `/<id>/qc`: the quality check. A colleague of the repairing technician begins it with the
  checklist of the standards in force, records one answer per item (pass/fail, a measured value
  against its tolerance, a photo, a note) and finishes it: passed → ready for pick-up, a failed
  critical item → back to the bench with the failed items as the reason (HB §5.1.3(5)).
* `/<id>/delivery`: payment and the customer's acceptance, which starts the warranty
  (HB §2.1.2(5)).
* `/<id>/warranty`: a problem reported on a delivered repair within its warranty opens a rework
  order at no charge; after the period it is refused with the end date (HB §2.1.2(6)).

Thin (aesthetics.md §7): each POST loads the order locked for update, checks the version the page
showed, calls the service in one unit of work and redirects; a refusal re-renders the page with
what the user typed and the service's message, with its status (400 input, 409 conflict).
"""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from flask import current_app, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import format_date, format_datetime
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from repairqc.admin.screens import attempt, expected_version, field_errors, staff, today
from repairqc.db import db
from repairqc.errors import DomainError, FormInvalid
from repairqc.repairs import services, step_forms
from repairqc.repairs.access import RepairsAccess, load_order
from repairqc.repairs.models import (
    OrderPhoto,
    Payment,
    PhotoStage,
    QCCheck,
    QCCheckStatus,
    RepairOrder,
    RepairOrderStatus,
)
from repairqc.repairs.step_forms import AcceptanceForm, PaymentForm, WarrantyClaimForm
from repairqc.repairs.workflow import DESK, Refused, check_version, roles_at

S = RepairOrderStatus


def order_page(order_id: int) -> str:
    """The order page (`order_views.OrderView`), where every step starts and ends."""
    return f"{url_for('repairs_order.index')}{order_id}/"


def _locked(order_id: int) -> RepairOrder:
    """The order under a row lock, re-read even if this request read it before."""
    db.session.expire_all()
    return load_order(order_id, for_update=True)


class StepsView(RepairsAccess):
    def is_visible(self) -> bool:
        return False

    @expose("/")
    def index(self):
        return redirect(url_for("repairs_board.index"))

    # --- the quality check (HB §5.1.3(5), §5.2.2) ---------------------------------------------------------

    @expose("/<int:order_id>/qc", methods=("GET",))
    def qc(self, order_id: int):
        return self._qc_page(load_order(order_id))

    @expose("/<int:order_id>/qc/begin", methods=("POST",))
    def qc_begin(self, order_id: int):
        def begin() -> None:
            order = _locked(order_id)
            check_version(order, expected_version())
            services.begin_qc_check(order, staff(), today=today())

        error = attempt(begin)
        if error is not None:
            return self._qc_page(load_order(order_id), error=error)
        flash(_("The quality check has begun. Answer every item, then finish the check."), "success")
        return redirect(url_for(".qc", order_id=order_id))

    @expose("/<int:order_id>/qc", methods=("POST",))
    def qc_record(self, order_id: int):
        """Save the answers and photos ("Save"), then, for "Finish", decide the check.

        The two are separate units of work, so a check that cannot be finished yet (an item
        unanswered, a photo missing) keeps what was just entered and uploaded.
        """

        def save() -> None:
            order = _locked(order_id)
            check_version(order, expected_version())
            check = services.open_qc_check(order)
            if order.status is not S.QC or check is None:
                raise Refused(_("This order has no quality check in progress."))
            submission = step_forms.parse_qc(check.results, request.form, request.files)
            user = staff()
            services.record_qc_results(check, user, submission.answers)
            limit = current_app.config["UPLOAD_MAX_BYTES"]
            for result in check.results:
                for upload in submission.photos.get(result.id, []):
                    services.add_photo(
                        order,
                        PhotoStage.QC,
                        upload.read(limit + 1),
                        upload.filename or "",
                        user,
                        qc_result=result,
                    )

        error = attempt(save)
        if error is not None:
            return self._qc_page(load_order(order_id), error=error, posted=request.form)
        if request.form.get("action") != "finish":
            flash(_("The answers are saved."), "success")
            return redirect(url_for(".qc", order_id=order_id))

        outcome: dict = {}

        def finish() -> None:
            order = _locked(order_id)
            check = services.open_qc_check(order)
            if order.status is not S.QC or check is None:
                raise Refused(_("This order has no quality check in progress."))
            services.finish_qc_check(check, staff(), expected_version=expected_version())
            event = order.events[-1]
            outcome.update(
                number=order.number, passed=check.status is QCCheckStatus.PASSED, reason=event.reason
            )

        error = attempt(finish)
        if error is not None:
            return self._qc_page(load_order(order_id), error=error, posted=request.form)
        if outcome["passed"]:
            message = _(
                "%(number)s passed its quality check and is ready for pick-up.", number=outcome["number"]
            )
            if outcome["reason"]:
                message = f"{message} {outcome['reason']}"
            flash(message, "success")
        else:
            flash(
                _(
                    "%(number)s goes back to the bench. %(reason)s.",
                    number=outcome["number"],
                    reason=outcome["reason"],
                ),
                "warning",
            )
        return redirect(order_page(order_id))

    def _qc_page(
        self, order: RepairOrder, *, error: DomainError | None = None, posted: MultiDict | None = None
    ):
        user = staff()
        check = services.open_qc_check(order)
        rows: list[step_forms.QCRow] = []
        if check is not None:
            photos: dict[int, list[OrderPhoto]] = defaultdict(list)
            result_ids = [result.id for result in check.results]
            for photo in db.session.execute(
                sa.select(OrderPhoto).where(OrderPhoto.qc_result_id.in_(result_ids)).order_by(OrderPhoto.id)
            ).scalars():
                photos[photo.qc_result_id].append(photo)
            unreadable = error.fields if isinstance(error, FormInvalid) else None
            rows = step_forms.qc_rows(check.results, photos, posted, unreadable)
        past = [
            c
            for c in db.session.execute(
                sa.select(QCCheck).where(QCCheck.repair_order_id == order.id).order_by(QCCheck.id.desc())
            ).scalars()
            if check is None or c.id != check.id
        ]
        page = self.render(
            "repairs/steps/qc.html",
            order=order,
            check=check,
            rows=rows,
            past=past,
            failed_items=lambda c: [step_forms.item_text(r) for r in c.results if r.passed is False],
            records=check is not None and check.inspector_id == user.id and order.status is S.QC,
            cannot_begin=services.qc_refusal(order, user) if check is None else None,
            error=error,
            order_page=order_page(order.id),
            format_datetime=format_datetime,
        )
        return page, (error.status_code if error is not None else 200)

    # --- payment and acceptance at pick-up (HB §2.1.2(5)) ------------------------------------------------

    @expose("/<int:order_id>/delivery", methods=("GET",))
    def delivery(self, order_id: int):
        order = load_order(order_id)
        return self._delivery_page(order, PaymentForm(formdata=None), AcceptanceForm(formdata=None))

    @expose("/<int:order_id>/delivery/payment", methods=("POST",))
    def delivery_payment(self, order_id: int):
        form = PaymentForm()

        def pay() -> None:
            order = _locked(order_id)
            check_version(order, expected_version())
            if not form.validate():
                raise FormInvalid(form.errors)
            services.record_payment(
                order,
                staff(),
                amount=form.amount_value,
                method=form.method_value,
                reference=form.reference.data,
            )

        error = attempt(pay)
        if error is not None:
            return self._delivery_page(
                load_order(order_id),
                form,
                AcceptanceForm(formdata=None),
                error=error,
                messages=field_errors(form, error),
            )
        flash(_("The payment is recorded."), "success")
        return redirect(url_for(".delivery", order_id=order_id))

    @expose("/<int:order_id>/delivery", methods=("POST",))
    def delivery_accept(self, order_id: int):
        form = AcceptanceForm()
        outcome: dict = {}

        def deliver() -> None:
            order = _locked(order_id)
            check_version(order, expected_version())
            if not form.validate():
                raise FormInvalid(form.errors)
            services.deliver(
                order,
                staff(),
                signer_name=form.signer_name.data or "",
                signature_data_url=request.form.get("signature", ""),
                confirmed_fixed=bool(form.confirmed_fixed.data),
                today=today(),
                expected_version=expected_version(),
            )
            outcome.update(number=order.number, until=order.warranty_until)

        error = attempt(deliver)
        if error is not None:
            signature_errors = [error.message] if error.field == "signature" else []
            messages = [] if signature_errors else field_errors(form, error)
            return self._delivery_page(
                load_order(order_id),
                PaymentForm(formdata=None),
                form,
                error=error,
                messages=messages,
                signature_errors=signature_errors,
            )
        if outcome["until"] is not None:
            flash(
                _(
                    "%(number)s is delivered. The warranty runs until %(date)s.",
                    number=outcome["number"],
                    date=format_date(outcome["until"], "long"),
                ),
                "success",
            )
        else:
            flash(
                _(
                    "%(number)s is delivered. The standards set no warranty for this repair.",
                    number=outcome["number"],
                ),
                "success",
            )
        return redirect(order_page(order_id))

    def _delivery_page(
        self,
        order: RepairOrder,
        payment: PaymentForm,
        acceptance: AcceptanceForm,
        *,
        error: DomainError | None = None,
        messages: list[str] | None = None,
        signature_errors: list[str] | None = None,
    ):
        # The page now shows the order as it is; a resubmission is made against that.
        payment.version.data = acceptance.version.data = str(order.version)
        paid = services.amount_paid(order)
        payments = db.session.execute(
            sa.select(Payment).where(Payment.order_id == order.id).order_by(Payment.id)
        ).scalars()
        page = self.render(
            "repairs/steps/delivery.html",
            order=order,
            paid=paid,
            remaining=max(order.amount_due_cents - paid, 0),
            payments=list(payments),
            payment=payment,
            acceptance=acceptance,
            at_desk=bool(roles_at(staff(), order.store_id) & DESK),
            error=error,
            messages=messages or [],
            signature_errors=signature_errors or [],
            order_page=order_page(order.id),
            format_date=format_date,
            format_datetime=format_datetime,
        )
        return page, (error.status_code if error is not None else 200)

    # --- warranty claims (HB §2.1.2(6)) --------------------------------------------------------------------

    @expose("/<int:order_id>/warranty", methods=("GET",))
    def warranty(self, order_id: int):
        return self._warranty_page(load_order(order_id), WarrantyClaimForm(formdata=None))

    @expose("/<int:order_id>/warranty", methods=("POST",))
    def warranty_claim(self, order_id: int):
        form = WarrantyClaimForm()
        created: dict = {}

        def claim() -> None:
            order = _locked(order_id)
            check_version(order, expected_version())
            if not form.validate():
                raise FormInvalid(form.errors)
            rework = services.claim_warranty(order, staff(), symptoms=form.symptoms.data or "", today=today())
            created.update(id=rework.id, number=rework.number, original=order.number)

        error = attempt(claim)
        if error is not None:
            messages = field_errors(form, error, aliases={"fault_symptoms": "symptoms"})
            return self._warranty_page(load_order(order_id), form, error=error, messages=messages)
        flash(
            _(
                "Warranty rework order %(number)s is open for %(original)s, at no charge.",
                number=created["number"],
                original=created["original"],
            ),
            "success",
        )
        return redirect(order_page(created["id"]))

    def _warranty_page(
        self,
        order: RepairOrder,
        form: WarrantyClaimForm,
        *,
        error: DomainError | None = None,
        messages: list[str] | None = None,
    ):
        form.version.data = str(order.version)
        delivered = order.status in {S.DELIVERED, S.CLOSED} and order.delivered_at is not None
        expired = delivered and (order.warranty_until is None or today() > order.warranty_until)
        reworks = db.session.execute(
            sa.select(RepairOrder).where(RepairOrder.rework_of_id == order.id).order_by(RepairOrder.id)
        ).scalars()
        page = self.render(
            "repairs/steps/warranty.html",
            order=order,
            form=form,
            delivered=delivered,
            expired=expired,
            ended_on=(order.warranty_until or (order.delivered_at.date() if order.delivered_at else None)),
            reworks=list(reworks),
            at_desk=bool(roles_at(staff(), order.store_id) & DESK),
            error=error,
            messages=messages or [],
            order_page=order_page(order.id),
            rework_page=order_page,
            format_date=format_date,
            format_datetime=format_datetime,
        )
        return page, (error.status_code if error is not None else 200)
