"""Anomalies flagged for review (HB §7.1.2 "de-noise, remove anomalies").

**Unusual figures.** For the orders delivered in the last `DATAQUALITY_WINDOW_MONTHS` months,
three figures per order, compared within the order's device category:

* *duration*: delivered_at - received_at, in hours;
* *price*: the amount charged, `RepairOrder.amount_due_cents` (the accepted quote's total with
  tax), in cents, of orders that are not warranty reworks (free by rule) and charged something;
* *parts cost*: `RepairOrder.parts_cost_cents`, the parts used on the order (taken out of stock
  less returned) at their list price when taken, in cents (orders that used no part are left
  out: a repair without parts says nothing about what parts cost).

These follow the definitions of the analytics part (repairqc/analytics/services.py), which is
not imported: data quality must work without it. The parts cost is the very column analytics
reads (kept on the order by `repairs.models._keep_parts_facts`), so both parts share one
definition of a repair's cost. A figure is flagged when it lies outside
Tukey's "far out" fences Q1 - 3·IQR … Q3 + 3·IQR of its category (robust: a few extreme values
do not move the quartiles). The spread is at least 10 % of the median, so a category where
most orders cost exactly the same does not flag every order that differs by a cent. A category
with fewer than `DATAQUALITY_MIN_SAMPLE` orders is not judged (too little to know what is usual).

**Stuck orders.** How long orders stayed in each state is read from the status history
(`RepairStatusEvent`: from entering a state to the next move) over the same window; an open
order whose time in its current state (since `status_changed_at`) exceeds
max(2 x the 95th percentile, `DATAQUALITY_STUCK_FLOOR_HOURS`) is flagged, once per stay in that
state. A state with fewer than `DATAQUALITY_MIN_SAMPLE` past stays is not judged. A stuck flag
still open when the order has moved on is closed as "resolved by itself".

Quartiles are computed by the database on PostgreSQL (percentile_cont); SQLite has no such
aggregate, so there the values of one category are read and numpy computes the same linear
interpolation. Flagged orders are selected with SQL on both.

Each flag is unique per (order, kind, measure, basis): a rescan finds what it already flagged,
a reviewed flag is not raised again, and two scans at once insert it once (the constraint; the
loser's insert is undone in its own savepoint).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy
import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from repairqc.accounts.models import Role, StaffUser
from repairqc.accounts.permissions import Grants
from repairqc.dataquality.models import NOTE_MAX, AnomalyKind, AnomalyMetric, AnomalyStatus, DataAnomaly
from repairqc.dataquality.services import NotAllowed
from repairqc.db import db, utcnow
from repairqc.errors import Conflict, DomainError
from repairqc.repairs.models import (
    RepairOrder,
    RepairOrderStatus,
    RepairStatusEvent,
)
from repairqc.reports.providers import days_between

#: Tukey's "far out" multiplier.
FENCE_K = 3.0
#: Least spread, as a share of the median (see the module's docstring).
SPREAD_FLOOR = 0.10
STUCK_PERCENTILE = 0.95
STUCK_FACTOR = 2.0
#: Orders in these states are finished or waiting for nothing of ours: never stuck.
NOT_STUCK = {
    RepairOrderStatus.DELIVERED,
    RepairOrderStatus.CLOSED,
    RepairOrderStatus.DECLINED,
    RepairOrderStatus.CANCELLED,
}
#: Who reviews flags and starts a scan: HQ quality (HB §7.1.2 is the data manager's work); store
#: managers see their stores' flags and act on the orders, but do not judge their own figures.
REVIEWERS = frozenset({Role.OWNER, Role.QA_MANAGER})


def may_review(grants: Grants) -> bool:
    return not grants.read_only and bool(grants.tenant_roles & REVIEWERS)


@dataclass(frozen=True)
class Range:
    low: float | None
    high: float
    sample_size: int


@dataclass
class ScanResult:
    flagged: int = 0
    resolved: int = 0


# --- the figures ------------------------------------------------------------------------------------


def _hours(later, earlier):
    """Hours between two timestamp expressions, on either backend."""
    return days_between(later, earlier) * 24.0


def _delivered_since(since: datetime) -> sa.Select:
    return sa.select(
        RepairOrder.id.label("order_id"),
        RepairOrder.store_id,
        RepairOrder.device_category.label("category"),
    ).where(RepairOrder.delivered_at.is_not(None), RepairOrder.delivered_at >= since)


def figure(metric: AnomalyMetric, since: datetime) -> sa.Subquery:
    """(order_id, store_id, category, value) of every order delivered since `since`."""
    base = _delivered_since(since)
    if metric is AnomalyMetric.DURATION:
        statement = base.add_columns(_hours(RepairOrder.delivered_at, RepairOrder.received_at).label("value"))
    elif metric is AnomalyMetric.PRICE:
        # Analytics' "price charged": warranty reworks are free by rule and would pull the range
        # down; an order charged nothing (declined, no quote) has no price to judge.
        statement = base.add_columns(RepairOrder.amount_due_cents.label("value")).where(
            RepairOrder.rework_of_id.is_(None), RepairOrder.amount_due_cents > 0
        )
    elif metric is AnomalyMetric.PARTS_COST:
        # One definition with analytics: the parts facts kept on the order (no stock-movement
        # aggregate over a million orders).
        statement = base.add_columns(RepairOrder.parts_cost_cents.label("value")).where(
            RepairOrder.parts_cost_cents > 0
        )
    else:
        raise ValueError(metric)
    return statement.subquery()


def _quantiles(values: sa.Subquery, group: sa.ColumnElement, fractions: tuple[float, ...]) -> dict:
    """{group value: ([quantiles], count)} with percentile_cont's linear interpolation."""
    if db.backend == "postgresql":
        columns = [sa.func.percentile_cont(f).within_group(values.c.value) for f in fractions]
        rows = db.session.execute(sa.select(group, sa.func.count(), *columns).group_by(group))
        return {row[0]: ([float(v) for v in row[2:]], row[1]) for row in rows}
    by_group: dict = {}
    for key, value in db.session.execute(sa.select(group, values.c.value).where(values.c.value.is_not(None))):
        by_group.setdefault(key, []).append(float(value))
    return {
        key: ([float(q) for q in numpy.quantile(vals, fractions)], len(vals))
        for key, vals in by_group.items()
    }


def outlier_ranges(metric: AnomalyMetric, since: datetime, min_sample: int) -> dict[str, Range]:
    """The usual range of `metric` per device category; categories with too few orders left out."""
    values = figure(metric, since)
    ranges = {}
    for category, ((q1, median, q3), count) in _quantiles(
        values, values.c.category, (0.25, 0.5, 0.75)
    ).items():
        if count < min_sample:
            continue
        spread = max(q3 - q1, abs(median) * SPREAD_FLOOR)
        low = q1 - FENCE_K * spread
        if metric.is_money or metric is AnomalyMetric.DURATION:
            low = max(low, 0.0)  # nothing costs or lasts less than nothing
        ranges[category] = Range(low, q3 + FENCE_K * spread, count)
    return ranges


def state_stays(since: datetime) -> sa.Subquery:
    """(order_id, state, hours) of every finished stay in a state that began since `since`."""
    moves = (
        sa.select(
            RepairStatusEvent.order_id,
            RepairStatusEvent.to_status.label("state"),
            RepairStatusEvent.at.label("entered_at"),
            sa.func.lead(RepairStatusEvent.at)
            .over(
                partition_by=RepairStatusEvent.order_id, order_by=(RepairStatusEvent.at, RepairStatusEvent.id)
            )
            .label("left_at"),
        )
        .where(RepairStatusEvent.at >= since)
        .subquery()
    )
    return (
        sa.select(moves.c.order_id, moves.c.state, _hours(moves.c.left_at, moves.c.entered_at).label("value"))
        .where(moves.c.left_at.is_not(None))
        .subquery()
    )


def stuck_limits(since: datetime, min_sample: int, floor_hours: float) -> dict[RepairOrderStatus, Range]:
    """The longest usual stay per open state (0 … max(2 x p95, floor))."""
    stays = state_stays(since)
    limits = {}
    for state, ((p95,), count) in _quantiles(stays, stays.c.state, (STUCK_PERCENTILE,)).items():
        state = RepairOrderStatus(state)
        if count < min_sample or state in NOT_STUCK:
            continue
        limits[state] = Range(0.0, max(p95 * STUCK_FACTOR, floor_hours), count)
    return limits


# --- the scan ----------------------------------------------------------------------------------------


def _settings() -> tuple[int, int, float]:
    config = current_app.config
    return (
        int(config["DATAQUALITY_WINDOW_MONTHS"]),
        int(config["DATAQUALITY_MIN_SAMPLE"]),
        float(config["DATAQUALITY_STUCK_FLOOR_HOURS"]),
    )


def stuck_basis(state: RepairOrderStatus, since: datetime) -> str:
    return f"{state.value}@{since.strftime('%Y%m%dT%H%M%S')}"


def scan(now: datetime | None = None) -> ScanResult:
    """Flag the current tenant's anomalies (idempotent: see the module's docstring)."""
    now = now or utcnow()
    months, min_sample, floor_hours = _settings()
    since = now - timedelta(days=round(months * 30.44))
    result = ScanResult()
    candidates: list[DataAnomaly] = []
    for metric in (AnomalyMetric.DURATION, AnomalyMetric.PRICE, AnomalyMetric.PARTS_COST):
        ranges = outlier_ranges(metric, since, min_sample)
        if not ranges:
            continue
        values = figure(metric, since)
        # One pass over the window per metric (not one per category): each category's fences
        # are inlined, so a tenant with a million orders is read three times, not 3 x categories.
        outside = sa.or_(
            *(
                sa.and_(
                    values.c.category == category,
                    sa.or_(values.c.value > usual.high, values.c.value < (usual.low or 0.0)),
                )
                for category, usual in ranges.items()
            )
        )
        rows = db.session.execute(
            sa.select(values.c.order_id, values.c.store_id, values.c.category, values.c.value).where(outside)
        )
        for order_id, store_id, category, value in rows:
            usual = ranges[category]
            candidates.append(
                DataAnomaly(
                    store_id=store_id,
                    order_id=order_id,
                    kind=AnomalyKind.OUTLIER,
                    metric=metric,
                    basis="",
                    category=category,
                    value=round(float(value), 2),
                    expected_low=usual.low,
                    expected_high=usual.high,
                    sample_size=usual.sample_size,
                    detected_at=now,
                )
            )
    limits = stuck_limits(since, min_sample, floor_hours)
    current_basis: dict[int, str] = {}
    for state, usual in limits.items():
        orders = db.session.execute(
            sa.select(RepairOrder.id, RepairOrder.store_id, RepairOrder.status_changed_at).where(
                RepairOrder.status == state,
                RepairOrder.status_changed_at <= now - timedelta(hours=usual.high),
            )
        )
        for order_id, store_id, changed_at in orders:
            basis = stuck_basis(state, changed_at)
            current_basis[order_id] = basis
            candidates.append(
                DataAnomaly(
                    store_id=store_id,
                    order_id=order_id,
                    kind=AnomalyKind.STUCK,
                    metric=AnomalyMetric.TIME_IN_STATE,
                    basis=basis,
                    order_status=state,
                    value=round((now - changed_at).total_seconds() / 3600, 2),
                    expected_low=0.0,
                    expected_high=usual.high,
                    sample_size=usual.sample_size,
                    detected_at=now,
                )
            )
    result.resolved = _resolve_moved_on(now)
    result.flagged = _insert_new(candidates)
    return result


def _resolve_moved_on(now: datetime) -> int:
    """Close the open stuck flags of orders that have left the state they were stuck in."""
    flags = db.session.execute(
        sa.select(DataAnomaly, RepairOrder.status, RepairOrder.status_changed_at)
        .join(RepairOrder, RepairOrder.id == DataAnomaly.order_id)
        .where(DataAnomaly.kind == AnomalyKind.STUCK, DataAnomaly.status == AnomalyStatus.OPEN)
    ).all()
    resolved = 0
    for flag, status, changed_at in flags:
        if flag.basis != stuck_basis(status, changed_at):
            flag.status = AnomalyStatus.RESOLVED
            flag.reviewed_at = now
            resolved += 1
    return resolved


def _existing_keys(order_ids: set[int]) -> set[tuple]:
    """(order, kind, metric, basis) of the flags these orders already have, in any status."""
    existing: set[tuple] = set()
    for chunk in _chunks(sorted(order_ids), 500):  # bounded IN lists, on any backend
        rows = db.session.execute(
            sa.select(DataAnomaly.order_id, DataAnomaly.kind, DataAnomaly.metric, DataAnomaly.basis).where(
                DataAnomaly.order_id.in_(chunk)
            )
        )
        existing |= {tuple(row) for row in rows}
    return existing


def _insert_new(candidates: list[DataAnomaly]) -> int:
    if not candidates:
        return 0
    existing = _existing_keys({c.order_id for c in candidates})
    created = 0
    for flag in candidates:
        if (flag.order_id, flag.kind, flag.metric, flag.basis) in existing:
            continue
        try:
            with db.session.begin_nested():
                db.session.add(flag)
        except sa.exc.IntegrityError:
            continue  # another scan flagged it since we looked
        created += 1
    return created


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- review ------------------------------------------------------------------------------------------


def review(
    grants: Grants,
    flag: DataAnomaly,
    actor: StaffUser,
    *,
    decision: AnomalyStatus,
    note: str | None,
    expected_version: int | None,
) -> None:
    """Confirm or dismiss an open flag with a note (HQ quality: `REVIEWERS`)."""
    if not may_review(grants):
        raise NotAllowed(_("Only the owner and the quality manager review data anomalies."))
    if expected_version is None or expected_version != flag.version:
        raise Conflict(
            _("Someone else reviewed this flag in the meantime. Reload the page to see their decision.")
        )
    if flag.status is not AnomalyStatus.OPEN:
        raise Conflict(_("This flag was already reviewed: %(status)s.", status=flag.status.label))
    if decision not in (AnomalyStatus.CONFIRMED, AnomalyStatus.DISMISSED):
        raise DomainError(_("Choose whether to confirm or dismiss the flag."), field="decision")
    note = (note or "").strip() or None
    if decision is AnomalyStatus.DISMISSED and not note:
        raise DomainError(_("Say why the figure is not a problem before dismissing the flag."), field="note")
    if note and len(note) > NOTE_MAX:
        raise DomainError(_("The note is too long: at most %(max)s characters.", max=NOTE_MAX), field="note")
    flag.status = decision
    flag.note = note
    flag.reviewed_by_id = actor.id
    flag.reviewed_at = utcnow()
