"""Complaints' columns of the cross-store report (HB §9.3.3, §5.2.2).

Definitions (period = whole UTC days from start to end inclusive; "now" = when the report is made):

* **Complaints received**: complaints whose `received_at` falls in the period (every channel).
* **First contact in time** (the SLA compliance): of the complaints received in the period whose
  first contact is decided — made, or still missing after the deadline has passed by now — the
  share first contacted by their deadline (`first_contact_on_time`). Complaints still inside
  their window without a contact are left out until they are decided either way.
  Returned as Ratio(in time, decided).
* **Median hours to first contact**: the median of `first_contacted_at - received_at`, in hours,
  over the complaints received in the period that have had their first contact. (The column's
  kind is "days", the report's kind for a duration; the label says the unit.)
* **Resolved**: resolutions recorded in the period (`ComplaintEvent` of kind "resolved"; a
  complaint reopened and resolved again counts each time).
* **Reopened**: reopenings recorded in the period (by staff or by the customer's "no").

Two aggregate statements grouped by store (plus one for the median on SQLite,
`reports.providers.window_median`), whatever the number of complaints.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from repairqc.complaints.models import Complaint, ComplaintEvent, EventKind
from repairqc.db import db, utcnow
from repairqc.reports.providers import (
    Column,
    ControlChart,
    Ratio,
    StoreValues,
    count_if,
    days_between,
    is_postgresql,
    register,
    utc_bounds,
    window_median,
)


class ComplaintsProvider:
    key = "complaints"
    title = _l("Complaints")
    columns = (
        Column(
            "complaints",
            _l("Complaints received"),
            "count",
            higher_is_better=False,
            help=_l("Complaints received in the period, on every channel"),
        ),
        Column(
            "first_contact_in_time",
            _l("First contact in time"),
            "percent",
            higher_is_better=True,
            help=_l(
                "Complaints received in the period whose customer was contacted by the deadline "
                "(complaints still inside their window are left out)"
            ),
        ),
        Column(
            "first_contact_hours",
            _l("Median hours to first contact"),
            "days",
            higher_is_better=False,
            help=_l(
                "Median time from receiving a complaint to the first contact with the customer, in hours"
            ),
        ),
        Column("resolved", _l("Complaints resolved"), "count", help=_l("Resolutions recorded in the period")),
        Column(
            "reopened",
            _l("Complaints reopened"),
            "count",
            higher_is_better=False,
            help=_l("Complaints reopened in the period, by staff or by the customer"),
        ),
    )
    control_charts = (
        ControlChart("complaint_first_contact_late", _l("First contact late"), "first_contact_in_time",
                     complement=True),
    )  # fmt: skip
    trend_columns = ("first_contact_in_time",)

    def collect(self, start: date, end: date, store_ids: Sequence[int]) -> StoreValues:
        values: StoreValues = {}
        if not store_ids:
            return values
        low, high = utc_bounds(start, end)
        now = utcnow()
        c = Complaint
        received = [c.store_id.in_(list(store_ids)), c.received_at >= low, c.received_at < high]
        hours = days_between(c.first_contacted_at, c.received_at) * 24.0
        decided = sa.or_(c.first_contacted_at.is_not(None), c.first_contact_due_at <= now)
        median = sa.func.percentile_cont(0.5).within_group(hours) if is_postgresql() else sa.null()
        rows = db.session.execute(
            sa.select(
                c.store_id,
                sa.func.count(),
                count_if(decided),
                count_if(c.first_contact_on_time.is_(True)),
                median,
            )
            .where(*received)
            .group_by(c.store_id)
        ).all()
        for store_id, total, n_decided, in_time, mid in rows:
            values[store_id] = {
                "complaints": total,
                "first_contact_in_time": Ratio(int(in_time), int(n_decided)),
                "first_contact_hours": float(mid) if mid is not None else None,
            }
        if not is_postgresql():
            medians = window_median(hours, [c.store_id], [*received, c.first_contacted_at.is_not(None)])
            for store_id, mid in db.session.execute(medians).all():
                values.setdefault(store_id, {})["first_contact_hours"] = float(mid)
        e = ComplaintEvent
        events = db.session.execute(
            sa.select(
                e.store_id,
                count_if(e.kind == EventKind.RESOLVED),
                count_if(e.kind == EventKind.REOPENED),
            )
            .where(
                e.store_id.in_(list(store_ids)),
                e.at >= low,
                e.at < high,
                e.kind.in_([EventKind.RESOLVED, EventKind.REOPENED]),
            )
            .group_by(e.store_id)
        ).all()
        for store_id, resolved, reopened in events:
            row = values.setdefault(store_id, {})
            row["resolved"] = int(resolved)
            row["reopened"] = int(reopened)
        for row in values.values():
            row.setdefault("complaints", 0)
            row.setdefault("resolved", 0)
            row.setdefault("reopened", 0)
        return values


register(ComplaintsProvider())
