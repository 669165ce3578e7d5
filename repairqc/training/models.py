"""Staff training and qualification (HB ch.3, §5.1.3(1), §5.3.1): programmes, sessions,
enrolments, theory and practical exams, certificates, evaluations after training, retraining.

Statuses change only through `training.services` (one function per move); their columns are
read-only in the generated admin. Numbers (training days, pass marks, attempts, time limits,
evaluation offsets) come from the tenant's training policy (`standards.schema.TrainingPolicy`).

Who sees a person's records: HQ roles every one; a store manager those of the people who hold
a role at one of their stores (`PersonScoped`, like `StaffUser.store_scope`); a technician or
front-desk clerk only their own, on their training page (they have no rows in the matrix).
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, relationship

from repairqc.accounts.models import RoleAssignment, StaffUser
from repairqc.db import TenantBase, utcnow
from repairqc.errors import DomainError
from repairqc.files.models import StoredFile
from repairqc.models_base import (
    LabelledEnum,
    StoreOwned,
    Timestamped,
    Versioned,
    enum_column,
    enum_labels,
    field,
)
from repairqc.stores.models import Store

# --- enums ------------------------------------------------------------------------------------------


class ProgrammeKind(LabelledEnum):
    """HB §3.1.4: concentrated training for new hires; periodic training for serving staff."""

    NEW_HIRE = "new_hire"
    IN_SERVICE = "in_service"
    RETRAINING = "retraining"


enum_labels({
    ProgrammeKind.NEW_HIRE: _l("New-hire training"),
    ProgrammeKind.IN_SERVICE: _l("In-service training"),
    ProgrammeKind.RETRAINING: _l("Retraining"),
})  # fmt: skip


class SessionStatus(LabelledEnum):
    PLANNED = "planned"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


enum_labels({
    SessionStatus.PLANNED: _l("Planned"),
    SessionStatus.COMPLETED: _l("Completed"),
    SessionStatus.CANCELLED: _l("Cancelled"),
})  # fmt: skip


class EnrolmentStatus(LabelledEnum):
    WAITING = "waiting"  # no session yet: on the trainer's waiting list
    ENROLLED = "enrolled"
    COMPLETED = "completed"
    NOT_COMPLETED = "not_completed"  # the session ended without them (absent, excused)
    WITHDRAWN = "withdrawn"


enum_labels({
    EnrolmentStatus.WAITING: _l("Waiting for a session"),
    EnrolmentStatus.ENROLLED: _l("Enrolled"),
    EnrolmentStatus.COMPLETED: _l("Completed"),
    EnrolmentStatus.NOT_COMPLETED: _l("Not completed"),
    EnrolmentStatus.WITHDRAWN: _l("Withdrawn"),
})  # fmt: skip


class Attendance(LabelledEnum):
    ATTENDED = "attended"
    ABSENT = "absent"
    EXCUSED = "excused"


enum_labels({
    Attendance.ATTENDED: _l("Attended"),
    Attendance.ABSENT: _l("Absent"),
    Attendance.EXCUSED: _l("Excused"),
})  # fmt: skip


class ExamKind(LabelledEnum):
    """HB §3.2.1: a closed-book theory exam and a practical exam."""

    THEORY = "theory"
    PRACTICAL = "practical"


enum_labels({
    ExamKind.THEORY: _l("Theory (closed-book)"),
    ExamKind.PRACTICAL: _l("Practical"),
})  # fmt: skip


class AttemptStatus(LabelledEnum):
    IN_PROGRESS = "in_progress"
    PASSED = "passed"
    FAILED = "failed"
    EXPIRED = "expired"  # a theory attempt whose time ran out: counts as failed


enum_labels({
    AttemptStatus.IN_PROGRESS: _l("In progress"),
    AttemptStatus.PASSED: _l("Passed"),
    AttemptStatus.FAILED: _l("Failed"),
    AttemptStatus.EXPIRED: _l("Time ran out"),
})  # fmt: skip


class CertificateKind(LabelledEnum):
    """HB §5.1.3(1): vocational qualifications and the provider's own certifications."""

    VOCATIONAL = "vocational"
    INTERNAL = "internal"


enum_labels({
    CertificateKind.VOCATIONAL: _l("Vocational qualification"),
    CertificateKind.INTERNAL: _l("Internal certification"),
})  # fmt: skip


class EvaluationStatus(LabelledEnum):
    DUE = "due"
    DONE = "done"


enum_labels({
    EvaluationStatus.DUE: _l("Due"),
    EvaluationStatus.DONE: _l("Done"),
})  # fmt: skip


class RetrainingReason(LabelledEnum):
    """Why someone is retrained (HB §5.3.1(3)); the assessments domain opens them too."""

    EXAM_FAILED = "exam_failed"
    ASSESSMENT_FAILED = "assessment_failed"
    EVALUATION = "evaluation"
    OTHER = "other"


enum_labels({
    RetrainingReason.EXAM_FAILED: _l("Exam failed after the last attempt"),
    RetrainingReason.ASSESSMENT_FAILED: _l("Assessment failed"),
    RetrainingReason.EVALUATION: _l("Evaluation after training"),
    RetrainingReason.OTHER: _l("Other"),
})  # fmt: skip


class RetrainingStatus(LabelledEnum):
    OPEN = "open"  # waiting for a session
    ENROLLED = "enrolled"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


enum_labels({
    RetrainingStatus.OPEN: _l("Open"),
    RetrainingStatus.ENROLLED: _l("Enrolled"),
    RetrainingStatus.COMPLETED: _l("Completed"),
    RetrainingStatus.CANCELLED: _l("Cancelled"),
})  # fmt: skip


# --- scoping ------------------------------------------------------------------------------------------


def works_at(person_id: sa.ColumnElement, store_ids: set[int]) -> sa.ColumnElement[bool]:
    """The person holds a role at one of `store_ids` (a store manager's staff, HB §3.3.2)."""
    return sa.exists().where(RoleAssignment.user_id == person_id, RoleAssignment.store_id.in_(store_ids))


class PersonScoped(StoreOwned):
    """A record about one person: store users see it when the person works at their stores.

    `store_id` keeps the store the person worked at when the record was made (the reports count
    by it); scoping follows where they work now, as `StaffUser.store_scope` does.
    """

    __person__ = "user_id"

    @classmethod
    def store_scope(cls, store_ids: set[int]) -> sa.ColumnElement[bool]:
        return works_at(getattr(cls, cls.__person__), store_ids)


# --- programmes and sessions ------------------------------------------------------------------------


class TrainingProgramme(Timestamped, Versioned, TenantBase):
    """A course of training (HB §3.1.3 content, §3.1.4 plan), made from the training policy the
    first time it is needed (`services.programme_for`) and editable by trainers afterwards."""

    __tablename__ = "training_programmes"
    __label__ = _l("Training programme")
    __label_plural__ = _l("Training programmes")
    __chapter__ = "ch3"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    kind: Mapped[ProgrammeKind] = field(_l("Kind"), enum_column(ProgrammeKind), info={"readonly": True})
    name: Mapped[str] = field(_l("Name"), sa.String(200))
    days: Mapped[int] = field(_l("Length (days)"))
    topics: Mapped[str] = field(_l("Topics"), sa.Text, help=_l("One topic per line (HB §3.1.3)"))
    is_active: Mapped[bool] = field(_l("Active"), default=True)

    sessions: Mapped[list[TrainingSession]] = relationship(
        back_populates="programme", order_by="TrainingSession.starts_on"
    )

    def validate(self) -> None:
        if not (self.name or "").strip():
            raise DomainError(_("Give the programme a name."), field="name")
        if self.days is None or not 0 < self.days <= 365:
            raise DomainError(_("The length is between 1 and 365 days."), field="days")

    def topic_list(self) -> list[str]:
        return [line.strip() for line in (self.topics or "").splitlines() if line.strip()]

    def __str__(self) -> str:
        return self.name


class TrainingSession(Timestamped, Versioned, TenantBase):
    """One run of a programme: dates, trainer, place, the people enrolled and their attendance."""

    __tablename__ = "training_sessions"
    __label__ = _l("Training session")
    __label_plural__ = _l("Training sessions")
    __chapter__ = "ch3"
    __table_args__ = (sa.CheckConstraint("ends_on >= starts_on", name="dates_in_order"),)

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    programme_id: Mapped[int] = field(_l("Programme"), sa.ForeignKey("training_programmes.id"), index=True)
    title: Mapped[str] = field(_l("Title"), sa.String(200))
    starts_on: Mapped[date] = field(_l("Starts on"))
    ends_on: Mapped[date] = field(_l("Ends on"))
    trainer_id: Mapped[int | None] = field(_l("Trainer"), sa.ForeignKey("staff_users.id"), index=True)
    place: Mapped[str] = field(_l("Place"), sa.String(300))
    store_id: Mapped[int | None] = field(
        _l("Held at store"), sa.ForeignKey("stores.id"), index=True, help=_l("Empty: at head office")
    )
    status: Mapped[SessionStatus] = field(
        _l("Status"), enum_column(SessionStatus), default=SessionStatus.PLANNED, info={"readonly": True}
    )
    completed_at: Mapped[datetime | None] = field(_l("Completed at"), info={"readonly": True})
    notes: Mapped[str | None] = field(_l("Notes"), sa.Text)

    programme: Mapped[TrainingProgramme] = relationship(back_populates="sessions")
    trainer: Mapped[StaffUser | None] = relationship()
    store: Mapped[Store | None] = relationship()
    enrolments: Mapped[list[Enrolment]] = relationship(back_populates="session", order_by="Enrolment.id")

    @classmethod
    def store_scope(cls, store_ids: set[int]) -> sa.ColumnElement[bool]:
        """Held at one of the stores, or someone who works there is enrolled."""
        return sa.or_(
            cls.store_id.in_(store_ids),
            sa.exists().where(Enrolment.session_id == cls.id, works_at(Enrolment.user_id, store_ids)),
        )

    def validate(self) -> None:
        from repairqc.training.services import check_session

        check_session(self)

    def __str__(self) -> str:
        return f"{self.title} ({self.starts_on.isoformat()})"


class Enrolment(PersonScoped, Timestamped, Versioned, TenantBase):
    """A person in a programme: in a session, or waiting for one (the trainer's waiting list)."""

    __tablename__ = "training_enrolments"
    __label__ = _l("Enrolment")
    __label_plural__ = _l("Enrolments")
    __chapter__ = "ch3"
    __table_args__ = (
        sa.UniqueConstraint("session_id", "user_id"),
        sa.Index("ix_training_enrolments_programme_status", "programme_id", "status"),
    )

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    user_id: Mapped[int] = field(
        _l("Trainee"), sa.ForeignKey("staff_users.id"), index=True, info={"readonly": True}
    )
    programme_id: Mapped[int] = field(
        _l("Programme"), sa.ForeignKey("training_programmes.id"), info={"readonly": True}
    )
    session_id: Mapped[int | None] = field(
        _l("Session"), sa.ForeignKey("training_sessions.id"), index=True, info={"readonly": True}
    )
    store_id: Mapped[int | None] = field(
        _l("Store"), sa.ForeignKey("stores.id"), index=True, info={"readonly": True}
    )
    status: Mapped[EnrolmentStatus] = field(
        _l("Status"), enum_column(EnrolmentStatus), default=EnrolmentStatus.WAITING, info={"readonly": True}
    )
    enrolled_on: Mapped[date] = field(_l("Enrolled on"), info={"readonly": True})
    #: New hires: the session's last day, or enrolled_on + the policy's training days while
    #: waiting; the report's "training completed" counts enrolments due in the period.
    due_on: Mapped[date] = field(_l("Due by"), info={"readonly": True})
    attendance: Mapped[Attendance | None] = field(
        _l("Attendance"), enum_column(Attendance), info={"readonly": True}
    )
    completed_on: Mapped[date | None] = field(_l("Completed on"), info={"readonly": True})
    note: Mapped[str | None] = field(_l("Note"), sa.Text)

    user: Mapped[StaffUser] = relationship(foreign_keys=[user_id])
    programme: Mapped[TrainingProgramme] = relationship()
    session: Mapped[TrainingSession | None] = relationship(back_populates="enrolments")
    store: Mapped[Store | None] = relationship()
    retrainings: Mapped[list[Retraining]] = relationship(back_populates="enrolment")

    def __str__(self) -> str:
        # Columns only: exports render rows after their session has closed.
        return f"#{self.id} {self.enrolled_on.isoformat() if self.enrolled_on else ''}"


# --- exams ----------------------------------------------------------------------------------------------


class Exam(Timestamped, Versioned, TenantBase):
    """An exam: theory questions drawn from the bank's topic, or a practical rubric.

    The pass mark and the number of attempts are the policy's (`theory_pass_mark`,
    `practical_pass_mark`, `max_exam_attempts`), copied onto each attempt when it starts.
    """

    __tablename__ = "training_exams"
    __label__ = _l("Exam")
    __label_plural__ = _l("Exams")
    __chapter__ = "ch3"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    title: Mapped[str] = field(_l("Title"), sa.String(200))
    kind: Mapped[ExamKind] = field(_l("Kind"), enum_column(ExamKind))
    programme_id: Mapped[int | None] = field(
        _l("Programme"), sa.ForeignKey("training_programmes.id"), index=True
    )
    topic: Mapped[str | None] = field(
        _l("Question topic"),
        sa.String(100),
        help=_l("Theory: questions are drawn from this topic of the bank"),
    )
    question_count: Mapped[int | None] = field(
        _l("Questions per attempt"), help=_l("Theory: how many questions each attempt draws")
    )
    is_active: Mapped[bool] = field(_l("Active"), default=True)
    instructions: Mapped[str | None] = field(_l("Instructions"), sa.Text)

    programme: Mapped[TrainingProgramme | None] = relationship()
    criteria: Mapped[list[PracticalCriterion]] = relationship(
        back_populates="exam", order_by="PracticalCriterion.position"
    )

    def validate(self) -> None:
        if not (self.title or "").strip():
            raise DomainError(_("Give the exam a title."), field="title")
        if self.kind == ExamKind.THEORY:
            if not (self.topic or "").strip():
                raise DomainError(_("Choose the topic the questions are drawn from."), field="topic")
            if self.question_count is None or not 1 <= self.question_count <= 200:
                raise DomainError(_("Draw between 1 and 200 questions."), field="question_count")

    def __str__(self) -> str:
        return self.title


class ExamQuestion(Timestamped, Versioned, TenantBase):
    """A multiple-choice question of the bank (HB §3.2.1), filed under a topic."""

    __tablename__ = "training_exam_questions"
    __label__ = _l("Exam question")
    __label_plural__ = _l("Exam questions")
    __chapter__ = "ch3"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    topic: Mapped[str] = field(_l("Topic"), sa.String(100), index=True)
    text: Mapped[str] = field(_l("Question"), sa.Text)
    options: Mapped[str] = field(_l("Answers"), sa.Text, help=_l("One possible answer per line (2 to 8)"))
    correct_option: Mapped[int] = field(
        _l("Correct answer"), help=_l("The number of the correct line, counting from 1")
    )
    is_active: Mapped[bool] = field(_l("Active"), default=True)

    def option_list(self) -> list[str]:
        return [line.strip() for line in (self.options or "").splitlines() if line.strip()]

    def validate(self) -> None:
        if not (self.topic or "").strip():
            raise DomainError(_("Give the topic."), field="topic")
        if not (self.text or "").strip():
            raise DomainError(_("Write the question."), field="text")
        options = self.option_list()
        if not 2 <= len(options) <= 8:
            raise DomainError(_("Give between 2 and 8 answers, one per line."), field="options")
        if self.correct_option is None or not 1 <= self.correct_option <= len(options):
            raise DomainError(
                _("The correct answer is a line number between 1 and %(n)d.", n=len(options)),
                field="correct_option",
            )

    def __str__(self) -> str:
        return f"{self.topic}: {self.text[:60]}"


class PracticalCriterion(TenantBase):
    """One criterion of a practical exam's rubric, scored by the assessor up to `max_points`."""

    __tablename__ = "training_practical_criteria"
    __label__ = _l("Practical criterion")
    __label_plural__ = _l("Practical criteria")
    __chapter__ = "ch3"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    exam_id: Mapped[int] = field(_l("Exam"), sa.ForeignKey("training_exams.id"), index=True)
    position: Mapped[int] = field(_l("#"), default=0)
    text: Mapped[str] = field(_l("Criterion"), sa.String(500))
    max_points: Mapped[int] = field(_l("Maximum points"))

    exam: Mapped[Exam] = relationship(back_populates="criteria")

    def validate(self) -> None:
        if not (self.text or "").strip():
            raise DomainError(_("Describe the criterion."), field="text")
        if self.max_points is None or not 1 <= self.max_points <= 1000:
            raise DomainError(_("The maximum is between 1 and 1000 points."), field="max_points")

    def __str__(self) -> str:
        return self.text


class ExamAttempt(PersonScoped, Timestamped, Versioned, TenantBase):
    """One sitting of an exam by one person: its questions (theory) or rubric scores (practical)."""

    __tablename__ = "training_exam_attempts"
    __label__ = _l("Exam attempt")
    __label_plural__ = _l("Exam attempts")
    __chapter__ = "ch3"
    __table_args__ = (sa.UniqueConstraint("exam_id", "user_id", "number"),)

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    exam_id: Mapped[int] = field(
        _l("Exam"), sa.ForeignKey("training_exams.id"), index=True, info={"readonly": True}
    )
    user_id: Mapped[int] = field(
        _l("Candidate"), sa.ForeignKey("staff_users.id"), index=True, info={"readonly": True}
    )
    store_id: Mapped[int | None] = field(_l("Store"), sa.ForeignKey("stores.id"), info={"readonly": True})
    enrolment_id: Mapped[int | None] = field(
        _l("Enrolment"), sa.ForeignKey("training_enrolments.id"), info={"readonly": True}
    )
    number: Mapped[int] = field(_l("Attempt"), info={"readonly": True})
    status: Mapped[AttemptStatus] = field(
        _l("Status"), enum_column(AttemptStatus), default=AttemptStatus.IN_PROGRESS, info={"readonly": True}
    )
    started_at: Mapped[datetime] = field(_l("Started at"), default=utcnow, info={"readonly": True})
    #: Theory only: answers after this (and a small grace) are refused.
    deadline_at: Mapped[datetime | None] = field(_l("Time limit"), info={"readonly": True})
    finished_at: Mapped[datetime | None] = field(_l("Finished at"), info={"readonly": True})
    pass_mark: Mapped[float] = field(_l("Pass mark (%)"), info={"readonly": True})
    max_attempts: Mapped[int] = field(_l("Attempts allowed"), info={"readonly": True})
    score: Mapped[float | None] = field(_l("Score (%)"), info={"readonly": True})
    assessor_id: Mapped[int | None] = field(
        _l("Assessor"), sa.ForeignKey("staff_users.id"), info={"readonly": True}
    )
    comment: Mapped[str | None] = field(_l("Comment"), sa.Text, info={"readonly": True})

    exam: Mapped[Exam] = relationship()
    user: Mapped[StaffUser] = relationship(foreign_keys=[user_id])
    assessor: Mapped[StaffUser | None] = relationship(foreign_keys=[assessor_id])
    store: Mapped[Store | None] = relationship()
    enrolment: Mapped[Enrolment | None] = relationship()
    answers: Mapped[list[ExamAnswer]] = relationship(
        back_populates="attempt", order_by="ExamAnswer.position", cascade="all, delete-orphan"
    )
    scores: Mapped[list[PracticalScore]] = relationship(
        back_populates="attempt", order_by="PracticalScore.id", cascade="all, delete-orphan"
    )

    @property
    def is_open(self) -> bool:
        return self.status == AttemptStatus.IN_PROGRESS

    def __str__(self) -> str:
        return f"#{self.id} ({self.number})"


class ExamAnswer(TenantBase):
    """A question drawn for a theory attempt, copied so later edits of the bank change nothing."""

    __tablename__ = "training_exam_answers"
    __label__ = _l("Exam answer")
    __label_plural__ = _l("Exam answers")
    __chapter__ = "ch3"
    __table_args__ = (sa.UniqueConstraint("attempt_id", "position"),)

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    attempt_id: Mapped[int] = field(_l("Attempt"), sa.ForeignKey("training_exam_attempts.id"), index=True)
    question_id: Mapped[int | None] = field(_l("Question"), sa.ForeignKey("training_exam_questions.id"))
    position: Mapped[int] = field(_l("#"))
    text: Mapped[str] = field(_l("Question"), sa.Text)
    options: Mapped[str] = field(_l("Answers"), sa.Text)
    correct_option: Mapped[int] = field(_l("Correct answer"), secret=True)
    chosen_option: Mapped[int | None] = field(_l("Answer given"))
    correct: Mapped[bool | None] = field(_l("Correct"))

    attempt: Mapped[ExamAttempt] = relationship(back_populates="answers")

    @classmethod
    def store_scope(cls, store_ids: set[int]) -> sa.ColumnElement[bool]:
        return sa.exists().where(ExamAttempt.id == cls.attempt_id, ExamAttempt.store_scope(store_ids))

    def option_list(self) -> list[str]:
        return [line.strip() for line in self.options.splitlines() if line.strip()]


class PracticalScore(TenantBase):
    """The points an assessor gave one criterion of a practical attempt."""

    __tablename__ = "training_practical_scores"
    __label__ = _l("Practical score")
    __label_plural__ = _l("Practical scores")
    __chapter__ = "ch3"
    __table_args__ = (sa.UniqueConstraint("attempt_id", "criterion_id"),)

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    attempt_id: Mapped[int] = field(_l("Attempt"), sa.ForeignKey("training_exam_attempts.id"), index=True)
    criterion_id: Mapped[int | None] = field(_l("Criterion"), sa.ForeignKey("training_practical_criteria.id"))
    text: Mapped[str] = field(_l("Criterion"), sa.String(500))
    max_points: Mapped[int] = field(_l("Maximum points"))
    points: Mapped[int] = field(_l("Points"))

    attempt: Mapped[ExamAttempt] = relationship(back_populates="scores")

    @classmethod
    def store_scope(cls, store_ids: set[int]) -> sa.ColumnElement[bool]:
        return sa.exists().where(ExamAttempt.id == cls.attempt_id, ExamAttempt.store_scope(store_ids))


# --- certificates -----------------------------------------------------------------------------------


class Certificate(PersonScoped, Timestamped, Versioned, TenantBase):
    """A qualification held by one person for one device category (HB §5.1.3(1)).

    Valid on a day from its issue date to its expiry date inclusive (no expiry: valid from
    issue). A technician is offered and assigned orders only of the categories they hold a
    valid certificate for (`repairs.services.qualified_categories`).
    """

    __tablename__ = "training_certificates"
    __label__ = _l("Certificate")
    __label_plural__ = _l("Certificates")
    __chapter__ = "ch3"
    __person__ = "holder_id"
    __table_args__ = (
        sa.Index("ix_training_certificates_holder_category", "holder_id", "device_category"),
        sa.CheckConstraint("expires_on IS NULL OR expires_on >= issued_on", name="dates_in_order"),
    )

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    holder_id: Mapped[int] = field(_l("Holder"), sa.ForeignKey("staff_users.id"), index=True)
    store_id: Mapped[int | None] = field(
        _l("Store"), sa.ForeignKey("stores.id"), index=True, info={"readonly": True}
    )
    kind: Mapped[CertificateKind] = field(_l("Kind"), enum_column(CertificateKind))
    device_category: Mapped[str] = field(
        _l("Device category"), sa.String(40), help=_l("A device category code of the standard in force")
    )
    number: Mapped[str] = field(_l("Certificate number"), sa.String(100))
    issuer: Mapped[str] = field(_l("Issued by"), sa.String(200))
    issued_on: Mapped[date] = field(_l("Issued on"))
    expires_on: Mapped[date | None] = field(_l("Expires on"), help=_l("Empty: does not expire"))
    #: Attached only by `record_certificate` with an uploaded scan: the generated admin cannot
    #: choose an arbitrary stored file (it could be anyone's), so the column is read-only there.
    file_id: Mapped[int | None] = field(_l("Scan"), sa.ForeignKey("stored_files.id"), info={"readonly": True})
    notes: Mapped[str | None] = field(_l("Notes"), sa.Text)
    #: The expiry date the last reminder was sent for (a renewed date is reminded again).
    reminded_for: Mapped[date | None] = field(_l("Expiry reminder sent for"), info={"readonly": True})

    holder: Mapped[StaffUser] = relationship(foreign_keys=[holder_id])
    store: Mapped[Store | None] = relationship()
    file: Mapped[StoredFile | None] = relationship()

    def is_valid_on(self, day: date) -> bool:
        return self.issued_on <= day and (self.expires_on is None or self.expires_on >= day)

    def validate(self) -> None:
        from repairqc.training.services import check_certificate

        check_certificate(self)

    def __str__(self) -> str:
        return f"{self.number} ({self.device_category})"


# --- evaluations and retraining ---------------------------------------------------------------------


class Evaluation(PersonScoped, Timestamped, Versioned, TenantBase):
    """An evaluation of a trainee right after training and months later (HB §3.2.2), made by the
    periodic job on its due date; the assessor records a score and remarks."""

    __tablename__ = "training_evaluations"
    __label__ = _l("Training evaluation")
    __label_plural__ = _l("Training evaluations")
    __chapter__ = "ch3"
    __table_args__ = (sa.UniqueConstraint("enrolment_id", "offset_months"),)

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    enrolment_id: Mapped[int] = field(
        _l("Enrolment"), sa.ForeignKey("training_enrolments.id"), index=True, info={"readonly": True}
    )
    user_id: Mapped[int] = field(
        _l("Trainee"), sa.ForeignKey("staff_users.id"), index=True, info={"readonly": True}
    )
    store_id: Mapped[int | None] = field(_l("Store"), sa.ForeignKey("stores.id"), info={"readonly": True})
    offset_months: Mapped[int] = field(_l("Months after training"), info={"readonly": True})
    due_on: Mapped[date] = field(_l("Due on"), info={"readonly": True})
    assessor_id: Mapped[int | None] = field(_l("Assessor"), sa.ForeignKey("staff_users.id"))
    status: Mapped[EvaluationStatus] = field(
        _l("Status"), enum_column(EvaluationStatus), default=EvaluationStatus.DUE, info={"readonly": True}
    )
    reminded_on: Mapped[date | None] = field(_l("Reminder sent on"), info={"readonly": True})
    score: Mapped[int | None] = field(_l("Score (0-100)"), info={"readonly": True})
    remarks: Mapped[str | None] = field(_l("Remarks"), sa.Text, info={"readonly": True})
    done_at: Mapped[datetime | None] = field(_l("Done at"), info={"readonly": True})

    enrolment: Mapped[Enrolment] = relationship()
    user: Mapped[StaffUser] = relationship(foreign_keys=[user_id])
    assessor: Mapped[StaffUser | None] = relationship(foreign_keys=[assessor_id])
    store: Mapped[Store | None] = relationship()

    def __str__(self) -> str:
        return f"#{self.id} +{self.offset_months}"


class Retraining(PersonScoped, Timestamped, Versioned, TenantBase):
    """Someone to be retrained (HB §5.3.1(3)): after a last failed exam, a failed assessment
    (`assessments`), or an evaluation; closed when the retraining enrolment is completed."""

    __tablename__ = "training_retrainings"
    __label__ = _l("Retraining")
    __label_plural__ = _l("Retrainings")
    __chapter__ = "ch3"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    user_id: Mapped[int] = field(
        _l("Person"), sa.ForeignKey("staff_users.id"), index=True, info={"readonly": True}
    )
    store_id: Mapped[int | None] = field(_l("Store"), sa.ForeignKey("stores.id"), info={"readonly": True})
    reason: Mapped[RetrainingReason] = field(
        _l("Reason"), enum_column(RetrainingReason), info={"readonly": True}
    )
    note: Mapped[str] = field(_l("Note"), sa.Text, info={"readonly": True})
    status: Mapped[RetrainingStatus] = field(
        _l("Status"), enum_column(RetrainingStatus), default=RetrainingStatus.OPEN, info={"readonly": True}
    )
    opened_at: Mapped[datetime] = field(_l("Opened at"), default=utcnow, info={"readonly": True})
    opened_by_id: Mapped[int | None] = field(
        _l("Opened by"), sa.ForeignKey("staff_users.id"), info={"readonly": True}
    )
    enrolment_id: Mapped[int | None] = field(
        _l("Enrolment"), sa.ForeignKey("training_enrolments.id"), info={"readonly": True}
    )
    closed_at: Mapped[datetime | None] = field(_l("Closed at"), info={"readonly": True})

    user: Mapped[StaffUser] = relationship(foreign_keys=[user_id])
    opened_by: Mapped[StaffUser | None] = relationship(foreign_keys=[opened_by_id])
    store: Mapped[Store | None] = relationship()
    enrolment: Mapped[Enrolment | None] = relationship(back_populates="retrainings")

    def __str__(self) -> str:
        return f"#{self.id} {self.reason.label if self.reason else ''}"
