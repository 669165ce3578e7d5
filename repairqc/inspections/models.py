"""HQ supervision of stores (HB ch.8): plans, inspections, findings, corrective actions, and
the rewards and penalties that follow from them.

Statuses change only through `inspections.services` (one function per move, each writing an
event row), never through the generated admin forms: the status columns are read-only there.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, relationship

from repairqc.accounts.models import StaffUser
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
from repairqc.standards.models import StandardVersion
from repairqc.stores.models import Store


class InspectionKind(LabelledEnum):
    """HB §8.2.1: the three ways stores are inspected."""

    PERIODIC = "periodic"
    UNANNOUNCED = "unannounced"
    INTERNAL_AUDIT = "internal_audit"


enum_labels({
    InspectionKind.PERIODIC: _l("Periodic on-site inspection"),
    InspectionKind.UNANNOUNCED: _l("Unannounced inspection"),
    InspectionKind.INTERNAL_AUDIT: _l("Internal audit"),
})  # fmt: skip


class Recurrence(LabelledEnum):
    ONCE = "once"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    HALF_YEARLY = "half_yearly"
    YEARLY = "yearly"


enum_labels({
    Recurrence.ONCE: _l("Once"),
    Recurrence.WEEKLY: _l("Weekly"),
    Recurrence.MONTHLY: _l("Monthly"),
    Recurrence.QUARTERLY: _l("Quarterly"),
    Recurrence.HALF_YEARLY: _l("Every six months"),
    Recurrence.YEARLY: _l("Yearly"),
})  # fmt: skip


class InspectionChecklist(LabelledEnum):
    """What an inspection checks: the standard's store inspection template (HB §8.1.4), or the
    confidentiality check of HB §7.3.2 (3) (`repairqc.privacy.checklist`)."""

    STORE = "store"
    CONFIDENTIALITY = "confidentiality"


enum_labels({
    InspectionChecklist.STORE: _l("Store inspection (the standard's template)"),
    InspectionChecklist.CONFIDENTIALITY: _l("Confidentiality check"),
})  # fmt: skip


#: plan_id <-> store_id: the stores a plan covers ("per store or group of stores").
inspection_plan_stores = sa.Table(
    "inspection_plan_stores",
    TenantBase.metadata,
    sa.Column("plan_id", sa.ForeignKey("inspection_plans.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("store_id", sa.ForeignKey("stores.id"), primary_key=True, index=True),
    schema="tenant",
)


class InspectionPlan(Timestamped, Versioned, TenantBase):
    """HB §8.2.2 "inspection plan": what is inspected where, how often and by whom.

    The periodic job turns each occurrence into one scheduled inspection per store
    (`services.generate_due_inspections`); `next_occurrence_on` is the first one not yet made.
    """

    __tablename__ = "inspection_plans"
    __label__ = _l("Inspection plan")
    __label_plural__ = _l("Inspection plans")
    __chapter__ = "ch8"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    name: Mapped[str] = field(_l("Name"), sa.String(200))
    kind: Mapped[InspectionKind] = field(_l("Kind"), enum_column(InspectionKind))
    recurrence: Mapped[Recurrence] = field(_l("Recurrence"), enum_column(Recurrence))
    checklist: Mapped[InspectionChecklist] = field(
        _l("Checklist"),
        enum_column(InspectionChecklist),
        default=InspectionChecklist.STORE,
        server_default=InspectionChecklist.STORE.value,
        help=_l("What the inspections of this plan check"),
    )
    starts_on: Mapped[date] = field(_l("First inspection on"))
    ends_on: Mapped[date | None] = field(_l("Last inspection by"), help=_l("Empty: no end"))
    inspector_id: Mapped[int | None] = field(
        _l("Inspector"),
        sa.ForeignKey("staff_users.id"),
        index=True,
        help=_l("Internal audits may leave it empty: the store's manager conducts them"),
    )
    next_occurrence_on: Mapped[date | None] = field(
        _l("Next inspection on"), info={"readonly": True}, help=_l("Empty once the plan has ended")
    )
    is_active: Mapped[bool] = field(_l("Active"), default=True)
    notes: Mapped[str | None] = field(_l("Notes"), sa.Text)

    inspector: Mapped[StaffUser | None] = relationship()
    stores: Mapped[list[Store]] = relationship(secondary=inspection_plan_stores, order_by="Store.code")

    @classmethod
    def store_scope(cls, store_ids: set[int]) -> sa.ColumnElement[bool]:
        """A plan is a store user's business when it covers one of their stores, unless it is
        unannounced (HB §8.2.1) and they are not its inspector."""
        from flask_login import current_user

        me = current_user.id if getattr(current_user, "is_authenticated", False) else None
        covers = sa.exists().where(
            inspection_plan_stores.c.plan_id == cls.id, inspection_plan_stores.c.store_id.in_(store_ids)
        )
        return sa.and_(
            covers,
            sa.or_(
                cls.kind != InspectionKind.UNANNOUNCED,
                cls.inspector_id == me if me is not None else sa.false(),
            ),
        )

    def validate(self) -> None:
        """Admin forms: the rules of the plan screen (which alone can choose the stores)."""
        from repairqc.inspections.services import check_plan

        check_plan(self, list(self.stores))

    def __str__(self) -> str:
        return self.name


class InspectionStatus(LabelledEnum):
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    REVIEWED = "reviewed"
    CLOSED = "closed"


enum_labels({
    InspectionStatus.SCHEDULED: _l("Scheduled"),
    InspectionStatus.IN_PROGRESS: _l("In progress"),
    InspectionStatus.SUBMITTED: _l("Submitted"),
    InspectionStatus.REVIEWED: _l("Reviewed"),
    InspectionStatus.CLOSED: _l("Closed"),
})  # fmt: skip


class Inspection(StoreOwned, Timestamped, Versioned, TenantBase):
    """One inspection of one store (HB §8.3.1: time, place, inspector, content, problems).

    Its items are copied when it starts, from the template of the standard version in force
    (or the confidentiality check's, by `checklist`), so a later version never changes what was
    inspected or how it was scored.
    """

    __tablename__ = "inspections"
    __label__ = _l("Inspection")
    __label_plural__ = _l("Inspections")
    __chapter__ = "ch8"
    __table_args__ = (
        # One inspection per plan, store and occurrence: the periodic job can run twice safely.
        sa.UniqueConstraint("plan_id", "store_id", "due_on"),
        sa.Index("ix_inspections_store_conducted", "store_id", "submitted_at"),
    )

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(
        _l("Store"), sa.ForeignKey("stores.id"), index=True, info={"readonly": True}
    )
    plan_id: Mapped[int | None] = field(
        _l("Plan"), sa.ForeignKey("inspection_plans.id"), index=True, info={"readonly": True}
    )
    kind: Mapped[InspectionKind] = field(_l("Kind"), enum_column(InspectionKind), info={"readonly": True})
    #: Copied from the plan; decides which items `services.start_inspection` copies.
    checklist: Mapped[InspectionChecklist] = field(
        _l("Checklist"),
        enum_column(InspectionChecklist),
        default=InspectionChecklist.STORE,
        server_default=InspectionChecklist.STORE.value,
        info={"readonly": True},
    )
    # Set by the plan and by starting (HB §8.3.1 keeps who inspected): never rewritten by a form,
    # which could also make a reviewer out of the inspector.
    inspector_id: Mapped[int | None] = field(
        _l("Inspector"), sa.ForeignKey("staff_users.id"), index=True, info={"readonly": True}
    )
    due_on: Mapped[date] = field(_l("Due on"), info={"readonly": True})
    status: Mapped[InspectionStatus] = field(
        _l("Status"),
        enum_column(InspectionStatus),
        default=InspectionStatus.SCHEDULED,
        info={"readonly": True},
    )
    standard_version_id: Mapped[int | None] = field(
        _l("Standard version"), sa.ForeignKey("standard_versions.id"), info={"readonly": True}
    )
    place: Mapped[str | None] = field(
        _l("Place"),
        sa.String(300),
        help=_l("Where in the store, if not the whole store"),
        info={"readonly": True},
    )
    summary: Mapped[str | None] = field(_l("Summary"), sa.Text, info={"readonly": True})
    started_at: Mapped[datetime | None] = field(_l("Started at"), info={"readonly": True})
    submitted_at: Mapped[datetime | None] = field(_l("Submitted at"), info={"readonly": True})
    reviewed_at: Mapped[datetime | None] = field(_l("Reviewed at"), info={"readonly": True})
    reviewed_by_id: Mapped[int | None] = field(
        _l("Reviewed by"), sa.ForeignKey("staff_users.id"), info={"readonly": True}
    )
    closed_at: Mapped[datetime | None] = field(_l("Closed at"), info={"readonly": True})
    pass_mark: Mapped[float | None] = field(_l("Pass mark (%)"), info={"readonly": True})
    #: Earned weight over the weight of the items answered (not "not applicable"), in per cent.
    score: Mapped[float | None] = field(_l("Score (%)"), info={"readonly": True})
    #: Score at or above the pass mark and no critical item failed.
    passed: Mapped[bool | None] = field(_l("Passed"), info={"readonly": True})
    return_comment: Mapped[str | None] = field(_l("Returned with"), sa.Text, info={"readonly": True})

    store: Mapped[Store] = relationship()
    plan: Mapped[InspectionPlan | None] = relationship()
    inspector: Mapped[StaffUser | None] = relationship(foreign_keys=[inspector_id])
    reviewed_by: Mapped[StaffUser | None] = relationship(foreign_keys=[reviewed_by_id])
    standard_version: Mapped[StandardVersion | None] = relationship()
    results: Mapped[list[InspectionItemResult]] = relationship(
        back_populates="inspection", order_by="InspectionItemResult.position", cascade="all, delete-orphan"
    )
    events: Mapped[list[InspectionEvent]] = relationship(
        back_populates="inspection", order_by="InspectionEvent.id", cascade="all, delete-orphan"
    )

    @classmethod
    def store_scope(cls, store_ids: set[int]) -> sa.ColumnElement[bool]:
        """A store's own staff do not see an unannounced inspection coming (HB §8.2.1); the
        inspector assigned to it does."""
        from flask_login import current_user

        me = current_user.id if getattr(current_user, "is_authenticated", False) else None
        announced = sa.or_(
            cls.kind != InspectionKind.UNANNOUNCED,
            cls.status != InspectionStatus.SCHEDULED,
            cls.inspector_id == me if me is not None else sa.false(),
        )
        return sa.and_(cls.store_id.in_(store_ids), announced)

    @property
    def is_open(self) -> bool:
        return self.status in (InspectionStatus.SCHEDULED, InspectionStatus.IN_PROGRESS)

    def is_overdue(self, today: date) -> bool:
        return self.is_open and self.due_on < today

    def __str__(self) -> str:
        return f"#{self.id} {self.due_on.isoformat()}"


class InspectionEvent(StoreOwned, TenantBase):
    """A move of an inspection: who, when, from, to, and the reviewer's comment."""

    __tablename__ = "inspection_events"
    __label__ = _l("Inspection event")
    __label_plural__ = _l("Inspection events")
    __chapter__ = "ch8"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(_l("Store"), sa.ForeignKey("stores.id"), index=True)
    inspection_id: Mapped[int] = field(_l("Inspection"), sa.ForeignKey("inspections.id"), index=True)
    from_status: Mapped[InspectionStatus | None] = field(_l("From"), enum_column(InspectionStatus))
    to_status: Mapped[InspectionStatus] = field(_l("To"), enum_column(InspectionStatus))
    actor_id: Mapped[int | None] = field(_l("By"), sa.ForeignKey("staff_users.id"))
    at: Mapped[datetime] = field(_l("At"), default=utcnow)
    comment: Mapped[str | None] = field(_l("Comment"), sa.Text)

    store: Mapped[Store] = relationship()
    inspection: Mapped[Inspection] = relationship(back_populates="events")
    actor: Mapped[StaffUser | None] = relationship()

    @classmethod
    def store_scope(cls, store_ids: set[int]) -> sa.ColumnElement[bool]:
        # Through the inspection: the "scheduled" event of an unannounced visit would tell the
        # store its date.
        return sa.exists().where(Inspection.id == cls.inspection_id, Inspection.store_scope(store_ids))


class InspectionItemResult(StoreOwned, TenantBase):
    """One item of an inspection, as the template defined it, and the inspector's answer."""

    __tablename__ = "inspection_item_results"
    __label__ = _l("Inspection item")
    __label_plural__ = _l("Inspection items")
    __chapter__ = "ch8"
    __table_args__ = (sa.UniqueConstraint("inspection_id", "code"),)

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(_l("Store"), sa.ForeignKey("stores.id"), index=True)
    inspection_id: Mapped[int] = field(_l("Inspection"), sa.ForeignKey("inspections.id"), index=True)
    position: Mapped[int] = field(_l("Position"))
    section_code: Mapped[str] = field(_l("Section"), sa.String(40))
    area: Mapped[str] = field(_l("Area"), sa.String(20))
    section_title_en: Mapped[str] = field(_l("Section (English)"), sa.String(500))
    section_title_zh: Mapped[str] = field(_l("Section (Chinese)"), sa.String(500))
    code: Mapped[str] = field(_l("Code"), sa.String(40))
    text_en: Mapped[str] = field(_l("Item (English)"), sa.String(500))
    text_zh: Mapped[str] = field(_l("Item (Chinese)"), sa.String(500))
    kind: Mapped[str] = field(_l("Answer"), sa.String(20))
    weight: Mapped[float] = field(_l("Weight"))
    critical: Mapped[bool] = field(_l("Critical"), default=False)
    required: Mapped[bool] = field(_l("Required"), default=True)
    #: Pass/fail items: the answer. Scored items: derived (score above zero).
    passed: Mapped[bool | None] = field(_l("Passed"))
    score: Mapped[int | None] = field(_l("Score"))
    not_applicable: Mapped[bool] = field(_l("Not applicable"), default=False)
    note: Mapped[str | None] = field(_l("Note"), sa.Text)
    answered_at: Mapped[datetime | None] = field(_l("Answered at"))

    store: Mapped[Store] = relationship()
    inspection: Mapped[Inspection] = relationship(back_populates="results")
    photos: Mapped[list[InspectionPhoto]] = relationship(
        back_populates="item_result", order_by="InspectionPhoto.id", cascade="all, delete-orphan"
    )

    @property
    def answered(self) -> bool:
        return self.not_applicable or self.passed is not None or self.score is not None

    def text(self, language: str) -> str:
        return self.text_zh if language.startswith("zh") else self.text_en

    def section_title(self, language: str) -> str:
        return self.section_title_zh if language.startswith("zh") else self.section_title_en

    def __str__(self) -> str:
        return self.code


class InspectionPhoto(StoreOwned, TenantBase):
    """A photo taken for one inspection item."""

    __tablename__ = "inspection_photos"
    __label__ = _l("Inspection photo")
    __label_plural__ = _l("Inspection photos")
    __chapter__ = "ch8"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(_l("Store"), sa.ForeignKey("stores.id"), index=True)
    item_result_id: Mapped[int] = field(
        _l("Inspection item"), sa.ForeignKey("inspection_item_results.id"), index=True
    )
    file_id: Mapped[int] = field(_l("File"), sa.ForeignKey("stored_files.id"))
    taken_by_id: Mapped[int | None] = field(_l("Taken by"), sa.ForeignKey("staff_users.id"))
    taken_at: Mapped[datetime] = field(_l("Taken at"), default=utcnow)

    store: Mapped[Store] = relationship()
    item_result: Mapped[InspectionItemResult] = relationship(back_populates="photos")
    file: Mapped[StoredFile] = relationship()


class FindingCategory(LabelledEnum):
    """HB §8.1.4 / §8.2.2: what kind of problem was found."""

    PROCESS = "process"
    EQUIPMENT = "equipment"
    SKILLS = "skills"
    SERVICE = "service"


enum_labels({
    FindingCategory.PROCESS: _l("Process"),
    FindingCategory.EQUIPMENT: _l("Equipment"),
    FindingCategory.SKILLS: _l("Staff skills"),
    FindingCategory.SERVICE: _l("Service"),
})  # fmt: skip


class Severity(LabelledEnum):
    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"


enum_labels({
    Severity.CRITICAL: _l("Critical"),
    Severity.MAJOR: _l("Major"),
    Severity.MINOR: _l("Minor"),
})  # fmt: skip


class Finding(StoreOwned, Timestamped, Versioned, TenantBase):
    """A problem found by an inspection (HB §8.2.2 "problems fed back", §8.3.3 root cause)."""

    __tablename__ = "findings"
    __label__ = _l("Finding")
    __label_plural__ = _l("Findings")
    __chapter__ = "ch8"
    __table_args__ = (
        # A failed critical item raises its finding once, however often the answer is saved.
        sa.UniqueConstraint("inspection_id", "item_result_id"),
    )

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(
        _l("Store"), sa.ForeignKey("stores.id"), index=True, info={"readonly": True}
    )
    inspection_id: Mapped[int] = field(
        _l("Inspection"), sa.ForeignKey("inspections.id"), index=True, info={"readonly": True}
    )
    item_result_id: Mapped[int | None] = field(
        _l("Inspection item"), sa.ForeignKey("inspection_item_results.id"), info={"readonly": True}
    )
    category: Mapped[FindingCategory] = field(_l("Category"), enum_column(FindingCategory))
    severity: Mapped[Severity] = field(_l("Severity"), enum_column(Severity))
    description: Mapped[str] = field(_l("Problem found"), sa.Text)
    root_cause: Mapped[str | None] = field(_l("Root cause"), sa.Text, help=_l("HB §8.3.3"))
    raised_by_id: Mapped[int | None] = field(
        _l("Raised by"), sa.ForeignKey("staff_users.id"), info={"readonly": True}
    )
    raised_at: Mapped[datetime] = field(_l("Raised at"), default=utcnow, info={"readonly": True})

    store: Mapped[Store] = relationship()
    inspection: Mapped[Inspection] = relationship()
    item_result: Mapped[InspectionItemResult | None] = relationship()
    raised_by: Mapped[StaffUser | None] = relationship()
    actions: Mapped[list[CorrectiveAction]] = relationship(
        back_populates="finding", order_by="CorrectiveAction.id"
    )

    def __str__(self) -> str:
        return f"#{self.id} {self.description[:60]}"


class ActionStatus(LabelledEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    VERIFIED = "verified"
    REOPENED = "reopened"


enum_labels({
    ActionStatus.OPEN: _l("Open"),
    ActionStatus.IN_PROGRESS: _l("In progress"),
    ActionStatus.DONE: _l("Done"),
    ActionStatus.VERIFIED: _l("Verified"),
    ActionStatus.REOPENED: _l("Reopened"),
})  # fmt: skip

#: Statuses in which the owner still has to act: these can be overdue.
ACTION_PENDING = (ActionStatus.OPEN, ActionStatus.IN_PROGRESS, ActionStatus.REOPENED)


class CorrectiveAction(StoreOwned, Timestamped, Versioned, TenantBase):
    """Rectification of a finding by the store, followed up by QA until done (HB §8.3.2-§8.3.3)."""

    __tablename__ = "corrective_actions"
    __label__ = _l("Corrective action")
    __label_plural__ = _l("Corrective actions")
    __chapter__ = "ch8"
    __table_args__ = (sa.Index("ix_corrective_actions_store_status", "store_id", "status"),)

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(
        _l("Store"), sa.ForeignKey("stores.id"), index=True, info={"readonly": True}
    )
    finding_id: Mapped[int] = field(
        _l("Finding"), sa.ForeignKey("findings.id"), index=True, info={"readonly": True}
    )
    description: Mapped[str] = field(_l("Measure"), sa.Text, help=_l("What the store will do"))
    owner_id: Mapped[int] = field(_l("Owner"), sa.ForeignKey("staff_users.id"), index=True)
    due_on: Mapped[date] = field(_l("Due on"))
    status: Mapped[ActionStatus] = field(
        _l("Status"), enum_column(ActionStatus), default=ActionStatus.OPEN, info={"readonly": True}
    )
    evidence: Mapped[str | None] = field(_l("Evidence"), sa.Text, info={"readonly": True})
    done_at: Mapped[datetime | None] = field(_l("Done at"), info={"readonly": True})
    verified_at: Mapped[datetime | None] = field(_l("Verified at"), info={"readonly": True})
    verified_by_id: Mapped[int | None] = field(
        _l("Verified by"), sa.ForeignKey("staff_users.id"), info={"readonly": True}
    )
    #: Set on verification from the supervision policy; the check confirms the problem stays fixed.
    effectiveness_due_on: Mapped[date | None] = field(_l("Effectiveness check due"), info={"readonly": True})
    effectiveness_checked_at: Mapped[datetime | None] = field(
        _l("Effectiveness checked at"), info={"readonly": True}
    )
    effective: Mapped[bool | None] = field(_l("Effective"), info={"readonly": True})
    #: The last day the overdue escalation went out (the job claims this before it mails).
    escalated_on: Mapped[date | None] = field(_l("Escalated on"), info={"readonly": True})
    escalation_count: Mapped[int] = field(_l("Escalations"), default=0, info={"readonly": True})

    store: Mapped[Store] = relationship()
    finding: Mapped[Finding] = relationship(back_populates="actions")
    owner: Mapped[StaffUser] = relationship(foreign_keys=[owner_id])
    verified_by: Mapped[StaffUser | None] = relationship(foreign_keys=[verified_by_id])
    events: Mapped[list[CorrectiveActionEvent]] = relationship(
        back_populates="action", order_by="CorrectiveActionEvent.id", cascade="all, delete-orphan"
    )
    photos: Mapped[list[CorrectiveActionPhoto]] = relationship(
        back_populates="action", order_by="CorrectiveActionPhoto.id", cascade="all, delete-orphan"
    )

    def validate(self) -> None:
        """Admin forms: the owner works at the action's store (escalations mail them the finding)
        and a changed due date is not in the past."""
        from repairqc.accounts.permissions import Grants
        from repairqc.db import db

        # The form sets the relationship; owner_id follows only at the flush.
        owner = self.owner or (db.session.get(StaffUser, self.owner_id) if self.owner_id else None)
        if owner is None:
            raise DomainError(_("Choose the owner."), field="owner")
        stores = Grants.of(owner).visible_stores()
        if not owner.is_active or (stores is not None and self.store_id not in stores):
            raise DomainError(_("%(name)s does not work at this store.", name=owner.full_name), field="owner")
        if sa.inspect(self).attrs.due_on.history.has_changes() and self.due_on < utcnow().date():
            raise DomainError(_("The due date is in the past."), field="due_on")

    def is_overdue(self, today: date) -> bool:
        return self.status in ACTION_PENDING and self.due_on < today

    def __str__(self) -> str:
        return f"#{self.id} {self.description[:60]}"


class CorrectiveActionEvent(StoreOwned, TenantBase):
    """A move of a corrective action: who, when, from, to, comment."""

    __tablename__ = "corrective_action_events"
    __label__ = _l("Corrective action event")
    __label_plural__ = _l("Corrective action events")
    __chapter__ = "ch8"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(_l("Store"), sa.ForeignKey("stores.id"), index=True)
    action_id: Mapped[int] = field(
        _l("Corrective action"), sa.ForeignKey("corrective_actions.id"), index=True
    )
    from_status: Mapped[ActionStatus | None] = field(_l("From"), enum_column(ActionStatus))
    to_status: Mapped[ActionStatus] = field(_l("To"), enum_column(ActionStatus))
    actor_id: Mapped[int | None] = field(_l("By"), sa.ForeignKey("staff_users.id"))
    at: Mapped[datetime] = field(_l("At"), default=utcnow)
    comment: Mapped[str | None] = field(_l("Comment"), sa.Text)

    store: Mapped[Store] = relationship()
    action: Mapped[CorrectiveAction] = relationship(back_populates="events")
    actor: Mapped[StaffUser | None] = relationship()


class CorrectiveActionPhoto(StoreOwned, TenantBase):
    """A photo given as evidence that a corrective action was done."""

    __tablename__ = "corrective_action_photos"
    __label__ = _l("Evidence photo")
    __label_plural__ = _l("Evidence photos")
    __chapter__ = "ch8"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(_l("Store"), sa.ForeignKey("stores.id"), index=True)
    action_id: Mapped[int] = field(
        _l("Corrective action"), sa.ForeignKey("corrective_actions.id"), index=True
    )
    file_id: Mapped[int] = field(_l("File"), sa.ForeignKey("stored_files.id"))
    added_by_id: Mapped[int | None] = field(_l("Added by"), sa.ForeignKey("staff_users.id"))
    added_at: Mapped[datetime] = field(_l("Added at"), default=utcnow)

    store: Mapped[Store] = relationship()
    action: Mapped[CorrectiveAction] = relationship(back_populates="photos")
    file: Mapped[StoredFile] = relationship()


class RewardKind(LabelledEnum):
    REWARD = "reward"
    PENALTY = "penalty"


enum_labels({
    RewardKind.REWARD: _l("Reward"),
    RewardKind.PENALTY: _l("Penalty"),
})  # fmt: skip


class RewardPenalty(StoreOwned, Timestamped, Versioned, TenantBase):
    """HB §8.3.4: a reward for outstanding work or a penalty for a serious problem."""

    __tablename__ = "rewards_penalties"
    __label__ = _l("Reward or penalty")
    __label_plural__ = _l("Rewards and penalties")
    __chapter__ = "ch8"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    kind: Mapped[RewardKind] = field(_l("Kind"), enum_column(RewardKind))
    store_id: Mapped[int] = field(_l("Store"), sa.ForeignKey("stores.id"), index=True)
    staff_id: Mapped[int | None] = field(
        _l("Person"), sa.ForeignKey("staff_users.id"), index=True, help=_l("Empty: the whole store")
    )
    inspection_id: Mapped[int | None] = field(_l("Inspection"), sa.ForeignKey("inspections.id"), index=True)
    decided_on: Mapped[date] = field(_l("Decided on"), default=lambda: utcnow().date())
    reason: Mapped[str] = field(_l("Reason"), sa.Text)
    measure: Mapped[str | None] = field(
        _l("Measure"), sa.String(300), help=_l("E.g. bonus, certificate, warning, fine")
    )
    amount_cents: Mapped[int | None] = field(_l("Amount (cents)"))
    decided_by_id: Mapped[int | None] = field(
        _l("Decided by"), sa.ForeignKey("staff_users.id"), info={"readonly": True}
    )

    store: Mapped[Store] = relationship()
    staff: Mapped[StaffUser | None] = relationship(foreign_keys=[staff_id])
    inspection: Mapped[Inspection | None] = relationship()
    decided_by: Mapped[StaffUser | None] = relationship(foreign_keys=[decided_by_id])

    def validate(self) -> None:
        """Admin forms: the person and the inspection belong to the store, amounts are positive."""
        from repairqc.accounts.permissions import Grants
        from repairqc.db import db

        store_id = self.store.id if self.store is not None else self.store_id
        inspection = self.inspection or (
            db.session.get(Inspection, self.inspection_id) if self.inspection_id else None
        )
        if inspection is not None and inspection.store_id != store_id:
            raise DomainError(_("The inspection is of another store."), field="inspection")
        person = self.staff or (db.session.get(StaffUser, self.staff_id) if self.staff_id else None)
        # A person of the store holds a role there; HQ staff are rewarded without a store.
        if person is not None and store_id not in Grants.of(person).store_roles:
            raise DomainError(
                _("%(name)s does not work at this store.", name=person.full_name), field="staff"
            )
        if self.amount_cents is not None and self.amount_cents < 0:
            raise DomainError(_("The amount cannot be negative."), field="amount")
        if not (self.reason or "").strip():
            raise DomainError(_("Give the reason."), field="reason")

    def __str__(self) -> str:
        return f"{self.kind.label}: {self.reason[:60]}"
