"""The rules of staff assessments (HB §3.3, §5.3.1(3)).

* Cycles (HB §3.3.2-§3.3.3): monthly by the store manager of the technician's store, quarterly
  and annual by HR (the trainer). The annual result combines the finalised monthly and quarterly
  results of its year and records the outcome (promotion, demotion, reward, penalty or none).
* Scores: the KPIs computed from the repair data (`kpis`) plus the assessor's scores for
  communication, teamwork and safety (0-100); weights and pass mark come from the training
  policy of the standard in force at the period's end (`TrainingPolicy.monthly/quarterly/annual`,
  `assessment_pass_mark`), copied onto the assessment.
* A draft is recomputed whenever it is saved; finalising recomputes it once more and freezes it
  (read-only afterwards). A failed assessment is followed by a retake (a new assessment of the
  same period, next attempt) or retraining (`training.services.open_retraining`).

Every status change goes through `_move`, which writes the `AssessmentEvent`. Nothing here
commits: views and jobs call these functions inside one unit of work.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from repairqc.accounts.models import Role, RoleAssignment, StaffUser
from repairqc.accounts.permissions import Action, Grants, roles_at
from repairqc.assessments import kpis
from repairqc.assessments.models import (
    COMPUTED_KPIS,
    MANUAL_KPIS,
    Assessment,
    AssessmentEvent,
    AssessmentKind,
    AssessmentOutcome,
    AssessmentStatus,
    FollowUp,
)
from repairqc.db import db, utcnow
from repairqc.errors import Conflict, DomainError
from repairqc.models_base import check_version
from repairqc.standards.schema import KPIS
from repairqc.stores.models import Store

#: Who assesses each cycle (design.md §3: the store manager monthly, HR quarterly and annually).
ASSESSORS = {
    AssessmentKind.MONTHLY: frozenset({Role.STORE_MANAGER}),
    AssessmentKind.QUARTERLY: frozenset({Role.TRAINER}),
    AssessmentKind.ANNUAL: frozenset({Role.TRAINER}),
}
_MONTHS = {AssessmentKind.MONTHLY: 1, AssessmentKind.QUARTERLY: 3, AssessmentKind.ANNUAL: 12}


class Refused(Conflict):
    """A move the assessment's state or the user's role does not allow (409)."""


# --- periods ------------------------------------------------------------------------------------------


def period_of(kind: AssessmentKind, day: date) -> tuple[date, date]:
    """The month, quarter or year containing `day`, as (first day, last day)."""
    months = _MONTHS[kind]
    first_month = (day.month - 1) // months * months + 1
    start = date(day.year, first_month, 1)
    last_month = first_month + months - 1
    return start, date(day.year, last_month, calendar.monthrange(day.year, last_month)[1])


def previous_period(kind: AssessmentKind, today: date) -> tuple[date, date]:
    """The period of `kind` that ended last before the one `today` is in."""
    start, _end = period_of(kind, today)
    return period_of(kind, start - timedelta(days=1))


def parse_period(kind: AssessmentKind, text: str) -> tuple[date, date]:
    """ "2026-10" (month), "2026-Q3" (quarter) or "2026" (year), as (first day, last day)."""
    raw = (text or "").strip().upper()
    try:
        if kind is AssessmentKind.MONTHLY:
            year, month = raw.split("-")
            return period_of(kind, date(int(year), int(month), 1))
        if kind is AssessmentKind.QUARTERLY:
            year, quarter = raw.split("-Q")
            if not 1 <= int(quarter) <= 4:
                raise ValueError(quarter)
            return period_of(kind, date(int(year), 3 * int(quarter) - 2, 1))
        return period_of(kind, date(int(raw), 1, 1))
    except ValueError:
        examples = {
            AssessmentKind.MONTHLY: "2026-10",
            AssessmentKind.QUARTERLY: "2026-Q3",
            AssessmentKind.ANNUAL: "2026",
        }
        raise DomainError(
            _("Enter the period like %(example)s.", example=examples[kind]), field="period"
        ) from None


def period_label(kind: AssessmentKind, start: date) -> str:
    if kind is AssessmentKind.MONTHLY:
        return f"{start.year}-{start.month:02d}"
    if kind is AssessmentKind.QUARTERLY:
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return str(start.year)


def months_back(end_month: date, count: int) -> list[tuple[date, date]]:
    """The `count` months ending with the month of `end_month`, oldest first."""
    periods = []
    start, _end = period_of(AssessmentKind.MONTHLY, end_month)
    for _month in range(count):
        periods.append(period_of(AssessmentKind.MONTHLY, start))
        start = (start - timedelta(days=1)).replace(day=1)
    return periods[::-1]


# --- who may do what --------------------------------------------------------------------------------------


def may_assess(user: StaffUser, kind: AssessmentKind, store_id: int) -> bool:
    return user.is_active and bool(roles_at(user, store_id) & ASSESSORS[kind])


def may_view_staff(viewer: StaffUser, person: StaffUser) -> bool:
    """The technician's page: themselves, HQ readers, and the managers of a store they work at."""
    if viewer.id == person.id:
        return True
    grants = Grants.of(viewer)
    if grants.stores_for("Assessment", Action.VIEW) is None:
        return True
    managed = {s for s, roles in grants.store_roles.items() if Role.STORE_MANAGER in roles}
    return any(a.store_id in managed for a in person.roles)


def is_technician_at(user: StaffUser, store_id: int) -> bool:
    return any(a.role is Role.TECHNICIAN and a.store_id == store_id for a in user.roles)


# --- policy and totals -------------------------------------------------------------------------------


def apply_policy(assessment: Assessment) -> None:
    """Copy the weights and pass mark of the standard in force at the period's end."""
    standard = kpis.standard_for(assessment.period_end)
    if standard is None:
        raise DomainError(_("No standard is in force on %(day)s.", day=assessment.period_end.isoformat()))
    version, document = standard
    policy = document.training_policy
    assessment.standard_version_id = version.id
    assessment.weights = dict(getattr(policy, assessment.kind.value).weights)
    assessment.pass_mark = float(policy.assessment_pass_mark)


def weighted_total(
    scores: dict[str, float | None], weights: dict[str, float]
) -> tuple[float | None, dict[str, float]]:
    """The weighted total and the weights actually applied.

    A KPI without a score (no data, or a manual score not entered) is left out and the weights of
    the others are rescaled to add up to 100: total = Σ wᵢ·sᵢ / Σ wᵢ over the KPIs that have a
    score. With none, there is no total. KPIs of weight 0 never count.
    """
    present = {k: w for k, w in weights.items() if w > 0 and scores.get(k) is not None}
    weight_sum = sum(present.values())
    if not weight_sum:
        return None, {}
    total = sum(w * float(scores[k]) for k, w in present.items()) / weight_sum
    return round(total, 2), {k: round(100.0 * w / weight_sum, 2) for k, w in present.items()}


def scores_of(assessment: Assessment) -> dict[str, float | None]:
    return {kpi: getattr(assessment, kpi) for kpi in KPIS}


def _recompute(assessment: Assessment) -> None:
    """The computed KPIs (or, for the annual result, the year's combination), total and result."""
    if assessment.kind is AssessmentKind.ANNUAL:
        combined, facts = combine_year(assessment)
        for kpi in KPIS:
            setattr(assessment, kpi, combined.get(kpi))
        assessment.facts = facts
    else:
        (result,) = kpis.compute(
            assessment.staff_id, [(assessment.period_start, assessment.period_end)], [assessment.store_id]
        )
        for kpi in COMPUTED_KPIS:
            setattr(assessment, kpi, result.scores.get(kpi))
        assessment.facts = result.facts
    assessment.computed_at = utcnow()
    total, _applied = weighted_total(scores_of(assessment), assessment.weights)
    assessment.total_score = total
    assessment.passed = None if total is None else total >= assessment.pass_mark


def combine_year(assessment: Assessment) -> tuple[dict[str, float | None], dict]:
    """HB §3.3.3: each KPI of the annual result is the mean of that KPI over the year's finalised
    monthly and quarterly assessments of the same technician and store (the last attempt of each
    period; a KPI none of them scored has no data). Averaged in SQL (AVG skips the empty ones)."""
    a = Assessment
    year_start, year_end = period_of(AssessmentKind.ANNUAL, assessment.period_start)
    latest = (
        sa.select(a.kind, a.period_start, sa.func.max(a.attempt).label("attempt"))
        .where(
            a.staff_id == assessment.staff_id,
            a.store_id == assessment.store_id,
            a.kind.in_([AssessmentKind.MONTHLY, AssessmentKind.QUARTERLY]),
            a.status == AssessmentStatus.FINALISED,
            a.period_start >= year_start,
            a.period_end <= year_end,
        )
        .group_by(a.kind, a.period_start)
        .subquery("latest")
    )
    row = db.session.execute(
        sa.select(
            *(sa.func.avg(getattr(a, kpi)) for kpi in KPIS),
            sa.func.sum(sa.case((a.kind == AssessmentKind.MONTHLY, 1), else_=0)),
            sa.func.sum(sa.case((a.kind == AssessmentKind.QUARTERLY, 1), else_=0)),
            sa.func.avg(a.total_score),
        )
        .join(
            latest,
            sa.and_(
                latest.c.kind == a.kind,
                latest.c.period_start == a.period_start,
                latest.c.attempt == a.attempt,
            ),
        )
        .where(
            a.staff_id == assessment.staff_id,
            a.store_id == assessment.store_id,
            a.status == AssessmentStatus.FINALISED,
        )
    ).one()
    averages = dict(zip(KPIS, row[: len(KPIS)], strict=True))
    monthly, quarterly, mean_total = row[len(KPIS) :]
    combined = {k: None if v is None else round(float(v), 2) for k, v in averages.items()}
    facts = {
        "monthly_count": int(monthly or 0),
        "quarterly_count": int(quarterly or 0),
        "mean_total": None if mean_total is None else round(float(mean_total), 2),
    }
    return combined, facts


# --- the moves ---------------------------------------------------------------------------------------


def _event(assessment: Assessment, old, new, actor: StaffUser | None, comment: str | None = None) -> None:
    assessment.events.append(
        AssessmentEvent(
            store_id=assessment.store_id,
            from_status=old,
            to_status=new,
            actor_id=actor.id if actor is not None else None,
            comment=comment,
        )
    )


_MOVES = {AssessmentStatus.DRAFT: {AssessmentStatus.FINALISED}, AssessmentStatus.FINALISED: set()}


def _move(
    assessment: Assessment, new: AssessmentStatus, actor: StaffUser, comment: str | None = None
) -> None:
    if new not in _MOVES[assessment.status]:
        raise Refused(
            _("The assessment is “%(status)s”; it cannot become “%(new)s”.",
              status=assessment.status.label, new=new.label)
        )  # fmt: skip
    old, assessment.status = assessment.status, new
    _event(assessment, old, new, actor, comment)


def _require_draft(assessment: Assessment) -> None:
    if assessment.is_final:
        raise Refused(_("This assessment is finalised and can no longer be changed."))


def _require_assessor(assessment: Assessment, user: StaffUser) -> None:
    if not may_assess(user, assessment.kind, assessment.store_id):
        raise Refused(_role_message(assessment.kind))
    if user.id == assessment.staff_id:
        raise Refused(_("Nobody assesses themselves."))


def _role_message(kind: AssessmentKind) -> str:
    if kind is AssessmentKind.MONTHLY:
        return _("Monthly assessments are made by the manager of the technician's store.")
    return _("Quarterly and annual assessments are made by HR (the trainer).")


def existing_assessment(
    person: StaffUser, store: Store, kind: AssessmentKind, start: date, attempt: int
) -> Assessment | None:
    """The assessment of that person, store, cycle, period and attempt, if one is saved."""
    return db.session.execute(
        sa.select(Assessment).where(
            Assessment.staff_id == person.id,
            Assessment.store_id == store.id,
            Assessment.kind == kind,
            Assessment.period_start == start,
            Assessment.attempt == attempt,
        )
    ).scalar()


def open_assessment(
    person: StaffUser,
    store: Store,
    kind: AssessmentKind,
    period: tuple[date, date],
    *,
    by: StaffUser | None,
    today: date,
    retake_of: Assessment | None = None,
) -> Assessment:
    """A draft assessment of `person` at `store` for a period that has ended, KPIs computed.

    `by` is the assessor opening it (None: the periodic job). Refused for someone who is not a
    technician of the store, a period not over yet, or a period already assessed (a second
    assessment of a period is a retake, opened by finalising a failed one)."""
    start, end = period
    if by is not None:
        if not may_assess(by, kind, store.id):
            raise Refused(_role_message(kind))
        if by.id == person.id:
            raise Refused(_("Nobody assesses themselves."))
    if not is_technician_at(person, store.id):
        raise DomainError(
            _("%(name)s is not a technician of %(store)s.", name=person.full_name, store=store.code),
            field="technician",
        )
    if end >= today:
        raise DomainError(
            _("The period %(period)s is not over yet.", period=period_label(kind, start)), field="period"
        )
    attempt = retake_of.attempt + 1 if retake_of is not None else 1

    def refuse_if_assessed() -> None:
        existing = existing_assessment(person, store, kind, start, attempt)
        if existing is not None:
            raise Conflict(
                _(
                    "%(name)s already has a %(kind)s assessment for %(period)s (#%(id)s).",
                    name=person.full_name,
                    kind=kind.label.lower(),
                    period=period_label(kind, start),
                    id=existing.id,
                ),
                field="period",
            )

    refuse_if_assessed()
    assessment = Assessment(
        store_id=store.id,
        staff_id=person.id,
        kind=kind,
        period_start=start,
        period_end=end,
        attempt=attempt,
        retake_of_id=retake_of.id if retake_of is not None else None,
        assessor_id=by.id if by is not None else None,
    )
    apply_policy(assessment)
    comment = _("Retake of #%(id)s", id=retake_of.id) if retake_of is not None else None
    try:
        # A savepoint opened before the row is added: its INSERT (at the flush, or at the
        # autoflush of the KPI queries) fails inside it and leaves the unit of work usable.
        with db.session.begin_nested():
            db.session.add(assessment)
            _recompute(assessment)
            _event(assessment, None, AssessmentStatus.DRAFT, by, comment)
            db.session.flush()
    except IntegrityError:
        # The same assessment opened at the same moment (a double submit, the job): the one
        # that got in is named, a 409 like the check above.
        refuse_if_assessed()
        raise
    return assessment


def refresh(assessment: Assessment, user: StaffUser, *, expected_version: int | None = None) -> None:
    """Recompute a draft's KPIs from the repair data as it is now."""
    check_version(assessment, expected_version)
    _require_draft(assessment)
    _require_assessor(assessment, user)
    _recompute(assessment)
    db.session.flush()


@dataclass(frozen=True)
class ManualScores:
    communication: float | None = None
    teamwork: float | None = None
    safety: float | None = None


def save_scores(
    assessment: Assessment,
    user: StaffUser,
    scores: ManualScores,
    *,
    comment: str | None = None,
    expected_version: int | None = None,
) -> None:
    """The assessor's scores for communication, teamwork and safety (each 0-100 or empty)."""
    check_version(assessment, expected_version)
    _require_draft(assessment)
    _require_assessor(assessment, user)
    for kpi in MANUAL_KPIS:
        value = getattr(scores, kpi)
        if value is not None and not 0 <= value <= 100:
            raise DomainError(_("%(kpi)s must be a score from 0 to 100.", kpi=kpi_label(kpi)), field=kpi)
    if assessment.kind is not AssessmentKind.ANNUAL:  # the annual result combines, it is not scored
        for kpi in MANUAL_KPIS:
            value = getattr(scores, kpi)
            setattr(assessment, kpi, None if value is None else round(float(value), 2))
    assessment.comment = (comment or "").strip() or None
    assessment.assessor_id = user.id
    _recompute(assessment)
    db.session.flush()


def finalise(
    assessment: Assessment,
    user: StaffUser,
    *,
    today: date,
    outcome: AssessmentOutcome = AssessmentOutcome.NONE,
    follow_up: FollowUp = FollowUp.NONE,
    comment: str | None = None,
    expected_version: int | None = None,
) -> Assessment | None:
    """Recompute, freeze and record the result; returns the retake it opened, if any.

    Every manual KPI the policy weighs must be scored first; the annual result must have
    monthly or quarterly results to combine. A failed assessment needs its follow-up (HB
    §5.3.1(3)): a retake of the same period or retraining; an annual one, retraining.
    """
    check_version(assessment, expected_version)
    _require_draft(assessment)
    _require_assessor(assessment, user)
    _recompute(assessment)
    if assessment.kind is not AssessmentKind.ANNUAL:
        missing = [
            kpi
            for kpi in MANUAL_KPIS
            if assessment.weights.get(kpi, 0) > 0 and getattr(assessment, kpi) is None
        ]
        if missing:
            raise DomainError(
                _("Score %(kpis)s before finalising.", kpis=", ".join(kpi_label(k) for k in missing)),
                field=missing[0],
            )
    if assessment.total_score is None:
        raise DomainError(
            _("There is nothing to assess yet: no KPI of this assessment has any data.")
            if assessment.kind is not AssessmentKind.ANNUAL
            else _("No monthly or quarterly assessment of this year is finalised yet.")
        )
    if assessment.kind is not AssessmentKind.ANNUAL and outcome is not AssessmentOutcome.NONE:
        raise DomainError(_("Only the annual result records an outcome."), field="outcome")
    if assessment.passed:
        if follow_up is not FollowUp.NONE:
            raise DomainError(_("A passed assessment needs no retake or retraining."), field="follow_up")
    elif follow_up is FollowUp.NONE:
        raise DomainError(
            _("The assessment is failed (%(total)s below %(mark)s): choose a retake or retraining.",
              total=f"{assessment.total_score:g}", mark=f"{assessment.pass_mark:g}"),
            field="follow_up",
        )  # fmt: skip
    elif follow_up is FollowUp.RETAKE and assessment.kind is AssessmentKind.ANNUAL:
        raise DomainError(
            _("The annual result combines the year's assessments; it is followed by retraining."),
            field="follow_up",
        )
    assessment.outcome = outcome
    assessment.follow_up = follow_up
    assessment.comment = (comment or "").strip() or assessment.comment
    assessment.assessor_id = user.id
    assessment.finalised_at = utcnow()
    _move(assessment, AssessmentStatus.FINALISED, user, comment)
    db.session.flush()
    if follow_up is FollowUp.RETRAINING:
        _open_retraining(assessment)
    if follow_up is FollowUp.RETAKE:
        return open_assessment(
            assessment.staff,
            assessment.store,
            assessment.kind,
            (assessment.period_start, assessment.period_end),
            by=user,
            today=today,
            retake_of=assessment,
        )
    return None


def _open_retraining(assessment: Assessment) -> None:
    """HB §5.3.1(3): the training domain opens the retraining (issue #7's training part)."""
    from repairqc.training import services as training
    from repairqc.training.models import RetrainingReason

    training.open_retraining(
        assessment.staff,
        reason=RetrainingReason.ASSESSMENT_FAILED,
        note=_(
            "Failed the %(kind)s assessment #%(id)s for %(period)s: %(total)s below the pass mark %(mark)s.",
            kind=assessment.kind.label.lower(),
            id=assessment.id,
            period=period_label(assessment.kind, assessment.period_start),
            total=f"{assessment.total_score:g}",
            mark=f"{assessment.pass_mark:g}",
        ),
    )


def kpi_label(kpi: str) -> str:
    return str(Assessment.__table__.columns[kpi].info["label"])


# --- the periodic job ---------------------------------------------------------------------------------


def active_technicians(by_day: date) -> list[tuple[StaffUser, Store]]:
    """(technician, store) for every active technician role at an active store held since `by_day`."""
    until = datetime.combine(by_day + timedelta(days=1), time())
    rows = db.session.execute(
        sa.select(StaffUser, Store)
        .join(RoleAssignment, RoleAssignment.user_id == StaffUser.id)
        .join(Store, Store.id == RoleAssignment.store_id)
        .where(
            RoleAssignment.role == Role.TECHNICIAN,
            RoleAssignment.created_at < until,
            StaffUser.is_active.is_(True),
            StaffUser.is_platform_support.is_(False),
            Store.is_active.is_(True),
        )
        .order_by(Store.id, StaffUser.id)
    ).all()
    return [(user, store) for user, store in rows]


def create_due_drafts(today: date) -> list[int]:
    """The drafts of the month, quarter and year that ended last, one per active technician and
    store, made once: an existing one is skipped, and a concurrent run that inserts the same
    row first makes this one's insert fail in its savepoint and skip it too. Returns the ids
    made now (the job mails their assessors)."""
    created: list[int] = []
    for kind in AssessmentKind:
        start, end = previous_period(kind, today)
        existing = set(
            db.session.execute(
                sa.select(Assessment.staff_id, Assessment.store_id).where(
                    Assessment.kind == kind, Assessment.period_start == start, Assessment.attempt == 1
                )
            ).all()
        )
        for person, store in active_technicians(end):
            if (person.id, store.id) in existing:
                continue
            try:
                with db.session.begin_nested():
                    assessment = open_assessment(person, store, kind, (start, end), by=None, today=today)
            except (IntegrityError, Conflict):
                continue
            created.append(assessment.id)
    return created


def assessors_for(assessment: Assessment) -> list[StaffUser]:
    """Who is told of a new draft: the store's managers (monthly) or HR (quarterly, annual)."""
    roles = ASSESSORS[assessment.kind]
    statement = (
        sa.select(StaffUser)
        .join(RoleAssignment, RoleAssignment.user_id == StaffUser.id)
        .where(
            RoleAssignment.role.in_(roles), StaffUser.is_active.is_(True), StaffUser.id != assessment.staff_id
        )
        .order_by(StaffUser.id)
        .distinct()
    )
    if assessment.kind is AssessmentKind.MONTHLY:
        statement = statement.where(RoleAssignment.store_id == assessment.store_id)
    return list(db.session.execute(statement).scalars())


def history(staff_id: int, store_ids: Iterable[int] | None) -> sa.Select:
    """A technician's assessments, newest period first (within `store_ids`, None: all)."""
    statement = sa.select(Assessment).where(Assessment.staff_id == staff_id)
    if store_ids is not None:
        statement = statement.where(Assessment.store_id.in_(list(store_ids)))
    return statement.order_by(Assessment.period_start.desc(), Assessment.kind, Assessment.attempt.desc())
