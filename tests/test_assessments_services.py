"""Assessments (HB §3.3, §5.3.1(3)): the KPI formulas against a hand-computed fixture, the
weights rescaled when a KPI has no data, manual score ranges, the annual combination, finalising
and the follow-up of a failure (retake or retraining), on both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from repairqc.assessments import kpis, services
from repairqc.assessments.models import (
    Assessment,
    AssessmentKind,
    AssessmentOutcome,
    AssessmentStatus,
    FollowUp,
)
from repairqc.db import db, utcnow
from repairqc.errors import Conflict, DomainError
from repairqc.repairs.models import Customer, Device, Quote, QuoteStatus, RepairOrder, WorkLog
from repairqc.repairs.services import next_order_number
from tests.conftest import in_tenant, staff, store

M = AssessmentKind.MONTHLY


def today() -> date:
    return utcnow().date()


def fixture_month() -> tuple[date, date]:
    """The month before last: clear of the seeded assessments (last month) and orders (today)."""
    last = services.previous_period(M, today())
    return services.previous_period(M, last[0])


def moment(day: date, hour: int = 0) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def at(month_start: date, day: int, hour: int = 0) -> datetime:
    return datetime(month_start.year, month_start.month, day, hour, tzinfo=UTC)


def order(
    shop,
    category: str,
    *,
    received: datetime,
    delivered: datetime | None = None,
    worked_by=None,
    technician=None,
    diagnosed: datetime | None = None,
    quotes_sent: int = 0,
    draft_quote: bool = False,
    qc_failed: bool = False,
    reworked: bool = False,
) -> RepairOrder:
    """One order with exactly the facts the KPIs read."""
    customer = Customer(store=shop, full_name="KPI customer", phone="+86 100 9999")
    device = Device(store=shop, customer=customer, category=category, brand="B", model="M")
    o = RepairOrder(
        store=shop,
        number=next_order_number(shop),
        customer=customer,
        device=device,
        fault_symptoms="KPI fixture",
        received_at=received,
        delivered_at=delivered,
        technician_id=technician.id if technician else None,
        diagnosed_at=diagnosed,
        qc_failed_at=delivered - timedelta(hours=2) if qc_failed else None,
        reworked_at=delivered + timedelta(days=3) if reworked else None,
    )
    db.session.add_all([customer, device, o])
    db.session.flush()
    for revision in range(1, quotes_sent + 1):
        db.session.add(
            Quote(
                store_id=shop.id, order_id=o.id, revision=revision, status=QuoteStatus.SENT, sent_at=received
            )
        )
    if draft_quote:
        db.session.add(
            Quote(store_id=shop.id, order_id=o.id, revision=quotes_sent + 1, status=QuoteStatus.DRAFT)
        )
    if worked_by is not None:
        db.session.add(
            WorkLog(
                store_id=shop.id,
                order_id=o.id,
                technician_id=worked_by.id,
                step="Fix",
                minutes=30,
                at=received,
            )
        )
    db.session.flush()
    return o


def seed_fixture(tenant) -> tuple[date, date]:
    """The hand-computed fixture of `test_kpis_match_the_hand_computed_fixture`."""
    start, end = fixture_month()
    tech, other, shop = staff(tenant, "tech"), staff(tenant, "manager"), store(tenant, "S1")
    t = tech
    # 1: smartphone (target 2 days) in 1 day: ratio 0.5; first pass; 1 quote -> accurate
    order(shop, "smartphone", received=at(start, 5), delivered=at(start, 6), worked_by=t, technician=t,
          diagnosed=at(start, 5, 3), quotes_sent=1)  # fmt: skip
    # 2: laptop (target 5) in 6 days: ratio 1.2; failed QC; quote revised after sending -> not accurate
    order(shop, "laptop", received=at(start, 5), delivered=at(start, 11), worked_by=t, technician=t,
          diagnosed=at(start, 5, 3), quotes_sent=2, qc_failed=True)  # fmt: skip
    # 3: smartphone in 3 days: ratio 1.5; came back under warranty -> not good, not accurate
    order(shop, "smartphone", received=at(start, 8), delivered=at(start, 11), worked_by=t, technician=t,
          diagnosed=at(start, 8, 3), quotes_sent=1, reworked=True)  # fmt: skip
    # 4: tablet (target 3) in 3 days: ratio 1.0; a draft revision never sent does not count
    order(shop, "tablet", received=at(start, 10), delivered=at(start, 13), worked_by=t, technician=t,
          diagnosed=at(start, 10, 3), quotes_sent=1, draft_quote=True)  # fmt: skip
    # 5: somebody else's repair and diagnosis: not theirs
    order(shop, "smartphone", received=at(start, 5), delivered=at(start, 6), worked_by=other,
          technician=other, diagnosed=at(start, 5, 3), quotes_sent=1, qc_failed=True)  # fmt: skip
    # 6: their repair delivered after the period, diagnosed before it: in neither count
    before, after = moment(start - timedelta(days=2)), moment(end + timedelta(days=1), 1)
    order(shop, "smartphone", received=before, delivered=after, worked_by=t, technician=t,
          diagnosed=before, quotes_sent=1)  # fmt: skip
    # 7: diagnosed by them in the period, still in repair: a diagnosis (accurate), not a repair
    order(shop, "smartphone", received=at(start, 20), worked_by=t, technician=t, diagnosed=at(start, 20, 3),
          quotes_sent=1)  # fmt: skip
    return start, end


def test_kpis_match_the_hand_computed_fixture(app, alpha):
    """By hand, for the technician's orders of the fixture month:

    * their repairs: orders 1-4 (5 is someone else's, 6 delivered later, 7 not delivered): n = 4
    * speed: ratios 0.5, 1.2, 1.5, 1.0 -> median (1.0 + 1.2) / 2 = 1.1 -> 100 * (2 - 1.1) = 90;
      median turnaround of 1, 6, 3, 3 days = 3
    * quality: neither failed QC nor reworked: orders 1 and 4 -> 2 / 4 = 50; QC first pass 3 / 4 =
      75 %, rework rate 1 / 4 = 25 %
    * diagnosis accuracy: diagnoses 1, 2, 3, 4, 7 = 5; accurate 1, 4, 7 (2 revised, 3 reworked)
      -> 3 / 5 = 60
    * satisfaction: no surveys yet -> None
    """
    with in_tenant(app, alpha):
        start, end = seed_fixture(alpha)
        tech = staff(alpha, "tech")
        (result,) = kpis.compute(tech.id, [(start, end)], [store(alpha, "S1").id])
        assert result.scores == {
            "repair_speed": pytest.approx(90.0),
            "repair_quality": 50.0,
            "diagnosis_accuracy": 60.0,
            "customer_satisfaction": None,
        }
        assert result.facts["repairs"] == 4
        assert result.facts["median_turnaround_days"] == pytest.approx(3.0)
        assert result.facts["median_target_ratio"] == pytest.approx(1.1)
        assert (result.facts["qc_first_pass_pct"], result.facts["rework_rate_pct"]) == (75.0, 25.0)
        assert (result.facts["diagnosed"], result.facts["accurate_diagnoses"]) == (5, 3)
        # The other store has no data at all; the month before has only order 6's diagnosis.
        (elsewhere,) = kpis.compute(tech.id, [(start, end)], [store(alpha, "S2").id])
        before, same = kpis.compute(tech.id, [services.previous_period(M, start), (start, end)], None)
        assert set(elsewhere.scores.values()) == {None}
        assert before.scores == {"repair_speed": None, "repair_quality": None, "diagnosis_accuracy": 100.0,
                                 "customer_satisfaction": None}  # fmt: skip
        assert same.scores == result.scores  # several periods in one call give the same numbers


def test_more_orders_add_no_statement(app, alpha, statements):
    """Aggregates in SQL: the statements are as few for many orders as for one."""
    with in_tenant(app, alpha):
        start, end = seed_fixture(alpha)
        tech = staff(alpha, "tech")
        periods = services.months_back(end, 12)
        with statements() as few:
            kpis.compute(tech.id, periods, None)
        for day in range(1, 25):
            order(store(alpha, "S1"), "smartphone", received=at(start, day), delivered=at(start, day, 20),
                  worked_by=tech, technician=tech, diagnosed=at(start, day, 1), quotes_sent=1)  # fmt: skip
        with statements() as many:
            kpis.compute(tech.id, periods, None)
        selects = [s for s in many if s.startswith("select") and "repair_orders" in s]
        assert len(selects) == len([s for s in few if s.startswith("select") and "repair_orders" in s]) <= 3


def test_speed_score_and_weights_rescaled_when_a_kpi_has_no_data():
    assert [kpis.speed_score(m) for m in (0.4, 1.0, 1.5, 2.0, 3.0, None)] == [100, 100, 50, 0, 0, None]
    weights = {"repair_speed": 25, "repair_quality": 30, "diagnosis_accuracy": 20,
               "customer_satisfaction": 15, "safety": 10}  # fmt: skip
    scores = {"repair_speed": 90, "repair_quality": 50, "diagnosis_accuracy": 60,
              "customer_satisfaction": None, "safety": 80, "teamwork": 10}  # fmt: skip
    total, applied = services.weighted_total(scores, weights)
    # satisfaction has no data: its 15 is shared out, the others count out of 85
    assert total == pytest.approx((25 * 90 + 30 * 50 + 20 * 60 + 10 * 80) / 85, abs=0.01)
    assert applied == pytest.approx(
        {"repair_speed": 29.41, "repair_quality": 35.29, "diagnosis_accuracy": 23.53, "safety": 11.76},
        abs=0.01,
    )
    assert sum(applied.values()) == pytest.approx(100, abs=0.05)
    assert services.weighted_total({"safety": None}, weights) == (None, {})  # nothing to weigh


def test_periods_are_parsed_and_named():
    assert services.parse_period(M, "2026-02") == (date(2026, 2, 1), date(2026, 2, 28))
    assert services.parse_period(AssessmentKind.QUARTERLY, "2026-q3") == (date(2026, 7, 1), date(2026, 9, 30))
    assert services.parse_period(AssessmentKind.ANNUAL, "2025") == (date(2025, 1, 1), date(2025, 12, 31))
    assert services.previous_period(AssessmentKind.QUARTERLY, date(2026, 1, 1)) == (
        date(2025, 10, 1),
        date(2025, 12, 31),
    )
    for kind, text in (
        (M, "2026-13"),
        (AssessmentKind.QUARTERLY, "2026-Q5"),
        (AssessmentKind.ANNUAL, "next"),
    ):
        with pytest.raises(DomainError) as refused:
            services.parse_period(kind, text)
        assert refused.value.field == "period" and "Enter the period like" in refused.value.message


# --- the monthly assessment --------------------------------------------------------------------------


def open_fixture_assessment(alpha) -> Assessment:
    start, end = seed_fixture(alpha)
    return services.open_assessment(
        staff(alpha, "tech"), store(alpha, "S1"), M, (start, end), by=staff(alpha, "manager"), today=today()
    )


def test_monthly_assessment_weighs_the_computed_kpis_and_the_managers_score(app, alpha):
    with in_tenant(app, alpha):
        assessment = open_fixture_assessment(alpha)
        manager = staff(alpha, "manager")
        # the policy of the standard in force: monthly weights, pass mark 60 (HB §3.3)
        assert assessment.weights == {"repair_speed": 25, "repair_quality": 30, "diagnosis_accuracy": 20,
                                      "customer_satisfaction": 15, "safety": 10}  # fmt: skip
        assert assessment.pass_mark == 60 and assessment.status is AssessmentStatus.DRAFT
        assert (assessment.repair_speed, assessment.repair_quality, assessment.diagnosis_accuracy) == (
            pytest.approx(90),
            50,
            60,
        )
        assert assessment.total_score == pytest.approx(4950 / 75, abs=0.01)  # safety not scored yet
        with pytest.raises(DomainError) as refused:  # safety weighs 10: it must be scored first
            services.finalise(assessment, manager, today=today())
        assert refused.value.field == "safety"

        services.save_scores(assessment, manager, services.ManualScores(safety=80), comment="Tidy bench")
        assert assessment.total_score == pytest.approx(5750 / 85, abs=0.01) and assessment.passed
        version = assessment.version
        with pytest.raises(Conflict):  # a stale page
            services.save_scores(
                assessment, manager, services.ManualScores(safety=10), expected_version=version - 1
            )
        assert services.finalise(assessment, manager, today=today(), expected_version=version) is None
        assert assessment.status is AssessmentStatus.FINALISED and assessment.assessor_id == manager.id
        assert [(e.from_status, e.to_status) for e in assessment.events] == [
            (None, AssessmentStatus.DRAFT),
            (AssessmentStatus.DRAFT, AssessmentStatus.FINALISED),
        ]
        # finalised is read-only
        for change in (
            lambda: services.save_scores(assessment, manager, services.ManualScores(safety=99)),
            lambda: services.refresh(assessment, manager),
            lambda: services.finalise(assessment, manager, today=today()),
        ):
            with pytest.raises(Conflict, match="finalised"):
                change()
        assert assessment.safety == 80


@pytest.mark.parametrize("bad", [-1, 100.5, 250])
def test_manual_scores_out_of_range_are_refused_and_nothing_changes(app, alpha, bad):
    with in_tenant(app, alpha):
        assessment = open_fixture_assessment(alpha)
        manager = staff(alpha, "manager")
        services.save_scores(assessment, manager, services.ManualScores(safety=70, teamwork=50))
        db.session.commit()
        with pytest.raises(DomainError) as refused:
            services.save_scores(assessment, manager, services.ManualScores(safety=80, teamwork=bad))
        assert refused.value.field == "teamwork"
        assert refused.value.message == "Teamwork must be a score from 0 to 100."
        db.session.rollback()
        assert (db.session.get(Assessment, assessment.id).safety, assessment.teamwork) == (70, 50)


def test_only_the_stores_manager_makes_monthly_and_hr_quarterly_assessments(app, alpha):
    with in_tenant(app, alpha):
        start, end = fixture_month()
        tech, s1 = staff(alpha, "tech"), store(alpha, "S1")
        for user in ("manager2", "trainer", "owner", "qa", "tech2", "auditor"):
            with pytest.raises(Conflict, match="manager of the technician's store"):
                services.open_assessment(tech, s1, M, (start, end), by=staff(alpha, user), today=today())
        with pytest.raises(Conflict, match="HR"):
            services.open_assessment(
                tech, s1, AssessmentKind.QUARTERLY, services.previous_period(AssessmentKind.QUARTERLY, start),
                by=staff(alpha, "manager"), today=today(),
            )  # fmt: skip
        with pytest.raises(DomainError, match="not a technician of"):
            services.open_assessment(
                staff(alpha, "tech2"), s1, M, (start, end), by=staff(alpha, "manager"), today=today()
            )
        with pytest.raises(DomainError, match="not over yet"):
            services.open_assessment(
                tech, s1, M, services.period_of(M, today()), by=staff(alpha, "manager"), today=today()
            )
        services.open_assessment(tech, s1, M, (start, end), by=staff(alpha, "manager"), today=today())
        with pytest.raises(Conflict, match="already has a monthly assessment"):
            services.open_assessment(tech, s1, M, (start, end), by=staff(alpha, "manager"), today=today())


# --- failure: retake or retraining (HB §5.3.1(3)) -------------------------------------------------------


def failing(alpha) -> Assessment:
    assessment = open_fixture_assessment(alpha)
    services.save_scores(assessment, staff(alpha, "manager"), services.ManualScores(safety=0))
    assessment.pass_mark = 90  # the fixture scores 58.2 with safety 0: failed either way
    return assessment


def test_a_failed_assessment_needs_a_follow_up_and_a_retake_opens_the_same_period(app, alpha):
    with in_tenant(app, alpha):
        assessment, manager = failing(alpha), staff(alpha, "manager")
        with pytest.raises(DomainError, match="choose a retake or retraining") as refused:
            services.finalise(assessment, manager, today=today())
        assert refused.value.field == "follow_up"
        with pytest.raises(DomainError, match="Only the annual result records an outcome"):
            services.finalise(
                assessment,
                manager,
                today=today(),
                outcome=AssessmentOutcome.REWARD,
                follow_up=FollowUp.RETAKE,
            )
        retake = services.finalise(assessment, manager, today=today(), follow_up=FollowUp.RETAKE)
        assert assessment.passed is False and assessment.follow_up is FollowUp.RETAKE
        assert (retake.attempt, retake.retake_of_id, retake.status) == (
            2,
            assessment.id,
            AssessmentStatus.DRAFT,
        )
        assert (retake.period_start, retake.kind, retake.staff_id) == (
            assessment.period_start,
            M,
            assessment.staff_id,
        )
        assert retake.repair_quality == assessment.repair_quality and retake.safety is None


def test_a_failed_assessment_can_send_the_technician_to_retraining(app, alpha):
    training_models = pytest.importorskip("repairqc.training.models")
    with in_tenant(app, alpha):
        assessment, manager = failing(alpha), staff(alpha, "manager")
        assert services.finalise(assessment, manager, today=today(), follow_up=FollowUp.RETRAINING) is None
        notes = db.session.execute(
            sa.select(training_models.Retraining.note).where(
                training_models.Retraining.user_id == assessment.staff_id
            )
        ).scalars()
        # a new retraining, or the reason added to one already open (training's rule)
        assert any(f"#{assessment.id}" in (note or "") for note in notes)


def test_a_passed_assessment_takes_no_follow_up(app, alpha):
    with in_tenant(app, alpha):
        assessment = open_fixture_assessment(alpha)
        manager = staff(alpha, "manager")
        services.save_scores(assessment, manager, services.ManualScores(safety=80))
        with pytest.raises(DomainError, match="needs no retake"):
            services.finalise(assessment, manager, today=today(), follow_up=FollowUp.RETAKE)


# --- the annual result ---------------------------------------------------------------------------------


def finalised(tenant, kind, start, attempt=1, status=AssessmentStatus.FINALISED, **scores) -> Assessment:
    period = services.period_of(kind, start)
    row = Assessment(
        store_id=store(tenant, "S1").id,
        staff_id=staff(tenant, "tech").id,
        kind=kind,
        period_start=period[0],
        period_end=period[1],
        attempt=attempt,
        status=status,
        weights={},
        pass_mark=60,
        **scores,
    )
    db.session.add(row)
    return row


def test_the_annual_result_combines_the_years_monthly_and_quarterly_results(app, alpha):
    """By hand (last year): January's retake replaces its first attempt, March is still a draft.

    * repair quality: (80 + 60 + 70) / 3 = 70; speed (70 + 90) / 2 = 80; diagnosis 90 (Q1 only);
      communication 80, teamwork 60, safety (90 + 70 + 80) / 3 = 80; satisfaction: no data
    * annual weights without satisfaction's 20: 15, 20, 15, 10, 10, 10 out of 80 ->
      (15·80 + 20·70 + 15·90 + 10·80 + 10·60 + 10·80) / 80 = 6150 / 80 = 76.875
    """
    year = today().year - 1
    with in_tenant(app, alpha):
        finalised(alpha, M, date(year, 1, 1), repair_quality=40, repair_speed=50, total_score=45)
        finalised(alpha, M, date(year, 1, 1), attempt=2, repair_quality=80, repair_speed=70, safety=90,
                  total_score=80)  # fmt: skip
        finalised(alpha, M, date(year, 2, 1), repair_quality=60, repair_speed=90, safety=70, total_score=70)
        finalised(alpha, AssessmentKind.QUARTERLY, date(year, 1, 1), repair_quality=70, communication=80,
                  teamwork=60, safety=80, diagnosis_accuracy=90, total_score=75)  # fmt: skip
        finalised(alpha, M, date(year, 3, 1), status=AssessmentStatus.DRAFT, repair_quality=0, total_score=0)
        db.session.flush()
        trainer = staff(alpha, "trainer")
        annual = services.open_assessment(
            staff(alpha, "tech"), store(alpha, "S1"), AssessmentKind.ANNUAL,
            services.period_of(AssessmentKind.ANNUAL, date(year, 6, 1)), by=trainer, today=today(),
        )  # fmt: skip
        assert {k: getattr(annual, k) for k in services.KPIS} == {
            "repair_speed": 80,
            "repair_quality": 70,
            "diagnosis_accuracy": 90,
            "customer_satisfaction": None,
            "communication": 80,
            "teamwork": 60,
            "safety": 80,
        }
        assert annual.facts == {"monthly_count": 2, "quarterly_count": 1, "mean_total": pytest.approx(75)}
        assert annual.total_score == pytest.approx(76.875, abs=0.01) and annual.passed
        # the annual result is not scored by hand: HR's numbers do not change it
        services.save_scores(annual, trainer, services.ManualScores(safety=0, teamwork=0))
        assert annual.safety == 80
        with pytest.raises(DomainError, match="followed by retraining"):
            annual.pass_mark = 99
            services.finalise(annual, trainer, today=today(), follow_up=FollowUp.RETAKE)
        annual.pass_mark = 60
        services.finalise(
            annual, trainer, today=today(), outcome=AssessmentOutcome.PROMOTION, comment="Lead tech"
        )
        assert (annual.outcome, annual.status, annual.comment) == (
            AssessmentOutcome.PROMOTION,
            AssessmentStatus.FINALISED,
            "Lead tech",
        )


def test_an_annual_result_with_nothing_to_combine_cannot_be_finalised(app, alpha):
    with in_tenant(app, alpha):
        trainer = staff(alpha, "trainer")
        annual = services.open_assessment(
            staff(alpha, "tech"), store(alpha, "S1"), AssessmentKind.ANNUAL,
            services.period_of(AssessmentKind.ANNUAL, date(today().year - 2, 1, 1)), by=trainer,
            today=today(),
        )  # fmt: skip
        assert annual.total_score is None
        with pytest.raises(DomainError, match="No monthly or quarterly assessment of this year"):
            services.finalise(annual, trainer, today=today())


# --- the drafts of the periodic job ------------------------------------------------------------------------


def test_due_drafts_are_made_once_per_technician_store_and_period(app, alpha):
    with in_tenant(app, alpha):
        day = date(today().year + 1, 1, 1)  # the month, quarter and year that end this 31 December
        made = services.create_due_drafts(day)
        rows = db.session.execute(sa.select(Assessment).where(Assessment.id.in_(made))).scalars().all()
        pairs = {(a.staff.email, a.store_id, a.kind) for a in rows}
        assert pairs == {
            (alpha.users[who], store(alpha, s).id, kind)
            for who, s in (("tech", "S1"), ("tech2", "S2"))
            for kind in AssessmentKind
        }
        assert all(a.assessor_id is None and a.status is AssessmentStatus.DRAFT for a in rows)
        assert services.create_due_drafts(day) == []  # the same day again: nothing new
        assert services.create_due_drafts(day + timedelta(days=5)) == []
