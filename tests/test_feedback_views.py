"""The follow-up, survey and customer-profile screens and the customer's survey page, on both
databases, driven as a browser would; with isolation between stores and between tenants.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from flask_babel import force_locale, gettext

from repairqc.complaints.models import Complaint, ComplaintChannel
from repairqc.db import db, utcnow
from repairqc.feedback import services
from repairqc.feedback.models import (
    FollowUp,
    FollowUpAttempt,
    FollowUpChannel,
    FollowUpOutcome,
    FollowUpStatus,
    SatisfactionSurvey,
    SurveyChannel,
    SurveyStatus,
)
from repairqc.repairs import services as repairs
from repairqc.repairs.models import RepairOrder, RepairOrderStatus
from tests.conftest import SIGNATURE, csrf_token_from, in_tenant, sign_in, staff, store
from tests.htmlforms import _FormReader
from tests.test_feedback_services import delivered_order

TODAY = date.today()
FOLLOW_UPS = "/admin/follow-ups/"
SURVEYS = "/admin/surveys/"
SCORES = {"timeliness": "5", "quality": "4", "attitude": "5", "price": "4"}


@pytest.fixture(autouse=True)
def _generous_rate_limit(app, monkeypatch):
    # The limiter's memory storage lives as long as the session; the rate-limit test sets its own.
    monkeypatch.setitem(app.config, "SURVEY_RATE_LIMIT", "1000 per hour")


def url(tenant) -> str:
    return f"http://{tenant.host}"


def get(client, tenant, path: str, **kwargs):
    return client.get(path, base_url=url(tenant), **kwargs)


def post(client, tenant, path: str, data: dict, **kwargs):
    return client.post(path, base_url=url(tenant), data=data, **kwargs)


def sign_in_as(client, tenant, key: str) -> None:
    client.post("/logout", base_url=url(tenant))
    assert sign_in(client, tenant, key).status_code == 302


def form_fields(html: str, testid: str) -> dict[str, str]:
    match = re.search(rf'<form[^>]*data-testid="{testid}".*?</form>', html, re.S)
    assert match, f"no form {testid!r} on the page"
    reader = _FormReader()
    reader.feed(match.group(0))
    return dict(reader.forms[0])


def delivered(app, tenant, store_name: str = "S1", *, days_ago: int = 0, **kwargs) -> dict:
    """A delivery `days_ago` days back (its follow-ups due from then), committed; its ids."""
    with in_tenant(app, tenant):
        order = delivered_order(tenant, store_name, **kwargs)
        for follow_up in follow_ups(order):  # as if delivered then (the tenant's standard is from today)
            follow_up.due_on -= timedelta(days=days_ago)
        survey = services.survey_of(order)
        ids = {
            "order": order.id,
            "number": order.number,
            "customer": order.customer_id,
            "survey": survey.id,
            "follow_ups": [f.id for f in sorted(follow_ups(order), key=lambda f: f.sequence)],
        }
        db.session.commit()
    return ids


def follow_ups(order: RepairOrder) -> list[FollowUp]:
    return list(db.session.scalars(sa.select(FollowUp).where(FollowUp.order_id == order.id)))


def survey_link(app, tenant, survey_id: int) -> str:
    """Send the survey (as the dispatch job does) and return its link's path."""
    with in_tenant(app, tenant):
        survey = db.session.get(SatisfactionSurvey, survey_id)
        services.send_survey(survey, now=survey.send_after)
        token = services.survey_token(survey)
        db.session.commit()
    return f"/survey/{token}"


# --- the due list and one follow-up ------------------------------------------------------------------------


def test_the_due_list_shows_the_stores_follow_ups_with_the_customers_history(app, client, alpha):
    overdue = delivered(app, alpha, days_ago=10)  # first follow-up due 7 days ago
    due_today = delivered(app, alpha, days_ago=3)
    other_store = delivered(app, alpha, "S2", days_ago=3)
    sign_in_as(client, alpha, "frontdesk")
    page = get(client, alpha, FOLLOW_UPS)
    assert page.status_code == 200
    sections = {
        key: re.search(rf'data-testid="section-{key}".*?</section>', page.text, re.S).group(0)
        for key in ("overdue", "today", "next")
    }
    assert overdue["number"] in sections["overdue"] and due_today["number"] in sections["today"]
    assert overdue["number"] not in sections["today"]
    assert other_store["number"] not in page.text and alpha.store_sentinel("S2") not in page.text
    # each row: a link to the customer profile and the customer's orders
    assert f"/admin/customer-profile/{due_today['customer']}/" in sections["today"]
    assert f"/admin/follow-ups/{due_today['follow_ups'][0]}/" in sections["today"]

    sign_in_as(client, alpha, "owner")  # HQ: every store, or one chosen
    everything = get(client, alpha, FOLLOW_UPS).text
    assert other_store["number"] in everything and due_today["number"] in everything
    only_s2 = get(client, alpha, FOLLOW_UPS, query_string={"store": alpha.store_ids["S2"]}).text
    assert other_store["number"] in only_s2 and due_today["number"] not in only_s2
    assert get(client, alpha, FOLLOW_UPS, query_string={"store": "999999"}).status_code == 404

    sign_in_as(client, alpha, "tech")  # technicians do not make the calls
    assert get(client, alpha, FOLLOW_UPS).status_code in (302, 403)


def test_the_due_list_names_last_survey_and_open_complaints(app, client, alpha):
    first = delivered(app, alpha, days_ago=3)
    with in_tenant(app, alpha):  # the same customer's earlier answer was poor: a complaint is open
        customer = db.session.get(RepairOrder, first["order"]).customer
        earlier = repairs.receive_order(
            store(alpha, "S1"),
            staff(alpha, "frontdesk"),
            repairs.Intake(
                category="smartphone",
                brand="Apple",
                model="iPad",
                fault_symptoms="Battery",
                signer_name="Li Wei",
                signature_data_url=SIGNATURE,
                customer_id=customer.id,
            ),
        )
        earlier.status = RepairOrderStatus.READY
        db.session.flush()
        repairs.deliver(
            earlier,
            staff(alpha, "frontdesk"),
            signer_name="Li Wei",
            signature_data_url=SIGNATURE,
            confirmed_fixed=True,
            today=TODAY,
        )
        complaint = services.answer_online(
            services.survey_of(earlier), services.Answers(2, 3, 3, 3), language="en"
        ).complaint
        number = complaint.number
        db.session.commit()
    sign_in_as(client, alpha, "frontdesk")
    row = re.search(
        rf'data-order="{first["number"]}".*?</tr>', get(client, alpha, FOLLOW_UPS).text, re.S
    ).group(0)
    assert "Last survey: 2.8 of 5" in row and number in row and "1 open complaint" in row


def test_recording_a_follow_up_from_its_page(app, client, alpha, beta):
    ids = delivered(app, alpha, days_ago=3)
    first, second = ids["follow_ups"]
    sign_in_as(client, alpha, "frontdesk")
    path = f"{FOLLOW_UPS}{first}/"
    page = get(client, alpha, path)
    assert page.status_code == 200 and ids["number"] in page.text
    data = form_fields(page.text, "record-form")
    data.update({"record-channel": "phone", "record-outcome": "not_reached", "record-notes": "No answer"})
    assert post(client, alpha, f"{path}record", data).status_code == 302
    with in_tenant(app, alpha):
        follow_up = db.session.get(FollowUp, first)
        assert follow_up.status is FollowUpStatus.OPEN and follow_up.attempts == 1
    stale = dict(data, **{"record-outcome": "satisfied"})  # the page's old version
    assert post(client, alpha, f"{path}record", stale).status_code == 409
    data = form_fields(get(client, alpha, path).text, "record-form")
    assert post(client, alpha, f"{path}record", dict(data, **{"record-outcome": ""})).status_code == 400
    data.update({"record-channel": "wechat", "record-outcome": "satisfied", "record-notes": "Works well"})
    done = post(client, alpha, f"{path}record", data, follow_redirects=True)
    assert "The follow-up is recorded." in done.text and 'data-testid="record-form"' not in done.text
    assert done.text.count('data-testid="attempt"') == 2
    with in_tenant(app, alpha):
        follow_up = db.session.get(FollowUp, first)
        assert follow_up.status is FollowUpStatus.DONE and follow_up.notes == "Works well"

    # a problem reported opens a complaint in the category chosen
    data = form_fields(get(client, alpha, f"{FOLLOW_UPS}{second}/").text, "record-form")
    data.update(
        {"record-channel": "phone", "record-outcome": "problem", "record-notes": "Loud speaker crackles"}
    )
    opened = post(client, alpha, f"{FOLLOW_UPS}{second}/record", data, follow_redirects=True)
    assert opened.status_code == 200 and 'data-testid="follow-up-complaint"' in opened.text
    with in_tenant(app, alpha):
        complaint = db.session.get(Complaint, db.session.get(FollowUp, second).complaint_id)
        assert complaint.channel is ComplaintChannel.FOLLOW_UP and complaint.order_id == ids["order"]


def test_follow_ups_of_other_stores_and_tenants_are_not_found(app, client, alpha, beta):
    s2 = delivered(app, alpha, "S2")
    theirs = delivered(app, beta, "S1")
    sign_in_as(client, alpha, "frontdesk")
    for follow_up_id in (s2["follow_ups"][0], theirs["follow_ups"][0]):
        assert get(client, alpha, f"{FOLLOW_UPS}{follow_up_id}/").status_code == 404
        refused = post(
            client,
            alpha,
            f"{FOLLOW_UPS}{follow_up_id}/record",
            {"version": "1", "record-channel": "phone", "record-outcome": "satisfied"},
        )
        assert refused.status_code == 404
    with in_tenant(app, alpha):
        assert db.session.get(FollowUp, s2["follow_ups"][0]).attempts == 0
    with in_tenant(app, beta):
        assert db.session.get(FollowUp, theirs["follow_ups"][0]).attempts == 0


# --- staff entry of a survey (HB §6.3.1) ------------------------------------------------------------------


def test_the_desk_enters_an_answer_taken_by_phone_once(app, client, alpha):
    ids = delivered(app, alpha)
    sign_in_as(client, alpha, "frontdesk")
    path = f"{SURVEYS}order/{ids['order']}/"
    data = form_fields(get(client, alpha, path).text, "staff-survey-form")
    data.update({f"survey-{k}": v for k, v in SCORES.items()})
    data.update(
        {"survey-channel": "phone", "survey-comment": "Said it was fine", "survey-would_recommend": "yes"}
    )
    saved = post(client, alpha, path, data, follow_redirects=True)
    assert "The survey answer is recorded." in saved.text and "Said it was fine" in saved.text
    assert 'data-testid="staff-survey-form"' not in saved.text
    with in_tenant(app, alpha):
        survey = db.session.get(SatisfactionSurvey, ids["survey"])
        assert survey.channel is SurveyChannel.PHONE and survey.entered_by_id == staff(alpha, "frontdesk").id
    again = post(
        client, alpha, path, dict(data, **{"survey-timeliness": "1", "version": str(survey.version)})
    )
    assert again.status_code == 409 and "already answered" in again.text
    with in_tenant(app, alpha):
        assert db.session.get(SatisfactionSurvey, ids["survey"]).timeliness == 5


def test_a_low_score_entered_by_staff_opens_a_complaint_and_says_so(app, client, alpha, beta):
    ids = delivered(app, alpha)
    sign_in_as(client, alpha, "manager")
    path = f"{SURVEYS}order/{ids['order']}/"
    data = form_fields(get(client, alpha, path).text, "staff-survey-form")
    data.update(
        {f"survey-{k}": v for k, v in SCORES.items()} | {"survey-price": "1", "survey-channel": "paper"}
    )
    saved = post(client, alpha, path, data, follow_redirects=True)
    assert "The low score opened complaint" in saved.text and 'data-testid="survey-complaint"' in saved.text
    # another tenant's order, another store's for a store user: not found
    other = delivered(app, beta)
    assert get(client, alpha, f"{SURVEYS}order/{other['order']}/").status_code == 404
    s2 = delivered(app, alpha, "S2")
    assert get(client, alpha, f"{SURVEYS}order/{s2['order']}/").status_code == 404
    assert post(client, alpha, f"{SURVEYS}order/{s2['order']}/", data).status_code == 404
    sign_in_as(client, alpha, "frontdesk")
    listing = get(client, alpha, SURVEYS).text
    assert ids["number"] in listing and s2["number"] not in listing


# --- the customer's page -----------------------------------------------------------------------------------


def test_the_customer_answers_in_chinese_and_a_low_score_gets_a_kind_answer(app, client, alpha):
    ids = delivered(app, alpha, language="zh_Hans_CN")
    link = survey_link(app, alpha, ids["survey"])
    page = get(client, alpha, link)
    assert page.status_code == 200 and '<html lang="zh-Hans">' in page.text  # the customer's language
    assert page.headers["Cache-Control"] == "no-store" and page.headers["X-Robots-Tag"] == "noindex"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "+86 138" not in page.text and "li@example.com" not in page.text  # nothing private
    data = form_fields(page.text, "survey-form")
    data.update(SCORES | {"attitude": "1", "comment": "店员态度很差"})
    answered = post(client, alpha, link, data)
    assert answered.status_code == 302 and answered.location.endswith(link)
    thanks = get(client, alpha, link)
    assert 'data-testid="survey-answered"' in thanks.text and 'data-testid="survey-sorry"' in thanks.text
    sorry = re.search(r'data-testid="survey-sorry">(.*?)</div>', thanks.text, re.S).group(1)
    assert "24" in sorry and '<html lang="zh-Hans">' in thanks.text  # within 24 hours
    with in_tenant(app, alpha):
        survey = db.session.get(SatisfactionSurvey, ids["survey"])
        assert survey.channel is SurveyChannel.ONLINE and survey.language == "zh_Hans_CN"
        complaint = db.session.get(Complaint, survey.complaint_id)
        assert complaint.channel is ComplaintChannel.SURVEY and "店员态度很差" in complaint.description
    # the link again, in another browser: already answered; a second answer is refused
    other_browser = app.test_client()
    shown = get(other_browser, alpha, link)
    with app.test_request_context(), force_locale("zh_Hans_CN"):
        already = gettext("This survey has already been answered. Thank you!")
    assert already in shown.text and already != "This survey has already been answered. Thank you!"
    assert 'data-testid="survey-form"' not in shown.text and 'data-testid="survey-sorry"' not in shown.text
    again = post(other_browser, alpha, link, data)
    assert again.status_code == 409 and 'data-testid="survey-answered"' in again.text
    with in_tenant(app, alpha):
        assert (
            db.session.scalar(
                sa.select(sa.func.count()).select_from(Complaint).where(Complaint.survey_id == ids["survey"])
            )
            == 1
        )


def test_the_visitor_may_switch_language(app, client, alpha):
    ids = delivered(app, alpha, language="zh_Hans_CN")
    link = survey_link(app, alpha, ids["survey"])
    switched = get(client, alpha, link, query_string={"lang": "en"})
    assert switched.status_code == 302 and switched.location.endswith(link)
    assert "How did we do?" in get(client, alpha, link).text


def test_bad_answers_are_refused_with_nothing_saved(app, client, alpha):
    ids = delivered(app, alpha)
    link = survey_link(app, alpha, ids["survey"])
    data = form_fields(get(client, alpha, link).text, "survey-form")
    for bad in (
        {**SCORES, "quality": "7"},
        {k: v for k, v in SCORES.items() if k != "price"},
        {**SCORES, "comment": "x" * 2001},
        {**SCORES, "would_recommend": "maybe"},
    ):
        refused = post(client, alpha, link, {**data, **bad})
        assert refused.status_code == 400 and 'data-testid="survey-error"' in refused.text
    with in_tenant(app, alpha):
        assert db.session.get(SatisfactionSurvey, ids["survey"]).answered_at is None


def test_links_that_do_not_work(app, client, alpha, beta):
    ids = delivered(app, alpha)
    link = survey_link(app, alpha, ids["survey"])
    assert get(client, beta, link).status_code == 404  # another tenant's host
    assert post(client, beta, link, SCORES).status_code == 404
    assert get(client, alpha, link[:-3] + "xyz").status_code == 404
    assert get(client, alpha, "/survey/" + "x" * 5000).status_code == 404
    assert client.get(link, base_url="http://localhost").status_code == 404  # the console
    with in_tenant(app, alpha):  # time travel: the link's validity has passed
        survey = db.session.get(SatisfactionSurvey, ids["survey"])
        survey.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    expired = get(client, alpha, link)
    assert expired.status_code == 410 and "expired" in expired.text
    assert post(client, alpha, link, SCORES).status_code == 410


def test_the_answer_needs_the_pages_csrf_token(app, client, alpha, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    ids = delivered(app, alpha)
    link = survey_link(app, alpha, ids["survey"])
    page = get(client, alpha, link).text
    assert post(client, alpha, link, SCORES).status_code == 400
    assert post(client, alpha, link, {**SCORES, "csrf_token": csrf_token_from(page)}).status_code == 302


def test_answers_are_rate_limited_per_address(app, client, alpha, monkeypatch):
    monkeypatch.setitem(app.config, "SURVEY_RATE_LIMIT", "2 per hour")
    ids = delivered(app, alpha)
    link = survey_link(app, alpha, ids["survey"])
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    codes = [
        client.post(
            link, base_url=url(alpha), data={"quality": "9"}, environ_overrides={"REMOTE_ADDR": address}
        ).status_code
        for _ in range(3)
    ]
    assert codes == [400, 400, 429]


# --- the customer profile (HB §6.2.2(3)) ------------------------------------------------------------------


def test_the_profile_shows_everything_of_the_customer_and_nothing_of_another_store(app, client, alpha, beta):
    ids = delivered(app, alpha, days_ago=3)
    with in_tenant(app, alpha):
        order = db.session.get(RepairOrder, ids["order"])
        services.answer_online(
            services.survey_of(order), services.Answers(1, 4, 4, 4, comment="Too slow"), language="en"
        )
        first = db.session.get(FollowUp, ids["follow_ups"][0])
        services.record_follow_up(
            first,
            staff(alpha, "frontdesk"),
            channel=FollowUpChannel.PHONE,
            outcome=FollowUpOutcome.SATISFIED,
            notes="Happy now",
            today=TODAY,
        )
        # the same customer brought another device to S2 (HQ received it there)
        at_s2 = repairs.receive_order(
            store(alpha, "S2"),
            staff(alpha, "owner"),
            repairs.Intake(
                category="smartphone",
                brand="Apple",
                model="iPad S2-ONLY",
                fault_symptoms="Battery",
                signer_name="Li Wei",
                signature_data_url=SIGNATURE,
                customer_id=order.customer_id,
            ),
        )
        s2_number = at_s2.number
        complaint_number = db.session.get(Complaint, services.survey_of(order).complaint_id).number
        db.session.commit()
    sign_in_as(client, alpha, "frontdesk")
    page = get(client, alpha, f"/admin/customer-profile/{ids['customer']}/")
    assert page.status_code == 200
    text = page.text
    assert "+86 138 0013 8000" in text and "li@example.com" in text  # decrypted, as the admin shows
    assert ids["number"] in text and f"/admin/repairs/orders/{ids['order']}/" in text
    assert "Happy now" in text and "Too slow" in text and complaint_number in text
    assert 'data-testid="profile-message"' in text  # the complaint's receipt, the delivery message
    kinds = set(re.findall(r'data-testid="timeline-item" data-kind="(\w+)"', text))
    assert {"order", "follow_up", "survey", "complaint", "message"} <= kinds
    assert s2_number not in text and "S2-ONLY" not in text  # another store's order
    sign_in_as(client, alpha, "owner")
    assert s2_number in get(client, alpha, f"/admin/customer-profile/{ids['customer']}/").text


def test_profiles_of_other_stores_and_tenants_are_not_found(app, client, alpha, beta):
    s2 = delivered(app, alpha, "S2")
    theirs = delivered(app, beta, "S1")
    with in_tenant(app, beta):  # an id beta has and alpha lacks
        only_beta = max(db.session.scalars(sa.select(RepairOrder.customer_id)))
    sign_in_as(client, alpha, "frontdesk")
    assert get(client, alpha, f"/admin/customer-profile/{s2['customer']}/").status_code == 404
    for customer_id in (theirs["customer"], only_beta):
        response = get(client, alpha, f"/admin/customer-profile/{customer_id}/")
        assert response.status_code == 404 or beta.sentinel not in response.text
        assert "SENTINEL-B" not in response.text
    assert get(client, alpha, "/admin/customer-profile/99999999/").status_code == 404


def test_the_order_page_links_to_the_customer_profile(app, client, alpha):
    ids = delivered(app, alpha)
    sign_in_as(client, alpha, "frontdesk")
    page = get(client, alpha, f"/admin/repairs/orders/{ids['order']}/")
    assert f"/admin/customer-profile/{ids['customer']}/" in page.text


def test_the_results_print_on_the_training_evaluation(app, alpha):
    from flask import render_template_string

    with in_tenant(app, alpha), app.test_request_context():
        results = services.satisfaction(None, TODAY, TODAY, technician_id=staff(alpha, "tech").id)
        html = render_template_string("{{ results }}", results=results)
        assert 'data-testid="satisfaction-score"' in html and "87.5" in html


# --- the standard's editor (HB §6.2.2, §6.3 targets) ------------------------------------------------------


def test_qa_edits_the_follow_up_and_survey_targets(app, client, alpha):
    sign_in_as(client, alpha, "qa")
    assert post(client, alpha, "/admin/standards/draft/", {}).status_code == 302
    editor = get(client, alpha, "/admin/standards/2/edit/targets/")
    assert 'name="further_follow_up_days"' in editor.text and 'name="survey_delay_hours"' in editor.text
    data = _FormReader()
    data.feed(editor.text)
    values = next(dict(f) for f in data.forms if any(n == "digest" for n, _v in f))
    bad = post(
        client, alpha, "/admin/standards/2/edit/targets/", {**values, "further_follow_up_days": "30, x"}
    )
    assert bad.status_code == 400 and "separated by commas" in bad.text
    values.update({"further_follow_up_days": "30, 90", "survey_delay_hours": "0", "survey_low_score": "3"})
    assert post(client, alpha, "/admin/standards/2/edit/targets/", values).status_code == 302
    with in_tenant(app, alpha):
        from repairqc.standards.models import StandardVersion

        draft = db.session.execute(sa.select(StandardVersion).where(StandardVersion.number == 2)).scalar_one()
        targets = draft.document["service_targets"]
        assert targets["further_follow_up_days"] == [30, 90] and targets["survey_delay_hours"] == 0
        assert targets["survey_low_score"] == 3 and targets["complaint_warning_hours"] == 4
    version = get(client, alpha, "/admin/standards/2/").text
    assert "Further follow-ups (days after delivery)" in version and "30, 90" in version


def test_the_survey_list_shows_customers_to_call(app, client, alpha):
    ids = delivered(app, alpha, email=None)  # no e-mail, and no SMS provider: the store asks
    with in_tenant(app, alpha):
        survey = db.session.get(SatisfactionSurvey, ids["survey"])
        services.send_survey(survey, now=survey.send_after)
        assert survey.status is SurveyStatus.NO_CHANNEL
        db.session.commit()
    sign_in_as(client, alpha, "frontdesk")
    row = re.search(rf'data-order="{ids["number"]}".*?</tr>', get(client, alpha, SURVEYS).text, re.S).group(0)
    assert "Not sent: ask by phone or on site" in row and f"{SURVEYS}order/{ids['order']}/" in row


def test_a_forged_complaint_category_is_refused_with_nothing_saved(app, client, alpha):
    ids = delivered(app, alpha, days_ago=3)
    first = ids["follow_ups"][0]
    sign_in_as(client, alpha, "frontdesk")
    path = f"{FOLLOW_UPS}{first}/"
    data = form_fields(get(client, alpha, path).text, "record-form")
    data.update({"record-channel": "phone", "record-outcome": "problem", "record-notes": "Crackles"})
    for bad in ("99999999999", "abc", "-3", ""):
        refused = post(client, alpha, f"{path}record", dict(data, **{"record-complaint_category": bad}))
        assert refused.status_code in (400, 422), (bad, refused.status_code)
        assert 'data-testid="refusal"' in refused.text or "invalid-feedback" in refused.text
    with in_tenant(app, alpha):
        follow_up = db.session.get(FollowUp, first)
        assert follow_up.attempts == 0 and follow_up.complaint_id is None and follow_up.is_open
        assert (
            db.session.scalar(
                sa.select(sa.func.count())
                .select_from(FollowUpAttempt)
                .where(FollowUpAttempt.follow_up_id == first)
            )
            == 0
        )


def test_the_due_list_reads_today_on_the_stores_wall_clock(app, client, alpha):
    ids = delivered(app, alpha)
    with in_tenant(app, alpha):
        first = db.session.get(FollowUp, ids["follow_ups"][0])
        shop = first.store
        zone = (
            "Pacific/Kiritimati"  # UTC+14: its day is always ahead of UTC's (or the same date late in UTC's)
        )
        shop.timezone = zone
        local = services.local_day(shop)
        first.due_on = local  # due today for the shop
        db.session.commit()
    try:
        sign_in_as(client, alpha, "frontdesk")
        page = get(client, alpha, FOLLOW_UPS).text
        today_section = page.split('data-testid="section-today"')[1].split("</section>")[0]
        assert f'data-id="{ids["follow_ups"][0]}"' in today_section
    finally:
        with in_tenant(app, alpha):
            db.session.get(FollowUp, ids["follow_ups"][0]).store.timezone = "UTC"
            db.session.commit()


def test_the_profile_timeline_shows_the_complaints_contact_log(app, client, alpha):
    from repairqc.complaints import services as complaints
    from repairqc.complaints.models import ContactMethod

    ids = delivered(app, alpha)
    with in_tenant(app, alpha):
        order = db.session.get(RepairOrder, ids["order"])
        complaint = complaints.open_complaint(
            store=order.store,
            channel=ComplaintChannel.PHONE,
            category_code="price",
            description="Price unclear",
            customer=order.customer,
            order=order,
        )
        number = complaint.number
        db.session.commit()
    with in_tenant(app, alpha):
        complaint = db.session.execute(sa.select(Complaint).where(Complaint.number == number)).scalar_one()
        complaints.log_contact(
            complaint,
            staff(alpha, "manager"),
            channel=ContactMethod.PHONE,
            note="Called back, agreed on a refund",
        )
        db.session.commit()
    sign_in_as(client, alpha, "frontdesk")
    text = get(client, alpha, f"/admin/customer-profile/{ids['customer']}/").text
    assert 'data-kind="complaint_contact"' in text and "Called back, agreed on a refund" in text
