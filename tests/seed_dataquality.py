"""Sentinel rows of the data-quality domain for the two session tenants (tests/conftest.py).

Per store, one row more per extra row (beta has ids alpha lacks):

* reviewed (dismissed) anomaly flags on the store's first order, so the isolation probes find a
  store's flags and never another's; their basis starts with "seed", so the anomaly tests, which
  look at what a scan flags, leave them aside;
* "not a duplicate" decisions between the store's first customer and its next ones (never
  across stores: the duplicates tests work on the pair of the two stores' first customers);
* merge records naming the store's first customer as kept and a customer id that never existed.

No customer is added: other domains count them.
"""

from __future__ import annotations

import sqlalchemy as sa

from repairqc.dataquality.models import (
    AnomalyKind,
    AnomalyMetric,
    AnomalyStatus,
    CustomerMerge,
    DataAnomaly,
    DuplicateDismissal,
)
from repairqc.db import db, utcnow
from repairqc.repairs.models import Customer, RepairOrder

SEED_BASIS = "seed"
#: Merged customer ids of the seeded merge records: far above any real customer's.
FAKE_MERGED_ID = 1_000_000


def seed(s: str, store_ids: dict[str, int], extra_rows: int) -> None:
    now = utcnow()
    for name, store_id in store_ids.items():
        order_id = db.session.scalar(
            sa.select(RepairOrder.id)
            .where(RepairOrder.store_id == store_id)
            .order_by(RepairOrder.id)
            .limit(1)
        )
        db.session.add_all(
            DataAnomaly(
                store_id=store_id,
                order_id=order_id,
                kind=AnomalyKind.OUTLIER,
                metric=AnomalyMetric.PRICE,
                basis=f"{SEED_BASIS}-{n}",
                category=f"{s}-{name}",
                value=1.0,
                expected_low=2.0,
                expected_high=3.0,
                sample_size=20,
                detected_at=now,
                status=AnomalyStatus.DISMISSED,
                reviewed_at=now,
                note=f"Flag {s}-{name}",
            )
            for n in range(1 + extra_rows)
        )
        customers = db.session.scalars(
            sa.select(Customer.id).where(Customer.store_id == store_id).order_by(Customer.id)
        ).all()
        db.session.add_all(
            DuplicateDismissal(
                customer_id=customers[0],
                other_customer_id=other,
                decided_at=now,
                note=f"Different {s}-{name}",
            )
            for other in customers[1 : 2 + extra_rows]
        )
        db.session.add_all(
            CustomerMerge(
                store_id=store_id,
                survivor_id=customers[0],
                merged_id=FAKE_MERGED_ID + 100 * store_id + n,
                merged_store_id=store_id,
                merged_snapshot={"full_name": f"Merged {s}-{name}"},
                field_choices={},
                moved_counts={},
                merged_at=now,
            )
            for n in range(1 + extra_rows)
        )
    db.session.flush()
