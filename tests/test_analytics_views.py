"""The analytics screen: who sees which stores, tenant isolation, bad input, downloads read
back (PNG, SVG, CSV, XLSX) and logged, the page in Chinese."""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET

import pytest
from openpyxl import load_workbook

from repairqc.analytics import services as analytics_services
from repairqc.analytics import views as analytics_views
from repairqc.db import db
from repairqc.stores.models import Store
from tests.conftest import in_tenant, sign_in
from tests.seed_analytics import build_dataset

PAGE = "/admin/analytics/"
MARCH = "?start=2024-03-01&end=2024-03-31"


def url(tenant, path: str = PAGE) -> str:
    return f"http://{tenant.host}{path}"


def total_n(html: str, metric: str = "turnaround") -> int:
    """The n of the "All orders" row of the statistics table."""
    row = re.search(
        r'<tr data-testid="stats-row" class="font-weight-bold" data-total="1">.*?</tr>', html, re.S
    )
    return int(re.search(rf'data-metric="{metric}" data-n="(\d+)"', row.group(0)).group(1))


@pytest.fixture(autouse=True)
def fresh_weekly_series():
    """Each test's rows are rolled back afterwards: no test may see another's kept series."""
    analytics_services.forget_weekly_series()
    yield
    analytics_services.forget_weekly_series()


@pytest.fixture
def both_stores(app, alpha):
    """The dataset in each of alpha's stores (4 delivered orders each in March 2024)."""
    with in_tenant(app, alpha):
        build_dataset(alpha.store_ids["S1"], "AN1")
        build_dataset(alpha.store_ids["S2"], "AN2")
        db.session.commit()


@pytest.fixture
def downloads_logged(monkeypatch):
    logged = []
    monkeypatch.setattr(analytics_views, "log_data_access", lambda *a, **k: logged.append((a, k)))
    return logged


# --- who sees what ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["qa", "owner", "auditor"])
def test_hq_analyses_every_store(app, client, alpha, both_stores, user):
    sign_in(client, alpha, user)
    response = client.get(url(alpha, PAGE + MARCH))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert total_n(html) == 8 and total_n(html, "price") == 6
    assert alpha.store_sentinel("S1") in html and alpha.store_sentinel("S2") in html
    assert 'data-testid="correlation-time_cost"' in html and "data:image/svg+xml;base64," in html
    assert html.count('class="analytics-chart"') == 6
    assert "How the numbers are counted" in html


def test_a_store_manager_analyses_only_own_stores(app, client, alpha, both_stores):
    sign_in(client, alpha, "manager")  # store manager of S1
    s1, s2 = alpha.store_ids["S1"], alpha.store_ids["S2"]
    html = client.get(url(alpha, PAGE + MARCH)).get_data(as_text=True)
    assert total_n(html) == 4
    assert alpha.store_sentinel("S1") in html and alpha.store_sentinel("S2") not in html
    # The region holds both stores: narrowed to the manager's own.
    with in_tenant(app, alpha):
        region_id = db.session.get(Store, s1).region_id
    region = client.get(url(alpha, PAGE + MARCH + f"&scope=region&region={region_id}&group_by=store"))
    assert region.status_code == 200 and total_n(region.get_data(as_text=True)) == 4
    # Another store cannot be picked, for the statistics, the forecast or a download.
    for query in (f"&scope=stores&stores={s2}", f"&forecast_store={s2}"):
        refused = client.get(url(alpha, PAGE + MARCH + query))
        assert refused.status_code == 400 and alpha.store_sentinel("S2") not in refused.get_data(as_text=True)
        assert client.get(url(alpha, PAGE + "download/statistics.csv" + MARCH + query)).status_code == 400
    exported = client.get(url(alpha, PAGE + "download/statistics.csv" + MARCH + "&group_by=store"))
    body = exported.get_data(as_text=True)
    assert alpha.store_sentinel("S1") in body and alpha.store_sentinel("S2") not in body


@pytest.mark.parametrize("user", ["tech", "frontdesk", "inspector", "trainer"])
def test_other_roles_are_refused(client, alpha, user):
    sign_in(client, alpha, user)
    assert client.get(url(alpha)).status_code == 403
    assert client.get(url(alpha, PAGE + "download/scatter.png")).status_code == 403


def test_signed_out_goes_to_the_sign_in(client, alpha):
    response = client.get(url(alpha))
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_tenants_never_see_each_others_orders(app, client, alpha, beta):
    with in_tenant(app, alpha):
        build_dataset(alpha.store_ids["S1"], "ISO")
        db.session.commit()
    with in_tenant(app, beta):
        for name in ("S1", "S2"):
            build_dataset(beta.store_ids[name], f"ISO{name}")
        db.session.commit()
    sign_in(client, alpha, "qa")
    html = client.get(url(alpha, PAGE + MARCH + "&group_by=store")).get_data(as_text=True)
    assert total_n(html) == 4 and beta.sentinel not in html
    body = client.get(url(alpha, PAGE + "download/pareto_faults.csv" + MARCH)).get_data(as_text=True)
    assert list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))[1][:2] == ["parts-replacement", "3"]
    client.get("/logout", base_url=url(alpha))
    sign_in(client, beta, "qa")
    html = client.get(url(beta, PAGE + MARCH + "&group_by=store")).get_data(as_text=True)
    assert total_n(html) == 8 and alpha.sentinel not in html


# --- bad input -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query, message",
    [
        ("?start=yesterday&end=2024-03-31", "Not a valid date value."),
        ("?start=2024-03-31&end=2024-03-01", "The period ends before it starts"),
        ("?start=2020-01-01&end=2024-03-31", "at most 366 days"),
        ("?start=2024-03-01&end=2024-03-31&group_by=colour", "Not a valid choice"),
        ("?start=2024-03-01&end=2024-03-31&scope=stores", "Choose at least one"),
        ("?start=2024-03-01&end=2024-03-31&scope=region&region=abc", "Not a valid choice"),
        ("?start=2024-03-01&end=2024-03-31&scope=stores&stores=99999999999", "Not a valid choice"),
        ("?start=2024-03-01&end=2024-03-31&scope=galaxy", "Not a valid choice"),
        ("?start=&end=2024-03-31", "Enter the start date."),
    ],
)
def test_bad_parameters_show_the_form_with_a_message(client, alpha, query, message):
    sign_in(client, alpha, "qa")
    for path in (PAGE, PAGE + "download/scatter.svg"):
        response = client.get(url(alpha, path + query))
        html = response.get_data(as_text=True)
        assert response.status_code == 400, path
        assert message.lower() in html.lower() and 'data-testid="analytics-form"' in html
        assert 'data-testid="statistics-table"' not in html


def test_unknown_downloads_are_not_found(client, alpha):
    sign_in(client, alpha, "qa")
    assert client.get(url(alpha, PAGE + "download/secrets.csv")).status_code == 404
    assert client.get(url(alpha, PAGE + "download/scatter.pdf")).status_code == 404
    assert client.get(url(alpha, PAGE + "download/statistics.png")).status_code == 404  # a table only


# --- downloads -------------------------------------------------------------------------------------------


def test_downloads_read_back_and_are_logged(app, client, alpha, both_stores, downloads_logged):
    sign_in(client, alpha, "qa")
    png = client.get(url(alpha, PAGE + "download/scatter.png" + MARCH))
    assert png.status_code == 200 and png.content_type == "image/png"
    assert png.get_data().startswith(b"\x89PNG\r\n\x1a\n")
    assert "attachment" in png.headers["Content-Disposition"]
    svg = client.get(url(alpha, PAGE + "download/pareto_rework.svg" + MARCH))
    root = ET.fromstring(svg.get_data())
    assert svg.content_type == "image/svg+xml" and root.tag.endswith("svg")
    assert "smartphone · parts-replacement" in svg.get_data(as_text=True)  # text kept as text

    body = client.get(url(alpha, PAGE + "download/statistics.csv" + MARCH)).get_data().decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(body)))
    assert table[0][:3] == ["Device category", "Measure", "n"]
    total = [row for row in table if row[0] == "All orders" and row[1] == "Turnaround (days)"]
    assert total[0][2:4] == ["8", "3.0"]

    xlsx = client.get(url(alpha, PAGE + "download/pareto_faults.xlsx" + MARCH))
    sheet = load_workbook(io.BytesIO(xlsx.get_data())).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    header = rows.index(["Fault type", "Orders", "Share (%)", "Cumulative share (%)"])
    assert rows[header + 1] == ["parts-replacement", 6, 60.0, 60.0]
    assert rows[-1] == ["software", 2, 20.0, 100.0]

    forecast = client.get(url(alpha, PAGE + "download/forecast_volume.csv" + MARCH))
    assert forecast.status_code == 200 and forecast.get_data().decode("utf-8-sig").startswith("Week starting")
    assert [(a, k["detail"].split()[0]) for a, k in downloads_logged] == [
        (("export", "analytics"), name)
        for name in (
            "scatter.png",
            "pareto_rework.svg",
            "statistics.csv",
            "pareto_faults.xlsx",
            "forecast_volume.csv",
        )
    ]


def test_too_short_history_says_how_many_weeks_are_needed(client, alpha, both_stores):
    sign_in(client, alpha, "qa")
    html = client.get(url(alpha, PAGE + MARCH)).get_data(as_text=True)
    assert html.count('data-testid="forecast-too-short"') == 2
    assert "Not enough history for a forecast: it needs at least 20 complete weeks" in html


# --- language --------------------------------------------------------------------------------------------


def test_the_page_renders_in_chinese(client, alpha, both_stores):
    sign_in(client, alpha, "qa")
    response = client.get(url(alpha, PAGE + MARCH), headers={"Accept-Language": "zh-CN"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "门店" in html and "智能手机" in html  # the form's labels and the standard's category names
    chart = client.get(
        url(alpha, PAGE + "download/scatter.png" + MARCH), headers={"Accept-Language": "zh-CN"}
    )
    assert chart.status_code == 200 and chart.get_data().startswith(b"\x89PNG")
