"""The rules of improvement suggestions and process reviews (HB §2.3.1, §2.3.2, §5.2.3, §6.3.3).

A suggestion's status changes only in `_move`, which writes the `SuggestionEvent` (who, when,
from, to, comment). One function per move:

    submit_suggestion      → submitted          (any member of staff)
    adopt_suggestion       submitted → adopted  (QA or the owner: responsible person, due date, plan)
    reject_suggestion      submitted → rejected (QA or the owner, with the reason the submitter sees)
    start_implementation   adopted → in progress               (the responsible person, QA, owner)
    record_implementation  adopted / in progress → implemented (what was done, when; effect review date)
    review_effect          implemented → reviewed (QA or the owner: effective / partly / not; a
                           result short of effective may reopen the problem as a new suggestion)

Each checks the version the page showed (`check_version`, 409 when stale), who may act (403)
and the state (409), with a translated message. The submitter and the responsible person are
mailed the decision after the commit. Views and jobs call these inside one unit of work; nothing
here commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import partial

import sqlalchemy as sa
from flask_babel import gettext as _

from repairqc.accounts.models import Role, RoleAssignment, StaffUser
from repairqc.accounts.permissions import Grants
from repairqc.db import db, on_commit, utcnow
from repairqc.errors import Conflict, DomainError
from repairqc.improvements.models import (
    REFERENCE_MAX,
    SUGGESTION_PENDING,
    TEXT_MAX,
    TITLE_MAX,
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
from repairqc.models_base import check_version
from repairqc.stores.models import Store

#: Decide on suggestions, review their effect, record process reviews (HB §2.3.2: QA adopts).
DECIDERS = frozenset({Role.OWNER, Role.QA_MANAGER})
#: The handbook gives no interval; these are the forms' defaults, changed per record.
EFFECT_REVIEW_DEFAULT_DAYS = 90
PROCESS_REVIEW_DEFAULT_DAYS = 90
#: A participants list or an areas list longer than this is a mistake, not a review.
PARTICIPANTS_MAX = 2000

#: status → the statuses it may move to.
MOVES: dict[SuggestionStatus, tuple[SuggestionStatus, ...]] = {
    SuggestionStatus.SUBMITTED: (SuggestionStatus.ADOPTED, SuggestionStatus.REJECTED),
    SuggestionStatus.ADOPTED: (SuggestionStatus.IN_PROGRESS, SuggestionStatus.IMPLEMENTED),
    SuggestionStatus.IN_PROGRESS: (SuggestionStatus.IMPLEMENTED,),
    SuggestionStatus.IMPLEMENTED: (SuggestionStatus.REVIEWED,),
    SuggestionStatus.REJECTED: (),
    SuggestionStatus.REVIEWED: (),
}


class Refused(Conflict):
    """A move the suggestion's state does not allow (409)."""


class NotAllowed(DomainError):
    """A move the user's role does not allow (403)."""

    status_code = 403


# --- who may act ----------------------------------------------------------------------------------


def may_decide(user: StaffUser) -> bool:
    """QA managers and the owner decide, review effects and record process reviews."""
    return bool(Grants.of(user).tenant_roles & DECIDERS)


def may_implement(user: StaffUser, suggestion: ImprovementSuggestion) -> bool:
    """The responsible person tracks the work; QA and the owner may record it for them."""
    responsible = suggestion.responsible_id
    return may_decide(user) or (responsible is not None and responsible == user.id)


def may_submit(user: StaffUser) -> bool:
    """Every member of staff holding a role (HB §2.3.2: staff submit suggestions)."""
    return user.is_active and bool(user.roles)


def submission_stores(user: StaffUser) -> tuple[list[Store], bool]:
    """(the active stores `user` may file a suggestion for, whether they may file one for the
    whole provider). HQ roles: every store, or none; store roles: the stores they work at."""
    grants = Grants.of(user)
    statement = sa.select(Store).where(Store.is_active.is_(True)).order_by(Store.code)
    if grants.tenant_roles:
        return list(db.session.execute(statement).scalars()), True
    return list(db.session.execute(statement.where(Store.id.in_(set(grants.store_roles)))).scalars()), False


def other_decider_exists(user: StaffUser) -> bool:
    """Whether an active QA manager or owner other than `user` exists."""
    return (
        db.session.execute(
            sa.select(StaffUser.id)
            .join(RoleAssignment, RoleAssignment.user_id == StaffUser.id)
            .where(
                RoleAssignment.role.in_(DECIDERS),
                StaffUser.is_active.is_(True),
                StaffUser.id != user.id,
            )
            .limit(1)
        ).first()
        is not None
    )


def _not_implementer() -> str:
    return _("Only the responsible person, a QA manager or the owner tracks its implementation.")


def _require_decider(user: StaffUser, message: str) -> None:
    if not may_decide(user):
        raise NotAllowed(message)


def decider_recipients() -> list[StaffUser]:
    """Who is reminded of effect reviews and process reviews: the active QA managers, or the
    owners when there are none."""
    for role in (Role.QA_MANAGER, Role.OWNER):
        users = list(
            db.session.execute(
                sa.select(StaffUser)
                .join(RoleAssignment, RoleAssignment.user_id == StaffUser.id)
                .where(RoleAssignment.role == role, StaffUser.is_active.is_(True))
                .order_by(StaffUser.id)
                .distinct()
            ).scalars()
        )
        if users:
            return users
    return []


def responsible_candidates(suggestion: ImprovementSuggestion) -> list[StaffUser]:
    """Active staff who may be made responsible: HQ, or people working at the suggestion's
    store (anyone for a provider-wide suggestion)."""
    users = db.session.execute(
        sa.select(StaffUser).where(StaffUser.is_active.is_(True)).order_by(StaffUser.full_name, StaffUser.id)
    ).scalars()
    return [user for user in users if _works_for(user, suggestion.store_id)]


def _works_for(user: StaffUser, store_id: int | None) -> bool:
    stores = Grants.of(user).visible_stores()
    if not user.roles:
        return False
    return stores is None or store_id is None or store_id in stores


# --- text -----------------------------------------------------------------------------------------


def _text(value: str | None, *, field: str, required: str | None, limit: int = TEXT_MAX) -> str | None:
    """Stripped text, refused when required and empty or when longer than `limit`."""
    value = (value or "").strip()
    if not value:
        if required:
            raise DomainError(required, field=field)
        return None
    if len(value) > limit:
        raise DomainError(_("At most %(n)s characters.", n=limit), field=field)
    return value


# --- moves ----------------------------------------------------------------------------------------


def _event(
    suggestion: ImprovementSuggestion,
    before: SuggestionStatus | None,
    after: SuggestionStatus,
    user: StaffUser | None,
    comment: str | None,
    now: datetime | None = None,
) -> None:
    suggestion.events.append(
        SuggestionEvent(
            from_status=before,
            to_status=after,
            actor_id=user.id if user is not None else None,
            at=now or utcnow(),
            comment=comment,
        )
    )


def _move(
    suggestion: ImprovementSuggestion,
    after: SuggestionStatus,
    user: StaffUser,
    comment: str | None = None,
    now: datetime | None = None,
) -> None:
    """The one place a suggestion's status changes: checks the move and writes the event."""
    before = suggestion.status
    if after not in MOVES[before]:
        raise Refused(
            _("The suggestion is “%(status)s”; it cannot become “%(new)s”.",
              status=before.label, new=after.label)
        )  # fmt: skip
    suggestion.status = after
    _event(suggestion, before, after, user, comment, now)


def submit_suggestion(
    user: StaffUser,
    *,
    area: ImprovementArea,
    title: str,
    problem: str,
    proposal: str,
    store: Store | None,
    source: SuggestionSource = SuggestionSource.STAFF_IDEA,
    source_reference: str | None = None,
    follow_up_of: ImprovementSuggestion | None = None,
    now: datetime | None = None,
) -> ImprovementSuggestion:
    """A member of staff submits a suggestion (HB §2.3.2) for a store they work at; HQ may file
    one for any store or for the whole provider (`store` None)."""
    if not may_submit(user):
        raise NotAllowed(_("Only members of staff with a role submit suggestions."))
    stores, provider_wide = submission_stores(user)
    if store is None:
        if not provider_wide:
            raise DomainError(_("Choose the store the suggestion concerns."), field="store")
    elif store.id not in {s.id for s in stores}:
        raise DomainError(_("You can file suggestions only for the stores you work at."), field="store")
    suggestion = ImprovementSuggestion(
        store_id=store.id if store is not None else None,
        store=store,
        area=area,
        title=_text(title, field="title", required=_("Give the suggestion a short title."), limit=TITLE_MAX),
        problem=_text(problem, field="problem", required=_("Describe the problem.")),
        proposal=_text(proposal, field="proposal", required=_("Describe what you propose.")),
        source=source,
        source_reference=_text(
            source_reference, field="source_reference", required=None, limit=REFERENCE_MAX
        ),
        status=SuggestionStatus.SUBMITTED,
        submitted_by_id=user.id,
        submitted_at=now or utcnow(),
        follow_up_of_id=follow_up_of.id if follow_up_of is not None else None,
    )
    db.session.add(suggestion)
    _event(suggestion, None, SuggestionStatus.SUBMITTED, user, None, now)
    db.session.flush()
    return suggestion


def _refuse_own_decision(suggestion: ImprovementSuggestion, user: StaffUser) -> None:
    """Four eyes: whoever submitted a suggestion does not decide it while another QA manager or
    owner can; a one-person shop still can, or nothing could be decided there."""
    if suggestion.submitted_by_id == user.id and other_decider_exists(user):
        raise NotAllowed(_("You submitted this suggestion: another QA manager or the owner decides on it."))


def _require_submitted(suggestion: ImprovementSuggestion) -> None:
    if suggestion.status is not SuggestionStatus.SUBMITTED:
        raise Refused(
            _("This suggestion has been decided already (%(status)s).", status=suggestion.status.label)
        )


def adopt_suggestion(
    suggestion: ImprovementSuggestion,
    user: StaffUser,
    *,
    responsible: StaffUser | None,
    due_on: date | None,
    plan: str,
    today: date,
    note: str | None = None,
    expected_version: int | None = None,
) -> None:
    """QA or the owner adopts the suggestion: who is responsible, by when, and the plan."""
    check_version(suggestion, expected_version)
    _require_decider(user, _("Only a QA manager or the owner decides on suggestions."))
    _require_submitted(suggestion)
    _refuse_own_decision(suggestion, user)
    if responsible is None:
        raise DomainError(_("Choose the person responsible for implementing it."), field="responsible")
    if not responsible.is_active or not _works_for(responsible, suggestion.store_id):
        raise DomainError(
            _("%(name)s does not work at the store this suggestion concerns.", name=responsible.full_name),
            field="responsible",
        )
    if due_on is None:
        raise DomainError(_("Enter the date by which it is to be implemented."), field="due_on")
    if due_on < today:
        raise DomainError(_("The due date is in the past."), field="due_on")
    plan_text = _text(plan, field="plan", required=_("Describe the implementation plan."))
    note_text = _text(note, field="note", required=None)
    suggestion.responsible_id = responsible.id
    suggestion.responsible = responsible
    suggestion.due_on = due_on
    suggestion.plan = plan_text
    suggestion.decided_by_id = user.id
    suggestion.decided_at = utcnow()
    suggestion.decision_note = note_text
    _move(suggestion, SuggestionStatus.ADOPTED, user, note_text)
    db.session.flush()
    _notify_decision(suggestion)


def reject_suggestion(
    suggestion: ImprovementSuggestion, user: StaffUser, *, reason: str, expected_version: int | None = None
) -> None:
    """QA or the owner does not adopt the suggestion; the reason is required and shown to the
    submitter (on the page and in the mail)."""
    check_version(suggestion, expected_version)
    _require_decider(user, _("Only a QA manager or the owner decides on suggestions."))
    _require_submitted(suggestion)
    _refuse_own_decision(suggestion, user)
    reason_text = _text(reason, field="reason", required=_("Give the reason for not adopting it."))
    suggestion.decided_by_id = user.id
    suggestion.decided_at = utcnow()
    suggestion.decision_note = reason_text
    _move(suggestion, SuggestionStatus.REJECTED, user, reason_text)
    db.session.flush()
    _notify_decision(suggestion)


def _notify_decision(suggestion: ImprovementSuggestion) -> None:
    """Mail the submitter (and, on adoption, the responsible person) after the commit."""
    from repairqc.improvements.tasks import send_decision_mail
    from repairqc.jobs import enqueue

    recipients = [suggestion.submitted_by_id]
    if suggestion.status is SuggestionStatus.ADOPTED:
        recipients.append(suggestion.responsible_id)
    seen: set[int] = set()
    for user_id in recipients:
        if user_id is None or user_id in seen or user_id == suggestion.decided_by_id:
            continue
        seen.add(user_id)
        on_commit(partial(enqueue, send_decision_mail, suggestion.id, user_id))


def start_implementation(
    suggestion: ImprovementSuggestion,
    user: StaffUser,
    *,
    note: str | None = None,
    expected_version: int | None = None,
) -> None:
    """Work on an adopted suggestion has begun."""
    check_version(suggestion, expected_version)
    if not may_implement(user, suggestion):
        raise NotAllowed(_not_implementer())
    if suggestion.status is not SuggestionStatus.ADOPTED:
        raise Refused(_("Only an adopted suggestion can be started."))
    _move(suggestion, SuggestionStatus.IN_PROGRESS, user, _text(note, field="note", required=None))
    db.session.flush()


def record_implementation(
    suggestion: ImprovementSuggestion,
    user: StaffUser,
    *,
    implemented_on: date | None,
    what_was_done: str,
    today: date,
    effect_review_due_on: date | None = None,
    expected_version: int | None = None,
) -> None:
    """The suggestion is implemented: what was done and when; its effect is to be reviewed on
    `effect_review_due_on` (EFFECT_REVIEW_DEFAULT_DAYS after implementation when not given)."""
    check_version(suggestion, expected_version)
    if not may_implement(user, suggestion):
        raise NotAllowed(_not_implementer())
    if suggestion.status not in SUGGESTION_PENDING:
        raise Refused(_("Only an adopted suggestion can be recorded as implemented."))
    if implemented_on is None:
        raise DomainError(_("Enter the date it was implemented."), field="implemented_on")
    if implemented_on > today:
        raise DomainError(_("The date is in the future."), field="implemented_on")
    if suggestion.decided_at is not None and implemented_on < suggestion.decided_at.date():
        raise DomainError(_("The date is before the suggestion was adopted."), field="implemented_on")
    done = _text(what_was_done, field="what_was_done", required=_("Describe what was done."))
    review_on = effect_review_due_on or implemented_on + timedelta(days=EFFECT_REVIEW_DEFAULT_DAYS)
    if review_on <= implemented_on:
        raise DomainError(
            _("The effect is reviewed after the implementation: choose a later date."),
            field="effect_review_due_on",
        )
    suggestion.implemented_on = implemented_on
    suggestion.implementation_notes = done
    suggestion.implemented_by_id = user.id
    suggestion.effect_review_due_on = review_on
    _move(suggestion, SuggestionStatus.IMPLEMENTED, user, done)
    db.session.flush()


def review_effect(
    suggestion: ImprovementSuggestion,
    user: StaffUser,
    *,
    rating: EffectRating | None,
    notes: str,
    reopen: bool = False,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> ImprovementSuggestion | None:
    """QA or the owner reviews the effect (HB §2.3.2 "effect tracked afterwards"). A result
    short of effective may reopen the problem as a new suggestion linked to this one, which is
    returned."""
    check_version(suggestion, expected_version)
    _require_decider(user, _("Only a QA manager or the owner reviews the effect."))
    if suggestion.status is not SuggestionStatus.IMPLEMENTED:
        raise Refused(_("Only an implemented suggestion can have its effect reviewed."))
    if rating is None:
        raise DomainError(_("Choose how effective it was."), field="rating")
    text = _text(notes, field="notes", required=_("Describe the effect observed."))
    if reopen and rating is EffectRating.EFFECTIVE:
        raise DomainError(_("Only a result short of effective reopens the problem."), field="reopen")
    now = now or utcnow()
    suggestion.effect_rating = rating
    suggestion.effect_notes = text
    suggestion.effect_reviewed_by_id = user.id
    suggestion.effect_reviewed_at = now
    _move(suggestion, SuggestionStatus.REVIEWED, user, text, now)
    db.session.flush()
    if not reopen:
        return None
    follow_up = ImprovementSuggestion(
        store_id=suggestion.store_id,
        area=suggestion.area,
        title=_("Follow-up of #%(id)s: %(title)s", id=suggestion.id, title=suggestion.title)[:TITLE_MAX],
        problem=suggestion.problem,
        proposal=text,
        source=SuggestionSource.EFFECT_REVIEW,
        source_reference=f"#{suggestion.id}",
        status=SuggestionStatus.SUBMITTED,
        submitted_by_id=user.id,
        submitted_at=now,
        follow_up_of_id=suggestion.id,
    )
    db.session.add(follow_up)
    _event(follow_up, None, SuggestionStatus.SUBMITTED, user, _("Reopened by the effect review of #%(id)s",
                                                                   id=suggestion.id), now)  # fmt: skip
    db.session.flush()
    return follow_up


def follow_ups(suggestion: ImprovementSuggestion) -> list[ImprovementSuggestion]:
    return list(
        db.session.execute(
            sa.select(ImprovementSuggestion)
            .where(ImprovementSuggestion.follow_up_of_id == suggestion.id)
            .order_by(ImprovementSuggestion.id)
        ).scalars()
    )


# --- process reviews (HB §2.3.1) ---------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """What happened to suggestions in a period (all stores): the review's starting point."""

    submitted: int
    adopted: int
    rejected: int
    implemented: int
    reviewed: int
    effective: int
    partly_effective: int
    not_effective: int
    open_now: int
    overdue_now: int


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min)


def period_figures(start: date, end: date, today: date) -> Figures:
    """Counts of the period [start, end] (whole days, UTC): submitted, adopted and not adopted
    (decided in it), implemented, effect reviewed (by rating); and, as of `today`, the adopted
    suggestions not yet implemented and those of them past due. Two statements."""
    S = ImprovementSuggestion
    after_end = day_start(end + timedelta(days=1))

    def within(column):
        return sa.and_(column.is_not(None), column >= day_start(start), column < after_end)

    def count_if(condition):
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    decided = within(S.decided_at)
    reviewed = within(S.effect_reviewed_at)
    row = db.session.execute(
        sa.select(
            count_if(within(S.submitted_at)),
            count_if(sa.and_(decided, S.status != SuggestionStatus.REJECTED)),
            count_if(sa.and_(decided, S.status == SuggestionStatus.REJECTED)),
            count_if(sa.and_(S.implemented_on.is_not(None), S.implemented_on.between(start, end))),
            count_if(reviewed),
            count_if(sa.and_(reviewed, S.effect_rating == EffectRating.EFFECTIVE)),
            count_if(sa.and_(reviewed, S.effect_rating == EffectRating.PARTLY_EFFECTIVE)),
            count_if(sa.and_(reviewed, S.effect_rating == EffectRating.NOT_EFFECTIVE)),
        )
    ).one()
    pending = db.session.execute(
        sa.select(
            sa.func.count(),
            count_if(sa.and_(S.due_on.is_not(None), S.due_on < today)),
        ).where(S.status.in_(SUGGESTION_PENDING))
    ).one()
    return Figures(*(int(value) for value in row), int(pending[0]), int(pending[1]))


def latest_review() -> ProcessReview | None:
    return db.session.execute(
        sa.select(ProcessReview).order_by(ProcessReview.held_on.desc(), ProcessReview.id.desc()).limit(1)
    ).scalar()


def process_review_due_on() -> date | None:
    """When the next process review is due: the latest review's `next_review_due_on`; with no
    review yet, PROCESS_REVIEW_DEFAULT_DAYS after the first suggestion; None with neither."""
    latest = latest_review()
    if latest is not None:
        return latest.next_review_due_on
    first = db.session.execute(sa.select(sa.func.min(ImprovementSuggestion.submitted_at))).scalar()
    if first is None:
        return None
    return first.date() + timedelta(days=PROCESS_REVIEW_DEFAULT_DAYS)


def default_period(today: date) -> tuple[date, date]:
    """The period a new review covers by default: from the day after the last one's period
    (or PROCESS_REVIEW_DEFAULT_DAYS back) to today."""
    latest = latest_review()
    start = latest.period_end + timedelta(days=1) if latest is not None else None
    if start is None or start > today:
        start = today - timedelta(days=PROCESS_REVIEW_DEFAULT_DAYS)
    return start, today


def check_period(start: date | None, end: date | None) -> tuple[date, date]:
    if start is None:
        raise DomainError(_("Enter the first day of the period."), field="period_start")
    if end is None:
        raise DomainError(_("Enter the last day of the period."), field="period_end")
    if end < start:
        raise DomainError(_("The period ends before it starts."), field="period_end")
    if (end - start).days > 366:
        raise DomainError(_("A period is at most a year long."), field="period_end")
    return start, end


def _linked(suggestion_ids: Iterable[int]) -> list[ImprovementSuggestion]:
    ids = sorted(set(suggestion_ids))
    if not ids:
        return []
    found = list(
        db.session.execute(
            sa.select(ImprovementSuggestion)
            .where(ImprovementSuggestion.id.in_(ids))
            .order_by(ImprovementSuggestion.id)
        ).scalars()
    )
    if len(found) != len(ids):
        raise DomainError(_("One of the suggestions chosen no longer exists."), field="suggestions")
    return found


def save_process_review(
    user: StaffUser,
    *,
    period_start: date | None,
    period_end: date | None,
    held_on: date | None,
    participants: str,
    areas: Iterable[ImprovementArea],
    findings: str,
    decisions: str,
    next_review_due_on: date | None,
    suggestion_ids: Iterable[int] = (),
    today: date,
    review: ProcessReview | None = None,
    expected_version: int | None = None,
) -> ProcessReview:
    """Record (or correct) a periodic review of the process (HB §2.3.1), by QA or the owner."""
    if review is not None:
        check_version(review, expected_version)
    _require_decider(user, _("Only a QA manager or the owner records process reviews."))
    start, end = check_period(period_start, period_end)
    if held_on is None:
        raise DomainError(_("Enter the date the review was held."), field="held_on")
    if held_on > today:
        raise DomainError(_("The date is in the future."), field="held_on")
    areas = list(dict.fromkeys(areas))
    if not areas:
        raise DomainError(_("Tick at least one area reviewed."), field="areas")
    if next_review_due_on is None:
        raise DomainError(_("Enter when the next review is due."), field="next_review_due_on")
    if next_review_due_on <= held_on:
        raise DomainError(_("The next review is due after this one."), field="next_review_due_on")
    values = {
        "participants": _text(
            participants, field="participants", required=_("Name the participants."), limit=PARTICIPANTS_MAX
        ),
        "findings": _text(findings, field="findings", required=_("Record what the review found.")),
        "decisions": _text(decisions, field="decisions", required=_("Record what was decided.")),
    }
    linked = _linked(suggestion_ids)
    if review is None:
        review = ProcessReview(recorded_by_id=user.id)
        db.session.add(review)
    review.period_start, review.period_end, review.held_on = start, end, held_on
    review.areas = ",".join(area.value for area in areas)
    review.next_review_due_on = next_review_due_on
    for key, value in values.items():
        setattr(review, key, value)
    review.suggestions = linked
    db.session.flush()
    return review


# --- reminders (the daily "improvements-due" job) ------------------------------------------------------


@dataclass(frozen=True)
class Reminder:
    kind: ReminderKind
    due_on: date
    suggestion: ImprovementSuggestion | None = None

    @property
    def key(self) -> str:
        return f"{self.kind.value}:{self.suggestion.id if self.suggestion else 0}:{self.due_on.isoformat()}"


def due_reminders(today: date) -> list[Reminder]:
    """Adopted suggestions past their due date, effect reviews due (today or earlier), and the
    process review when due."""
    S = ImprovementSuggestion
    found = [
        Reminder(ReminderKind.OVERDUE, s.due_on, s)
        for s in db.session.execute(
            sa.select(S).where(S.status.in_(SUGGESTION_PENDING), S.due_on < today).order_by(S.due_on, S.id)
        ).scalars()
    ]
    found += [
        Reminder(ReminderKind.EFFECT_REVIEW, s.effect_review_due_on, s)
        for s in db.session.execute(
            sa.select(S)
            .where(S.status == SuggestionStatus.IMPLEMENTED, S.effect_review_due_on <= today)
            .order_by(S.effect_review_due_on, S.id)
        ).scalars()
    ]
    review_due = process_review_due_on()
    if review_due is not None and review_due <= today:
        found.append(Reminder(ReminderKind.PROCESS_REVIEW, review_due))
    return found


def claim_reminders(today: date) -> list[tuple[Reminder, ImprovementReminder]]:
    """The reminders due and not yet sent, each claimed by inserting its key first (in a
    savepoint), so a second run, a retry or a concurrent worker claims nothing twice."""
    claimed = []
    for reminder in due_reminders(today):
        exists = db.session.execute(
            sa.select(ImprovementReminder.id).where(ImprovementReminder.key == reminder.key)
        ).first()
        if exists is not None:
            continue
        row = ImprovementReminder(
            key=reminder.key,
            kind=reminder.kind,
            suggestion_id=reminder.suggestion.id if reminder.suggestion else None,
            due_on=reminder.due_on,
            sent_on=today,
        )
        try:
            with db.session.begin_nested():
                db.session.add(row)
        except sa.exc.IntegrityError:
            continue
        claimed.append((reminder, row))
    return claimed


def reminder_recipients(reminder: Reminder) -> list[StaffUser]:
    """An overdue suggestion: its responsible person (QA when they have left); an effect or
    process review: QA (the owners when there is no QA manager)."""
    if reminder.kind is ReminderKind.OVERDUE:
        responsible = reminder.suggestion.responsible if reminder.suggestion else None
        if responsible is not None and responsible.is_active:
            return [responsible]
    return decider_recipients()
