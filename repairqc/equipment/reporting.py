"""Equipment's columns of the cross-store report (HB §5.1.3(2), §4.2.2).

Definitions (period = whole UTC days from start to end inclusive; E = the period's last day):

* **Calibration up to date**: of the store's items *in service at the end of E* (the status of
  their last `EquipmentEvent` before E+1 00:00 UTC; items that entered service after E, or were
  retired, under maintenance or out of service then, drop out) whose type has a
  `calibration_interval_days` in the standard in force on E, the share that were not overdue on
  E: the next due date of their last calibration on or before E (`CalibrationRecord.next_due_on`;
  a failed calibration has none, so it counts as overdue), or, never calibrated by then, their
  `first_calibration_due_on`, is on or after E. Returned as Ratio(up to date, items).
* **Maintenance on time**: of the daily care and full inspections recorded in the period
  (`performed_on` in [start, E]) that were due (`due_on`, the item's due date when the record
  was made), the share done by their due date (`performed_on <= due_on`). Failure repairs are
  not planned and do not count. Returned as Ratio(on time, records).

Records done late lower the second figure in the period they are done; an item nobody looks
after lowers the first at every period end it is overdue. Both are pooled across stores (Σx/Σn)
by the report's average row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from repairqc.db import db
from repairqc.equipment.models import (
    CalibrationRecord,
    EquipmentEvent,
    EquipmentItem,
    EquipmentStatus,
    MaintenanceKind,
    MaintenanceRecord,
)
from repairqc.reports.providers import Column, Ratio, StoreValues, count_if, register, utc_bounds
from repairqc.standards.services import document_in_force


def calibrated_types(day: date) -> list[str]:
    """The equipment types the standard in force on `day` calibrates."""
    document = document_in_force(day)
    if document is None:
        return []
    return [rule.equipment_type for rule in document.equipment_policy if rule.calibration_interval_days]


class EquipmentProvider:
    key = "equipment"
    title = _l("Equipment")
    columns = (
        Column(
            "calibration_up_to_date",
            _l("Calibration up to date"),
            "percent",
            higher_is_better=True,
            help=_l("Items in service at the period's end that need calibration and were not overdue"),
        ),
        Column(
            "maintenance_on_time",
            _l("Maintenance on time"),
            "percent",
            higher_is_better=True,
            help=_l("Daily care and full inspections of the period done by their due date"),
        ),
    )
    control_charts = ()
    trend_columns = ("calibration_up_to_date",)

    def collect(self, start: date, end: date, store_ids: Sequence[int]) -> StoreValues:
        return self.collect_periods([(start, end)], store_ids)[0]

    def collect_periods(
        self, periods: Sequence[tuple[date, date]], store_ids: Sequence[int]
    ) -> list[StoreValues]:
        """Two statements whatever the number of periods (one UNION ALL branch per period)."""
        values: list[StoreValues] = [{} for _ in periods]
        if not store_ids or not periods:
            return values
        stores = sa.bindparam("store_ids", list(store_ids), expanding=True)

        def put(k: int, store_id: int, **row) -> None:
            values[k].setdefault(store_id, {}).update(row)

        branches = []
        for k, (_start, end) in enumerate(periods):
            types = calibrated_types(end)
            if not types:
                continue
            _low, high = utc_bounds(end, end)
            status_at = (
                sa.select(
                    EquipmentEvent.item_id,
                    EquipmentEvent.to_status,
                    sa.func.row_number()
                    .over(
                        partition_by=EquipmentEvent.item_id,
                        order_by=(EquipmentEvent.at.desc(), EquipmentEvent.id.desc()),
                    )
                    .label("rn"),
                )
                .where(EquipmentEvent.store_id.in_(stores), EquipmentEvent.at < high)
                .subquery()
            )
            last_calibration = (
                sa.select(
                    CalibrationRecord.item_id,
                    CalibrationRecord.next_due_on,
                    sa.func.row_number()
                    .over(
                        partition_by=CalibrationRecord.item_id,
                        order_by=(CalibrationRecord.calibrated_on.desc(), CalibrationRecord.id.desc()),
                    )
                    .label("rn"),
                )
                .where(CalibrationRecord.store_id.in_(stores), CalibrationRecord.calibrated_on <= end)
                .subquery()
            )
            due = sa.case(
                (last_calibration.c.item_id.is_not(None), last_calibration.c.next_due_on),
                else_=EquipmentItem.first_calibration_due_on,
            )
            branches.append(
                sa.select(
                    EquipmentItem.store_id,
                    sa.case((sa.and_(due.is_not(None), due >= end), 1), else_=0).label("ok"),
                    sa.literal_column(str(k)).label("period"),
                )
                .join(status_at, sa.and_(status_at.c.item_id == EquipmentItem.id, status_at.c.rn == 1))
                .outerjoin(
                    last_calibration,
                    sa.and_(last_calibration.c.item_id == EquipmentItem.id, last_calibration.c.rn == 1),
                )
                .where(
                    EquipmentItem.store_id.in_(stores),
                    EquipmentItem.equipment_type.in_(types),
                    EquipmentItem.in_service_on <= end,
                    status_at.c.to_status == EquipmentStatus.IN_SERVICE,
                )
            )
        if branches:
            calibration = sa.union_all(*branches).subquery()
            for k, sid, ok, n in db.session.execute(
                sa.select(
                    calibration.c.period,
                    calibration.c.store_id,
                    sa.func.sum(calibration.c.ok),
                    sa.func.count(),
                ).group_by(calibration.c.period, calibration.c.store_id)
            ):
                put(int(k), sid, calibration_up_to_date=Ratio(int(ok or 0), int(n)))

        m = MaintenanceRecord
        done = sa.union_all(
            *(
                sa.select(
                    m.store_id, m.performed_on, m.due_on, sa.literal_column(str(k)).label("period")
                ).where(
                    m.store_id.in_(stores),
                    m.kind.in_((MaintenanceKind.DAILY_CARE, MaintenanceKind.FULL_INSPECTION)),
                    m.due_on.is_not(None),
                    m.performed_on >= start,
                    m.performed_on <= end,
                )
                for k, (start, end) in enumerate(periods)
            )
        ).subquery()
        for k, sid, on_time, n in db.session.execute(
            sa.select(
                done.c.period,
                done.c.store_id,
                count_if(done.c.performed_on <= done.c.due_on),
                sa.func.count(),
            ).group_by(done.c.period, done.c.store_id)
        ):
            put(int(k), sid, maintenance_on_time=Ratio(int(on_time), int(n)))
        return values


register(EquipmentProvider())
