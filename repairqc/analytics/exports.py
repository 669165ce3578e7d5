"""Downloads of the analytics page: each chart as PNG and SVG, each chart's numbers (and the
statistics table) as CSV and XLSX, in the reader's language.

`DOWNLOADS` names every download: the section of `services.build_analytics` it needs, how to
draw its figure (None: a table only) and how to tabulate its numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from openpyxl.styles import Font

from repairqc.analytics import charts
from repairqc.analytics.forecasting import HORIZON, MIN_HISTORY_WEEKS, Forecast
from repairqc.analytics.services import (
    GROUP_BYS,
    METRICS,
    PARTS_BUCKETS,
    SAMPLE_CAP,
    Analytics,
    ParetoRow,
    Summary,
)
from repairqc.spreadsheets import CSV_BOM, inert

Table = tuple[list[str], list[list[Any]]]
TABLE_FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


# --- tables ---------------------------------------------------------------------------------------------


def statistics_table(analytics: Analytics) -> Table:
    names = {
        "n": "n", "mean": _("Mean"), "variance": _("Variance"), "sd": _("Standard deviation"),
        "p25": "P25", "p50": _("Median (P50)"), "p75": "P75", "p90": "P90", "min": _("Minimum"),
        "max": _("Maximum"),
    }  # fmt: skip
    header = [str(GROUP_BYS[analytics.params.group_by]), _("Measure")] + [names[f] for f in Summary.FIELDS]
    rows = []
    for group in [*analytics.groups, analytics.total]:
        for metric in METRICS:
            summary = group.metrics[metric.key]
            rows.append([group.label, str(metric.label), *(_round(v) for v in summary.values())])
    return header, rows


def correlation_table(analytics: Analytics) -> Table:
    header = [_("Pair"), "n", _("Pearson r"), _("Pearson p-value"), _("Sample n"), _("Spearman rho"),
              _("Spearman p-value")]  # fmt: skip
    rows = [
        [str(c.title), c.n, _round(c.pearson_r), _round(c.pearson_p, 6), c.sample_n, _round(c.spearman_rho),
         _round(c.spearman_p, 6)]
        for c in analytics.correlations
    ]  # fmt: skip
    return header, rows


def scatter_table(analytics: Analytics) -> Table:
    return [_("Turnaround (days)"), _("Repair cost (parts)")], [
        [_round(x), _round(y, 2)] for x, y in analytics.scatter
    ]


def parts_rework_table(analytics: Analytics) -> Table:
    header = [_("Parts used"), _("Orders"), _("Reworked"), _("Rework rate (%)")]
    rows = [
        [_("%(n)s or more", n=b.parts) if b.parts == PARTS_BUCKETS else b.parts, b.orders, b.reworked,
         _round(b.rate, 2)]
        for b in analytics.parts_buckets
    ]  # fmt: skip
    return header, rows


def pareto_table(rows: list[ParetoRow], what: str) -> Table:
    header = [what, _("Orders"), _("Share (%)"), _("Cumulative share (%)")]
    return header, [
        [row.label, row.count, _round(row.percent, 2), _round(row.cumulative_percent, 2)] for row in rows
    ]


def forecast_table(result: Forecast | None) -> Table:
    header = [_("Week starting"), _("Actual"), _("Backtest forecast"), _("Forecast")]
    if result is None:
        return header, []
    rows: list[list[Any]] = []
    weeks = result.history_weeks()
    backtest = result.backtest.predicted if result.backtest else ()
    offset = len(weeks) - len(backtest)
    for i, (week, value) in enumerate(zip(weeks, result.history, strict=True)):
        rows.append([week, _round(value, 2), _round(backtest[i - offset], 2) if i >= offset else None, None])
    if not result.too_short:
        rows += [
            [week, None, None, _round(value, 2)]
            for week, value in zip(result.forecast_weeks(), result.predicted, strict=True)
        ]
    return header, rows


# --- figures --------------------------------------------------------------------------------------------


def _no_data() -> str:
    return _("No orders match the period and filters.")


def scatter_figure(analytics: Analytics) -> charts.Chart:
    n = next((c.n for c in analytics.correlations if c.key == "time_cost"), 0)
    return charts.scatter_chart(
        analytics.scatter,
        title=_("Repair time against repair cost"),
        x_label=_("Turnaround (days)"),
        y_label=_("Repair cost (parts)"),
        note=_("%(shown)s of %(n)s orders shown (every k-th order, at most %(cap)s).",
               shown=len(analytics.scatter), n=n, cap=SAMPLE_CAP),
        empty=_no_data(),
    )  # fmt: skip


def parts_rework_figure(analytics: Analytics) -> charts.Chart:
    return charts.parts_rework_chart(
        analytics.parts_buckets,
        title=_("Rework rate by parts used"),
        x_label=_("Parts used"),
        y_label=_("Came back under warranty"),
        more=_("%(n)s or more", n=PARTS_BUCKETS),
        empty=_no_data(),
    )


def pareto_figure(rows: list[ParetoRow], title: str) -> charts.Chart:
    return charts.pareto_chart(rows, title=title, y_label=_("Orders"), empty=_no_data())


def too_short_message() -> str:
    return _(
        "Not enough history for a forecast: it needs at least %(weeks)s complete weeks with orders "
        "(%(fit)s to fit and %(horizon)s held out to test it).",
        weeks=MIN_HISTORY_WEEKS,
        fit=MIN_HISTORY_WEEKS - HORIZON,
        horizon=HORIZON,
    )


def forecast_title(key: str) -> str:
    if key == "volume":
        return _("Orders received per week: the next %(weeks)s weeks", weeks=HORIZON)
    return _("Parts cost per week: the next %(weeks)s weeks", weeks=HORIZON)


def forecast_figure(analytics: Analytics, key: str) -> charts.Chart:
    result = analytics.forecasts.get(key) or Forecast(analytics.params.period.end, ())
    return charts.forecast_chart(
        result,
        title=forecast_title(key),
        y_label=_("Orders") if key == "volume" else _("Parts cost"),
        history_label=_("Actual"),
        forecast_label=_("Forecast"),
        backtest_label=_("Backtest (last %(weeks)s weeks held out)", weeks=HORIZON),
        empty=too_short_message(),
    )


@dataclass(frozen=True)
class Download:
    section: str
    title: Any
    table: Callable[[Analytics], Table]
    figure: Callable[[Analytics], charts.Chart] | None = None


DOWNLOADS: dict[str, Download] = {
    "statistics": Download("statistics", _l("Descriptive statistics"), statistics_table),
    "correlation": Download("correlation", _l("Correlation"), correlation_table),
    "scatter": Download("correlation", _l("Repair time against repair cost"), scatter_table, scatter_figure),
    "parts_rework": Download(
        "correlation", _l("Rework rate by parts used"), parts_rework_table, parts_rework_figure
    ),
    "pareto_faults": Download(
        "pareto",
        _l("Pareto of fault types"),
        lambda a: pareto_table(a.pareto_faults, _("Fault type")),
        lambda a: pareto_figure(a.pareto_faults, _("Pareto of fault types")),
    ),
    "pareto_rework": Download(
        "pareto",
        _l("Pareto of rework causes"),
        lambda a: pareto_table(a.pareto_rework, _("Rework cause")),
        lambda a: pareto_figure(a.pareto_rework, _("Pareto of rework causes")),
    ),
    "forecast_volume": Download(
        "forecast", _l("Forecast of orders"), lambda a: forecast_table(a.forecasts.get("volume")),
        lambda a: forecast_figure(a, "volume"),
    ),
    "forecast_cost": Download(
        "forecast", _l("Forecast of parts cost"), lambda a: forecast_table(a.forecasts.get("cost")),
        lambda a: forecast_figure(a, "cost"),
    ),
}  # fmt: skip


# --- files ----------------------------------------------------------------------------------------------


def to_csv(table: Table) -> bytes:
    """UTF-8 with a byte-order mark, so spreadsheet programs read Chinese correctly."""
    header, rows = table
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if value is None else inert(value) for value in row])
    return (CSV_BOM + out.getvalue()).encode("utf-8")


def to_xlsx(table: Table, title: str, subtitle: list[str]) -> bytes:
    """Numbers stay numbers (and dates dates), so a spreadsheet computes with them."""
    header, rows = table
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "".join(ch for ch in title if ch not in "[]:*?/\\")[:31] or "Sheet"
    sheet.append([title])
    sheet["A1"].font = Font(bold=True, size=14)
    for line in subtitle:
        sheet.append([line])
    sheet.append([])
    sheet.append(header)
    header_row = sheet.max_row
    for cell in sheet[header_row]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([inert(value) for value in row])
    sheet.freeze_panes = sheet.cell(header_row + 1, 1)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
