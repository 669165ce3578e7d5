"""A demo complaint (`repairqc.demo`): a customer phoned about the waiting time an hour ago, so the
complaint list shows a first-contact clock running (HB §9.3.3)."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from repairqc.complaints import services
from repairqc.complaints.models import ComplaintChannel
from repairqc.db import db, utcnow
from repairqc.repairs.models import RepairOrder
from repairqc.stores.models import Store


def seed_demo(stores: dict[str, Store]) -> None:
    downtown = stores["FF-N01"]
    order = (
        db.session.execute(
            sa.select(RepairOrder).where(RepairOrder.store_id == downtown.id).order_by(RepairOrder.id)
        )
        .scalars()
        .first()
    )
    if order is None:
        return
    services.open_complaint(
        store=downtown,
        channel=ComplaintChannel.PHONE,
        category_code="service_quality",
        description="The customer was told two days and has heard nothing since.",
        customer=order.customer,
        order=order,
        received_at=utcnow() - timedelta(hours=1),
    )
