"""The job that sends a customer message written by `notifications.services.queue_message`."""

from __future__ import annotations

import sqlalchemy as sa

from repairqc.db import db
from repairqc.jobs import job
from repairqc.notifications.models import CustomerMessage, MessageStatus
from repairqc.notifications.services import deliver


@job(queue="emails", timeout=60, retries=2)
def deliver_customer_message(message_id: int) -> str | None:
    """Send the message if it is still pending; the row is locked so that two workers handed the
    same id (a retry racing a manual re-run) send it once."""
    message = db.session.execute(
        sa.select(CustomerMessage).where(CustomerMessage.id == message_id).with_for_update()
    ).scalar_one_or_none()
    if message is None or message.status is not MessageStatus.PENDING:
        return None
    deliver(message)
    return message.status.value
