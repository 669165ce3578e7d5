"""Jobs of the repairs domain: telling the customer what happened to their device (HB §6.2.2)."""

from __future__ import annotations

from flask import render_template
from flask_babel import force_locale

from repairqc.db import db
from repairqc.i18n import normalise_locale
from repairqc.jobs import job
from repairqc.mail import send_mail
from repairqc.repairs.models import ContactChannel, RepairOrder, RepairStatusEvent
from repairqc.sms import send_sms, sms_enabled
from repairqc.tenants.services import tenant_url


def _channels(customer) -> tuple[bool, bool]:
    """(by e-mail, by text message) for this customer (HB §6.2.2 several channels).

    The preferred channel wins when it can be used; a customer with only a phone number gets a
    text message when the provider has a gateway configured.
    """
    texting = bool(customer.phone) and sms_enabled()
    if customer.preferred_channel is ContactChannel.SMS and texting:
        return False, True
    return bool(customer.email), texting and not customer.email


@job(queue="emails", timeout=60, retries=2)
def notify_customer(order_id: int, event_id: int | None) -> str | None:
    """Tell the customer the order's news with a fresh tracking link, in their language, by
    e-mail or text message. `event_id` names the move announced; None a revised quote."""
    from repairqc.repairs.services import current_quote, tracking_token

    order = db.session.get(RepairOrder, order_id)
    if order is None:
        return None
    by_mail, by_text = _channels(order.customer)
    if not (by_mail or by_text):
        return None  # the order page shows the store has to call
    event = db.session.get(RepairStatusEvent, event_id) if event_id is not None else None
    link = tenant_url(f"/track/{tracking_token(order)}")
    context = {"order": order, "event": event, "link": link, "quote": current_quote(order)}
    with force_locale(normalise_locale(order.customer.language) or "en"):
        if by_text:
            send_sms(order.customer.phone, render_template("repairs/sms/status.txt", **context).strip())
            return order.customer.phone
        subject = render_template("repairs/mail/status_subject.txt", **context).strip()
        body = render_template("repairs/mail/status.txt", **context)
    send_mail(order.customer.email, subject, body)
    return order.customer.email


@job(queue="emails", timeout=60, retries=2)
def send_intake_receipt(order_id: int) -> str | None:
    """Mail the intake receipt with the tracking link (HB §2.1.2(1))."""
    from repairqc.repairs.services import tracking_token

    order = db.session.get(RepairOrder, order_id)
    if order is None or not order.customer.email:
        return None
    link = tenant_url(f"/track/{tracking_token(order)}")
    with force_locale(normalise_locale(order.customer.language) or "en"):
        subject = render_template("repairs/mail/receipt_subject.txt", order=order).strip()
        body = render_template("repairs/mail/receipt.txt", order=order, link=link)
    send_mail(order.customer.email, subject, body)
    return order.customer.email
