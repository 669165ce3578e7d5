"""The report screens: who sees which stores, the drill-down, exports read back, bad input,
the PDF job (in-process and with a real RQ worker), the monthly e-mail, isolation."""

from __future__ import annotations

import csv
import io
import re
from datetime import date

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from pypdf import PdfReader

from repairqc.db import db, tenant_context, unit_of_work
from repairqc.inspections.models import ActionStatus, CorrectiveAction, Inspection
from repairqc.repairs.models import QCCheckStatus, RepairOrder
from repairqc.reports import views as report_views
from repairqc.reports.models import ReportRun, ReportRunStatus
from repairqc.reports.tasks import generate_report_pdf, send_monthly_report
from repairqc.standards.schema import SupervisionPolicy
from tests.conftest import in_tenant, sign_in
from tests.test_jobs import redis_setup as redis_setup  # a fixture
from tests.test_jobs import run_worker
from tests.test_reports import at, build_fixture

REPORT = "/admin/reports/"
MARCH_QUERY = "?preset=custom&start=2025-03-01&end=2025-03-31"


def url(tenant, path: str = REPORT) -> str:
    return f"http://{tenant.host}{path}"


def chain_query(fixture) -> str:
    return f"{MARCH_QUERY}&scope=chain&chain={fixture.chain.id}"


def rows(html: str) -> list[str]:
    return re.findall(r'<tr data-testid="report-row".*?</tr>', html, re.S)


# --- the page and who sees what ----------------------------------------------------------------------


def test_qa_sees_every_store_ranked_with_flags_charts_and_limits(app, client, alpha):
    with in_tenant(app, alpha):
        fixture = build_fixture(alpha)
        query, x2 = chain_query(fixture), fixture.stores["X2"].id
        db.session.commit()
    sign_in(client, alpha, "qa")
    page = client.get(url(alpha, REPORT + query))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    found = rows(html)
    assert [re.search(r'data-rank="(\d+)"', r).group(1) for r in found] == ["1", "2", "3"]
    assert "Store X2" in found[0] and f'data-store-id="{x2}"' in found[0]
    # X2's QC failure rate is above its upper control limit: the first-pass cell is flagged.
    assert re.search(r'data-col="qc_first_pass"[^>]*data-flags="above"', found[0])
    assert "▲ UCL" in found[0]
    assert 'data-testid="average-row"' in html and "Average" in html
    assert "p̄ = 11.54 %" in html  # 3/26 QC failures
    assert html.count('<svg role="img" class="report-chart"') == 2
    assert f'href="/admin/reports/stores/{x2}?start=2025-03-01&amp;end=2025-03-31"' in html
    assert "anonymised-note" not in html


def test_a_store_manager_sees_own_rows_and_the_average_others_anonymised(app, client, alpha, monkeypatch):
    sign_in(client, alpha, "manager")  # store manager of S1
    html = client.get(url(alpha, REPORT + "?preset=this_month")).get_data(as_text=True)
    s1, s2 = alpha.store_ids["S1"], alpha.store_ids["S2"]
    assert alpha.store_sentinel("S1") in html
    assert alpha.store_sentinel("S2") not in html  # neither in a row nor in the store picker
    assert f'data-store-id="{s1}"' in html and f"stores/{s1}" in html
    assert f'data-store-id="{s2}"' not in html and f"stores/{s2}" not in html
    anonymised = [r for r in rows(html) if 'data-anonymised="1"' in r]
    assert len(anonymised) == 1 and "Another store" in anonymised[0] and "<a " not in anonymised[0]
    assert 'data-testid="average-row"' in html and "anonymised-note" in html
    # ...and the same in the exports.
    exported = client.get(url(alpha, REPORT + "export/csv?preset=this_month")).get_data(as_text=True)
    assert alpha.store_sentinel("S1") in exported and alpha.store_sentinel("S2") not in exported
    # Single other stores cannot be picked (their anonymised row would be theirs).
    picked = client.get(url(alpha, REPORT + f"?preset=this_month&scope=stores&stores={s2}"))
    assert picked.status_code == 400 and alpha.store_sentinel("S2") not in picked.get_data(as_text=True)

    # League tables on in the standard in force: every store by name, links to own stores only.
    monkeypatch.setattr(report_views, "supervision_policy", lambda day: SupervisionPolicy(league_tables=True))
    html = client.get(url(alpha, REPORT + "?preset=this_month")).get_data(as_text=True)
    assert alpha.store_sentinel("S2") in html and "anonymised-note" not in html
    assert f"stores/{s2}" not in html and f"stores/{s1}" in html


@pytest.mark.parametrize("user", ["owner", "auditor"])
def test_owner_and_auditor_see_every_store(app, client, alpha, user):
    sign_in(client, alpha, user)
    html = client.get(url(alpha, REPORT + "?preset=this_month")).get_data(as_text=True)
    assert alpha.store_sentinel("S1") in html and alpha.store_sentinel("S2") in html


@pytest.mark.parametrize("user", ["tech", "frontdesk", "inspector", "trainer"])
def test_other_roles_have_no_report(app, client, alpha, user):
    sign_in(client, alpha, user)
    assert client.get(url(alpha)).status_code == 403
    assert client.get(url(alpha, REPORT + "export/csv")).status_code == 403
    assert client.get(url(alpha, REPORT + f"stores/{alpha.store_ids['S1']}")).status_code == 403


def test_signed_out_goes_to_the_sign_in(client, alpha):
    response = client.get(url(alpha))
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_period_ending_before_it_starts_is_refused_with_what_was_typed(app, client, alpha):
    sign_in(client, alpha, "qa")
    response = client.get(url(alpha, REPORT + "?preset=custom&start=2025-03-31&end=2025-03-01"))
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "The period ends before it starts" in html
    assert 'value="2025-03-31"' in html and 'value="2025-03-01"' in html
    assert 'data-testid="report-table"' not in html
    bad = client.get(url(alpha, REPORT + "?preset=custom&start=yesterday&end=2025-03-01"))
    assert bad.status_code == 400 and "is not a date" in bad.get_data(as_text=True)
    assert client.get(url(alpha, REPORT + "?preset=this_month&scope=chain&chain=abc")).status_code == 400
    assert client.get(url(alpha, REPORT + "?preset=this_month&scope=chain")).status_code == 400
    assert client.get(url(alpha, REPORT + "?preset=this_month&scope=galaxy")).status_code == 400
    assert client.get(url(alpha, REPORT + "export/doc?preset=this_month")).status_code == 404


# --- drill-down -------------------------------------------------------------------------------------------


def test_store_page_drills_down_to_inspections_actions_and_orders(app, client, alpha):
    with in_tenant(app, alpha):
        fixture = build_fixture(alpha)
        x1 = fixture.stores["X1"]
        # QC failed on 1 March but delivered in April: not behind March's "QC first pass".
        late = fixture.order("X1", at(2, 28, 23, 30), at(4, 2), qc=[QCCheckStatus.FAILED])
        # QC failed in February, delivered in March: behind it (X1's first pass becomes 3 of 5).
        early = fixture.order("X1", at(2, 26), at(3, 2), qc=[QCCheckStatus.FAILED, QCCheckStatus.PASSED])
        db.session.flush()
        orders = sa.select(RepairOrder).where(RepairOrder.store_id == x1.id)
        inspections = sa.select(Inspection.id).where(
            Inspection.store_id == x1.id, Inspection.submitted_at >= at(3, 1)
        )
        actions = sa.select(CorrectiveAction.id).where(
            CorrectiveAction.store_id == x1.id, CorrectiveAction.status != ActionStatus.VERIFIED
        )
        ids = {
            "store": x1.id,
            "orders": {o.number: o.id for o in db.session.execute(orders).scalars()},
            "late": late.id,
            "early": early.id,
            "inspections": list(db.session.execute(inspections).scalars()),
            "actions": list(db.session.execute(actions).scalars()),
        }
        db.session.commit()
    sign_in(client, alpha, "qa")
    page = client.get(
        url(alpha, REPORT + f"stores/{ids['store']}?preset=custom&start=2025-03-01&end=2025-03-31")
    )
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "X1 · Store X1" in html
    # Its row: 5 orders received, rework 20 % flagged against the 3 % target.
    assert re.search(r'data-col="orders" data-value="5.0000"', html)
    assert re.search(r'data-col="rework_rate"[^>]*data-flags="miss"', html)
    # Inspections of the period link to the inspection screen; the returned one shows too.
    assert len(re.findall(r'data-testid="inspection-link"', html)) == 3
    assert len(ids["inspections"]) == 3
    for inspection_id in ids["inspections"]:
        assert f'href="/admin/inspections/work/{inspection_id}/" data-testid="inspection-link"' in html
    assert "/admin/inspections/details/" not in html  # the inspection screen, not the generated admin
    # Corrective actions not yet verified: 3 (the Feb one, the open one, the one awaiting QA).
    actions = re.search(r'data-testid="store-actions".*?</table>', html, re.S).group(0)
    assert actions.count("<tr>") == 4 and actions.count("Overdue") == 2
    assert len(ids["actions"]) == 3
    for action_id in ids["actions"]:
        assert f'href="/admin/inspections/actions/{action_id}/"' in actions
    rewards = re.search(r'data-testid="store-rewards".*?</table>', html, re.S).group(0)
    assert "Reward" in rewards and "Penalty" not in rewards  # the April penalty is outside
    # Orders: the list behind "QC first pass" is its misses (delivered in the period after a failed
    # check): o2 and the order that failed in February; not the one that failed in March but was
    # delivered in April. o4 came back under warranty, linked to o2.
    qc = re.search(r'data-testid="store-qc-orders".*?</ul>', html, re.S).group(0)
    rework = re.search(r'data-testid="store-rework-orders".*?</ul>', html, re.S).group(0)
    o2, o4 = ids["orders"]["X1-000002"], ids["orders"]["X1-000004"]
    assert re.search(r'data-col="qc_first_pass" data-value="60.0000"[^>]*title="3 / 5"', html)
    assert qc.count("<li>") == 5 - 3
    assert f"/admin/repairs/orders/{o2}/" in qc and f"/admin/repairs/orders/{ids['early']}/" in qc
    assert f"/admin/repairs/orders/{ids['late']}/" not in qc
    assert rework.count("<li>") == 1  # the rework rate's numerator: 1 of 5
    assert f"/admin/repairs/orders/{o4}/" in rework and f"/admin/repairs/orders/{o2}/" in rework
    assert 'data-testid="chart-trend"' in html
    assert "Trend over the 12 months to March 2025 (%)" in html  # the period's months, not today's


def test_store_page_refuses_a_bad_period_with_what_was_typed(app, client, alpha):
    sign_in(client, alpha, "qa")
    store = REPORT + f"stores/{alpha.store_ids['S1']}"
    response = client.get(url(alpha, store + "?preset=custom&start=2025-03-31&end=2025-03-01"))
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "The period ends before it starts" in html and alpha.store_sentinel("S1") in html
    # The dates as typed, not last month's in their place, and no numbers for another period.
    assert 'value="2025-03-31"' in html and 'value="2025-03-01"' in html
    for part in ("report-period", "store-row", "chart-trend", "store-inspections", "store-qc-orders"):
        assert f'data-testid="{part}"' not in html, part
    bad = client.get(url(alpha, store + "?preset=custom&start=yesterday&end=2025-03-01"))
    assert bad.status_code == 400 and "is not a date" in bad.get_data(as_text=True)
    assert 'value="yesterday"' in bad.get_data(as_text=True)
    # A preset, or nothing (last month), is a period.
    assert client.get(url(alpha, store + "?preset=this_month")).status_code == 200
    assert client.get(url(alpha, store)).status_code == 200


def test_store_page_for_managers_is_their_own_stores_only(app, client, alpha):
    sign_in(client, alpha, "manager")
    own = client.get(url(alpha, REPORT + f"stores/{alpha.store_ids['S1']}"))
    assert own.status_code == 200 and alpha.store_sentinel("S1") in own.get_data(as_text=True)
    other = client.get(url(alpha, REPORT + f"stores/{alpha.store_ids['S2']}"))
    assert other.status_code == 404 and alpha.store_sentinel("S2") not in other.get_data(as_text=True)
    assert client.get(url(alpha, REPORT + "stores/999999")).status_code == 404
    assert client.get(url(alpha, REPORT + "stores/99999999999")).status_code == 404


# --- exports ----------------------------------------------------------------------------------------------


def test_exports_read_back(app, client, alpha):
    with in_tenant(app, alpha):
        fixture = build_fixture(alpha)
        query = chain_query(fixture)
        db.session.commit()
    sign_in(client, alpha, "qa")

    response = client.get(url(alpha, REPORT + "export/csv" + query))
    assert response.headers["Content-Type"].startswith("text/csv")
    assert (
        'filename="cross-store-report-2025-03-01-2025-03-31.csv"' in response.headers["Content-Disposition"]
    )
    table = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    header = table[0]
    by_code = {line[1]: dict(zip(header, line, strict=True)) for line in table[1:]}
    assert list(by_code)[:3] == ["X2", "X1", "X3"] and by_code["X1"]["Rank"] == "2"
    assert by_code["X1"]["Orders received"] == "5.0" and by_code["X1"]["Rework (warranty) rate"] == "20.0"
    assert by_code["X1"]["Rework (warranty) rate: change"] == "20.0"
    assert by_code["X1"]["Median turnaround (days)"] == "3.25"
    assert by_code[""]["Store"] == "Average"

    response = client.get(url(alpha, REPORT + "export/xlsx" + query))
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    values = list(sheet.iter_rows(values_only=True))
    header_index = next(i for i, line in enumerate(values) if line and line[0] == "Rank")
    header = values[header_index]
    x1 = next(line for line in values[header_index + 1 :] if line[1] == "X1")
    assert x1[header.index("Orders received")] == 5
    assert x1[header.index("Rework (warranty) rate")] == pytest.approx(0.2)  # a real number, formatted as %
    assert x1[header.index("QC first pass")] == pytest.approx(0.75)
    assert x1[header.index("Average score")] == pytest.approx(70.0)
    row_number = header_index + 1 + [line[1] for line in values[header_index + 1 :]].index("X1") + 1
    rework_column = header.index("Rework (warranty) rate") + 1
    assert sheet.cell(row_number, rework_column).number_format == "0.0%"
    assert sheet.cell(row_number, rework_column).fill.fgColor.rgb.endswith("F8D7DA")  # flagged

    response = client.get(url(alpha, REPORT + "export/pdf" + query))
    assert response.headers["Content-Type"] == "application/pdf"
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.get_data())).pages)
    assert "Cross-store report" in text and "Report chain" not in text
    assert "Scope: A chain: RPT" in text
    for expected in ("Store X1", "Store X2", "Store X3", "Average", "Repair quality", "Inspections",
                     "20.0 %", "3.25", "Average inspection score by store", "Control limits"):  # fmt: skip
        assert expected in text, expected


def test_pdf_in_chinese_uses_the_cjk_font(app, client, alpha):
    with in_tenant(app, alpha):
        fixture = build_fixture(alpha)
        fixture.stores["X1"].name = "旗舰店"
        query = chain_query(fixture)
        db.session.commit()
    sign_in(client, alpha, "qa")
    response = client.get(url(alpha, REPORT + "export/pdf" + query), headers={"Accept-Language": "zh-CN"})
    reader = PdfReader(io.BytesIO(response.get_data()))
    fonts = set()
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            fonts.add(str(font.get_object()["/BaseFont"]))
    assert any("STSong-Light" in name for name in fonts)
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "旗舰店" in text


# --- the PDF job ------------------------------------------------------------------------------------------


def test_generate_pdf_in_process_shows_progress_and_download(app, client, alpha, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "")
    sign_in(client, alpha, "qa")
    response = client.post(
        url(alpha, REPORT + "runs"),
        data={"preset": "custom", "start": "2025-03-01", "end": "2025-03-31", "scope": "all"},
    )
    assert response.status_code == 302
    run_path = response.headers["Location"]
    run_id = int(run_path.rstrip("/").rsplit("/", 1)[-1])
    page = client.get(url(alpha, run_path)).get_data(as_text=True)
    assert 'data-testid="run-progress"' in page
    status = client.get(url(alpha, f"{REPORT}runs/{run_id}/status")).get_json()
    assert status["status"] == "done" and status["progress"] == 100 and status["download"]
    pdf = client.get(url(alpha, status["download"]))
    assert pdf.headers["Content-Type"] == "application/pdf"
    assert alpha.store_sentinel("S1") in PdfReader(io.BytesIO(pdf.get_data())).pages[0].extract_text()
    with in_tenant(app, alpha):
        run = db.session.get(ReportRun, run_id)
        assert run.status is ReportRunStatus.DONE and run.started_at and run.finished_at
        assert run.scope == {"kind": "all", "ids": []} and run.period_end == date(2025, 3, 31)


def test_generate_pdf_refuses_bad_input_and_non_hq(app, client, alpha, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "")
    sign_in(client, alpha, "qa")
    with in_tenant(app, alpha):
        before = db.session.execute(sa.select(sa.func.count()).select_from(ReportRun)).scalar_one()
    bad = client.post(
        url(alpha, REPORT + "runs"), data={"preset": "custom", "start": "2025-03-31", "end": "2025-03-01"}
    )
    assert bad.status_code == 400 and "ends before it starts" in bad.get_data(as_text=True)
    with in_tenant(app, alpha):
        assert db.session.execute(sa.select(sa.func.count()).select_from(ReportRun)).scalar_one() == before
    client.get(url(alpha, "/logout"))
    sign_in(client, alpha, "manager")
    assert client.post(url(alpha, REPORT + "runs"), data={"preset": "last_month"}).status_code == 403
    assert client.get(url(alpha, f"{REPORT}runs/{alpha.ids['report_runs'][0]}")).status_code == 403


def test_report_run_with_a_real_worker(redis_setup, alpha):
    app = redis_setup.app
    with app.app_context(), tenant_context(alpha.ref), unit_of_work():
        run = ReportRun(
            period_start=date(2025, 3, 1), period_end=date(2025, 3, 31), scope={"kind": "all", "ids": []}
        )
        db.session.add(run)
        db.session.flush()
        run_id = run.id
    try:
        with app.app_context(), tenant_context(alpha.ref):
            assert report_views.enqueue(generate_report_pdf, run_id)
        run_worker(app, [redis_setup.queue_name("reports")])
        with app.app_context(), tenant_context(alpha.ref):
            run = db.session.get(ReportRun, run_id)
            assert run.status is ReportRunStatus.DONE and run.progress == 100
            assert (
                PdfReader(io.BytesIO(run.pdf)).pages[0].extract_text().count(alpha.store_sentinel("S")) >= 2
            )
    finally:
        with app.app_context(), tenant_context(alpha.ref), unit_of_work():
            db.session.execute(sa.delete(ReportRun).where(ReportRun.id == run_id))


def test_a_failed_run_shows_a_fixed_message_and_logs_the_error(app, client, alpha, monkeypatch, caplog):
    from repairqc.reports import tasks

    secret = 'relation "t_000001.secret_table" does not exist'

    def broken(*args, **kwargs):
        raise RuntimeError(secret)

    monkeypatch.setattr(tasks, "build_report", broken)
    with in_tenant(app, alpha):
        run = ReportRun(period_start=date(2025, 3, 1), period_end=date(2025, 3, 31), scope={"kind": "all"})
        db.session.add(run)
        db.session.commit()
        run_id = run.id
        with pytest.raises(RuntimeError):
            generate_report_pdf(run_id)
        run = db.session.get(ReportRun, run_id)
        assert run.status is ReportRunStatus.FAILED and run.finished_at
        assert run.message.startswith("The report could not be made.") and secret not in run.message
    assert secret in caplog.text  # the details are in the log
    sign_in(client, alpha, "qa")
    status = client.get(url(alpha, f"{REPORT}runs/{run_id}/status")).get_json()
    assert status["status"] == "failed" and status["message"].startswith("The report could not be made.")
    page = client.get(url(alpha, f"{REPORT}runs/{run_id}")).get_data(as_text=True)
    assert "The report could not be made." in page and "secret_table" not in page
    with in_tenant(app, alpha):
        db.session.execute(sa.delete(ReportRun).where(ReportRun.id == run_id))
        db.session.commit()


def test_monthly_report_is_mailed_once_to_qa_as_pdf(app, alpha, mailbox):
    with in_tenant(app, alpha):
        assert send_monthly_report("2025-04-01") == "2025-03"
        assert send_monthly_report("2025-04-01") is None  # idempotent: the month was claimed
        assert send_monthly_report("2025-04-15") is None
        run = db.session.execute(sa.select(ReportRun).where(ReportRun.monthly_key == "2025-03")).scalar_one()
        assert run.status is ReportRunStatus.DONE and run.period_start == date(2025, 3, 1)
        assert run.emailed_to == alpha.users["qa"]
    messages = mailbox.to(alpha.users["qa"])
    assert len(messages) == 1 and len(mailbox.messages) == 1
    message = messages[0]
    assert message["Subject"] == "Cross-store report for March 2025"  # the month by name, not its key
    body = message.get_body(("plain",)).get_content()
    assert "cross-store report for March 2025 (all stores), made on Apr 1, 2025." in body
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "cross-store-report-2025-03.pdf"
    text = PdfReader(io.BytesIO(attachment.get_content())).pages[0].extract_text()
    assert "Cross-store report" in text and alpha.store_sentinel("S1") in text


def test_monthly_report_off_in_the_standard_sends_nothing(app, alpha, mailbox, monkeypatch):
    from repairqc.reports import tasks

    monkeypatch.setattr(tasks, "supervision_policy", lambda day: SupervisionPolicy(monthly_report=False))
    with in_tenant(app, alpha):
        assert send_monthly_report("2025-04-01") is None
        assert (
            db.session.execute(sa.select(ReportRun).where(ReportRun.monthly_key.is_not(None))).first() is None
        )
    assert mailbox.messages == []


# --- isolation ------------------------------------------------------------------------------------------


def test_beta_ids_on_alphas_host_are_not_found_and_nothing_leaks(app, client, alpha, beta):
    from repairqc.stores.models import Chain, Store

    with in_tenant(app, beta):  # rows with ids alpha lacks
        chain = db.session.execute(sa.select(Chain)).scalars().first()
        extra = [
            Store(code=f"{beta.sentinel}-X{n}", name=f"{beta.sentinel} extra {n}", chain=chain)
            for n in range(3)
        ]
        march = {"period_start": date(2025, 3, 1), "period_end": date(2025, 3, 31), "scope": {"kind": "all"}}
        runs = [
            ReportRun(**march, status=ReportRunStatus.DONE, pdf=b"%PDF beta", message=beta.sentinel)
            for _ in range(2)
        ]
        db.session.add_all(extra + runs)
        db.session.commit()
        beta_store, beta_run = extra[-1].id, runs[-1].id
    sign_in(client, alpha, "qa")
    alpha_stores, alpha_runs = set(alpha.ids["stores"]), set(alpha.ids["report_runs"])
    assert beta_store not in alpha_stores and beta_run not in alpha_runs
    # An id both tenants have shows alpha's store.
    shared = client.get(url(alpha, REPORT + f"stores/{alpha.store_ids['S2']}")).get_data(as_text=True)
    assert alpha.store_sentinel("S2") in shared and beta.sentinel not in shared
    for path in (
        f"stores/{beta_store}",
        f"runs/{beta_run}",
        f"runs/{beta_run}/status",
        f"runs/{beta_run}/pdf",
    ):
        response = client.get(url(alpha, REPORT + path))
        assert response.status_code == 404, path
        assert beta.sentinel not in response.get_data(as_text=True)
    for path in (
        "?preset=this_month",
        "export/csv?preset=this_month",
        f"?preset=this_month&scope=stores&stores={beta_store}",
    ):
        body = client.get(url(alpha, REPORT + path)).get_data(as_text=True)
        assert beta.sentinel not in body
    # Alpha's session is not valid on beta's host.
    assert client.get(url(beta)).status_code == 302
