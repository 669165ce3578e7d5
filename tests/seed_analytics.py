"""Known orders for the analytics tests: a small dataset whose statistics, correlations and
Pareto counts the tests compute by hand, and weekly history built with Core bulk inserts.

The small dataset (one store, March 2024; days from receiving to delivery, parts at 100.00 each,
price charged):

    A  smartphone  parts-replacement  1 day   1 part          150.00
    B  smartphone  parts-replacement  2 days  3 used, 1 back  250.00   came back (D)
    C  laptop      software           4 days  no parts         80.00
    D  smartphone  board-repair       5 days  1 part         (warranty rework of B, free)
    E  smartphone  parts-replacement  received, not delivered
    F  smartphone  (not diagnosed)    received, not delivered
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from repairqc.db import db
from repairqc.repairs.models import (
    Customer,
    Device,
    Part,
    RepairOrder,
    RepairOrderStatus,
    StockMovement,
    StockReason,
)
from repairqc.reports.services import Period

MARCH_2024 = Period(date(2024, 3, 1), date(2024, 3, 31))
PART_PRICE_CENTS = 10000


def at(day: int, month: int = 3, year: int = 2024) -> datetime:
    return datetime(year, month, day, 9, 0, tzinfo=UTC)


@dataclass
class Dataset:
    store_id: int
    orders: dict[str, RepairOrder] = field(default_factory=dict)


def build_dataset(store_id: int, prefix: str = "AN") -> Dataset:
    part = db.session.execute(sa.select(Part).where(Part.sku == "AN-PART")).scalar()
    if part is None:
        part = Part(sku="AN-PART", name="Analytics part", unit_price_cents=PART_PRICE_CENTS)
        db.session.add(part)
    customer = Customer(store_id=store_id, full_name=f"Analytics customer {prefix}")
    phone = Device(store_id=store_id, customer=customer, category="smartphone", brand="Brand", model="P1")
    laptop = Device(store_id=store_id, customer=customer, category="laptop", brand="Brand", model="L1")
    db.session.add_all([customer, phone, laptop])
    dataset = Dataset(store_id)

    def order(key, device, received, delivered=None, repair_type=None, due=0, rework_of=None, moves=()):
        o = RepairOrder(
            store_id=store_id,
            number=f"{prefix}-{key}",
            customer=customer,
            device=device,
            fault_symptoms="Analytics fault",
            status=RepairOrderStatus.DELIVERED if delivered else RepairOrderStatus.RECEIVED,
            received_at=received,
            delivered_at=delivered,
            repair_type=repair_type,
            amount_due_cents=due,
            rework_of=rework_of,
        )
        db.session.add(o)
        for change, reason in moves:
            db.session.add(
                StockMovement(
                    store_id=store_id, part=part, order=o, change=change, reason=reason, at=received
                )
            )
        dataset.orders[key] = o
        return o

    used, back = StockReason.CONSUMPTION, StockReason.RETURN
    order("A", phone, at(1), at(2), "parts-replacement", 15000, moves=[(-1, used)])
    b = order("B", phone, at(3), at(5), "parts-replacement", 25000, moves=[(-3, used), (1, back)])
    order("C", laptop, at(5), at(9), "software", 8000)
    order("D", phone, at(10), at(15), "board-repair", 0, rework_of=b, moves=[(-1, used)])
    order("E", phone, at(20), None, "parts-replacement")
    order("F", phone, at(21))
    db.session.flush()
    return dataset


def bulk_weekly_orders(store_id: int, weekly_counts: list[int], first_monday: date, prefix: str) -> None:
    """`weekly_counts[i]` orders received on the Wednesday of week i (Core inserts: fast)."""
    customer = Customer(store_id=store_id, full_name=f"Weekly customer {prefix}")
    device = Device(store_id=store_id, customer=customer, category="smartphone", brand="B", model="W")
    db.session.add_all([customer, device])
    db.session.flush()
    rows = []
    for week, count in enumerate(weekly_counts):
        day = datetime.combine(first_monday + timedelta(weeks=week, days=2), datetime.min.time(), tzinfo=UTC)
        for n in range(count):
            rows.append(
                {
                    "store_id": store_id,
                    "number": f"{prefix}-{week}-{n}",
                    "customer_id": customer.id,
                    "device_id": device.id,
                    # Core inserts bypass `_copy_device_facts`: the facts it would copy.
                    "device_category": device.category,
                    "device_brand": device.brand,
                    "device_model": device.model,
                    "status": RepairOrderStatus.RECEIVED,
                    "status_changed_at": day,
                    "fault_symptoms": "Weekly",
                    "received_at": day + timedelta(minutes=n),
                    "tracking_nonce": f"{prefix}{week:04d}{n:04d}".ljust(32, "0")[:32],
                }
            )
    if rows:
        db.session.execute(sa.insert(RepairOrder), rows)
