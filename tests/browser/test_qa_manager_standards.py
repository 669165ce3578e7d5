"""HQ quality changes the standards in a real browser; a QC check begun today keeps version 1.

The QA manager of the demo tenant starts version 2, adds a check to the smartphone checklist,
publishes it effective tomorrow, and sees version 1 still in force today. A QC check begun
today (through the repairs services, as the QC screen does) then holds
version 1 and its items, which the browser shows on the QC check's record.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from .conftest import REPO_ROOT, LiveServer, server_app, sign_in

pytestmark = pytest.mark.browser

QA_MANAGER = "qa@demo.example.com"
SCREENSHOT = REPO_ROOT / "test-artifacts" / "browser-qa-manager-standards.png"


def begin_qc_check_today(live_server: LiveServer) -> tuple[int, int, list[str]]:
    """Put the demo's iPhone repair into QC and begin its check, as the store manager."""
    from repairqc.accounts.models import StaffUser
    from repairqc.db import db, tenant_context, unit_of_work, utcnow
    from repairqc.repairs.models import Device, RepairOrder
    from repairqc.repairs.services import begin_qc_check, send_to_qc
    from repairqc.tenants.models import Tenant

    with server_app(live_server) as app, app.app_context():
        demo = db.control.execute(sa.select(Tenant).where(Tenant.slug == "demo")).scalar_one()
        tenant = demo.ref
    with server_app(live_server) as app, app.app_context(), tenant_context(tenant), unit_of_work():
        order = db.session.execute(
            sa.select(RepairOrder).join(Device).where(Device.model == "iPhone 14")
        ).scalar_one()
        people = {
            user.email: user
            for user in db.session.execute(
                sa.select(StaffUser).where(
                    StaffUser.email.in_(["manager@demo.example.com", "tech@demo.example.com"])
                )
            ).scalars()
        }
        manager, tech = people["manager@demo.example.com"], people["tech@demo.example.com"]
        send_to_qc(order, tech)  # the demo's iPhone is in repair with its work logged
        check = begin_qc_check(order, manager, today=utcnow().date())
        return check.id, check.standard_version.number, [r.item_code for r in check.results]


def test_qa_manager_publishes_version_2_for_tomorrow_and_todays_check_keeps_version_1(
    page: Page, live_server: LiveServer
):
    sign_in(page, live_server, QA_MANAGER)
    page.goto(live_server.tenant_url("demo", "/admin/standards/"))
    expect(page.get_by_test_id("in-force")).to_be_visible()
    page.get_by_test_id("start-draft").click()
    expect(page).to_have_url(re.compile(r"/admin/standards/2/$"))

    # The smartphone checklist: add a critical measured check and put it first.
    page.get_by_test_id("edit-checklist-smartphone").click()
    page.get_by_test_id("add-items").click()
    row = page.get_by_test_id("rows-items").get_by_test_id("row").last
    row.get_by_label("#").fill("0")
    row.get_by_label("Code").fill("face-id")
    row.get_by_label("Check (English)").fill("Face ID sensor voltage")
    row.get_by_label("Check (Chinese)").fill("面容ID传感器电压")
    row.get_by_label("Kind").select_option("measured")
    row.get_by_label("Critical").check()
    row.get_by_label("Unit").fill("V")
    row.get_by_label("Lower limit").fill("3.9")
    row.get_by_label("Upper limit").fill("3.1")
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("row-error")).to_have_text("The lower limit is above the upper limit.")
    row = page.get_by_test_id("rows-items").get_by_test_id("row").last
    row.get_by_label("Lower limit").fill("3.1")
    row.get_by_label("Upper limit").fill("3.9")
    page.get_by_test_id("save").click()
    expect(page).to_have_url(re.compile(r"/admin/standards/2/#checklist$"))
    first_check = page.get_by_test_id("checklist-smartphone").locator("tbody tr, tr").nth(1)
    expect(first_check).to_contain_text("Face ID sensor voltage")
    expect(first_check).to_contain_text("3.1 – 3.9 V")

    # Publish effective tomorrow; version 1 stays in force today.
    with server_app(live_server) as app, app.app_context():
        from repairqc.db import utcnow

        tomorrow = utcnow().date() + timedelta(days=1)
    page.locator("input[name=effective_from]").fill(tomorrow.isoformat())
    page.get_by_test_id("publish").click()
    expect(page.locator(".alert-success")).to_contain_text(
        f"Version 2 is published, effective from {tomorrow}"
    )
    versions = page.get_by_test_id("versions")
    expect(versions.locator("tr", has_text="v1").get_by_test_id("in-force")).to_be_visible()
    expect(versions.locator("tr", has_text="v2")).to_contain_text(f"takes effect on {tomorrow}")

    check_id, version_number, items = begin_qc_check_today(live_server)
    assert version_number == 1
    assert "face-id" not in items and items[0] == "touch"

    # The record, as anyone at HQ sees it: version 1, with version 1's checks.
    page.goto(live_server.tenant_url("demo", f"/admin/qc_checks/details/?id={check_id}"))
    expect(page.locator("table")).to_contain_text("v1")
    page.goto(live_server.tenant_url("demo", "/admin/qc_check_results/?page_size=100"))
    results = page.locator("table.model-list")
    expect(results).to_contain_text("touch")
    expect(results).not_to_contain_text("face-id")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.goto(live_server.tenant_url("demo", "/admin/standards/2/"))
    page.screenshot(path=str(SCREENSHOT), full_page=True)
