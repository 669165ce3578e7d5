"""The jobs that send customer messages written by `notifications.services.queue_message`: one per
message after its unit of work commits, and a periodic safety net for messages whose job was lost."""

from __future__ import annotations

import logging
from datetime import timedelta

import sqlalchemy as sa

from repairqc.db import db
from repairqc.jobs import job
from repairqc.jobs.periodic import run_moment
from repairqc.notifications.models import CustomerMessage, MessageStatus
from repairqc.notifications.services import deliver

logger = logging.getLogger(__name__)


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


#: A message still pending this long after it was written lost its job (see below).
STALE_AFTER = timedelta(hours=1)
#: Messages sent per run of the safety net at most (the next run sends the rest).
SWEEP_BATCH = 200


@job(queue="emails", timeout=600)
def deliver_pending_messages(today_iso: str, now_iso: str | None = None) -> list[int]:
    """The safety net of "never not sent": a message still pending `STALE_AFTER` after it was
    written lost its sending job (the queue was down when the unit of work committed, or every
    retry failed). Each is sent here, locked (others' locks skipped, so a late retry and this run
    never both send it) and in a savepoint: one that fails again stays pending for the next run
    and does not stop the others. `today_iso` as every periodic job; `now_iso` for tests."""
    now = run_moment(today_iso, now_iso)
    pending = db.session.scalars(
        sa.select(CustomerMessage)
        .where(
            CustomerMessage.status == MessageStatus.PENDING, CustomerMessage.created_at <= now - STALE_AFTER
        )
        .order_by(CustomerMessage.created_at, CustomerMessage.id)
        .limit(SWEEP_BATCH)
        .with_for_update(skip_locked=True)
    ).all()
    sent = []
    for message in pending:
        message_id = message.id
        try:
            with db.session.begin_nested():
                if deliver(message):
                    sent.append(message_id)
        except Exception:
            logger.exception("customer message %s could not be sent; retried next run", message_id)
    return sent
