"""Analysis of the repair data (HB §7.2.1): descriptive statistics, correlation, Pareto, forecasts.

Definitions (the page's help text and docs/architecture.md say the same):

* **Population**: the orders of the chosen stores (never outside the reader's own, `Params`)
  *delivered* in the period (whole UTC days, both ends included) for the statistics and the
  correlations; *received* in it for the Pareto charts; device category filter on the order's
  device.
* **Turnaround (days)**: `delivered_at - received_at`, fractional days.
* **Repair cost**: the parts used on the order at their list price when they were taken:
  Σ(-`StockMovement.change`) * `Part.unit_price_cents` over the order's movements whose reason is
  "used on a repair" (negative) or "returned to stock" (positive, so a returned part is not
  counted), each movement valued at the price in force when it was recorded. The stock movements
  are what the workflow writes when a part is taken (quote lines are only what was offered);
  the price at the time of use is what the repair cost then, and a later price change does not
  rewrite past repairs (orders from before the facts were kept are valued at the list price of
  the day the migration ran: no price history exists). Kept on the order
  (`RepairOrder.parts_cost_cents`, `parts_units`) by `repairs.models._keep_parts_facts`. An order
  without parts costs 0. Labour is not costed (no wage data).
* **Price charged**: `RepairOrder.amount_due_cents`, the total with tax of the accepted quote,
  over orders that are not warranty reworks (those are free by rule and would pull every price
  towards 0).
* **Parts used**: the number of parts the cost above counts.
* **Reworked**: a warranty rework order refers to the order (`RepairOrder.reworked_at`, stamped
  when the rework opens); only orders that are not reworks themselves are counted.
* **Fault type**: `RepairOrder.repair_type`, the repair type the technician chose at diagnosis
  from the warranty rules of the standards in force (parts-replacement, board-repair, software...).
* **Rework cause**: for each warranty rework order received in the period, the device category
  and repair type of the *original* repair that came back.

Speed: every number is aggregated in SQL over the order rows alone (no stock movements or
devices are read: the parts facts and the device's category, brand and model are columns of the
order; on PostgreSQL of `ix_repair_orders_delivered_facts` too, so the period's delivered orders
are one index-only range scan). PostgreSQL computes the percentiles with
`percentile_cont(...) WITHIN GROUP` in the same statement as the sums; SQLite (the embedded
default, small tenants) computes n, sums and sums of squares in SQL and the percentiles from the
sorted values in Python. Pearson's r comes from six sums in SQL over the whole population;
Spearman's rho from a deterministic sample of at most `SAMPLE_CAP` orders (every k-th id), which
the scatter chart draws too. The forecasts fit at most two series per request (the scope's total
or one store: orders received per week, parts cost of the orders delivered per week), each read
by one grouped index-only scan and each fit memoised by its data (`forecasting`).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects import postgresql

from repairqc.accounts.models import StaffUser
from repairqc.analytics import forecasting
from repairqc.db import current_tenant, db
from repairqc.errors import DomainError
from repairqc.repairs.models import RepairOrder
from repairqc.reports.providers import days_between, is_postgresql, utc_bounds, utc_date
from repairqc.reports.services import Period
from repairqc.stores.models import Store

#: The scatter chart and Spearman's rho use at most this many orders (a deterministic sample).
SAMPLE_CAP = 2000
QUANTILES = (0.25, 0.5, 0.75, 0.9)
#: Monday 1970-01-05, the first day of week 0 (weeks run Monday to Sunday, UTC).
WEEK_ZERO = date(1970, 1, 5)
#: At most three years of weekly history feed a forecast.
HISTORY_WEEKS = 156
#: "Parts used" buckets of the rework chart: 0, 1, 2, 3 and "4 or more".
PARTS_BUCKETS = 4

GROUP_BYS = {
    "category": _l("Device category"),
    "model": _l("Brand and model"),
    "fault": _l("Fault type"),
    "store": _l("Store"),
    "technician": _l("Technician"),
}


@dataclass(frozen=True)
class Metric:
    key: str
    label: Any
    help: Any


METRICS = (
    Metric(
        "turnaround",
        _l("Turnaround (days)"),
        _l("Days from receiving the device to handing it back, of the orders delivered in the period."),
    ),
    Metric(
        "cost",
        _l("Repair cost (parts)"),
        _l("Parts used on the order (used minus returned) at their list price when they were taken; "
           "0 without parts."),
    ),
    Metric(
        "price",
        _l("Price charged"),
        _l("The accepted quote's total with tax, of the orders delivered in the period that are not "
           "warranty reworks (those are free)."),
    ),
)  # fmt: skip
METRIC_KEYS = tuple(metric.key for metric in METRICS)


# --- what is asked --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Params:
    """One analysis: the period, the stores (already within what the reader may see), filters."""

    period: Period
    store_ids: tuple[int, ...]
    category: str | None = None
    group_by: str = "category"
    #: The store whose weekly series are forecast; None: the total of `store_ids`.
    forecast_store_id: int | None = None

    def __post_init__(self) -> None:
        if self.group_by not in GROUP_BYS:
            raise DomainError(_("Choose how to group the statistics."), field="group_by")
        if self.forecast_store_id is not None and self.forecast_store_id not in self.store_ids:
            raise DomainError(_("Choose a store of the scope for the forecast."), field="forecast_store")


# --- results --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    n: int
    mean: float | None = None
    variance: float | None = None
    sd: float | None = None
    p25: float | None = None
    p50: float | None = None
    p75: float | None = None
    p90: float | None = None
    min: float | None = None
    max: float | None = None

    FIELDS = ("n", "mean", "variance", "sd", "p25", "p50", "p75", "p90", "min", "max")

    def values(self) -> list[float | int | None]:
        return [getattr(self, name) for name in self.FIELDS]


@dataclass(frozen=True)
class GroupStats:
    label: str
    metrics: dict[str, Summary]


@dataclass(frozen=True)
class Correlation:
    key: str
    title: Any
    x_label: Any
    y_label: Any
    n: int
    pearson_r: float | None
    pearson_p: float | None
    sample_n: int
    spearman_rho: float | None
    spearman_p: float | None


@dataclass(frozen=True)
class ParetoRow:
    label: str
    count: int
    percent: float
    cumulative_percent: float


@dataclass(frozen=True)
class PartsBucket:
    parts: int  # PARTS_BUCKETS means "that many or more"
    orders: int
    reworked: int

    @property
    def rate(self) -> float | None:
        return 100.0 * self.reworked / self.orders if self.orders else None


@dataclass
class Analytics:
    params: Params
    groups: list[GroupStats] = field(default_factory=list)
    total: GroupStats | None = None
    correlations: list[Correlation] = field(default_factory=list)
    #: (turnaround days, cost) of the sampled orders, for the scatter chart.
    scatter: list[tuple[float, float]] = field(default_factory=list)
    parts_buckets: list[PartsBucket] = field(default_factory=list)
    pareto_faults: list[ParetoRow] = field(default_factory=list)
    pareto_rework: list[ParetoRow] = field(default_factory=list)
    forecasts: dict[str, forecasting.Forecast] = field(default_factory=dict)


# --- the population -------------------------------------------------------------------------------------


def _scope_filters(params: Params, order=RepairOrder) -> list[sa.ColumnElement[bool]]:
    stores = sa.bindparam("analytics_stores", list(params.store_ids), expanding=True)
    filters = [order.store_id.in_(stores)]
    if params.category:
        filters.append(order.device_category == params.category)
    return filters


def delivered_select(params: Params) -> sa.Select:
    """One row per order of the scope delivered in the period: its group key columns, turnaround
    (days), cost and price (currency units, not cents), parts used, and the rework flags.

    Every value is a column of the order (the parts facts are kept there by
    `repairs.models._keep_parts_facts`, the device's category, brand and model by
    `_copy_device_facts`), and on PostgreSQL a column of `ix_repair_orders_delivered_facts` too:
    the population is one index-only range scan, no other table is read.
    """
    o = RepairOrder
    low, high = utc_bounds(params.period.start, params.period.end)
    is_rework = o.rework_of_id.is_not(None)
    statement = sa.select(
        o.id.label("id"),
        o.store_id.label("store_id"),
        o.technician_id.label("technician_id"),
        o.repair_type.label("repair_type"),
        o.device_category.label("category"),
        o.device_brand.label("brand"),
        o.device_model.label("model"),
        days_between(o.delivered_at, o.received_at).label("turnaround"),
        (sa.cast(o.parts_cost_cents, sa.Float) / 100.0).label("cost"),
        sa.case((is_rework, sa.null()), else_=sa.cast(o.amount_due_cents, sa.Float) / 100.0).label("price"),
        o.parts_units.label("units"),
        sa.case((is_rework, 0), else_=1).label("original"),
        sa.case((sa.and_(sa.not_(is_rework), o.reworked_at.is_not(None)), 1), else_=0).label("reworked"),
    ).select_from(o)
    return statement.where(o.delivered_at >= low, o.delivered_at < high, *_scope_filters(params))


def delivered_facts(params: Params) -> sa.Subquery:
    """`delivered_select` as a subquery named "facts"."""
    return delivered_select(params).subquery("facts")


#: The facts' columns each grouping groups by.
GROUP_KEY_COLUMNS = {
    "category": ("category",),
    "model": ("brand", "model"),
    "fault": ("repair_type",),
    "store": ("store_id",),
    "technician": ("technician_id",),
}


def _group_columns(facts: sa.Subquery, group_by: str) -> list[sa.ColumnElement]:
    return [facts.c[name] for name in GROUP_KEY_COLUMNS[group_by]]


# --- descriptive statistics -----------------------------------------------------------------------------


def summary_from_sums(
    n: int, total: float | None, squares: float | None, low: float | None, high: float | None,
    quantiles: Sequence[float | None],
) -> Summary:  # fmt: skip
    """Mean, sample variance (n - 1) and standard deviation from n, Σx and Σx²."""
    if not n:
        return Summary(0)
    mean = float(total) / n
    variance = None
    if n > 1:
        # Σx² - (Σx)²/n loses digits when the spread is tiny against the mean; never below 0.
        variance = max(0.0, (float(squares) - float(total) * float(total) / n) / (n - 1))
    p25, p50, p75, p90 = (None if q is None else float(q) for q in quantiles)
    return Summary(
        n, mean, variance, None if variance is None else math.sqrt(variance),
        p25, p50, p75, p90, float(low), float(high),
    )  # fmt: skip


def _quantiles_of(sorted_values: Sequence[float]) -> list[float | None]:
    """Linear interpolation between the closest ranks: the same as percentile_cont."""
    if not sorted_values:
        return [None] * len(QUANTILES)
    return [float(q) for q in np.quantile(np.asarray(sorted_values, dtype=float), QUANTILES)]


StatsResult = tuple[list[GroupStats], GroupStats]
CorrelationResult = tuple[list[Correlation], list[tuple[float, float]], list[PartsBucket]]


def population_analysis(
    params: Params, *, statistics: bool, correlation: bool
) -> tuple[StatsResult | None, CorrelationResult | None]:
    """The statistics and/or the correlations of the period's delivered orders.

    PostgreSQL reads the population once for both (`_postgresql_population`); SQLite (small
    tenants) runs a few plain statements per section.
    """
    if not (statistics or correlation):
        return None, None
    if is_postgresql():
        stat_rows, bucket_rows, sample = _postgresql_population(params, statistics, correlation)
    else:
        facts = delivered_facts(params)
        stat_rows = _sqlite_stats(facts, _group_columns(facts, params.group_by)) if statistics else None
        bucket_rows = _bucket_rows(facts) if correlation else None
        sample = _sample(facts, sum(int(row[1]) for row in bucket_rows)) if correlation else None
    stats = _stats_result(params.group_by, stat_rows) if statistics else None
    return stats, (_correlation_result(bucket_rows, sample) if correlation else None)


def _stats_result(group_by: str, rows: dict[Any, dict[str, Summary]]) -> StatsResult:
    total = rows.pop(None, {key: Summary(0) for key in METRIC_KEYS})
    labels = _group_labels(group_by, list(rows))
    groups = [GroupStats(labels[key], rows[key]) for key in rows]
    groups.sort(key=lambda g: (-g.metrics["turnaround"].n, g.label))
    return groups, GroupStats(_("All orders"), total)


def _stat_columns(facts) -> list[sa.ColumnElement]:
    """count, Σx, Σx², min, max of each metric (then PostgreSQL adds the percentiles)."""
    columns = []
    for key in METRIC_KEYS:
        x = facts.c[key]
        columns += [sa.func.count(x), sa.func.sum(x), sa.func.sum(x * x), sa.func.min(x), sa.func.max(x)]
    return columns


def _postgresql_population(
    params: Params, statistics: bool, correlation: bool
) -> tuple[dict | None, list | None, list | None]:
    """One statement, one read of the period's delivered orders for both sections.

    The population is a MATERIALIZED CTE (a ~300,000-row tuplestore at a million orders,
    instead of three range scans of a ~700 MB table): the statistics group it with GROUPING
    SETS ((keys), ()) and the `percentile_cont` aggregates; the total's row also carries, as
    JSON built by two scalar subqueries over the same CTE, the correlation sums per "parts
    used" bucket and the scatter sample (every k-th id, k = ⌈n / SAMPLE_CAP⌉, the same rows as
    `_sample`). Without the statistics the statement is just those two subqueries.
    """
    population = delivered_select(params)
    # Only the columns used: the tuplestore is then ~1/3 as wide and stays in work_mem.
    used = {"id", *METRIC_KEYS, "units", "original", "reworked"}
    if statistics:
        used.update(GROUP_KEY_COLUMNS[params.group_by])
    population = population.with_only_columns(*(c for c in population.selected_columns if c.key in used))
    facts = population.cte("facts").prefix_with("MATERIALIZED")
    extras = []
    if correlation:
        f = facts.c
        bucket_columns = [c.label(f"b{i}") for i, c in enumerate(_bucket_columns(f))]
        per_bucket = sa.select(*bucket_columns).group_by(bucket_columns[0].element).subquery("per_bucket")
        extras.append(sa.select(sa.func.json_agg(sa.func.json_build_array(*per_bucket.c))).scalar_subquery())
        step = sa.select(sa.func.greatest(1, (sa.func.count() + (SAMPLE_CAP - 1)) // SAMPLE_CAP))
        sampled = (
            sa.select(f.id, *_sample_columns(f))
            .where(f.id % step.select_from(facts).scalar_subquery() == 0)
            .order_by(f.id)
            .limit(SAMPLE_CAP)
            .subquery("sampled")
        )
        row = sa.func.json_build_array(*list(sampled.c)[1:])
        extras.append(
            sa.select(sa.func.json_agg(postgresql.aggregate_order_by(row, sampled.c.id))).scalar_subquery()
        )
    if not statistics:
        buckets_json, sample_json = db.session.execute(sa.select(*extras)).one()
        return None, _json_bucket_rows(buckets_json), _json_sample(sample_json)
    keys = _group_columns(facts, params.group_by)
    quantiles = sa.literal(list(QUANTILES), postgresql.ARRAY(sa.Float))
    columns = _stat_columns(facts) + [
        sa.func.percentile_cont(quantiles).within_group(facts.c[key]) for key in METRIC_KEYS
    ]
    is_total = sa.func.grouping(*keys)
    # Only the total's row carries the correlation's JSON (each subquery runs once).
    extras = [sa.case((is_total != 0, extra)) for extra in extras]
    statement = sa.select(is_total, *keys, *columns, *extras).group_by(
        sa.func.grouping_sets(sa.tuple_(*keys), sa.text("()"))
    )
    stat_rows: dict[Any, dict[str, Summary]] = {}
    bucket_rows = sample = None
    n_keys, n_sums, n_metrics = len(keys), 5 * len(METRIC_KEYS), len(METRIC_KEYS)
    for row in db.session.execute(statement):
        key = None if row[0] else tuple(row[1 : 1 + n_keys])
        sums = row[1 + n_keys : 1 + n_keys + n_sums]
        quantile_lists = row[1 + n_keys + n_sums : 1 + n_keys + n_sums + n_metrics]
        stat_rows[key] = _summaries(sums, [q or [None] * len(QUANTILES) for q in quantile_lists])
        if key is None and correlation:
            buckets_json, sample_json = row[-2:]
            bucket_rows, sample = _json_bucket_rows(buckets_json), _json_sample(sample_json)
    return stat_rows, bucket_rows, sample


def _summaries(sums: Sequence, quantiles: Sequence[Sequence[float | None]]) -> dict[str, Summary]:
    return {
        metric: summary_from_sums(int(sums[5 * i]), *sums[5 * i + 1 : 5 * i + 5], quantiles[i])
        for i, metric in enumerate(METRIC_KEYS)
    }


def _sqlite_stats(facts, keys) -> dict[Any, dict[str, Summary]]:
    """n, Σx, Σx², min and max in SQL; percentiles from the sorted values (SQLite has no
    percentile aggregate; its tenants are small)."""
    columns = _stat_columns(facts)
    sums: dict[Any, list] = {}
    for row in db.session.execute(sa.select(*keys, *columns).group_by(*keys)):
        sums[tuple(row[: len(keys)])] = list(row[len(keys) :])
    (total_row,) = db.session.execute(sa.select(*columns).select_from(facts)).all()
    if total_row[0]:
        sums[None] = list(total_row)
    values: dict[Any, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for metric in METRIC_KEYS:
        x = facts.c[metric]
        for row in db.session.execute(sa.select(*keys, x).where(x.is_not(None)).order_by(x)):
            values[tuple(row[:-1])][metric].append(row[-1])
            values[None][metric].append(row[-1])
    result: dict[Any, dict[str, Summary]] = {}
    for key, row in sums.items():
        ordered = {
            metric: sorted(values[key][metric]) if key is None else values[key][metric]
            for metric in METRIC_KEYS
        }
        result[key] = _summaries(row, [_quantiles_of(ordered[metric]) for metric in METRIC_KEYS])
    return result


def _group_labels(group_by: str, keys: list[tuple]) -> dict[tuple, str]:
    if group_by == "model":
        return {key: f"{key[0]} {key[1]}" for key in keys}
    if group_by in ("store", "technician"):
        ids = [key[0] for key in keys if key[0] is not None]
        if group_by == "store":
            names = {
                s.id: f"{s.code} · {s.name}"
                for s in db.session.execute(sa.select(Store).where(Store.id.in_(ids))).scalars()
            }
        else:
            names = dict(
                db.session.execute(
                    sa.select(StaffUser.id, StaffUser.full_name).where(StaffUser.id.in_(ids))
                ).all()
            )
        return {key: names.get(key[0], _("Not assigned")) for key in keys}
    return {key: key[0] if key[0] is not None else _("Not recorded") for key in keys}


# --- correlation ----------------------------------------------------------------------------------------


def pearson_from_sums(
    n: int, sx: float, sy: float, sxy: float, sxx: float, syy: float
) -> tuple[float | None, float | None]:
    """Pearson's r and its two-sided p-value (t-test, n - 2 degrees of freedom) from the sums.

    None when there are fewer than three pairs or either variable is constant (r undefined).
    """
    if n < 3:
        return None, None
    covariance = n * sxy - sx * sy
    spread = (n * sxx - sx * sx) * (n * syy - sy * sy)
    if spread <= 0:
        return None, None
    r = max(-1.0, min(1.0, covariance / math.sqrt(spread)))
    if abs(r) >= 1.0:
        return r, 0.0
    from scipy import stats as scipy_stats

    t = r * math.sqrt((n - 2) / (1 - r * r))
    return r, float(2 * scipy_stats.t.sf(abs(t), n - 2))


def spearman(pairs: Sequence[tuple[float, float]]) -> tuple[float | None, float | None]:
    if len(pairs) < 3:
        return None, None
    xs, ys = zip(*pairs, strict=True)
    if len(set(xs)) < 2 or len(set(ys)) < 2:
        return None, None
    from scipy import stats as scipy_stats

    result = scipy_stats.spearmanr(xs, ys)
    return float(result.statistic), float(result.pvalue)


def _sums(x, y) -> list[sa.ColumnElement]:
    return [
        sa.func.count(),
        sa.func.sum(x),
        sa.func.sum(y),
        sa.func.sum(x * y),
        sa.func.sum(x * x),
        sa.func.sum(y * y),
    ]


def _bucket_columns(f) -> list[sa.ColumnElement]:
    """The "parts used" bucket (0 .. PARTS_BUCKETS, the last meaning "that many or more") and the
    sums of both pairs in it (to be grouped by the bucket; the buckets' sums add up to the
    totals, so the bar chart costs nothing extra)."""
    units, reworked, original = (sa.cast(c, sa.Float) for c in (f.units, f.reworked, f.original))
    bucket = sa.case((f.units >= PARTS_BUCKETS, PARTS_BUCKETS), else_=f.units)
    # `reworked` is 0 on rework orders, so only `original` needs the mask.
    parts_rework = [
        sa.func.sum(original), sa.func.sum(original * units), sa.func.sum(reworked),
        sa.func.sum(units * reworked), sa.func.sum(original * units * units), sa.func.sum(reworked),
    ]  # fmt: skip
    return [bucket, *_sums(f.turnaround, f.cost), *parts_rework]


def _bucket_rows(facts: sa.Subquery) -> list[tuple]:
    columns = _bucket_columns(facts.c)
    return [tuple(row) for row in db.session.execute(sa.select(*columns).group_by(columns[0]))]


def _json_bucket_rows(rows: list | None) -> list[tuple]:
    return [tuple(row) for row in rows or []]


def _sample_columns(f) -> list[sa.ColumnElement]:
    return [f.turnaround, f.cost, f.units, f.reworked, f.original]


def _json_sample(rows: list | None) -> list[tuple[float, ...]]:
    return [tuple(float(v) for v in row) for row in rows or []]


def _sample(facts: sa.Subquery, n: int) -> list[tuple[float, ...]]:
    """At most SAMPLE_CAP orders, the same ones every time: every k-th order id (k = n / cap),
    found in the scan itself (no sort of the population). Columns: turnaround, cost, parts used,
    reworked, original (1 = not a rework)."""
    f = facts.c
    step = max(1, math.ceil(n / SAMPLE_CAP))
    statement = sa.select(*_sample_columns(f))
    if step > 1:
        statement = statement.where(f.id % step == 0)
    rows = db.session.execute(statement.order_by(f.id).limit(SAMPLE_CAP))
    return [tuple(float(v) for v in row) for row in rows]


def _correlation_result(bucket_rows: list[tuple], sample: list[tuple[float, ...]]) -> CorrelationResult:
    totals = np.zeros(12)
    buckets: dict[int, PartsBucket] = {}
    for row in bucket_rows:
        numbers = np.array([0.0 if v is None else float(v) for v in row[1:]])
        totals += numbers
        buckets[int(row[0])] = PartsBucket(int(row[0]), int(numbers[6]), int(numbers[8]))
    n1, n2 = int(totals[0]), int(totals[6])
    r1, p1 = pearson_from_sums(n1, *totals[1:6])
    r2, p2 = pearson_from_sums(n2, *totals[7:12])
    scatter = [(t, c) for t, c, *_rest in sample]
    rework_sample = [(u, r) for _t, _c, u, r, is_original in sample if is_original]
    rho1, q1 = spearman(scatter)
    rho2, q2 = spearman(rework_sample)
    found = [
        Correlation("time_cost", _l("Repair time against repair cost"), _l("Turnaround (days)"),
                    _l("Repair cost (parts)"), n1, r1, p1, len(scatter), rho1, q1),
        Correlation("parts_rework", _l("Parts used against rework"), _l("Parts used"),
                    _l("Reworked (1 = came back under warranty)"), n2, r2, p2, len(rework_sample), rho2, q2),
    ]  # fmt: skip
    return found, scatter, [buckets.get(b, PartsBucket(b, 0, 0)) for b in range(PARTS_BUCKETS + 1)]


# --- Pareto ---------------------------------------------------------------------------------------------


def pareto_rows(counts: Sequence[tuple[str, int]]) -> list[ParetoRow]:
    """Largest first (ties by label), each with its share and the cumulative share in per cent."""
    ordered = sorted(((label, int(n)) for label, n in counts if n), key=lambda item: (-item[1], item[0]))
    total = sum(n for _label, n in ordered)
    rows, running = [], 0
    for label, n in ordered:
        running += n
        rows.append(ParetoRow(label, n, 100.0 * n / total, 100.0 * running / total))
    return rows


def paretos(params: Params) -> tuple[list[ParetoRow], list[ParetoRow]]:
    """Fault types of the orders received in the period (those diagnosed so far), and the causes
    of the warranty reworks received in it (category and repair type of the original repair)."""
    o = RepairOrder
    low, high = utc_bounds(params.period.start, params.period.end)
    received = [o.received_at >= low, o.received_at < high]
    faults = db.session.execute(
        sa.select(o.repair_type, sa.func.count())
        .where(*received, o.repair_type.is_not(None), *_scope_filters(params))
        .group_by(o.repair_type)
    ).all()
    original = sa.orm.aliased(RepairOrder, name="original")
    causes = db.session.execute(
        # A warranty rework repairs the original's device (`repairs.services.claim_warranty`),
        # so the rework's device category is the original's.
        sa.select(o.device_category, original.repair_type, sa.func.count())
        .select_from(o)
        .join(original, original.id == o.rework_of_id)
        # Implied by the join, but said: the planner then finds the few reworks by
        # `ix_repair_orders_rework_of_id` instead of reading every order of the period.
        .where(*received, o.rework_of_id.is_not(None), *_scope_filters(params))
        .group_by(o.device_category, original.repair_type)
    ).all()
    not_recorded = _("not recorded")
    return (
        pareto_rows([(str(kind), n) for kind, n in faults]),
        pareto_rows([(f"{category} · {kind or not_recorded}", n) for category, kind, n in causes]),
    )


# --- forecasts ------------------------------------------------------------------------------------------


def week_of(day: date) -> int:
    return (day - WEEK_ZERO).days // 7


def week_start(index: int) -> date:
    return WEEK_ZERO + timedelta(weeks=index)


def _week_index(timestamp: sa.ColumnElement) -> sa.ColumnElement[int]:
    if is_postgresql():
        # Integer day arithmetic on the UTC date: the epoch seconds of EXTRACT are numeric, and
        # dividing a million numerics cost more than reading the rows.
        days = sa.type_coerce(utc_date(timestamp) - sa.literal(WEEK_ZERO, sa.Date), sa.Integer)
        return days // 7  # integer division: the weeks start at WEEK_ZERO, so days >= 0
    # julianday 2440591.5 is 1970-01-05 00:00 UTC; SQLite keeps UTC timestamps naive.
    return sa.cast((sa.func.julianday(timestamp) - 2440591.5) / 7, sa.Integer)


def history_weeks(period_end: date) -> tuple[int, int]:
    """[first, last] week indexes of the history: complete weeks up to the period's end."""
    last = week_of(period_end + timedelta(days=1)) - 1  # the last week ending on or before it
    return last - HISTORY_WEEKS + 1, last


def weekly_series(params: Params) -> dict[str, tuple[int, list[float]]]:
    """Orders received and parts cost of the orders delivered, per week, for the forecast's
    stores: {"volume"|"cost": (first week index, values)}, leading empty weeks dropped.

    The cost goes by the week of delivery: an order's parts are all used by then, so a past
    week's cost is final (by the week received, the last weeks would still be growing).
    Without a category filter each series is one grouped, index-only range scan
    (`ix_repair_orders_received_store`, `ix_repair_orders_delivered_facts`).
    """
    first, last = history_weeks(params.period.end)
    low, high = utc_bounds(week_start(first), week_start(last + 1) - timedelta(days=1))
    store_ids = (params.forecast_store_id,) if params.forecast_store_id else params.store_ids
    scoped = Params(params.period, store_ids, params.category, params.group_by)
    o = RepairOrder
    statements = {}
    for key, timestamp, measure, scale in (
        ("volume", o.received_at, sa.func.count(), 1.0),
        ("cost", o.delivered_at, sa.func.sum(o.parts_cost_cents), 100.0),
    ):
        week = _week_index(timestamp)
        in_history = [timestamp >= low, timestamp < high]
        statement = sa.select(week, measure).where(*in_history, *_scope_filters(scoped))
        statements[key] = (statement.group_by(week), scale)
    series = {}
    for key, (statement, scale) in statements.items():
        by_week = {int(w): float(v or 0) / scale for w, v in db.session.execute(statement)}
        start = min(by_week, default=last + 1)
        series[key] = (start, [by_week.get(w, 0.0) for w in range(start, last + 1)])
    return series


#: How long a process keeps a scope's weekly series (`recent_weekly_series`).
WEEKLY_SERIES_SECONDS = 3600
WEEKLY_SERIES_ENTRIES = 64
_weekly_series_kept: OrderedDict[tuple, tuple[float, dict[str, tuple[int, list[float]]]]] = OrderedDict()
_weekly_series_lock = threading.Lock()


def recent_weekly_series(params: Params) -> dict[str, tuple[int, list[float]]]:
    """`weekly_series`, kept per process for WEEKLY_SERIES_SECONDS (at most
    WEEKLY_SERIES_ENTRIES scopes, least recently used dropped first).

    Why it may be kept: the series hold complete past weeks only, and in the workflow an order
    is received and delivered "now", so a past week's counts do not change; the parts cost goes
    by the week of delivery, when every part has been taken. Reading them is two index-only
    scans of about a million entries each at 1M orders (~0.5-1 s), the largest part of the page
    after the statistics. Why for an hour only: imports, restores into the same tenant and data
    fixes of old orders can still change a past week, and then the forecast catches up within
    the hour. The key holds the tenant (id and schema), the database, the stores, the category
    and the history's week range, so no two tenants or scopes share an entry.
    """
    tenant = current_tenant()
    store_ids = (params.forecast_store_id,) if params.forecast_store_id else tuple(sorted(params.store_ids))
    key = (
        str(db.state.url),  # the database (tests run two in one process)
        tenant.id,
        tenant.schema,
        store_ids,
        params.category,
        history_weeks(params.period.end),
    )
    now = time.monotonic()
    with _weekly_series_lock:
        kept = _weekly_series_kept.get(key)
        if kept is not None and kept[0] > now:
            _weekly_series_kept.move_to_end(key)
            return kept[1]
    series = weekly_series(params)
    with _weekly_series_lock:
        _weekly_series_kept[key] = (now + WEEKLY_SERIES_SECONDS, series)
        _weekly_series_kept.move_to_end(key)
        while len(_weekly_series_kept) > WEEKLY_SERIES_ENTRIES:
            _weekly_series_kept.popitem(last=False)
    return series


def forget_weekly_series() -> None:
    """Drop every kept weekly series (tests; after a bulk import, if one wants it seen at once)."""
    with _weekly_series_lock:
        _weekly_series_kept.clear()


def forecasts(params: Params) -> dict[str, forecasting.Forecast]:
    found = {}
    for key, (start, values) in recent_weekly_series(params).items():
        found[key] = forecasting.forecast(tuple(values), first_week=week_start(start))
    return found


# --- everything the page shows --------------------------------------------------------------------------


SECTIONS = ("statistics", "correlation", "pareto", "forecast")

#: Planner settings for the rest of the analytics read's transaction (PostgreSQL).
#: * jit off: PostgreSQL 15 compiles these year-long aggregates for longer than it runs them
#:   (see `reports.providers.without_jit`).
#: * random_page_cost 1.1 (the default 4 models spinning disks): the tables sit in RAM / on SSD,
#:   where a random page costs about what a sequential one does. With 4, the planner reads the
#:   whole ~700 MB `repair_orders` to find the third of it in the period; with 1.1 it
#:   range-scans `ix_repair_orders_delivered_facts` / `_received_store` (same statement, 1M orders:
#:   see /tmp/docs/analytics-bench.md).
#: * work_mem 64 MB (default 4 MB): the population's tuplestore (~300,000 rows at 1M orders)
#:   and the statistics' sort by group stay in memory instead of spilling to temporary files;
#:   a few such nodes per request, and few people read analytics at once.
#: SET LOCAL: scoped to this transaction (the request's read); "docs/architecture.md" says so.
PLANNER_SETTINGS = {"jit": "off", "random_page_cost": "1.1", "work_mem": "64MB"}


def tune_planner() -> None:
    """Apply PLANNER_SETTINGS for the rest of the transaction (no-op on SQLite)."""
    if is_postgresql():
        # set_config(name, value, is_local => true) is SET LOCAL with bound values.
        calls = [sa.func.set_config(name, value, sa.true()) for name, value in PLANNER_SETTINGS.items()]
        db.session.execute(sa.select(*calls))


def build_analytics(params: Params, sections: Sequence[str] = SECTIONS) -> Analytics:
    """Every query and fit the analytics page needs (the benchmark calls this directly); a
    download asks only for the section its chart or table comes from."""
    result = Analytics(params)
    result.total = GroupStats(_("All orders"), {key: Summary(0) for key in METRIC_KEYS})
    if not params.store_ids:
        return result
    tune_planner()
    stats, correlation = population_analysis(
        params, statistics="statistics" in sections, correlation="correlation" in sections
    )
    if stats is not None:
        result.groups, result.total = stats
    if correlation is not None:
        result.correlations, result.scatter, result.parts_buckets = correlation
    if "pareto" in sections:
        result.pareto_faults, result.pareto_rework = paretos(params)
    if "forecast" in sections:
        result.forecasts = forecasts(params)
    return result
