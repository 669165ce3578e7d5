"""Follow-ups and satisfaction surveys (HB §6.2.2, §6.3): the rules, on both databases.

Scheduling at the standard's days (overrides apply), recording follow-ups, the survey link
(single use, expiry, forged or another tenant's), one response per order whoever enters it, a
low score opening one complaint, and the results the KPI and the training evaluation read.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from repairqc.complaints.models import Complaint, ComplaintChannel
from repairqc.db import db, tenant_context, utcnow
from repairqc.errors import Conflict, DomainError, NotFound
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
from repairqc.standards.models import ServiceTargetOverride
from tests.conftest import SIGNATURE, in_tenant, sample_intake, staff, store

TODAY = date.today()
GOOD = services.Answers(5, 4, 5, 4, comment="Quick and friendly", would_recommend=True)


def delivered_order(
    tenant,
    store_name: str = "S1",
    *,
    language: str = "en",
    email: str | None = "li@example.com",
    phone: str | None = "+86 138 0013 8000",
    today: date | None = None,
) -> RepairOrder:
    """A device received, repaired (its technician set) and picked up at `store_name` today."""
    desk = staff(tenant, "frontdesk" if store_name == "S1" else "manager2")
    order = repairs.receive_order(
        store(tenant, store_name),
        desk,
        sample_intake(
            new_customer=repairs.NewCustomer("Li Wei", phone=phone, email=email, language=language)
        ),
    )
    order.technician_id = staff(tenant, "tech" if store_name == "S1" else "tech2").id
    order.status = RepairOrderStatus.READY
    db.session.flush()
    repairs.deliver(
        order,
        desk,
        signer_name="Li Wei",
        signature_data_url=SIGNATURE,
        confirmed_fixed=True,
        today=today or TODAY,
    )
    return order


def follow_ups_of(order: RepairOrder) -> list[FollowUp]:
    return list(
        db.session.scalars(
            sa.select(FollowUp).where(FollowUp.order_id == order.id).order_by(FollowUp.sequence)
        )
    )


# --- scheduling -----------------------------------------------------------------------------------------


def test_delivery_schedules_the_follow_ups_and_the_survey_at_the_standards_days(app, alpha):
    with in_tenant(app, alpha):
        order = delivered_order(alpha)
        follow_ups = follow_ups_of(order)
        assert [(f.sequence, f.days_after, f.due_on) for f in follow_ups] == [
            (1, 3, TODAY + timedelta(days=3)),
            (2, 30, TODAY + timedelta(days=30)),
        ]
        assert {f.status for f in follow_ups} == {FollowUpStatus.OPEN}
        assert {(f.store_id, f.customer_id) for f in follow_ups} == {(order.store_id, order.customer_id)}
        survey = services.survey_of(order)
        assert survey.status is SurveyStatus.SCHEDULED and survey.sent_at is None
        assert survey.send_after == order.delivered_at + timedelta(hours=24)
        assert survey.technician_id == staff(alpha, "tech").id  # kept for the technician's KPI
        # again (a retried delivery step): nothing new
        services.schedule_after_delivery(order, today=TODAY)
        assert len(follow_ups_of(order)) == 2
        assert (
            db.session.scalar(
                sa.select(sa.func.count())
                .select_from(SatisfactionSurvey)
                .where(SatisfactionSurvey.order_id == order.id)
            )
            == 1
        )


def test_chain_and_store_overrides_move_the_first_follow_up(app, alpha, beta):
    with in_tenant(app, beta):  # beta's chain sets the first follow-up at 5 days (tests/conftest.py)
        assert [f.days_after for f in follow_ups_of(delivered_order(beta))] == [5, 30]
    with in_tenant(app, alpha):
        s2 = store(alpha, "S2")
        db.session.add(ServiceTargetOverride(store=s2, target="follow_up_days", value=7, reason="Busy store"))
        db.session.flush()
        assert [f.days_after for f in follow_ups_of(delivered_order(alpha, "S2"))] == [7, 30]
        assert [f.days_after for f in follow_ups_of(delivered_order(alpha, "S1"))] == [3, 30]  # not S2's
        # an override landing on a further day is one follow-up, not two
        db.session.add(
            ServiceTargetOverride(store=store(alpha, "S1"), target="follow_up_days", value=30, reason="x")
        )
        db.session.flush()
        assert [f.days_after for f in follow_ups_of(delivered_order(alpha, "S1"))] == [30]


def test_a_delivered_warranty_rework_gets_its_own_follow_ups_and_survey(app, alpha):
    with in_tenant(app, alpha):
        original = delivered_order(alpha)
        original.warranty_until = TODAY + timedelta(days=90)
        rework = repairs.claim_warranty(
            original, staff(alpha, "frontdesk"), symptoms="Screen flickers", today=TODAY
        )
        rework.status = RepairOrderStatus.READY
        db.session.flush()
        repairs.deliver(
            rework,
            staff(alpha, "frontdesk"),
            signer_name="Li Wei",
            signature_data_url=SIGNATURE,
            confirmed_fixed=True,
            today=TODAY,
        )
        assert len(follow_ups_of(rework)) == 2 and len(follow_ups_of(original)) == 2
        assert services.survey_of(rework).id != services.survey_of(original).id


# --- follow-ups -----------------------------------------------------------------------------------------


def test_the_due_list_holds_open_follow_ups_due_by_the_day_of_the_stores_asked(app, alpha):
    with in_tenant(app, alpha):
        s1, s2 = store(alpha, "S1"), store(alpha, "S2")
        mine, theirs = delivered_order(alpha, "S1"), delivered_order(alpha, "S2")
        first, second = follow_ups_of(mine)
        assert first not in services.due_follow_ups({s1.id}, TODAY + timedelta(days=2))
        due = services.due_follow_ups({s1.id}, TODAY + timedelta(days=3))  # time travel: 3 days on
        assert first in due and second not in due
        assert not {f.store_id for f in due} - {s1.id}
        assert follow_ups_of(theirs)[0] in services.due_follow_ups(None, TODAY + timedelta(days=3))
        assert follow_ups_of(theirs)[0] not in services.due_follow_ups({s1.id}, TODAY + timedelta(days=31))
        services.record_follow_up(
            first,
            staff(alpha, "frontdesk"),
            channel=FollowUpChannel.PHONE,
            outcome=FollowUpOutcome.SATISFIED,
            notes=None,
            today=TODAY,
        )
        assert first not in services.due_follow_ups({s1.id, s2.id}, TODAY + timedelta(days=60))


def test_recording_follow_ups_not_reached_retried_then_closed_reached_done(app, alpha):
    with in_tenant(app, alpha):
        desk = staff(alpha, "frontdesk")
        first, second = follow_ups_of(delivered_order(alpha))
        services.record_follow_up(
            first,
            desk,
            channel=FollowUpChannel.PHONE,
            outcome=FollowUpOutcome.NOT_REACHED,
            notes="No answer",
            today=TODAY,
        )
        assert first.status is FollowUpStatus.OPEN and first.attempts == 1 and first.completed_on is None
        services.record_follow_up(
            first,
            desk,
            channel=FollowUpChannel.SMS,
            outcome=FollowUpOutcome.NOT_REACHED,
            notes="Still nothing",
            give_up=True,
            today=TODAY + timedelta(days=1),
        )
        assert first.status is FollowUpStatus.CLOSED and first.attempts == 2
        assert first.completed_on == TODAY + timedelta(days=1) and first.completed_by_id == desk.id
        log = db.session.scalars(
            sa.select(FollowUpAttempt).where(FollowUpAttempt.follow_up_id == first.id)
        ).all()
        assert [(a.channel, a.outcome, a.notes) for a in log] == [
            (FollowUpChannel.PHONE, FollowUpOutcome.NOT_REACHED, "No answer"),
            (FollowUpChannel.SMS, FollowUpOutcome.NOT_REACHED, "Still nothing"),
        ]
        with pytest.raises(Conflict, match="already recorded"):
            services.record_follow_up(
                first,
                desk,
                channel=FollowUpChannel.PHONE,
                outcome=FollowUpOutcome.SATISFIED,
                notes=None,
                today=TODAY,
            )
        services.record_follow_up(
            second,
            desk,
            channel=FollowUpChannel.WECHAT,
            outcome=FollowUpOutcome.SATISFIED,
            notes="All good",
            today=TODAY,
            expected_version=second.version,
        )
        assert second.status is FollowUpStatus.DONE and second.outcome is FollowUpOutcome.SATISFIED


def test_follow_up_refusals(app, alpha):
    with in_tenant(app, alpha):
        first, second = follow_ups_of(delivered_order(alpha))
        with pytest.raises(Conflict, match="Your role"):  # technicians repair, the desk calls
            services.record_follow_up(
                first,
                staff(alpha, "tech"),
                channel=FollowUpChannel.PHONE,
                outcome=FollowUpOutcome.SATISFIED,
                notes=None,
                today=TODAY,
            )
        with pytest.raises(Conflict, match="Your role"):  # another store's manager
            services.record_follow_up(
                first,
                staff(alpha, "manager2"),
                channel=FollowUpChannel.PHONE,
                outcome=FollowUpOutcome.SATISFIED,
                notes=None,
                today=TODAY,
            )
        with pytest.raises(DomainError, match="problem the customer reported") as problem:
            services.record_follow_up(
                first,
                staff(alpha, "frontdesk"),
                channel=FollowUpChannel.PHONE,
                outcome=FollowUpOutcome.PROBLEM,
                notes=" ",
                today=TODAY,
            )
        assert problem.value.field == "notes"
        with pytest.raises(DomainError, match="under 2000"):
            services.record_follow_up(
                first,
                staff(alpha, "frontdesk"),
                channel=FollowUpChannel.PHONE,
                outcome=FollowUpOutcome.SATISFIED,
                notes="x" * 2001,
                today=TODAY,
            )
        with pytest.raises(Conflict, match="at the same time"):  # the page showed an older version
            services.record_follow_up(
                second,
                staff(alpha, "frontdesk"),
                channel=FollowUpChannel.PHONE,
                outcome=FollowUpOutcome.SATISFIED,
                notes=None,
                today=TODAY,
                expected_version=second.version + 1,
            )
        assert first.attempts == 0 and second.attempts == 0


def test_a_problem_reported_on_a_follow_up_opens_a_complaint_once(app, alpha):
    from repairqc.complaints.services import category_by_code

    with in_tenant(app, alpha):
        desk = staff(alpha, "frontdesk")
        order = delivered_order(alpha)
        first, _second = follow_ups_of(order)
        result = category_by_code("repair_result")
        services.record_follow_up(
            first,
            desk,
            channel=FollowUpChannel.PHONE,
            outcome=FollowUpOutcome.PROBLEM,
            notes="The screen flickers again",
            complaint_category_id=result.id,
            today=TODAY,
        )
        complaint = db.session.get(Complaint, first.complaint_id)
        assert complaint.channel is ComplaintChannel.FOLLOW_UP and complaint.category_id == result.id
        assert complaint.order_id == order.id and complaint.customer_id == order.customer_id
        assert "The screen flickers again" in complaint.description and order.number in complaint.description
        with pytest.raises(Conflict, match="already opened"):
            services.complaint_from_follow_up(first, desk, category_id=result.id)


# --- the survey link --------------------------------------------------------------------------------------


def sent_survey(tenant, **order_args) -> SatisfactionSurvey:
    survey = services.survey_of(delivered_order(tenant, **order_args))
    services.send_survey(survey, now=survey.send_after)
    return survey


def test_the_survey_link_names_one_survey_of_one_tenant_until_it_expires(app, alpha, beta):
    with in_tenant(app, alpha):
        survey = sent_survey(alpha)
        token = services.survey_token(survey)
        assert survey.status is SurveyStatus.SENT
        assert survey.expires_at == survey.sent_at + timedelta(days=30)  # survey_link_valid_days
        assert services.survey_for_token(token, now=survey.sent_at) is survey
        assert services.survey_for_token(token, now=survey.expires_at - timedelta(seconds=1)) is survey
        with pytest.raises(DomainError, match="expired") as expired:  # time travel past the end
            services.survey_for_token(token, now=survey.expires_at)
        assert expired.value.status_code == 410
        for forged in (token[:-2] + ("AA" if token[-2:] != "AA" else "BB"), "not-a-token", ""):
            with pytest.raises(NotFound):
                services.survey_for_token(forged)
        tracking = repairs.tracking_token(survey.order)  # another salt: not a survey link
        with pytest.raises(NotFound):
            services.survey_for_token(tracking)
        nonce = survey.nonce
        survey.nonce = "revoked"
        with pytest.raises(NotFound):
            services.survey_for_token(token)
        survey.nonce = nonce
    with app.app_context(), tenant_context(beta.ref), pytest.raises(NotFound):  # on beta's host
        services.survey_for_token(token)


def test_an_answered_survey_is_never_expired_and_takes_no_second_answer(app, alpha):
    with in_tenant(app, alpha):
        survey = sent_survey(alpha)
        token = services.survey_token(survey)
        services.answer_online(survey, GOOD, language="en", now=survey.sent_at + timedelta(hours=2))
        assert services.survey_for_token(token, now=survey.expires_at + timedelta(days=400)) is survey
        with pytest.raises(Conflict, match="already answered") as again:
            services.answer_online(survey, services.Answers(1, 1, 1, 1), language="en")
        assert again.value.status_code == 409
        with pytest.raises(Conflict, match="already answered"):
            services.enter_response(survey, staff(alpha, "frontdesk"), GOOD, channel=SurveyChannel.PHONE)
        assert (survey.timeliness, survey.channel, survey.comment) == (
            5,
            SurveyChannel.ONLINE,
            "Quick and friendly",
        )


def test_staff_enter_an_answer_from_a_call_visit_or_paper_form_and_the_link_is_then_used(app, alpha):
    with in_tenant(app, alpha):
        survey = sent_survey(alpha)
        desk = staff(alpha, "frontdesk")
        with pytest.raises(DomainError, match="Choose a score") as bad:
            services.enter_response(survey, desk, services.Answers(5, 6, 5, 5), channel=SurveyChannel.PAPER)
        assert bad.value.field == "quality" and survey.answered_at is None
        with pytest.raises(DomainError, match="how the customer answered"):
            services.enter_response(survey, desk, GOOD, channel=SurveyChannel.ONLINE)
        with pytest.raises(Conflict, match="Your role"):
            services.enter_response(survey, staff(alpha, "tech"), GOOD, channel=SurveyChannel.PHONE)
        services.enter_response(
            survey, desk, GOOD, channel=SurveyChannel.PAPER, expected_version=survey.version
        )
        assert survey.status is SurveyStatus.ANSWERED and survey.entered_by_id == desk.id
        assert survey.channel is SurveyChannel.PAPER and survey.language == "en"
        with pytest.raises(Conflict, match="already answered"):
            services.answer_online(survey, GOOD, language="en")


def test_a_low_score_opens_one_complaint_in_the_answers_language(app, alpha):
    with in_tenant(app, alpha):
        survey = sent_survey(alpha, language="zh_Hans_CN")
        answered = services.answer_online(
            survey,
            services.Answers(4, 5, 2, 3, comment="态度不好", would_recommend=False),
            language="zh_Hans_CN",
        )
        complaint = answered.complaint
        assert complaint is not None and survey.complaint_id == complaint.id
        assert complaint.channel is ComplaintChannel.SURVEY and complaint.survey_id == survey.id
        assert complaint.category.code == "service_attitude"  # the lowest dimension
        assert complaint.order_id == survey.order_id and complaint.language == "zh_Hans_CN"
        assert "态度不好" in complaint.description
        assert complaint.first_contact_due_at == complaint.received_at + timedelta(hours=24)
        assert services.contact_hours(complaint, now=complaint.received_at) == 24
        with pytest.raises(Conflict):
            services.enter_response(
                survey, staff(alpha, "frontdesk"), services.Answers(1, 1, 1, 1), channel=SurveyChannel.PHONE
            )
        assert (
            db.session.scalar(
                sa.select(sa.func.count()).select_from(Complaint).where(Complaint.survey_id == survey.id)
            )
            == 1
        )
        # at 3 of 5 nothing is opened (the standard's survey_low_score is 2)
        fair = services.enter_response(
            sent_survey(alpha),
            staff(alpha, "frontdesk"),
            services.Answers(3, 3, 3, 3),
            channel=SurveyChannel.PHONE,
        )
        assert fair.complaint is None and fair.survey.complaint_id is None


def test_the_dispatch_sends_due_surveys_once_and_marks_customers_without_a_channel(app, alpha):
    from repairqc.notifications.models import CustomerMessage, MessageChannel

    with in_tenant(app, alpha):
        by_mail = services.survey_of(delivered_order(alpha))
        by_phone_only = services.survey_of(delivered_order(alpha, email=None))
        due = by_mail.send_after
        assert by_mail.id not in services.dispatch_due_surveys(due - timedelta(minutes=1))
        sent = services.dispatch_due_surveys(due + timedelta(minutes=1))
        assert {by_mail.id, by_phone_only.id} <= set(sent)
        assert by_mail.status is SurveyStatus.SENT and by_phone_only.status is SurveyStatus.NO_CHANNEL
        message = db.session.execute(
            sa.select(CustomerMessage).where(CustomerMessage.event_key == f"survey:{by_mail.id}:invitation")
        ).scalar_one()
        assert message.channel is MessageChannel.EMAIL and message.purpose == "survey"
        assert f"/survey/{services.survey_token(by_mail)}" in message.body
        assert services.dispatch_due_surveys(due + timedelta(hours=5)) == []  # nothing twice


# --- results ---------------------------------------------------------------------------------------------


def test_results_per_store_technician_and_period(app, alpha):
    when = datetime(2025, 3, 10, 9, tzinfo=UTC)
    with in_tenant(app, alpha):
        tech = staff(alpha, "tech")
        s1 = store(alpha, "S1")
        assert services.satisfaction([s1.id], date(2025, 3, 1), date(2025, 3, 31)) is None
        for answers in (
            services.Answers(5, 5, 5, 5, would_recommend=True),
            services.Answers(3, 4, 2, 3, would_recommend=False),
            services.Answers(4, 4, 4, 4),
        ):
            survey = services.survey_of(delivered_order(alpha))
            services.answer_online(survey, answers, language="en", now=when)
        other = services.survey_of(delivered_order(alpha, "S2"))
        services.answer_online(other, services.Answers(1, 1, 1, 1), language="en", now=when)
        results = services.satisfaction([s1.id], date(2025, 3, 1), date(2025, 3, 31))
        assert results.responses == 3
        assert results.averages == {"timeliness": 4.0, "quality": 4.33, "attitude": 3.67, "price": 4.0}
        # means 5, 3, 4 -> 100, 50, 75 -> 75
        assert results.score == 75.0 and results.satisfied_pct == pytest.approx(66.67)
        assert results.recommend_pct == 50.0
        assert services.satisfaction([s1.id], date(2025, 4, 1), date(2025, 4, 30)) is None
        assert services.satisfaction(None, date(2025, 3, 1), date(2025, 3, 31)).responses == 4
        assert (
            services.satisfaction(None, date(2025, 3, 1), date(2025, 3, 31), technician_id=tech.id).responses
            == 3
        )
        from repairqc.assessments.kpis import satisfaction_score
        from repairqc.training.services import satisfaction_for

        assert satisfaction_score(tech.id, [s1.id], date(2025, 3, 1), date(2025, 3, 31)) == 75.0
        assert (
            satisfaction_score(tech.id, [store(alpha, "S2").id], date(2025, 3, 1), date(2025, 3, 31)) is None
        )
        assert satisfaction_for(tech, date(2025, 3, 1), date(2025, 3, 31)).score == 75.0


def test_the_seeded_answers_give_the_technicians_kpi_data_now(app, alpha):
    """The seed answers each store's workflow survey (5, 4, 5, 4): mean 4.5 -> 87.5."""
    from repairqc.assessments.kpis import satisfaction_score

    with in_tenant(app, alpha):
        tech = staff(alpha, "tech")
        assert satisfaction_score(tech.id, None, TODAY, TODAY) == 87.5
        assert satisfaction_score(staff(alpha, "tech2").id, [store(alpha, "S1").id], TODAY, TODAY) is None
        assert utcnow().date() == TODAY


def test_a_customer_with_only_a_phone_gets_the_link_by_text_message(app, alpha, monkeypatch):
    from repairqc.notifications.models import CustomerMessage, MessageChannel

    monkeypatch.setitem(app.config, "SMS_BACKEND", "console")  # the logging provider
    with in_tenant(app, alpha):
        survey = services.survey_of(delivered_order(alpha, email=None))
        services.send_survey(survey, now=survey.send_after)
        assert survey.status is SurveyStatus.SENT
        message = db.session.execute(
            sa.select(CustomerMessage).where(CustomerMessage.event_key == f"survey:{survey.id}:invitation")
        ).scalar_one()
        assert message.channel is MessageChannel.SMS and message.recipient == "+86 138 0013 8000"
        assert f"/survey/{services.survey_token(survey)}" in message.body and len(message.body) < 300


# --- review fixes: store-local days, a broken survey in the batch, old deliveries ---------------------------


def test_follow_ups_count_from_the_stores_own_delivery_day(app, alpha):
    with in_tenant(app, alpha):
        order = delivered_order(alpha)
        order.store.timezone = "Asia/Shanghai"  # UTC+8; rolled back with the test
        # picked up at 23:30 UTC: 07:30 the next morning on the shop's wall clock
        order.delivered_at = datetime.combine(TODAY, datetime.min.time(), tzinfo=UTC) + timedelta(
            hours=23, minutes=30
        )
        for follow_up in follow_ups_of(order):
            db.session.delete(follow_up)
        db.session.flush()
        assert services.delivery_day(order, TODAY) == TODAY + timedelta(days=1)
        services.schedule_after_delivery(order, today=TODAY)
        assert [f.due_on for f in follow_ups_of(order)] == [
            TODAY + timedelta(days=4),
            TODAY + timedelta(days=31),
        ]
        # a call for another day (back-dated, time travel) keeps that day
        assert services.delivery_day(order, TODAY - timedelta(days=2)) == TODAY - timedelta(days=2)
        assert services.local_day(order.store, order.delivered_at) == TODAY + timedelta(days=1)
        order.store.timezone = "Not/AZone"  # a mistyped zone reads as UTC, never an error
        assert services.local_day(order.store, order.delivered_at) == TODAY


def test_one_survey_that_cannot_be_sent_does_not_hold_up_the_others(app, alpha, monkeypatch):
    from repairqc.notifications import services as notifications

    with in_tenant(app, alpha):
        broken = services.survey_of(delivered_order(alpha, email="broken@example.com"))
        fine = services.survey_of(delivered_order(alpha, email="fine@example.com"))
        real = notifications.render_content

        def render(template, customer, **context):
            if customer.email == "broken@example.com":
                raise RuntimeError("a broken template")
            return real(template, customer, **context)

        monkeypatch.setattr(notifications, "render_content", render)
        moment = max(broken.send_after, fine.send_after) + timedelta(minutes=1)
        sent = services.dispatch_due_surveys(moment)
        assert fine.id in sent and broken.id not in sent
        assert fine.status is SurveyStatus.SENT
        assert (
            broken.status is SurveyStatus.SCHEDULED and broken.sent_at is None and broken.expires_at is None
        )
        assert notifications.message_for(f"survey:{broken.id}:invitation") is None
        assert notifications.message_for(f"survey:{fine.id}:invitation") is not None
        monkeypatch.setattr(notifications, "render_content", real)  # repaired: the next run sends it
        assert broken.id in services.dispatch_due_surveys(moment + timedelta(hours=1))
        assert broken.status is SurveyStatus.SENT and fine.id not in services.dispatch_due_surveys(moment)


def test_an_answer_for_an_order_delivered_before_surveys_makes_no_overdue_follow_ups(app, alpha):
    with in_tenant(app, alpha):
        order = delivered_order(alpha)
        for follow_up in follow_ups_of(order):
            db.session.delete(follow_up)
        db.session.delete(services.survey_of(order))
        db.session.flush()
        survey = services.ensure_survey(order)
        assert services.ensure_survey(order) is survey  # once
        assert survey.send_after == order.delivered_at + timedelta(hours=24)
        assert follow_ups_of(order) == []


def test_a_complaint_category_id_no_column_holds_is_refused_not_a_database_error(app, alpha):
    with in_tenant(app, alpha):
        order = delivered_order(alpha)
        follow_up = follow_ups_of(order)[0]
        desk = staff(alpha, "frontdesk")
        services.record_follow_up(
            follow_up,
            desk,
            channel=FollowUpChannel.PHONE,
            outcome=FollowUpOutcome.PROBLEM,
            notes="Crackles",
            today=TODAY,
        )
        for bad in (2**31, 2**63, -1, 0, None):
            with pytest.raises(DomainError) as refused:
                services.complaint_from_follow_up(follow_up, desk, category_id=bad)
            assert refused.value.field == "category"
        assert follow_up.complaint_id is None
