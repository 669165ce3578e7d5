"""One repair from the counter to pick-up, in Chinese, in a real browser (HB §2.1.2(1)-(6)).

Intake → diagnosis → quote approved by the customer on the tracking page → repair → QC fails
on a critical item, then passes → payment and delivery with the customer's signature. Four
people, each in their own browser context: the front desk, the technician and the inspector
sign in and switch the staff screens to Chinese with the navbar's language switch; the
customer opens the tracking link with no session at all, in a browser that asks for zh-CN.

Chinese is asserted on catalog strings (status labels, QC outcomes, buttons, headings, the
tracking page's sentences and flash), on the standard's own Chinese texts (device category,
checklist items) and on <html lang>. The expected strings are read from the catalog the server
uses, so rewording a translation does not break the test, but an untranslated one does (each
must contain Chinese characters).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from .conftest import REPO_ROOT, LiveServer, choose_language, new_page, png, server_app, sign_in

pytestmark = pytest.mark.browser

ZH = "zh_Hans_CN"
FRONT_DESK = "frontdesk@demo.example.com"
TECHNICIAN = "tech@demo.example.com"
INSPECTOR = "inspector@demo.example.com"
SCREENSHOT = REPO_ROOT / "test-artifacts" / "browser-repair-workflow-zh.png"

CUSTOMER = "王小明"  # one word: the tracking page greets the customer by it (first name only)
PHONE = "+86 135 0000 0099"  # not a demo customer: the search finds no one
EMAIL = "xiaoming.wang@example.com"
IMEI = "490154203237518"
PASSCODE = "2468"
FAULT = "屏幕下半部分触摸失灵 / touch dead in the lower half"
#: Values within the tolerance of the smartphone checklist's measured items (standards v1).
MEASURED = {"charging": "1.8", "battery-health": "92"}
#: The critical checklist item the first check fails, and its Chinese text in the standard.
FAILED_ITEM, FAILED_ITEM_ZH = "touch", "全屏触控正常"
CJK = re.compile(r"[\u4e00-\u9fff]")


# --- the people and their browsers ---------------------------------------------------------------


def sign(page: Page, field: Locator) -> None:
    """Draw a signature on the canvas of a signature field; its hidden input then holds a PNG."""
    page.wait_for_load_state("load")  # signature.js binds the pad on DOMContentLoaded
    canvas = field.locator("canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None
    x, y, width, height = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x + width * 0.1, y + height * 0.6)
    page.mouse.down()
    for i in range(1, 9):
        page.mouse.move(x + width * (0.1 + 0.09 * i), y + height * (0.3 if i % 2 else 0.7), steps=4)
    page.mouse.up()
    expect(field.locator("input[type=hidden]")).to_have_value(re.compile(r"^data:image/png;base64,"))


def tick(control: Locator) -> None:
    """Tick a Bootstrap custom checkbox or radio as a person does: its label covers the input."""
    control.page.locator(f"label[for='{control.get_attribute('id')}']").click()
    expect(control).to_be_checked()


def signature_field(scope: Page | Locator) -> Locator:
    return scope.locator("[data-signature-field]:has(input[name=signature])")


# --- what the server says, read from its own catalog and database --------------------------------


#: Strings of our own catalog asserted on the staff screens and the tracking page.
MESSAGES = {
    "receive": "Receive the device",
    "receipt": "Repair receipt",
    "begin-qc": "Begin the quality check",
    "finish-qc": "Finish the check",
    "failed-items": "Failed items",
    "hand-over": "Hand the device over",
    "warranty-until": "Warranty until",
    "your-quote": "Your quote",
    "approve": "Approve",
    "approved-now": "You approved the quote; the repair will start soon",
    "approved-thanks": "Thank you. You approved the quote; we will start the repair soon.",
    "history": "What has happened so far",
}


def chinese_labels(live_server: LiveServer) -> dict[str, str]:
    """The Chinese the server shows for the texts asserted below, from its catalog; each must be
    Chinese (contain CJK characters), not the English fallback of a missing translation."""
    from flask_babel import force_locale, gettext

    from repairqc.repairs.models import QCCheckStatus
    from repairqc.repairs.models import RepairOrderStatus as S

    with server_app(live_server) as app, app.test_request_context(), force_locale(ZH):
        labels = {status.value: status.label for status in S}
        labels |= {f"check-{status.value}": status.label for status in QCCheckStatus}
        labels["critical"] = gettext("Critical")
        labels |= {key: gettext(message) for key, message in MESSAGES.items()}
    wanted = ["received", "diagnosing", "quoted", "approved", "in_repair", "qc", "ready", "delivered",
              "check-passed", "check-failed", "critical", *MESSAGES]  # fmt: skip
    untranslated = [key for key in wanted if not CJK.search(labels[key])]
    assert not untranslated, f"no Chinese translation for {untranslated}: {labels}"
    return labels


def order_record(live_server: LiveServer, order_id: int) -> dict:
    from repairqc.db import db, tenant_context
    from repairqc.repairs.models import OrderPhoto, RepairOrder, Signature
    from repairqc.tenants.models import Tenant

    with server_app(live_server) as app, app.app_context():
        tenant = db.control.execute(sa.select(Tenant).where(Tenant.slug == "demo")).scalar_one().ref
        with tenant_context(tenant):
            order = db.session.get(RepairOrder, order_id)
            signatures = db.session.execute(
                sa.select(Signature.purpose).where(Signature.order_id == order_id).order_by(Signature.id)
            ).scalars()
            photos = db.session.execute(
                sa.select(OrderPhoto.stage).where(OrderPhoto.order_id == order_id).order_by(OrderPhoto.id)
            ).scalars()
            return {
                "status": order.status.value,
                "passcode": order.device.passcode,
                "language": order.customer.language,
                "delivered_on": order.delivered_at.date() if order.delivered_at else None,
                "warranty_days": order.warranty_days,
                "warranty_until": order.warranty_until,
                "signatures": [purpose.value for purpose in signatures],
                "photos": [stage.value for stage in photos],
            }


def zh_medium_date(day: date) -> str:
    from babel.dates import format_date

    return format_date(day, "medium", locale=ZH)


# --- the steps ---------------------------------------------------------------------------------------


def expect_status(page: Page, label: str) -> None:
    expect(page.get_by_test_id("order-header").get_by_test_id("status")).to_have_text(label)


def answer_checklist(page: Page, photo: Path, *, failing: str | None = None) -> None:
    """Every item passes (measured values within tolerance, a photo where one is asked for),
    except `failing`."""
    form = page.get_by_test_id("qc-form")
    expect(form).to_be_visible()
    rows = form.locator("tr[data-testid^='qc-item-']")
    codes = [
        code.removeprefix("qc-item-") for code in rows.evaluate_all("rs => rs.map(r => r.dataset.testid)")
    ]
    assert FAILED_ITEM in codes and set(MEASURED) <= set(codes), codes
    for code in codes:
        row = form.get_by_test_id(f"qc-item-{code}")
        if row.locator("input[type=radio]").count():
            tick(row.locator(f"input[type=radio][value={'fail' if code == failing else 'pass'}]"))
        elif row.locator("input[type=number]").count():
            row.locator("input[type=number]").fill(MEASURED[code])
        elif row.locator("input[type=file]").count():
            row.locator("input[type=file]").set_input_files(str(photo))
        else:
            row.locator("textarea").fill("OK")


def test_repair_from_intake_to_delivery_in_chinese(
    page: Page,
    chromium_browser: Browser,
    contexts: list[BrowserContext],
    live_server: LiveServer,
    tmp_path: Path,
):
    labels = chinese_labels(live_server)
    desk = page
    board_url = live_server.tenant_url("demo", "/admin/repairs/")

    # 1. The front desk receives the phone (HB §2.1.2(1)), in Chinese.
    sign_in(desk, live_server, FRONT_DESK)
    choose_language(desk, ZH)
    desk.goto(board_url)
    expect(desk.get_by_test_id("board")).to_be_visible()
    desk.get_by_test_id("receive-device").click()
    expect(desk).to_have_url(re.compile(r"/admin/repairs/intake/$"))
    expect(desk.locator("html")).to_have_attribute("lang", "zh-Hans")
    expect(desk.get_by_test_id("intake").locator("select[name=category]")).to_contain_text("智能手机")

    desk.locator("#q").fill(PHONE)
    desk.get_by_test_id("search-customer").click()
    expect(desk).to_have_url(re.compile(r"/admin/repairs/intake/\?.*q="))
    expect(desk.get_by_test_id("no-match")).to_be_visible()
    expect(desk.locator("#customer-new")).to_be_checked()
    expect(desk.locator("input[name=new_phone]")).to_have_value(PHONE)  # pre-filled from the search

    form = desk.get_by_test_id("intake-form")
    form.locator("input[name=new_name]").fill(CUSTOMER)
    form.locator("input[name=new_email]").fill(EMAIL)
    form.locator("select[name=new_language]").select_option(label="简体中文")
    form.locator("select[name=category]").select_option("smartphone")
    form.locator("input[name=brand]").fill("Apple")
    form.locator("input[name=model]").fill("iPhone 15")
    form.locator("input[name=imei]").fill(IMEI)
    form.locator("input[name=passcode]").fill(PASSCODE)
    for condition in ("scratches", "screen_cracked"):
        tick(form.locator(f"input[name=condition_checks][value={condition}]"))
    form.locator("textarea[name=condition_notes]").fill("右上角有磕碰")
    form.locator("textarea[name=accessories]").fill("手机壳")
    form.locator("input[name=photos]").set_input_files(str(png(tmp_path / "intake.png", (200, 30, 30))))
    form.locator("textarea[name=fault_symptoms]").fill(FAULT)
    form.locator("textarea[name=customer_requirements]").fill("保留数据")
    form.locator("input[name=signer_name]").fill(CUSTOMER)
    sign(desk, signature_field(form))
    expect(desk.get_by_test_id("submit-intake")).to_have_text(labels["receive"])
    desk.get_by_test_id("submit-intake").click()

    expect(desk).to_have_url(re.compile(r"/admin/repairs/intake/receipt/\d+$"))
    order_id = int(desk.url.rsplit("/", 1)[1])
    order_url = live_server.tenant_url("demo", f"/admin/repairs/orders/{order_id}/")
    receipt = desk.get_by_test_id("receipt")
    expect(receipt).to_have_attribute("lang", "zh-Hans")
    expect(receipt.get_by_test_id("receipt-store")).to_contain_text(labels["receipt"])
    number = desk.get_by_test_id("order-number").inner_text().strip()
    assert re.fullmatch(r"\S+", number), number
    expect(receipt.get_by_test_id("receipt-store")).to_contain_text("FixFast Downtown")
    details = receipt.get_by_test_id("receipt-details")
    expect(details).to_contain_text(CUSTOMER)
    expect(details).to_contain_text("智能手机")
    expect(details).to_contain_text(IMEI)
    expect(details).not_to_contain_text(PASSCODE)
    expect(receipt.get_by_test_id("receipt-fault")).to_have_text(FAULT)
    expect(receipt.get_by_test_id("receipt-photos").locator("img")).to_have_count(1)
    expect(receipt.get_by_test_id("receipt-signature").locator("img")).to_be_visible()
    tracking_link = receipt.get_by_test_id("tracking-link").inner_text().strip()
    assert tracking_link.startswith(live_server.tenant_url("demo", "/track/")), tracking_link

    desk.get_by_test_id("order-link").click()
    expect(desk).to_have_url(order_url)
    expect_status(desk, labels["received"])
    expect(desk.get_by_test_id("records").locator("#tracking-link")).to_have_value(
        re.compile("^" + re.escape(live_server.tenant_url("demo", "/track/")))
    )

    # 2. The technician diagnoses and sends the quote (HB §2.1.2(2)-(3)).
    tech = new_page(contexts, chromium_browser)
    sign_in(tech, live_server, TECHNICIAN)
    choose_language(tech, ZH)
    tech.goto(board_url)
    card = tech.get_by_test_id("column-received").locator(f"[data-testid=card][data-order-id='{order_id}']")
    expect(card).to_contain_text(CUSTOMER)
    card.get_by_test_id("card-number").click()
    expect(tech).to_have_url(order_url)
    expect_status(tech, labels["received"])
    expect(tech.get_by_test_id("device")).to_contain_text("智能手机")

    tech.get_by_test_id("start-diagnosis").click()
    expect_status(tech, labels["diagnosing"])
    expect(tech.get_by_test_id("technician")).to_have_text("Tom Technician")
    tech.get_by_test_id("show-passcode").click()  # the assigned technician only, this response only
    expect(tech.get_by_test_id("passcode-value")).to_have_text(PASSCODE)
    tech.goto(order_url)
    expect(tech.get_by_test_id("passcode")).to_have_count(0)

    diagnosis = tech.get_by_test_id("diagnosis-form")
    diagnosis.locator("[name='diagnosis-cause']").fill("屏幕排线松动")
    diagnosis.locator("[name='diagnosis-plan']").fill("更换屏幕排线")
    diagnosis.locator("[name='diagnosis-repair_type']").select_option("parts-replacement")
    diagnosis.locator("[name='diagnosis-minutes']").fill("20")
    tech.get_by_test_id("diagnosis-submit").click()
    expect(tech.get_by_test_id("diagnosis-summary")).to_contain_text("屏幕排线松动")

    row = tech.get_by_test_id("quote-form").get_by_test_id("quote-row").first
    row.locator("select[name$='-kind']").select_option("labour")
    row.locator("input[name$='-description']").fill("更换屏幕排线")
    row.locator("input[name$='-quantity']").fill("1")
    row.locator("input[name$='-unit_price']").fill("150.00")
    row.locator("input[name$='-tax_rate']").fill("6")
    tech.get_by_test_id("quote-send").click()
    expect_status(tech, labels["quoted"])
    expect(tech.get_by_test_id("quote-1").get_by_test_id("quote-total")).to_have_text("159.00")

    # 3. The customer approves the quote on the tracking page: no session, a Chinese browser.
    customer = new_page(
        contexts,
        chromium_browser,
        locale="zh-CN",
        viewport={"width": 414, "height": 896},
        extra_http_headers={"Accept-Language": "zh-CN,zh;q=0.9"},
    )
    customer.goto(tracking_link)
    expect(customer.locator("html")).to_have_attribute("lang", "zh-Hans")
    expect(customer.get_by_test_id("tracking-languages").locator("strong")).to_have_text("简体中文")
    header = customer.get_by_test_id("tracking-header")
    expect(header).to_contain_text(number)
    expect(header).to_contain_text("FixFast Downtown")
    expect(header).to_contain_text(CUSTOMER)
    tracking = customer.get_by_test_id("tracking")
    for private in (PHONE, EMAIL, IMEI, PASSCODE, "Tom Technician"):  # HB §6.1.2
        expect(tracking).not_to_contain_text(private)
    expect(customer.get_by_test_id("tracking-timeline")).to_contain_text(labels["history"])
    quote = customer.get_by_test_id("tracking-quote")
    expect(quote.locator("h2")).to_have_text(labels["your-quote"])
    expect(quote.get_by_test_id("approve-quote")).to_have_text(labels["approve"])
    expect(quote.get_by_test_id("quote-total")).to_have_text("159.00")
    expect(quote.get_by_test_id("quote-lines")).to_contain_text("更换屏幕排线")
    quote.locator("#signer_name").fill(CUSTOMER)
    sign(customer, signature_field(quote))
    customer.get_by_test_id("approve-quote").click()
    expect(customer.get_by_test_id("tracking-quote")).to_have_count(0)
    expect(customer.get_by_role("alert").filter(has_text=labels["approved-thanks"])).to_be_visible()
    expect(customer.get_by_test_id("tracking-status")).to_have_text(labels["approved-now"])
    expect(customer.locator("[data-testid=timeline-event].current")).to_have_attribute(
        "data-status", "approved"
    )
    expect(customer.locator("html")).to_have_attribute("lang", "zh-Hans")
    expect(customer.get_by_test_id("tracking-error")).to_have_count(0)

    # 4. The technician repairs and sends the phone to QC (HB §2.1.2(4)).
    tech.goto(order_url)
    expect_status(tech, labels["approved"])
    expect(tech.get_by_test_id("quote-section")).to_contain_text(CUSTOMER)  # who approved, online
    tech.get_by_test_id("start-repair").click()
    expect_status(tech, labels["in_repair"])
    work = tech.get_by_test_id("work-form")
    work.locator("[name='work-step']").fill("拆机，更换屏幕排线")
    work.locator("[name='work-minutes']").fill("35")
    work.locator("[name='work-equipment']").fill("加热台、精密螺丝刀")
    tech.get_by_test_id("work-submit").click()
    expect(tech.get_by_test_id("work-logs")).to_contain_text("拆机，更换屏幕排线")
    tech.get_by_test_id("send-to-qc").click()
    expect_status(tech, labels["qc"])

    # 5. The inspector fails a critical item, then passes the rework (HB §5.1.3(5), §5.2.2).
    inspector = new_page(contexts, chromium_browser)
    sign_in(inspector, live_server, INSPECTOR)
    choose_language(inspector, ZH)
    inspector.goto(order_url)
    expect_status(inspector, labels["qc"])
    inspector.get_by_test_id("qc-link").click()
    qc_url = re.compile(rf"/admin/repairs/steps/{order_id}/qc$")
    expect(inspector).to_have_url(qc_url)
    expect(inspector.get_by_test_id("qc-begin")).to_have_text(labels["begin-qc"])
    inspector.get_by_test_id("qc-begin").click()
    expect(inspector).to_have_url(qc_url)
    expect(inspector.get_by_test_id("qc-finish")).to_have_text(labels["finish-qc"])
    failing_row = inspector.get_by_test_id(f"qc-item-{FAILED_ITEM}")
    expect(failing_row).to_contain_text(FAILED_ITEM_ZH)
    expect(failing_row.get_by_test_id("critical")).to_have_text(labels["critical"])
    answer_checklist(inspector, png(tmp_path / "qc-1.png", (30, 160, 30)), failing=FAILED_ITEM)
    inspector.get_by_test_id("qc-finish").click()
    expect(inspector).to_have_url(order_url)
    expect_status(inspector, labels["in_repair"])
    latest = inspector.get_by_test_id("timeline").get_by_test_id("event").first
    expect(latest).to_contain_text(labels["in_repair"])
    expect(latest.get_by_test_id("failed-items")).to_contain_text(FAILED_ITEM_ZH)
    expect(latest.get_by_test_id("failed-items")).to_contain_text(labels["failed-items"])

    tech.goto(order_url)
    expect_status(tech, labels["in_repair"])
    expect(tech.get_by_test_id("timeline").get_by_test_id("failed-items")).to_contain_text(FAILED_ITEM_ZH)
    work = tech.get_by_test_id("work-form")
    work.locator("[name='work-step']").fill("重新安装排线并测试触控")
    work.locator("[name='work-minutes']").fill("15")
    tech.get_by_test_id("work-submit").click()
    expect(tech.get_by_test_id("work-logs")).to_contain_text("重新安装排线并测试触控")
    tech.get_by_test_id("send-to-qc").click()
    expect_status(tech, labels["qc"])

    inspector.goto(order_url)
    inspector.get_by_test_id("qc-link").click()
    expect(inspector).to_have_url(qc_url)
    inspector.get_by_test_id("qc-begin").click()
    answer_checklist(inspector, png(tmp_path / "qc-2.png", (30, 30, 200)))
    inspector.get_by_test_id("qc-finish").click()
    expect(inspector).to_have_url(order_url)
    expect_status(inspector, labels["ready"])
    inspector.goto(live_server.tenant_url("demo", f"/admin/repairs/steps/{order_id}/qc"))
    expect(inspector.get_by_test_id("qc-not-waiting")).to_be_visible()
    past = inspector.get_by_test_id("qc-past").locator("tbody tr")
    expect(past).to_have_count(2)
    expect(past.nth(0)).to_contain_text(labels["check-passed"])
    expect(past.nth(1)).to_contain_text(labels["check-failed"])
    expect(past.nth(1)).to_contain_text(FAILED_ITEM_ZH)

    # 6. The front desk takes the payment and hands the phone over (HB §2.1.2(5)).
    desk.goto(order_url)
    expect_status(desk, labels["ready"])
    desk.get_by_test_id("delivery-link").click()
    expect(desk).to_have_url(re.compile(rf"/admin/repairs/steps/{order_id}/delivery$"))
    expect(desk.get_by_test_id("order-status")).to_have_text(labels["ready"])
    expect(desk.get_by_test_id("amount-due")).to_have_text("159.00")
    remaining = desk.get_by_test_id("amount-remaining")
    expect(remaining).to_have_text("159.00")
    payment = desk.get_by_test_id("payment-form")
    payment.locator("input[name=amount]").fill(remaining.inner_text().replace(",", ""))
    payment.locator("select[name=method]").select_option("mobile")
    payment.locator("input[name=reference]").fill("WX-20240001")
    desk.get_by_test_id("record-payment").click()
    expect(desk.get_by_test_id("paid-in-full")).to_be_visible()
    expect(desk.get_by_test_id("amount-remaining")).to_have_text("0.00")
    expect(desk.get_by_test_id("payments")).to_contain_text("WX-20240001")

    acceptance = desk.get_by_test_id("acceptance-form")
    tick(acceptance.locator("input[name=confirmed_fixed]"))
    acceptance.locator("input[name=signer_name]").fill(CUSTOMER)
    sign(desk, signature_field(acceptance))
    expect(desk.get_by_test_id("deliver")).to_have_text(labels["hand-over"])
    desk.get_by_test_id("deliver").click()
    expect(desk).to_have_url(order_url)
    expect_status(desk, labels["delivered"])

    record = order_record(live_server, order_id)
    assert record["status"] == "delivered"
    assert record["passcode"] is None  # erased when the device left the store (HB §6.1.2)
    assert record["language"] == ZH
    assert record["warranty_days"] == 90  # standards v1: smartphone parts replacement
    assert record["warranty_until"] == record["delivered_on"] + timedelta(days=90)
    assert record["signatures"] == ["intake_terms", "quote_approval", "acceptance"]
    assert record["photos"] == ["intake", "qc", "qc"]
    facts = desk.get_by_test_id("order-facts")
    expect(facts).to_contain_text(labels["warranty-until"])
    expect(facts).to_contain_text(zh_medium_date(record["warranty_until"]))
    expect(desk.get_by_test_id("warranty-link")).to_be_visible()
    expect(desk.get_by_test_id("records").get_by_test_id("signatures").locator("li")).to_have_count(3)
    expect(desk.get_by_test_id("records").get_by_test_id("photos").locator("img")).to_have_count(3)

    # The customer's page says it is picked up, still in Chinese.
    customer.goto(tracking_link)
    expect(customer.locator("[data-testid=timeline-event].current")).to_have_attribute(
        "data-status", "delivered"
    )
    expect(customer.locator("html")).to_have_attribute("lang", "zh-Hans")

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    desk.screenshot(path=str(SCREENSHOT), full_page=True)
