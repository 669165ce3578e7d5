"""The repair workflow's columns of the cross-store report (HB §1.1.2, §5.2.2).

Definitions (period = whole UTC days from start to end inclusive; "now" = when the report is made):

* **Orders received**: orders whose `received_at` falls in the period (rework orders included).
* **Median turnaround (days)**: the median of `delivered_at - received_at`, in days, over the
  orders delivered in the period.
* **On time**: of the orders delivered in the period that had a promised date, the share
  delivered by then (`delivered_at <= promised_at`): turnaround against the target promised at
  intake, which comes from the standard's turnaround target for the device category.
* **QC first pass**: of the orders delivered in the period, the share without any failed QC
  check. Its complement, the QC-failure rate, gets a p-chart across stores.
* **Rework (warranty) rate**: warranty rework orders received in the period (`rework_of_id` set)
  over all orders received in the period. Target: at most `max_rework_rate_pct`.
* **First-time fix**: of the orders that are not themselves reworks and were delivered in the
  period, the share that no warranty rework order refers to (as of now). Target:
  `first_time_fix_target_pct`.

Everything is one aggregate statement grouped by store (on SQLite plus one for the median). The
QC failure and the warranty return are read from `RepairOrder.qc_failed_at` / `reworked_at`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from repairqc.db import db
from repairqc.repairs.models import RepairOrder
from repairqc.reports.providers import (
    Column,
    ControlChart,
    Ratio,
    StoreValues,
    count_if,
    days_between,
    is_postgresql,
    median_by_store,
    register,
    utc_bounds,
)


class RepairsProvider:
    key = "repairs"
    title = _l("Repair quality")
    columns = (
        Column(
            "orders",
            _l("Orders received"),
            "count",
            help=_l("Orders received in the period, reworks included"),
        ),
        Column(
            "turnaround_days",
            _l("Median turnaround (days)"),
            "days",
            higher_is_better=False,
            help=_l("Median time from receiving to handing over, of the orders delivered in the period"),
        ),
        Column(
            "on_time",
            _l("On time"),
            "percent",
            higher_is_better=True,
            help=_l("Orders delivered in the period by the date promised at intake (the turnaround target)"),
        ),
        Column(
            "qc_first_pass",
            _l("QC first pass"),
            "percent",
            higher_is_better=True,
            help=_l("Orders delivered in the period whose repair never failed a QC check"),
        ),
        Column(
            "rework_rate",
            _l("Rework (warranty) rate"),
            "percent",
            higher_is_better=False,
            target="max_rework_rate_pct",
            help=_l("Warranty rework orders received in the period over all orders received in it"),
        ),
        Column(
            "first_time_fix",
            _l("First-time fix"),
            "percent",
            higher_is_better=True,
            target="first_time_fix_target_pct",
            help=_l("Orders delivered in the period (not reworks) that have not come back under warranty"),
        ),
    )
    control_charts = (
        ControlChart("rework", _l("Rework (warranty) rate"), "rework_rate"),
        ControlChart("qc_failure", _l("QC failure rate"), "qc_first_pass", complement=True),
    )
    trend_columns = ("qc_first_pass", "rework_rate")

    def collect(self, start: date, end: date, store_ids: Sequence[int]) -> StoreValues:
        if not store_ids:
            return {}
        low, high = utc_bounds(start, end)
        o = RepairOrder
        received = sa.and_(o.received_at >= low, o.received_at < high)
        delivered = sa.and_(o.delivered_at >= low, o.delivered_at < high)
        # Stamped on the order when a check fails or a rework opens (`repairs.models`), so this
        # stays one scan of the period's orders rather than two probes per order.
        failed_qc = o.qc_failed_at.is_not(None)
        came_back = o.reworked_at.is_not(None)
        is_rework = o.rework_of_id.is_not(None)
        promised = sa.and_(delivered, o.promised_at.is_not(None))
        turnaround = days_between(o.delivered_at, o.received_at)
        # PostgreSQL takes the median in the same pass (an ordered-set aggregate with FILTER);
        # SQLite has none, so it gets its own window-function statement below.
        median = (
            sa.func.percentile_cont(0.5).within_group(turnaround).filter(delivered)
            if is_postgresql()
            else sa.null()
        )
        statement = (
            sa.select(
                o.store_id,
                count_if(received),
                count_if(sa.and_(received, is_rework)),
                count_if(delivered),
                count_if(sa.and_(delivered, sa.not_(failed_qc))),
                count_if(promised),
                count_if(sa.and_(promised, o.delivered_at <= o.promised_at)),
                count_if(sa.and_(delivered, sa.not_(is_rework))),
                count_if(sa.and_(delivered, sa.not_(is_rework), sa.not_(came_back))),
                median,
            )
            .where(o.store_id.in_(store_ids), sa.or_(received, delivered))
            .group_by(o.store_id)
        )
        values: StoreValues = {}
        for sid, rec, rew, dlv, first_pass, prom, on_time, originals, fixed, mid in db.session.execute(
            statement
        ):
            values[sid] = {
                "orders": int(rec),
                "turnaround_days": None if mid is None else float(mid),
                "on_time": Ratio(int(on_time), int(prom)),
                "qc_first_pass": Ratio(int(first_pass), int(dlv)),
                "rework_rate": Ratio(int(rew), int(rec)),
                "first_time_fix": Ratio(int(fixed), int(originals)),
            }
        if not is_postgresql():
            medians = median_by_store(turnaround, [o.store_id.in_(store_ids), delivered], o.store_id)
            for sid, value in medians.items():
                values.setdefault(sid, {})["turnaround_days"] = value
        return values


register(RepairsProvider())
