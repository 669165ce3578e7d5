"""The provider interface of the cross-store report (HB §5.2.2, ch.8).

Each domain contributes its columns without the report knowing its tables: a provider names
its columns and, for a period and a set of stores, returns one dict of values per store. The
report service adds the rest (tenant average, ranking, change against the previous period,
control limits, charts, exports) from the columns' kinds alone.

Rules for a provider, so the report stays fast at a million orders:

* `collect` aggregates in SQL, grouped by `store_id` (a handful of queries whatever the number
  of orders or stores); it never loads rows into Python to count them.
* A rate is returned as a `Ratio` (numerator, denominator), not as a finished percentage: the
  tenant average then pools the stores (Σx / Σn) and the p-chart needs both numbers.
* Periods are whole UTC days, `start` and `end` inclusive (`utc_bounds`).
* A provider may also offer `collect_periods(periods, store_ids)` returning one `StoreValues`
  per `(start, end)`: the report then asks for its two periods, and the trend for its twelve
  months, in one call, so the statements stay as few as for one period (`reports.services.collect`).

A later module (customer satisfaction, complaints, calibration, training) writes a class like
`repairs.reporting.RepairsProvider` and calls `register(TheProvider())` from its
`reporting.py`, which `providers()` imports (see `PROVIDER_MODULES`).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

import sqlalchemy as sa

from repairqc.db import db

#: Modules whose import registers a provider, in the order their columns appear.
PROVIDER_MODULES = (
    "repairqc.inspections.reporting",
    "repairqc.repairs.reporting",
    "repairqc.equipment.reporting",
    "repairqc.training.reporting",
    "repairqc.feedback.reporting",
    "repairqc.complaints.reporting",
)

#: count: a number of things; percent: a Ratio shown as %; days: a duration; score: 0-100 %.
KINDS = ("count", "percent", "days", "score")


@dataclass(frozen=True)
class Ratio:
    """x of n: a rate kept as its two counts. Its value is None when n is 0 (nothing to rate)."""

    x: int
    n: int

    @property
    def value(self) -> float | None:
        return 100.0 * self.x / self.n if self.n else None


@dataclass(frozen=True)
class Column:
    key: str
    label: Any  # a lazy translatable string
    kind: str
    #: True: more is better; False: less is better; None: neither (a plain count).
    higher_is_better: bool | None = None
    #: The name of a `ServiceTargets` field holding the target, from the standard in force.
    target: str | None = None
    help: Any = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown column kind {self.kind!r}")


@dataclass(frozen=True)
class ControlChart:
    """A p-chart across stores for one percent column (HB §5.2.2 periodic statistical analysis).

    `complement` charts the rate of the *other* outcome: the QC first-pass column gives the
    QC-failure rate (n - x of n).
    """

    key: str
    label: Any
    column: str
    complement: bool = False


StoreValues = dict[int, dict[str, Any]]


class ReportProvider(Protocol):
    key: str
    title: Any
    columns: tuple[Column, ...]
    control_charts: tuple[ControlChart, ...]
    #: Columns drawn in the monthly trend chart.
    trend_columns: tuple[str, ...]

    def collect(self, start: date, end: date, store_ids: Sequence[int]) -> StoreValues:
        """{store_id: {column key: value}} for stores with anything to report; missing = none."""
        ...


_registry: dict[str, ReportProvider] = {}


def register(provider: ReportProvider) -> ReportProvider:
    _registry[provider.key] = provider
    return provider


def providers() -> list[ReportProvider]:
    for module in PROVIDER_MODULES:
        importlib.import_module(module)
    order = {module.rsplit(".", 2)[1]: i for i, module in enumerate(PROVIDER_MODULES)}
    return sorted(_registry.values(), key=lambda p: order.get(p.key, len(order)))


# --- helpers for providers' SQL ---------------------------------------------------------------------


def utc_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, end+1 00:00) in UTC: compare timestamps with >= and <."""
    return (
        datetime.combine(start, time(), tzinfo=UTC),
        datetime.combine(end + timedelta(days=1), time(), tzinfo=UTC),
    )


def is_postgresql() -> bool:
    return db.backend == "postgresql"


def without_jit() -> None:
    """Turn PostgreSQL's JIT compiler off for the rest of this transaction (no-op on SQLite).

    A report statement covering a year of a big tenant is costed above `jit_optimize_above_cost`,
    and PostgreSQL 15 then spends longer compiling it than running it: 1.7 s of 2.4 s for the
    12-month trend at a million orders (docs/benchmarks.md). The statements here are simple
    scans and sums, which the interpreter runs about as fast.
    """
    if is_postgresql():
        db.session.execute(sa.text("SET LOCAL jit = off"))


def days_between(later: sa.ColumnElement, earlier: sa.ColumnElement) -> sa.ColumnElement[float]:
    """`later - earlier` in days (fractional), in SQL on either backend."""
    if is_postgresql():
        return sa.extract("epoch", later - earlier) / 86400.0
    return sa.func.julianday(later) - sa.func.julianday(earlier)


def utc_date(timestamp: sa.ColumnElement) -> sa.ColumnElement:
    """The UTC calendar day of a timestamp column, comparable with a DATE column."""
    if is_postgresql():
        return sa.cast(sa.func.timezone("UTC", timestamp), sa.Date)
    return sa.func.date(timestamp)


def count_if(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    """COUNT(*) FILTER (WHERE condition), written portably as SUM(CASE ...)."""
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def window_median(
    value: sa.ColumnElement,
    partition: Sequence[sa.ColumnElement],
    where: Sequence[sa.ColumnElement[bool]] = (),
) -> sa.Select:
    """`SELECT *partition, median(value) ... GROUP BY partition` for SQLite, which has no
    percentile aggregate: number each partition's rows in order of `value` (a window function)
    and average the one or two middle ones. Rows whose `value` is NULL are left out.

    On PostgreSQL a provider takes `percentile_cont(0.5).within_group(value)` in its own
    aggregate instead, in the same pass as its counts (`repairs.reporting`).
    """
    keys = [column.label(f"key_{i}") for i, column in enumerate(partition)]
    ranked = (
        sa.select(
            *keys,
            value.label("value"),
            sa.func.row_number().over(partition_by=list(partition), order_by=value).label("rn"),
            sa.func.count().over(partition_by=list(partition)).label("cnt"),
        )
        .where(value.is_not(None), *where)
        .subquery("ranked")
    )
    grouped = [ranked.c[key.name] for key in keys]
    return (
        sa.select(*grouped, sa.func.avg(ranked.c.value))
        .where(ranked.c.rn.in_([(ranked.c.cnt + 1) // 2, (ranked.c.cnt + 2) // 2]))
        .group_by(*grouped)
    )
