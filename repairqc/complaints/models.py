"""Complaints with a first-contact clock (HB §9.3).

A complaint comes in on one of the channels of HB §9.3.1 (the public form of a store, the phone,
e-mail, the counter, a low survey score, a follow-up call), is classified (HB §9.3.2), has a
responsible store and person, and must be answered by a first contact within the standard's
hours (HB §9.3.3, `complaint_first_contact_hours`, 24 by default). It then moves
received → contacted → resolved → closed, and may be reopened.

Statuses, dates and the clock's claims change only through `complaints.services` (one function
per move, each writing a `ComplaintEvent`); they are read-only in the generated admin.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, relationship

from repairqc.accounts.models import StaffUser
from repairqc.crypto import EncryptedString
from repairqc.db import TenantBase, utcnow
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
from repairqc.repairs.models import Customer, RepairOrder
from repairqc.stores.models import Store

DESCRIPTION_MAX = 4000
NOTE_MAX = 2000
NAME_MAX = 200
PHONE_MAX = 40
EMAIL_MAX = 254


class ComplaintChannel(LabelledEnum):
    """How the complaint reached the provider (HB §9.3.1 "easy complaint channels")."""

    WEB_FORM = "web_form"
    PHONE = "phone"
    EMAIL = "email"
    IN_STORE = "in_store"
    SURVEY = "survey"
    FOLLOW_UP = "follow_up"


enum_labels({
    ComplaintChannel.WEB_FORM: _l("Complaint form on the web"),
    ComplaintChannel.PHONE: _l("Phone"),
    ComplaintChannel.EMAIL: _l("E-mail"),
    ComplaintChannel.IN_STORE: _l("In the store"),
    ComplaintChannel.SURVEY: _l("Satisfaction survey (low score)"),
    ComplaintChannel.FOLLOW_UP: _l("After-delivery follow-up call"),
})  # fmt: skip


class ComplaintStatus(LabelledEnum):
    RECEIVED = "received"
    CONTACTED = "contacted"
    RESOLVED = "resolved"
    CLOSED = "closed"


enum_labels({
    ComplaintStatus.RECEIVED: _l("Awaiting first contact"),
    ComplaintStatus.CONTACTED: _l("Customer contacted"),
    ComplaintStatus.RESOLVED: _l("Resolved, awaiting confirmation"),
    ComplaintStatus.CLOSED: _l("Closed"),
})  # fmt: skip

#: The statuses in which a complaint is still being handled.
OPEN_STATUSES = frozenset({ComplaintStatus.RECEIVED, ComplaintStatus.CONTACTED, ComplaintStatus.RESOLVED})


class ResolutionOutcome(LabelledEnum):
    NONE = "none"
    REWORK = "rework"
    REFUND = "refund"
    REPLACEMENT = "replacement"
    OTHER = "other"


enum_labels({
    ResolutionOutcome.NONE: _l("Explanation, no further action"),
    ResolutionOutcome.REWORK: _l("Repair done again"),
    ResolutionOutcome.REFUND: _l("Money refunded"),
    ResolutionOutcome.REPLACEMENT: _l("Device or part replaced"),
    ResolutionOutcome.OTHER: _l("Another outcome"),
})  # fmt: skip


class Closure(LabelledEnum):
    """How a resolved complaint was closed."""

    CONFIRMED_BY_LINK = "confirmed_link"
    CONFIRMED_BY_PHONE = "confirmed_phone"
    UNCONFIRMED = "unconfirmed"


enum_labels({
    Closure.CONFIRMED_BY_LINK: _l("The customer confirmed through the link"),
    Closure.CONFIRMED_BY_PHONE: _l("The customer confirmed to staff"),
    Closure.UNCONFIRMED: _l("Closed without the customer's confirmation"),
})  # fmt: skip


class ContactMethod(LabelledEnum):
    """How staff reached the complainant (the contact log)."""

    PHONE = "phone"
    EMAIL = "email"
    SMS = "sms"
    IN_STORE = "in_store"
    OTHER = "other"


enum_labels({
    ContactMethod.PHONE: _l("Phone"),
    ContactMethod.EMAIL: _l("E-mail"),
    ContactMethod.SMS: _l("Text message"),
    ContactMethod.IN_STORE: _l("In the store"),
    ContactMethod.OTHER: _l("Other"),
})  # fmt: skip


class EventKind(LabelledEnum):
    """What a timeline entry records."""

    OPENED = "opened"
    CONTACTED = "contacted"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"
    REASSIGNED = "reassigned"
    CLASSIFIED = "classified"
    WARNED = "warned"
    ESCALATED = "escalated"


enum_labels({
    EventKind.OPENED: _l("Complaint received"),
    EventKind.CONTACTED: _l("First contact"),
    EventKind.RESOLVED: _l("Resolution recorded"),
    EventKind.CLOSED: _l("Complaint closed"),
    EventKind.REOPENED: _l("Complaint reopened"),
    EventKind.REASSIGNED: _l("Responsibility passed on"),
    EventKind.CLASSIFIED: _l("Category changed"),
    EventKind.WARNED: _l("Deadline warning sent"),
    EventKind.ESCALATED: _l("Escalated: deadline missed"),
})  # fmt: skip

#: The built-in categories of HB §9.3.2, by code; their names are shown in the reader's language.
BUILTIN_CATEGORIES = {
    "service_quality": _l("Service quality"),
    "repair_result": _l("Repair result"),
    "service_attitude": _l("Service attitude"),
    "price": _l("Price"),
    "other": _l("Other"),
}
#: English names stored with the built-in rows (the admin list; the label comes from the code).
BUILTIN_NAMES = {
    "service_quality": "Service quality",
    "repair_result": "Repair result",
    "service_attitude": "Service attitude",
    "price": "Price",
    "other": "Other",
}


class ComplaintCategory(Timestamped, TenantBase):
    """A classification of complaints (HB §9.3.2): the five built-in ones, named in each reader's
    language by their code, and the provider's own, named in its words. Retired by the inactive
    flag, never deleted (complaints refer to them)."""

    __tablename__ = "complaint_categories"
    __label__ = _l("Complaint category")
    __label_plural__ = _l("Complaint categories")
    __chapter__ = "ch9"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    code: Mapped[str | None] = field(
        _l("Code"), sa.String(40), unique=True, info={"readonly": True},
        help=_l("Set for the built-in categories only"),
    )  # fmt: skip
    name: Mapped[str] = field(
        _l("Name"), sa.String(NAME_MAX), help=_l("A built-in category is shown in each reader's language")
    )
    is_active: Mapped[bool] = field(
        _l("Active"), default=True, server_default=sa.true(), help=_l("Inactive: no longer offered")
    )

    @property
    def label(self) -> str:
        if self.code in BUILTIN_CATEGORIES:
            return str(BUILTIN_CATEGORIES[self.code])
        return self.name

    def validate(self) -> None:
        """Admin forms: a name; a built-in category keeps its name (it is translated by code)."""
        if not (self.name or "").strip():
            raise DomainError(_("Give the category a name."), field="name")
        self.name = self.name.strip()
        history = sa.inspect(self).attrs.name.history
        if self.code and history.has_changes() and history.deleted:
            raise DomainError(
                _("A built-in category keeps its name, which is shown in each reader's language. "
                  "Deactivate it and add your own instead."),
                field="name",
            )  # fmt: skip

    def __str__(self) -> str:
        return self.label


#: Per store, the last complaint number given (`services.next_complaint_number`). A plain table,
#: not a model: nobody reads or edits it but that one statement.
complaint_number_counters = sa.Table(
    "complaint_number_counters",
    TenantBase.metadata,
    sa.Column("store_id", sa.ForeignKey("stores.id"), primary_key=True),
    sa.Column("last_number", sa.Integer, nullable=False),
    schema="tenant",
)


class Complaint(StoreOwned, Timestamped, Versioned, TenantBase):
    """One complaint (HB §9.3) and its first-contact clock."""

    __tablename__ = "complaints"
    __label__ = _l("Complaint")
    __label_plural__ = _l("Complaints")
    __chapter__ = "ch9"
    __table_args__ = (
        sa.Index("ix_complaints_store_status", "store_id", "status"),
        sa.Index("ix_complaints_status_due", "status", "first_contact_due_at"),
    )

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(
        _l("Responsible store"), sa.ForeignKey("stores.id"), index=True, info={"readonly": True}
    )
    number: Mapped[str] = field(_l("Number"), sa.String(40), unique=True, info={"readonly": True})
    channel: Mapped[ComplaintChannel] = field(
        _l("Channel"), enum_column(ComplaintChannel), info={"readonly": True}
    )
    category_id: Mapped[int | None] = field(
        _l("Category"), sa.ForeignKey("complaint_categories.id"), index=True, info={"readonly": True}
    )
    description: Mapped[str] = field(
        _l("Complaint"), sa.Text, info={"readonly": True}, help=_l("In the customer's words")
    )
    customer_id: Mapped[int | None] = field(
        _l("Customer"), sa.ForeignKey("customers.id"), index=True, info={"readonly": True}
    )
    order_id: Mapped[int | None] = field(
        _l("Repair order"), sa.ForeignKey("repair_orders.id"), index=True, info={"readonly": True}
    )
    #: The satisfaction survey whose low score opened the complaint (feedback domain), if any.
    survey_id: Mapped[int | None] = field(_l("Survey"), index=True, info={"readonly": True})
    contact_name: Mapped[str | None] = field(
        _l("Contact name"),
        sa.String(NAME_MAX),
        info={"readonly": True},
        help=_l("As the complainant gave it"),
    )
    contact_phone: Mapped[str | None] = field(
        _l("Contact phone"), EncryptedString(), info={"readonly": True}, help=_l("Stored encrypted")
    )
    contact_email: Mapped[str | None] = field(
        _l("Contact e-mail"), EncryptedString(), info={"readonly": True}, help=_l("Stored encrypted")
    )
    language: Mapped[str] = field(
        _l("Language"), sa.String(16), default="en", info={"readonly": True},
        help=_l("The language the customer is answered in"),
    )  # fmt: skip
    responsible_id: Mapped[int | None] = field(
        _l("Responsible person"), sa.ForeignKey("staff_users.id"), index=True, info={"readonly": True}
    )
    status: Mapped[ComplaintStatus] = field(
        _l("Status"), enum_column(ComplaintStatus), default=ComplaintStatus.RECEIVED, info={"readonly": True}
    )
    received_at: Mapped[datetime] = field(
        _l("Complaint received at"), default=utcnow, info={"readonly": True}
    )
    first_contact_due_at: Mapped[datetime] = field(_l("First contact due"), info={"readonly": True})
    first_contacted_at: Mapped[datetime | None] = field(_l("First contacted at"), info={"readonly": True})
    first_contact_on_time: Mapped[bool | None] = field(_l("First contact on time"), info={"readonly": True})
    #: Claimed by the clock job before it mails (a conditional UPDATE), so each goes out once.
    warned_at: Mapped[datetime | None] = field(_l("Deadline warning sent at"), info={"readonly": True})
    escalated_at: Mapped[datetime | None] = field(_l("Escalated at"), info={"readonly": True})
    resolved_at: Mapped[datetime | None] = field(_l("Resolved at"), info={"readonly": True})
    resolution: Mapped[str | None] = field(_l("Resolution"), sa.Text, info={"readonly": True})
    outcome: Mapped[ResolutionOutcome | None] = field(
        _l("Outcome"), enum_column(ResolutionOutcome), info={"readonly": True}
    )
    rework_order_id: Mapped[int | None] = field(
        _l("Rework order"), sa.ForeignKey("repair_orders.id"), index=True, info={"readonly": True}
    )
    refund_cents: Mapped[int | None] = field(_l("Refund (cents)"), info={"readonly": True})
    closed_at: Mapped[datetime | None] = field(_l("Closed at"), info={"readonly": True})
    closure: Mapped[Closure | None] = field(_l("Closure"), enum_column(Closure), info={"readonly": True})
    reopen_count: Mapped[int] = field(
        _l("Times reopened"), default=0, server_default="0", info={"readonly": True}
    )
    #: The key of the customer's confirmation link; cleared when the link is used (single use).
    confirm_nonce: Mapped[str | None] = field(
        _l("Confirmation key"), sa.String(32), secret=True, info={"readonly": True}
    )

    store: Mapped[Store] = relationship()
    category: Mapped[ComplaintCategory | None] = relationship()
    customer: Mapped[Customer | None] = relationship()
    order: Mapped[RepairOrder | None] = relationship(foreign_keys=[order_id])
    rework_order: Mapped[RepairOrder | None] = relationship(foreign_keys=[rework_order_id])
    responsible: Mapped[StaffUser | None] = relationship(foreign_keys=[responsible_id])
    events: Mapped[list[ComplaintEvent]] = relationship(
        back_populates="complaint", order_by="ComplaintEvent.id", cascade="all, delete-orphan"
    )
    contacts: Mapped[list[ComplaintContact]] = relationship(
        back_populates="complaint", order_by="ComplaintContact.id", cascade="all, delete-orphan"
    )

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def is_overdue(self, now: datetime) -> bool:
        """No first contact, and the deadline has passed."""
        return self.first_contacted_at is None and self.first_contact_due_at <= now

    def __str__(self) -> str:
        return self.number


class ComplaintEvent(StoreOwned, TenantBase):
    """One entry of a complaint's timeline: who, when, what, from which status to which, note."""

    __tablename__ = "complaint_events"
    __label__ = _l("Complaint event")
    __label_plural__ = _l("Complaint events")
    __chapter__ = "ch9"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(_l("Store"), sa.ForeignKey("stores.id"), index=True)
    complaint_id: Mapped[int] = field(_l("Complaint"), sa.ForeignKey("complaints.id"), index=True)
    kind: Mapped[EventKind] = field(_l("What happened"), enum_column(EventKind))
    from_status: Mapped[ComplaintStatus | None] = field(_l("From"), enum_column(ComplaintStatus))
    to_status: Mapped[ComplaintStatus] = field(_l("To"), enum_column(ComplaintStatus))
    actor_id: Mapped[int | None] = field(
        _l("By"), sa.ForeignKey("staff_users.id"), help=_l("Empty: the customer or the system")
    )
    at: Mapped[datetime] = field(_l("At"), default=utcnow)
    note: Mapped[str | None] = field(_l("Note"), sa.Text)

    store: Mapped[Store] = relationship()
    complaint: Mapped[Complaint] = relationship(back_populates="events")
    actor: Mapped[StaffUser | None] = relationship()


class ComplaintContact(StoreOwned, TenantBase):
    """A contact with the complainant (the contact log); the first one stops the clock."""

    __tablename__ = "complaint_contacts"
    __label__ = _l("Complaint contact")
    __label_plural__ = _l("Complaint contacts")
    __chapter__ = "ch9"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(_l("Store"), sa.ForeignKey("stores.id"), index=True)
    complaint_id: Mapped[int] = field(_l("Complaint"), sa.ForeignKey("complaints.id"), index=True)
    at: Mapped[datetime] = field(_l("Contacted at"), default=utcnow)
    channel: Mapped[ContactMethod] = field(_l("How"), enum_column(ContactMethod))
    by_id: Mapped[int | None] = field(_l("By"), sa.ForeignKey("staff_users.id"))
    note: Mapped[str] = field(_l("What was said"), sa.Text)
    created_at: Mapped[datetime] = field(_l("Written at"), default=utcnow)

    store: Mapped[Store] = relationship()
    complaint: Mapped[Complaint] = relationship(back_populates="contacts")
    by: Mapped[StaffUser | None] = relationship()


def _insert_builtin_categories(target: sa.Table, connection: sa.Connection, **kw) -> None:
    """A tenant made by create-all-and-stamp (PostgreSQL provisioning) gets the built-in
    categories with its table, as a tenant made by replaying the revisions gets them from the
    revision's data step (SQLite template, existing tenants)."""
    connection.execute(
        target.insert(),
        [{"code": code, "name": name, "is_active": True, "created_at": utcnow(), "updated_at": utcnow()}
         for code, name in BUILTIN_NAMES.items()],
    )  # fmt: skip


sa.event.listen(ComplaintCategory.__table__, "after_create", _insert_builtin_categories)
