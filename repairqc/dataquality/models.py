"""Data quality (HB §7.1.2 "clean: de-duplicate, de-noise, remove anomalies").

* `DuplicateDismissal`: a pair of customers someone judged *not* to be the same person, so the
  duplicate finder stops proposing it.
* `CustomerMerge`: the record of one merge (who, when, which customer survived, what the merged
  customer looked like and how many rows moved). The merged customer row itself is deleted, so
  the search keys (phone/e-mail hashes) find only the survivor; this record and the audit log
  keep the history.
* `DataAnomaly`: a figure of a repair order far outside what is usual for its device category,
  or an order stuck in one state far longer than usual, waiting for a person's review.

Statuses move only through `dataquality.services`; every column is read-only in the generated
admin.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, relationship

from repairqc.accounts.models import StaffUser
from repairqc.db import TenantBase, utcnow
from repairqc.models_base import LabelledEnum, StoreOwned, Versioned, enum_column, enum_labels, field
from repairqc.repairs.models import Customer, RepairOrder, RepairOrderStatus
from repairqc.stores.models import Store

NOTE_MAX = 2000


class DuplicateDismissal(TenantBase):
    """ "These two customers are different people": the pair is not proposed again.

    The pair is stored lowest id first, so (a, b) and (b, a) are one row.
    """

    __tablename__ = "duplicate_dismissals"
    __label__ = _l("Not-a-duplicate decision")
    __label_plural__ = _l("Not-a-duplicate decisions")
    __chapter__ = "ch7"
    __table_args__ = (
        sa.UniqueConstraint("customer_id", "other_customer_id"),
        sa.CheckConstraint("customer_id < other_customer_id", name="pair_ordered"),
    )

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    #: Deleted with either customer (a merge deletes them itself, so the audit log has it).
    customer_id: Mapped[int] = field(
        _l("Customer"), sa.ForeignKey("customers.id", ondelete="CASCADE"), info={"readonly": True}
    )
    other_customer_id: Mapped[int] = field(
        _l("Other customer"),
        sa.ForeignKey("customers.id", ondelete="CASCADE"),
        index=True,
        info={"readonly": True},
    )
    decided_by_id: Mapped[int | None] = field(
        _l("Decided by"), sa.ForeignKey("staff_users.id"), info={"readonly": True}
    )
    decided_at: Mapped[datetime] = field(_l("Decided at"), default=utcnow, info={"readonly": True})
    note: Mapped[str | None] = field(_l("Note"), sa.Text, info={"readonly": True})

    customer: Mapped[Customer] = relationship(foreign_keys=[customer_id])
    other_customer: Mapped[Customer] = relationship(foreign_keys=[other_customer_id])
    decided_by: Mapped[StaffUser | None] = relationship()

    @classmethod
    def store_scope(cls, store_ids: set[int]) -> sa.ColumnElement[bool]:
        # A decision concerns two customers: it is the stores' of both, never half of it.
        in_stores = sa.select(Customer.id).where(Customer.store_id.in_(store_ids))
        return sa.and_(cls.customer_id.in_(in_stores), cls.other_customer_id.in_(in_stores))

    def __str__(self) -> str:
        return f"#{self.customer_id} ≠ #{self.other_customer_id}"


class CustomerMerge(StoreOwned, TenantBase):
    """One merge of a duplicate customer into the one kept (HB §7.1.2 de-duplication).

    Ids are plain integers, not foreign keys: the merged customer no longer exists, and the
    survivor may itself be merged later; the record must stay as it was written.
    """

    __tablename__ = "customer_merges"
    __label__ = _l("Customer merge")
    __label_plural__ = _l("Customer merges")
    __chapter__ = "ch7"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    #: The survivor's store at the time of the merge: who may read the record.
    store_id: Mapped[int] = field(
        _l("Store"), sa.ForeignKey("stores.id"), index=True, info={"readonly": True}
    )
    survivor_id: Mapped[int] = field(_l("Customer kept"), index=True, info={"readonly": True})
    merged_id: Mapped[int] = field(_l("Customer merged"), index=True, info={"readonly": True})
    merged_store_id: Mapped[int] = field(_l("Store of the merged customer"), info={"readonly": True})
    #: The merged customer's fields that are not secret (name, language, channel, dates);
    #: encrypted values are not copied here (HB §7.3.1(2)).
    merged_snapshot: Mapped[dict[str, Any]] = field(
        _l("Merged customer"), sa.JSON, default=dict, info={"readonly": True}
    )
    #: Which customer's value was kept, per field: {"phone": "merged", "full_name": "survivor"}.
    field_choices: Mapped[dict[str, str]] = field(
        _l("Values kept"), sa.JSON, default=dict, info={"readonly": True}
    )
    #: Rows moved to the survivor, per table and column: {"repair_orders.customer_id": 3}.
    moved_counts: Mapped[dict[str, int]] = field(
        _l("Records moved"), sa.JSON, default=dict, info={"readonly": True}
    )
    merged_by_id: Mapped[int | None] = field(
        _l("Merged by"), sa.ForeignKey("staff_users.id"), info={"readonly": True}
    )
    merged_at: Mapped[datetime] = field(_l("Merged at"), default=utcnow, index=True, info={"readonly": True})

    store: Mapped[Store] = relationship()
    merged_by: Mapped[StaffUser | None] = relationship()

    def __str__(self) -> str:
        return f"#{self.merged_id} → #{self.survivor_id}"


class AnomalyKind(LabelledEnum):
    OUTLIER = "outlier"
    STUCK = "stuck"


class AnomalyMetric(LabelledEnum):
    """What was measured. Money in cents, times in hours (see `services` for the definitions)."""

    PARTS_COST = "parts_cost"
    PRICE = "price"
    DURATION = "duration"
    TIME_IN_STATE = "time_in_state"

    @property
    def is_money(self) -> bool:
        return self in (AnomalyMetric.PARTS_COST, AnomalyMetric.PRICE)


class AnomalyStatus(LabelledEnum):
    OPEN = "open"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"
    #: A stuck order that moved on before anyone reviewed the flag (set by the scan).
    RESOLVED = "resolved"


enum_labels({AnomalyKind.OUTLIER: _l("Unusual figure"), AnomalyKind.STUCK: _l("Stuck order")})
enum_labels(
    {
        AnomalyMetric.PARTS_COST: _l("Parts cost"),
        AnomalyMetric.PRICE: _l("Price charged"),
        AnomalyMetric.DURATION: _l("Repair duration"),
        AnomalyMetric.TIME_IN_STATE: _l("Time in the current state"),
    }
)
enum_labels(
    {
        AnomalyStatus.OPEN: _l("To review"),
        AnomalyStatus.CONFIRMED: _l("Confirmed"),
        AnomalyStatus.DISMISSED: _l("Dismissed"),
        AnomalyStatus.RESOLVED: _l("Resolved by itself"),
    }
)


class DataAnomaly(StoreOwned, Versioned, TenantBase):
    """A figure of an order flagged for review (HB §7.1.2 "remove anomalies").

    `basis` says what exactly was judged, so a rescan finds the flag it already made (the unique
    constraint) and a reviewed flag is never raised again: empty for the figures of a delivered
    order (they no longer change), "<state>@<since>" for a stuck order (stuck again later, in
    another state or after moving on, is a new flag).
    """

    __tablename__ = "data_anomalies"
    __label__ = _l("Data anomaly")
    __label_plural__ = _l("Data anomalies")
    __chapter__ = "ch7"
    __table_args__ = (
        sa.UniqueConstraint("order_id", "kind", "metric", "basis"),
        sa.Index("ix_data_anomalies_status_store", "status", "store_id"),
    )

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(
        _l("Store"), sa.ForeignKey("stores.id"), index=True, info={"readonly": True}
    )
    order_id: Mapped[int] = field(
        _l("Repair order"), sa.ForeignKey("repair_orders.id"), index=True, info={"readonly": True}
    )
    kind: Mapped[AnomalyKind] = field(_l("Kind"), enum_column(AnomalyKind), info={"readonly": True})
    metric: Mapped[AnomalyMetric] = field(_l("Measure"), enum_column(AnomalyMetric), info={"readonly": True})
    basis: Mapped[str] = field(_l("Basis"), sa.String(80), default="", info={"readonly": True})
    #: The device category the order was compared within (outliers).
    category: Mapped[str | None] = field(_l("Device category"), sa.String(40), info={"readonly": True})
    #: The state the order is stuck in (stuck orders).
    order_status: Mapped[RepairOrderStatus | None] = field(
        _l("State"), enum_column(RepairOrderStatus), info={"readonly": True}
    )
    value: Mapped[float] = field(_l("Value"), sa.Float, info={"readonly": True})
    expected_low: Mapped[float | None] = field(_l("Expected from"), sa.Float, info={"readonly": True})
    expected_high: Mapped[float] = field(_l("Expected up to"), sa.Float, info={"readonly": True})
    sample_size: Mapped[int] = field(
        _l("Orders compared"),
        info={"readonly": True},
        help=_l("How many past orders the expected range is based on"),
    )
    detected_at: Mapped[datetime] = field(
        _l("Detected at"), default=utcnow, index=True, info={"readonly": True}
    )
    status: Mapped[AnomalyStatus] = field(
        _l("Status"), enum_column(AnomalyStatus), default=AnomalyStatus.OPEN, info={"readonly": True}
    )
    reviewed_by_id: Mapped[int | None] = field(
        _l("Reviewed by"), sa.ForeignKey("staff_users.id"), info={"readonly": True}
    )
    reviewed_at: Mapped[datetime | None] = field(_l("Reviewed at"), info={"readonly": True})
    note: Mapped[str | None] = field(_l("Review note"), sa.Text, info={"readonly": True})

    store: Mapped[Store] = relationship()
    order: Mapped[RepairOrder] = relationship()
    reviewed_by: Mapped[StaffUser | None] = relationship()

    def __str__(self) -> str:
        return f"{self.metric.label} #{self.order_id}"
