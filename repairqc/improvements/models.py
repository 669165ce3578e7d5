"""Improvement suggestions and process reviews (HB §2.3.1, §2.3.2, §5.2.3, §6.3.3).

Any member of staff submits a suggestion (area, problem, proposal); QA or the owner adopts it
(a responsible person, a due date, a plan) or rejects it with a reason; an adopted suggestion is
tracked to implemented, and its effect is reviewed on a date set at implementation (HB §2.3.2
"effect tracked afterwards"). A `ProcessReview` is the periodic review of the process
(HB §2.3.1, §5.2.3 "periodic summaries"), HQ's record with the suggestions it discussed.

Statuses and decisions change only through `improvements.services` (one function per move, each
writing a `SuggestionEvent`); those columns are read-only in the generated admin.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, relationship

from repairqc.accounts.models import Role, StaffUser
from repairqc.db import TenantBase, utcnow
from repairqc.models_base import (
    LabelledEnum,
    Timestamped,
    Versioned,
    enum_column,
    enum_labels,
    field,
)
from repairqc.stores.models import Store

#: Longest title; problem, proposal and the other texts are at most TEXT_MAX characters.
TITLE_MAX = 200
TEXT_MAX = 5000
REFERENCE_MAX = 200


class ImprovementArea(LabelledEnum):
    """What a suggestion (or a process review) is about."""

    REPAIR_PROCESS = "repair_process"
    EQUIPMENT = "equipment"
    SKILLS_TRAINING = "skills_training"
    CUSTOMER_SERVICE = "customer_service"
    QUALITY_STANDARDS = "quality_standards"
    OTHER = "other"


enum_labels({
    ImprovementArea.REPAIR_PROCESS: _l("Repair process"),
    ImprovementArea.EQUIPMENT: _l("Equipment and tools"),
    ImprovementArea.SKILLS_TRAINING: _l("Skills and training"),
    ImprovementArea.CUSTOMER_SERVICE: _l("Customer service"),
    ImprovementArea.QUALITY_STANDARDS: _l("Quality standards"),
    ImprovementArea.OTHER: _l("Other"),
})  # fmt: skip


class SuggestionSource(LabelledEnum):
    """Where the idea came from (HB §6.3.3: survey results analysed into an improvement plan)."""

    STAFF_IDEA = "staff_idea"
    COMPLAINT = "complaint"
    SURVEY_ANALYSIS = "survey_analysis"
    INSPECTION_FINDING = "inspection_finding"
    PROCESS_REVIEW = "process_review"
    EFFECT_REVIEW = "effect_review"


enum_labels({
    SuggestionSource.STAFF_IDEA: _l("Staff idea"),
    SuggestionSource.COMPLAINT: _l("Customer complaint"),
    SuggestionSource.SURVEY_ANALYSIS: _l("Survey analysis"),
    SuggestionSource.INSPECTION_FINDING: _l("Inspection finding"),
    SuggestionSource.PROCESS_REVIEW: _l("Process review"),
    SuggestionSource.EFFECT_REVIEW: _l("Effect review of an earlier suggestion"),
})  # fmt: skip


class SuggestionStatus(LabelledEnum):
    SUBMITTED = "submitted"
    ADOPTED = "adopted"
    REJECTED = "rejected"
    IN_PROGRESS = "in_progress"
    IMPLEMENTED = "implemented"
    REVIEWED = "reviewed"


enum_labels({
    SuggestionStatus.SUBMITTED: _l("Submitted, awaiting decision"),
    SuggestionStatus.ADOPTED: _l("Adopted"),
    SuggestionStatus.REJECTED: _l("Not adopted"),
    SuggestionStatus.IN_PROGRESS: _l("Being implemented"),
    SuggestionStatus.IMPLEMENTED: _l("Implemented, effect review pending"),
    SuggestionStatus.REVIEWED: _l("Effect reviewed"),
})  # fmt: skip

#: Adopted and not yet implemented: the responsible person still has to act (can be overdue).
SUGGESTION_PENDING = (SuggestionStatus.ADOPTED, SuggestionStatus.IN_PROGRESS)


class EffectRating(LabelledEnum):
    EFFECTIVE = "effective"
    PARTLY_EFFECTIVE = "partly_effective"
    NOT_EFFECTIVE = "not_effective"


enum_labels({
    EffectRating.EFFECTIVE: _l("Effective"),
    EffectRating.PARTLY_EFFECTIVE: _l("Partly effective"),
    EffectRating.NOT_EFFECTIVE: _l("Not effective"),
})  # fmt: skip


class ImprovementSuggestion(Timestamped, Versioned, TenantBase):
    """One improvement suggestion, from submission to the review of its effect (HB §2.3.2).

    `store_id` is the store it concerns; empty for a provider-wide suggestion filed by HQ.
    """

    __tablename__ = "improvement_suggestions"
    __label__ = _l("Improvement suggestion")
    __label_plural__ = _l("Suggestion register")
    __chapter__ = "ch5"
    __table_args__ = (sa.Index("ix_improvement_suggestions_status_due", "status", "due_on"),)

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int | None] = field(
        _l("Store"),
        sa.ForeignKey("stores.id"),
        index=True,
        info={"readonly": True},
        help=_l("Empty: the whole provider"),
    )
    area: Mapped[ImprovementArea] = field(
        _l("Area of improvement"), enum_column(ImprovementArea), info={"readonly": True}
    )
    title: Mapped[str] = field(_l("Title"), sa.String(TITLE_MAX), info={"readonly": True})
    problem: Mapped[str] = field(_l("The problem"), sa.Text, info={"readonly": True})
    proposal: Mapped[str] = field(_l("The proposal"), sa.Text, info={"readonly": True})
    source: Mapped[SuggestionSource] = field(
        _l("Source"),
        enum_column(SuggestionSource),
        default=SuggestionSource.STAFF_IDEA,
        info={"readonly": True},
        help=_l("HB §6.3.3: survey results analysed into an improvement plan"),
    )
    source_reference: Mapped[str | None] = field(
        _l("Source reference"),
        sa.String(REFERENCE_MAX),
        info={"readonly": True},
        help=_l("For example the complaint, order or inspection number"),
    )
    status: Mapped[SuggestionStatus] = field(
        _l("Status"),
        enum_column(SuggestionStatus),
        default=SuggestionStatus.SUBMITTED,
        info={"readonly": True},
    )
    submitted_by_id: Mapped[int | None] = field(
        _l("Submitted by"), sa.ForeignKey("staff_users.id"), index=True, info={"readonly": True}
    )
    submitted_at: Mapped[datetime] = field(_l("Submitted at"), default=utcnow, info={"readonly": True})
    decided_by_id: Mapped[int | None] = field(
        _l("Decided by"), sa.ForeignKey("staff_users.id"), info={"readonly": True}
    )
    decided_at: Mapped[datetime | None] = field(_l("Decided at"), info={"readonly": True})
    decision_note: Mapped[str | None] = field(
        _l("Decision note"),
        sa.Text,
        info={"readonly": True},
        help=_l("The reason when not adopted, shown to the submitter"),
    )
    responsible_id: Mapped[int | None] = field(
        _l("Responsible person"), sa.ForeignKey("staff_users.id"), index=True, info={"readonly": True}
    )
    due_on: Mapped[date | None] = field(_l("Implement by"), info={"readonly": True})
    plan: Mapped[str | None] = field(_l("Implementation plan"), sa.Text, info={"readonly": True})
    implemented_on: Mapped[date | None] = field(_l("Implemented on"), info={"readonly": True})
    implementation_notes: Mapped[str | None] = field(_l("What was done"), sa.Text, info={"readonly": True})
    implemented_by_id: Mapped[int | None] = field(
        _l("Implementation recorded by"), sa.ForeignKey("staff_users.id"), info={"readonly": True}
    )
    effect_review_due_on: Mapped[date | None] = field(_l("Effect review due on"), info={"readonly": True})
    effect_rating: Mapped[EffectRating | None] = field(
        _l("Effect"), enum_column(EffectRating), info={"readonly": True}
    )
    effect_notes: Mapped[str | None] = field(_l("Effect observed"), sa.Text, info={"readonly": True})
    effect_reviewed_by_id: Mapped[int | None] = field(
        _l("Effect reviewed by"), sa.ForeignKey("staff_users.id"), info={"readonly": True}
    )
    effect_reviewed_at: Mapped[datetime | None] = field(_l("Effect reviewed at"), info={"readonly": True})
    #: The suggestion whose effect review found it not (fully) effective and reopened the problem.
    follow_up_of_id: Mapped[int | None] = field(
        _l("Follow-up of"), sa.ForeignKey("improvement_suggestions.id"), index=True, info={"readonly": True}
    )

    store: Mapped[Store | None] = relationship()
    submitted_by: Mapped[StaffUser | None] = relationship(foreign_keys=[submitted_by_id])
    decided_by: Mapped[StaffUser | None] = relationship(foreign_keys=[decided_by_id])
    responsible: Mapped[StaffUser | None] = relationship(foreign_keys=[responsible_id])
    implemented_by: Mapped[StaffUser | None] = relationship(foreign_keys=[implemented_by_id])
    effect_reviewed_by: Mapped[StaffUser | None] = relationship(foreign_keys=[effect_reviewed_by_id])
    follow_up_of: Mapped[ImprovementSuggestion | None] = relationship(remote_side=[id])
    events: Mapped[list[SuggestionEvent]] = relationship(
        back_populates="suggestion", order_by="SuggestionEvent.id", cascade="all, delete-orphan"
    )

    @classmethod
    def store_scope(cls, store_ids: set[int]) -> sa.ColumnElement[bool]:
        """Who sees a suggestion besides HQ (owner, QA, trainer, auditor see all): the store's
        managers, its submitter, its responsible person; provider-wide suggestions (no store)
        are every member of staff's business. Another store's staff never see it.

        Outside a signed-in request (jobs, the CLI, tests reading a store's rows) it is the
        plain store clause. Each branch tests for NULL first, so NOT of it is never unknown.
        """
        from flask_login import current_user

        from repairqc.accounts.permissions import current_grants

        user = current_user._get_current_object() if current_user else None
        if not isinstance(user, StaffUser):
            return sa.and_(cls.store_id.is_not(None), cls.store_id.in_(store_ids))
        me = user.id
        managed = {
            store_id
            for store_id, roles in current_grants().store_roles.items()
            if Role.STORE_MANAGER in roles and store_id in store_ids
        }
        return sa.or_(
            sa.and_(cls.store_id.is_not(None), cls.store_id.in_(managed)),
            cls.store_id.is_(None),
            sa.and_(cls.submitted_by_id.is_not(None), cls.submitted_by_id == me),
            sa.and_(cls.responsible_id.is_not(None), cls.responsible_id == me),
        )

    def is_overdue(self, today: date) -> bool:
        return self.status in SUGGESTION_PENDING and self.due_on is not None and self.due_on < today

    def __str__(self) -> str:
        # Only own columns: admin messages print rows after their session has closed.
        return f"#{self.id} {self.title}"


class SuggestionEvent(TenantBase):
    """A move of a suggestion: who, when, from, to, comment (the suggestion's timeline)."""

    __tablename__ = "suggestion_events"
    __label__ = _l("Suggestion event")
    __label_plural__ = _l("Suggestion events")
    __chapter__ = "ch5"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    suggestion_id: Mapped[int] = field(
        _l("Improvement suggestion"), sa.ForeignKey("improvement_suggestions.id"), index=True
    )
    from_status: Mapped[SuggestionStatus | None] = field(_l("From"), enum_column(SuggestionStatus))
    to_status: Mapped[SuggestionStatus] = field(_l("To"), enum_column(SuggestionStatus))
    actor_id: Mapped[int | None] = field(_l("By"), sa.ForeignKey("staff_users.id"))
    at: Mapped[datetime] = field(_l("At"), default=utcnow)
    comment: Mapped[str | None] = field(_l("Comment"), sa.Text)

    suggestion: Mapped[ImprovementSuggestion] = relationship(back_populates="events")
    actor: Mapped[StaffUser | None] = relationship()

    @classmethod
    def store_scope(cls, store_ids: set[int]) -> sa.ColumnElement[bool]:
        """An event is seen by whoever sees its suggestion."""
        return sa.exists().where(
            ImprovementSuggestion.id == cls.suggestion_id, ImprovementSuggestion.store_scope(store_ids)
        )


#: review_id <-> suggestion_id: the suggestions a process review discussed, adopted or raised.
process_review_suggestions = sa.Table(
    "process_review_suggestions",
    TenantBase.metadata,
    sa.Column("review_id", sa.ForeignKey("process_reviews.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("suggestion_id", sa.ForeignKey("improvement_suggestions.id"), primary_key=True, index=True),
    schema="tenant",
)


class ProcessReview(Timestamped, Versioned, TenantBase):
    """The periodic review of the process (HB §2.3.1, §5.2.3 "periodic summaries", §5.3.3):
    HQ's record of a period, who took part, what was reviewed, findings, decisions, the
    suggestions it discussed, and when the next review is due (the daily job reminds QA)."""

    __tablename__ = "process_reviews"
    __label__ = _l("Process review")
    __label_plural__ = _l("Process review register")
    __chapter__ = "ch5"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    period_start: Mapped[date] = field(_l("Review period from"), info={"readonly": True})
    period_end: Mapped[date] = field(_l("Review period to"), info={"readonly": True})
    held_on: Mapped[date] = field(_l("Held on"), index=True, info={"readonly": True})
    participants: Mapped[str] = field(_l("Participants"), sa.Text, info={"readonly": True})
    #: Codes of `ImprovementArea`, comma-separated (`areas_list` reads them).
    areas: Mapped[str] = field(_l("Areas reviewed"), sa.String(300), info={"readonly": True})
    findings: Mapped[str] = field(_l("Findings"), sa.Text, info={"readonly": True})
    decisions: Mapped[str] = field(_l("Decisions"), sa.Text, info={"readonly": True})
    next_review_due_on: Mapped[date] = field(_l("Next review due on"), info={"readonly": True})
    recorded_by_id: Mapped[int | None] = field(
        _l("Recorded by"), sa.ForeignKey("staff_users.id"), info={"readonly": True}
    )

    recorded_by: Mapped[StaffUser | None] = relationship()
    suggestions: Mapped[list[ImprovementSuggestion]] = relationship(
        secondary=process_review_suggestions, order_by="ImprovementSuggestion.id"
    )

    @property
    def areas_list(self) -> list[ImprovementArea]:
        codes = [code for code in (self.areas or "").split(",") if code]
        return [ImprovementArea(code) for code in codes if code in ImprovementArea._value2member_map_]

    def __str__(self) -> str:
        return f"#{self.id} {self.period_start.isoformat()} – {self.period_end.isoformat()}"


class ReminderKind(LabelledEnum):
    OVERDUE = "overdue"
    EFFECT_REVIEW = "effect_review"
    PROCESS_REVIEW = "process_review"


enum_labels({
    ReminderKind.OVERDUE: _l("Adopted suggestion past its due date"),
    ReminderKind.EFFECT_REVIEW: _l("Effect review due"),
    ReminderKind.PROCESS_REVIEW: _l("Process review due"),
})  # fmt: skip


class ImprovementReminder(TenantBase):
    """What the daily "improvements-due" job has mailed: once per `key` (kind, suggestion and
    due date), claimed by inserting the row before any mail goes out."""

    __tablename__ = "improvement_reminders"
    __label__ = _l("Improvement reminder")
    __label_plural__ = _l("Improvement reminders")
    __chapter__ = "ch5"
    __table_args__ = (sa.UniqueConstraint("key"),)

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    key: Mapped[str] = field(_l("Key"), sa.String(80), info={"readonly": True})
    kind: Mapped[ReminderKind] = field(_l("Kind"), enum_column(ReminderKind))
    suggestion_id: Mapped[int | None] = field(
        _l("Improvement suggestion"), sa.ForeignKey("improvement_suggestions.id"), index=True
    )
    due_on: Mapped[date] = field(_l("Due on"))
    sent_on: Mapped[date] = field(_l("Sent on"))
    recipients: Mapped[str | None] = field(_l("Sent to"), sa.Text)

    suggestion: Mapped[ImprovementSuggestion | None] = relationship()
