"""Staff assessments (HB §3.3): monthly by the store manager, quarterly by HR (the trainer),
annual combining both; KPIs computed from the repair data plus manual scores.

An assessment is one technician at one store for one period. Its status changes only through
`assessments.services` (draft → finalised, each move writing an `AssessmentEvent`); every score
column is read-only in the generated admin, which only lists and exports them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, relationship

from repairqc.accounts.models import Role, StaffUser
from repairqc.db import TenantBase, utcnow
from repairqc.models_base import (
    LabelledEnum,
    StoreOwned,
    Timestamped,
    Versioned,
    enum_column,
    enum_labels,
    field,
)
from repairqc.standards.models import StandardVersion
from repairqc.stores.models import Store


class AssessmentKind(LabelledEnum):
    """HB §3.3.2-§3.3.3: the three cycles."""

    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    ANNUAL = "annual"


class AssessmentStatus(LabelledEnum):
    DRAFT = "draft"
    FINALISED = "finalised"


class AssessmentOutcome(LabelledEnum):
    """HB §3.3.3: what the annual result is the basis of."""

    NONE = "none"
    PROMOTION = "promotion"
    DEMOTION = "demotion"
    REWARD = "reward"
    PENALTY = "penalty"


class FollowUp(LabelledEnum):
    """HB §5.3.1(3): staff who fail an assessment retake it or are retrained."""

    NONE = "none"
    RETAKE = "retake"
    RETRAINING = "retraining"


enum_labels({
    AssessmentKind.MONTHLY: _l("Monthly"),
    AssessmentKind.QUARTERLY: _l("Quarterly"),
    AssessmentKind.ANNUAL: _l("Annual"),
})  # fmt: skip
enum_labels({
    AssessmentStatus.DRAFT: _l("Draft"),
    AssessmentStatus.FINALISED: _l("Finalised"),
})  # fmt: skip
enum_labels({
    AssessmentOutcome.NONE: _l("No change"),
    AssessmentOutcome.PROMOTION: _l("Promotion"),
    AssessmentOutcome.DEMOTION: _l("Demotion"),
    AssessmentOutcome.REWARD: _l("Reward"),
    AssessmentOutcome.PENALTY: _l("Penalty"),
})  # fmt: skip
enum_labels({
    FollowUp.NONE: _l("None"),
    FollowUp.RETAKE: _l("Retake the assessment"),
    FollowUp.RETRAINING: _l("Retraining"),
})  # fmt: skip

#: The KPI columns, named as the KPI keys of `standards.schema.KPIS` (HB §3.3.1).
COMPUTED_KPIS = ("repair_speed", "repair_quality", "diagnosis_accuracy", "customer_satisfaction")
MANUAL_KPIS = ("communication", "teamwork", "safety")


def _score(label: Any, help: Any, readonly: bool = True) -> Any:
    return field(label, sa.Float, help=help, info={"readonly": readonly})


class Assessment(StoreOwned, Timestamped, Versioned, TenantBase):
    """One technician's assessment at one store for one period (HB §3.3).

    KPI scores are 0-100; an empty one had no data and its weight is shared out among the
    others (`services.weighted_total`). A retake is a new row of the same period with the next
    `attempt`; the annual result combines the finalised monthly and quarterly ones of its year.
    """

    __tablename__ = "assessments"
    __label__ = _l("Assessment")
    __label_plural__ = _l("Assessments")
    __chapter__ = "ch3"
    __table_args__ = (
        # One assessment per person, store, cycle, period and attempt: the periodic job's drafts
        # are made once however often it runs.
        sa.UniqueConstraint("staff_id", "store_id", "kind", "period_start", "attempt"),
        sa.Index("ix_assessments_staff_period", "staff_id", "period_start"),
        sa.CheckConstraint("period_end >= period_start", name="period_order"),
        sa.CheckConstraint("attempt >= 1", name="attempt_positive"),
    )

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(
        _l("Store"), sa.ForeignKey("stores.id"), index=True, info={"readonly": True}
    )
    staff_id: Mapped[int] = field(
        _l("Technician"), sa.ForeignKey("staff_users.id"), index=True, info={"readonly": True}
    )
    kind: Mapped[AssessmentKind] = field(_l("Cycle"), enum_column(AssessmentKind), info={"readonly": True})
    period_start: Mapped[date] = field(_l("Period from"), info={"readonly": True})
    period_end: Mapped[date] = field(_l("Period to"), info={"readonly": True})
    attempt: Mapped[int] = field(_l("Attempt"), default=1, info={"readonly": True})
    retake_of_id: Mapped[int | None] = field(
        _l("Retake of"), sa.ForeignKey("assessments.id"), info={"readonly": True}
    )
    #: Changed only by `services`, never by a form.
    status: Mapped[AssessmentStatus] = field(
        _l("Status"), enum_column(AssessmentStatus), default=AssessmentStatus.DRAFT, info={"readonly": True}
    )
    #: Who assessed (set when scores are saved or the assessment is finalised).
    assessor_id: Mapped[int | None] = field(
        _l("Assessor"), sa.ForeignKey("staff_users.id"), index=True, info={"readonly": True}
    )
    #: The standard whose weights and pass mark apply: the one in force at the period's end.
    standard_version_id: Mapped[int | None] = field(
        _l("Standard version"), sa.ForeignKey("standard_versions.id"), info={"readonly": True}
    )
    #: The policy's KPI weights for this cycle, copied so a later standard never changes them.
    weights: Mapped[dict[str, float]] = field(
        _l("KPI weights"), sa.JSON, default=dict, info={"readonly": True}
    )
    pass_mark: Mapped[float] = field(_l("Pass mark"), sa.Float, default=60, info={"readonly": True})
    repair_speed: Mapped[float | None] = _score(
        _l("Repair speed"), _l("Median turnaround of their repairs against the category's target")
    )
    repair_quality: Mapped[float | None] = _score(
        _l("Repair quality"), _l("Their repairs that neither failed QC nor came back under warranty")
    )
    diagnosis_accuracy: Mapped[float | None] = _score(
        _l("Diagnosis accuracy"), _l("Their diagnoses not revised after the quote and not followed by rework")
    )
    customer_satisfaction: Mapped[float | None] = _score(
        _l("Customer satisfaction"), _l("Survey scores of their orders")
    )
    communication: Mapped[float | None] = _score(_l("Communication"), _l("Scored by the assessor, 0-100"))
    teamwork: Mapped[float | None] = _score(_l("Teamwork"), _l("Scored by the assessor, 0-100"))
    safety: Mapped[float | None] = _score(_l("Safety"), _l("Rule compliance, scored by the assessor, 0-100"))
    #: The facts behind the computed scores (counts, medians), as computed at `computed_at`.
    facts: Mapped[dict[str, Any]] = field(_l("KPI facts"), sa.JSON, default=dict, info={"readonly": True})
    computed_at: Mapped[datetime | None] = field(_l("KPIs computed at"), info={"readonly": True})
    total_score: Mapped[float | None] = field(_l("Total score"), sa.Float, info={"readonly": True})
    passed: Mapped[bool | None] = field(_l("Passed"), info={"readonly": True})
    outcome: Mapped[AssessmentOutcome] = field(
        _l("Outcome"), enum_column(AssessmentOutcome), default=AssessmentOutcome.NONE, info={"readonly": True}
    )
    follow_up: Mapped[FollowUp] = field(
        _l("Follow-up"), enum_column(FollowUp), default=FollowUp.NONE, info={"readonly": True}
    )
    comment: Mapped[str | None] = field(_l("Comment"), sa.Text, info={"readonly": True})
    finalised_at: Mapped[datetime | None] = field(_l("Finalised at"), info={"readonly": True})

    store: Mapped[Store] = relationship()
    staff: Mapped[StaffUser] = relationship(foreign_keys=[staff_id])
    assessor: Mapped[StaffUser | None] = relationship(foreign_keys=[assessor_id])
    standard_version: Mapped[StandardVersion | None] = relationship()
    retake_of: Mapped[Assessment | None] = relationship(remote_side=[id])
    events: Mapped[list[AssessmentEvent]] = relationship(
        back_populates="assessment", order_by="AssessmentEvent.id", cascade="all, delete-orphan"
    )

    @classmethod
    def store_scope(cls, store_ids: set[int]) -> sa.ColumnElement[bool]:
        """A store's assessments are its managers' business; a technician sees only their own.

        Outside a signed-in request (jobs, the CLI, tests reading a store's rows) it is the
        plain store clause."""
        from flask_login import current_user

        from repairqc.accounts.permissions import current_grants

        if not getattr(current_user, "is_authenticated", False):
            return cls.store_id.in_(store_ids)
        managed = {
            store_id
            for store_id, roles in current_grants().store_roles.items()
            if Role.STORE_MANAGER in roles and store_id in store_ids
        }
        own = sa.and_(cls.staff_id == current_user.id, cls.store_id.in_(store_ids))
        return sa.or_(cls.store_id.in_(managed), own)

    @property
    def is_final(self) -> bool:
        return self.status is AssessmentStatus.FINALISED

    def __str__(self) -> str:
        # Only own columns: admin messages print rows after their session has closed.
        return f"{self.kind} {self.period_start.isoformat()} #{self.id}"


class AssessmentEvent(StoreOwned, TenantBase):
    """One step of an assessment: created, scored, finalised, retake opened (who, when, what)."""

    __tablename__ = "assessment_events"
    __label__ = _l("Assessment event")
    __label_plural__ = _l("Assessment events")
    __chapter__ = "ch3"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(_l("Store"), sa.ForeignKey("stores.id"), index=True)
    assessment_id: Mapped[int] = field(
        _l("Assessment"), sa.ForeignKey("assessments.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[AssessmentStatus | None] = field(_l("From"), enum_column(AssessmentStatus))
    to_status: Mapped[AssessmentStatus] = field(_l("To"), enum_column(AssessmentStatus))
    #: Staff member, or None when the periodic job made the draft.
    actor_id: Mapped[int | None] = field(_l("By"), sa.ForeignKey("staff_users.id"))
    at: Mapped[datetime] = field(_l("At"), default=utcnow)
    comment: Mapped[str | None] = field(_l("Comment"), sa.Text)

    store: Mapped[Store] = relationship()
    assessment: Mapped[Assessment] = relationship(back_populates="events")
    actor: Mapped[StaffUser | None] = relationship()

    def __str__(self) -> str:
        return f"{self.from_status or '-'} → {self.to_status}"
