"""Sentinel rows of the equipment domain for the two session tenants (tests/conftest.py seed_tenant).

Every text column a user reads carries the tenant's sentinel (`s`, e.g. SENTINEL-A) or the
store's (`{s}-S1`), so the isolation probe (tests/test_isolation.py) can tell the tenants apart.
Each store gets: an item taken through a procurement request (needs, two options, QA's
decision, acceptance), a second item registered by hand with a daily care, a calibration with
its certificate scan (a document), a failure repair under way, a retirement assessed, and a
reminder the daily job sent.
"""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from repairqc.accounts.models import StaffUser
from repairqc.db import db
from repairqc.equipment import services
from repairqc.equipment.models import (
    CalibrationResult,
    EquipmentReminder,
    MaintenanceKind,
    MaintenanceResult,
    ReminderKind,
    RetirementReason,
)

#: A minimal PDF (the upload rules decide the type from the bytes).
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def seed(s: str, stores: dict, users: dict) -> None:
    """Add the domain's rows; `stores` maps "S1"/"S2" to Store, `users` key -> e-mail."""

    def person(key: str) -> StaffUser:
        return db.session.execute(sa.select(StaffUser).where(StaffUser.email == users[key])).scalar_one()

    today = date.today()
    qa = person("qa")
    for name, store in stores.items():
        label = f"{s}-{name}"
        manager = person("manager" if name == "S1" else "manager2")
        tech = person("tech" if name == "S1" else "tech2")

        request = services.request_procurement(
            store, manager, equipment_type="multimeter", quantity=1, needs=f"Needs {label}", today=today
        )
        option = services.add_option(
            request,
            manager,
            brand=f"Brand {label}",
            model=f"Model {label}",
            supplier=f"Supplier {label}",
            unit_price_cents=45000,
            after_sales=f"Two years {label}",
            notes=f"Option notes {label}",
        )
        services.add_option(
            request,
            manager,
            brand=f"Other {label}",
            model="X",
            supplier=f"Supplier B {label}",
            unit_price_cents=39000,
        )
        services.decide_procurement(request, qa, approve=True, option_id=option.id, note=f"Chosen {label}")
        (meter,) = services.check_delivery(
            request,
            manager,
            passed=True,
            checked_on=today,
            notes=f"Accepted {label}",
            asset_tags=[f"{label}-MM1"],
            serial_numbers=[f"SN-{label}-MM1"],
            today=today,
        )
        meter.notes = f"Meter notes {label}"
        services.record_calibration(
            meter,
            manager,
            calibrated_on=today,
            certificate_number=f"CERT-{label}",
            calibrating_body=f"Lab {label}",
            result=CalibrationResult.PASSED,
            today=today,
            scan=(PDF + label.encode(), f"cert-{label}.pdf"),
            notes=f"Calibration notes {label}",
        )

        station = services.register_item(
            store,
            manager,
            asset_tag=f"{label}-SS1",
            equipment_type="soldering-station",
            name=f"Station {label}",
            brand=f"Brand {label}",
            serial_number=f"SN-{label}-SS1",
            supplier=f"Supplier {label}",
            purchased_on=today - timedelta(days=30),
            price_cents=120000,
            in_service_on=today - timedelta(days=30),
            notes=f"Station notes {label}",
            today=today,
        )
        services.record_maintenance(
            station,
            tech,
            kind=MaintenanceKind.DAILY_CARE,
            performed_on=today,
            result=MaintenanceResult.PROBLEMS_FIXED,
            checklist=services.Checklist(True, True, False, True),
            problems=f"Loose tip {label}",
            cost_cents=0,
            today=today,
        )
        press = services.register_item(
            store,
            manager,
            asset_tag=f"{label}-SP1",
            equipment_type="screen-press",
            name=f"Press {label}",
            today=today,
        )
        services.report_failure(press, tech, problem=f"Heater failed {label}", today=today)
        services.assess_retirement(
            press, manager, reason=RetirementReason.REPAIR_COST, condition=f"Condition {label}", today=today
        )
        db.session.add(
            EquipmentReminder(
                store_id=store.id,
                item_id=station.id,
                kind=ReminderKind.MAINTENANCE,
                due_on=station.next_maintenance_due_on,
                sent_on=today,
                recipients=f"Sent {label}",
            )
        )
    db.session.flush()
