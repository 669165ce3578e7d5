"""HB §5.1.3(2) in a real browser: a technician logs a repair step with a tool overdue for
calibration and is refused, with the tool and the date it fell due named and nothing saved;
with a calibrated tool the step is saved.

Runs against the `flask demo` tenant (see conftest.py), whose equipment (repairqc/equipment/demo.py)
includes at FF-N01 a multimeter overdue for calibration and a soldering station calibrated a
month ago. The order is made here, through the repairs services, and taken to "in repair" with
the demo technician, so no other browser test's changes to the demo orders matter.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from .conftest import REPO_ROOT, LiveServer, server_app, sign_in

pytestmark = pytest.mark.browser

TECH = "tech@demo.example.com"
SCREENSHOT = REPO_ROOT / "test-artifacts" / "browser-equipment-worklog.png"
SIGNATURE = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/PchI7wAAAABJRU5ErkJggg=="
)


def prepare(live_server: LiveServer) -> dict:
    """An order of FF-N01 in repair with the demo technician; the two tools of the store."""
    from decimal import Decimal

    from flask_babel import force_locale, format_date

    from repairqc.accounts.models import StaffUser
    from repairqc.db import db, tenant_context, unit_of_work, utcnow
    from repairqc.equipment.models import EquipmentItem
    from repairqc.repairs import services as repairs
    from repairqc.repairs.models import DecisionMethod, QuoteLineKind
    from repairqc.stores.models import Store
    from repairqc.tenants.models import Tenant

    with server_app(live_server) as app, app.app_context():
        tenant = db.control.execute(sa.select(Tenant).where(Tenant.slug == "demo")).scalar_one().ref
    with server_app(live_server) as app, app.test_request_context(), tenant_context(tenant), unit_of_work():
        today: date = utcnow().date()
        people = {
            u.email: u
            for u in db.session.execute(
                sa.select(StaffUser).where(StaffUser.email.in_(["frontdesk@demo.example.com", TECH]))
            ).scalars()
        }
        desk, tech = people["frontdesk@demo.example.com"], people[TECH]
        shop = db.session.execute(sa.select(Store).where(Store.code == "FF-N01")).scalar_one()
        order = repairs.receive_order(
            shop,
            desk,
            repairs.Intake(
                category="smartphone",
                brand="Huawei",
                model="P60",
                fault_symptoms="Does not charge",
                signer_name="Wang Fang",
                signature_data_url=SIGNATURE,
                new_customer=repairs.NewCustomer("Wang Fang", phone="+86 138 0000 0999"),
            ),
        )
        repairs.start_diagnosis(order, tech)
        repairs.record_diagnosis(
            order,
            tech,
            cause="Charging port worn",
            plan="Replace the port",
            repair_type="parts-replacement",
            minutes=10,
            today=today,
        )
        line = repairs.LineInput(QuoteLineKind.LABOUR, "Port replacement", 1, Decimal("150.00"), Decimal("0"))
        repairs.save_quote(order, tech, [line])
        repairs.send_quote(order, tech, today=today)
        repairs.decide_quote(
            order,
            desk,
            revision=1,
            approve=True,
            method=DecisionMethod.IN_STORE,
            signer_name="Wang Fang",
            today=today,
        )
        repairs.start_repair(order, tech)
        items = {
            item.equipment_type: item
            for item in db.session.execute(sa.select(EquipmentItem).where(EquipmentItem.store_id == shop.id))
            .scalars()
            .all()
        }
        late, good = items["multimeter"], items["soldering-station"]
        assert late.calibration_overdue(today) and not good.calibration_overdue(today)
        with force_locale("en"):
            due = format_date(late.next_calibration_due_on)
        return {
            "order": order.id,
            "late": (late.id, late.label),
            "good": (good.id, good.label),
            "due": due,
        }


def test_an_overdue_tool_is_refused_on_a_work_log_and_a_calibrated_one_is_saved(
    page: Page, live_server: LiveServer
):
    facts = prepare(live_server)
    late_id, late_label = facts["late"]
    good_id, good_label = facts["good"]
    sign_in(page, live_server, TECH)
    page.goto(live_server.tenant_url("demo", f"/admin/repairs/orders/{facts['order']}/"))

    form = page.get_by_test_id("work-form")
    form.locator("textarea[name=work-step]").fill("Measured the charging rail")
    form.locator("input[name=work-minutes]").fill("15")
    tools = form.locator("select[name=work-equipment_items]")
    expect(tools.locator(f"option[value='{late_id}']")).to_contain_text("calibration overdue")
    tools.select_option(value=str(late_id))
    form.get_by_test_id("work-submit").click()

    refusal = page.get_by_test_id("refusal")
    expect(refusal).to_contain_text(late_label)
    expect(refusal).to_contain_text(facts["due"])
    expect(page.get_by_test_id("work-logs")).to_have_count(0)  # nothing saved
    form = page.get_by_test_id("work-form")
    expect(form.locator("textarea[name=work-step]")).to_have_value("Measured the charging rail")  # kept

    form.locator("select[name=work-equipment_items]").select_option(value=str(good_id))
    form.get_by_test_id("work-submit").click()
    expect(page).to_have_url(re.compile(rf"/admin/repairs/orders/{facts['order']}/$"))
    logs = page.get_by_test_id("work-logs")
    expect(logs).to_contain_text("Measured the charging rail")
    expect(logs.get_by_test_id("work-log-equipment")).to_have_text(good_label)

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
