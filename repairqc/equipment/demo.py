"""Demo equipment (`repairqc.demo`): a few items per demo store, one due for daily care soon and
one overdue for calibration, so the register, the due list, the reminder job and the work-log
refusal (HB §5.1.3(2)) have something to show."""

from __future__ import annotations

from datetime import timedelta

from repairqc.accounts.models import StaffUser
from repairqc.db import utcnow
from repairqc.equipment import services
from repairqc.equipment.models import CalibrationResult, MaintenanceKind, MaintenanceResult
from repairqc.stores.models import Store


def seed_demo(stores: dict[str, Store], manager: StaffUser) -> None:
    """`manager` registers the items (the demo's owner or QA manager: every store)."""
    today = utcnow().date()
    for n, store in enumerate(stores.values(), start=1):
        code = store.code
        station = services.register_item(
            store,
            manager,
            asset_tag=f"{code}-SS{n:02d}",
            equipment_type="soldering-station",
            name="Hakko FX-951 soldering station",
            brand="Hakko",
            model="FX-951",
            supplier="Shenzhen Tools Co.",
            purchased_on=today - timedelta(days=200),
            price_cents=180000,
            in_service_on=today - timedelta(days=200),
            today=today,
        )
        services.record_calibration(
            station,
            manager,
            calibrated_on=today - timedelta(days=30),
            certificate_number=f"CAL-{code}-001",
            calibrating_body="City Metrology Lab",
            result=CalibrationResult.PASSED,
            today=today,
        )
        services.record_maintenance(
            station,
            manager,
            kind=MaintenanceKind.DAILY_CARE,
            performed_on=today,
            checklist=services.Checklist(True, True, False, True),
            result=MaintenanceResult.OK,
            today=today,
        )
        meter = services.register_item(
            store,
            manager,
            asset_tag=f"{code}-MM{n:02d}",
            equipment_type="multimeter",
            name="Fluke 117 multimeter",
            brand="Fluke",
            model="117",
            supplier="Fluke China",
            purchased_on=today - timedelta(days=500),
            price_cents=160000,
            in_service_on=today - timedelta(days=500),
            today=today,
        )
        # Calibrated 400 days ago against a 365-day interval: overdue for a month.
        services.record_calibration(
            meter,
            manager,
            calibrated_on=today - timedelta(days=400),
            certificate_number=f"CAL-{code}-002",
            calibrating_body="City Metrology Lab",
            result=CalibrationResult.PASSED,
            today=today,
        )
        services.record_maintenance(
            meter,
            manager,
            kind=MaintenanceKind.DAILY_CARE,
            performed_on=today - timedelta(days=25),
            checklist=services.Checklist(True, True, False, False),
            result=MaintenanceResult.OK,
            today=today,
        )
        services.register_item(
            store,
            manager,
            asset_tag=f"{code}-SP{n:02d}",
            equipment_type="screen-press",
            name="Screen laminating press",
            brand="Forward",
            model="FW-12",
            supplier="Forward Equipment",
            purchased_on=today - timedelta(days=60),
            price_cents=650000,
            in_service_on=today - timedelta(days=60),
            today=today,
        )
