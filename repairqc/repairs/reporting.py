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

Everything is one aggregate statement grouped by period and store, for any number of periods
(on SQLite plus one for the median, `reports.providers.window_median`). The QC failure and the
warranty return are read from `RepairOrder.qc_failed_at` / `reworked_at`. The store page lists the
orders behind two of the numbers with the same conditions (`qc_failed_orders`, `rework_orders`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from repairqc.db import db
from repairqc.repairs.models import RepairOrder
from repairqc.reports.providers import (
    Column,
    ControlChart,
    Ratio,
    StoreValues,
    days_between,
    is_postgresql,
    register,
    utc_bounds,
    window_median,
)


def received_in(low: datetime, high: datetime) -> list[sa.ColumnElement[bool]]:
    return [RepairOrder.received_at >= low, RepairOrder.received_at < high]


def delivered_in(low: datetime, high: datetime) -> list[sa.ColumnElement[bool]]:
    return [RepairOrder.delivered_at >= low, RepairOrder.delivered_at < high]


def qc_failed_orders(low: datetime, high: datetime) -> list[sa.ColumnElement[bool]]:
    """The orders "QC first pass" counts against: delivered in [low, high) after a QC check failed."""
    return [*delivered_in(low, high), RepairOrder.qc_failed_at.is_not(None)]


def rework_orders(low: datetime, high: datetime) -> list[sa.ColumnElement[bool]]:
    """The numerator of the rework rate: warranty rework orders received in [low, high)."""
    return [*received_in(low, high), RepairOrder.rework_of_id.is_not(None)]


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
        return self.collect_periods([(start, end)], store_ids)[0]

    def collect_periods(
        self, periods: Sequence[tuple[date, date]], store_ids: Sequence[int]
    ) -> list[StoreValues]:
        """One statement for all the periods (the report's two, the trend's twelve months).

        Per period, two branches of a UNION ALL: the orders received in it and the orders
        delivered in it, each a range scan of its own date index (an `OR` of both ranges, or one
        range covering all the periods, would read far more rows). The outer query sums them per
        period and store.
        """
        values: list[StoreValues] = [{} for _ in periods]
        if not store_ids or not periods:
            return values
        # One list of ids however many branches use it: the same bound parameters each time,
        # not a copy per period (12 months x 2 x stores would near the drivers' limits).
        stores = sa.bindparam("store_ids", list(store_ids), expanding=True)
        o = RepairOrder
        is_rework = o.rework_of_id.is_not(None)
        zero, none = sa.literal_column("0"), sa.cast(sa.null(), sa.Float)

        def flag(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
            return sa.case((condition, 1), else_=0)

        branches = []
        for k, (start, end) in enumerate(periods):
            low, high = utc_bounds(start, end)
            period = sa.literal_column(str(k))
            branches.append(
                sa.select(
                    period.label("period"),
                    o.store_id.label("store_id"),
                    sa.literal_column("1").label("received"),
                    flag(is_rework).label("rework"),
                    *(zero.label(name) for name in ("delivered", "first_pass", "promised", "on_time")),
                    *(zero.label(name) for name in ("originals", "fixed")),
                    none.label("turnaround"),
                ).where(o.store_id.in_(stores), *received_in(low, high))
            )
            # The QC failure and the warranty return are stamped on the order when a check fails
            # or a rework opens (`repairs.models`): column reads, not probes of two other tables.
            branches.append(
                sa.select(
                    period.label("period"),
                    o.store_id.label("store_id"),
                    zero.label("received"),
                    zero.label("rework"),
                    sa.literal_column("1").label("delivered"),
                    flag(o.qc_failed_at.is_(None)).label("first_pass"),
                    flag(o.promised_at.is_not(None)).label("promised"),
                    flag(o.delivered_at <= o.promised_at).label("on_time"),
                    flag(sa.not_(is_rework)).label("originals"),
                    flag(sa.and_(sa.not_(is_rework), o.reworked_at.is_(None))).label("fixed"),
                    days_between(o.delivered_at, o.received_at).label("turnaround"),
                ).where(o.store_id.in_(stores), *delivered_in(low, high))
            )
        facts = sa.union_all(*branches).subquery("facts")
        counts = (
            "received",
            "rework",
            "delivered",
            "first_pass",
            "promised",
            "on_time",
            "originals",
            "fixed",
        )
        # PostgreSQL takes the median in the same pass (percentile_cont skips the NULL turnaround
        # of the "received" rows); SQLite has none, so it gets a window-function statement below.
        median = (
            sa.func.percentile_cont(0.5).within_group(facts.c.turnaround) if is_postgresql() else sa.null()
        )
        statement = sa.select(
            facts.c.period,
            facts.c.store_id,
            *(sa.func.coalesce(sa.func.sum(facts.c[name]), 0) for name in counts),
            median,
        ).group_by(facts.c.period, facts.c.store_id)
        for k, sid, rec, rew, dlv, first_pass, prom, on_time, originals, fixed, mid in db.session.execute(
            statement
        ):
            values[k][sid] = {
                "orders": int(rec),
                "turnaround_days": None if mid is None else float(mid),
                "on_time": Ratio(int(on_time), int(prom)),
                "qc_first_pass": Ratio(int(first_pass), int(dlv)),
                "rework_rate": Ratio(int(rew), int(rec)),
                "first_time_fix": Ratio(int(fixed), int(originals)),
            }
        if not is_postgresql():
            median_rows = window_median(facts.c.turnaround, (facts.c.period, facts.c.store_id))
            for k, sid, mid in db.session.execute(median_rows):
                values[k].setdefault(sid, {})["turnaround_days"] = None if mid is None else float(mid)
        return values


register(RepairsProvider())
