"""The KPIs of HB §3.3.1 computed from the repair data, for one technician and one or more periods.

Periods are whole UTC days, both ends included (`reports.providers.utc_bounds`). "Their repairs"
in a period are the orders **delivered** in it on which the technician logged work (`WorkLog`:
who did the repair, HB §2.1.2(4)), at the stores asked for. Every KPI becomes a 0-100 score; a
KPI with nothing to count has no score (None), and `services.weighted_total` then shares its
weight out among the others.

* **Repair speed** (`repair_speed`). For each of their repairs, the turnaround
  `delivered_at - received_at` in days divided by the turnaround target of the device's category
  in the standard in force at the period's end (`ServiceTargets.turnaround_days`); repairs of a
  category without a target are left out. `m` is the median of these ratios (1 = exactly on
  target). Score = 100 when `m <= 1`, 0 when `m >= 2`, else `100 * (2 - m)`: a median repair
  taking 50 % longer than the target scores 50. The median turnaround in days is kept as a fact.
* **Repair quality** (`repair_quality`). Of their repairs (n), those whose order never failed a
  QC check (`qc_failed_at` empty) and has not come back under warranty (`reworked_at` empty, as
  of the computation). Score = 100 * good / n. The QC first-pass rate `(n - qc_failed) / n` and
  the rework rate `reworked / n` are kept as facts and shown beside it.
* **Diagnosis accuracy** (`diagnosis_accuracy`). Their diagnoses are the orders whose diagnosis
  was recorded in the period (`diagnosed_at`) with them as the order's technician (the one who
  diagnoses, HB §2.1.2(2)). One is accurate when the quote was not revised after it was sent (at
  most one revision of the quote was ever sent or settled: a second one means the diagnosis
  changed after the customer was quoted) and the order has not come back under warranty.
  Score = 100 * accurate / diagnosed.
* **Customer satisfaction** (`customer_satisfaction`): the satisfaction surveys (issue #8)
  answered in the period about the orders they were the technician of: the mean of the four
  dimensions (1-5) mapped to 0-100; `satisfaction_score` is the one place that reads them.

Everything is one aggregate statement for all the periods (a UNION ALL branch per period and
kind of fact, grouped by period), plus on SQLite, which has no percentile aggregate, one window
statement per median (`reports.providers.window_median`): a handful of statements whatever the
number of orders.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa

from repairqc.db import db
from repairqc.errors import DomainError
from repairqc.repairs.models import Device, Quote, RepairOrder, WorkLog
from repairqc.reports.providers import days_between, is_postgresql, utc_bounds, window_median
from repairqc.standards.models import StandardStatus, StandardVersion
from repairqc.standards.schema import StandardDocument
from repairqc.standards.services import validated, version_on

Period = tuple[date, date]


@dataclass
class KpiResult:
    """The scores (0-100, None = no data) and the facts behind them for one period."""

    scores: dict[str, float | None] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)


def speed_score(median_ratio: float | None) -> float | None:
    """100 at or under the target, falling linearly to 0 at twice the target."""
    if median_ratio is None:
        return None
    return round(max(0.0, min(100.0, 100.0 * (2.0 - median_ratio))), 2)


def share(x: int, n: int) -> float | None:
    return round(100.0 * x / n, 2) if n else None


def satisfaction_score(
    staff_id: int, store_ids: Iterable[int] | None, start: date, end: date
) -> float | None:
    """The survey scores of the technician's orders in the period, 0-100 (HB §3.2.1, §6.3).

    The satisfaction surveys answered in the period at `store_ids` (None: every store) whose
    order had them as its technician at delivery: the mean over the answers of the mean of the
    four dimensions of HB §6.3.2, mapped 1 → 0 and 5 → 100 (`feedback.services.satisfaction`).
    None without answers: the KPI is then left out and its weight goes to the others."""
    from repairqc.feedback.services import satisfaction

    results = satisfaction(store_ids, start, end, technician_id=staff_id)
    return None if results is None else results.score


def standard_for(day: date) -> tuple[StandardVersion, StandardDocument] | None:
    """The standard in force on `day`; for a day before the tenant's first standard (a period
    that ended before it signed up), its first one. None when it has none at all."""
    try:
        version = version_on(day)
    except DomainError:
        version = db.session.execute(
            sa.select(StandardVersion)
            .where(StandardVersion.status != StandardStatus.DRAFT)
            .order_by(StandardVersion.effective_from, StandardVersion.number)
            .limit(1)
        ).scalar()
        if version is None:
            return None
    return version, validated(version.document)


def turnaround_targets(end: date, cache: dict[int, dict[str, int]] | None = None) -> dict[str, int]:
    """Turnaround target in days per device category, from the standard in force on `end`
    (`cache`: targets already read, by version id, so twelve months parse a version once)."""
    cache = {} if cache is None else cache
    try:
        version = version_on(end)
    except DomainError:
        version = None
    if version is not None and version.id in cache:
        return cache[version.id]
    standard = standard_for(end)
    if standard is None:
        return {}
    targets = dict(standard[1].service_targets.turnaround_days)
    cache[standard[0].id] = targets
    return targets


def compute(
    staff_id: int, periods: Sequence[Period], store_ids: Iterable[int] | None = None
) -> list[KpiResult]:
    """The KPIs of `staff_id` for each period, at the given stores (None: every store)."""
    results = [KpiResult() for _ in periods]
    if not periods:
        return results
    stores = None if store_ids is None else sorted(set(store_ids))
    if stores == []:
        return [_finish(result, {}, None, None, 0, 0, 0, 0, 0, 0) for result in results]
    o = RepairOrder
    zero, none = sa.literal_column("0"), sa.cast(sa.null(), sa.Float)

    def flag(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
        return sa.case((condition, 1), else_=0)

    def at_stores() -> list[sa.ColumnElement[bool]]:
        return [] if stores is None else [o.store_id.in_(sa.bindparam("store_ids", stores, expanding=True))]

    repaired_by_them = sa.exists().where(WorkLog.order_id == o.id, WorkLog.technician_id == staff_id)
    sent_revisions = (
        sa.select(sa.func.count())
        .where(Quote.order_id == o.id, Quote.sent_at.is_not(None))
        .correlate(o)
        .scalar_subquery()
    )
    branches = []
    parsed: dict[int, dict[str, int]] = {}
    for k, (start, end) in enumerate(periods):
        low, high = utc_bounds(start, end)
        period = sa.literal_column(str(k))
        targets = turnaround_targets(end, parsed)
        turnaround = days_between(o.delivered_at, o.received_at)
        target = sa.case(targets, value=Device.category, else_=sa.null()) if targets else sa.null()
        branches.append(
            sa.select(
                period.label("period"),
                sa.literal_column("1").label("repairs"),
                flag(sa.and_(o.qc_failed_at.is_(None), o.reworked_at.is_(None))).label("good"),
                flag(o.qc_failed_at.is_not(None)).label("qc_failed"),
                flag(o.reworked_at.is_not(None)).label("reworked"),
                zero.label("diagnosed"),
                zero.label("accurate"),
                sa.cast(turnaround, sa.Float).label("turnaround"),
                (sa.cast(turnaround, sa.Float) / target if targets else none).label("ratio"),
            )
            .select_from(o)
            .join(Device, Device.id == o.device_id)
            .where(o.delivered_at >= low, o.delivered_at < high, repaired_by_them, *at_stores())
        )
        branches.append(
            sa.select(
                period.label("period"),
                *(zero.label(name) for name in ("repairs", "good", "qc_failed", "reworked")),
                sa.literal_column("1").label("diagnosed"),
                flag(sa.and_(sent_revisions <= 1, o.reworked_at.is_(None))).label("accurate"),
                none.label("turnaround"),
                none.label("ratio"),
            ).where(
                o.technician_id == staff_id,
                o.diagnosed_at >= low,
                o.diagnosed_at < high,
                *at_stores(),
            )
        )
    facts = sa.union_all(*branches).subquery("facts")
    counts = ("repairs", "good", "qc_failed", "reworked", "diagnosed", "accurate")
    if is_postgresql():
        medians = (
            sa.func.percentile_cont(0.5).within_group(facts.c.turnaround),
            sa.func.percentile_cont(0.5).within_group(facts.c.ratio),
        )
    else:
        medians = (sa.null(), sa.null())
    rows = db.session.execute(
        sa.select(
            facts.c.period, *(sa.func.coalesce(sa.func.sum(facts.c[name]), 0) for name in counts), *medians
        ).group_by(facts.c.period)
    ).all()
    found: dict[int, list[Any]] = {int(row[0]): list(row[1:]) for row in rows}
    if not is_postgresql():
        for position, column in ((-2, facts.c.turnaround), (-1, facts.c.ratio)):
            for k, median in db.session.execute(window_median(column, (facts.c.period,))):
                found.setdefault(int(k), [0] * len(counts) + [None, None])[position] = median
    for k, result in enumerate(results):
        repairs, good, qc_failed, reworked, diagnosed, accurate, turnaround, ratio = found.get(
            k, [0] * len(counts) + [None, None]
        )
        start, end = periods[k]
        _finish(
            result,
            {"satisfaction": satisfaction_score(staff_id, stores, start, end)},
            None if turnaround is None else float(turnaround),
            None if ratio is None else float(ratio),
            int(repairs),
            int(good),
            int(qc_failed),
            int(reworked),
            int(diagnosed),
            int(accurate),
        )
    return results


def _finish(
    result: KpiResult,
    extra: dict[str, float | None],
    turnaround: float | None,
    ratio: float | None,
    repairs: int,
    good: int,
    qc_failed: int,
    reworked: int,
    diagnosed: int,
    accurate: int,
) -> KpiResult:
    result.scores = {
        "repair_speed": speed_score(ratio),
        "repair_quality": share(good, repairs),
        "diagnosis_accuracy": share(accurate, diagnosed),
        "customer_satisfaction": extra.get("satisfaction"),
    }
    result.facts = {
        "repairs": repairs,
        "median_turnaround_days": None if turnaround is None else round(turnaround, 2),
        "median_target_ratio": None if ratio is None else round(ratio, 4),
        "qc_failed": qc_failed,
        "reworked": reworked,
        "qc_first_pass_pct": share(repairs - qc_failed, repairs),
        "rework_rate_pct": share(reworked, repairs),
        "diagnosed": diagnosed,
        "accurate_diagnoses": accurate,
    }
    return result
