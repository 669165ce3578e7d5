"""Jobs of the repairs domain: telling the customer what happened to their device (HB §6.2.2).

Each message goes through `notifications.services`: written once per event on the customer's
profile (a retried job or a second delivery of the same event finds the row and sends nothing),
in the customer's language, by e-mail or text message as `channel_for` decides.
"""

from __future__ import annotations

from repairqc.db import db
from repairqc.jobs import job
from repairqc.notifications.models import MessageStatus
from repairqc.notifications.services import MessageContent, deliver, record_message, render_content
from repairqc.repairs.models import RepairOrder, RepairStatusEvent
from repairqc.tenants.services import tenant_url


def _tell(order: RepairOrder, event_key: str, purpose: str, content: MessageContent) -> str | None:
    """Record and send now (inside the job's unit of work): the address it went to, or None when
    it was told already or the customer has no e-mail or texting number (the store calls)."""
    message, created = record_message(
        order.customer, event_key=event_key, purpose=purpose, content=content, store=order.store
    )
    if not created or message.status is not MessageStatus.PENDING:
        return None
    recipient = message.recipient
    deliver(message)
    return recipient


@job(queue="emails", timeout=60, retries=2)
def notify_customer(order_id: int, event_id: int | None) -> str | None:
    """Tell the customer the order's news with a fresh tracking link, in their language, by
    e-mail or text message. `event_id` names the move announced; None a revised quote."""
    from repairqc.repairs.services import current_quote, tracking_token

    order = db.session.get(RepairOrder, order_id)
    if order is None:
        return None
    event = db.session.get(RepairStatusEvent, event_id) if event_id is not None else None
    quote = current_quote(order)
    if event is not None:
        event_key = f"order:{order.id}:event:{event.id}"
    else:
        event_key = f"order:{order.id}:quote:{quote.id if quote else 0}:{quote.revision if quote else 0}"
    link = tenant_url(f"/track/{tracking_token(order)}")
    content = render_content(
        "repairs/messages/status", order.customer, order=order, event=event, link=link, quote=quote
    )
    return _tell(order, event_key, "status", content)


@job(queue="emails", timeout=60, retries=2)
def send_intake_receipt(order_id: int) -> str | None:
    """Send the intake receipt with the tracking link (HB §2.1.2(1))."""
    from repairqc.repairs.services import tracking_token

    order = db.session.get(RepairOrder, order_id)
    if order is None:
        return None
    link = tenant_url(f"/track/{tracking_token(order)}")
    content = render_content("repairs/messages/receipt", order.customer, order=order, link=link)
    return _tell(order, f"order:{order.id}:receipt", "receipt", content)
