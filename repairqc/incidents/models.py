"""Emergency plans, drills and incidents (HB §9.1-§9.2).

* `EmergencyPlan` is one numbered version of a plan family (`code`): draft → active →
  superseded (HB §9.1.2-§9.1.3). Publishing a draft supersedes the family's active version, so a
  family has at most one active version (`active_code` is unique and set only while active). A
  version that left the draft state never changes again (`_plans_are_immutable_once_published`),
  whatever the code path, so a drill or an incident always shows the plan as it was followed.
* `EmergencyDrill` records a drill of a plan version at a store.
* `Incident` follows HB §9.2: report → command → rescue (actions logged) → regular updates to the
  affected customers → closed with a review that may start a revision of the plan. The plan's
  command roles are alerted once each (`IncidentAlert`, claimed before the mail goes out); each
  round of customer updates is an `IncidentUpdate` (unique per incident and round), and every
  message a `notifications.CustomerMessage` with an event key naming the incident, the round and
  the customer, so nobody is told twice.

Statuses, timestamps and links are changed only by `incidents.services` (read-only columns in
the generated admin); plans and incidents are edited on the screens of `incidents.views`.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import event
from sqlalchemy.orm import Mapped, relationship

from repairqc.accounts.models import Role, StaffUser
from repairqc.db import TenantBase, TenantSession, utcnow
from repairqc.errors import DomainError
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

#: Longest plan family code ("FIRE", "DATA-BREACH-S1", ...).
CODE_MAX = 40
TITLE_MAX = 200


class PlanKind(LabelledEnum):
    """HB §9.1.2: the emergencies a plan covers."""

    NATURAL_DISASTER = "natural_disaster"
    EQUIPMENT_FAILURE = "equipment_failure"
    INJURY = "injury"
    DATA_BREACH = "data_breach"
    SUPPLY_FAILURE = "supply_failure"
    OTHER = "other"


enum_labels({
    PlanKind.NATURAL_DISASTER: _l("Natural disaster"),
    PlanKind.EQUIPMENT_FAILURE: _l("Equipment failure or fire"),
    PlanKind.INJURY: _l("Injury"),
    PlanKind.DATA_BREACH: _l("Data breach"),
    PlanKind.SUPPLY_FAILURE: _l("Supply failure"),
    PlanKind.OTHER: _l("Other emergency"),
})  # fmt: skip


class PlanStatus(LabelledEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    SUPERSEDED = "superseded"


enum_labels({
    PlanStatus.DRAFT: _l("Draft"),
    PlanStatus.ACTIVE: _l("In force"),
    PlanStatus.SUPERSEDED: _l("Superseded"),
})  # fmt: skip


class Severity(LabelledEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


enum_labels({
    Severity.LOW: _l("Low"),
    Severity.MEDIUM: _l("Medium"),
    Severity.HIGH: _l("High"),
    Severity.CRITICAL: _l("Critical: people, devices or data at risk"),
})  # fmt: skip


class IncidentStatus(LabelledEnum):
    """HB §9.2: reported → responding (someone took command) → closed (with a review)."""

    REPORTED = "reported"
    RESPONDING = "responding"
    CLOSED = "closed"


enum_labels({
    IncidentStatus.REPORTED: _l("Reported"),
    IncidentStatus.RESPONDING: _l("Responding"),
    IncidentStatus.CLOSED: _l("Closed"),
})  # fmt: skip


class UpdateKind(LabelledEnum):
    UPDATE = "update"
    CLOSING = "closing"


enum_labels({
    UpdateKind.UPDATE: _l("Progress update"),
    UpdateKind.CLOSING: _l("All-clear message"),
})  # fmt: skip


class EmergencyPlan(Timestamped, Versioned, TenantBase):
    """One version of an emergency plan (HB §9.1.3: organisation, early warning, response,
    rescue measures and information to customers). No store: the plan covers every store."""

    __tablename__ = "emergency_plans"
    __label__ = _l("Emergency plan version")
    __label_plural__ = _l("Emergency plan versions")
    __chapter__ = "ch9"
    __table_args__ = (
        sa.UniqueConstraint("code", "number"),
        # The database's guard of "one active version per family": set to `code` while active.
        sa.UniqueConstraint("active_code"),
        sa.CheckConstraint("update_interval_hours > 0", name="interval_positive"),
    )

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    code: Mapped[str] = field(
        _l("Plan code"), sa.String(CODE_MAX), index=True, info={"readonly": True},
        help=_l("The plan family; every version of one plan shares it"),
    )  # fmt: skip
    number: Mapped[int] = field(_l("Version"), info={"readonly": True})
    status: Mapped[PlanStatus] = field(
        _l("Status"), enum_column(PlanStatus), default=PlanStatus.DRAFT, info={"readonly": True}
    )
    #: `code` while this version is the family's active one, else empty (unique).
    active_code: Mapped[str | None] = field(
        _l("Active plan code"), sa.String(CODE_MAX), secret=True, info={"readonly": True}
    )
    kind: Mapped[PlanKind] = field(_l("Kind of emergency"), enum_column(PlanKind), info={"readonly": True})
    title: Mapped[str] = field(_l("Title"), sa.String(TITLE_MAX), info={"readonly": True})
    store_id: Mapped[int | None] = field(
        _l("Store"), sa.ForeignKey("stores.id"), index=True, info={"readonly": True},
        help=_l("Empty: the plan covers every store"),
    )  # fmt: skip
    #: Role values (accounts.Role): who is alerted and leads the response (HB §9.1.3 command).
    command_roles: Mapped[list[str]] = field(
        _l("Command roles"), sa.JSON, default=list, info={"readonly": True}
    )
    rescue_team: Mapped[str | None] = field(_l("Rescue team"), sa.Text, info={"readonly": True})
    supplies: Mapped[str | None] = field(_l("Emergency supplies"), sa.Text, info={"readonly": True})
    warning_triggers: Mapped[str | None] = field(
        _l("Early warning triggers"), sa.Text, info={"readonly": True}
    )
    response_steps: Mapped[str] = field(
        _l("Response steps"), sa.Text, info={"readonly": True}, help=_l("One step per line")
    )
    rescue_measures: Mapped[str | None] = field(
        _l("Rescue and evacuation measures"), sa.Text, info={"readonly": True}
    )
    customer_template_en: Mapped[str] = field(
        _l("Customer message (English)"), sa.Text, info={"readonly": True}
    )
    customer_template_zh: Mapped[str] = field(
        _l("Customer message (Chinese)"), sa.Text, info={"readonly": True}
    )
    update_interval_hours: Mapped[int] = field(
        _l("Customer update interval (hours)"), info={"readonly": True}
    )
    notes: Mapped[str | None] = field(_l("What changed"), sa.Text, info={"readonly": True})
    based_on_id: Mapped[int | None] = field(
        _l("Based on"), sa.ForeignKey("emergency_plans.id"), info={"readonly": True}
    )
    created_by_id: Mapped[int | None] = field(
        _l("Drafted by"), sa.ForeignKey("staff_users.id"), info={"readonly": True}
    )
    published_at: Mapped[datetime | None] = field(_l("Published at"), info={"readonly": True})
    published_by_id: Mapped[int | None] = field(
        _l("Published by"), sa.ForeignKey("staff_users.id"), info={"readonly": True}
    )
    superseded_at: Mapped[datetime | None] = field(_l("Superseded at"), info={"readonly": True})

    store: Mapped[Store | None] = relationship()
    based_on: Mapped[EmergencyPlan | None] = relationship(remote_side=[id])
    created_by: Mapped[StaffUser | None] = relationship(foreign_keys=[created_by_id])
    published_by: Mapped[StaffUser | None] = relationship(foreign_keys=[published_by_id])

    @classmethod
    def store_scope(cls, store_ids: set[int]) -> sa.ColumnElement[bool]:
        # Plans for every store, and those of the user's stores. NULL is tested first so the
        # condition is never "unknown" (the isolation probe negates it).
        return sa.or_(cls.store_id.is_(None), sa.and_(cls.store_id.is_not(None), cls.store_id.in_(store_ids)))

    @property
    def steps(self) -> list[str]:
        """The response steps, one per non-empty line (the incident page's checklist)."""
        return [line.strip() for line in (self.response_steps or "").splitlines() if line.strip()]

    @property
    def label(self) -> str:
        return f"{self.code} v{self.number}"

    def __str__(self) -> str:
        return f"{self.code} v{self.number} {self.title}"


#: Columns that may change on a plan that left the draft state (becoming superseded).
_MUTABLE_AFTER_PUBLISHING = frozenset({"status", "active_code", "superseded_at", "updated_at", "version"})


@event.listens_for(TenantSession, "before_flush")
def _plans_are_immutable_once_published(session, flush_context, instances) -> None:
    """Backstop for every code path (HB §9.1.3 plans are revised by new versions): an active or
    superseded version only ever becomes superseded; it is never edited or deleted."""
    for obj in session.dirty:
        if not isinstance(obj, EmergencyPlan):
            continue
        state = sa.inspect(obj)
        history = state.attrs.status.history
        stored = history.deleted[0] if history.deleted else obj.status
        if stored is PlanStatus.DRAFT:
            continue
        changed = {attr.key for attr in state.attrs if attr.history.has_changes()} - _MUTABLE_AFTER_PUBLISHING
        if (
            changed
            or obj.status is PlanStatus.DRAFT
            or (stored is PlanStatus.SUPERSEDED and obj.status is not PlanStatus.SUPERSEDED)
        ):
            raise DomainError(
                _("Version %(n)s of plan %(code)s is published and cannot change; start a new draft.",
                  n=obj.number, code=obj.code)
            )  # fmt: skip
    for obj in session.deleted:
        if isinstance(obj, EmergencyPlan) and obj.status is not PlanStatus.DRAFT:
            raise DomainError(
                _(
                    "Version %(n)s of plan %(code)s is published and cannot be deleted.",
                    n=obj.number,
                    code=obj.code,
                )
            )


class EmergencyDrill(StoreOwned, Timestamped, TenantBase):
    """A drill of a plan version at a store (HB §9.1.2 plans must be practical)."""

    __tablename__ = "emergency_drills"
    __label__ = _l("Emergency drill")
    __label_plural__ = _l("Emergency drill records")
    __chapter__ = "ch9"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(
        _l("Store"), sa.ForeignKey("stores.id"), index=True, info={"readonly": True}
    )
    plan_id: Mapped[int] = field(
        _l("Plan version"), sa.ForeignKey("emergency_plans.id"), index=True, info={"readonly": True}
    )
    held_on: Mapped[date] = field(_l("Held on"))
    participants: Mapped[str] = field(_l("Participants"), sa.Text)
    scenario: Mapped[str] = field(_l("Scenario"), sa.Text)
    findings: Mapped[str | None] = field(_l("Findings"), sa.Text)
    follow_up: Mapped[str | None] = field(_l("Follow-up"), sa.Text)
    recorded_by_id: Mapped[int | None] = field(
        _l("Recorded by"), sa.ForeignKey("staff_users.id"), info={"readonly": True}
    )

    store: Mapped[Store] = relationship()
    plan: Mapped[EmergencyPlan] = relationship()
    recorded_by: Mapped[StaffUser | None] = relationship()

    def __str__(self) -> str:
        return f"{self.held_on.isoformat()} {self.scenario[:60]}"


class Incident(StoreOwned, Timestamped, Versioned, TenantBase):
    """An emergency at a store, from the report to the review (HB §9.2)."""

    __tablename__ = "incidents"
    __label__ = _l("Incident")
    __label_plural__ = _l("Incident register")
    __chapter__ = "ch9"
    __table_args__ = (sa.Index("ix_incidents_status_next_update", "status", "next_update_due_at"),)

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(
        _l("Store"), sa.ForeignKey("stores.id"), index=True, info={"readonly": True}
    )
    kind: Mapped[PlanKind] = field(_l("Kind of emergency"), enum_column(PlanKind), info={"readonly": True})
    severity: Mapped[Severity] = field(_l("Severity"), enum_column(Severity), info={"readonly": True})
    description: Mapped[str] = field(_l("What happened"), sa.Text, info={"readonly": True})
    occurred_at: Mapped[datetime] = field(_l("Occurred at"), info={"readonly": True})
    reported_at: Mapped[datetime] = field(_l("Reported at"), default=utcnow, info={"readonly": True})
    reported_by_id: Mapped[int | None] = field(
        _l("Reported by"), sa.ForeignKey("staff_users.id"), info={"readonly": True}
    )
    #: The active plan of the incident's kind for its store when it was reported (None: no plan).
    plan_id: Mapped[int | None] = field(
        _l("Plan version"), sa.ForeignKey("emergency_plans.id"), index=True, info={"readonly": True}
    )
    status: Mapped[IncidentStatus] = field(
        _l("Status"), enum_column(IncidentStatus), default=IncidentStatus.REPORTED, info={"readonly": True}
    )
    commander_id: Mapped[int | None] = field(
        _l("In command"), sa.ForeignKey("staff_users.id"), info={"readonly": True}
    )
    command_taken_at: Mapped[datetime | None] = field(_l("Command taken at"), info={"readonly": True})
    #: When the periodic job sends the next round of customer updates (None: no round planned).
    next_update_due_at: Mapped[datetime | None] = field(_l("Next customer update"), info={"readonly": True})
    closed_at: Mapped[datetime | None] = field(_l("Incident closed at"), info={"readonly": True})
    closed_by_id: Mapped[int | None] = field(
        _l("Closed by"), sa.ForeignKey("staff_users.id"), info={"readonly": True}
    )
    review: Mapped[str | None] = field(_l("Review of the response"), sa.Text, info={"readonly": True})
    #: The draft plan version started from this incident's review (HB §9.2 revise the plan).
    revision_plan_id: Mapped[int | None] = field(
        _l("Plan revision"), sa.ForeignKey("emergency_plans.id"), info={"readonly": True}
    )

    store: Mapped[Store] = relationship()
    plan: Mapped[EmergencyPlan | None] = relationship(foreign_keys=[plan_id])
    revision_plan: Mapped[EmergencyPlan | None] = relationship(foreign_keys=[revision_plan_id])
    reported_by: Mapped[StaffUser | None] = relationship(foreign_keys=[reported_by_id])
    commander: Mapped[StaffUser | None] = relationship(foreign_keys=[commander_id])
    closed_by: Mapped[StaffUser | None] = relationship(foreign_keys=[closed_by_id])
    actions: Mapped[list[IncidentAction]] = relationship(
        back_populates="incident", order_by="IncidentAction.id"
    )
    updates: Mapped[list[IncidentUpdate]] = relationship(
        back_populates="incident", order_by="IncidentUpdate.round"
    )
    alerts: Mapped[list[IncidentAlert]] = relationship(back_populates="incident", order_by="IncidentAlert.id")

    @property
    def summary(self) -> str:
        first = (self.description or "").strip().splitlines()
        text = first[0] if first else ""
        return text if len(text) <= 80 else text[:79] + "…"

    def __str__(self) -> str:
        return f"#{self.id} {self.kind.label}"


class IncidentAlert(StoreOwned, TenantBase):
    """One member of staff alerted about an incident (the plan's command roles): written at the
    report, claimed by the mail job (`sent_at`) before the mail goes out, so sent once."""

    __tablename__ = "incident_alerts"
    __label__ = _l("Incident alert")
    __label_plural__ = _l("Incident alerts")
    __chapter__ = "ch9"
    __table_args__ = (sa.UniqueConstraint("incident_id", "user_id"),)

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(_l("Store"), sa.ForeignKey("stores.id"), index=True)
    incident_id: Mapped[int] = field(_l("Incident"), sa.ForeignKey("incidents.id"), index=True)
    user_id: Mapped[int] = field(_l("Alerted"), sa.ForeignKey("staff_users.id"))
    role: Mapped[str] = field(_l("As"), sa.String(40))
    email: Mapped[str] = field(_l("Sent to"), sa.String(254))
    created_at: Mapped[datetime] = field(_l("Written at"), default=utcnow)
    sent_at: Mapped[datetime | None] = field(_l("Sent at"))

    store: Mapped[Store] = relationship()
    incident: Mapped[Incident] = relationship(back_populates="alerts")
    user: Mapped[StaffUser] = relationship()

    @property
    def role_label(self) -> str:
        return Role(self.role).label if self.role in Role._value2member_map_ else self.role


class IncidentAction(StoreOwned, TenantBase):
    """A response action logged on an incident (HB §9.2 command and rescue), optionally ticking
    off a step of the plan."""

    __tablename__ = "incident_actions"
    __label__ = _l("Incident action")
    __label_plural__ = _l("Incident actions")
    __chapter__ = "ch9"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(_l("Store"), sa.ForeignKey("stores.id"), index=True)
    incident_id: Mapped[int] = field(_l("Incident"), sa.ForeignKey("incidents.id"), index=True)
    at: Mapped[datetime] = field(_l("At"), default=utcnow)
    by_id: Mapped[int | None] = field(_l("By"), sa.ForeignKey("staff_users.id"))
    what: Mapped[str] = field(_l("What was done"), sa.Text)
    #: 1-based number of the plan step this action carries out (None: not a plan step).
    step: Mapped[int | None] = field(_l("Plan step"))

    store: Mapped[Store] = relationship()
    incident: Mapped[Incident] = relationship(back_populates="actions")
    by: Mapped[StaffUser | None] = relationship()


class IncidentUpdate(StoreOwned, TenantBase):
    """One round of messages to the affected customers (HB §9.2 regular updates); the messages
    themselves are `notifications.CustomerMessage` rows keyed by incident, round and customer."""

    __tablename__ = "incident_updates"
    __label__ = _l("Incident customer update")
    __label_plural__ = _l("Incident customer updates")
    __chapter__ = "ch9"
    __table_args__ = (sa.UniqueConstraint("incident_id", "round"),)

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(_l("Store"), sa.ForeignKey("stores.id"), index=True)
    incident_id: Mapped[int] = field(_l("Incident"), sa.ForeignKey("incidents.id"), index=True)
    round: Mapped[int] = field(_l("Round"))
    kind: Mapped[UpdateKind] = field(_l("Kind"), enum_column(UpdateKind), default=UpdateKind.UPDATE)
    note: Mapped[str | None] = field(_l("Note to customers"), sa.Text)
    sent_at: Mapped[datetime] = field(_l("Sent at"), default=utcnow)
    sent_by_id: Mapped[int | None] = field(
        _l("Sent by"), sa.ForeignKey("staff_users.id"), help=_l("Empty: sent by the schedule")
    )
    recipients: Mapped[int] = field(_l("Customers"), default=0)
    no_channel: Mapped[int] = field(_l("Customers to call"), default=0)

    store: Mapped[Store] = relationship()
    incident: Mapped[Incident] = relationship(back_populates="updates")
    sent_by: Mapped[StaffUser | None] = relationship()
