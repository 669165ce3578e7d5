"""Equipment's columns of the cross-store report (`equipment.reporting`), against a fixture
computed by hand in a store of its own (so the seeded rows of the session tenants stay out).

Intervals of the handbook defaults, read from the policy: multimeter calibration every 365
days, daily care every 30 days, full inspection every 180 days.

Calibration up to date at E = today (items in service at E whose type is calibrated):
  A  calibrated E-100            → due E+265            up to date
  B  calibrated E-400            → due E-35             overdue
  C  in service E-10, never      → first due E+355      up to date
  D  calibration failed E-5      → out of service       not counted
  P  screen press                → not calibrated       not counted
  R  retired                     → not in service       not counted
  → 2 of 3.
Maintenance on time, period [E-60, E] (daily care and full inspections; `due_on` when done):
  A  care E-70 (outside the period)   → next due E-40
  A  care E-35, due E-40              late
  A  care E-8,  due E-5               on time
  C  care E-1,  due E+20              on time
  C  full inspection E, due E+170     on time
  B  failure repair                   not counted
  → 3 of 4; for [E-60, E-1]: 2 of 3 (and no calibration figure: no standard was in force yet).
"""

from __future__ import annotations

from datetime import date, timedelta

from repairqc.db import db
from repairqc.equipment import services
from repairqc.equipment.models import (
    CalibrationResult,
    DisposalMethod,
    MaintenanceKind,
    MaintenanceResult,
    RetirementReason,
)
from repairqc.equipment.reporting import EquipmentProvider
from repairqc.reports.providers import Ratio, providers
from repairqc.stores.models import Store
from tests.conftest import in_tenant, staff, store

E = date.today()  # the standard (version 1) takes effect on the day the tenant is provisioned


def days(n: int) -> date:
    return E + timedelta(days=n)


def test_provider_figures_match_the_hand_computed_fixture(app, alpha):
    with in_tenant(app, alpha):
        assert services.policy(E)["multimeter"].calibration_interval_days == 365
        assert services.policy(E)["multimeter"].maintenance_interval_days == 30
        assert services.policy(E)["multimeter"].full_inspection_interval_days == 180
        shop = Store(code="EQ-REPORT", name="Report store", chain_id=store(alpha).chain_id)
        db.session.add(shop)
        db.session.flush()
        owner = staff(alpha, "owner")

        def register(tag, since, kind="multimeter"):
            return services.register_item(
                shop, owner, asset_tag=tag, equipment_type=kind, name=tag, in_service_on=since, today=E
            )

        def calibrate(thing, on, result=CalibrationResult.PASSED):
            services.record_calibration(
                thing,
                owner,
                calibrated_on=on,
                certificate_number=f"{thing.asset_tag}-{on}",
                calibrating_body="Lab",
                result=result,
                today=E,
            )

        def care(thing, on, kind=MaintenanceKind.DAILY_CARE):
            services.record_maintenance(
                thing,
                owner,
                kind=kind,
                performed_on=on,
                result=MaintenanceResult.OK,
                checklist=services.Checklist(inspected=True),
                today=E,
            )

        a = register("A", days(-400))
        calibrate(a, days(-100))
        b = register("B", days(-500))
        calibrate(b, days(-400))
        c = register("C", days(-10))
        d = register("D", days(-300))
        calibrate(d, days(-5), CalibrationResult.FAILED)
        register("P", days(-50), "screen-press")
        r = register("R", days(-50))
        retirement = services.assess_retirement(
            r, owner, reason=RetirementReason.END_OF_LIFE, condition="Old", today=E
        )
        services.plan_retirement(retirement, owner, planned_on=E, method=DisposalMethod.SCRAPPING, notes=None)
        # the owner assessed it: QA decides (four eyes, design.md §3)
        services.decide_retirement(retirement, staff(alpha, "qa"), approve=True, note=None)
        services.record_disposal(retirement, owner, disposed_on=E, record="Scrapped", today=E)

        care(a, days(-70))
        care(a, days(-35))
        care(a, days(-8))
        care(c, days(-1))
        care(c, E, MaintenanceKind.FULL_INSPECTION)
        services.report_failure(b, owner, problem="Broken lead", today=E)
        services.finish_repair(b, owner, repaired=True, completed_on=E, today=E)
        db.session.flush()

        provider = EquipmentProvider()
        assert provider.collect(days(-60), E, [shop.id]) == {
            shop.id: {"calibration_up_to_date": Ratio(2, 3), "maintenance_on_time": Ratio(3, 4)}
        }
        whole, before = provider.collect_periods([(days(-60), E), (days(-60), days(-1))], [shop.id])
        assert whole[shop.id]["calibration_up_to_date"] == Ratio(2, 3)
        assert before == {shop.id: {"maintenance_on_time": Ratio(2, 3)}}
        # other stores' rows stay out, and stores with nothing to report are absent
        assert provider.collect(days(-60), E, [store(alpha, "S2").id]).keys() <= {store(alpha, "S2").id}
        assert provider.collect(days(-60), E, []) == {}


def test_the_provider_is_part_of_the_report(app, alpha):
    with in_tenant(app, alpha):
        keys = {p.key: p for p in providers()}
        assert {c.key for c in keys["equipment"].columns} == {"calibration_up_to_date", "maintenance_on_time"}
        assert all(c.kind == "percent" and c.higher_is_better for c in keys["equipment"].columns)
