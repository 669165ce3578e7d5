"""The repair workflow's services end to end (HB §2.1.2), on both databases."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from repairqc.db import utcnow
from repairqc.errors import DomainError
from repairqc.repairs import services
from repairqc.repairs.models import (
    DecisionMethod,
    PaymentMethod,
    QuoteLineKind,
    QuoteStatus,
    RepairOrderStatus,
)
from repairqc.repairs.workflow import Refused
from tests.conftest import PNG, SIGNATURE, in_tenant, sample_intake, staff, store

TODAY = utcnow().date()  # the seeded standard takes effect on the day the tenants are made


def repaired_order(tenant):
    """An order taken through intake, diagnosis, an approved quote and a logged repair."""
    desk, tech = staff(tenant, "frontdesk"), staff(tenant, "tech")
    order = services.receive_order(store(tenant), desk, sample_intake())
    services.start_diagnosis(order, tech)
    services.record_diagnosis(
        order,
        tech,
        cause="Broken glass",
        plan="Replace screen",
        repair_type="parts-replacement",
        minutes=20,
        today=TODAY,
    )
    services.save_quote(
        order, tech, [services.LineInput(QuoteLineKind.PART, "Screen", 1, Decimal("800.00"), Decimal("13"))]
    )
    services.send_quote(order, tech, today=TODAY)
    services.decide_quote(
        order,
        desk,
        revision=1,
        approve=True,
        method=DecisionMethod.IN_STORE,
        signer_name="Li Wei",
        today=TODAY,
    )
    services.start_repair(order, tech)
    services.log_work(order, tech, step="Replaced the screen", minutes=45, equipment="Heat plate")
    services.send_to_qc(order, tech)
    return order


def test_the_whole_way_from_intake_to_warranty(app, alpha):
    with in_tenant(app, alpha):
        order = repaired_order(alpha)
        assert order.number.startswith(f"{alpha.store_sentinel('S1')}-")
        assert order.amount_due_cents == 90400  # 800.00 + 13 % tax
        inspector = staff(alpha, "manager")
        check = services.begin_qc_check(order, inspector, today=TODAY)
        answers = {
            r.item_code: services.ResultInput(passed=True, measured_value=(r.min_value or 0) + 0.0, note="ok")
            for r in check.results
        }
        services.record_qc_results(check, inspector, answers)
        for result in check.results:
            if result.kind == "photo":
                services.add_photo(order, services.PhotoStage.QC, PNG, "qc.png", inspector, qc_result=result)
        services.finish_qc_check(check, inspector)
        assert order.status is RepairOrderStatus.READY
        desk = staff(alpha, "frontdesk")
        with pytest.raises(Refused, match="cannot become “Closed”"):
            services.close_order(order, desk)
        services.record_payment(order, desk, amount=Decimal("904.00"), method=PaymentMethod.CARD)
        services.deliver(
            order, desk, signer_name="Li Wei", signature_data_url=SIGNATURE, confirmed_fixed=True, today=TODAY
        )
        assert order.status is RepairOrderStatus.DELIVERED
        assert order.device.passcode is None
        assert order.warranty_until == TODAY + timedelta(days=90)
        rework = services.claim_warranty(
            order, desk, symptoms="Touch fails again", today=TODAY + timedelta(days=89)
        )
        assert rework.rework_of_id == order.id and rework.status is RepairOrderStatus.RECEIVED
        with pytest.raises(Refused, match="ended on"):
            services.claim_warranty(order, desk, symptoms="Again", today=TODAY + timedelta(days=91))
        assert [e.to_status for e in order.events][-2:] == [
            RepairOrderStatus.READY,
            RepairOrderStatus.DELIVERED,
        ]
        assert order.quotes[0].status is QuoteStatus.APPROVED


def test_bad_imei_is_refused(app, alpha):
    with in_tenant(app, alpha), pytest.raises(DomainError, match="not a valid IMEI"):
        services.receive_order(store(alpha), staff(alpha, "frontdesk"), sample_intake(imei="490154203237519"))


def test_a_second_quality_check_cannot_begin_while_one_is_under_way(app, alpha):
    with in_tenant(app, alpha):
        order = repaired_order(alpha)
        services.begin_qc_check(order, staff(alpha, "manager"), today=TODAY)
        with pytest.raises(Refused, match="has already begun a quality check of this order"):
            services.begin_qc_check(order, staff(alpha, "inspector"), today=TODAY)


def test_whoever_worked_on_the_repair_cannot_check_it(app, alpha):
    """Not only the assigned technician: a manager who logged work, or a technician reassigned
    away mid-repair, did the work too (HB §5.1.3(5))."""
    with in_tenant(app, alpha):
        order = repaired_order(alpha)  # the technician repaired it; now in QC
        manager = staff(alpha, "manager")
        order.status = RepairOrderStatus.IN_REPAIR  # back on the bench for this test
        services.log_work(order, manager, step="Tightened a screw", minutes=5)
        order.status = RepairOrderStatus.QC
        with pytest.raises(DomainError, match="cannot check it"):
            services.begin_qc_check(order, manager, today=TODAY)
        order.technician_id = staff(alpha, "owner").id  # reassigned after the work was done
        with pytest.raises(DomainError, match="cannot check it"):
            services.begin_qc_check(order, staff(alpha, "tech"), today=TODAY)
        assert (
            services.begin_qc_check(order, staff(alpha, "inspector"), today=TODAY).status.value
            == "in_progress"
        )


def test_only_the_bench_sends_quotes(app, alpha):
    with in_tenant(app, alpha):
        desk, tech = staff(alpha, "frontdesk"), staff(alpha, "tech")
        order = services.receive_order(store(alpha), desk, sample_intake())
        services.start_diagnosis(order, tech)
        services.record_diagnosis(
            order,
            tech,
            cause="Glass",
            plan="Screen",
            repair_type="parts-replacement",
            minutes=10,
            today=TODAY,
        )
        services.save_quote(
            order, tech, [services.LineInput(QuoteLineKind.LABOUR, "Labour", 1, Decimal("10"))]
        )
        with pytest.raises(Refused, match="Only technicians and managers prepare quotes"):
            services.send_quote(order, staff(alpha, "inspector"), today=TODAY)
        services.send_quote(order, tech, today=TODAY)
        assert order.status is RepairOrderStatus.QUOTED


def test_superscript_digits_are_not_taken_for_numbers(app):
    """ "²".isdigit() is true but int("²") fails: such input must be refused, never a 500."""
    from werkzeug.datastructures import MultiDict

    from repairqc.repairs.order_forms import DecisionForm

    with app.test_request_context():
        form = DecisionForm(MultiDict({"revision": "²"}))
        assert form.revision_number() is None
        assert DecisionForm(MultiDict({"revision": "2"})).revision_number() == 2
    with pytest.raises(DomainError, match="not a valid IMEI"):
        services.check_imei("²" * 15)
