"""Analytics services against hand-computed numbers (tests/seed_analytics.py lists the orders),
the forecast on synthetic seasonal data, and the charts' and exports' files."""

from __future__ import annotations

import csv
import io
import math
import uuid
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from repairqc.analytics import charts, exports, forecasting, services
from repairqc.analytics.services import (
    Params,
    build_analytics,
    pareto_rows,
    pearson_from_sums,
    week_of,
    week_start,
    weekly_series,
)
from repairqc.db import db
from repairqc.errors import DomainError
from repairqc.reports.services import Period
from tests.conftest import in_tenant
from tests.seed_analytics import MARCH_2024, build_dataset, bulk_weekly_orders


def approx(value, rel=1e-6):
    return pytest.approx(value, rel=rel, abs=1e-9)


@pytest.fixture(autouse=True)
def fresh_weekly_series():
    """Each test's rows are rolled back afterwards: no test may see another's kept series."""
    services.forget_weekly_series()
    yield
    services.forget_weekly_series()


@pytest.fixture
def dataset(app, alpha):
    with in_tenant(app, alpha):
        yield build_dataset(alpha.store_ids["S1"])


def params(dataset, **overrides) -> Params:
    values = {"period": MARCH_2024, "store_ids": (dataset.store_id,), "group_by": "category"}
    values.update(overrides)
    return Params(**values)


# --- descriptive statistics ------------------------------------------------------------------------------


def test_statistics_match_hand_computed_values(dataset):
    result = build_analytics(params(dataset), sections=("statistics",))
    total = result.total.metrics
    # Turnaround 1, 2, 4, 5 days: mean 3, sample variance (4+1+1+4)/3, percentiles interpolated
    # between ranks at (n-1)p: 0.75 -> 1.75, 1.5 -> 3, 2.25 -> 4.25, 2.7 -> 4.7.
    t = total["turnaround"]
    assert t.n == 4 and t.mean == approx(3) and t.variance == approx(10 / 3)
    assert t.sd == approx(math.sqrt(10 / 3))
    assert (t.p25, t.p50, t.p75, t.p90) == (approx(1.75), approx(3), approx(4.25), approx(4.7))
    assert (t.min, t.max) == (approx(1), approx(5))
    # Cost 100, 200 (3 used, 1 returned), 0, 100: sorted 0, 100, 100, 200.
    c = total["cost"]
    assert c.n == 4 and c.mean == approx(100) and c.variance == approx(20000 / 3)
    assert (c.p25, c.p50, c.p75, c.p90) == (approx(75), approx(100), approx(125), approx(170))
    # Price 150, 250, 80; the warranty rework D is left out: mean 160, variance 14600/2.
    p = total["price"]
    assert p.n == 3 and p.mean == approx(160) and p.variance == approx(7300)
    assert (p.p25, p.p50, p.p75, p.p90, p.min, p.max) == tuple(
        approx(v) for v in (115, 150, 200, 230, 80, 250)
    )

    groups = {g.label: g.metrics for g in result.groups}
    assert list(groups) == ["smartphone", "laptop"]  # most orders first
    phones = groups["smartphone"]["turnaround"]  # A, B, D: 1, 2, 5
    assert phones.n == 3 and phones.mean == approx(8 / 3) and phones.variance == approx(13 / 3)
    laptop = groups["laptop"]["turnaround"]
    assert laptop.n == 1 and laptop.mean == approx(4) and laptop.variance is None and laptop.p90 == approx(4)


@pytest.mark.parametrize(
    "group_by, expected",
    [
        ("fault", {"parts-replacement": 2, "software": 1, "board-repair": 1}),
        ("model", {"Brand P1": 3, "Brand L1": 1}),
        ("technician", {"Not assigned": 4}),
    ],
)
def test_group_by_choices(dataset, group_by, expected):
    result = build_analytics(params(dataset, group_by=group_by), sections=("statistics",))
    assert {g.label: g.metrics["turnaround"].n for g in result.groups} == expected


def test_group_by_store_names_the_store_and_the_category_filter_narrows(dataset, alpha):
    result = build_analytics(params(dataset, group_by="store", category="laptop"), sections=("statistics",))
    (group,) = result.groups
    assert alpha.store_sentinel("S1") in group.label and group.metrics["turnaround"].n == 1


def test_unknown_group_and_foreign_forecast_store_are_refused(dataset):
    with pytest.raises(DomainError) as refused:
        params(dataset, group_by="colour")
    assert refused.value.field == "group_by"
    with pytest.raises(DomainError) as refused:
        params(dataset, forecast_store_id=dataset.store_id + 1000)
    assert refused.value.field == "forecast_store"


# --- correlation and Pareto ------------------------------------------------------------------------------


def test_correlations_match_hand_computed_values(dataset):
    result = build_analytics(params(dataset), sections=("correlation",))
    time_cost, parts_rework = result.correlations
    # x = 1, 2, 4, 5; y = 100, 200, 0, 100: Σdxdy = -200, Σdx² = 10, Σdy² = 20000 -> r = -1/√5.
    # Two-sided p with 2 degrees of freedom: 1 - |t|/√(2 + t²), t = r√(2/(1-r²)).
    assert time_cost.n == 4 and time_cost.pearson_r == approx(-1 / math.sqrt(5))
    t = (-1 / math.sqrt(5)) * math.sqrt(2 / (1 - 1 / 5))
    assert time_cost.pearson_p == approx(1 - abs(t) / math.sqrt(2 + t * t))
    # Ranks x 1 2 3 4, y 2.5 4 1 2.5 -> rho = -1.5/√(5·4.5) = -1/√10.
    assert time_cost.sample_n == 4 and time_cost.spearman_rho == approx(-1 / math.sqrt(10))
    assert sorted(result.scatter) == [(1.0, 100.0), (2.0, 200.0), (4.0, 0.0), (5.0, 100.0)]
    # Originals A, B, C: parts 1, 2, 0; reworked 0, 1, 0 -> r = 1/√(4/3) = √3/2; with one degree of
    # freedom (Cauchy) p = 1 - (2/π)·atan(|t|) with t = √3: 1/3.
    assert parts_rework.n == 3 and parts_rework.pearson_r == approx(math.sqrt(3) / 2)
    assert parts_rework.pearson_p == approx(1 / 3)
    assert [(b.parts, b.orders, b.reworked) for b in result.parts_buckets] == [
        (0, 1, 0), (1, 1, 0), (2, 1, 1), (3, 0, 0), (4, 0, 0)
    ]  # fmt: skip


def test_the_sample_is_every_kth_order_id_within_the_cap(dataset, monkeypatch):
    # Cap 2 over the 4 delivered orders: k = 2, the orders with an even id (by id), on both
    # backends (PostgreSQL draws it inside the statistics' statement, SQLite on its own).
    monkeypatch.setattr(services, "SAMPLE_CAP", 2)
    values = {"A": (1.0, 100.0), "B": (2.0, 200.0), "C": (4.0, 0.0), "D": (5.0, 100.0)}
    by_id = sorted((dataset.orders[key].id, pair) for key, pair in values.items())
    expected = [pair for order_id, pair in by_id if order_id % 2 == 0]
    for sections in (("correlation",), ("statistics", "correlation")):
        result = build_analytics(params(dataset), sections=sections)
        assert result.scatter == expected and result.correlations[0].sample_n == 2
        assert result.correlations[0].n == 4  # Pearson's r still counts every order


def test_pearson_is_undefined_for_constant_values_and_small_samples():
    assert pearson_from_sums(2, 3, 3, 5, 5, 5) == (None, None)
    assert pearson_from_sums(3, 3, 6, 6, 3, 14) == (None, None)  # x constant at 1


def test_pareto_orders_largest_first_with_cumulative_share(dataset):
    result = build_analytics(params(dataset), sections=("pareto",))
    # Received in March and diagnosed: parts-replacement A, B, E; board-repair D; software C (F not).
    found = [
        (r.label, r.count, round(r.percent, 6), round(r.cumulative_percent, 6)) for r in result.pareto_faults
    ]
    assert found == [
        ("parts-replacement", 3, 60.0, 60.0), ("board-repair", 1, 20.0, 80.0), ("software", 1, 20.0, 100.0)
    ]  # fmt: skip
    # D is a rework of B: a smartphone parts replacement came back.
    assert [(r.label, r.count, r.cumulative_percent) for r in result.pareto_rework] == [
        ("smartphone · parts-replacement", 1, 100.0)
    ]


def test_pareto_rows_break_ties_by_label_and_skip_zero():
    rows = pareto_rows([("b", 2), ("a", 2), ("c", 4), ("z", 0)])
    assert [(r.label, r.cumulative_percent) for r in rows] == [("c", 50.0), ("a", 75.0), ("b", 100.0)]
    assert pareto_rows([]) == []


# --- forecasts -------------------------------------------------------------------------------------------


def seasonal_series(weeks: int, seed: int = 7) -> list[float]:
    """Two years and more of weekly orders: level 100, trend +0.3 a week, a yearly sine of ±25."""
    rng = np.random.default_rng(seed)
    t = np.arange(weeks)
    return list(100 + 0.3 * t + 25 * np.sin(2 * np.pi * t / 52) + rng.normal(0, 3, weeks))


def test_forecast_of_a_seasonal_series_backtests_within_bounds():
    values = seasonal_series(112)  # two full seasons after the 8 held-out weeks
    result = forecasting.forecast(tuple(values), first_week=date(2023, 1, 2))
    assert result.seasonal and not result.too_short
    assert len(result.predicted) == forecasting.HORIZON and len(result.backtest.predicted) == 8
    assert result.backtest.mape < 6 and result.backtest.smape < 6
    assert result.backtest.mae == approx(np.mean(np.abs(np.array(values[-8:]) - result.backtest.predicted)))
    # The next 8 weeks follow the season: compare with the noise-free curve.
    t = np.arange(112, 120)
    truth = 100 + 0.3 * t + 25 * np.sin(2 * np.pi * t / 52)
    assert np.mean(np.abs(np.array(result.predicted) - truth) / truth) < 0.08
    assert result.forecast_weeks()[0] == date(2023, 1, 2) + timedelta(weeks=112)


def test_a_short_history_is_trend_only_and_too_short_is_said():
    trend_only = forecasting.forecast(tuple(float(20 + i) for i in range(30)), first_week=date(2024, 1, 1))
    assert not trend_only.seasonal and trend_only.predicted[0] == approx(50, rel=0.05)
    too_short = forecasting.forecast(
        tuple([5.0] * (forecasting.MIN_HISTORY_WEEKS - 1)), first_week=date(2024, 1, 1)
    )
    assert too_short.too_short and too_short.backtest is None
    flat = forecasting.forecast(tuple([0.0] * 30), first_week=date(2024, 1, 1))
    assert flat.predicted == (0.0,) * 8 and flat.backtest.mape is None and flat.backtest.smape == 0.0


def test_backtest_errors_by_hand():
    mae, mape, smape = forecasting.errors(np.array([10.0, 0.0, 20.0]), np.array([12.0, 1.0, 20.0]))
    assert mae == approx(1.0) and mape == approx(10.0)  # (2/10 + 0/20) / 2; the zero week left out
    assert smape == approx(100 * (2 / 11 + 1 / 0.5 + 0) / 3)


def test_weekly_series_counts_orders_per_week_up_to_the_period_end(app, alpha):
    with in_tenant(app, alpha):
        store_id = alpha.store_ids["S2"]
        first = week_start(week_of(date(2022, 1, 3)))
        counts = [int(v) for v in np.round(np.array(seasonal_series(112)) / 10)]
        counts[5] = 0  # an empty week stays in the series as 0
        bulk_weekly_orders(store_id, counts, first, "WK")
        # The period ends on the last Sunday of the 112 weeks: all of them are history.
        end = first + timedelta(weeks=112, days=-1)
        p = Params(Period(end - timedelta(days=30), end), (store_id,))
        start, values = weekly_series(p)["volume"]
        assert week_start(start) == first and values == [float(c) for c in counts]
        # A period ending mid-week keeps only the complete weeks.
        p = Params(Period(end - timedelta(days=30), end - timedelta(days=3)), (store_id,))
        assert weekly_series(p)["volume"][1] == [float(c) for c in counts[:-1]]
        result = build_analytics(
            Params(Period(end - timedelta(days=30), end), (store_id,)), sections=("forecast",)
        )
        assert result.forecasts["volume"].seasonal and len(result.forecasts["volume"].predicted) == 8
        assert result.forecasts["cost"].too_short  # no parts were used


def test_weekly_series_are_kept_per_tenant_and_scope_for_a_while(app, alpha, beta, monkeypatch):
    first = week_start(week_of(date(2023, 1, 2)))
    end = first + timedelta(weeks=30, days=-1)

    def seed_and_keep(tenant, weekly: int) -> Params:
        bulk_weekly_orders(tenant.store_ids["S1"], [weekly] * 30, first, "KP")
        p = Params(Period(end - timedelta(days=30), end), (tenant.store_ids["S1"],))
        # Each tenant its own rows, even where the store ids are the same.
        assert services.recent_weekly_series(p)["volume"][1] == [float(weekly)] * 30
        # Another scope of the same tenant is not served the first one's series.
        other = Params(Period(end - timedelta(days=30), end), (tenant.store_ids["S2"],))
        assert services.recent_weekly_series(other)["volume"][1] == []
        return p

    with in_tenant(app, beta):  # beta's series is kept first
        seed_and_keep(beta, 7)
    with in_tenant(app, alpha):
        p = seed_and_keep(alpha, 3)
        # A past week changed (an import): the kept series is served until it is dropped.
        bulk_weekly_orders(alpha.store_ids["S1"], [2], first, "KQ")
        assert services.recent_weekly_series(p)["volume"][1][0] == 3.0
        services.forget_weekly_series()
        assert services.recent_weekly_series(p)["volume"][1][0] == 5.0
        # ... or until it expires.
        monkeypatch.setattr(services, "WEEKLY_SERIES_SECONDS", -1)
        services.forget_weekly_series()
        services.recent_weekly_series(p)
        bulk_weekly_orders(alpha.store_ids["S1"], [1], first, "KR")
        assert services.recent_weekly_series(p)["volume"][1][0] == 6.0


def test_weekly_parts_cost_goes_by_the_week_of_delivery(dataset):
    # A delivered Sat 2 March (100.00), B Tue 5 March (3 used - 1 returned: 200.00), C 9 March
    # (no parts), D Fri 15 March (100.00); March 2024 ends on a Sunday: weeks up to 25-31 March.
    start, values = weekly_series(params(dataset))["cost"]
    assert week_start(start) == date(2024, 2, 26)
    assert values == [approx(100), approx(200), approx(100), 0.0, 0.0]


# --- charts and exports ----------------------------------------------------------------------------------


def test_a_chart_is_drawn_once_for_the_same_inputs(monkeypatch):
    drawn = []
    draw = charts._render_figure
    monkeypatch.setattr(charts, "_render_figure", lambda figure, fmt: drawn.append(fmt) or draw(figure, fmt))
    label = f"cache-{uuid.uuid4().hex}"  # inputs no other test rendered in this process

    def pareto(count: int):
        return charts.pareto_chart(pareto_rows([(label, count), ("b", 1)]), title="T", y_label="Y", empty="-")

    first = charts.render(pareto(3), "svg")
    assert charts.render(pareto(3), "svg") == first and drawn == ["svg"]
    assert charts.render(pareto(4), "svg") != first and drawn == ["svg", "svg"]
    assert charts.render(pareto(3), "png").startswith(b"\x89PNG") and drawn == ["svg", "svg", "png"]


def test_every_chart_renders_as_png_and_svg_and_every_table_exports(dataset, app):
    result = build_analytics(params(dataset))
    for download in exports.DOWNLOADS.values():
        header, rows = download.table(result)
        assert header
        if download.figure is not None:
            png = charts.render(download.figure(result), "png")
            assert png.startswith(b"\x89PNG\r\n\x1a\n")
            svg = charts.render(download.figure(result), "svg")
            root = ET.fromstring(svg)
            assert root.tag.endswith("svg")
        body = exports.to_csv((header, rows)).decode("utf-8-sig")
        assert next(csv.reader(io.StringIO(body))) == header
        sheet = load_workbook(io.BytesIO(exports.to_xlsx((header, rows), "Title", ["Sub"]))).active
        assert [c.value for c in sheet[4]] == header


def test_svg_keeps_text_as_text():
    figure = charts.pareto_chart(
        pareto_rows([("屏幕更换", 3), ("=cmd", 1)]), title="故障类型", y_label="订单", empty="-"
    )
    svg = charts.render(figure, "svg").decode()
    assert "故障类型" in svg and "屏幕更换" in svg  # text, not glyph paths


def test_a_cjk_font_is_found_for_png_labels():
    # Debian's fonts-wqy-microhei is installed here and in CI (the README says so).
    assert charts.cjk_font() is not None


def test_exports_keep_labels_from_becoming_formulas():
    body = exports.to_csv((["Label"], [["=HYPERLINK(1)"], ["-5"], [3]])).decode("utf-8-sig")
    assert body.splitlines()[1:] == ["'=HYPERLINK(1)", "'-5", "3"]


def test_a_cjk_font_installed_after_matplotlib_listed_the_fonts_is_still_found(monkeypatch):
    # CI installs fonts-wqy-microhei; matplotlib's cached font list may predate it.
    from matplotlib import font_manager

    manager = font_manager.fontManager
    assert charts.cjk_font() in charts.CJK_FONTS
    is_cjk = lambda entry: Path(entry.fname).name.lower().startswith(charts.CJK_FONT_FILES)  # noqa: E731
    listed_without_cjk = [entry for entry in manager.ttflist if not is_cjk(entry)]
    assert len(listed_without_cjk) < len(manager.ttflist)
    monkeypatch.setattr(manager, "ttflist", list(listed_without_cjk))
    manager._findfont_cached.cache_clear()
    try:
        assert charts.cjk_font() in charts.CJK_FONTS
        added = manager.ttflist[len(listed_without_cjk) :]  # from the system's font files
        assert added and all(is_cjk(entry) for entry in added)
    finally:
        monkeypatch.undo()
        manager._findfont_cached.cache_clear()


def test_planner_settings_last_for_the_analytics_read_only(app, alpha, statements):
    with in_tenant(app, alpha):
        if db.backend != "postgresql":  # no planner settings there: nothing is sent
            with statements() as seen:
                services.tune_planner()
            assert seen == []
            return
        show = lambda name: db.session.scalar(sa.select(sa.func.current_setting(name)))  # noqa: E731
        before = {name: show(name) for name in services.PLANNER_SETTINGS}
        assert before["work_mem"] != "64MB"
        services.tune_planner()
        assert {name: show(name) for name in services.PLANNER_SETTINGS} == services.PLANNER_SETTINGS
        db.session.rollback()  # SET LOCAL: gone with the transaction
        assert {name: show(name) for name in services.PLANNER_SETTINGS} == before
