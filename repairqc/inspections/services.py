"""The rules of HQ supervision (HB ch.8): plans → inspections → findings → corrective actions.

Every status of an inspection or a corrective action changes in `_move_inspection` or
`_move_action`, which write the event row (who, when, from, to, comment); the functions above
them check who may make the move and what it needs. Views and jobs call these functions inside
one unit of work; nothing here commits.
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from flask_babel import format_date, get_locale, ngettext
from flask_babel import gettext as _
from sqlalchemy import orm

from repairqc.accounts.models import Role, RoleAssignment, StaffUser
from repairqc.accounts.permissions import Grants
from repairqc.db import db, utcnow
from repairqc.errors import Conflict, DomainError
from repairqc.files.services import store_bytes
from repairqc.inspections.models import (
    ACTION_PENDING,
    ActionStatus,
    CorrectiveAction,
    CorrectiveActionEvent,
    CorrectiveActionPhoto,
    Finding,
    FindingCategory,
    Inspection,
    InspectionChecklist,
    InspectionEvent,
    InspectionItemResult,
    InspectionKind,
    InspectionPhoto,
    InspectionPlan,
    InspectionStatus,
    Recurrence,
    RewardKind,
    RewardPenalty,
    Severity,
)
from repairqc.models_base import check_version
from repairqc.privacy.checklist import CONFIDENTIALITY_TEMPLATE
from repairqc.standards.schema import SCORE_MAX, InspectionTemplate, StandardDocument
from repairqc.standards.services import effective_for_store, version_on
from repairqc.stores.models import Store

logger = logging.getLogger(__name__)

#: Inspections are made this many days before they are due, so they show on the calendar and
#: the inspector can prepare; unannounced ones stay hidden from the store all the same.
SCHEDULE_AHEAD_DAYS = 14
#: A scored item at or above this passes; below it counts as a failed item (a critical one
#: raises a finding).
SCORE_PASS = 3
#: Who reviews inspections and verifies corrective actions (design.md §3).
QA = frozenset({Role.OWNER, Role.QA_MANAGER})


class Refused(Conflict):
    """A move the record's state or the user's role does not allow (409)."""


# --- plans and their recurrence -----------------------------------------------------------------------

_MONTHS = {Recurrence.MONTHLY: 1, Recurrence.QUARTERLY: 3, Recurrence.HALF_YEARLY: 6, Recurrence.YEARLY: 12}


def _add_months(day: date, months: int) -> date:
    """`day` moved by whole months; the 31st becomes the month's last day where it has none."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def occurrence(plan: InspectionPlan, index: int) -> date:
    """The plan's `index`-th date (0 = the first). Months count from the first date, so a plan
    starting on the 31st stays at month end instead of drifting to the 28th."""
    if plan.recurrence is Recurrence.WEEKLY:
        return plan.starts_on + timedelta(weeks=index)
    if plan.recurrence is Recurrence.ONCE:
        return plan.starts_on
    return _add_months(plan.starts_on, _MONTHS[plan.recurrence] * index)


def occurrences(plan: InspectionPlan, start: date, end: date) -> Iterator[date]:
    """The plan's dates within [start, end], in order."""
    index = 0
    while True:
        day = occurrence(plan, index)
        if day > end or (plan.ends_on is not None and day > plan.ends_on):
            return
        if day >= start:
            yield day
        if plan.recurrence is Recurrence.ONCE:
            return
        index += 1


def _following(plan: InspectionPlan, day: date) -> date | None:
    """The plan's first date after `day`, or None when the plan ends before it."""
    if plan.recurrence is Recurrence.ONCE:
        return None
    return next(occurrences(plan, day + timedelta(days=1), date.max - timedelta(days=400)), None)


def check_plan(plan: InspectionPlan, stores: list[Store]) -> None:
    """The rules of a plan, with a message naming the field (bad input saves nothing)."""
    if not stores:
        raise DomainError(_("A plan needs at least one store."), field="stores")
    if plan.ends_on is not None and plan.ends_on < plan.starts_on:
        raise DomainError(_("The last date is before the first one."), field="ends_on")
    if plan.kind is not InspectionKind.INTERNAL_AUDIT and plan.inspector_id is None:
        raise DomainError(_("Choose the inspector."), field="inspector")
    if plan.inspector_id is not None:
        inspector = db.session.get(StaffUser, plan.inspector_id)
        grants = Grants.of(inspector) if inspector is not None else Grants()
        outside = [s.code for s in stores if not _may_inspect(grants, s.id, plan.kind)]
        if inspector is None or not inspector.is_active or outside:
            raise DomainError(
                _("%(name)s may not inspect %(stores)s.", name=inspector.full_name if inspector else "?",
                  stores=", ".join(outside) or "-"),
                field="inspector",
            )  # fmt: skip


def save_plan(plan: InspectionPlan, stores: list[Store], *, today: date) -> list[Inspection]:
    """Create or change a plan; inspections already made keep their dates. Returns the
    inspections it scheduled now (those due within SCHEDULE_AHEAD_DAYS)."""
    # Read before `check_plan`, whose queries autoflush a plan already stored and clear its history.
    changes = sa.inspect(plan).attrs
    starts_changed, checklist_changed = (
        changes.starts_on.history.has_changes(),
        changes.checklist.history.has_changes(),
    )
    check_plan(plan, stores)
    if starts_changed and plan.starts_on < today - timedelta(days=366):
        # Every missed date up to today would become an overdue inspection at once (a typed
        # year 0202 for 2026 would make tens of thousands).
        raise DomainError(_("The first date is more than a year ago."), field="starts_on")
    plan.stores = stores
    if plan.id is not None and checklist_changed:
        # Those not yet started hold no items: they follow the plan's new checklist.
        for inspection in db.session.execute(
            sa.select(Inspection).where(
                Inspection.plan_id == plan.id, Inspection.status == InspectionStatus.SCHEDULED
            )
        ).scalars():
            inspection.checklist = plan.checklist
    if plan.id is None or plan.next_occurrence_on is None or plan.next_occurrence_on < plan.starts_on:
        plan.next_occurrence_on = plan.starts_on
    if plan.ends_on is not None and plan.next_occurrence_on and plan.next_occurrence_on > plan.ends_on:
        plan.next_occurrence_on = None
    db.session.add(plan)
    db.session.flush()
    return schedule_plan(plan, today)


def schedule_plan(plan: InspectionPlan, today: date) -> list[Inspection]:
    """Make the plan's inspections due up to SCHEDULE_AHEAD_DAYS from `today`, once each.

    Safe to run any number of times: a (plan, store, date) that exists is skipped, and
    `next_occurrence_on` only moves forward.
    """
    made: list[Inspection] = []
    horizon = today + timedelta(days=SCHEDULE_AHEAD_DAYS)
    while plan.is_active and plan.next_occurrence_on is not None and plan.next_occurrence_on <= horizon:
        due = plan.next_occurrence_on
        existing = set(
            db.session.execute(
                sa.select(Inspection.store_id).where(Inspection.plan_id == plan.id, Inspection.due_on == due)
            ).scalars()
        )
        for store in plan.stores:
            if store.id in existing or not store.is_active:
                continue
            inspection = Inspection(
                store=store,
                plan=plan,
                kind=plan.kind,
                checklist=plan.checklist,
                inspector_id=plan.inspector_id,
                due_on=due,
            )
            db.session.add(inspection)
            _event(inspection, None, InspectionStatus.SCHEDULED, None, None)
            made.append(inspection)
        plan.next_occurrence_on = _following(plan, due)
    db.session.flush()
    return made


def generate_due_inspections(today: date) -> int:
    """The periodic job's body: every active plan's inspections up to the horizon."""
    plans = (
        db.session.execute(
            sa.select(InspectionPlan)
            .where(
                InspectionPlan.is_active.is_(True),
                InspectionPlan.next_occurrence_on.is_not(None),
                InspectionPlan.next_occurrence_on <= today + timedelta(days=SCHEDULE_AHEAD_DAYS),
            )
            .with_for_update()
        )
        .scalars()
        .all()
    )
    made = 0
    for plan in plans:
        # One plan that cannot be scheduled (a clash with an inspection moved by hand) must not
        # hold up every other plan of the tenant: it is logged and tried again tomorrow.
        try:
            with db.session.begin_nested():
                made += len(schedule_plan(plan, today))
        except (sa.exc.IntegrityError, OverflowError, ValueError):
            logger.exception("inspection plan %s could not be scheduled", plan.id)
    return made


def deactivate_plan(plan: InspectionPlan, today: date) -> int:
    """Stop the plan; its inspections not yet due and not started are withdrawn (they hold
    nothing but a date), while missed ones stay as the overdue record they are. Returns how many
    were withdrawn."""
    plan.is_active = False
    plan.next_occurrence_on = None
    withdrawn = list(
        db.session.execute(
            sa.select(Inspection).where(
                Inspection.plan_id == plan.id,
                Inspection.status == InspectionStatus.SCHEDULED,
                Inspection.due_on >= today,
            )
        ).scalars()
    )
    for inspection in withdrawn:
        db.session.delete(inspection)
    db.session.flush()
    return len(withdrawn)


def schedule_unannounced(store: Store, inspector: StaffUser, due_on: date, actor: StaffUser) -> Inspection:
    """A one-off unannounced inspection (HB §8.2.1), without a plan."""
    _require(Grants.of(actor).has_role(*QA), _("Only QA schedules unannounced inspections."))
    if not _may_inspect(Grants.of(inspector), store.id, InspectionKind.UNANNOUNCED):
        raise DomainError(
            _("%(name)s may not inspect %(stores)s.", name=inspector.full_name, stores=store.code),
            field="inspector",
        )
    inspection = Inspection(store=store, kind=InspectionKind.UNANNOUNCED, inspector=inspector, due_on=due_on)
    db.session.add(inspection)
    _event(inspection, None, InspectionStatus.SCHEDULED, actor, None)
    db.session.flush()
    return inspection


def reassign_inspection(
    inspection: Inspection,
    actor: StaffUser,
    inspector: StaffUser,
    due_on: date,
    *,
    today: date,
    expected_version: int | None = None,
) -> None:
    """QA gives a scheduled inspection to another inspector or another day (someone is ill, a
    store is closed). Once started, the record keeps who conducted it (HB §8.3.1)."""
    check_version(inspection, expected_version)
    _require(Grants.of(actor).has_role(*QA), _("Only QA reassigns inspections."))
    if inspection.status is not InspectionStatus.SCHEDULED:
        raise Refused(_("Only a scheduled inspection is reassigned; this one has started."))
    if not inspector.is_active or not _may_inspect(
        Grants.of(inspector), inspection.store_id, inspection.kind
    ):
        raise DomainError(
            _("%(name)s may not inspect %(stores)s.", name=inspector.full_name, stores=inspection.store.code),
            field="inspector",
        )
    if due_on < today:
        raise DomainError(_("The due date is in the past."), field="due_on")
    if inspection.plan_id is not None and due_on != inspection.due_on:
        clash = db.session.execute(
            sa.select(Inspection.id).where(
                Inspection.plan_id == inspection.plan_id,
                Inspection.store_id == inspection.store_id,
                Inspection.due_on == due_on,
                Inspection.id != inspection.id,
            )
        ).first()
        if clash is not None:
            raise DomainError(
                _("The plan already has an inspection of this store on that day."), field="due_on"
            )
    inspection.inspector_id = inspector.id
    inspection.due_on = due_on
    _event(
        inspection,
        InspectionStatus.SCHEDULED,
        InspectionStatus.SCHEDULED,
        actor,
        _("Assigned to %(name)s, due %(date)s.", name=inspector.full_name, date=format_date(due_on)),
    )


# --- who may do what ------------------------------------------------------------------------------------


#: Roles that may be chosen to inspect; `check_plan` decides for which stores.
INSPECTING_ROLES = (Role.OWNER, Role.QA_MANAGER, Role.INSPECTOR, Role.STORE_MANAGER)


def inspector_candidates() -> list[StaffUser]:
    """Active people who may be chosen to inspect (QA, inspectors, store managers for audits)."""
    inspecting = sa.select(RoleAssignment.user_id).where(RoleAssignment.role.in_(INSPECTING_ROLES))
    return list(
        db.session.execute(
            sa.select(StaffUser)
            .where(StaffUser.id.in_(inspecting), StaffUser.is_active.is_(True))
            .order_by(StaffUser.full_name)
        ).scalars()
    )


def _may_inspect(grants: Grants, store_id: int, kind: InspectionKind) -> bool:
    if grants.tenant_roles & {Role.QA_MANAGER, Role.OWNER}:
        return True
    roles = grants.store_roles.get(store_id, frozenset())
    if Role.INSPECTOR in roles:
        return True
    # Internal audits are run by the store on itself (HB §8.2.1).
    return kind is InspectionKind.INTERNAL_AUDIT and Role.STORE_MANAGER in roles


def may_conduct_condition(user: StaffUser) -> sa.ColumnElement[bool]:
    """`may_conduct` as a WHERE clause: assigned to the user, or to nobody at a store where they
    may inspect (work lists)."""
    grants = Grants.of(user)
    if grants.tenant_roles & {Role.QA_MANAGER, Role.OWNER}:
        unassigned = sa.true()
    else:
        inspects = {s for s, roles in grants.store_roles.items() if Role.INSPECTOR in roles}
        manages = {s for s, roles in grants.store_roles.items() if Role.STORE_MANAGER in roles}
        unassigned = sa.or_(
            Inspection.store_id.in_(inspects),
            sa.and_(Inspection.kind == InspectionKind.INTERNAL_AUDIT, Inspection.store_id.in_(manages)),
        )
    return sa.or_(Inspection.inspector_id == user.id, sa.and_(Inspection.inspector_id.is_(None), unassigned))


def may_conduct(user: StaffUser, inspection: Inspection) -> bool:
    """The assigned inspector; with nobody assigned, anyone who may inspect that store."""
    if inspection.inspector_id is not None:
        return inspection.inspector_id == user.id
    return _may_inspect(Grants.of(user), inspection.store_id, inspection.kind)


def may_review(user: StaffUser, inspection: Inspection) -> bool:
    """QA reviews, but never an inspection they conducted themselves."""
    return Grants.of(user).has_role(*QA) and inspection.inspector_id != user.id


def may_work_on(user: StaffUser, action: CorrectiveAction) -> bool:
    """The owner, or a manager of the action's store."""
    grants = Grants.of(user)
    return (
        action.owner_id == user.id
        or Role.STORE_MANAGER in grants.store_roles.get(action.store_id, frozenset())
        or Role.OWNER in grants.tenant_roles
    )


def _require(allowed: bool, message: str) -> None:
    if not allowed:
        raise Refused(message)


# --- the inspection's moves ------------------------------------------------------------------------------

_INSPECTION_MOVES = {
    InspectionStatus.SCHEDULED: {InspectionStatus.IN_PROGRESS},
    InspectionStatus.IN_PROGRESS: {InspectionStatus.SUBMITTED},
    InspectionStatus.SUBMITTED: {InspectionStatus.REVIEWED, InspectionStatus.IN_PROGRESS},
    InspectionStatus.REVIEWED: {InspectionStatus.CLOSED},
    # A corrective action reopened after the close (a failed effectiveness check) reopens the
    # follow-up of its inspection: it is not settled while an action is open (HB §8.3.2).
    InspectionStatus.CLOSED: {InspectionStatus.REVIEWED},
}


def _event(inspection: Inspection, old, new, actor: StaffUser | None, comment: str | None) -> None:
    inspection.events.append(
        InspectionEvent(
            store_id=inspection.store_id if inspection.store_id else inspection.store.id,
            from_status=old,
            to_status=new,
            actor_id=actor.id if actor is not None else None,
            comment=comment,
        )
    )


def _move_inspection(inspection: Inspection, new: InspectionStatus, actor: StaffUser, comment=None) -> None:
    if new not in _INSPECTION_MOVES[inspection.status]:
        raise Refused(
            _("The inspection is “%(status)s”; it cannot become “%(new)s”.",
              status=inspection.status.label, new=new.label)
        )  # fmt: skip
    old, inspection.status = inspection.status, new
    _event(inspection, old, new, actor, comment)


def start_inspection(inspection: Inspection, user: StaffUser, *, expected_version: int | None = None) -> None:
    """Begin on site: the items are copied from the inspection's checklist, as in force today."""
    check_version(inspection, expected_version)
    _require(may_conduct(user, inspection), _("This inspection is assigned to someone else."))
    now = utcnow()
    version = version_on(now.date())
    template = checklist_template(
        inspection.checklist, effective_for_store(inspection.store, now.date()).document
    )
    _move_inspection(inspection, InspectionStatus.IN_PROGRESS, user)
    inspection.inspector_id = user.id
    inspection.started_at = now
    # Kept for every checklist: the confidentiality check is also done under that version's rules.
    inspection.standard_version_id = version.id
    inspection.pass_mark = template.pass_mark
    inspection.place = inspection.place or inspection.store.address
    inspection.results = list(_items_from(template, inspection.store_id))


def checklist_template(checklist: InspectionChecklist, document: StandardDocument) -> InspectionTemplate:
    """The template an inspection's items are copied from: the standard's store inspection
    template, or the confidentiality check's (HB §7.3.2 (3)), which no standard version holds."""
    if checklist is InspectionChecklist.CONFIDENTIALITY:
        return CONFIDENTIALITY_TEMPLATE
    return document.inspection_template


def _items_from(template: InspectionTemplate, store_id: int) -> Iterator[InspectionItemResult]:
    position = 0
    for section in template.sections:
        for item in section.items:
            position += 1
            yield InspectionItemResult(
                store_id=store_id,
                position=position,
                section_code=section.code,
                area=section.area,
                section_title_en=section.title.en,
                section_title_zh=section.title.zh,
                code=item.code,
                text_en=item.text.en,
                text_zh=item.text.zh,
                kind=item.kind,
                weight=item.weight,
                critical=item.critical,
                required=item.required,
            )


@dataclass(frozen=True)
class Answer:
    """What the inspector entered for one item; `value` is "pass", "fail", "na", "0".."5" or ""."""

    value: str
    note: str | None = None


def answer_items(
    inspection: Inspection,
    answers: dict[str, Answer],
    user: StaffUser,
    *,
    photos: dict[str, list[tuple[bytes, str]]] | None = None,
    expected_version: int | None = None,
) -> list[Finding]:
    """Save the answers given (others keep theirs); a failed critical item raises its finding
    at once (HB §8.3.1 "problems found"). Returns the findings raised by this call."""
    check_version(inspection, expected_version)
    _require(
        inspection.status is InspectionStatus.IN_PROGRESS, _("Only an inspection in progress takes answers.")
    )
    _require(may_conduct(user, inspection), _("This inspection is assigned to someone else."))
    by_code = {result.code: result for result in inspection.results}
    raised = []
    for code, answer in answers.items():
        result = by_code.get(code)
        if result is None:
            raise DomainError(_("Unknown inspection item: %(code)s.", code=code), field=code)
        _apply_answer(result, answer)
        for data, filename in (photos or {}).get(code, []):
            _add_inspection_photo(result, data, filename, user)
        if result.critical and result.passed is False:
            finding = _finding_for_failed_item(inspection, result, user)
            if finding is not None:
                raised.append(finding)
    # Answers are child rows: touching the inspection moves its version, so a second device
    # saving from a stale page gets a conflict instead of silently mixing answers.
    inspection.updated_at = utcnow()
    _score(inspection)
    return raised


def _apply_answer(result: InspectionItemResult, answer: Answer) -> None:
    value = (answer.value or "").strip().lower()
    result.note = (answer.note or "").strip() or None
    result.passed = result.score = None
    result.not_applicable = False
    if value == "":
        result.answered_at = None
        return
    if value == "na":
        if result.required:
            raise DomainError(
                _("“%(item)s” is required; it cannot be “not applicable”.", item=_item_text(result)),
                field=result.code,
            )
        result.not_applicable = True
    elif result.kind == "score":
        if not (value.isascii() and value.isdigit() and 0 <= int(value) <= SCORE_MAX):
            raise DomainError(
                _("Score “%(item)s” from 0 to %(max)s.", item=_item_text(result), max=SCORE_MAX),
                field=result.code,
            )
        result.score = int(value)
        result.passed = result.score >= SCORE_PASS
    elif value in ("pass", "fail"):
        result.passed = value == "pass"
    else:
        raise DomainError(
            _("Answer “%(item)s” with pass or fail.", item=_item_text(result)), field=result.code
        )
    result.answered_at = utcnow()


def _item_text(result: InspectionItemResult) -> str:
    return result.text(str(get_locale() or "en"))


def _add_inspection_photo(result: InspectionItemResult, data: bytes, filename: str, user: StaffUser) -> None:
    stored = store_bytes(data, filename, store_id=result.store_id)
    if not stored.is_inline:
        raise DomainError(
            _("“%(name)s” is not a photo (PNG, JPEG, WebP or GIF).", name=filename), field=result.code
        )
    result.photos.append(InspectionPhoto(store_id=result.store_id, file=stored, taken_by_id=user.id))


def _finding_for_failed_item(
    inspection: Inspection, result: InspectionItemResult, user: StaffUser
) -> Finding | None:
    db.session.flush()  # the result's id
    exists = db.session.execute(
        sa.select(Finding.id).where(
            Finding.inspection_id == inspection.id, Finding.item_result_id == result.id
        )
    ).scalar()
    if exists is not None:
        return None
    finding = Finding(
        store=inspection.store,
        inspection=inspection,
        item_result=result,
        category=FindingCategory(result.area),
        severity=Severity.CRITICAL,
        description=_("Critical item failed: %(item)s", item=_item_text(result))
        + (f"\n{result.note}" if result.note else ""),
        raised_by_id=user.id,
    )
    db.session.add(finding)
    return finding


@dataclass(frozen=True)
class Score:
    percent: float | None
    critical_failures: int
    unanswered: list[InspectionItemResult]


def score_of(results: Iterable[InspectionItemResult]) -> Score:
    """Earned weight over the weight of the items answered (not "not applicable"), in per cent.

    A scored item earns weight * score / SCORE_MAX; a pass/fail item all or nothing.
    """
    earned = available = 0.0
    critical_failures = 0
    unanswered = []
    for result in results:
        if not result.answered:
            if result.required:
                unanswered.append(result)
            continue
        if result.not_applicable:
            continue
        available += result.weight
        if result.kind == "score" and result.score is not None:
            earned += result.weight * result.score / SCORE_MAX
        elif result.passed:
            earned += result.weight
        if result.critical and result.passed is False:
            critical_failures += 1
    percent = round(100 * earned / available, 2) if available else None
    return Score(percent, critical_failures, unanswered)


def _score(inspection: Inspection) -> Score:
    score = score_of(inspection.results)
    inspection.score = score.percent
    inspection.passed = (
        None
        if score.percent is None
        else score.percent >= (inspection.pass_mark or 0) and score.critical_failures == 0
    )
    return score


def submit_inspection(
    inspection: Inspection, user: StaffUser, summary: str | None, *, expected_version: int | None = None
) -> None:
    """Hand the record to QA; every required item must be answered first."""
    check_version(inspection, expected_version)
    _require(may_conduct(user, inspection), _("This inspection is assigned to someone else."))
    score = _score(inspection)
    if score.unanswered:
        raise DomainError(
            _("Answer every required item before submitting: %(items)s.",
              items=", ".join(result.code for result in score.unanswered))
        )  # fmt: skip
    _move_inspection(inspection, InspectionStatus.SUBMITTED, user)
    inspection.summary = (summary or "").strip() or None
    inspection.submitted_at = utcnow()
    inspection.return_comment = None


def return_inspection(
    inspection: Inspection, user: StaffUser, comment: str, *, expected_version: int | None = None
) -> None:
    """QA sends the record back to the inspector with what to fix."""
    check_version(inspection, expected_version)
    _require(may_review(user, inspection), _("Only QA reviews inspections, and not their own."))
    if not (comment or "").strip():
        raise DomainError(_("Say what the inspector should correct."), field="comment")
    _move_inspection(inspection, InspectionStatus.IN_PROGRESS, user, comment.strip())
    inspection.return_comment = comment.strip()


def review_inspection(
    inspection: Inspection,
    user: StaffUser,
    comment: str | None = None,
    *,
    expected_version: int | None = None,
) -> None:
    """QA accepts the record; each finding must have its corrective action by then (HB §8.2.2)."""
    check_version(inspection, expected_version)
    _require(may_review(user, inspection), _("Only QA reviews inspections, and not their own."))
    without = [f"#{f.id}" for f in findings_of(inspection) if not f.actions]
    if without:
        raise DomainError(
            _(
                "Give every finding a corrective action before the review: %(findings)s.",
                findings=", ".join(without),
            )
        )
    _move_inspection(inspection, InspectionStatus.REVIEWED, user, (comment or "").strip() or None)
    inspection.reviewed_at = utcnow()
    inspection.reviewed_by_id = user.id
    close_if_settled(inspection, user)


def close_if_settled(inspection: Inspection, user: StaffUser | None) -> bool:
    """Close a reviewed inspection once every corrective action of it is verified (HB §8.3.2:
    QA follows up until the rectification is done)."""
    if inspection.status is not InspectionStatus.REVIEWED:
        return False
    pending = db.session.execute(
        sa.select(sa.func.count())
        .select_from(CorrectiveAction)
        .join(Finding, CorrectiveAction.finding_id == Finding.id)
        .where(Finding.inspection_id == inspection.id, CorrectiveAction.status != ActionStatus.VERIFIED)
    ).scalar_one()
    if pending:
        return False
    _move_inspection(inspection, InspectionStatus.CLOSED, user)
    inspection.closed_at = utcnow()
    return True


# --- findings and corrective actions -------------------------------------------------------------------


def findings_of(inspection: Inspection) -> list[Finding]:
    db.session.flush()
    return list(
        db.session.execute(
            sa.select(Finding)
            .where(Finding.inspection_id == inspection.id)
            .options(orm.selectinload(Finding.actions).joinedload(CorrectiveAction.owner))
            .order_by(Finding.id)
        ).scalars()
    )


def add_finding(
    inspection: Inspection,
    user: StaffUser,
    *,
    category: FindingCategory,
    severity: Severity,
    description: str,
    root_cause: str | None = None,
) -> Finding:
    """A problem noted by the inspector while on site, or by QA while reviewing."""
    conducting = inspection.status is InspectionStatus.IN_PROGRESS and may_conduct(user, inspection)
    reviewing = inspection.status is InspectionStatus.SUBMITTED and may_review(user, inspection)
    _require(conducting or reviewing, _("Findings are added by the inspector on site or by QA in review."))
    if not (description or "").strip():
        raise DomainError(_("Describe the problem found."), field="description")
    finding = Finding(
        store=inspection.store,
        inspection=inspection,
        category=category,
        severity=severity,
        description=description.strip(),
        root_cause=(root_cause or "").strip() or None,
        raised_by_id=user.id,
    )
    db.session.add(finding)
    db.session.flush()
    return finding


def default_owner(store: Store) -> StaffUser | None:
    """The store's manager, who usually owns its corrective actions."""
    return db.session.execute(
        sa.select(StaffUser)
        .join(RoleAssignment, RoleAssignment.user_id == StaffUser.id)
        .where(
            RoleAssignment.store_id == store.id,
            RoleAssignment.role == Role.STORE_MANAGER,
            StaffUser.is_active.is_(True),
        )
        .order_by(StaffUser.id)
        .limit(1)
    ).scalar()


def default_due_on(store: Store, today: date) -> date:
    """Due date from the standard's corrective-action target (HB §8.3.2), with overrides."""
    days = int(effective_for_store(store, today).target("corrective_action_due_days"))
    return today + timedelta(days=days)


def add_action(
    finding: Finding,
    user: StaffUser,
    *,
    description: str,
    owner: StaffUser | None,
    due_on: date | None,
    today: date,
) -> CorrectiveAction:
    """QA (or the inspector who found it) sets what the store must do, who, and by when."""
    db.session.flush()  # a finding raised in this unit of work gets its store_id
    inspection = finding.inspection
    grants = Grants.of(user)
    allowed = grants.has_role(*QA) or (
        inspection.inspector_id == user.id and inspection.status is InspectionStatus.IN_PROGRESS
    )
    _require(allowed, _("Corrective actions are set by QA or by the inspector on site."))
    if inspection.status is InspectionStatus.CLOSED:
        raise Refused(_("The inspection is closed."))
    if not (description or "").strip():
        raise DomainError(_("Say what the store must do."), field="description")
    owner = owner or default_owner(finding.store)
    if owner is None:
        raise DomainError(_("Choose the owner: the store has no manager."), field="owner")
    owner_grants = Grants.of(owner)
    if not owner.is_active or (
        owner_grants.visible_stores() is not None and finding.store_id not in owner_grants.visible_stores()
    ):
        raise DomainError(_("%(name)s does not work at this store.", name=owner.full_name), field="owner")
    due_on = due_on or default_due_on(finding.store, today)
    if due_on < today:
        raise DomainError(_("The due date is in the past."), field="due_on")
    action = CorrectiveAction(
        store_id=finding.store_id,
        finding=finding,
        description=description.strip(),
        owner=owner,
        due_on=due_on,
    )
    db.session.add(action)
    _action_event(action, None, ActionStatus.OPEN, user, None)
    db.session.flush()
    return action


_ACTION_MOVES = {
    ActionStatus.OPEN: {ActionStatus.IN_PROGRESS, ActionStatus.DONE},
    ActionStatus.IN_PROGRESS: {ActionStatus.DONE},
    ActionStatus.REOPENED: {ActionStatus.IN_PROGRESS, ActionStatus.DONE},
    ActionStatus.DONE: {ActionStatus.VERIFIED, ActionStatus.REOPENED},
    ActionStatus.VERIFIED: {ActionStatus.REOPENED},
}


def _action_event(action: CorrectiveAction, old, new, actor: StaffUser | None, comment: str | None) -> None:
    action.events.append(
        CorrectiveActionEvent(
            store_id=action.store_id,
            from_status=old,
            to_status=new,
            actor_id=actor.id if actor is not None else None,
            comment=comment,
        )
    )


def _move_action(
    action: CorrectiveAction, new: ActionStatus, actor: StaffUser, comment: str | None = None
) -> None:
    if new not in _ACTION_MOVES[action.status]:
        raise Refused(
            _("The corrective action is “%(status)s”; it cannot become “%(new)s”.",
              status=action.status.label, new=new.label)
        )  # fmt: skip
    old, action.status = action.status, new
    _action_event(action, old, new, actor, comment)


def start_action(action: CorrectiveAction, user: StaffUser, *, expected_version: int | None = None) -> None:
    check_version(action, expected_version)
    _require(may_work_on(user, action), _("Only the owner or the store's manager works on this action."))
    _move_action(action, ActionStatus.IN_PROGRESS, user)


def complete_action(
    action: CorrectiveAction,
    user: StaffUser,
    evidence: str,
    *,
    photos: list[tuple[bytes, str]] = (),
    expected_version: int | None = None,
) -> None:
    """The store reports the rectification done, with evidence (text, and photos if any)."""
    check_version(action, expected_version)
    _require(may_work_on(user, action), _("Only the owner or the store's manager works on this action."))
    if not (evidence or "").strip():
        raise DomainError(_("Describe the evidence that the problem is fixed."), field="evidence")
    _move_action(action, ActionStatus.DONE, user)
    for data, filename in photos:
        stored = store_bytes(data, filename, store_id=action.store_id)
        if not stored.is_inline:
            raise DomainError(
                _("“%(name)s” is not a photo (PNG, JPEG, WebP or GIF).", name=filename), field="photos"
            )
        action.photos.append(
            CorrectiveActionPhoto(store_id=action.store_id, file=stored, added_by_id=user.id)
        )
    action.evidence = evidence.strip()
    action.done_at = utcnow()


def _document(store: Store, today: date) -> StandardDocument:
    return effective_for_store(store, today).document


def verify_action(
    action: CorrectiveAction, user: StaffUser, comment: str | None = None, *, today: date,
    expected_version: int | None = None,
) -> None:  # fmt: skip
    """QA confirms the rectification; its effect is checked after the policy's days (HB §8.3.3)."""
    check_version(action, expected_version)
    _require(Grants.of(user).has_role(*QA), _("Only QA verifies corrective actions."))
    _move_action(action, ActionStatus.VERIFIED, user, (comment or "").strip() or None)
    action.verified_at = utcnow()
    action.verified_by_id = user.id
    action.effectiveness_due_on = today + timedelta(
        days=_document(action.store, today).supervision.effectiveness_check_days
    )
    action.effective = None
    action.effectiveness_checked_at = None
    close_if_settled(action.finding.inspection, user)


def reopen_action(
    action: CorrectiveAction,
    user: StaffUser,
    comment: str,
    *,
    today: date,
    expected_version: int | None = None,
) -> None:
    """QA sends a done action back (not convincing) or reopens a verified one."""
    check_version(action, expected_version)
    _require(Grants.of(user).has_role(*QA), _("Only QA reopens corrective actions."))
    if not (comment or "").strip():
        raise DomainError(_("Say why the action is reopened."), field="comment")
    _move_action(action, ActionStatus.REOPENED, user, comment.strip())
    inspection = action.finding.inspection
    if inspection.status is InspectionStatus.CLOSED:
        _move_inspection(inspection, InspectionStatus.REVIEWED, user, comment.strip())
        inspection.closed_at = None
    if action.due_on < today:
        action.due_on = default_due_on(action.store, today)
    action.escalated_on = None


def record_effectiveness(
    action: CorrectiveAction, user: StaffUser, effective: bool, note: str | None, *, today: date,
    expected_version: int | None = None,
) -> None:  # fmt: skip
    """The effect check of HB §8.3.3: did the problem stay fixed? If not, the action reopens."""
    check_version(action, expected_version)
    _require(Grants.of(user).has_role(*QA), _("Only QA checks the effect of corrective actions."))
    if action.status is not ActionStatus.VERIFIED:
        raise Refused(_("Only a verified action's effect is checked."))
    action.effective = effective
    action.effectiveness_checked_at = utcnow()
    if not effective:
        if not (note or "").strip():
            raise DomainError(_("Say what is still wrong."), field="note")
        reopen_action(action, user, note, today=today)
        action.effective = False
        action.effectiveness_checked_at = utcnow()
    else:
        _action_event(
            action,
            ActionStatus.VERIFIED,
            ActionStatus.VERIFIED,
            user,
            " ".join(filter(None, [_("Effectiveness check: effective."), (note or "").strip()])),
        )


def may_edit_root_cause(user: StaffUser, finding: Finding) -> bool:
    """QA, or a manager of the finding's store, who analyses why it happened (HB §8.3.3)."""
    grants = Grants.of(user)
    return grants.has_role(*QA) or Role.STORE_MANAGER in grants.store_roles.get(finding.store_id, frozenset())


def set_root_cause(
    finding: Finding, user: StaffUser, root_cause: str | None, *, expected_version: int | None = None
) -> None:
    """Record the root cause of a finding (HB §8.3.3 "analyse the root causes"); empty clears it."""
    check_version(finding, expected_version)
    _require(may_edit_root_cause(user, finding), _("Only QA or the store's manager records the root cause."))
    finding.root_cause = (root_cause or "").strip() or None


def overdue_actions_to_escalate(today: date) -> list[int]:
    """Claim the overdue actions that are due an escalation, and return their ids.

    One conditional UPDATE claims them: two sweeps running at once (a retry, a second
    scheduler) cannot both claim an action, so each escalation is mailed once.
    """
    candidates = db.session.execute(
        sa.select(CorrectiveAction.id, CorrectiveAction.store_id, CorrectiveAction.escalated_on).where(
            CorrectiveAction.status.in_(ACTION_PENDING), CorrectiveAction.due_on < today
        )
    ).all()
    claimed = []
    repeat_cache: dict[int, int] = {}
    for action_id, store_id, escalated_on in candidates:
        if store_id not in repeat_cache:
            repeat_cache[store_id] = _document(
                db.session.get(Store, store_id), today
            ).supervision.escalation_repeat_days
        if escalated_on is not None and escalated_on > today - timedelta(days=repeat_cache[store_id]):
            continue
        result = db.session.execute(
            sa.update(CorrectiveAction)
            .where(
                CorrectiveAction.id == action_id,
                sa.or_(
                    CorrectiveAction.escalated_on.is_(None), CorrectiveAction.escalated_on == escalated_on
                ),
            )
            .values(
                escalated_on=today,
                escalation_count=CorrectiveAction.escalation_count + 1,
                version=CorrectiveAction.version + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            claimed.append(action_id)
    return claimed


def qa_recipients() -> list[StaffUser]:
    """The tenant's QA: active QA managers, or the owners when there are none."""
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


# --- rewards and penalties (HB §8.3.4) -----------------------------------------------------------------


def record_reward_penalty(
    user: StaffUser,
    *,
    kind: RewardKind,
    store: Store,
    reason: str,
    staff: StaffUser | None = None,
    inspection: Inspection | None = None,
    measure: str | None = None,
    amount_cents: int | None = None,
    decided_on: date,
) -> RewardPenalty:
    _require(Grants.of(user).has_role(*QA), _("Only QA records rewards and penalties."))
    record = RewardPenalty(
        kind=kind,
        store=store,
        staff=staff,
        inspection=inspection,
        reason=(reason or "").strip(),
        measure=(measure or "").strip() or None,
        amount_cents=amount_cents,
        decided_on=decided_on,
        decided_by_id=user.id,
    )
    record.validate()  # the rules the generated form applies too
    db.session.add(record)
    db.session.flush()
    return record


def describe_due(day: date, today: date) -> str:
    """ "due today", "3 days overdue" or "due 1 Dec 2026": for lists and e-mails."""
    delta = (day - today).days
    if delta == 0:
        return _("due today")
    if delta < 0:
        return ngettext("%(num)s day overdue", "%(num)s days overdue", -delta)
    return _("due %(date)s", date=format_date(day))
