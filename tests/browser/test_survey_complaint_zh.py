"""A low survey score becomes a complaint on the clock, in a real browser (issue #8, HB §6.3,
§9.3.3).

The customer of a delivered demo order prefers Chinese. The survey invitation goes out (the
"survey-dispatch" step, run here through the service so the test does not wait a day); the
customer opens the link with no session in a browser that asks for zh-CN, scores repair quality
1 of 5 and sends the answers. The page apologises in Chinese and names the hours within which
the store will call. The front desk of the store signs in, finds the complaint on the store's
complaint list with its first-contact deadline, opens it and logs the first contact by phone.

Chinese is asserted on catalog strings read from the server's catalog (each must contain CJK
characters, so a missing translation fails the test, a reworded one does not).
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, expect

from .conftest import LiveServer, choose_language, new_page, server_app, sign_in

pytestmark = pytest.mark.browser

ZH = "zh_Hans_CN"
FRONT_DESK = "frontdesk@demo.example.com"
CJK = re.compile(r"[\u4e00-\u9fff]")
COMMENT = "屏幕还是有时候没反应 / the screen still freezes sometimes"


def demo_tenant(app):
    from repairqc.db import db
    from repairqc.tenants.models import Tenant

    with app.app_context():
        return db.control.execute(sa.select(Tenant).where(Tenant.slug == "demo")).scalar_one().ref


def send_a_survey(live_server: LiveServer) -> tuple[str, str]:
    """(the survey link's path, the order number) for a delivered order of the downtown store
    whose customer reads Chinese; the invitation is sent as the dispatch job would send it."""
    from repairqc.db import db, tenant_context, unit_of_work, utcnow
    from repairqc.feedback import services
    from repairqc.feedback.models import SatisfactionSurvey, SurveyStatus
    from repairqc.repairs.models import RepairOrder
    from repairqc.stores.models import Store

    with server_app(live_server) as app:
        tenant = demo_tenant(app)
        with app.test_request_context(), tenant_context(tenant), unit_of_work():
            downtown = db.session.execute(sa.select(Store).where(Store.code == "FF-N01")).scalar_one()
            survey = (
                db.session.execute(
                    sa.select(SatisfactionSurvey)
                    .join(RepairOrder, RepairOrder.id == SatisfactionSurvey.order_id)
                    .where(
                        RepairOrder.store_id == downtown.id,
                        SatisfactionSurvey.status == SurveyStatus.SCHEDULED,
                    )
                    .order_by(SatisfactionSurvey.id)
                )
                .scalars()
                .first()
            )
            assert survey is not None, "the demo has no delivered order at FF-N01 waiting for its survey"
            survey.order.customer.language = ZH
            services.send_survey(survey, now=utcnow() + timedelta(days=1))
            return f"/survey/{services.survey_token(survey)}", survey.order.number


def catalog(live_server: LiveServer) -> dict[str, str]:
    from flask_babel import force_locale, gettext

    with server_app(live_server) as app, app.test_request_context(), force_locale(ZH):
        labels = {
            "send": gettext("Send my answers"),
            "quality": gettext("Repair quality"),
        }
    untranslated = [key for key, text in labels.items() if not CJK.search(text)]
    assert not untranslated, f"no Chinese translation for {untranslated}: {labels}"
    return labels


def complaint_of(live_server: LiveServer, order_number: str) -> dict:
    from repairqc.complaints.models import Complaint, ComplaintChannel
    from repairqc.db import db, tenant_context
    from repairqc.repairs.models import RepairOrder

    with server_app(live_server) as app, app.app_context(), tenant_context(demo_tenant(app)):
        complaint = db.session.execute(
            sa.select(Complaint).join(RepairOrder, RepairOrder.id == Complaint.order_id)
            .where(RepairOrder.number == order_number)
        ).scalar_one()  # fmt: skip
        assert complaint.channel is ComplaintChannel.SURVEY
        return {
            "number": complaint.number,
            "hours": (complaint.first_contact_due_at - complaint.received_at) / timedelta(hours=1),
            "first_contacted_at": complaint.first_contacted_at,
            "language": complaint.language,
        }


def test_a_low_score_in_chinese_opens_a_complaint_the_front_desk_answers(
    live_server: LiveServer, chromium_browser: Browser, contexts: list
):
    labels = catalog(live_server)
    link, order_number = send_a_survey(live_server)

    # The customer: no session, a Chinese browser.
    customer = new_page(contexts, chromium_browser, locale="zh-CN", viewport={"width": 390, "height": 844})
    customer.goto(live_server.tenant_url("demo", link))
    expect(customer.locator("html")).to_have_attribute("lang", "zh-Hans")
    survey = customer.get_by_test_id("survey-form")
    expect(survey).to_contain_text(labels["quality"])
    expect(survey.get_by_test_id("send-survey")).to_have_text(labels["send"])
    for dimension, score in (("timeliness", "4"), ("quality", "1"), ("attitude", "5"), ("price", "4")):
        survey.locator(f"input[name={dimension}][value='{score}']").check()
    survey.locator("input[name=would_recommend][value=no]").check()
    survey.locator("textarea[name=comment]").fill(COMMENT)
    survey.get_by_test_id("send-survey").click()

    sorry = customer.get_by_test_id("survey-sorry")
    expect(sorry).to_be_visible()
    assert CJK.search(sorry.inner_text()), sorry.inner_text()
    expect(sorry).to_contain_text("24")  # the standard's first-contact hours
    expect(customer.get_by_test_id("survey-answered")).to_be_visible()
    # The link is spent: opening it again shows the thanks, never the questions.
    customer.reload()
    expect(customer.get_by_test_id("survey-form")).to_have_count(0)

    complaint = complaint_of(live_server, order_number)
    assert complaint["hours"] == 24 and complaint["first_contacted_at"] is None
    assert complaint["language"] == ZH

    # The front desk of the store.
    desk = new_page(contexts, chromium_browser)
    sign_in(desk, live_server, FRONT_DESK)
    choose_language(desk, "en")
    desk.goto(live_server.tenant_url("demo", "/admin/customer-complaints/"))
    row = desk.get_by_test_id("complaint-row").filter(has_text=complaint["number"])
    expect(row).to_have_count(1)
    expect(row).to_contain_text("FF-N01")
    expect(row).to_contain_text(re.compile(r"\d+ hours? left|left"))
    row.get_by_role("link", name=complaint["number"]).click()
    expect(desk.get_by_test_id("complaint-title")).to_contain_text(complaint["number"])
    expect(desk.get_by_test_id("complaint-deadline")).to_contain_text("First contact due by")
    expect(desk.get_by_test_id("description")).to_contain_text(COMMENT)

    contact = desk.get_by_test_id("contact-form")
    contact.get_by_label("How").select_option("phone")
    contact.get_by_label("What was said").fill(
        "Called the customer; booked a free re-check tomorrow at 10:00"
    )
    contact.get_by_test_id("save-contact").click()
    expect(desk.get_by_test_id("contact-row")).to_contain_text("booked a free re-check")
    assert complaint_of(live_server, order_number)["first_contacted_at"] is not None
