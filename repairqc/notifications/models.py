"""Every message the product sends a customer, kept on the customer's profile (HB §6.2.2).

One row per event (`event_key` is unique): a status change, a survey invitation, a complaint
confirmation, an incident update. The row is written before anything is sent, so a retry, a
second scheduler or a double click finds it and sends nothing twice. What was sent (subject,
text, channel, language) is kept as sent, so the profile shows the customer's words, not a
re-rendering in today's templates.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, relationship

from repairqc.crypto import EncryptedString
from repairqc.db import TenantBase, utcnow
from repairqc.models_base import LabelledEnum, StoreOwned, enum_column, enum_labels, field
from repairqc.repairs.models import Customer
from repairqc.stores.models import Store

#: Longest event key: "<purpose>:<record id>:<what happened>" with room to spare.
EVENT_KEY_MAX = 160


class MessageChannel(LabelledEnum):
    EMAIL = "email"
    SMS = "sms"


class MessageStatus(LabelledEnum):
    PENDING = "pending"  # written, waiting for the job that sends it
    SENT = "sent"
    NO_CHANNEL = "no_channel"  # no e-mail address, and no phone the gateway can text: call instead


enum_labels({MessageChannel.EMAIL: _l("E-mail"), MessageChannel.SMS: _l("Text message")})
enum_labels({
    MessageStatus.PENDING: _l("Waiting to be sent"),
    MessageStatus.SENT: _l("Sent"),
    MessageStatus.NO_CHANNEL: _l("Not sent: no e-mail or text-message contact"),
})  # fmt: skip


class CustomerMessage(StoreOwned, TenantBase):
    """One message to one customer about one event; changed only by `notifications.services`."""

    __tablename__ = "customer_messages"
    __label__ = _l("Customer message")
    __label_plural__ = _l("Customer messages")
    __chapter__ = "ch6"
    __table_args__ = (sa.Index("ix_customer_messages_customer_created", "customer_id", "created_at"),)

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(
        _l("Store"), sa.ForeignKey("stores.id"), index=True, info={"readonly": True}
    )
    customer_id: Mapped[int] = field(_l("Customer"), sa.ForeignKey("customers.id"), info={"readonly": True})
    #: What the message is about, e.g. "survey:42:invitation"; unique, so never sent twice.
    event_key: Mapped[str] = field(
        _l("Event"), sa.String(EVENT_KEY_MAX), unique=True, info={"readonly": True}
    )
    #: A short word for the kind of message ("status", "survey", "complaint", "incident", ...).
    purpose: Mapped[str] = field(_l("Purpose"), sa.String(40), index=True, info={"readonly": True})
    channel: Mapped[MessageChannel | None] = field(
        _l("Channel"), enum_column(MessageChannel), info={"readonly": True}
    )
    recipient: Mapped[str | None] = field(
        _l("Sent to"), EncryptedString(), help=_l("Stored encrypted"), info={"readonly": True}
    )
    language: Mapped[str] = field(_l("Language"), sa.String(16), info={"readonly": True})
    subject: Mapped[str | None] = field(_l("Subject"), sa.String(300), info={"readonly": True})
    body: Mapped[str] = field(_l("Text"), sa.Text, info={"readonly": True})
    status: Mapped[MessageStatus] = field(
        _l("Status"), enum_column(MessageStatus), default=MessageStatus.PENDING, info={"readonly": True}
    )
    created_at: Mapped[datetime] = field(_l("Written at"), default=utcnow, info={"readonly": True})
    sent_at: Mapped[datetime | None] = field(_l("Sent at"), info={"readonly": True})

    store: Mapped[Store] = relationship()
    customer: Mapped[Customer] = relationship()

    def __str__(self) -> str:
        return f"{self.purpose} #{self.id}"
