"""Equipment and tools (HB ch.4, §5.1.3(2)): the register, maintenance due dates from the
standard's equipment policy, calibration, work-log gating, procurement and retirement.

The intervals come from the handbook defaults (standards/defaults.py) through `services.policy`,
never from numbers written here: each test reads the rule it relies on.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from flask_babel import format_date

from repairqc.db import db
from repairqc.equipment import services
from repairqc.equipment.models import (
    CalibrationRecord,
    CalibrationResult,
    DisposalMethod,
    EquipmentDocument,
    EquipmentEvent,
    EquipmentItem,
    EquipmentStatus,
    MaintenanceKind,
    MaintenanceRecord,
    MaintenanceResult,
    ProcurementStatus,
    RetirementReason,
    RetirementStatus,
)
from repairqc.errors import DomainError
from repairqc.repairs import services as repairs
from repairqc.repairs.models import RepairOrderStatus, WorkLog
from tests.conftest import SeededTenant, in_tenant, staff, store
from tests.test_repair_services import in_repair

TODAY = date.today()  # version 1 of the standards takes effect on the day the tenant is provisioned
PDF = b"%PDF-1.4\n%test\n%%EOF\n"


def rule(equipment_type: str):
    return services.policy(TODAY)[equipment_type]


def item(
    tenant: SeededTenant,
    tag: str,
    equipment_type: str = "multimeter",
    store_name: str = "S1",
    in_service_on: date = TODAY,
    **kw,
) -> EquipmentItem:
    manager = staff(tenant, "manager" if store_name == "S1" else "manager2")
    return services.register_item(
        store(tenant, store_name),
        manager,
        asset_tag=tag,
        equipment_type=equipment_type,
        name=kw.pop("name", f"Tool {tag}"),
        in_service_on=in_service_on,
        today=TODAY,
        **kw,
    )


def calibrate(
    tenant, thing: EquipmentItem, on: date, result=CalibrationResult.PASSED, **kw
) -> CalibrationRecord:
    manager = staff(tenant, "manager" if thing.store_id == tenant.store_ids["S1"] else "manager2")
    return services.record_calibration(
        thing,
        manager,
        calibrated_on=on,
        certificate_number=kw.pop("number", f"C-{on.isoformat()}"),
        calibrating_body="Metrology lab",
        result=result,
        today=TODAY,
        **kw,
    )


def count(model) -> int:
    return db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


# --- register ---------------------------------------------------------------------------------------


def test_registering_sets_the_due_dates_from_the_policy_and_records_the_status(app, alpha):
    with in_tenant(app, alpha):
        start = TODAY - timedelta(days=10)
        meter = item(alpha, "T-1", "multimeter", in_service_on=start, brand="Fluke", price_cents=160000)
        r = rule("multimeter")
        assert meter.status is EquipmentStatus.IN_SERVICE
        assert meter.next_maintenance_due_on == start + timedelta(days=r.maintenance_interval_days)
        assert meter.next_full_inspection_due_on == start + timedelta(days=r.full_inspection_interval_days)
        assert meter.next_calibration_due_on == start + timedelta(days=r.calibration_interval_days)
        assert meter.first_calibration_due_on == meter.next_calibration_due_on
        (event,) = meter.events
        assert (event.from_status, event.to_status, event.actor_id) == (
            None,
            EquipmentStatus.IN_SERVICE,
            staff(alpha, "manager").id,
        )
        press = item(alpha, "T-2", "screen-press")  # not calibrated (HB §5.1.3(2) names what is)
        assert press.next_calibration_due_on is None and press.first_calibration_due_on is None


def test_bad_registrations_are_refused_with_a_message_naming_the_field(app, alpha):
    with in_tenant(app, alpha):
        item(alpha, "DUP-1")
        before = count(EquipmentItem)
        with pytest.raises(DomainError, match="dup-1 is already in the register") as error:
            item(alpha, "dup-1")  # case does not make another tag
        assert error.value.field == "asset_tag"
        with pytest.raises(DomainError, match="not an equipment type") as error:
            item(alpha, "X-1", "laser-cutter")
        assert error.value.field == "equipment_type"
        with pytest.raises(DomainError, match="in the future"):
            item(alpha, "X-2", in_service_on=TODAY + timedelta(days=1))
        with pytest.raises(DomainError, match="negative"):
            item(alpha, "X-3", price_cents=-1)
        with pytest.raises(services.Refused):  # technicians use and care, managers register
            services.register_item(
                store(alpha),
                staff(alpha, "tech"),
                asset_tag="X-4",
                equipment_type="multimeter",
                name="M",
                today=TODAY,
            )
        with pytest.raises(services.Refused):  # a manager of S2 does not register at S1
            services.register_item(
                store(alpha, "S1"),
                staff(alpha, "manager2"),
                asset_tag="X-5",
                equipment_type="multimeter",
                name="M",
                today=TODAY,
            )
        assert count(EquipmentItem) == before


# --- maintenance (HB §4.2) --------------------------------------------------------------------------


def test_daily_care_moves_the_due_date_by_the_policy_interval_and_keeps_the_date_it_was_due(app, alpha):
    with in_tenant(app, alpha):
        start = TODAY - timedelta(days=40)
        meter = item(alpha, "M-1", "multimeter", in_service_on=start)
        interval = rule("multimeter").maintenance_interval_days
        first_due = start + timedelta(days=interval)
        done_on = first_due + timedelta(days=3)  # three days late
        record = services.record_maintenance(
            meter,
            staff(alpha, "tech"),
            kind=MaintenanceKind.DAILY_CARE,
            performed_on=done_on,
            result=MaintenanceResult.OK,
            checklist=services.Checklist(inspected=True, cleaned=True),
            today=TODAY,
        )
        assert (record.due_on, record.on_time, record.inspected, record.lubricated) == (
            first_due,
            False,
            True,
            False,
        )
        assert meter.last_maintenance_on == done_on
        assert meter.next_maintenance_due_on == done_on + timedelta(days=interval)
        # the full inspection (a manager's) includes the daily care and has its own interval
        full = rule("multimeter").full_inspection_interval_days
        services.record_maintenance(
            meter,
            staff(alpha, "manager"),
            kind=MaintenanceKind.FULL_INSPECTION,
            performed_on=TODAY,
            result=MaintenanceResult.OK,
            today=TODAY,
        )
        assert meter.next_full_inspection_due_on == TODAY + timedelta(days=full)
        assert meter.next_maintenance_due_on == TODAY + timedelta(days=interval)


def test_maintenance_input_is_checked_and_problems_take_the_item_out_of_service(app, alpha):
    with in_tenant(app, alpha):
        meter = item(alpha, "M-2")
        tech = staff(alpha, "tech")
        before = count(MaintenanceRecord)
        care = dict(kind=MaintenanceKind.DAILY_CARE, performed_on=TODAY, today=TODAY)
        with pytest.raises(DomainError, match="Tick what was done") as error:
            services.record_maintenance(meter, tech, result=MaintenanceResult.OK, **care)
        assert error.value.field == "checklist"
        ticked = services.Checklist(inspected=True)
        with pytest.raises(DomainError, match="Describe the problems"):
            services.record_maintenance(
                meter, tech, result=MaintenanceResult.PROBLEMS_OPEN, checklist=ticked, **care
            )
        with pytest.raises(DomainError, match="future"):
            services.record_maintenance(
                meter,
                tech,
                result=MaintenanceResult.OK,
                checklist=ticked,
                kind=MaintenanceKind.DAILY_CARE,
                performed_on=TODAY + timedelta(days=1),
                today=TODAY,
            )
        with pytest.raises(services.Refused):  # a full inspection is the manager's
            services.record_maintenance(
                meter,
                tech,
                kind=MaintenanceKind.FULL_INSPECTION,
                performed_on=TODAY,
                result=MaintenanceResult.OK,
                today=TODAY,
            )
        with pytest.raises(services.Refused):  # another store's technician
            services.record_maintenance(
                meter, staff(alpha, "tech2"), result=MaintenanceResult.OK, checklist=ticked, **care
            )
        assert count(MaintenanceRecord) == before
        services.record_maintenance(
            meter,
            tech,
            result=MaintenanceResult.PROBLEMS_OPEN,
            checklist=ticked,
            problems="Probe cracked",
            **care,
        )
        assert meter.status is EquipmentStatus.OUT_OF_SERVICE
        assert meter.events[-1].comment == "Probe cracked"


def test_a_failure_repair_puts_the_item_under_maintenance_until_it_is_repaired(app, alpha):
    with in_tenant(app, alpha):
        meter = item(alpha, "F-1")
        services.report_failure(meter, staff(alpha, "tech"), problem="No reading", today=TODAY)
        assert meter.status is EquipmentStatus.UNDER_MAINTENANCE
        with pytest.raises(services.Refused, match="already under maintenance"):
            services.report_failure(meter, staff(alpha, "tech"), problem="Again", today=TODAY)
        with pytest.raises(services.Refused):  # technicians report, the manager closes the repair
            services.finish_repair(
                meter, staff(alpha, "tech"), repaired=True, completed_on=TODAY, today=TODAY
            )
        record = services.finish_repair(
            meter, staff(alpha, "manager"), repaired=True, completed_on=TODAY, cost_cents=3500, today=TODAY
        )
        assert (record.result, record.cost_cents, record.completed_on) == (
            MaintenanceResult.REPAIRED,
            3500,
            TODAY,
        )
        assert meter.status is EquipmentStatus.IN_SERVICE
        assert [e.to_status for e in meter.events] == [
            EquipmentStatus.IN_SERVICE,
            EquipmentStatus.UNDER_MAINTENANCE,
            EquipmentStatus.IN_SERVICE,
        ]


def test_due_list_holds_overdue_and_soon_due_items_of_the_chosen_stores(app, alpha):
    with in_tenant(app, alpha):
        interval = rule("multimeter").maintenance_interval_days
        late = item(alpha, "D-1", in_service_on=TODAY - timedelta(days=interval + 2))
        soon = item(alpha, "D-2", in_service_on=TODAY - timedelta(days=interval - 3))
        later = item(alpha, "D-3", in_service_on=TODAY)
        other = item(alpha, "D-4", store_name="S2", in_service_on=TODAY - timedelta(days=interval + 2))
        entries = services.due_items(
            TODAY + timedelta(days=services.DUE_SOON_DAYS), store_ids=[store(alpha).id]
        )
        maintenance = {(e.item.asset_tag, e.overdue(TODAY)) for e in entries if e.kind.value == "maintenance"}
        assert ("D-1", True) in maintenance and ("D-2", False) in maintenance
        tags = {e.item.asset_tag for e in entries}
        assert later.asset_tag not in tags and other.asset_tag not in tags
        assert late.next_maintenance_due_on == TODAY - timedelta(days=2)
        assert soon.next_maintenance_due_on == TODAY + timedelta(days=3)


# --- calibration (HB §5.1.3(2)) ---------------------------------------------------------------------


def test_calibration_sets_the_next_due_date_from_the_interval_and_files_the_certificate(app, alpha):
    with in_tenant(app, alpha):
        station = item(alpha, "C-1", "soldering-station", in_service_on=TODAY - timedelta(days=300))
        interval = rule("soldering-station").calibration_interval_days
        on = TODAY - timedelta(days=5)
        record = calibrate(alpha, station, on, number="CERT-77", scan=(PDF, "cert.pdf"))
        assert record.next_due_on == on + timedelta(days=interval)
        assert (station.last_calibration_on, station.next_calibration_due_on) == (on, record.next_due_on)
        assert record.certificate_file.store_id == station.store_id  # the store's file, not the provider's
        document = db.session.execute(
            sa.select(EquipmentDocument).where(EquipmentDocument.item_id == station.id)
        ).scalar_one()
        assert document.kind.value == "certificate" and "CERT-77" in document.title
        # an older certificate entered later does not move the dates back
        calibrate(alpha, station, on - timedelta(days=100), number="CERT-OLD")
        assert station.next_calibration_due_on == on + timedelta(days=interval)


def test_a_calibration_date_in_the_future_is_refused_and_nothing_is_saved(app, alpha):
    with in_tenant(app, alpha):
        meter = item(alpha, "C-2")
        before = (count(CalibrationRecord), meter.next_calibration_due_on)
        tomorrow = TODAY + timedelta(days=1)
        with pytest.raises(DomainError) as error:
            calibrate(alpha, meter, tomorrow)
        assert error.value.field == "calibrated_on"
        assert format_date(tomorrow) in error.value.message and "future" in error.value.message
        with pytest.raises(DomainError, match="certificate number"):
            calibrate(alpha, meter, TODAY, number=" ")
        with pytest.raises(services.Refused):  # calibrations are recorded by the manager
            services.record_calibration(
                meter,
                staff(alpha, "tech"),
                calibrated_on=TODAY,
                certificate_number="C",
                calibrating_body="Lab",
                result=CalibrationResult.PASSED,
                today=TODAY,
            )
        assert (count(CalibrationRecord), meter.next_calibration_due_on) == before


def test_a_failed_calibration_takes_the_item_out_of_service_until_one_passes(app, alpha):
    with in_tenant(app, alpha):
        meter = item(alpha, "C-3")
        manager = staff(alpha, "manager")
        calibrate(alpha, meter, TODAY, CalibrationResult.FAILED, number="FAIL-1")
        assert meter.status is EquipmentStatus.OUT_OF_SERVICE
        assert "FAIL-1" in meter.events[-1].comment
        with pytest.raises(services.Refused, match="calibrate it first"):
            services.return_to_service(meter, manager, note="Looks fine", today=TODAY)
        calibrate(alpha, meter, TODAY, CalibrationResult.ADJUSTED, number="OK-2")
        services.return_to_service(meter, manager, note="Adjusted by the lab", today=TODAY)
        assert meter.status is EquipmentStatus.IN_SERVICE
        assert meter.next_calibration_due_on == TODAY + timedelta(
            days=rule("multimeter").calibration_interval_days
        )


# --- work-log gating (HB §5.1.3(2)) -----------------------------------------------------------------


def overdue(tenant, tag: str, days_overdue: int = 20, store_name: str = "S1", **kw) -> EquipmentItem:
    """A multimeter whose last calibration fell due `days_overdue` days ago."""
    interval = rule("multimeter").calibration_interval_days
    thing = item(
        tenant, tag, store_name=store_name, in_service_on=TODAY - timedelta(days=interval + 400), **kw
    )
    calibrate(tenant, thing, TODAY - timedelta(days=interval + days_overdue))
    return thing


def test_an_item_overdue_for_calibration_cannot_be_logged_and_the_message_names_it_and_the_date(app, alpha):
    with in_tenant(app, alpha):
        order = in_repair(alpha)
        late = overdue(alpha, "G-1", name="Fluke 117")
        logs = count(WorkLog)
        with pytest.raises(DomainError) as error:
            repairs.log_work(
                order, staff(alpha, "tech"), step="Measured", minutes=10, equipment_ids=[late.id]
            )
        message = error.value.message
        assert "G-1 Fluke 117" in message and format_date(late.next_calibration_due_on) in message
        assert error.value.field == "equipment_items"
        assert count(WorkLog) == logs
        # due today is not overdue yet: the item may be used on its last day
        interval = rule("multimeter").calibration_interval_days
        calibrate(alpha, late, TODAY - timedelta(days=interval))
        assert late.next_calibration_due_on == TODAY
        log = repairs.log_work(
            order, staff(alpha, "tech"), step="Measured", minutes=10, equipment_ids=[late.id]
        )
        assert log.equipment_items == [late]


def test_an_item_not_in_service_or_of_another_store_cannot_be_logged(app, alpha):
    with in_tenant(app, alpha):
        order = in_repair(alpha)
        tech = staff(alpha, "tech")
        broken = item(alpha, "G-2", name="Heat gun")
        services.report_failure(broken, tech, problem="No heat", today=TODAY)
        elsewhere = item(alpha, "G-3", store_name="S2", name="Other meter")
        good = item(alpha, "G-4", name="Good meter")
        logs = count(WorkLog)
        with pytest.raises(DomainError) as error:
            repairs.log_work(order, tech, step="Heated", minutes=5, equipment_ids=[good.id, broken.id])
        assert "G-2 Heat gun" in error.value.message and "under maintenance" in error.value.message
        assert format_date(TODAY) in error.value.message  # since when
        with pytest.raises(DomainError, match="G-3 Other meter belongs to another store"):
            repairs.log_work(order, tech, step="Measured", minutes=5, equipment_ids=[elsewhere.id])
        with pytest.raises(DomainError, match="not in the equipment register"):
            repairs.log_work(order, tech, step="Measured", minutes=5, equipment_ids=[999999])
        assert count(WorkLog) == logs
        log = repairs.log_work(
            order, tech, step="Measured", minutes=5, equipment="Tweezers", equipment_ids=[good.id]
        )
        assert (log.equipment, [i.asset_tag for i in log.equipment_items]) == ("Tweezers", ["G-4"])
        assert good in services.usable_items(order.store_id) and broken not in services.usable_items(
            order.store_id
        )


# --- procurement (HB §4.1.2) ------------------------------------------------------------------------


def test_procurement_walks_from_needs_to_the_register(app, alpha):
    with in_tenant(app, alpha):
        manager, qa = staff(alpha, "manager"), staff(alpha, "qa")
        with pytest.raises(DomainError, match="needs analysis"):
            services.request_procurement(
                store(alpha), manager, equipment_type="esd-mat", quantity=2, needs=" ", today=TODAY
            )
        request = services.request_procurement(
            store(alpha), manager, equipment_type="esd-mat", quantity=2, needs="Second bench", today=TODAY
        )
        cheap = services.add_option(
            request, manager, brand="Generic", model="G1", supplier="Market", unit_price_cents=9000
        )
        good = services.add_option(
            request,
            manager,
            brand="Desco",
            model="D2",
            supplier="Desco China",
            unit_price_cents=25000,
            after_sales="Five-year warranty",
        )
        with pytest.raises(services.Refused, match="QA manager or the owner"):
            services.decide_procurement(request, manager, approve=True, option_id=good.id, note=None)
        with pytest.raises(DomainError, match="reason"):
            services.decide_procurement(request, qa, approve=False, option_id=None, note="")
        with pytest.raises(DomainError, match="options compared"):
            services.decide_procurement(request, qa, approve=True, option_id=None, note=None)
        services.decide_procurement(request, qa, approve=True, option_id=good.id, note="Better after-sales")
        assert (request.status, request.chosen_option, cheap.chosen) == (
            ProcurementStatus.APPROVED,
            good,
            False,
        )
        with pytest.raises(services.Refused):
            services.add_option(request, manager, brand="Late", model="L", supplier="S", unit_price_cents=1)

        # a failed acceptance check is recorded and registers nothing
        items_before = count(EquipmentItem)
        with pytest.raises(DomainError, match="what failed"):
            services.check_delivery(
                request, manager, passed=False, checked_on=TODAY, notes="", asset_tags=[], today=TODAY
            )
        services.check_delivery(
            request, manager, passed=False, checked_on=TODAY, notes="One mat torn", asset_tags=[], today=TODAY
        )
        assert request.status is ProcurementStatus.ACCEPTANCE_FAILED and count(EquipmentItem) == items_before
        # the replacement delivery passes: one asset tag per item
        with pytest.raises(DomainError, match="one asset tag per item: 2"):
            services.check_delivery(
                request, manager, passed=True, checked_on=TODAY, notes=None, asset_tags=["ESD-1"], today=TODAY
            )
        with pytest.raises(DomainError, match="once"):
            services.check_delivery(
                request,
                manager,
                passed=True,
                checked_on=TODAY,
                notes=None,
                asset_tags=["ESD-1", "esd-1"],
                today=TODAY,
            )
        assert count(EquipmentItem) == items_before
        made = services.check_delivery(
            request,
            manager,
            passed=True,
            checked_on=TODAY,
            notes="Complete",
            asset_tags=["ESD-1", "ESD-2"],
            serial_numbers=["S1", ""],
            today=TODAY,
        )
        assert request.status is ProcurementStatus.ACCEPTED
        assert [(i.asset_tag, i.brand, i.model, i.price_cents, i.serial_number) for i in made] == [
            ("ESD-1", "Desco", "D2", 25000, "S1"),
            ("ESD-2", "Desco", "D2", 25000, None),
        ]
        assert all(i.procurement_id == request.id and i.status is EquipmentStatus.IN_SERVICE for i in made)


# --- retirement (HB §4.3) ---------------------------------------------------------------------------


def planned(tenant, thing: EquipmentItem):
    manager = staff(tenant, "manager")
    retirement = services.assess_retirement(
        thing, manager, reason=RetirementReason.END_OF_LIFE, condition="Worn out", today=TODAY
    )
    services.plan_retirement(
        retirement, manager, planned_on=TODAY, method=DisposalMethod.RECYCLING, notes="Certified recycler"
    )
    return retirement


def test_retirement_needs_qa_or_the_owner_to_approve_and_ends_with_the_disposal(app, alpha):
    with in_tenant(app, alpha):
        thing = item(alpha, "R-1")
        retirement = planned(alpha, thing)
        with pytest.raises(services.Refused, match="already has retirement"):
            services.assess_retirement(
                thing, staff(alpha, "manager"), reason=RetirementReason.OTHER, condition="Again", today=TODAY
            )
        for who in ("manager", "tech", "auditor", "inspector"):
            with pytest.raises(services.Refused, match="QA manager or the owner"):
                services.decide_retirement(retirement, staff(alpha, who), approve=True, note=None)
        with pytest.raises(DomainError, match="reason"):
            services.decide_retirement(retirement, staff(alpha, "owner"), approve=False, note=None)
        with pytest.raises(services.Refused, match="approved retirement"):
            services.record_disposal(
                retirement, staff(alpha, "manager"), disposed_on=TODAY, record="x", today=TODAY
            )
        services.decide_retirement(retirement, staff(alpha, "owner"), approve=True, note="Agreed")
        assert retirement.status is RetirementStatus.APPROVED and thing.status is EquipmentStatus.IN_SERVICE
        with pytest.raises(DomainError, match="future"):
            services.record_disposal(
                retirement,
                staff(alpha, "manager"),
                disposed_on=TODAY + timedelta(days=1),
                record="x",
                today=TODAY,
            )
        services.record_disposal(
            retirement, staff(alpha, "manager"), disposed_on=TODAY, record="Recycler receipt 42", today=TODAY
        )
        assert retirement.status is RetirementStatus.DISPOSED
        assert (thing.status, thing.retired_on, thing.next_calibration_due_on) == (
            EquipmentStatus.RETIRED,
            TODAY,
            None,
        )
        assert thing.events[-1].to_status is EquipmentStatus.RETIRED
        # a QA manager approves too; and a rejection needs its reason and ends the retirement
        other = planned(alpha, item(alpha, "R-2"))
        services.decide_retirement(other, staff(alpha, "qa"), approve=False, note="Still accurate")
        assert other.status is RetirementStatus.REJECTED and services.open_retirement(other.item) is None


def test_retiring_an_item_in_use_on_an_open_order_is_refused_naming_the_order(app, alpha):
    with in_tenant(app, alpha):
        order = in_repair(alpha)
        tool = item(alpha, "R-3", name="Press")
        repairs.log_work(order, staff(alpha, "tech"), step="Pressed", minutes=10, equipment_ids=[tool.id])
        retirement = planned(alpha, tool)
        with pytest.raises(services.Refused) as error:
            services.decide_retirement(retirement, staff(alpha, "qa"), approve=True, note=None)
        assert order.number in error.value.message and "R-3 Press" in error.value.message
        assert retirement.status is RetirementStatus.PLANNED
        # once the order is no longer open, the retirement goes ahead
        order.status = RepairOrderStatus.CANCELLED
        db.session.flush()
        services.decide_retirement(retirement, staff(alpha, "qa"), approve=True, note=None)
        services.record_disposal(
            retirement, staff(alpha, "manager"), disposed_on=TODAY, record="Scrapped", today=TODAY
        )
        assert tool.status is EquipmentStatus.RETIRED
        # and a retired item is refused on a work log like any item not in service
        other = in_repair(alpha)
        with pytest.raises(DomainError, match="R-3 Press has been retired"):
            repairs.log_work(other, staff(alpha, "tech"), step="x", minutes=1, equipment_ids=[tool.id])


def test_every_status_move_writes_an_event(app, alpha):
    with in_tenant(app, alpha):
        before = count(EquipmentEvent)
        thing = item(alpha, "E-1")  # +1
        services.report_failure(thing, staff(alpha, "tech"), problem="x", today=TODAY)  # +1
        services.finish_repair(
            thing, staff(alpha, "manager"), repaired=False, completed_on=TODAY, today=TODAY
        )  # +1
        assert thing.status is EquipmentStatus.OUT_OF_SERVICE
        assert count(EquipmentEvent) == before + 3
