"""Telling a customer something, once, in their language, on the channel they can receive
(HB §6.2.2 proactive communication and several channels).

Callers describe the event and the words; this module picks the channel, writes the
`CustomerMessage` row (the customer profile's log) and has it sent after the caller's unit of
work commits:

    content = render_content("feedback/messages/survey", customer, survey=survey, link=link)
    queue_message(customer, event_key=f"survey:{survey.id}:invitation", purpose="survey",
                  content=content, store=order.store)

An event key names the event, not the attempt: the second call with the same key returns the
first row and sends nothing (a retried job, two schedulers, a double-submitted form). Inside a
job that may send straight away, `record_message` + `deliver` do the same in the job's own unit
of work: if sending fails, the row is rolled back with the job, and the retry writes it again.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import render_template
from flask_babel import force_locale

from repairqc.db import db, on_commit, utcnow
from repairqc.i18n import normalise_locale
from repairqc.mail import send_mail
from repairqc.notifications.models import (
    EVENT_KEY_MAX,
    CustomerMessage,
    MessageChannel,
    MessageStatus,
)
from repairqc.repairs.models import ContactChannel, Customer
from repairqc.sms import send_sms, sms_enabled
from repairqc.stores.models import Store


@dataclass(frozen=True)
class MessageContent:
    """The words of one message, already in the customer's language: a subject and text for an
    e-mail, and a short text for a text message."""

    subject: str
    email_body: str
    sms_body: str


def customer_locale(customer: Customer) -> str:
    return normalise_locale(customer.language) or "en"


def channel_for(customer: Customer) -> MessageChannel | None:
    """The channel to reach `customer` on, or None when the store has to call (HB §6.2.2).

    The preferred channel wins when it can be used; a customer with only a phone number gets a
    text message when an SMS provider is configured (`SMS_BACKEND`)."""
    texting = bool(customer.phone) and sms_enabled()
    if customer.preferred_channel is ContactChannel.SMS and texting:
        return MessageChannel.SMS
    if customer.email:
        return MessageChannel.EMAIL
    return MessageChannel.SMS if texting else None


def render_content(template: str, customer: Customer, **context) -> MessageContent:
    """Render `<template>_subject.txt`, `<template>_email.txt` and `<template>_sms.txt` (Jinja,
    under templates/) in the customer's language, with `customer` in the context."""
    with force_locale(customer_locale(customer)):
        return MessageContent(
            subject=render_template(f"{template}_subject.txt", customer=customer, **context).strip(),
            email_body=render_template(f"{template}_email.txt", customer=customer, **context),
            sms_body=render_template(f"{template}_sms.txt", customer=customer, **context).strip(),
        )


def message_for(event_key: str) -> CustomerMessage | None:
    return db.session.execute(
        sa.select(CustomerMessage).where(CustomerMessage.event_key == event_key)
    ).scalar_one_or_none()


def record_message(
    customer: Customer, *, event_key: str, purpose: str, content: MessageContent, store: Store | None = None
) -> tuple[CustomerMessage, bool]:
    """(the message row for `event_key`, whether it was written now). An existing row is returned
    as it is: the event was told already, or is being told."""
    if len(event_key) > EVENT_KEY_MAX:
        raise ValueError(f"event key longer than {EVENT_KEY_MAX} characters: {event_key!r}")
    existing = message_for(event_key)
    if existing is not None:
        return existing, False
    channel = channel_for(customer)
    message = CustomerMessage(
        store_id=(store.id if store is not None else customer.store_id),
        customer_id=customer.id,
        event_key=event_key,
        purpose=purpose,
        channel=channel,
        recipient={MessageChannel.EMAIL: customer.email, MessageChannel.SMS: customer.phone}.get(channel),
        language=customer_locale(customer),
        subject=content.subject if channel is MessageChannel.EMAIL else None,
        body=content.sms_body if channel is MessageChannel.SMS else content.email_body,
        status=MessageStatus.PENDING if channel is not None else MessageStatus.NO_CHANNEL,
    )
    # A savepoint: two requests racing on one event meet at the unique key, and the loser's
    # unit of work goes on with the winner's row instead of failing.
    try:
        with db.session.begin_nested():
            db.session.add(message)
    except sa.exc.IntegrityError:
        winner = message_for(event_key)
        if winner is None:
            raise
        return winner, False
    return message, True


def queue_message(
    customer: Customer, *, event_key: str, purpose: str, content: MessageContent, store: Store | None = None
) -> CustomerMessage:
    """Write the message for `event_key` (once) and send it after the unit of work commits."""
    from repairqc.jobs import enqueue
    from repairqc.notifications.tasks import deliver_customer_message

    message, created = record_message(
        customer, event_key=event_key, purpose=purpose, content=content, store=store
    )
    if created and message.status is MessageStatus.PENDING:
        db.session.flush()
        message_id = message.id
        on_commit(lambda: enqueue(deliver_customer_message, message_id))
    return message


def deliver(message: CustomerMessage) -> bool:
    """Send a pending message now and mark it sent; False when it was sent already or has no
    channel. A failure raises (the job is retried; its unit of work leaves the row pending)."""
    if message.status is not MessageStatus.PENDING or message.recipient is None:
        return False
    if message.channel is MessageChannel.SMS:
        send_sms(message.recipient, message.body)
    else:
        send_mail(message.recipient, message.subject or "", message.body)
    message.status = MessageStatus.SENT
    message.sent_at = utcnow()
    return True


def messages_of(customer: Customer) -> list[CustomerMessage]:
    """The customer's messages, newest first (the profile's contact history)."""
    return list(
        db.session.scalars(
            sa.select(CustomerMessage)
            .where(CustomerMessage.customer_id == customer.id)
            .order_by(CustomerMessage.created_at.desc(), CustomerMessage.id.desc())
        )
    )
