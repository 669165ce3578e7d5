"""Jobs of the repairs domain: telling the customer what happened to their device (HB §6.2.2)."""

from __future__ import annotations

from flask import render_template
from flask_babel import force_locale

from repairqc.db import db
from repairqc.i18n import normalise_locale
from repairqc.jobs import job
from repairqc.mail import send_mail
from repairqc.repairs.models import RepairOrder, RepairStatusEvent
from repairqc.tenants.services import tenant_url


@job(queue="emails", timeout=60, retries=2)
def notify_customer(order_id: int, event_id: int | None) -> str | None:
    """Mail the customer the order's news and a fresh tracking link, in their language.

    `event_id` names the move being announced; None announces a revised quote. Customers with
    no e-mail address are told by the store (the order page shows who has no address).
    """
    from repairqc.repairs.services import current_quote, tracking_token

    order = db.session.get(RepairOrder, order_id)
    if order is None or not order.customer.email:
        return None
    event = db.session.get(RepairStatusEvent, event_id) if event_id is not None else None
    link = tenant_url(f"/track/{tracking_token(order)}")
    with force_locale(normalise_locale(order.customer.language) or "en"):
        context = {"order": order, "event": event, "link": link, "quote": current_quote(order)}
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
