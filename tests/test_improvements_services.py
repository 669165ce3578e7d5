"""Improvement suggestions and process reviews (HB §2.3.1, §2.3.2, §5.2.3, §6.3.3): the rules of
`improvements.services` on both databases, with time travel through `today=` / `now=`.

What the seed (tests/seed_improvements.py) leaves in each tenant: per store, one suggestion of the
store's technician awaiting the decision and one adopted by QA with the store's manager
responsible, due in 30 days; one provider-wide suggestion of QA awaiting the decision; one process
review held today, next due in 90 days.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from repairqc.db import db, unit_of_work
from repairqc.errors import Conflict, DomainError
from repairqc.improvements import services
from repairqc.improvements.models import (
    EffectRating,
    ImprovementArea,
    ImprovementReminder,
    ImprovementSuggestion,
    ProcessReview,
    ReminderKind,
    SuggestionEvent,
    SuggestionSource,
    SuggestionStatus,
)
from tests.conftest import SeededTenant, in_tenant, staff, store

TODAY = date.today()
ROLES = ["owner", "qa", "trainer", "auditor", "inspector", "manager", "frontdesk", "tech"]


def submit(
    tenant: SeededTenant, key: str = "tech", store_name: str | None = "S1", **kw
) -> ImprovementSuggestion:
    return services.submit_suggestion(
        staff(tenant, key),
        area=kw.pop("area", ImprovementArea.REPAIR_PROCESS),
        title=kw.pop("title", f"Idea of {key}"),
        problem=kw.pop("problem", "Screens crack again after the repair"),
        proposal=kw.pop("proposal", "Check the frame alignment before gluing"),
        store=store(tenant, store_name) if store_name else None,
        **kw,
    )


def adopt(tenant: SeededTenant, suggestion, *, by="qa", responsible="manager", due_on=None, today=TODAY):
    services.adopt_suggestion(
        suggestion,
        staff(tenant, by),
        responsible=staff(tenant, responsible),
        due_on=due_on or today + timedelta(days=30),
        plan="Add a step to the SOP and train the technicians",
        today=today,
    )


def implemented(tenant: SeededTenant, **kw) -> ImprovementSuggestion:
    suggestion = submit(tenant)
    adopt(tenant, suggestion)
    services.record_implementation(
        suggestion,
        staff(tenant, "manager"),
        implemented_on=kw.pop("implemented_on", TODAY),
        what_was_done="SOP step added, two sessions held",
        today=TODAY,
        **kw,
    )
    return suggestion


def moves(suggestion) -> list[tuple[str | None, str]]:
    return [(e.from_status.value if e.from_status else None, e.to_status.value) for e in suggestion.events]


# --- submitting ------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ROLES)
def test_every_role_submits_a_suggestion(app, alpha, key):
    with in_tenant(app, alpha):
        hq = key in ("owner", "qa", "trainer", "auditor")
        suggestion = submit(alpha, key, None if hq else "S1", source=SuggestionSource.SURVEY_ANALYSIS)
        assert suggestion.status is SuggestionStatus.SUBMITTED
        assert suggestion.submitted_by_id == staff(alpha, key).id
        assert suggestion.store_id == (None if hq else store(alpha, "S1").id)
        assert suggestion.source is SuggestionSource.SURVEY_ANALYSIS
        assert moves(suggestion) == [(None, "submitted")]


def test_store_staff_file_for_their_store_only(app, alpha):
    with in_tenant(app, alpha):
        with pytest.raises(DomainError, match="stores you work at") as refused:
            submit(alpha, "tech", "S2")
        assert refused.value.field == "store"
        with pytest.raises(DomainError, match="Choose the store") as refused:
            submit(alpha, "frontdesk", None)  # only HQ files for the whole provider
        assert refused.value.field == "store"
        stores, provider_wide = services.submission_stores(staff(alpha, "tech"))
        assert [s.id for s in stores] == [store(alpha, "S1").id] and not provider_wide
        stores, provider_wide = services.submission_stores(staff(alpha, "trainer"))
        assert len(stores) == 2 and provider_wide
        assert submit(alpha, "qa", "S2").store_id == store(alpha, "S2").id  # HQ: any store


@pytest.mark.parametrize(
    ("field", "values", "message"),
    [
        ("title", {"title": "  "}, "short title"),
        ("title", {"title": "x" * 201}, "At most 200 characters"),
        ("problem", {"problem": ""}, "Describe the problem"),
        ("proposal", {"proposal": "y" * 5001}, "At most 5000 characters"),
        ("source_reference", {"source_reference": "r" * 201}, "At most 200 characters"),
    ],
)
def test_missing_or_oversized_text_is_refused_on_its_field(app, alpha, field, values, message):
    with in_tenant(app, alpha):
        before = db.session.execute(sa.select(sa.func.count(ImprovementSuggestion.id))).scalar_one()
        with pytest.raises(DomainError, match=message) as refused:
            submit(alpha, **values)
        assert refused.value.field == field
        assert db.session.execute(sa.select(sa.func.count(ImprovementSuggestion.id))).scalar_one() == before


# --- deciding ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["trainer", "auditor", "inspector", "manager", "frontdesk", "tech"])
def test_only_qa_and_the_owner_decide(app, alpha, key):
    with in_tenant(app, alpha):
        suggestion = submit(alpha, "frontdesk")
        with pytest.raises(DomainError, match="Only a QA manager or the owner") as refused:
            adopt(alpha, suggestion, by=key)
        assert refused.value.status_code == 403
        with pytest.raises(DomainError, match="Only a QA manager or the owner") as refused:
            services.reject_suggestion(suggestion, staff(alpha, key), reason="No budget")
        assert refused.value.status_code == 403
        assert suggestion.status is SuggestionStatus.SUBMITTED


@pytest.mark.parametrize("by", ["qa", "owner"])
def test_adopting_sets_the_responsible_person_due_date_and_plan(app, alpha, by):
    with in_tenant(app, alpha):
        suggestion = submit(alpha)
        adopt(alpha, suggestion, by=by, due_on=TODAY + timedelta(days=14))
        assert suggestion.status is SuggestionStatus.ADOPTED
        assert suggestion.responsible_id == staff(alpha, "manager").id
        assert suggestion.due_on == TODAY + timedelta(days=14)
        assert suggestion.decided_by_id == staff(alpha, by).id and suggestion.decided_at is not None
        assert moves(suggestion) == [(None, "submitted"), ("submitted", "adopted")]
        assert suggestion.events[-1].actor_id == staff(alpha, by).id


def test_adoption_needs_a_person_of_the_store_a_future_date_and_a_plan(app, alpha):
    with in_tenant(app, alpha):
        suggestion = submit(alpha)
        qa = staff(alpha, "qa")
        kwargs = dict(due_on=TODAY + timedelta(days=10), plan="Plan", today=TODAY)
        with pytest.raises(DomainError, match="does not work at the store") as refused:
            services.adopt_suggestion(suggestion, qa, responsible=staff(alpha, "tech2"), **kwargs)
        assert refused.value.field == "responsible"
        with pytest.raises(DomainError, match="Choose the person") as refused:
            services.adopt_suggestion(suggestion, qa, responsible=None, **kwargs)
        with pytest.raises(DomainError, match="in the past") as refused:
            adopt(alpha, suggestion, due_on=TODAY - timedelta(days=1))
        assert refused.value.field == "due_on"
        with pytest.raises(DomainError, match="implementation plan") as refused:
            services.adopt_suggestion(
                suggestion, qa, responsible=staff(alpha, "tech"), due_on=TODAY, plan=" ", today=TODAY
            )
        assert refused.value.field == "plan"
        # HQ people and people of the store may be made responsible; anyone for a provider-wide one
        candidates = {u.id for u in services.responsible_candidates(suggestion)}
        assert staff(alpha, "trainer").id in candidates and staff(alpha, "tech").id in candidates
        assert staff(alpha, "tech2").id not in candidates
        wide = submit(alpha, "qa", None)
        assert staff(alpha, "tech2").id in {u.id for u in services.responsible_candidates(wide)}
        assert suggestion.status is SuggestionStatus.SUBMITTED


def test_rejecting_needs_a_reason(app, alpha):
    with in_tenant(app, alpha):
        suggestion = submit(alpha)
        with pytest.raises(DomainError, match="reason") as refused:
            services.reject_suggestion(suggestion, staff(alpha, "qa"), reason="   ")
        assert refused.value.field == "reason"
        services.reject_suggestion(suggestion, staff(alpha, "qa"), reason="Already in the SOP, step 4")
        assert suggestion.status is SuggestionStatus.REJECTED
        assert suggestion.decision_note == "Already in the SOP, step 4"
        with pytest.raises(Conflict, match="decided already"):
            adopt(alpha, suggestion)


def test_nobody_decides_their_own_suggestion_while_another_decider_exists(app, alpha):
    with in_tenant(app, alpha):
        own = submit(alpha, "qa", None)
        with pytest.raises(DomainError, match="You submitted this suggestion") as refused:
            services.reject_suggestion(own, staff(alpha, "qa"), reason="Never mind")
        assert refused.value.status_code == 403
        services.reject_suggestion(own, staff(alpha, "owner"), reason="Covered by the standard")
        assert own.status is SuggestionStatus.REJECTED


# --- implementation and effect -----------------------------------------------------------------------


def test_tracked_from_adopted_to_effect_reviewed(app, alpha):
    with in_tenant(app, alpha):
        suggestion = submit(alpha)
        adopt(alpha, suggestion)
        manager = staff(alpha, "manager")  # the responsible person
        with pytest.raises(DomainError, match="Only the responsible person") as refused:
            services.start_implementation(suggestion, staff(alpha, "tech"))
        assert refused.value.status_code == 403
        services.start_implementation(suggestion, manager, note="Ordered the jig")
        assert suggestion.status is SuggestionStatus.IN_PROGRESS
        with pytest.raises(DomainError, match="in the future") as refused:
            services.record_implementation(
                suggestion, manager, implemented_on=TODAY + timedelta(days=1), what_was_done="x", today=TODAY
            )
        assert refused.value.field == "implemented_on"
        with pytest.raises(DomainError, match="what was done") as refused:
            services.record_implementation(
                suggestion, manager, implemented_on=TODAY, what_was_done="", today=TODAY
            )
        services.record_implementation(
            suggestion, manager, implemented_on=TODAY, what_was_done="Jig in use since Monday", today=TODAY
        )
        assert suggestion.status is SuggestionStatus.IMPLEMENTED
        assert suggestion.effect_review_due_on == TODAY + timedelta(days=services.EFFECT_REVIEW_DEFAULT_DAYS)
        with pytest.raises(DomainError, match="reviews the effect") as refused:
            services.review_effect(suggestion, manager, rating=EffectRating.EFFECTIVE, notes="Fine")
        assert refused.value.status_code == 403
        with pytest.raises(DomainError, match="effect observed") as refused:
            services.review_effect(suggestion, staff(alpha, "qa"), rating=EffectRating.EFFECTIVE, notes="")
        assert refused.value.field == "notes"
        follow_up = services.review_effect(
            suggestion, staff(alpha, "qa"), rating=EffectRating.EFFECTIVE, notes="No cracked screens since"
        )
        assert follow_up is None
        assert (
            suggestion.status is SuggestionStatus.REVIEWED
            and suggestion.effect_rating is EffectRating.EFFECTIVE
        )
        assert moves(suggestion) == [
            (None, "submitted"),
            ("submitted", "adopted"),
            ("adopted", "in_progress"),
            ("in_progress", "implemented"),
            ("implemented", "reviewed"),
        ]
        assert [e.actor_id for e in suggestion.events][-1] == staff(alpha, "qa").id


def test_an_adopted_suggestion_may_be_implemented_at_once_with_its_own_review_date(app, alpha):
    with in_tenant(app, alpha):
        suggestion = implemented(alpha, effect_review_due_on=TODAY + timedelta(days=30))
        assert suggestion.effect_review_due_on == TODAY + timedelta(days=30)
        with pytest.raises(DomainError, match="later date") as refused:
            implemented(alpha, effect_review_due_on=TODAY)
        assert refused.value.field == "effect_review_due_on"


def test_not_effective_reopens_the_problem_as_a_linked_suggestion(app, alpha):
    with in_tenant(app, alpha):
        suggestion = implemented(alpha)
        qa = staff(alpha, "qa")
        with pytest.raises(DomainError, match="short of effective"):
            services.review_effect(suggestion, qa, rating=EffectRating.EFFECTIVE, notes="Good", reopen=True)
        follow_up = services.review_effect(
            suggestion,
            qa,
            rating=EffectRating.NOT_EFFECTIVE,
            notes="Still cracking: use a heat mat",
            reopen=True,
        )
        assert follow_up.follow_up_of_id == suggestion.id
        assert (
            follow_up.status is SuggestionStatus.SUBMITTED
            and follow_up.source is SuggestionSource.EFFECT_REVIEW
        )
        assert follow_up.store_id == suggestion.store_id and follow_up.area is suggestion.area
        assert (
            follow_up.problem == suggestion.problem and follow_up.proposal == "Still cracking: use a heat mat"
        )
        assert f"#{suggestion.id}" in follow_up.title
        assert services.follow_ups(suggestion) == [follow_up]


def test_moves_in_the_wrong_state_are_refused_with_409(app, alpha):
    with in_tenant(app, alpha):
        suggestion = submit(alpha)
        qa = staff(alpha, "qa")
        for attempt in (
            lambda: services.start_implementation(suggestion, qa),
            lambda: services.record_implementation(
                suggestion, qa, implemented_on=TODAY, what_was_done="x", today=TODAY
            ),
            lambda: services.review_effect(suggestion, qa, rating=EffectRating.EFFECTIVE, notes="x"),
        ):
            with pytest.raises(Conflict) as refused:
                attempt()
            assert refused.value.status_code == 409
        adopt(alpha, suggestion)
        with pytest.raises(Conflict, match="decided already"):
            services.reject_suggestion(suggestion, qa, reason="Changed my mind")
        assert suggestion.status is SuggestionStatus.ADOPTED


def test_a_stale_version_is_refused_and_changes_nothing(app, alpha):
    with in_tenant(app, alpha):
        suggestion = submit(alpha)
        seen = suggestion.version
        adopt(alpha, suggestion)
        with pytest.raises(Conflict, match="Someone else changed") as refused:
            services.start_implementation(suggestion, staff(alpha, "manager"), expected_version=seen)
        assert refused.value.status_code == 409
        assert suggestion.status is SuggestionStatus.ADOPTED
        services.start_implementation(
            suggestion, staff(alpha, "manager"), expected_version=suggestion.version
        )


def test_the_submitter_and_the_responsible_person_are_mailed_the_decision(app, alpha, mailbox):
    with in_tenant(app, alpha):
        with unit_of_work():
            staff(alpha, "tech").locale = "en"
            adopted_id = submit(alpha, "tech", title="Heat mat").id
            rejected_id = submit(alpha, "tech", title="Second screen").id
        with unit_of_work():
            adopt(alpha, db.session.get(ImprovementSuggestion, adopted_id), due_on=TODAY + timedelta(days=9))
        with unit_of_work():
            services.reject_suggestion(
                db.session.get(ImprovementSuggestion, rejected_id),
                staff(alpha, "qa"),
                reason="Too costly now",
            )
    to_tech = mailbox.to(alpha.users["tech"])
    to_manager = mailbox.to(alpha.users["manager"])
    assert len(mailbox.messages) == 3 and len(to_tech) == 2 and len(to_manager) == 1
    assert f"#{adopted_id} adopted: Heat mat" in to_tech[0]["Subject"]
    assert "You are responsible" in to_manager[0].get_content()
    assert f"/admin/improvements/suggestions/{adopted_id}/" in to_manager[0].get_content()
    assert f"#{rejected_id} not adopted" in to_tech[1]["Subject"]
    assert "Reason: Too costly now" in to_tech[1].get_content()
    assert alpha.host in to_tech[1].get_content()


# --- process reviews ------------------------------------------------------------------------------


def test_a_process_review_is_recorded_by_qa_with_its_suggestions(app, alpha):
    with in_tenant(app, alpha):
        linked = submit(alpha)
        values = dict(
            period_start=TODAY - timedelta(days=30),
            period_end=TODAY,
            held_on=TODAY,
            participants="QA, store managers",
            areas=[ImprovementArea.REPAIR_PROCESS, ImprovementArea.CUSTOMER_SERVICE],
            findings="Rework rate up at S1",
            decisions="Adopt the heat mat",
            next_review_due_on=TODAY + timedelta(days=60),
            suggestion_ids=[linked.id],
            today=TODAY,
        )
        with pytest.raises(DomainError, match="Only a QA manager or the owner"):
            services.save_process_review(staff(alpha, "manager"), **values)
        review = services.save_process_review(staff(alpha, "qa"), **values)
        assert review.suggestions == [linked] and review.areas == "repair_process,customer_service"
        assert review.areas_list == [ImprovementArea.REPAIR_PROCESS, ImprovementArea.CUSTOMER_SERVICE]
        assert services.process_review_due_on() == TODAY + timedelta(days=60)
        version = review.version
        services.save_process_review(
            staff(alpha, "owner"),
            **{**values, "findings": "Corrected"},
            review=review,
            expected_version=version,
        )
        assert review.findings == "Corrected"
        with pytest.raises(Conflict):
            services.save_process_review(
                staff(alpha, "qa"), **values, review=review, expected_version=version
            )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"period_end": TODAY - timedelta(days=40)}, "period_end"),
        ({"period_start": TODAY - timedelta(days=400)}, "period_end"),
        ({"held_on": TODAY + timedelta(days=1)}, "held_on"),
        ({"areas": []}, "areas"),
        ({"participants": ""}, "participants"),
        ({"findings": "f" * 5001}, "findings"),
        ({"next_review_due_on": TODAY}, "next_review_due_on"),
        ({"suggestion_ids": [10**6]}, "suggestions"),
    ],
)
def test_a_process_review_refuses_bad_input_on_its_field(app, alpha, changes, field):
    with in_tenant(app, alpha):
        values = dict(
            period_start=TODAY - timedelta(days=30),
            period_end=TODAY,
            held_on=TODAY,
            participants="QA",
            areas=[ImprovementArea.OTHER],
            findings="F",
            decisions="D",
            next_review_due_on=TODAY + timedelta(days=90),
            today=TODAY,
        )
        before = db.session.execute(sa.select(sa.func.count(ProcessReview.id))).scalar_one()
        with pytest.raises(DomainError) as refused:
            services.save_process_review(staff(alpha, "qa"), **{**values, **changes})
        assert refused.value.field == field
        assert db.session.execute(sa.select(sa.func.count(ProcessReview.id))).scalar_one() == before


def test_figures_of_a_period(app, alpha):
    with in_tenant(app, alpha):
        earlier = datetime.now(UTC) - timedelta(days=200)
        old = submit(alpha, now=earlier)  # outside the period
        base = services.period_figures(TODAY - timedelta(days=10), TODAY, TODAY)
        submit(alpha)
        rejected = submit(alpha)
        services.reject_suggestion(rejected, staff(alpha, "qa"), reason="No")
        done = implemented(alpha)
        services.review_effect(done, staff(alpha, "qa"), rating=EffectRating.PARTLY_EFFECTIVE, notes="Half")
        late = submit(alpha)
        adopt(alpha, late, today=TODAY - timedelta(days=20), due_on=TODAY - timedelta(days=5))
        figures = services.period_figures(TODAY - timedelta(days=10), TODAY, TODAY)
        assert figures.submitted == base.submitted + 4
        assert figures.adopted == base.adopted + 2  # `done` and `late` (decided today)
        assert figures.rejected == base.rejected + 1
        assert figures.implemented == base.implemented + 1
        assert (figures.reviewed, figures.partly_effective) == (base.reviewed + 1, base.partly_effective + 1)
        assert figures.overdue_now == base.overdue_now + 1
        assert figures.open_now == base.open_now + 1
        assert old.submitted_at < datetime.now(UTC) - timedelta(days=100)
        past = services.period_figures(TODAY - timedelta(days=210), TODAY - timedelta(days=190), TODAY)
        assert past.submitted == 1


def test_the_process_review_falls_due_after_the_first_suggestion_when_none_was_held(app, alpha):
    """With no review held, the review falls due PROCESS_REVIEW_DEFAULT_DAYS after the first
    suggestion; with no suggestion either, never (the rows are removed inside the test's
    transaction, which is rolled back)."""
    from repairqc.improvements.models import process_review_suggestions

    with in_tenant(app, alpha):
        for table in (process_review_suggestions, ProcessReview.__table__):
            db.session.execute(sa.delete(table))
        first = datetime.now(UTC) - timedelta(days=500)
        submit(alpha, "owner", None, now=first)
        due = first.date() + timedelta(days=services.PROCESS_REVIEW_DEFAULT_DAYS)
        assert services.process_review_due_on() == due
        assert f"process_review:0:{due.isoformat()}" in [r.key for r in services.due_reminders(due)]
        assert services.due_reminders(due - timedelta(days=1)) == []
        for table in (ImprovementReminder, SuggestionEvent):
            db.session.execute(sa.delete(table))
        db.session.execute(sa.update(ImprovementSuggestion).values(follow_up_of_id=None))
        db.session.execute(sa.delete(ImprovementSuggestion))
        assert services.process_review_due_on() is None
        assert services.due_reminders(TODAY + timedelta(days=1000)) == []


# --- reminders (time travel) -----------------------------------------------------------------------


def test_reminders_are_claimed_once_per_suggestion_and_due_date(app, alpha):
    with in_tenant(app, alpha):
        late = submit(alpha)
        adopt(alpha, late, today=TODAY - timedelta(days=20), due_on=TODAY - timedelta(days=3))
        review = implemented(alpha, effect_review_due_on=TODAY + timedelta(days=1))
        day = TODAY + timedelta(days=1)
        claimed = services.claim_reminders(day)
        keys = {row.key for _, row in claimed}
        assert f"overdue:{late.id}:{late.due_on.isoformat()}" in keys
        assert f"effect_review:{review.id}:{day.isoformat()}" in keys
        # the seeded adopted suggestions are due in 30 days; the process review in 90: not yet
        assert {row.kind for _, row in claimed} == {ReminderKind.OVERDUE, ReminderKind.EFFECT_REVIEW}
        assert services.claim_reminders(day) == []  # a second run claims nothing
        assert services.claim_reminders(day + timedelta(days=1)) == []  # nor the next day
        recipients = {r.kind: services.reminder_recipients(r) for r, _ in claimed}
        assert [u.id for u in recipients[ReminderKind.OVERDUE]] == [staff(alpha, "manager").id]
        assert [u.id for u in recipients[ReminderKind.EFFECT_REVIEW]] == [staff(alpha, "qa").id]
        # 40 days on: the seeded adopted suggestions are late; 100 days on: the process review is due
        later = {row.kind for _, row in services.claim_reminders(TODAY + timedelta(days=40))}
        assert later == {ReminderKind.OVERDUE}
        latest = {row.kind for _, row in services.claim_reminders(TODAY + timedelta(days=100))}
        assert latest == {ReminderKind.PROCESS_REVIEW}
        count = db.session.execute(
            sa.select(sa.func.count(ImprovementReminder.id)).where(ImprovementReminder.sent_on > TODAY)
        ).scalar_one()
        assert count == len(claimed) + 2 + 1
        # implemented meanwhile: not overdue any more, nothing new to claim
        services.record_implementation(
            late, staff(alpha, "manager"), implemented_on=TODAY, what_was_done="Done", today=TODAY
        )
        assert all(r.suggestion is None or r.suggestion.id != late.id for r in services.due_reminders(day))


def test_events_are_visible_with_their_suggestion_only(app, alpha):
    """`SuggestionEvent.store_scope` follows the suggestion: outside a request, the store clause."""
    with in_tenant(app, alpha):
        s1, s2 = store(alpha, "S1").id, store(alpha, "S2").id
        ids = db.session.execute(
            sa.select(SuggestionEvent.suggestion_id).where(SuggestionEvent.store_scope({s2}))
        ).scalars()
        stores = {db.session.get(ImprovementSuggestion, i).store_id for i in ids}
        assert stores == {s2} and s1 not in stores
