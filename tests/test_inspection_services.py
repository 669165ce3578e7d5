"""HQ supervision's rules (HB ch.8), service by service, on both databases.

Plans and their recurrence (HB §8.2.2), the inspection's flow and who may move it (HB §8.3.1),
scores, findings raised by failed critical items, corrective actions and their states
(HB §8.3.2-§8.3.3), and what store staff may see of unannounced inspections (HB §8.2.1).
Screens are tested elsewhere; the periodic jobs in test_supervision_jobs.py.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from flask_login import login_user

from repairqc.accounts.scoping import scoped_select
from repairqc.db import db, tenant_context, unit_of_work
from repairqc.errors import Conflict, DomainError
from repairqc.inspections import services
from repairqc.inspections.models import (
    ActionStatus,
    CorrectiveAction,
    Finding,
    FindingCategory,
    Inspection,
    InspectionChecklist,
    InspectionEvent,
    InspectionKind,
    InspectionPlan,
    InspectionStatus,
    Recurrence,
    Severity,
)
from repairqc.inspections.services import Answer, Refused
from tests.conftest import PNG, SeededTenant, in_tenant, staff, store

TODAY = date.today()  # version 1 of the standards takes effect on the day the tenant is provisioned

#: The handbook's default template (standards/defaults.py): code -> (kind, weight, critical).
TEMPLATE = {
    "intake-records": ("score", 10, False),
    "quote-approval": ("pass_fail", 10, True),
    "qc-every-repair": ("pass_fail", 15, True),
    "calibration-current": ("pass_fail", 15, True),
    "maintenance-log": ("score", 10, False),
    "certificates": ("pass_fail", 15, True),
    "training-records": ("score", 5, False),
    "follow-ups": ("score", 10, False),
    "complaints-24h": ("pass_fail", 10, True),
}


# --- helpers ------------------------------------------------------------------------------------------


def plan_of(recurrence: Recurrence, starts_on: date, ends_on: date | None = None) -> InspectionPlan:
    """A plan that is never saved: recurrence is plain date arithmetic."""
    return InspectionPlan(
        name="Dates",
        kind=InspectionKind.PERIODIC,
        recurrence=recurrence,
        starts_on=starts_on,
        ends_on=ends_on,
    )


def saved_plan(
    tenant: SeededTenant,
    recurrence: Recurrence = Recurrence.WEEKLY,
    *,
    starts_on: date,
    ends_on: date | None = None,
    stores: tuple[str, ...] = ("S1",),
    inspector: str | None = "qa",
    kind: InspectionKind = InspectionKind.PERIODIC,
    today: date = TODAY,
) -> InspectionPlan:
    plan = InspectionPlan(
        name=f"Plan {recurrence.value} {starts_on}",
        kind=kind,
        recurrence=recurrence,
        starts_on=starts_on,
        ends_on=ends_on,
        inspector_id=staff(tenant, inspector).id if inspector else None,
    )
    services.save_plan(plan, [store(tenant, name) for name in stores], today=today)
    return plan


def inspections_of(plan: InspectionPlan) -> list[tuple[str, date]]:
    """(store "S1"/"S2", due date) of the plan's inspections, by date then store."""
    rows = db.session.execute(
        sa.select(Inspection).where(Inspection.plan_id == plan.id).order_by(Inspection.due_on, Inspection.id)
    ).scalars()
    return [(row.store.code.rsplit("-", 1)[-1], row.due_on) for row in rows]


def scheduled(tenant: SeededTenant, store_name: str = "S1", inspector: str = "inspector") -> Inspection:
    """A one-off scheduled inspection of `store_name` (unannounced: it needs no plan)."""
    return services.schedule_unannounced(
        store(tenant, store_name), staff(tenant, inspector), TODAY, staff(tenant, "qa")
    )


def started(tenant: SeededTenant, inspector: str = "inspector", store_name: str = "S1") -> Inspection:
    inspection = scheduled(tenant, store_name, inspector)
    services.start_inspection(inspection, staff(tenant, inspector))
    return inspection


def all_passing(inspection: Inspection, score: str = "5") -> dict[str, Answer]:
    return {r.code: Answer(score if r.kind == "score" else "pass") for r in inspection.results}


def answered(tenant: SeededTenant, failing: tuple[str, ...] = (), inspector: str = "inspector") -> Inspection:
    inspection = started(tenant, inspector)
    answers = all_passing(inspection)
    answers.update({code: Answer("fail", f"{code} failed") for code in failing})
    services.answer_items(inspection, answers, staff(tenant, inspector))
    return inspection


def submitted(tenant: SeededTenant, failing: tuple[str, ...] = ()) -> Inspection:
    inspection = answered(tenant, failing)
    services.submit_inspection(inspection, staff(tenant, "inspector"), "Summary")
    return inspection


def finding_of(inspection: Inspection) -> Finding:
    (finding,) = services.findings_of(inspection)
    return finding


def action_for(tenant: SeededTenant) -> CorrectiveAction:
    """An open corrective action of a submitted inspection of S1, owned by S1's manager."""
    inspection = submitted(tenant, failing=("quote-approval",))
    return services.add_action(
        finding_of(inspection),
        staff(tenant, "qa"),
        description="Retrain",
        owner=None,
        due_on=None,
        today=TODAY,
    )


def events(inspection: Inspection) -> list[tuple[str | None, str]]:
    db.session.flush()
    rows = db.session.execute(
        sa.select(InspectionEvent)
        .where(InspectionEvent.inspection_id == inspection.id)
        .order_by(InspectionEvent.id)
    ).scalars()
    return [(row.from_status.value if row.from_status else None, row.to_status.value) for row in rows]


# --- recurrence (plain dates, no database) ------------------------------------------------------------


def test_weekly_dates_are_seven_days_apart_within_the_window():
    plan = plan_of(Recurrence.WEEKLY, date(2026, 1, 5))
    assert list(services.occurrences(plan, date(2026, 1, 1), date(2026, 1, 31))) == [
        date(2026, 1, 5), date(2026, 1, 12), date(2026, 1, 19), date(2026, 1, 26),
    ]  # fmt: skip
    assert list(services.occurrences(plan, date(2026, 1, 13), date(2026, 1, 19))) == [date(2026, 1, 19)]


def test_monthly_from_the_31st_stays_at_month_end_instead_of_drifting():
    plan = plan_of(Recurrence.MONTHLY, date(2026, 1, 31))
    assert [services.occurrence(plan, i) for i in range(6)] == [
        date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31),
        date(2026, 4, 30), date(2026, 5, 31), date(2026, 6, 30),
    ]  # fmt: skip
    leap = plan_of(Recurrence.MONTHLY, date(2028, 1, 31))
    assert services.occurrence(leap, 1) == date(2028, 2, 29)


@pytest.mark.parametrize(
    ("recurrence", "starts_on", "expected"),
    [
        (Recurrence.QUARTERLY, date(2026, 11, 30),
         [date(2026, 11, 30), date(2027, 2, 28), date(2027, 5, 30), date(2027, 8, 30), date(2027, 11, 30)]),
        (Recurrence.HALF_YEARLY, date(2026, 8, 31),
         [date(2026, 8, 31), date(2027, 2, 28), date(2027, 8, 31)]),
        (Recurrence.YEARLY, date(2028, 2, 29),
         [date(2028, 2, 29), date(2029, 2, 28), date(2030, 2, 28), date(2031, 2, 28), date(2032, 2, 29)]),
    ],
    ids=["quarterly", "half-yearly", "yearly-from-29-feb"],
)  # fmt: skip
def test_quarterly_half_yearly_and_yearly_count_from_the_first_date(recurrence, starts_on, expected):
    plan = plan_of(recurrence, starts_on)
    assert [services.occurrence(plan, i) for i in range(len(expected))] == expected
    assert list(services.occurrences(plan, starts_on, expected[-1])) == expected


def test_once_has_one_date_and_ends_on_stops_the_series():
    once = plan_of(Recurrence.ONCE, date(2026, 3, 10))
    assert list(services.occurrences(once, date(2026, 1, 1), date(2030, 1, 1))) == [date(2026, 3, 10)]
    ending = plan_of(Recurrence.WEEKLY, date(2026, 3, 2), ends_on=date(2026, 3, 20))
    assert list(services.occurrences(ending, date(2026, 1, 1), date(2030, 1, 1))) == [
        date(2026, 3, 2), date(2026, 3, 9), date(2026, 3, 16),
    ]  # fmt: skip


# --- plans make inspections ------------------------------------------------------------------------------


def test_saving_a_plan_makes_the_inspections_of_the_next_two_weeks_for_each_store(app, alpha):
    with in_tenant(app, alpha):
        plan = saved_plan(alpha, starts_on=TODAY + timedelta(days=3), stores=("S1", "S2"))
        first, second = TODAY + timedelta(days=3), TODAY + timedelta(days=10)
        assert inspections_of(plan) == [("S1", first), ("S2", first), ("S1", second), ("S2", second)]
        assert plan.next_occurrence_on == TODAY + timedelta(days=17)
        made = db.session.execute(sa.select(Inspection).where(Inspection.plan_id == plan.id)).scalars().all()
        assert {(i.status, i.kind, i.inspector_id) for i in made} == {
            (InspectionStatus.SCHEDULED, InspectionKind.PERIODIC, staff(alpha, "qa").id)
        }
        assert all(events(i) == [(None, "scheduled")] for i in made)


def test_generation_is_idempotent_and_moves_the_next_date_forward(app, alpha):
    with in_tenant(app, alpha):
        plan = saved_plan(alpha, starts_on=TODAY + timedelta(days=3))
        before = inspections_of(plan)
        assert services.generate_due_inspections(TODAY) == 0  # the same day again: nothing new
        assert services.schedule_plan(plan, TODAY) == []
        assert inspections_of(plan) == before and plan.next_occurrence_on == TODAY + timedelta(days=17)

        assert services.generate_due_inspections(TODAY + timedelta(days=7)) == 1
        assert inspections_of(plan) == [*before, ("S1", TODAY + timedelta(days=17))]
        assert plan.next_occurrence_on == TODAY + timedelta(days=24)
        assert services.generate_due_inspections(TODAY + timedelta(days=7)) == 0


def test_an_inactive_store_and_an_inactive_plan_get_no_inspections(app, alpha):
    with in_tenant(app, alpha):
        store(alpha, "S2").is_active = False
        plan = saved_plan(alpha, starts_on=TODAY + timedelta(days=1), stores=("S1", "S2"))
        assert inspections_of(plan) == [("S1", TODAY + timedelta(days=1)), ("S1", TODAY + timedelta(days=8))]

        paused = saved_plan(alpha, starts_on=TODAY + timedelta(days=20))
        paused.is_active = False
        # The quarterly confidentiality check every tenant has (HB §7.3.2) would add one when the
        # next quarter is near, depending on today's date: out of this count.
        db.session.execute(
            sa.update(InspectionPlan)
            .where(InspectionPlan.checklist == InspectionChecklist.CONFIDENTIALITY)
            .values(is_active=False)
        )
        # S1 only: this plan's weeks up to day 44 (5) and the seeded plan's next month (1)
        assert services.generate_due_inspections(TODAY + timedelta(days=30)) == 6
        assert inspections_of(paused) == []


def test_a_plan_ends_after_its_last_date_and_once_makes_one_inspection(app, alpha):
    with in_tenant(app, alpha):
        ending = saved_plan(alpha, starts_on=TODAY + timedelta(days=1), ends_on=TODAY + timedelta(days=9))
        once = saved_plan(alpha, Recurrence.ONCE, starts_on=TODAY + timedelta(days=2))
        services.generate_due_inspections(TODAY + timedelta(days=60))
        assert inspections_of(ending) == [
            ("S1", TODAY + timedelta(days=1)),
            ("S1", TODAY + timedelta(days=8)),
        ]
        assert ending.next_occurrence_on is None
        assert inspections_of(once) == [("S1", TODAY + timedelta(days=2))] and once.next_occurrence_on is None


def test_monthly_plan_from_the_31st_generates_at_month_ends(app, alpha):
    with in_tenant(app, alpha):
        plan = saved_plan(alpha, Recurrence.MONTHLY, starts_on=date(2031, 1, 31), today=TODAY)
        assert inspections_of(plan) == []  # years ahead: nothing within the horizon yet
        services.generate_due_inspections(date(2031, 3, 20))
        assert [due for _store, due in inspections_of(plan)] == [
            date(2031, 1, 31), date(2031, 2, 28), date(2031, 3, 31),
        ]  # fmt: skip
        assert plan.next_occurrence_on == date(2031, 4, 30)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"stores": ()}, "stores", "at least one store"),
        ({"ends_on": TODAY - timedelta(days=1)}, "ends_on", "before the first one"),
        ({"inspector": None}, "inspector", "Choose the inspector"),
        ({"inspector": "inspector", "stores": ("S1", "S2")}, "inspector", "may not inspect SENTINEL-A-S2"),
        ({"inspector": "manager"}, "inspector", "may not inspect SENTINEL-A-S1"),
    ],
    ids=["no-store", "ends-before-start", "no-inspector", "inspector-outside-store", "manager-periodic"],
)
def test_a_bad_plan_is_refused_with_its_field_and_nothing_is_saved(app, alpha, change, field, message):
    with in_tenant(app, alpha):
        count = sa.select(sa.func.count()).select_from(InspectionPlan)
        plans_before = db.session.scalar(count)
        kwargs = {"starts_on": TODAY, "stores": ("S1",), "inspector": "qa", **change}
        with pytest.raises(DomainError, match=message) as error, unit_of_work():
            saved_plan(alpha, **kwargs)
        assert error.value.field == field and error.value.status_code == 400
        assert db.session.scalar(count) == plans_before


def test_a_store_manager_may_run_an_internal_audit_of_their_own_store_only(app, alpha):
    with in_tenant(app, alpha):
        plan = saved_plan(
            alpha, Recurrence.ONCE, starts_on=TODAY, inspector=None, kind=InspectionKind.INTERNAL_AUDIT,
            stores=("S1", "S2"),
        )  # fmt: skip
        own, other = db.session.execute(
            sa.select(Inspection).where(Inspection.plan_id == plan.id).order_by(Inspection.store_id)
        ).scalars()
        manager = staff(alpha, "manager")
        with pytest.raises(Refused):
            services.start_inspection(other, manager)
        services.start_inspection(own, manager)
        assert own.status is InspectionStatus.IN_PROGRESS and own.inspector_id == manager.id


# --- conducting and scoring ------------------------------------------------------------------------------


def test_starting_copies_the_template_in_force_and_only_the_assignee_may(app, alpha):
    with in_tenant(app, alpha):
        inspection = scheduled(alpha)
        for intruder in ("qa", "manager", "owner"):
            with pytest.raises(Refused, match="assigned to someone else"):
                services.start_inspection(inspection, staff(alpha, intruder))
        with pytest.raises(Refused, match="Only an inspection in progress"):
            services.answer_items(inspection, {}, staff(alpha, "inspector"))
        services.start_inspection(inspection, staff(alpha, "inspector"))
        assert inspection.status is InspectionStatus.IN_PROGRESS and inspection.started_at is not None
        assert {r.code: (r.kind, r.weight, r.critical) for r in inspection.results} == TEMPLATE
        assert inspection.pass_mark == 80 and inspection.standard_version_id is not None
        assert inspection.place == store(alpha, "S1").address
        with pytest.raises(Refused):
            services.start_inspection(inspection, staff(alpha, "inspector"))  # already started


@pytest.mark.parametrize(
    ("changes", "score", "passed"),
    [
        ({}, 100.0, True),
        # scored items at 3 of 5: 21 of their 35 points, plus 65 for the pass/fail items
        ({code: "3" for code, (kind, _w, _c) in TEMPLATE.items() if kind == "score"}, 86.0, True),
        # scored items at 0: 65 per cent, under the pass mark of 80
        ({code: "0" for code, (kind, _w, _c) in TEMPLATE.items() if kind == "score"}, 65.0, False),
        # a failed critical item fails the inspection although 90 per cent is above the pass mark
        ({"quote-approval": "fail"}, 90.0, False),
        # a non-critical item failing costs its weight only
        ({"maintenance-log": "0"}, 90.0, True),
    ],
    ids=["all-best", "scores-at-3", "scores-at-0", "critical-fail", "scored-item-zero"],
)
def test_the_score_is_earned_weight_over_answered_weight(app, alpha, changes, score, passed):
    with in_tenant(app, alpha):
        inspection = started(alpha)
        answers = all_passing(inspection)
        answers.update({code: Answer(value) for code, value in changes.items()})
        services.answer_items(inspection, answers, staff(alpha, "inspector"))
        assert inspection.score == score and inspection.passed is passed


def test_not_applicable_leaves_the_item_out_of_the_score_and_is_refused_for_required_items(app, alpha):
    with in_tenant(app, alpha):
        inspection = started(alpha)
        inspector = staff(alpha, "inspector")
        by_code = {r.code: r for r in inspection.results}
        with pytest.raises(DomainError, match="required") as error:
            services.answer_items(inspection, {"training-records": Answer("na")}, inspector)
        assert error.value.field == "training-records"
        by_code["training-records"].required = False  # as a template may declare it optional
        answers = all_passing(inspection) | {"training-records": Answer("na"), "follow-ups": Answer("0")}
        services.answer_items(inspection, answers, inspector)
        assert by_code["training-records"].not_applicable and by_code["training-records"].answered
        assert inspection.score == round(100 * 85 / 95, 2) and inspection.passed is True


@pytest.mark.parametrize(
    ("code", "value", "message"),
    [
        ("intake-records", "6", "from 0 to 5"),
        ("intake-records", "pass", "from 0 to 5"),
        ("quote-approval", "3", "pass or fail"),
        ("nonexistent", "pass", "Unknown inspection item"),
    ],
)
def test_bad_answers_are_refused_with_the_item_named(app, alpha, code, value, message):
    with in_tenant(app, alpha):
        inspection = started(alpha)
        with pytest.raises(DomainError, match=message) as error:
            services.answer_items(inspection, {code: Answer(value)}, staff(alpha, "inspector"))
        assert error.value.field == code


def test_only_the_inspector_answers_and_a_stale_page_conflicts(app, alpha):
    with in_tenant(app, alpha):
        inspection = started(alpha)
        with pytest.raises(Refused):
            services.answer_items(inspection, all_passing(inspection), staff(alpha, "qa"))
        stale = inspection.version
        services.answer_items(inspection, {"quote-approval": Answer("pass")}, staff(alpha, "inspector"))
        db.session.flush()
        with pytest.raises(Conflict, match="Someone else changed"):
            services.answer_items(
                inspection,
                {"quote-approval": Answer("fail")},
                staff(alpha, "inspector"),
                expected_version=stale,
            )


def test_a_failed_critical_item_raises_one_finding_however_often_it_is_answered(app, alpha):
    with in_tenant(app, alpha):
        inspection = started(alpha)
        inspector = staff(alpha, "inspector")
        answers = all_passing(inspection) | {"maintenance-log": Answer("0")}  # not critical: no finding
        assert services.answer_items(inspection, answers, inspector) == []
        (raised,) = services.answer_items(
            inspection, {"calibration-current": Answer("fail", "Expired")}, inspector
        )
        assert raised.severity is Severity.CRITICAL and raised.category is FindingCategory.EQUIPMENT
        assert raised.item_result.code == "calibration-current" and "Expired" in raised.description
        assert "Measuring instruments calibrated" in raised.description
        assert services.answer_items(inspection, {"calibration-current": Answer("fail")}, inspector) == []
        services.answer_items(inspection, {"calibration-current": Answer("pass")}, inspector)
        assert services.answer_items(inspection, {"calibration-current": Answer("fail")}, inspector) == []
        assert [f.id for f in services.findings_of(inspection)] == [raised.id]


# --- the flow and its roles ---------------------------------------------------------------------------


def test_unanswered_required_items_refuse_the_submission_and_nothing_is_saved(app, alpha):
    with in_tenant(app, alpha):
        inspection = started(alpha)
        answers = all_passing(inspection)
        del answers["certificates"], answers["follow-ups"]
        services.answer_items(inspection, answers, staff(alpha, "inspector"))
        db.session.commit()
        with pytest.raises(DomainError, match="certificates, follow-ups") as error, unit_of_work():
            services.submit_inspection(inspection, staff(alpha, "inspector"), "Done")
        assert not isinstance(error.value, Refused)
        db.session.refresh(inspection)
        assert inspection.status is InspectionStatus.IN_PROGRESS
        assert inspection.submitted_at is None and inspection.summary is None
        assert events(inspection)[-1] == ("scheduled", "in_progress")


def test_the_whole_flow_with_a_return_and_its_events(app, alpha):
    with in_tenant(app, alpha):
        inspection = answered(alpha)
        inspector, qa = staff(alpha, "inspector"), staff(alpha, "qa")
        for intruder in ("qa", "manager"):
            with pytest.raises(Refused):
                services.submit_inspection(inspection, staff(alpha, intruder), "Not mine")
        services.submit_inspection(inspection, inspector, "All good")
        assert inspection.status is InspectionStatus.SUBMITTED and inspection.submitted_at is not None
        with pytest.raises(Refused):
            services.answer_items(inspection, all_passing(inspection), inspector)  # locked while in review

        for intruder in ("inspector", "manager", "auditor"):
            with pytest.raises(Refused, match="Only QA reviews"):
                services.return_inspection(inspection, staff(alpha, intruder), "Fix it")
        with pytest.raises(DomainError, match="Say what the inspector") as error:
            services.return_inspection(inspection, qa, "  ")
        assert error.value.field == "comment"
        services.return_inspection(inspection, qa, "Photograph the calibration labels")
        assert inspection.status is InspectionStatus.IN_PROGRESS
        assert inspection.return_comment == "Photograph the calibration labels"

        services.submit_inspection(inspection, inspector, "With photos")
        assert inspection.return_comment is None
        with pytest.raises(Refused, match="Only QA reviews"):
            services.review_inspection(inspection, staff(alpha, "manager"))
        services.review_inspection(inspection, qa, "Fine")
        # nothing to follow up: reviewed and closed at once
        assert inspection.status is InspectionStatus.CLOSED and inspection.reviewed_by_id == qa.id
        assert inspection.closed_at is not None
        assert events(inspection) == [
            (None, "scheduled"), ("scheduled", "in_progress"), ("in_progress", "submitted"),
            ("submitted", "in_progress"), ("in_progress", "submitted"), ("submitted", "reviewed"),
            ("reviewed", "closed"),
        ]  # fmt: skip
        with pytest.raises(Refused):
            services.return_inspection(inspection, qa, "Too late")


def test_the_reviewer_is_never_the_inspector(app, alpha):
    with in_tenant(app, alpha):
        inspection = started(alpha, inspector="qa")  # QA inspects S1 itself
        qa = staff(alpha, "qa")
        services.answer_items(inspection, all_passing(inspection), qa)
        services.submit_inspection(inspection, qa, "Own inspection")
        with pytest.raises(Refused, match="not their own"):
            services.review_inspection(inspection, qa)
        services.review_inspection(inspection, staff(alpha, "owner"))
        assert inspection.reviewed_by_id == staff(alpha, "owner").id


def test_review_needs_a_corrective_action_for_every_finding(app, alpha):
    with in_tenant(app, alpha):
        inspection = submitted(alpha, failing=("quote-approval",))
        qa = staff(alpha, "qa")
        finding = finding_of(inspection)
        with pytest.raises(DomainError, match=f"#{finding.id}"):
            services.review_inspection(inspection, qa)
        services.add_action(finding, qa, description="Retrain", owner=None, due_on=None, today=TODAY)
        services.review_inspection(inspection, qa)
        assert inspection.status is InspectionStatus.REVIEWED  # open action: not closed yet


def test_findings_are_added_by_the_inspector_on_site_or_by_qa_in_review(app, alpha):
    with in_tenant(app, alpha):
        inspection = started(alpha)
        kwargs = {"category": FindingCategory.SERVICE, "severity": Severity.MINOR}
        with pytest.raises(Refused):
            services.add_finding(inspection, staff(alpha, "qa"), description="Dusty", **kwargs)
        with pytest.raises(DomainError, match="Describe the problem"):
            services.add_finding(inspection, staff(alpha, "inspector"), description=" ", **kwargs)
        on_site = services.add_finding(inspection, staff(alpha, "inspector"), description="Dusty", **kwargs)
        services.answer_items(inspection, all_passing(inspection), staff(alpha, "inspector"))
        services.submit_inspection(inspection, staff(alpha, "inspector"), None)
        in_review = services.add_finding(inspection, staff(alpha, "qa"), description="Queue", **kwargs)
        assert [f.id for f in services.findings_of(inspection)] == [on_site.id, in_review.id]


# --- corrective actions ------------------------------------------------------------------------------


def test_a_new_action_defaults_to_the_store_manager_and_the_standards_due_date(app, alpha):
    with in_tenant(app, alpha):
        action = action_for(alpha)
        assert action.owner_id == staff(alpha, "manager").id
        assert action.due_on == TODAY + timedelta(days=14)  # corrective_action_due_days (HB §8.3.2)
        assert action.status is ActionStatus.OPEN
        assert [(e.from_status, e.to_status) for e in action.events] == [(None, ActionStatus.OPEN)]


@pytest.mark.parametrize(
    ("who", "changes", "error", "message"),
    [
        ("manager", {}, Refused, "set by QA or by the inspector"),
        ("qa", {"description": " "}, DomainError, "Say what the store must do"),
        ("qa", {"owner": "manager2"}, DomainError, "does not work at this store"),
        ("qa", {"due_on": TODAY - timedelta(days=1)}, DomainError, "in the past"),
    ],
    ids=["manager", "no-description", "owner-elsewhere", "past-due"],
)
def test_bad_corrective_actions_are_refused(app, alpha, who, changes, error, message):
    with in_tenant(app, alpha):
        finding = finding_of(submitted(alpha, failing=("quote-approval",)))
        kwargs = {"description": "Retrain", "owner": None, "due_on": None, **changes}
        if isinstance(kwargs["owner"], str):
            kwargs["owner"] = staff(alpha, kwargs["owner"])
        with pytest.raises(error, match=message):
            services.add_action(finding, staff(alpha, who), today=TODAY, **kwargs)
        assert finding.actions == []


#: Every move of a corrective action, as HB §8.3.2-§8.3.3 allows them.
ALLOWED = {
    ActionStatus.OPEN: {ActionStatus.IN_PROGRESS, ActionStatus.DONE},
    ActionStatus.IN_PROGRESS: {ActionStatus.DONE},
    ActionStatus.DONE: {ActionStatus.VERIFIED, ActionStatus.REOPENED},
    ActionStatus.VERIFIED: {ActionStatus.REOPENED},
    ActionStatus.REOPENED: {ActionStatus.IN_PROGRESS, ActionStatus.DONE},
}


def move(tenant: SeededTenant, action: CorrectiveAction, to: ActionStatus) -> None:
    owner, qa = staff(tenant, "manager"), staff(tenant, "qa")
    if to is ActionStatus.IN_PROGRESS:
        services.start_action(action, owner)
    elif to is ActionStatus.DONE:
        services.complete_action(action, owner, "Fixed, see photo", photos=[(PNG, "fixed.png")])
    elif to is ActionStatus.VERIFIED:
        services.verify_action(action, qa, "Seen", today=TODAY)
    elif to is ActionStatus.REOPENED:
        services.reopen_action(action, qa, "Not convincing", today=TODAY)


@pytest.mark.parametrize("start", list(ActionStatus), ids=lambda s: s.value)
def test_every_action_move_is_allowed_or_refused_as_the_table_says(app, alpha, start):
    with in_tenant(app, alpha):
        for to in (s for s in ActionStatus if s is not ActionStatus.OPEN):  # nothing moves back to open
            action = action_for(alpha)
            action.status = start  # set up directly: this test is about the table
            if to in ALLOWED[start]:
                move(alpha, action, to)
                assert action.status is to
                assert (action.events[-1].from_status, action.events[-1].to_status) == (start, to)
            else:
                with pytest.raises(Refused, match="cannot become"):
                    move(alpha, action, to)
                assert action.status is start


def test_who_may_work_on_verify_and_reopen_an_action(app, alpha):
    with in_tenant(app, alpha):
        action = action_for(alpha)
        for intruder in ("tech", "manager2", "inspector"):
            with pytest.raises(Refused, match="Only the owner or the store's manager"):
                services.start_action(action, staff(alpha, intruder))
        services.start_action(action, staff(alpha, "owner"))  # the tenant's owner may step in
        services.complete_action(action, staff(alpha, "manager"), "Retrained all technicians")
        for intruder in ("manager", "inspector", "auditor"):
            with pytest.raises(Refused, match="Only QA verifies"):
                services.verify_action(action, staff(alpha, intruder), today=TODAY)
            with pytest.raises(Refused, match="Only QA reopens"):
                services.reopen_action(action, staff(alpha, intruder), "No", today=TODAY)
        with pytest.raises(DomainError, match="Say why"):
            services.reopen_action(action, staff(alpha, "qa"), " ", today=TODAY)
        assert action.status is ActionStatus.DONE


def test_done_needs_evidence_and_photos_must_be_images(app, alpha):
    with in_tenant(app, alpha):
        action = action_for(alpha)
        owner = staff(alpha, "manager")
        with pytest.raises(DomainError, match="evidence") as error:
            services.complete_action(action, owner, "   ")
        assert error.value.field == "evidence" and action.status is ActionStatus.OPEN
        db.session.commit()
        with pytest.raises(DomainError, match="not a photo") as error, unit_of_work():
            services.complete_action(action, owner, "Fixed", photos=[(b"%PDF-1.4 not an image", "fix.pdf")])
        assert error.value.field == "photos"
        db.session.refresh(action)
        assert action.status is ActionStatus.OPEN and action.evidence is None and action.photos == []
        services.complete_action(action, owner, "Fixed", photos=[(PNG, "fix.png")])
        assert action.evidence == "Fixed" and action.done_at is not None and len(action.photos) == 1


def test_verification_sets_the_effectiveness_check_and_a_failed_check_reopens(app, alpha):
    with in_tenant(app, alpha):
        action = action_for(alpha)
        qa = staff(alpha, "qa")
        with pytest.raises(Refused, match="Only a verified action"):
            services.record_effectiveness(action, qa, True, None, today=TODAY)
        move(alpha, action, ActionStatus.DONE)
        services.verify_action(action, qa, "Seen on site", today=TODAY)
        assert action.verified_by_id == qa.id and action.verified_at is not None
        assert action.effectiveness_due_on == TODAY + timedelta(days=30)  # effectiveness_check_days

        later = TODAY + timedelta(days=40)  # past the original due date
        with pytest.raises(DomainError, match="still wrong"):
            services.record_effectiveness(action, qa, False, " ", today=later)
        services.record_effectiveness(action, qa, False, "The labels are missing again", today=later)
        assert action.status is ActionStatus.REOPENED and action.effective is False
        assert action.due_on == later + timedelta(days=14) and action.escalated_on is None
        assert action.events[-1].comment == "The labels are missing again"

        move(alpha, action, ActionStatus.DONE)
        services.verify_action(action, qa, today=later)
        services.record_effectiveness(action, qa, True, "Still fine", today=later + timedelta(days=30))
        assert action.status is ActionStatus.VERIFIED and action.effective is True


def test_the_inspection_closes_when_its_last_action_is_verified(app, alpha):
    with in_tenant(app, alpha):
        inspection = submitted(alpha, failing=("quote-approval", "certificates"))
        qa = staff(alpha, "qa")
        first, second = (
            services.add_action(f, qa, description=f"Fix {f.id}", owner=None, due_on=None, today=TODAY)
            for f in services.findings_of(inspection)
        )
        move(alpha, first, ActionStatus.DONE)
        services.verify_action(first, qa, today=TODAY)  # before the review: stays submitted
        assert inspection.status is InspectionStatus.SUBMITTED
        services.review_inspection(inspection, qa)
        assert inspection.status is InspectionStatus.REVIEWED
        move(alpha, second, ActionStatus.DONE)
        assert inspection.status is InspectionStatus.REVIEWED
        services.verify_action(second, qa, today=TODAY)
        assert inspection.status is InspectionStatus.CLOSED and inspection.closed_at is not None
        assert events(inspection)[-1] == ("reviewed", "closed")


# --- overdue escalation claims ------------------------------------------------------------------------


def test_an_overdue_action_is_claimed_once_then_again_after_the_repeat_days(app, alpha):
    with in_tenant(app, alpha):
        action = action_for(alpha)
        done = action_for(alpha)
        move(alpha, done, ActionStatus.DONE)  # done actions are not overdue
        action.due_on = done.due_on = TODAY - timedelta(days=2)
        db.session.flush()
        assert services.overdue_actions_to_escalate(TODAY) == [action.id]
        assert services.overdue_actions_to_escalate(TODAY) == []
        assert services.overdue_actions_to_escalate(TODAY + timedelta(days=6)) == []
        assert services.overdue_actions_to_escalate(TODAY + timedelta(days=7)) == [action.id]
        db.session.refresh(action)
        assert action.escalated_on == TODAY + timedelta(days=7) and action.escalation_count == 2


# --- what store staff see -----------------------------------------------------------------------------


def visible_inspections(app, tenant: SeededTenant, key: str) -> set[int]:
    """The inspections `key` may see, through the scoping every screen uses."""
    with app.test_request_context(base_url=f"http://{tenant.host}"), tenant_context(tenant.ref):
        login_user(staff(tenant, key))
        return set(db.session.execute(scoped_select(Inspection).with_only_columns(Inspection.id)).scalars())


def test_store_staff_do_not_see_an_unannounced_inspection_coming(app, alpha):
    with in_tenant(app, alpha):
        surprise = scheduled(alpha)  # unannounced, assigned to S1's inspector
        periodic = saved_plan(alpha, Recurrence.ONCE, starts_on=TODAY + timedelta(days=1))
        (announced_id,) = db.session.execute(
            sa.select(Inspection.id).where(Inspection.plan_id == periodic.id)
        ).scalars()
        db.session.commit()
        surprise_id = surprise.id

    for key in ("manager", "inspector", "qa", "owner"):
        assert announced_id in visible_inspections(app, alpha, key), key
    assert surprise_id not in visible_inspections(app, alpha, "manager")
    assert surprise_id in visible_inspections(app, alpha, "inspector")  # assigned to it
    assert surprise_id in visible_inspections(app, alpha, "qa")
    assert visible_inspections(app, alpha, "manager2").isdisjoint({surprise_id, announced_id})

    with in_tenant(app, alpha):
        services.start_inspection(db.session.get(Inspection, surprise_id), staff(alpha, "inspector"))
        db.session.commit()
    assert surprise_id in visible_inspections(app, alpha, "manager")  # on site now: no secret


def test_another_qa_sees_the_surprise_but_another_inspector_does_not(app, alpha):
    with in_tenant(app, alpha):
        surprise = services.schedule_unannounced(
            store(alpha, "S1"), staff(alpha, "qa"), TODAY, staff(alpha, "owner")
        )
        db.session.commit()
        surprise_id = surprise.id
        with pytest.raises(Refused, match="Only QA schedules"):
            services.schedule_unannounced(
                store(alpha, "S1"), staff(alpha, "inspector"), TODAY, staff(alpha, "manager")
            )
    assert surprise_id not in visible_inspections(app, alpha, "inspector")  # S1's, but not assigned
    assert surprise_id in visible_inspections(app, alpha, "owner")
