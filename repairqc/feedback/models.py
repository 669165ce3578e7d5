"""Follow-ups and satisfaction surveys after delivery (HB §6.2.2, §6.3).

* `FollowUp`: one planned contact with the customer per day of the standard's follow-up plan
  (`follow_up_days`, then `further_follow_up_days`) after a delivery (HB §6.2.2(2) "periodic
  follow-up visits after the repair"); each try is a `FollowUpAttempt` (channel, outcome, notes).
* `SatisfactionSurvey`: one per order (HB §6.3): sent as a link after delivery, or entered by
  staff from a phone call, an on-site visit or a paper form (HB §6.3.1); the four dimensions of
  HB §6.3.2 scored 1-5, a comment and "would you recommend us".

Statuses, dates, scores and who entered them change only through `feedback.services`; they are
read-only in the generated admin.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, relationship

from repairqc.accounts.models import StaffUser
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
from repairqc.repairs.models import Customer, RepairOrder
from repairqc.stores.models import Store

#: Longest note of a follow-up and longest survey comment.
NOTES_MAX = 2000
COMMENT_MAX = 2000
#: The four dimensions of HB §6.3.2, in the order the survey asks them.
DIMENSIONS = ("timeliness", "quality", "attitude", "price")


class FollowUpChannel(LabelledEnum):
    PHONE = "phone"
    SMS = "sms"
    EMAIL = "email"
    WECHAT = "wechat"
    ON_SITE = "on_site"


enum_labels({
    FollowUpChannel.PHONE: _l("Phone call"),
    FollowUpChannel.SMS: _l("Text message"),
    FollowUpChannel.EMAIL: _l("E-mail"),
    FollowUpChannel.WECHAT: _l("WeChat"),
    FollowUpChannel.ON_SITE: _l("On-site visit"),
})  # fmt: skip


class FollowUpOutcome(LabelledEnum):
    SATISFIED = "satisfied"
    PROBLEM = "problem"
    NOT_REACHED = "not_reached"
    DECLINED = "declined"


enum_labels({
    FollowUpOutcome.SATISFIED: _l("Reached — satisfied"),
    FollowUpOutcome.PROBLEM: _l("Reached — problem reported"),
    FollowUpOutcome.NOT_REACHED: _l("Not reached"),
    FollowUpOutcome.DECLINED: _l("Declined to talk"),
})  # fmt: skip


class FollowUpStatus(LabelledEnum):
    OPEN = "open"  # planned, or tried without reaching the customer
    DONE = "done"  # the customer was reached (or declined)
    CLOSED = "closed"  # not reached, and the store gave up


enum_labels({
    FollowUpStatus.OPEN: _l("To do"),
    FollowUpStatus.DONE: _l("Done"),
    FollowUpStatus.CLOSED: _l("Closed without reaching the customer"),
})  # fmt: skip


class FollowUp(StoreOwned, Timestamped, Versioned, TenantBase):
    """One planned follow-up of a delivered order (HB §6.2.2(2)): due `days_after` days after the
    delivery, at the days the standard in force for the store sets."""

    __tablename__ = "follow_ups"
    __label__ = _l("Customer follow-up")
    __label_plural__ = _l("Customer follow-ups")
    __chapter__ = "ch6"
    __table_args__ = (
        sa.UniqueConstraint("order_id", "sequence"),
        sa.Index("ix_follow_ups_store_status_due", "store_id", "status", "due_on"),
    )

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(
        _l("Store"), sa.ForeignKey("stores.id"), index=True, info={"readonly": True}
    )
    order_id: Mapped[int] = field(
        _l("Repair order"), sa.ForeignKey("repair_orders.id"), info={"readonly": True}
    )
    customer_id: Mapped[int] = field(
        _l("Customer"), sa.ForeignKey("customers.id"), index=True, info={"readonly": True}
    )
    #: 1 for the first follow-up of the order, 2 for the next...
    sequence: Mapped[int] = field(_l("Follow-up no."), info={"readonly": True})
    days_after: Mapped[int] = field(
        _l("Days after delivery"), info={"readonly": True}, help=_l("From the standard in force at delivery")
    )
    due_on: Mapped[date] = field(_l("Due on"), info={"readonly": True})
    status: Mapped[FollowUpStatus] = field(
        _l("Status"), enum_column(FollowUpStatus), default=FollowUpStatus.OPEN, info={"readonly": True}
    )
    attempts: Mapped[int] = field(_l("Attempts"), default=0, server_default="0", info={"readonly": True})
    #: The outcome and channel of the last attempt.
    outcome: Mapped[FollowUpOutcome | None] = field(
        _l("Outcome"), enum_column(FollowUpOutcome), info={"readonly": True}
    )
    channel: Mapped[FollowUpChannel | None] = field(
        _l("Channel"), enum_column(FollowUpChannel), info={"readonly": True}
    )
    notes: Mapped[str | None] = field(_l("Notes"), sa.Text, info={"readonly": True})
    #: The day it was done or closed: "on time" when not after `due_on`.
    completed_on: Mapped[date | None] = field(_l("Completed on"), info={"readonly": True})
    completed_by_id: Mapped[int | None] = field(
        _l("Completed by"), sa.ForeignKey("staff_users.id"), info={"readonly": True}
    )
    #: The complaint opened from this follow-up (a problem reported), if any. No foreign key:
    #: complaints are created by a later migration (`complaints.Complaint`).
    complaint_id: Mapped[int | None] = field(_l("Complaint"), info={"readonly": True})

    store: Mapped[Store] = relationship()
    order: Mapped[RepairOrder] = relationship()
    customer: Mapped[Customer] = relationship()
    completed_by: Mapped[StaffUser | None] = relationship()
    attempt_log: Mapped[list[FollowUpAttempt]] = relationship(
        back_populates="follow_up", order_by="FollowUpAttempt.id"
    )

    @property
    def is_open(self) -> bool:
        return self.status is FollowUpStatus.OPEN

    def __str__(self) -> str:
        return f"#{self.id} {self.due_on.isoformat()}"


class FollowUpAttempt(StoreOwned, TenantBase):
    """One try at a follow-up: who, when, how, what came of it (kept when it is retried)."""

    __tablename__ = "follow_up_attempts"
    __label__ = _l("Follow-up attempt")
    __label_plural__ = _l("Follow-up attempts")
    __chapter__ = "ch6"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(_l("Store"), sa.ForeignKey("stores.id"), index=True)
    follow_up_id: Mapped[int] = field(_l("Customer follow-up"), sa.ForeignKey("follow_ups.id"), index=True)
    at: Mapped[datetime] = field(_l("At"), default=utcnow)
    by_id: Mapped[int | None] = field(_l("By"), sa.ForeignKey("staff_users.id"))
    channel: Mapped[FollowUpChannel] = field(_l("Channel"), enum_column(FollowUpChannel))
    outcome: Mapped[FollowUpOutcome] = field(_l("Outcome"), enum_column(FollowUpOutcome))
    notes: Mapped[str | None] = field(_l("Notes"), sa.Text)

    store: Mapped[Store] = relationship()
    follow_up: Mapped[FollowUp] = relationship(back_populates="attempt_log")
    by: Mapped[StaffUser | None] = relationship()

    def __str__(self) -> str:
        return f"{self.outcome.label} {self.at:%Y-%m-%d}"


class SurveyStatus(LabelledEnum):
    SCHEDULED = "scheduled"  # waiting for `send_after`
    SENT = "sent"  # the link went out
    NO_CHANNEL = "no_channel"  # no e-mail or textable phone: ask by phone or on site
    ANSWERED = "answered"


enum_labels({
    SurveyStatus.SCHEDULED: _l("Scheduled"),
    SurveyStatus.SENT: _l("Link sent"),
    SurveyStatus.NO_CHANNEL: _l("Not sent: ask by phone or on site"),
    SurveyStatus.ANSWERED: _l("Answered"),
})  # fmt: skip


class SurveyChannel(LabelledEnum):
    """How the answer came in (HB §6.3.1)."""

    ONLINE = "online"
    PHONE = "phone"
    ON_SITE = "on_site"
    PAPER = "paper"


enum_labels({
    SurveyChannel.ONLINE: _l("Online questionnaire"),
    SurveyChannel.PHONE: _l("Phone interview"),
    SurveyChannel.ON_SITE: _l("On-site visit"),
    SurveyChannel.PAPER: _l("Paper questionnaire"),
})  # fmt: skip


def _score(label):
    return field(label, info={"readonly": True}, help=_l("1 (poor) to 5 (excellent)"))


class SatisfactionSurvey(StoreOwned, Timestamped, Versioned, TenantBase):
    """The satisfaction survey of one order (HB §6.3): one response per order, whoever enters it."""

    __tablename__ = "satisfaction_surveys"
    __label__ = _l("Satisfaction survey")
    __label_plural__ = _l("Satisfaction surveys")
    __chapter__ = "ch6"
    __table_args__ = (
        sa.UniqueConstraint("order_id"),
        sa.Index("ix_satisfaction_surveys_status_send_after", "status", "send_after"),
        sa.Index("ix_satisfaction_surveys_store_answered", "store_id", "answered_at"),
    )

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(
        _l("Store"), sa.ForeignKey("stores.id"), index=True, info={"readonly": True}
    )
    order_id: Mapped[int] = field(
        _l("Repair order"), sa.ForeignKey("repair_orders.id"), info={"readonly": True}
    )
    customer_id: Mapped[int] = field(
        _l("Customer"), sa.ForeignKey("customers.id"), index=True, info={"readonly": True}
    )
    #: The order's technician at delivery (their KPI reads the answers, HB §3.2.1).
    technician_id: Mapped[int | None] = field(
        _l("Technician"), sa.ForeignKey("staff_users.id"), index=True, info={"readonly": True}
    )
    status: Mapped[SurveyStatus] = field(
        _l("Status"), enum_column(SurveyStatus), default=SurveyStatus.SCHEDULED, info={"readonly": True}
    )
    send_after: Mapped[datetime] = field(_l("Send after"), info={"readonly": True})
    sent_at: Mapped[datetime | None] = field(_l("Sent at"), info={"readonly": True})
    expires_at: Mapped[datetime | None] = field(_l("Link valid until"), info={"readonly": True})
    #: Part of the link's token; a new nonce revokes every link sent before.
    nonce: Mapped[str] = field(_l("Link key"), sa.String(40), secret=True, info={"readonly": True})
    answered_at: Mapped[datetime | None] = field(_l("Answered at"), info={"readonly": True})
    channel: Mapped[SurveyChannel | None] = field(
        _l("Answered by"), enum_column(SurveyChannel), info={"readonly": True}
    )
    entered_by_id: Mapped[int | None] = field(
        _l("Entered by"), sa.ForeignKey("staff_users.id"), info={"readonly": True}
    )
    #: The language the customer answered in.
    language: Mapped[str | None] = field(_l("Language"), sa.String(16), info={"readonly": True})
    timeliness: Mapped[int | None] = _score(_l("Timeliness"))
    quality: Mapped[int | None] = _score(_l("Repair quality"))
    attitude: Mapped[int | None] = _score(_l("Service attitude"))
    price: Mapped[int | None] = _score(_l("Price transparency"))
    comment: Mapped[str | None] = field(_l("Comment"), sa.Text, info={"readonly": True})
    would_recommend: Mapped[bool | None] = field(_l("Would recommend"), info={"readonly": True})
    #: The complaint a low score opened (HB §9.3); no foreign key, as on `FollowUp`.
    complaint_id: Mapped[int | None] = field(_l("Complaint"), info={"readonly": True})

    store: Mapped[Store] = relationship()
    order: Mapped[RepairOrder] = relationship()
    customer: Mapped[Customer] = relationship()
    technician: Mapped[StaffUser | None] = relationship(foreign_keys=[technician_id])
    entered_by: Mapped[StaffUser | None] = relationship(foreign_keys=[entered_by_id])

    @property
    def scores(self) -> dict[str, int | None]:
        return {name: getattr(self, name) for name in DIMENSIONS}

    @property
    def average(self) -> float | None:
        values = [v for v in self.scores.values() if v is not None]
        return sum(values) / len(values) if values else None

    @property
    def is_answered(self) -> bool:
        return self.answered_at is not None

    def __str__(self) -> str:
        return f"#{self.id} {self.status.label}"
