"""The cross-store report (HB §5.2.2 "periodic statistical analysis", ch.8 supervision).

For a period and a scope of stores: one row per store from every provider's columns
(`reports.providers`), the average row, a ranking, the change against the previous period of
the same length, p-chart control limits across stores for the providers' rates, and the
monthly trend. Who sees which stores by name is decided here too (`Viewer`), and what one
store's page lists (`store_page`).

All counting happens in the providers' SQL; this module only combines a few numbers per store,
so its time does not grow with the number of orders.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from repairqc.accounts.models import Role
from repairqc.accounts.permissions import Grants
from repairqc.accounts.scoping import scoped_select
from repairqc.db import db, utcnow
from repairqc.errors import DomainError
from repairqc.inspections.models import ActionStatus, CorrectiveAction, Finding, Inspection, RewardPenalty
from repairqc.repairs.models import RepairOrder
from repairqc.repairs.reporting import qc_failed_orders, rework_orders
from repairqc.reports.providers import (
    Column,
    ControlChart,
    Ratio,
    ReportProvider,
    providers,
    utc_bounds,
    without_jit,
)
from repairqc.standards.schema import StandardDocument, SupervisionPolicy
from repairqc.stores.models import Chain, Region, Store

#: The longest period one report covers: a year (a leap year's 366 days).
MAX_PERIOD_DAYS = 366
#: Ranking: by the average inspection score, then by QC first pass, both higher first. The
#: inspection score is HQ's own judgement of the store on the handbook's checklist; QC first
#: pass breaks ties with the store's everyday repair quality.
RANK_BY = ("score_avg", "qc_first_pass")
#: Roles that see every store's row by name.
HQ_READERS = frozenset({Role.OWNER, Role.QA_MANAGER, Role.AUDITOR})
SCOPE_KINDS = {
    "all": _l("All stores"),
    "chain": _l("A chain"),
    "region": _l("A region"),
    "stores": _l("Chosen stores"),
}
PRESETS = {
    "this_month": _l("This month"),
    "last_month": _l("Last month"),
    "this_quarter": _l("This quarter"),
    "last_quarter": _l("Last quarter"),
}


# --- period and scope ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Whole days, both ends included."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period of the same length that ends the day before this one starts."""
        return Period(self.start - timedelta(days=self.days), self.start - timedelta(days=1))

    def label(self) -> str:
        return f"{format_date(self.start)} – {format_date(self.end)}"


def _parse_day(raw: str | None, field_name: str, label: str) -> date:
    raw = (raw or "").strip()
    if not raw:
        raise DomainError(_("Enter the %(what)s date.", what=label), field=field_name)
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise DomainError(
            _("“%(value)s” is not a date (YYYY-MM-DD).", value=raw[:40]), field=field_name
        ) from None


def check_period(start: date, end: date) -> Period:
    for name, day in (("start", start), ("end", end)):
        if not 1900 <= day.year <= 2999:
            raise DomainError(_("Choose a date between 1900 and 2999."), field=name)
    if end < start:
        raise DomainError(
            _("The period ends before it starts: choose an end on or after the start."), field="end"
        )
    period = Period(start, end)
    if period.days > MAX_PERIOD_DAYS:
        raise DomainError(
            _(
                "A report covers at most %(days)s days; this period has %(n)s.",
                days=MAX_PERIOD_DAYS,
                n=period.days,
            ),
            field="end",
        )
    return period


def parse_period(start_raw: str | None, end_raw: str | None) -> Period:
    """The period typed into the form, or a DomainError naming the field."""
    return check_period(_parse_day(start_raw, "start", _("start")), _parse_day(end_raw, "end", _("end")))


def _month_start(day: date, months_back: int = 0) -> date:
    index = day.year * 12 + day.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def _month_end(first: date) -> date:
    return _month_start(first, -1) - timedelta(days=1)


def preset_period(name: str, today: date) -> Period:
    """This/last month or quarter; "this" ones end today, not in the future."""
    if name in ("this_month", "last_month"):
        first = _month_start(today, 0 if name == "this_month" else 1)
        return Period(first, today if name == "this_month" else _month_end(first))
    quarter_first = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    if name == "this_quarter":
        return Period(quarter_first, today)
    first = _month_start(quarter_first, 3)
    return Period(first, quarter_first - timedelta(days=1))


@dataclass(frozen=True)
class Scope:
    kind: str = "all"
    ids: tuple[int, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "ids": list(self.ids)}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Scope:
        data = data or {}
        return cls(str(data.get("kind", "all")), tuple(int(i) for i in data.get("ids", [])))


def check_scope(scope: Scope) -> Scope:
    """The scope with its ids checked against the tenant's chains, regions or stores."""
    if scope.kind not in SCOPE_KINDS:
        raise DomainError(_("Choose which stores the report covers."), field="scope")
    if scope.kind == "all":
        return Scope("all")
    model = {"chain": Chain, "region": Region, "stores": Store}[scope.kind]
    if not scope.ids:
        raise DomainError(_("Choose at least one: %(what)s.", what=model.__label__), field=scope.kind)
    found = set(db.session.execute(sa.select(model.id).where(model.id.in_(scope.ids))).scalars())
    if found != set(scope.ids):
        raise DomainError(_("Choose from the list: %(what)s.", what=model.__label__), field=scope.kind)
    return Scope(scope.kind, tuple(sorted(found)))


def scope_stores(scope: Scope) -> list[Store]:
    statement = sa.select(Store).order_by(Store.code)
    if scope.kind == "chain":
        statement = statement.where(Store.chain_id.in_(scope.ids))
    elif scope.kind == "region":
        statement = statement.where(Store.region_id.in_(scope.ids))
    elif scope.kind == "stores":
        statement = statement.where(Store.id.in_(scope.ids))
    else:
        statement = statement.where(Store.is_active.is_(True))
    return list(db.session.execute(statement).scalars())


def describe_scope(scope: Scope) -> str:
    if scope.kind == "all":
        return str(SCOPE_KINDS["all"])
    model = {"chain": Chain, "region": Region, "stores": Store}[scope.kind]
    names = db.session.execute(sa.select(model.code).where(model.id.in_(scope.ids)).order_by(model.code))
    return f"{SCOPE_KINDS[scope.kind]}: {', '.join(names.scalars())}"


# --- who sees what --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Viewer:
    """Stores the reader sees by name and may open (None: all); `may_read` false: no report."""

    named_stores: frozenset[int] | None
    may_read: bool = True
    #: Stores whose page the reader may open; league tables name more stores, never link more.
    linked_stores: frozenset[int] | None = None

    @classmethod
    def of(cls, grants: Grants) -> Viewer:
        if grants.tenant_roles & HQ_READERS:
            return cls(None)
        managed = frozenset(s for s, roles in grants.store_roles.items() if Role.STORE_MANAGER in roles)
        return cls(managed, may_read=bool(managed), linked_stores=managed)

    def with_league_tables(self, policy: SupervisionPolicy) -> Viewer:
        """League tables on (HB §8.3.4 comparison between stores): every store by name."""
        if policy.league_tables and self.may_read:
            return Viewer(None, True, self.linked_stores)
        return self

    def named(self, store_id: int) -> bool:
        return self.named_stores is None or store_id in self.named_stores

    def linked(self, store_id: int) -> bool:
        return self.linked_stores is None or store_id in self.linked_stores


HQ_VIEWER = Viewer(None)


def document_on(day: date) -> StandardDocument | None:
    """The standards document in force on `day`, or None before the first one."""
    from repairqc.standards.services import document_in_force

    return document_in_force(day)


def supervision_policy(day: date) -> SupervisionPolicy:
    document = document_on(day)
    return document.supervision if document is not None else SupervisionPolicy()


# --- the report -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportColumn:
    provider: ReportProvider
    column: Column
    target: float | None

    @property
    def key(self) -> str:
        return self.column.key


@dataclass
class Cell:
    value: float | None
    ratio: Ratio | None = None
    change: float | None = None
    #: "miss": misses the standard's target; "above": above the upper control limit; "below":
    #: below the lower one (for a QC-failure chart on the first-pass column: the failure rate).
    flags: set[str] = field(default_factory=set)


@dataclass
class Row:
    store_id: int | None  # None: the average row, or a store the reader may not see by name
    code: str
    name: str
    named: bool
    linked: bool
    cells: dict[str, Cell]
    rank: int | None = None
    #: Control chart key -> this store's point and limits.
    limits: dict[str, StoreLimit] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.code} {self.name}".strip()


@dataclass
class StoreLimit:
    x: int
    n: int
    p: float
    ucl: float
    lcl: float

    @property
    def outside(self) -> str | None:
        if self.p > self.ucl:
            return "above"
        if self.p < self.lcl:
            return "below"
        return None


@dataclass
class Limits:
    chart: ControlChart
    p_bar: float | None
    #: store id -> point; emptied once the rows carry their points (`Row.limits`).
    stores: dict[int, StoreLimit]
    outside: int = 0


@dataclass
class Report:
    period: Period
    previous: Period
    scope: Scope
    scope_label: str
    columns: list[ReportColumn]
    rows: list[Row]
    average: Row
    limits: list[Limits]
    generated_at: datetime
    all_named: bool
    #: The scope's stores, by id, for the trend (`monthly_trend`); never shown: an anonymised
    #: row must not be traceable.
    store_ids: tuple[int, ...] = ()

    @property
    def groups(self) -> list[tuple[Any, list[ReportColumn]]]:
        out: list[tuple[Any, list[ReportColumn]]] = []
        for column in self.columns:
            if not out or out[-1][0] is not column.provider.title:
                out.append((column.provider.title, []))
            out[-1][1].append(column)
        return out


def report_columns(document: StandardDocument | None) -> list[ReportColumn]:
    targets = document.service_targets if document is not None else None
    return [
        ReportColumn(
            provider,
            column,
            float(getattr(targets, column.target)) if targets is not None and column.target else None,
        )
        for provider in providers()
        for column in provider.columns
    ]


def collect(periods: Sequence[Period], store_ids: Sequence[int]) -> list[dict[int, dict[str, Any]]]:
    """Every provider's values for the stores, merged per store, one dict per period. A provider
    with `collect_periods` answers all the periods in one go (one statement per query it has,
    whatever the number of periods); the others are asked period by period."""
    merged: list[dict[int, dict[str, Any]]] = [{sid: {} for sid in store_ids} for _ in periods]
    without_jit()
    spans = [(p.start, p.end) for p in periods]
    for provider in providers():
        if hasattr(provider, "collect_periods"):
            answers = provider.collect_periods(spans, list(store_ids))
        else:
            answers = [provider.collect(start, end, list(store_ids)) for start, end in spans]
        for into, answer in zip(merged, answers, strict=True):
            for sid, values in answer.items():
                into.setdefault(sid, {}).update(values)
    return merged


def _cell(column: Column, raw: Any) -> Cell:
    if isinstance(raw, Ratio):
        return Cell(raw.value, raw)
    if raw is None and column.kind == "count":
        return Cell(0.0)
    if raw is None and column.kind == "percent":
        return Cell(None, Ratio(0, 0))
    return Cell(None if raw is None else float(raw))


def average_cells(columns: Iterable[ReportColumn], per_store: Iterable[dict[str, Cell]]) -> dict[str, Cell]:
    """The average row: rates pooled over the stores (Σx / Σn, so a big store weighs more, as
    in the p-chart's centre line); counts, days and scores the mean of the stores' values."""
    per_store = list(per_store)
    out: dict[str, Cell] = {}
    for rc in columns:
        cells = [cells[rc.key] for cells in per_store if rc.key in cells]
        if rc.column.kind == "percent":
            ratio = Ratio(sum(c.ratio.x for c in cells if c.ratio), sum(c.ratio.n for c in cells if c.ratio))
            out[rc.key] = Cell(ratio.value, ratio)
        else:
            present = [c.value for c in cells if c.value is not None]
            out[rc.key] = Cell(sum(present) / len(present) if present else None)
    return out


def control_limits(chart: ControlChart, counts: dict[int, Ratio]) -> Limits:
    """p-chart with limits per store (HB §5.2.2): p̄ = Σx / Σn over the stores; each store's
    limits p̄ ± 3·√(p̄(1 - p̄) / nᵢ), the lower one floored at 0 (and the upper capped at 1).
    Stores with no cases (n = 0) have no point."""
    if chart.complement:
        counts = {sid: Ratio(r.n - r.x, r.n) for sid, r in counts.items()}
    total_x = sum(r.x for r in counts.values())
    total_n = sum(r.n for r in counts.values())
    if not total_n:
        return Limits(chart, None, {})
    p_bar = total_x / total_n
    stores = {}
    for sid, ratio in counts.items():
        if not ratio.n:
            continue
        sigma = math.sqrt(p_bar * (1 - p_bar) / ratio.n)
        stores[sid] = StoreLimit(
            ratio.x, ratio.n, ratio.x / ratio.n, min(1.0, p_bar + 3 * sigma), max(0.0, p_bar - 3 * sigma)
        )
    return Limits(chart, p_bar, stores)


def _rank_key(row: Row) -> tuple:
    key: list[Any] = []
    for column in RANK_BY:
        cell = row.cells.get(column)
        value = cell.value if cell is not None else None
        key += [value is None, -(value or 0.0)]
    return (*key, row.code)


def _misses(rc: ReportColumn, value: float | None, store_targets: dict[str, float]) -> bool:
    """Whether `value` misses the column's target as it stands for the store: the standard's,
    unless the store's chain or the store itself overrides it (HB §5.2)."""
    if rc.target is None or value is None or rc.column.higher_is_better is None:
        return False
    target = store_targets.get(rc.column.target, rc.target)
    return value < target if rc.column.higher_is_better else value > target


def _store_targets(document: StandardDocument | None, stores: Sequence[Store]) -> dict[int, dict[str, float]]:
    from repairqc.standards.services import targets_by_store

    return targets_by_store(document, stores) if document is not None else {}


def build_report(
    period: Period,
    scope: Scope,
    viewer: Viewer = HQ_VIEWER,
    *,
    compare: bool = True,
    document: StandardDocument | None = None,
) -> Report:
    """One row per store in `scope`, ranked; the stores `viewer` may not name are anonymised
    (no code, name, id or link), which also hides their order in the store list."""
    if document is None:  # the targets in force at the period's end; before the first standard, today's
        document = document_on(period.end) or document_on(utcnow().date())
    columns = report_columns(document)
    stores = scope_stores(scope)
    ids = [s.id for s in stores]
    store_targets = _store_targets(document, stores)
    current, before = (
        collect([period, period.previous()], ids) if compare else (collect([period], ids)[0], {})
    )
    rows: list[Row] = []
    for store in stores:
        cells = {rc.key: _cell(rc.column, current.get(store.id, {}).get(rc.key)) for rc in columns}
        if compare:
            for rc in columns:
                old = _cell(rc.column, before.get(store.id, {}).get(rc.key)).value
                new = cells[rc.key].value
                cells[rc.key].change = None if old is None or new is None else new - old
        for rc in columns:
            if _misses(rc, cells[rc.key].value, store_targets.get(store.id, {})):
                cells[rc.key].flags.add("miss")
        named = viewer.named(store.id)
        rows.append(
            Row(
                store.id if named else None,
                store.code if named else "",
                store.name if named else str(_("Another store")),
                named,
                linked=named and viewer.linked(store.id),
                cells=cells,
            )
        )
    average = Row(None, "", str(_("Average")), True, False, average_cells(columns, (r.cells for r in rows)))
    if compare:
        previous_average = average_cells(
            columns,
            ({rc.key: _cell(rc.column, before.get(s.id, {}).get(rc.key)) for rc in columns} for s in stores),
        )
        for key, cell in average.cells.items():
            old = previous_average[key].value
            cell.change = None if old is None or cell.value is None else cell.value - old
    limits = []
    by_store = dict(zip(ids, rows, strict=True))
    for provider in providers():
        for chart in provider.control_charts:
            counts = {sid: row.cells[chart.column].ratio or Ratio(0, 0) for sid, row in by_store.items()}
            chart_limits = control_limits(chart, counts)
            limits.append(chart_limits)
            for sid, limit in chart_limits.stores.items():
                by_store[sid].limits[chart.key] = limit
                if limit.outside:
                    by_store[sid].cells[chart.column].flags.add(limit.outside)
            # Store ids stay off the report: an anonymised row must not be traceable.
            chart_limits.outside = sum(1 for limit in chart_limits.stores.values() if limit.outside)
            chart_limits.stores = {}
    rows.sort(key=_rank_key)
    for rank, row in enumerate(rows, start=1):
        row.rank = rank
    return Report(
        period,
        period.previous(),
        scope,
        describe_scope(scope),
        columns,
        rows,
        average,
        limits,
        utcnow(),
        all_named=viewer.named_stores is None,
        store_ids=tuple(sorted(ids)),
    )


# --- trends ---------------------------------------------------------------------------------------------


@dataclass
class TrendPoint:
    month: date
    values: dict[str, float | None]


def trend_keys() -> list[tuple[str, Any]]:
    columns = {rc.key: rc.column for rc in report_columns(None)}
    return [(key, columns[key].label) for p in providers() for key in p.trend_columns]


def trend_title(end: date) -> str:
    """The trend chart's title: the 12 months up to the period's end, whichever period it is."""
    return _("Trend over the 12 months to %(month)s (%%)", month=format_date(end, "MMMM yyyy"))


def monthly_trend(end: date, store_ids: Sequence[int], months: int = 12) -> list[TrendPoint]:
    """The trend columns month by month over the `months` months up to `end`'s month, the
    stores pooled as in the average row. All the months in one provider call."""
    columns = report_columns(None)
    wanted = {key for key, _label in trend_keys()}
    chosen = [rc for rc in columns if rc.key in wanted]
    firsts = [_month_start(end, back) for back in range(months - 1, -1, -1)]
    per_month = collect([Period(first, min(_month_end(first), end)) for first in firsts], store_ids)
    points = []
    for first, values in zip(firsts, per_month, strict=True):
        cells = average_cells(
            chosen, ({rc.key: _cell(rc.column, v.get(rc.key)) for rc in chosen} for v in values.values())
        )
        points.append(TrendPoint(first, {key: cell.value for key, cell in cells.items()}))
    return points


# --- one store's page (HB §8.3.4) -------------------------------------------------------------------------

#: Rows listed per table on a store's page; the generated admin lists the rest.
STORE_PAGE_LIMIT = 100


@dataclass
class StorePage:
    """A store's row and trend for a period, and the records behind them, each list limited
    to `STORE_PAGE_LIMIT` rows and to what the reader may see (`scoped_select`)."""

    report: Report
    trend: list[TrendPoint]
    #: Submitted or due in the period, whatever their status now (a returned one shows too).
    inspections: list[Inspection]
    #: Not yet verified by QA, whenever raised.
    actions: list[CorrectiveAction]
    #: The findings of those actions, by id.
    findings: dict[int, Finding]
    #: Rewards and penalties decided in the period.
    rewards: list[RewardPenalty]
    #: Delivered in the period after a QC check failed: the orders "QC first pass" counts against.
    qc_failed: list[RepairOrder]
    #: Warranty reworks received in the period: the numerator of the rework rate.
    reworks: list[RepairOrder]

    @property
    def row(self) -> Row:
        return self.report.rows[0]


def store_page(store: Store, period: Period) -> StorePage:
    """The store's page: its report row (HQ's view: the reader may open the store), the trend,
    and the lists behind the numbers, with the providers' own definitions for the orders."""
    report = build_report(period, Scope("stores", (store.id,)))
    low, high = utc_bounds(period.start, period.end)

    def listed(statement: sa.Select) -> list[Any]:
        return list(db.session.execute(statement.limit(STORE_PAGE_LIMIT)).scalars())

    i = Inspection
    inspections = listed(
        scoped_select(i)
        .where(
            i.store_id == store.id,
            sa.or_(
                sa.and_(i.submitted_at >= low, i.submitted_at < high),
                sa.and_(i.due_on >= period.start, i.due_on <= period.end),
            ),
        )
        .order_by(i.due_on.desc(), i.id.desc())
    )
    a = CorrectiveAction
    actions = listed(
        scoped_select(a)
        .where(a.store_id == store.id, a.status != ActionStatus.VERIFIED)
        .order_by(a.due_on, a.id)
    )
    finding_ids = {action.finding_id for action in actions}
    findings = {
        f.id: f
        for f in db.session.execute(scoped_select(Finding).where(Finding.id.in_(finding_ids))).scalars()
    }
    r = RewardPenalty
    rewards = listed(
        scoped_select(r)
        .where(r.store_id == store.id, r.decided_on >= period.start, r.decided_on <= period.end)
        .order_by(r.decided_on.desc(), r.id.desc())
    )
    o = RepairOrder
    qc_failed = listed(
        scoped_select(o).where(o.store_id == store.id, *qc_failed_orders(low, high)).order_by(o.id.desc())
    )
    reworks = listed(
        scoped_select(o).where(o.store_id == store.id, *rework_orders(low, high)).order_by(o.id.desc())
    )
    return StorePage(
        report,
        monthly_trend(period.end, report.store_ids),
        inspections,
        actions,
        findings,
        rewards,
        qc_failed,
        reworks,
    )


# --- formatting shared by the page and the exports --------------------------------------------------------


def format_value(column: Column, value: float | None, *, average: bool = False) -> str:
    if value is None:
        return "–"
    if column.kind == "count":
        return f"{value:.1f}" if average and value != int(value) else f"{value:.0f}"
    if column.kind == "percent":
        return f"{value:.1f} %"
    if column.kind == "days":
        return f"{value:.2f}"
    return f"{value:.1f}"


def format_change(column: Column, change: float | None) -> str:
    if change is None:
        return ""
    if column.kind == "percent":
        return _("%(change)s pp", change=f"{change:+.1f}")  # percentage points
    return f"{change:+.1f}"


def change_verdict(column: Column, change: float | None) -> str | None:
    """ "better", "worse" or None for a change, by the column's direction."""
    if change is None or abs(change) < 1e-9 or column.higher_is_better is None:
        return None
    return "better" if (change > 0) == column.higher_is_better else "worse"
