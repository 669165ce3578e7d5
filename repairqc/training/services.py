"""The rules of staff training and qualification (HB ch.3, §5.1.3(1), §5.3.1).

One function per move: enrolling (automatically for new hires), scheduling sessions and placing
people in them, attendance and completion, theory and practical exams with their attempts,
certificates, evaluations after training and retraining. Numbers come from the training policy
of the standard in force (`policy_on`). Views and jobs call these inside one unit of work;
nothing here commits.
"""

from __future__ import annotations

import calendar
import random
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from functools import lru_cache

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import orm

from repairqc.accounts.models import Role, RoleAssignment, StaffUser
from repairqc.accounts.permissions import Grants
from repairqc.db import TenantSession, db, utcnow
from repairqc.errors import Conflict, DomainError
from repairqc.models_base import check_version
from repairqc.standards.schema import StandardDocument, TrainingPolicy
from repairqc.standards.services import document_in_force
from repairqc.stores.models import Store
from repairqc.training.models import (
    AttemptStatus,
    Attendance,
    Certificate,
    Enrolment,
    EnrolmentStatus,
    Evaluation,
    EvaluationStatus,
    Exam,
    ExamAnswer,
    ExamAttempt,
    ExamKind,
    ExamQuestion,
    PracticalScore,
    ProgrammeKind,
    Retraining,
    RetrainingReason,
    RetrainingStatus,
    SessionStatus,
    TrainingProgramme,
    TrainingSession,
)

#: The roles whose new holders are new hires to be trained (issue #7; HB §3.1.4).
TRAINEE_ROLES = frozenset({Role.TECHNICIAN, Role.FRONT_DESK})
#: Who runs training, exams and certificates for all staff (design.md §3).
HR_ROLES = frozenset({Role.OWNER, Role.TRAINER})
#: Answers arriving this long after a theory exam's time limit still count (network, clock skew).
EXAM_GRACE_SECONDS = 30
#: Certificates are reminded this many days before they expire (issue #7).
CERTIFICATE_REMINDER_DAYS = 30

#: HB §3.1.3 and §3.1.4: what each programme covers when it is made from the policy.
PROGRAMME_TOPICS = {
    ProgrammeKind.NEW_HIRE: (
        _l("Company culture and business"),
        _l("Repair technique per product type: fault diagnosis and repair methods"),
        _l("Service awareness and communication"),
        _l("Safety"),
    ),
    ProgrammeKind.IN_SERVICE: (
        _l("New technology"),
        _l("Case studies"),
        _l("Service"),
    ),
    ProgrammeKind.RETRAINING: (
        _l("The skills the failed exam or assessment showed missing"),
        _l("Safety"),
    ),
}
PROGRAMME_NAMES = {
    ProgrammeKind.NEW_HIRE: _l("New-hire training"),
    ProgrammeKind.IN_SERVICE: _l("In-service training"),
    ProgrammeKind.RETRAINING: _l("Retraining"),
}


class Refused(DomainError):
    status_code = 403


def today() -> date:
    return utcnow().date()


# --- policy and programmes ---------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _handbook_policy() -> TrainingPolicy:
    from repairqc.standards.defaults import handbook_document

    return StandardDocument.model_validate(handbook_document()).training_policy


def policy_on(day: date) -> TrainingPolicy:
    """The training policy in force on `day` (the handbook's before any standard is published)."""
    document = document_in_force(day)
    return document.training_policy if document is not None else _handbook_policy()


def category_names(day: date) -> dict[str, str]:
    """Device category code -> name (in the reader's language) of the standard in force."""
    from flask_babel import get_locale

    document = document_in_force(day)
    if document is None:
        return {}
    language = str(get_locale() or "en")
    return {c.code: c.name.zh if language.startswith("zh") else c.name.en for c in document.device_categories}


def programme_days(kind: ProgrammeKind, policy: TrainingPolicy) -> int:
    if kind == ProgrammeKind.NEW_HIRE:
        return policy.new_hire_training_days
    return policy.in_service_session_days


def programme_for(kind: ProgrammeKind, day: date) -> TrainingProgramme:
    """The active programme of `kind`, made from the policy the first time it is needed."""
    programme = db.session.scalars(
        sa.select(TrainingProgramme)
        .where(TrainingProgramme.kind == kind, TrainingProgramme.is_active)
        .order_by(TrainingProgramme.id)
        .limit(1)
    ).first()
    if programme is None:
        programme = TrainingProgramme(
            kind=kind,
            name=str(PROGRAMME_NAMES[kind]),
            days=programme_days(kind, policy_on(day)),
            topics="\n".join(str(topic) for topic in PROGRAMME_TOPICS[kind]),
        )
        db.session.add(programme)
    return programme


# --- people ---------------------------------------------------------------------------------------------


def home_store_id(user: StaffUser) -> int | None:
    """The store a person works at (the lowest id of their store roles), for the records' store."""
    stores = sorted(a.store_id for a in user.roles if a.store_id is not None)
    return stores[0] if stores else None


def is_hr(user: StaffUser) -> bool:
    return Grants.of(user).has_role(*HR_ROLES)


def manages(user: StaffUser, person: StaffUser) -> bool:
    """`user` is store manager at a store where `person` holds a role."""
    grants = Grants.of(user)
    managed = {s for s, roles in grants.store_roles.items() if Role.STORE_MANAGER in roles}
    return bool(managed & {a.store_id for a in person.roles if a.store_id is not None})


def may_see_person(user: StaffUser, person: StaffUser) -> bool:
    """HQ roles see everyone's training records, a store manager their stores' staff, and
    everyone their own (design.md §3)."""
    if user.id == person.id:
        return True
    grants = Grants.of(user)
    if grants.tenant_roles:
        return True
    return manages(user, person)


def store_managers(person: StaffUser) -> list[StaffUser]:
    stores = {a.store_id for a in person.roles if a.store_id is not None}
    if not stores:
        return []
    return list(
        db.session.scalars(
            sa.select(StaffUser)
            .join(RoleAssignment, RoleAssignment.user_id == StaffUser.id)
            .where(
                RoleAssignment.role == Role.STORE_MANAGER,
                RoleAssignment.store_id.in_(stores),
                StaffUser.is_active,
                StaffUser.id != person.id,
            )
            .distinct()
            .order_by(StaffUser.id)
        )
    )


def trainers() -> list[StaffUser]:
    return list(
        db.session.scalars(
            sa.select(StaffUser)
            .join(RoleAssignment, RoleAssignment.user_id == StaffUser.id)
            .where(RoleAssignment.role == Role.TRAINER, StaffUser.is_active)
            .distinct()
            .order_by(StaffUser.id)
        )
    )


# --- enrolment ----------------------------------------------------------------------------------------


def next_session(programme: TrainingProgramme, day: date) -> TrainingSession | None:
    return db.session.scalars(
        sa.select(TrainingSession)
        .where(
            TrainingSession.programme_id == programme.id,
            TrainingSession.status == SessionStatus.PLANNED,
            TrainingSession.starts_on >= day,
        )
        .order_by(TrainingSession.starts_on, TrainingSession.id)
        .limit(1)
    ).first()


def _place(enrolment: Enrolment, session: TrainingSession) -> None:
    enrolment.session = session
    enrolment.status = EnrolmentStatus.ENROLLED
    for retraining in enrolment.retrainings:
        if retraining.status == RetrainingStatus.OPEN:
            retraining.status = RetrainingStatus.ENROLLED
    if enrolment.programme.kind == ProgrammeKind.NEW_HIRE:
        enrolment.due_on = session.ends_on


def held_trainee_role(user: StaffUser) -> bool:
    """`user` already held a technician or front-desk role (at any store) in the database, i.e.
    before the changes being flushed: such a person is serving staff, not a new hire (HB §3.1.4).
    People who worked here before training was recorded have roles but no enrolments."""
    if user.id is None:
        return False
    with db.session.no_autoflush:
        return (
            db.session.scalar(
                sa.select(RoleAssignment.id)
                .where(RoleAssignment.user_id == user.id, RoleAssignment.role.in_(TRAINEE_ROLES))
                .limit(1)
            )
            is not None
        )


def enrol_new_hire(user: StaffUser, store_id: int | None, day: date) -> Enrolment | None:
    """Enrol a new technician or front-desk clerk in the new-hire programme (HB §3.1.4): into its
    next planned session, or on the waiting list. Nobody is enrolled twice, and nobody who already
    held a technician or front-desk role (a second store's role is not a new hire)."""
    if held_trainee_role(user):
        return None
    if user.id is not None:
        existing = db.session.scalar(
            sa.select(Enrolment.id)
            .join(TrainingProgramme, TrainingProgramme.id == Enrolment.programme_id)
            .where(Enrolment.user_id == user.id, TrainingProgramme.kind == ProgrammeKind.NEW_HIRE)
            .limit(1)
        )
        if existing is not None:
            return None
    policy = policy_on(day)
    programme = programme_for(ProgrammeKind.NEW_HIRE, day)
    enrolment = Enrolment(
        user=user,
        programme=programme,
        store_id=store_id,
        enrolled_on=day,
        due_on=day + timedelta(days=policy.new_hire_training_days),
        status=EnrolmentStatus.WAITING,
    )
    db.session.add(enrolment)
    session = next_session(programme, day) if programme.id is not None else None
    if session is not None:
        _place(enrolment, session)
    return enrolment


@sa.event.listens_for(TenantSession, "before_flush")
def _enrol_new_hires(session: orm.Session, flush_context, instances) -> None:
    """Whatever path grants the first technician or front-desk role (admin forms, invitations,
    `create_staff_user`, imports), the person is enrolled in the same flush."""
    new_roles = [obj for obj in session.new if isinstance(obj, RoleAssignment) and obj.role in TRAINEE_ROLES]
    if not new_roles:
        return
    pending = {id(obj.user) for obj in session.new if isinstance(obj, Enrolment) and obj.user is not None}
    with session.no_autoflush:
        for assignment in new_roles:
            user = assignment.user or (
                session.get(StaffUser, assignment.user_id) if assignment.user_id else None
            )
            if user is None or user.is_platform_support or id(user) in pending:
                continue
            store_id = assignment.store.id if assignment.store is not None else assignment.store_id
            if enrol_new_hire(user, store_id, today()) is not None:
                pending.add(id(user))


def check_session(session: TrainingSession) -> None:
    if not (session.title or "").strip():
        raise DomainError(_("Give the session a title."), field="title")
    if not (session.place or "").strip():
        raise DomainError(_("Say where the session takes place."), field="place")
    if session.starts_on is None or session.ends_on is None:
        raise DomainError(_("Give the first and the last day."), field="starts_on")
    if session.ends_on < session.starts_on:
        raise DomainError(_("The last day is before the first day."), field="ends_on")
    trainer = session.trainer or (
        db.session.get(StaffUser, session.trainer_id) if session.trainer_id else None
    )
    if trainer is not None and not trainer.is_active:
        raise DomainError(_("%(name)s no longer works here.", name=trainer.full_name), field="trainer")


def schedule_session(
    programme: TrainingProgramme,
    *,
    title: str,
    starts_on: date,
    ends_on: date,
    place: str,
    trainer: StaffUser | None = None,
    store: Store | None = None,
    notes: str | None = None,
) -> TrainingSession:
    """Plan a session of a programme; the screen then offers the programme's waiting list."""
    if not programme.is_active:
        raise DomainError(_("The programme “%(name)s” is not active.", name=programme.name))
    session = TrainingSession(
        programme=programme,
        title=(title or "").strip(),
        starts_on=starts_on,
        ends_on=ends_on,
        place=(place or "").strip(),
        trainer=trainer,
        store=store,
        notes=notes,
    )
    check_session(session)
    if starts_on < today():
        raise DomainError(_("The session cannot start in the past."), field="starts_on")
    db.session.add(session)
    db.session.flush()
    return session


def waiting_list(programme: TrainingProgramme | None = None) -> list[Enrolment]:
    query = (
        sa.select(Enrolment)
        .where(Enrolment.status == EnrolmentStatus.WAITING)
        .order_by(Enrolment.enrolled_on, Enrolment.id)
    )
    if programme is not None:
        query = query.where(Enrolment.programme_id == programme.id)
    return list(db.session.scalars(query))


def _touch(session: TrainingSession) -> None:
    """Changing who is in a session changes the session: its version moves on, so a page showing
    the old list is stale (409) rather than placing people blind."""
    session.updated_at = utcnow()


def place_in_session(
    session: TrainingSession, enrolments: Iterable[Enrolment], *, expected_version: int | None = None
) -> int:
    """Move people from the waiting list into a planned session of their programme."""
    check_version(session, expected_version)
    if session.status != SessionStatus.PLANNED:
        raise DomainError(_("People are enrolled only in planned sessions."))
    count = 0
    for enrolment in enrolments:
        if enrolment.status != EnrolmentStatus.WAITING or enrolment.programme_id != session.programme_id:
            raise DomainError(_("%(name)s is not waiting for this programme.", name=enrolment.user.full_name))
        _place(enrolment, session)
        count += 1
    _touch(session)
    db.session.flush()
    return count


def enrol_in_session(
    session: TrainingSession,
    user: StaffUser,
    *,
    note: str | None = None,
    expected_version: int | None = None,
) -> Enrolment:
    """Put someone in a planned session directly (in-service, or a trainer's choice). The screen
    passes the session's version it showed (the in-service job, which reads it fresh, does not)."""
    check_version(session, expected_version)
    if session.status != SessionStatus.PLANNED:
        raise DomainError(_("People are enrolled only in planned sessions."))
    if not user.is_active:
        raise DomainError(_("%(name)s no longer works here.", name=user.full_name))
    if any(e.user_id == user.id for e in session.enrolments):
        raise DomainError(_("%(name)s is already enrolled in this session.", name=user.full_name))
    enrolment = Enrolment(
        user=user,
        programme=session.programme,
        session=session,
        store_id=home_store_id(user),
        enrolled_on=today(),
        due_on=session.ends_on,
        status=EnrolmentStatus.ENROLLED,
        note=note,
    )
    db.session.add(enrolment)
    if expected_version is not None:
        _touch(session)
    db.session.flush()
    return enrolment


def record_attendance(
    enrolment: Enrolment, attendance: Attendance, *, expected_version: int | None = None
) -> None:
    check_version(enrolment, expected_version)
    if enrolment.session is None or enrolment.session.status != SessionStatus.PLANNED:
        raise DomainError(_("Attendance is recorded for a planned session."))
    if enrolment.status != EnrolmentStatus.ENROLLED:
        raise DomainError(_("%(name)s is not enrolled in this session.", name=enrolment.user.full_name))
    if enrolment.session.starts_on > today():
        raise DomainError(_("The session has not started yet."))
    enrolment.attendance = attendance
    db.session.flush()


def complete_session(
    session: TrainingSession, *, day: date | None = None, expected_version: int | None = None
) -> None:
    """Close a session after its last day: those who attended have completed the programme; new
    hires who missed it go back on the waiting list; a retraining completed closes its record."""
    check_version(session, expected_version)
    day = day or today()
    if session.status != SessionStatus.PLANNED:
        raise DomainError(_("The session is “%(status)s”.", status=session.status.label))
    if session.ends_on > day:
        raise DomainError(
            _("The session ends on %(date)s; complete it after that.", date=session.ends_on.isoformat())
        )
    enrolled = [e for e in session.enrolments if e.status == EnrolmentStatus.ENROLLED]
    missing = [e.user.full_name for e in enrolled if e.attendance is None]
    if missing:
        raise DomainError(_("Record the attendance of %(names)s first.", names=", ".join(missing)))
    for enrolment in enrolled:
        if enrolment.attendance == Attendance.ATTENDED:
            enrolment.status = EnrolmentStatus.COMPLETED
            enrolment.completed_on = session.ends_on
            for retraining in enrolment.retrainings:
                retraining.status = RetrainingStatus.COMPLETED
                retraining.closed_at = utcnow()
        else:
            enrolment.status = EnrolmentStatus.NOT_COMPLETED
            if enrolment.programme.kind != ProgrammeKind.IN_SERVICE:
                # Still to be trained: back on the waiting list, with a new due date.
                again = Enrolment(
                    user=enrolment.user,
                    programme=enrolment.programme,
                    store_id=enrolment.store_id,
                    enrolled_on=day,
                    due_on=day + timedelta(days=enrolment.programme.days),
                    status=EnrolmentStatus.WAITING,
                    note=enrolment.note,
                )
                db.session.add(again)
                for retraining in list(enrolment.retrainings):
                    retraining.enrolment = again
                    retraining.status = RetrainingStatus.OPEN
    session.status = SessionStatus.COMPLETED
    session.completed_at = utcnow()
    db.session.flush()


def cancel_session(session: TrainingSession, *, expected_version: int | None = None) -> None:
    """Cancel a planned session: its people go back on the waiting list (in-service ones leave)."""
    check_version(session, expected_version)
    if session.status != SessionStatus.PLANNED:
        raise DomainError(_("The session is “%(status)s”.", status=session.status.label))
    for enrolment in session.enrolments:
        if enrolment.status != EnrolmentStatus.ENROLLED:
            continue
        if enrolment.programme.kind == ProgrammeKind.IN_SERVICE:
            enrolment.status = EnrolmentStatus.WITHDRAWN
        else:
            enrolment.session = None
            enrolment.status = EnrolmentStatus.WAITING
            enrolment.attendance = None
            for retraining in enrolment.retrainings:
                retraining.status = RetrainingStatus.OPEN
    session.status = SessionStatus.CANCELLED
    db.session.flush()


def trainees() -> list[StaffUser]:
    """Active people holding a technician or front-desk role (the in-service audience)."""
    return list(
        db.session.scalars(
            sa.select(StaffUser)
            .join(RoleAssignment, RoleAssignment.user_id == StaffUser.id)
            .where(
                RoleAssignment.role.in_(TRAINEE_ROLES), StaffUser.is_active, ~StaffUser.is_platform_support
            )
            .distinct()
            .order_by(StaffUser.id)
        )
    )


def enrol_in_service(day: date) -> int:
    """HB §3.1.4: serving staff attend the policy's number of in-service sessions a year. Each
    planned in-service session of `day`'s year that has not started gets the trainees who have
    fewer enrolments (not withdrawn, not missed) in that year's sessions, earliest sessions
    first. Idempotent: someone enrolled is counted."""
    policy = policy_on(day)
    start, end = date(day.year, 1, 1), date(day.year, 12, 31)
    sessions = list(
        db.session.scalars(
            sa.select(TrainingSession)
            .join(TrainingProgramme, TrainingProgramme.id == TrainingSession.programme_id)
            .where(
                TrainingProgramme.kind == ProgrammeKind.IN_SERVICE,
                TrainingSession.status == SessionStatus.PLANNED,
                TrainingSession.starts_on >= day,
                TrainingSession.starts_on <= end,
            )
            .order_by(TrainingSession.starts_on, TrainingSession.id)
        )
    )
    if not sessions:
        return 0
    counted = (EnrolmentStatus.ENROLLED, EnrolmentStatus.COMPLETED)
    rows = db.session.execute(
        sa.select(Enrolment.user_id, Enrolment.session_id)
        .join(TrainingSession, TrainingSession.id == Enrolment.session_id)
        .join(TrainingProgramme, TrainingProgramme.id == Enrolment.programme_id)
        .where(
            TrainingProgramme.kind == ProgrammeKind.IN_SERVICE,
            TrainingSession.starts_on.between(start, end),
            Enrolment.status.in_(counted),
        )
    ).all()
    taken: dict[int, set[int]] = {}
    for user_id, session_id in rows:
        taken.setdefault(user_id, set()).add(session_id)
    made = 0
    for person in trainees():
        for session in sessions:
            mine = taken.setdefault(person.id, set())
            if len(mine) >= policy.in_service_sessions_per_year:
                break
            if session.id in mine or any(e.user_id == person.id for e in session.enrolments):
                continue
            enrol_in_session(session, person)
            mine.add(session.id)
            made += 1
    return made


# --- exams ----------------------------------------------------------------------------------------------


def _attempts(exam: Exam, user: StaffUser) -> list[ExamAttempt]:
    """This person's attempts at the exam since their last completed retraining (which gives
    them a fresh set of attempts, HB §5.3.1(3))."""
    reset = db.session.scalar(
        sa.select(sa.func.max(Retraining.closed_at)).where(
            Retraining.user_id == user.id, Retraining.status == RetrainingStatus.COMPLETED
        )
    )
    query = sa.select(ExamAttempt).where(ExamAttempt.exam_id == exam.id, ExamAttempt.user_id == user.id)
    attempts = list(db.session.scalars(query.order_by(ExamAttempt.number)))
    if reset is not None:
        attempts = [a for a in attempts if a.started_at > reset]
    return attempts


def exam_standing(exam: Exam, user: StaffUser, day: date) -> dict:
    """What the candidate may do now: passed, attempts used and left, the open attempt."""
    attempts = _attempts(exam, user)
    policy = policy_on(day)
    used = [a for a in attempts if a.status != AttemptStatus.IN_PROGRESS]
    open_attempt = next((a for a in attempts if a.status == AttemptStatus.IN_PROGRESS), None)
    return {
        "passed": any(a.status == AttemptStatus.PASSED for a in attempts),
        "used": len(used),
        "allowed": policy.max_exam_attempts,
        "left": max(policy.max_exam_attempts - len(used), 0),
        "open": open_attempt,
    }


def _lock_candidate(user: StaffUser) -> None:
    """Serialise the numbering of one person's attempts: PostgreSQL holds their row until the
    unit of work ends, so a second request (a double click) waits and then sees the first one's
    attempt. SQLite writes one transaction at a time anyway."""
    if user.id is not None:
        db.session.execute(sa.select(StaffUser.id).where(StaffUser.id == user.id).with_for_update())


def _add_attempt(attempt: ExamAttempt) -> None:
    """Save a new attempt; a number taken meanwhile (a request racing this one) is a Conflict
    with a message, never an unhandled IntegrityError."""
    try:
        with db.session.begin_nested():
            db.session.add(attempt)
    except sa.exc.IntegrityError:
        raise Conflict(
            _(
                "This exam attempt was just recorded by another request. Nothing was saved twice; "
                "reload the page."
            )
        ) from None


def _next_number(exam: Exam, user: StaffUser) -> int:
    last = db.session.scalar(
        sa.select(sa.func.max(ExamAttempt.number)).where(
            ExamAttempt.exam_id == exam.id, ExamAttempt.user_id == user.id
        )
    )
    return (last or 0) + 1


def _check_may_sit(exam: Exam, user: StaffUser, day: date) -> TrainingPolicy:
    if not exam.is_active:
        raise DomainError(_("The exam “%(title)s” is not open.", title=exam.title))
    standing = exam_standing(exam, user, day)
    if standing["passed"]:
        raise DomainError(
            _("%(name)s has already passed “%(title)s”.", name=user.full_name, title=exam.title)
        )
    if standing["left"] <= 0:
        raise DomainError(
            _(
                "%(name)s has used all %(n)d attempts at “%(title)s”; retraining comes first.",
                name=user.full_name,
                n=standing["allowed"],
                title=exam.title,
            )
        )
    return policy_on(day)


def start_theory(exam: Exam, user: StaffUser, *, now: datetime | None = None) -> ExamAttempt:
    """Begin a closed-book theory exam (HB §3.2.1): the questions are drawn from the bank's topic
    and copied onto the attempt; the time limit is the policy's. An open attempt is resumed."""
    now = now or utcnow()
    if exam.kind != ExamKind.THEORY:
        raise DomainError(_("A practical exam is scored by an assessor."))
    _lock_candidate(user)
    standing = exam_standing(exam, user, now.date())
    if standing["open"] is not None:
        attempt = standing["open"]
        if not is_late(attempt, now):
            return attempt
        expire_attempt(attempt, now=now)
    policy = _check_may_sit(exam, user, now.date())
    questions = list(
        db.session.scalars(
            sa.select(ExamQuestion)
            .where(ExamQuestion.topic == exam.topic, ExamQuestion.is_active)
            .order_by(ExamQuestion.id)
        )
    )
    questions = [
        q for q in questions if len(q.option_list()) >= 2 and 1 <= q.correct_option <= len(q.option_list())
    ]
    if not questions:
        raise DomainError(
            _("The question bank has no questions on “%(topic)s” yet; ask the trainer.", topic=exam.topic)
        )
    drawn = random.sample(questions, min(exam.question_count or len(questions), len(questions)))
    attempt = ExamAttempt(
        exam=exam,
        user=user,
        store_id=home_store_id(user),
        enrolment_id=_latest_enrolment_id(user),
        number=_next_number(exam, user),
        started_at=now,
        deadline_at=now + timedelta(minutes=policy.exam_time_limit_minutes),
        pass_mark=policy.theory_pass_mark,
        max_attempts=policy.max_exam_attempts,
    )
    for position, question in enumerate(drawn, start=1):
        attempt.answers.append(
            ExamAnswer(
                question_id=question.id,
                position=position,
                text=question.text,
                options="\n".join(question.option_list()),
                correct_option=question.correct_option,
            )
        )
    _add_attempt(attempt)
    return attempt


def _latest_enrolment_id(user: StaffUser) -> int | None:
    return db.session.scalar(
        sa.select(Enrolment.id)
        .where(Enrolment.user_id == user.id, Enrolment.status != EnrolmentStatus.WITHDRAWN)
        .order_by(Enrolment.id.desc())
        .limit(1)
    )


def is_late(attempt: ExamAttempt, now: datetime) -> bool:
    return attempt.deadline_at is not None and now > attempt.deadline_at + timedelta(
        seconds=EXAM_GRACE_SECONDS
    )


class ExamTimeUp(DomainError):
    """Answers arrived after the time limit: refused, nothing saved (the attempt then expires)."""

    status_code = 409


def submit_theory(
    attempt: ExamAttempt, user: StaffUser, answers: Mapping[int, int | None], *, now: datetime | None = None
) -> ExamAttempt:
    """Score a theory attempt automatically: `answers` maps question position -> chosen line
    (1-based; None unanswered, which counts as wrong). Late answers raise `ExamTimeUp` and change
    nothing; the caller then records the expiry (`expire_attempt`) in its own unit of work."""
    now = now or utcnow()
    if attempt.user_id != user.id:
        raise Refused(_("This is someone else's exam."))
    if attempt.status != AttemptStatus.IN_PROGRESS:
        raise DomainError(_("This attempt is over (%(status)s).", status=attempt.status.label))
    if is_late(attempt, now):
        raise ExamTimeUp(
            _(
                "The time limit of this exam passed at %(time)s UTC; your answers were not accepted "
                "and the attempt counts as failed.",
                time=attempt.deadline_at.strftime("%H:%M"),
            )
        )
    positions = {a.position for a in attempt.answers}
    unknown = set(answers) - positions
    if unknown:
        raise DomainError(_("The answers do not match this exam's questions. Reload the page."))
    for answer in attempt.answers:
        chosen = answers.get(answer.position)
        if chosen is not None and not 1 <= chosen <= len(answer.option_list()):
            raise DomainError(_("Question %(n)d has no answer %(choice)s.", n=answer.position, choice=chosen))
    for answer in attempt.answers:
        answer.chosen_option = answers.get(answer.position)
        answer.correct = answer.chosen_option == answer.correct_option
    right = sum(1 for a in attempt.answers if a.correct)
    attempt.score = round(100.0 * right / len(attempt.answers), 1) if attempt.answers else 0.0
    _finish(attempt, passed=attempt.score >= attempt.pass_mark, now=now)
    return attempt


def expire_attempt(attempt: ExamAttempt, *, now: datetime | None = None) -> bool:
    """An open theory attempt past its limit counts as failed (expired). False if not late."""
    now = now or utcnow()
    if attempt.status != AttemptStatus.IN_PROGRESS or not is_late(attempt, now):
        return False
    attempt.score = 0.0
    _finish(attempt, passed=False, now=now, status=AttemptStatus.EXPIRED)
    return True


def expire_overdue_attempts(now: datetime | None = None) -> int:
    now = now or utcnow()
    candidates = db.session.scalars(
        sa.select(ExamAttempt).where(
            ExamAttempt.status == AttemptStatus.IN_PROGRESS,
            ExamAttempt.deadline_at < now - timedelta(seconds=EXAM_GRACE_SECONDS),
        )
    )
    return sum(1 for attempt in list(candidates) if expire_attempt(attempt, now=now))


def _finish(
    attempt: ExamAttempt, *, passed: bool, now: datetime, status: AttemptStatus | None = None
) -> None:
    attempt.status = status or (AttemptStatus.PASSED if passed else AttemptStatus.FAILED)
    attempt.finished_at = now
    db.session.flush()
    if not passed and attempt.number >= 1:
        used = [a for a in _attempts(attempt.exam, attempt.user) if a.status != AttemptStatus.IN_PROGRESS]
        if len(used) >= attempt.max_attempts:
            open_retraining(
                attempt.user,
                reason=RetrainingReason.EXAM_FAILED,
                note=_(
                    "“%(title)s”: %(n)d attempts failed, the last scoring %(score)s%% "
                    "(pass mark %(mark)s%%).",
                    title=attempt.exam.title,
                    n=len(used),
                    score=f"{attempt.score or 0:g}",
                    mark=f"{attempt.pass_mark:g}",
                ),
            )


def may_assess_practical(assessor: StaffUser, candidate: StaffUser) -> bool:
    """HR assesses anyone; a store manager their own stores' staff; nobody themselves."""
    if assessor.id == candidate.id:
        return False
    return is_hr(assessor) or manages(assessor, candidate)


def record_practical(
    exam: Exam,
    candidate: StaffUser,
    assessor: StaffUser,
    points: Mapping[int, int | None],
    *,
    comment: str | None = None,
    now: datetime | None = None,
) -> ExamAttempt:
    """Score a practical exam on its rubric (HB §3.2.1): every criterion between 0 and its
    maximum; the score is the points earned over the points possible, against the policy's
    practical pass mark. A last failure opens retraining."""
    now = now or utcnow()
    if exam.kind != ExamKind.PRACTICAL:
        raise DomainError(_("A theory exam is scored automatically."))
    if not may_assess_practical(assessor, candidate):
        raise Refused(_("You may not assess %(name)s.", name=candidate.full_name))
    if not exam.criteria:
        raise DomainError(_("The exam “%(title)s” has no rubric yet.", title=exam.title))
    problems = {}
    for criterion in exam.criteria:
        value = points.get(criterion.id)
        if value is None:
            problems[criterion.id] = _("Give the points for this criterion.")
        elif not 0 <= value <= criterion.max_points:
            problems[criterion.id] = _("Between 0 and %(max)d points.", max=criterion.max_points)
    if problems:
        error = DomainError(_("Check the points: nothing was saved."))
        error.problems = problems  # type: ignore[attr-defined]
        raise error
    _lock_candidate(candidate)
    policy = _check_may_sit(exam, candidate, now.date())
    attempt = ExamAttempt(
        exam=exam,
        user=candidate,
        store_id=home_store_id(candidate),
        enrolment_id=_latest_enrolment_id(candidate),
        number=_next_number(exam, candidate),
        started_at=now,
        pass_mark=policy.practical_pass_mark,
        max_attempts=policy.max_exam_attempts,
        assessor_id=assessor.id,
        comment=(comment or "").strip() or None,
    )
    for criterion in exam.criteria:
        attempt.scores.append(
            PracticalScore(
                criterion_id=criterion.id,
                text=criterion.text,
                max_points=criterion.max_points,
                points=points[criterion.id],
            )
        )
    earned = sum(s.points for s in attempt.scores)
    possible = sum(s.max_points for s in attempt.scores)
    attempt.score = round(100.0 * earned / possible, 1)
    _add_attempt(attempt)
    _finish(attempt, passed=attempt.score >= attempt.pass_mark, now=now)
    return attempt


# --- retraining ------------------------------------------------------------------------------------------


def open_retraining(user: StaffUser, *, reason: RetrainingReason, note: str) -> Retraining:
    """Put someone down for retraining (HB §5.3.1(3)) and on the retraining programme's waiting
    list. Called after a last failed exam and by the assessments domain after a failed
    assessment. A person with retraining already open gets the new reason added to it (one
    retraining covers both); the record is returned either way."""
    from repairqc.audit.services import current_actor

    note = (note or "").strip() or reason.label
    current = db.session.scalars(
        sa.select(Retraining)
        .where(
            Retraining.user_id == user.id,
            Retraining.status.in_((RetrainingStatus.OPEN, RetrainingStatus.ENROLLED)),
        )
        .order_by(Retraining.id)
        .limit(1)
    ).first()
    if current is not None:
        current.note = f"{current.note}\n{reason.label}: {note}"
        db.session.flush()
        return current
    day = today()
    programme = programme_for(ProgrammeKind.RETRAINING, day)
    enrolment = Enrolment(
        user=user,
        programme=programme,
        store_id=home_store_id(user),
        enrolled_on=day,
        due_on=day + timedelta(days=programme.days),
        status=EnrolmentStatus.WAITING,
        note=note,
    )
    actor = current_actor()
    retraining = Retraining(
        user=user,
        store_id=home_store_id(user),
        reason=reason,
        note=note,
        opened_by_id=actor.id if actor.kind == "staff" else None,
        enrolment=enrolment,
    )
    db.session.add_all([enrolment, retraining])
    db.session.flush()
    return retraining


# --- certificates ----------------------------------------------------------------------------------------


def check_certificate(cert: Certificate) -> None:
    """HB §5.1.3(1): a certificate names its holder, a device category of the standard, its
    number and issuer, and dates in order (issued not in the future). The person signed in never
    records (or edits) their own: the rule holds for the generated admin's forms too."""
    from repairqc.audit.services import current_actor

    holder = cert.holder or (db.session.get(StaffUser, cert.holder_id) if cert.holder_id else None)
    if holder is None:
        raise DomainError(_("Choose the holder."), field="holder")
    actor = current_actor()
    if actor.kind == "staff" and actor.id == holder.id:
        # Whatever the path (the training page, the generated admin's new or edit form).
        raise DomainError(_("Nobody records or changes their own certificate; ask HR."), field="holder")
    names = category_names(today())
    if names and cert.device_category not in names:
        raise DomainError(
            _(
                "“%(code)s” is not a device category of the standard in force (%(known)s).",
                code=cert.device_category or "",
                known=", ".join(sorted(names)),
            ),
            field="device_category",
        )
    if not (cert.number or "").strip():
        raise DomainError(_("Give the certificate number."), field="number")
    if not (cert.issuer or "").strip():
        raise DomainError(_("Say who issued the certificate."), field="issuer")
    if cert.issued_on is None:
        raise DomainError(_("Give the date of issue."), field="issued_on")
    if cert.issued_on > today():
        raise DomainError(_("The date of issue is in the future."), field="issued_on")
    if cert.expires_on is not None and cert.expires_on < cert.issued_on:
        raise DomainError(_("The certificate expires before it was issued."), field="expires_on")
    if cert.store_id is None:
        cert.store_id = home_store_id(holder)


def record_certificate(
    holder: StaffUser,
    *,
    kind,
    device_category: str,
    number: str,
    issuer: str,
    issued_on: date,
    expires_on: date | None,
    scan: tuple[bytes, str] | None = None,
    notes: str | None = None,
) -> Certificate:
    """Record a certificate with its scan (PDF or image, kept in the tenant's file store)."""
    from repairqc.files.services import store_bytes

    cert = Certificate(
        holder=holder,
        kind=kind,
        device_category=(device_category or "").strip(),
        number=(number or "").strip(),
        issuer=(issuer or "").strip(),
        issued_on=issued_on,
        expires_on=expires_on,
        notes=(notes or "").strip() or None,
    )
    check_certificate(cert)
    if scan is not None:
        data, filename = scan
        cert.file = store_bytes(data, filename)
    db.session.add(cert)
    db.session.flush()
    return cert


def may_read_file(user: StaffUser, file_id: int) -> bool:
    """A stored file that is a certificate scan is read only by those who may see the training
    record of every holder it is the scan of (`may_see_person`); other files are not training's
    to decide (True)."""
    holders = db.session.scalars(
        sa.select(StaffUser)
        .join(Certificate, Certificate.holder_id == StaffUser.id)
        .where(Certificate.file_id == file_id)
    ).all()
    return all(may_see_person(user, holder) for holder in holders)


def valid_certificates(user: StaffUser, day: date) -> list[Certificate]:
    return list(
        db.session.scalars(
            sa.select(Certificate)
            .where(
                Certificate.holder_id == user.id,
                Certificate.issued_on <= day,
                sa.or_(Certificate.expires_on.is_(None), Certificate.expires_on >= day),
            )
            .order_by(Certificate.device_category, Certificate.id)
        )
    )


def certified_categories(user: StaffUser, day: date | None = None) -> set[str]:
    """The device categories `user` holds a certificate for that is valid on `day` (HB §5.1.3(1)).

    Read without flushing: the workflow asks in the middle of a move whose version check must
    still see the order as the page did."""
    with db.session.no_autoflush:
        return {c.device_category for c in valid_certificates(user, day or today())}


def certificates_to_remind(day: date) -> list[int]:
    """Claim the certificates expiring within the reminder window whose current expiry date has
    not been reminded: a conditional UPDATE per certificate, so two runs mail once."""
    horizon = day + timedelta(days=CERTIFICATE_REMINDER_DAYS)
    candidates = db.session.execute(
        sa.select(Certificate.id, Certificate.expires_on).where(
            Certificate.expires_on.is_not(None),
            Certificate.expires_on >= day,
            Certificate.expires_on <= horizon,
            sa.or_(Certificate.reminded_for.is_(None), Certificate.reminded_for != Certificate.expires_on),
        )
    ).all()
    claimed = []
    for cert_id, expires_on in candidates:
        result = db.session.execute(
            sa.update(Certificate)
            .where(
                Certificate.id == cert_id,
                Certificate.expires_on == expires_on,
                sa.or_(Certificate.reminded_for.is_(None), Certificate.reminded_for != expires_on),
            )
            .values(reminded_for=expires_on)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            claimed.append(cert_id)
    return claimed


# --- evaluations --------------------------------------------------------------------------------------


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def satisfaction_for(user: StaffUser, start: date, end: date):
    """The trainee's customer-satisfaction results for a period (HB §3.2.1): the surveys of the
    orders they were the technician of, answered in [start, end] at any store
    (`feedback.services.satisfaction`, printable as HTML); None without answers, and the screens
    say so."""
    from repairqc.feedback.services import satisfaction

    return satisfaction(None, start, end, technician_id=user.id)


def _assessor_for(enrolment: Enrolment, offset: int) -> StaffUser | None:
    """Right after training the session's trainer; later the trainee's store manager (who sees
    their work), or the trainer when the store has none."""
    trainer = enrolment.session.trainer if enrolment.session is not None else None
    if offset == 0 and trainer is not None and trainer.is_active:
        return trainer
    managers = store_managers(enrolment.user)
    if managers:
        return managers[0]
    return trainer if trainer is not None and trainer.is_active else (trainers() or [None])[0]


def create_due_evaluations(day: date) -> list[int]:
    """HB §3.2.2: one evaluation per completed enrolment and offset of the policy in force
    (0, 3, 6, 12 months), made on the day it falls due (or the first run after). Idempotent:
    the (enrolment, offset) pair is unique and existing ones are skipped."""
    policy = policy_on(day)
    completed = list(
        db.session.scalars(
            sa.select(Enrolment)
            .where(Enrolment.status == EnrolmentStatus.COMPLETED, Enrolment.completed_on <= day)
            .order_by(Enrolment.id)
        )
    )
    if not completed:
        return []
    existing = set(
        db.session.execute(
            sa.select(Evaluation.enrolment_id, Evaluation.offset_months).where(
                Evaluation.enrolment_id.in_([e.id for e in completed])
            )
        ).all()
    )
    made = []
    for enrolment in completed:
        for offset in policy.evaluation_offsets_months:
            due_on = add_months(enrolment.completed_on, offset)
            if due_on > day or (enrolment.id, offset) in existing:
                continue
            assessor = _assessor_for(enrolment, offset)
            evaluation = Evaluation(
                enrolment=enrolment,
                user_id=enrolment.user_id,
                store_id=enrolment.store_id,
                offset_months=offset,
                due_on=due_on,
                assessor_id=assessor.id if assessor is not None else None,
            )
            try:
                with db.session.begin_nested():
                    db.session.add(evaluation)
            except sa.exc.IntegrityError:  # another run made it meanwhile
                continue
            made.append(evaluation.id)
    return made


def evaluations_to_remind(day: date) -> list[int]:
    """Claim the due evaluations whose assessor has not been reminded (one mail each)."""
    ids = db.session.scalars(
        sa.select(Evaluation.id).where(
            Evaluation.status == EvaluationStatus.DUE,
            Evaluation.reminded_on.is_(None),
            Evaluation.assessor_id.is_not(None),
            Evaluation.due_on <= day,
        )
    ).all()
    claimed = []
    for evaluation_id in ids:
        result = db.session.execute(
            sa.update(Evaluation)
            .where(Evaluation.id == evaluation_id, Evaluation.reminded_on.is_(None))
            .values(reminded_on=day)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            claimed.append(evaluation_id)
    return claimed


def may_evaluate(user: StaffUser, evaluation: Evaluation) -> bool:
    if user.id == evaluation.user_id:
        return False
    return user.id == evaluation.assessor_id or is_hr(user) or manages(user, evaluation.user)


def record_evaluation(
    evaluation: Evaluation,
    by: StaffUser,
    *,
    score: int | None,
    remarks: str,
    expected_version: int | None = None,
) -> None:
    """The assessor's evaluation: a score from 0 to 100 and remarks (HB §3.2.2). The screen
    always passes the version it showed: a stale page is a Conflict, nothing saved."""
    check_version(evaluation, expected_version)
    if not may_evaluate(by, evaluation):
        raise Refused(_("You may not evaluate %(name)s.", name=evaluation.user.full_name))
    if evaluation.status != EvaluationStatus.DUE:
        raise DomainError(_("This evaluation has already been recorded."))
    if score is None or not 0 <= score <= 100:
        raise DomainError(_("The score is between 0 and 100."), field="score")
    if not (remarks or "").strip():
        raise DomainError(_("Write the remarks."), field="remarks")
    evaluation.score = score
    evaluation.remarks = remarks.strip()
    evaluation.assessor_id = by.id
    evaluation.status = EvaluationStatus.DONE
    evaluation.done_at = utcnow()
    db.session.flush()


# --- the technician's training page ----------------------------------------------------------------


def training_record(person: StaffUser, day: date) -> dict:
    """Everything the training page shows of one person."""
    certificates = list(
        db.session.scalars(
            sa.select(Certificate)
            .where(Certificate.holder_id == person.id)
            .order_by(Certificate.device_category, Certificate.expires_on.desc())
        )
    )
    enrolments = list(
        db.session.scalars(
            sa.select(Enrolment)
            .where(Enrolment.user_id == person.id)
            .order_by(Enrolment.enrolled_on.desc(), Enrolment.id.desc())
        )
    )
    attempts = list(
        db.session.scalars(
            sa.select(ExamAttempt)
            .where(ExamAttempt.user_id == person.id)
            .order_by(ExamAttempt.started_at.desc(), ExamAttempt.id.desc())
        )
    )
    evaluations = list(
        db.session.scalars(
            sa.select(Evaluation).where(Evaluation.user_id == person.id).order_by(Evaluation.due_on.desc())
        )
    )
    retrainings = list(
        db.session.scalars(
            sa.select(Retraining).where(Retraining.user_id == person.id).order_by(Retraining.id.desc())
        )
    )
    exams = list(db.session.scalars(sa.select(Exam).where(Exam.is_active).order_by(Exam.kind, Exam.title)))
    return {
        "certificates": certificates,
        "enrolments": enrolments,
        "attempts": attempts,
        "evaluations": evaluations,
        "retrainings": retrainings,
        "exams": [(exam, exam_standing(exam, person, day)) for exam in exams],
        "valid_categories": certified_categories(person, day),
        "category_names": category_names(day),
    }
