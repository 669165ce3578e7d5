"""Customers, their devices and repair orders (HB §2.1.2; the workflow arrives with issue #4)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, relationship

from repairqc.accounts.models import StaffUser
from repairqc.crypto import EncryptedString
from repairqc.db import TenantBase, utcnow
from repairqc.models_base import LabelledEnum, Timestamped, Versioned, enum_column, enum_labels, field
from repairqc.standards.models import StandardVersion
from repairqc.stores.models import Store


class ContactChannel(LabelledEnum):
    PHONE = "phone"
    SMS = "sms"
    EMAIL = "email"
    WECHAT = "wechat"


class DeviceCategory(LabelledEnum):
    SMARTPHONE = "smartphone"
    LAPTOP = "laptop"
    TABLET = "tablet"
    OTHER = "other"


class RepairOrderStatus(LabelledEnum):
    """The states of design.md §4; the transitions between them come with the workflow."""

    RECEIVED = "received"
    DIAGNOSING = "diagnosing"
    QUOTED = "quoted"
    APPROVED = "approved"
    IN_REPAIR = "in_repair"
    QC = "qc"
    READY = "ready"
    DELIVERED = "delivered"
    CLOSED = "closed"
    DECLINED = "declined"
    CANCELLED = "cancelled"


enum_labels(
    {
        ContactChannel.PHONE: _l("Phone"),
        ContactChannel.SMS: _l("SMS"),
        ContactChannel.EMAIL: _l("E-mail"),
        ContactChannel.WECHAT: _l("WeChat"),
        DeviceCategory.SMARTPHONE: _l("Smartphone"),
        DeviceCategory.LAPTOP: _l("Laptop"),
        DeviceCategory.TABLET: _l("Tablet"),
        DeviceCategory.OTHER: _l("Other"),
        RepairOrderStatus.RECEIVED: _l("Received"),
        RepairOrderStatus.DIAGNOSING: _l("Diagnosing"),
        RepairOrderStatus.QUOTED: _l("Quoted"),
        RepairOrderStatus.APPROVED: _l("Approved"),
        RepairOrderStatus.IN_REPAIR: _l("In repair"),
        RepairOrderStatus.QC: _l("Quality check"),
        RepairOrderStatus.READY: _l("Ready for pick-up"),
        RepairOrderStatus.DELIVERED: _l("Delivered"),
        RepairOrderStatus.CLOSED: _l("Closed"),
        RepairOrderStatus.DECLINED: _l("Declined"),
        RepairOrderStatus.CANCELLED: _l("Cancelled"),
    }
)


class StoreOwned:
    """Rows that belong to one store: store users see only their stores' rows."""

    @classmethod
    def store_scope(cls, store_ids: set[int]) -> sa.ColumnElement[bool]:
        return cls.store_id.in_(store_ids)


class Customer(StoreOwned, Timestamped, Versioned, TenantBase):
    """The customer profile kept for every customer (HB §6.2.2(3))."""

    __tablename__ = "customers"
    __label__ = _l("Customer")
    __label_plural__ = _l("Customers")
    __chapter__ = "ch2"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(
        _l("Store"), sa.ForeignKey("stores.id"), index=True, help=_l("The store that registered the customer")
    )
    full_name: Mapped[str] = field(_l("Full name"), sa.String(200))
    phone: Mapped[str | None] = field(_l("Phone"), sa.String(40), index=True)
    email: Mapped[str | None] = field(_l("Email"), sa.String(254))
    preferred_channel: Mapped[ContactChannel] = field(
        _l("Preferred channel"), enum_column(ContactChannel), default=ContactChannel.PHONE
    )
    notes: Mapped[str | None] = field(_l("Notes"), sa.Text)

    store: Mapped[Store] = relationship()
    devices: Mapped[list[Device]] = relationship(back_populates="customer")

    def __str__(self) -> str:
        return f"{self.full_name} ({self.phone or self.email or self.id})"


class Device(StoreOwned, Timestamped, Versioned, TenantBase):
    """A customer's device as received: identity, condition and accessories (HB §2.1.2(1))."""

    __tablename__ = "devices"
    __label__ = _l("Device")
    __label_plural__ = _l("Devices")
    __chapter__ = "ch2"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(_l("Store"), sa.ForeignKey("stores.id"), index=True)
    customer_id: Mapped[int] = field(_l("Customer"), sa.ForeignKey("customers.id"), index=True)
    category: Mapped[DeviceCategory] = field(_l("Category"), enum_column(DeviceCategory))
    brand: Mapped[str] = field(_l("Brand"), sa.String(80))
    model: Mapped[str] = field(_l("Model"), sa.String(120))
    serial_number: Mapped[str | None] = field(_l("Serial number / IMEI"), sa.String(64), index=True)
    condition_at_intake: Mapped[str | None] = field(
        _l("Condition at intake"), sa.Text, help=_l("Scratches, dents, cracks, missing screws...")
    )
    accessories: Mapped[str | None] = field(_l("Accessories"), sa.Text, help=_l("Case, charger, SIM card..."))
    #: Held encrypted (HB §6.1.2 customer privacy, §7.3.1(2) encryption).
    passcode: Mapped[str | None] = field(
        _l("Passcode"), EncryptedString(), secret=True, help=_l("Stored encrypted")
    )

    store: Mapped[Store] = relationship()
    customer: Mapped[Customer] = relationship(back_populates="devices")

    def __str__(self) -> str:
        return f"{self.brand} {self.model} ({self.serial_number or self.id})"


class RepairOrder(StoreOwned, Timestamped, Versioned, TenantBase):
    __tablename__ = "repair_orders"
    __label__ = _l("Repair order")
    __label_plural__ = _l("Repair orders")
    __chapter__ = "ch2"
    __table_args__ = (sa.Index("ix_repair_orders_store_status", "store_id", "status"),)

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(_l("Store"), sa.ForeignKey("stores.id"), index=True)
    customer_id: Mapped[int] = field(_l("Customer"), sa.ForeignKey("customers.id"), index=True)
    device_id: Mapped[int] = field(_l("Device"), sa.ForeignKey("devices.id"), index=True)
    #: Changed only by the workflow's single transition method, never by a form.
    status: Mapped[RepairOrderStatus] = field(
        _l("Status"),
        enum_column(RepairOrderStatus),
        default=RepairOrderStatus.RECEIVED,
        info={"readonly": True},
    )
    fault_symptoms: Mapped[str] = field(
        _l("Fault symptoms"), sa.Text, help=_l("As the customer describes them (HB §2.1.2(1))")
    )
    customer_requirements: Mapped[str | None] = field(_l("Customer requirements"), sa.Text)
    received_by_id: Mapped[int | None] = field(_l("Received by"), sa.ForeignKey("staff_users.id"))
    technician_id: Mapped[int | None] = field(_l("Technician"), sa.ForeignKey("staff_users.id"), index=True)
    received_at: Mapped[datetime] = field(_l("Received at"), default=utcnow)
    promised_at: Mapped[datetime | None] = field(_l("Promised for"))
    closed_at: Mapped[datetime | None] = field(_l("Closed at"), info={"readonly": True})

    store: Mapped[Store] = relationship()
    customer: Mapped[Customer] = relationship()
    device: Mapped[Device] = relationship()
    received_by: Mapped[StaffUser | None] = relationship(foreign_keys=[received_by_id])
    technician: Mapped[StaffUser | None] = relationship(foreign_keys=[technician_id])

    @property
    def number(self) -> str:
        """The order number customers quote on the phone."""
        return f"RO{self.id:06d}"

    def __str__(self) -> str:
        return self.number


class QCCheckStatus(LabelledEnum):
    IN_PROGRESS = "in_progress"
    PASSED = "passed"
    FAILED = "failed"


enum_labels({
    QCCheckStatus.IN_PROGRESS: _l("In progress"),
    QCCheckStatus.PASSED: _l("Passed"),
    QCCheckStatus.FAILED: _l("Failed"),
})  # fmt: skip


class QCCheck(StoreOwned, Timestamped, Versioned, TenantBase):
    """The post-repair quality check of an order (HB §5.1.3(5), §5.2.2).

    It keeps the standard version whose checklist it was begun with (HB §2.1.1 traceability):
    a version published later, or taking effect mid-check, does not change a check under way.
    Created only by `repairs.services.begin_qc_check`, never by an admin form.
    """

    __tablename__ = "qc_checks"
    __label__ = _l("QC check")
    __label_plural__ = _l("QC checks")
    __chapter__ = "ch2"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(_l("Store"), sa.ForeignKey("stores.id"), index=True)
    repair_order_id: Mapped[int] = field(
        _l("Repair order"), sa.ForeignKey("repair_orders.id"), index=True, info={"readonly": True}
    )
    standard_version_id: Mapped[int] = field(
        _l("Standard version"), sa.ForeignKey("standard_versions.id"), info={"readonly": True}
    )
    category: Mapped[str] = field(_l("Device category"), sa.String(40), info={"readonly": True})
    inspector_id: Mapped[int] = field(
        _l("Checked by"), sa.ForeignKey("staff_users.id"), info={"readonly": True}
    )
    status: Mapped[QCCheckStatus] = field(
        _l("Status"), enum_column(QCCheckStatus), default=QCCheckStatus.IN_PROGRESS, info={"readonly": True}
    )
    started_at: Mapped[datetime] = field(_l("Started at"), default=utcnow, info={"readonly": True})
    finished_at: Mapped[datetime | None] = field(_l("Finished at"), info={"readonly": True})

    store: Mapped[Store] = relationship()
    repair_order: Mapped[RepairOrder] = relationship()
    standard_version: Mapped[StandardVersion] = relationship()
    inspector: Mapped[StaffUser] = relationship()
    results: Mapped[list[QCCheckResult]] = relationship(
        back_populates="check", order_by="QCCheckResult.position", cascade="all, delete-orphan"
    )

    def __str__(self) -> str:
        # Only own columns: admin messages print rows after their session has closed.
        return f"QC #{self.id} (RO{self.repair_order_id:06d})"


class QCCheckResult(StoreOwned, TenantBase):
    """One checklist item of a QC check, as the standard version defined it, and its outcome."""

    __tablename__ = "qc_check_results"
    __label__ = _l("QC check result")
    __label_plural__ = _l("QC check results")
    __chapter__ = "ch2"
    __table_args__ = (sa.UniqueConstraint("check_id", "item_code"),)

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(_l("Store"), sa.ForeignKey("stores.id"), index=True)
    check_id: Mapped[int] = field(_l("QC check"), sa.ForeignKey("qc_checks.id"), index=True)
    position: Mapped[int] = field(_l("Order"))
    item_code: Mapped[str] = field(_l("Item"), sa.String(40))
    #: The item's text in both languages, copied from the version so the result reads alone.
    item_text: Mapped[dict[str, str]] = field(_l("Check"), sa.JSON)
    kind: Mapped[str] = field(_l("Kind"), sa.String(20))
    critical: Mapped[bool] = field(_l("Critical"), default=False)
    passed: Mapped[bool | None] = field(_l("Passed"))
    measured_value: Mapped[float | None] = field(_l("Measured value"))
    note: Mapped[str | None] = field(_l("Note"), sa.Text)

    store: Mapped[Store] = relationship()
    check: Mapped[QCCheck] = relationship(back_populates="results")

    def __str__(self) -> str:
        return self.item_code
