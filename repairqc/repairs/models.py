"""Customers, devices, repair orders and the records of each step of the workflow (HB ch.2).

Rows here change through `repairs.services`; the generated admin lets HQ and the stores read
and export them and correct a few descriptive fields, never a status or an amount.
Money is kept in integer minor units (cents, fen): exact, and the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, relationship, validates
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from repairqc.accounts.models import StaffUser
from repairqc.crypto import EncryptedString, lookup_hash, normalise_email, normalise_phone
from repairqc.db import TenantBase, TenantSession, utcnow
from repairqc.errors import DomainError
from repairqc.files.models import StoredFile
from repairqc.models_base import (
    LabelledEnum,
    StoreOwned,
    Timestamped,
    Versioned,
    enum_column,
    enum_labels,
    field,
)
from repairqc.standards.models import StandardVersion
from repairqc.stores.models import Store


class ContactChannel(LabelledEnum):
    PHONE = "phone"
    SMS = "sms"
    EMAIL = "email"
    WECHAT = "wechat"


class RepairOrderStatus(LabelledEnum):
    """The states of design.md §4; `repairs.workflow` holds the moves between them."""

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

    @property
    def is_open(self) -> bool:
        """The device is still in the store's hands."""
        return self not in {RepairOrderStatus.DELIVERED, RepairOrderStatus.CLOSED,
                            RepairOrderStatus.DECLINED, RepairOrderStatus.CANCELLED}  # fmt: skip


class OrderHold(LabelledEnum):
    """Why an open order is paused without leaving its state."""

    WAITING_FOR_PARTS = "waiting_for_parts"
    WAITING_FOR_CUSTOMER = "waiting_for_customer"


class QuoteStatus(LabelledEnum):
    DRAFT = "draft"
    SENT = "sent"
    APPROVED = "approved"
    DECLINED = "declined"
    SUPERSEDED = "superseded"


class QuoteLineKind(LabelledEnum):
    PART = "part"
    LABOUR = "labour"
    OTHER = "other"


class DecisionMethod(LabelledEnum):
    """How a customer's decision on a quote reached us (HB §2.1.2(3))."""

    ONLINE = "online"
    IN_STORE = "in_store"
    PHONE = "phone"
    #: A revision that costs no more than the approved one stands on that approval.
    WITHIN_APPROVAL = "within_approval"
    #: A warranty rework at no charge needs no approval.
    WARRANTY = "warranty"


class StockReason(LabelledEnum):
    RECEIPT = "receipt"
    CONSUMPTION = "consumption"
    RETURN = "return"
    ADJUSTMENT = "adjustment"


class PhotoStage(LabelledEnum):
    INTAKE = "intake"
    REPAIR = "repair"
    QC = "qc"
    DELIVERY = "delivery"


class SignaturePurpose(LabelledEnum):
    INTAKE_TERMS = "intake_terms"
    QUOTE_APPROVAL = "quote_approval"
    ACCEPTANCE = "acceptance"


class PaymentMethod(LabelledEnum):
    CASH = "cash"
    CARD = "card"
    MOBILE = "mobile"
    TRANSFER = "transfer"
    OTHER = "other"


# One call per enum: members of different enums with the same value are equal, so one dict
# holding both would keep only one of them.
enum_labels({
    ContactChannel.PHONE: _l("Phone"),
    ContactChannel.SMS: _l("SMS"),
    ContactChannel.EMAIL: _l("E-mail"),
    ContactChannel.WECHAT: _l("WeChat"),
})  # fmt: skip
enum_labels({
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
})  # fmt: skip
enum_labels({
    OrderHold.WAITING_FOR_PARTS: _l("Waiting for parts"),
    OrderHold.WAITING_FOR_CUSTOMER: _l("Waiting for the customer"),
})  # fmt: skip
enum_labels({
    QuoteStatus.DRAFT: _l("Draft"),
    QuoteStatus.SENT: _l("Sent to the customer"),
    QuoteStatus.APPROVED: _l("Approved"),
    QuoteStatus.DECLINED: _l("Declined"),
    QuoteStatus.SUPERSEDED: _l("Superseded"),
})  # fmt: skip
enum_labels({
    QuoteLineKind.PART: _l("Part"),
    QuoteLineKind.LABOUR: _l("Labour"),
    QuoteLineKind.OTHER: _l("Other"),
})  # fmt: skip
enum_labels({
    DecisionMethod.ONLINE: _l("Online"),
    DecisionMethod.IN_STORE: _l("In the store"),
    DecisionMethod.PHONE: _l("By phone"),
    DecisionMethod.WITHIN_APPROVAL: _l("Within the approved amount"),
    DecisionMethod.WARRANTY: _l("Warranty, no charge"),
})  # fmt: skip
enum_labels({
    StockReason.RECEIPT: _l("Received into stock"),
    StockReason.CONSUMPTION: _l("Used on a repair"),
    StockReason.RETURN: _l("Returned to stock"),
    StockReason.ADJUSTMENT: _l("Stock count adjustment"),
})  # fmt: skip
enum_labels({
    PhotoStage.INTAKE: _l("At intake"),
    PhotoStage.REPAIR: _l("During the repair"),
    PhotoStage.QC: _l("At the quality check"),
    PhotoStage.DELIVERY: _l("At delivery"),
})  # fmt: skip
enum_labels({
    SignaturePurpose.INTAKE_TERMS: _l("Terms of service at intake"),
    SignaturePurpose.QUOTE_APPROVAL: _l("Quote approval"),
    SignaturePurpose.ACCEPTANCE: _l("Acceptance at pick-up"),
})  # fmt: skip
enum_labels({
    PaymentMethod.CASH: _l("Cash"),
    PaymentMethod.CARD: _l("Card"),
    PaymentMethod.MOBILE: _l("Mobile payment"),
    PaymentMethod.TRANSFER: _l("Bank transfer"),
    PaymentMethod.OTHER: _l("Other"),
})  # fmt: skip


class Customer(StoreOwned, Timestamped, Versioned, TenantBase):
    """The customer profile kept for every customer (HB §6.2.2(3)).

    Phone, e-mail and address are encrypted at rest (HB §6.1.2, §7.3.1(2)); phone and e-mail
    also keep a keyed hash so the front desk can find a customer by them (`crypto`).
    """

    __tablename__ = "customers"
    __label__ = _l("Customer")
    __label_plural__ = _l("Customers")
    __chapter__ = "ch2"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(
        _l("Store"), sa.ForeignKey("stores.id"), index=True, help=_l("The store that registered the customer")
    )
    full_name: Mapped[str] = field(_l("Full name"), sa.String(200), index=True)
    phone: Mapped[str | None] = field(_l("Phone"), EncryptedString(), help=_l("Stored encrypted"))
    email: Mapped[str | None] = field(_l("Email"), EncryptedString(), help=_l("Stored encrypted"))
    address: Mapped[str | None] = field(_l("Address"), EncryptedString(), help=_l("Stored encrypted"))
    phone_lookup: Mapped[str | None] = field(
        _l("Phone search key"), sa.String(64), index=True, secret=True, info={"readonly": True}
    )
    email_lookup: Mapped[str | None] = field(
        _l("Email search key"), sa.String(64), index=True, secret=True, info={"readonly": True}
    )
    language: Mapped[str] = field(
        _l("Language"), sa.String(16), default="en", server_default="en",
        help=_l("The language of the messages and the tracking page the customer gets"),
    )  # fmt: skip
    preferred_channel: Mapped[ContactChannel] = field(
        _l("Preferred channel"), enum_column(ContactChannel), default=ContactChannel.PHONE
    )
    notes: Mapped[str | None] = field(_l("Notes"), sa.Text)

    store: Mapped[Store] = relationship()
    devices: Mapped[list[Device]] = relationship(back_populates="customer")

    # Every write path (intake, admin form, import) keeps the search keys in step.
    @validates("phone")
    def _index_phone(self, key: str, phone: str | None) -> str | None:
        self.phone_lookup = lookup_hash("phone", normalise_phone(phone or ""))
        return phone or None

    @validates("email")
    def _index_email(self, key: str, email: str | None) -> str | None:
        self.email_lookup = lookup_hash("email", normalise_email(email or ""))
        return email or None

    def __str__(self) -> str:
        return f"{self.full_name} (#{self.id})"


class Device(StoreOwned, Timestamped, Versioned, TenantBase):
    """A customer's device as received: identity, condition and accessories (HB §2.1.2(1))."""

    __tablename__ = "devices"
    __label__ = _l("Device")
    __label_plural__ = _l("Devices")
    __chapter__ = "ch2"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(_l("Store"), sa.ForeignKey("stores.id"), index=True)
    #: Fixed at intake; read-only in the admin (a drop-down of every customer would not scale).
    customer_id: Mapped[int] = field(
        _l("Customer"), sa.ForeignKey("customers.id"), index=True, info={"readonly": True}
    )
    #: A device category code of the tenant's standards (smartphone, laptop, ...).
    category: Mapped[str] = field(_l("Category"), sa.String(40))
    brand: Mapped[str] = field(_l("Brand"), sa.String(80))
    model: Mapped[str] = field(_l("Model"), sa.String(120))
    imei: Mapped[str | None] = field(
        _l("IMEI"), sa.String(15), index=True, help=_l("15 digits, check digit verified")
    )
    serial_number: Mapped[str | None] = field(_l("Serial number"), sa.String(64), index=True)
    #: Codes of `repairs.intake_forms.CONDITION_CHECKS` ticked at intake.
    condition_checks: Mapped[list[str]] = field(_l("Condition checklist"), sa.JSON, default=list)
    condition_at_intake: Mapped[str | None] = field(
        _l("Condition at intake"), sa.Text, help=_l("Scratches, dents, cracks, missing screws...")
    )
    accessories: Mapped[str | None] = field(_l("Accessories"), sa.Text, help=_l("Case, charger, SIM card..."))
    #: Held encrypted, shown only to the assigned technician, purged at delivery (HB §6.1.2).
    passcode: Mapped[str | None] = field(
        _l("Passcode"), EncryptedString(), secret=True, help=_l("Stored encrypted")
    )

    store: Mapped[Store] = relationship()
    customer: Mapped[Customer] = relationship(back_populates="devices")

    def validate(self) -> None:
        """Admin forms: the category must be one of the standards in force, the IMEI valid."""
        from repairqc.db import db, utcnow
        from repairqc.repairs.services import category_codes, check_imei
        from repairqc.standards.services import effective_for_store

        self.imei = check_imei(self.imei)
        # The category decides which certificate a technician needs for the device's orders
        # (HB §5.1.3(1), `services.require_qualified`). Re-checking only the assigned technician
        # would still let a technician relabel a laptop of an unassigned order as a smartphone
        # and then take it, so the category is fixed once an order refers to the device.
        changed = sa.inspect(self).attrs.category.history.deleted
        if self.id is not None and changed and changed[0] != self.category:
            with db.session.no_autoflush:
                ordered = db.session.execute(
                    sa.select(RepairOrder.id).where(RepairOrder.device_id == self.id).limit(1)
                ).first()
            if ordered is not None:
                raise DomainError(
                    _("The category cannot change once the device has a repair order: it decides "
                      "which certificate the technician needs (HB §5.1.3(1))."),
                    field="category",
                )  # fmt: skip
        store = self.store or db.session.get(Store, self.store_id)
        if store is not None and self.category not in category_codes(
            effective_for_store(store, utcnow().date())
        ):
            raise DomainError(
                _("“%(code)s” is not a device category of the standards in force.", code=self.category)
            )

    def __str__(self) -> str:
        return f"{self.brand} {self.model}"


class RepairOrder(StoreOwned, Timestamped, Versioned, TenantBase):
    """One device's way through the store, from intake to warranty (HB §2.1.2)."""

    __tablename__ = "repair_orders"
    __label__ = _l("Repair order")
    __label_plural__ = _l("Repair orders")
    __chapter__ = "ch2"
    __table_args__ = (
        sa.Index("ix_repair_orders_store_status", "store_id", "status"),
        # The report's period filters (received in / delivered in the period).
        sa.Index("ix_repair_orders_received_at", "received_at"),
        # The analytics' weekly series (HB §7.2): index-only scans, store from the index.
        sa.Index("ix_repair_orders_received_store", "received_at", "store_id"),
        # Orders delivered in a period: the report's filter and, on PostgreSQL, everything the
        # analytics reads of them (`analytics.services.delivered_select`, the weekly cost series)
        # from the index alone. The period is about a third of the table, and the heap rows are
        # wide (texts, the tracking key): reading them cost ~0.4 s of the page at 1M orders.
        sa.Index(
            "ix_repair_orders_delivered_facts",
            "delivered_at",
            "store_id",
            postgresql_include=[
                "id",
                "received_at",
                "technician_id",
                "repair_type",
                "device_category",
                "device_brand",
                "device_model",
                "parts_cost_cents",
                "parts_units",
                "amount_due_cents",
                "rework_of_id",
                "reworked_at",
            ],
        ),
        sa.UniqueConstraint("store_id", "number"),
    )

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(_l("Store"), sa.ForeignKey("stores.id"), index=True)
    #: Per store and human-readable ("FF-N01-000042"); assigned once at intake.
    number: Mapped[str] = field(_l("Order number"), sa.String(40), info={"readonly": True})
    # Fixed at intake; read-only in the admin (a drop-down of every customer would not scale).
    customer_id: Mapped[int] = field(
        _l("Customer"), sa.ForeignKey("customers.id"), index=True, info={"readonly": True}
    )
    device_id: Mapped[int] = field(
        _l("Device"), sa.ForeignKey("devices.id"), index=True, info={"readonly": True}
    )
    #: Changed only by `repairs.workflow.transition`, never by a form.
    status: Mapped[RepairOrderStatus] = field(
        _l("Status"),
        enum_column(RepairOrderStatus),
        default=RepairOrderStatus.RECEIVED,
        info={"readonly": True},
    )
    status_changed_at: Mapped[datetime] = field(_l("Status since"), default=utcnow, info={"readonly": True})
    hold: Mapped[OrderHold | None] = field(_l("On hold"), enum_column(OrderHold), info={"readonly": True})
    hold_note: Mapped[str | None] = field(_l("Hold note"), sa.Text, info={"readonly": True})
    fault_symptoms: Mapped[str] = field(
        _l("Fault symptoms"), sa.Text, help=_l("As the customer describes them (HB §2.1.2(1))")
    )
    customer_requirements: Mapped[str | None] = field(_l("Customer requirements"), sa.Text)
    received_by_id: Mapped[int | None] = field(
        _l("Received by"), sa.ForeignKey("staff_users.id"), info={"readonly": True}
    )
    #: Set only by `repairs.services.assign_technician` / taking the order (the store manager
    #: assigns, and only someone certified for the device's category): read-only in the admin.
    technician_id: Mapped[int | None] = field(
        _l("Technician"), sa.ForeignKey("staff_users.id"), index=True, info={"readonly": True}
    )
    #: The standards version in force at intake: the one its targets were taken from.
    standard_version_id: Mapped[int | None] = field(
        _l("Standard version"), sa.ForeignKey("standard_versions.id"), info={"readonly": True}
    )
    received_at: Mapped[datetime] = field(_l("Received at"), default=utcnow, info={"readonly": True})
    diagnosis_due_at: Mapped[datetime | None] = field(_l("Diagnosis due"), info={"readonly": True})
    promised_at: Mapped[datetime | None] = field(_l("Promised for"), info={"readonly": True})
    # Diagnosis (HB §2.1.2(2)).
    diagnosis: Mapped[str | None] = field(_l("Cause found"), sa.Text, info={"readonly": True})
    repair_plan: Mapped[str | None] = field(_l("Repair plan"), sa.Text, info={"readonly": True})
    repair_type: Mapped[str | None] = field(_l("Repair type"), sa.String(40), info={"readonly": True})
    diagnosis_minutes: Mapped[int | None] = field(_l("Diagnosis time (minutes)"), info={"readonly": True})
    diagnosed_at: Mapped[datetime | None] = field(_l("Diagnosed at"), info={"readonly": True})
    # Acceptance, delivery and warranty (HB §2.1.2(5)-(6)).
    customer_confirmed_fixed: Mapped[bool] = field(
        _l("Customer confirmed the fault is solved"), default=False, info={"readonly": True}
    )
    amount_due_cents: Mapped[int] = field(_l("Amount due (cents)"), default=0, info={"readonly": True})
    delivered_at: Mapped[datetime | None] = field(_l("Delivered at"), info={"readonly": True})
    warranty_days: Mapped[int | None] = field(_l("Warranty (days)"), info={"readonly": True})
    warranty_until: Mapped[date | None] = field(_l("Warranty until"), info={"readonly": True})
    rework_of_id: Mapped[int | None] = field(
        _l("Warranty rework of"), sa.ForeignKey("repair_orders.id"), index=True, info={"readonly": True}
    )
    closed_at: Mapped[datetime | None] = field(_l("Closed at"), info={"readonly": True})
    # Quality facts the cross-store report counts over a million orders (HB §5.2.2): kept on the
    # order by `_keep_quality_facts` so the report scans orders instead of probing two other
    # tables per order.
    qc_failed_at: Mapped[datetime | None] = field(_l("First failed QC at"), info={"readonly": True})
    reworked_at: Mapped[datetime | None] = field(_l("Came back under warranty at"), info={"readonly": True})
    # The parts used on the order, for the analytics over a million orders (HB §7.2): kept by
    # `_keep_parts_facts` from its stock movements (used minus returned), each valued at the
    # part's list price when the movement was recorded, so a later price change does not
    # rewrite the cost of past repairs.
    parts_units: Mapped[int] = field(
        _l("Parts used"), default=0, server_default="0", info={"readonly": True},
        help=_l("Parts taken for the repair minus parts returned to stock."),
    )  # fmt: skip
    parts_cost_cents: Mapped[int] = field(
        _l("Parts cost (cents)"), default=0, server_default="0", info={"readonly": True},
        help=_l("The parts used at their list price when they were taken."),
    )  # fmt: skip
    # The device's category, brand and model, copied from it by `_copy_device_facts` (and again
    # when the device record is corrected): the analytics group a million orders by them, and
    # the join to `devices` for it read the whole devices table (~0.8 s at 1M orders).
    device_category: Mapped[str | None] = field(_l("Device category"), sa.String(40), info={"readonly": True})
    device_brand: Mapped[str | None] = field(_l("Device brand"), sa.String(80), info={"readonly": True})
    device_model: Mapped[str | None] = field(_l("Device model"), sa.String(120), info={"readonly": True})
    #: Part of every tracking link; replacing it revokes the links already sent.
    tracking_nonce: Mapped[str] = field(
        _l("Tracking key"),
        sa.String(32),
        default=lambda: secrets.token_hex(16),
        secret=True,
        info={"readonly": True},
    )

    store: Mapped[Store] = relationship()
    customer: Mapped[Customer] = relationship()
    device: Mapped[Device] = relationship()
    received_by: Mapped[StaffUser | None] = relationship(foreign_keys=[received_by_id])
    technician: Mapped[StaffUser | None] = relationship(foreign_keys=[technician_id])
    standard_version: Mapped[StandardVersion | None] = relationship()
    rework_of: Mapped[RepairOrder | None] = relationship(remote_side=[id])
    events: Mapped[list[RepairStatusEvent]] = relationship(
        back_populates="order", order_by="RepairStatusEvent.id", cascade="all, delete-orphan"
    )
    quotes: Mapped[list[Quote]] = relationship(
        back_populates="order", order_by="Quote.revision", cascade="all, delete-orphan"
    )

    @property
    def is_rework(self) -> bool:
        return self.rework_of_id is not None

    def __str__(self) -> str:
        return self.number


class RepairStatusEvent(StoreOwned, TenantBase):
    """One move of an order: who, when, from, to, why (HB §2.1.1 traceability)."""

    __tablename__ = "repair_status_events"
    __label__ = _l("Status change")
    __label_plural__ = _l("Status changes")
    __chapter__ = "ch2"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(_l("Store"), sa.ForeignKey("stores.id"), index=True)
    order_id: Mapped[int] = field(_l("Repair order"), sa.ForeignKey("repair_orders.id"), index=True)
    from_status: Mapped[RepairOrderStatus | None] = field(_l("From"), enum_column(RepairOrderStatus))
    to_status: Mapped[RepairOrderStatus] = field(_l("To"), enum_column(RepairOrderStatus))
    #: Staff member, or None when the customer (tracking page) or the system moved it.
    actor_id: Mapped[int | None] = field(_l("By"), sa.ForeignKey("staff_users.id"))
    actor_name: Mapped[str] = field(_l("By (name)"), sa.String(200))
    at: Mapped[datetime] = field(_l("At"), default=utcnow)
    reason: Mapped[str | None] = field(_l("Reason"), sa.Text)
    #: Structured detail, e.g. the failed QC items, for screens and reports.
    details: Mapped[dict[str, Any] | None] = field(_l("Details"), sa.JSON)

    store: Mapped[Store] = relationship()
    order: Mapped[RepairOrder] = relationship(back_populates="events")
    actor: Mapped[StaffUser | None] = relationship()

    def __str__(self) -> str:
        return f"{self.from_status or '-'} → {self.to_status}"


class Quote(StoreOwned, Timestamped, TenantBase):
    """One revision of an order's itemised quote (HB §2.1.2(3)); revisions are never edited once sent."""

    __tablename__ = "quotes"
    __label__ = _l("Quote")
    __label_plural__ = _l("Quotes")
    __chapter__ = "ch2"
    __table_args__ = (sa.UniqueConstraint("order_id", "revision"),)

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(_l("Store"), sa.ForeignKey("stores.id"), index=True)
    order_id: Mapped[int] = field(_l("Repair order"), sa.ForeignKey("repair_orders.id"), index=True)
    revision: Mapped[int] = field(_l("Revision"))
    status: Mapped[QuoteStatus] = field(_l("Status"), enum_column(QuoteStatus), default=QuoteStatus.DRAFT)
    created_by_id: Mapped[int | None] = field(_l("Prepared by"), sa.ForeignKey("staff_users.id"))
    subtotal_cents: Mapped[int] = field(_l("Subtotal (cents)"), default=0)
    tax_cents: Mapped[int] = field(_l("Tax (cents)"), default=0)
    total_cents: Mapped[int] = field(_l("Total (cents)"), default=0)
    sent_at: Mapped[datetime | None] = field(_l("Sent at"))
    valid_until: Mapped[date | None] = field(_l("Valid until"))
    decided_at: Mapped[datetime | None] = field(_l("Decided at"))
    decision_method: Mapped[DecisionMethod | None] = field(_l("Decided"), enum_column(DecisionMethod))
    decided_by_name: Mapped[str | None] = field(
        _l("Decided by"), sa.String(200), help=_l("The customer's name as they gave it")
    )
    recorded_by_id: Mapped[int | None] = field(
        _l("Recorded by"),
        sa.ForeignKey("staff_users.id"),
        help=_l("The member of staff who took the decision"),
    )
    decline_reason: Mapped[str | None] = field(_l("Reason for declining"), sa.Text)

    store: Mapped[Store] = relationship()
    order: Mapped[RepairOrder] = relationship(back_populates="quotes")
    created_by: Mapped[StaffUser | None] = relationship(foreign_keys=[created_by_id])
    recorded_by: Mapped[StaffUser | None] = relationship(foreign_keys=[recorded_by_id])
    lines: Mapped[list[QuoteLine]] = relationship(
        back_populates="quote", order_by="QuoteLine.position", cascade="all, delete-orphan"
    )

    def __str__(self) -> str:
        return f"Q{self.order_id}/{self.revision}"


class QuoteLine(StoreOwned, TenantBase):
    __tablename__ = "quote_lines"
    __label__ = _l("Quote line")
    __label_plural__ = _l("Quote lines")
    __chapter__ = "ch2"
    __table_args__ = (
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint("unit_price_cents >= 0", name="price_not_negative"),
        sa.CheckConstraint("tax_rate_bp >= 0 AND tax_rate_bp <= 10000", name="tax_rate_range"),
    )

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(_l("Store"), sa.ForeignKey("stores.id"), index=True)
    quote_id: Mapped[int] = field(_l("Quote"), sa.ForeignKey("quotes.id"), index=True)
    position: Mapped[int] = field(_l("#"))
    kind: Mapped[QuoteLineKind] = field(_l("Kind"), enum_column(QuoteLineKind))
    part_id: Mapped[int | None] = field(_l("Part"), sa.ForeignKey("parts.id"))
    description: Mapped[str] = field(_l("Description"), sa.String(300))
    quantity: Mapped[int] = field(_l("Quantity"))
    unit_price_cents: Mapped[int] = field(_l("Unit price (cents)"))
    #: Basis points: 1300 is 13 %.
    tax_rate_bp: Mapped[int] = field(_l("Tax rate (1/100 %)"), default=0)
    total_cents: Mapped[int] = field(_l("Line total with tax (cents)"))

    store: Mapped[Store] = relationship()
    quote: Mapped[Quote] = relationship(back_populates="lines")
    part: Mapped[Part | None] = relationship()

    def __str__(self) -> str:
        return self.description


class Part(Timestamped, Versioned, TenantBase):
    """A spare part of the provider's catalogue; each store keeps its own stock of it."""

    __tablename__ = "parts"
    __label__ = _l("Part")
    __label_plural__ = _l("Parts")
    __chapter__ = "ch2"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    sku: Mapped[str] = field(_l("SKU"), sa.String(60), unique=True)
    name: Mapped[str] = field(_l("Name"), sa.String(200))
    category: Mapped[str | None] = field(
        _l("Device category"), sa.String(40), help=_l("Empty if it fits every category")
    )
    unit_price_cents: Mapped[int] = field(_l("List price (cents)"), default=0)
    is_active: Mapped[bool] = field(_l("Active"), default=True)

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"


class StockLevel(StoreOwned, Timestamped, Versioned, TenantBase):
    """How many of a part one store holds; changed by repairs and counted by the store."""

    __tablename__ = "stock_levels"
    __label__ = _l("Stock level")
    __label_plural__ = _l("Stock levels")
    __chapter__ = "ch2"
    __table_args__ = (
        sa.UniqueConstraint("store_id", "part_id"),
        sa.CheckConstraint("quantity >= 0", name="quantity_not_negative"),
    )

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(_l("Store"), sa.ForeignKey("stores.id"), index=True)
    part_id: Mapped[int] = field(_l("Part"), sa.ForeignKey("parts.id"), index=True)
    quantity: Mapped[int] = field(_l("On hand"), default=0)
    reorder_level: Mapped[int] = field(_l("Reorder at"), default=0)

    store: Mapped[Store] = relationship()
    part: Mapped[Part] = relationship()

    def __str__(self) -> str:
        return f"{self.part_id}: {self.quantity}"


class StockMovement(StoreOwned, TenantBase):
    """Every change of a store's stock, with its reason (HB §7.1.1 parts used)."""

    __tablename__ = "stock_movements"
    __label__ = _l("Stock movement")
    __label_plural__ = _l("Stock movements")
    __chapter__ = "ch2"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(_l("Store"), sa.ForeignKey("stores.id"), index=True)
    part_id: Mapped[int] = field(_l("Part"), sa.ForeignKey("parts.id"), index=True)
    order_id: Mapped[int | None] = field(_l("Repair order"), sa.ForeignKey("repair_orders.id"), index=True)
    change: Mapped[int] = field(_l("Change"), help=_l("Negative when parts leave the stock"))
    reason: Mapped[StockReason] = field(_l("Reason"), enum_column(StockReason))
    actor_id: Mapped[int | None] = field(_l("By"), sa.ForeignKey("staff_users.id"))
    at: Mapped[datetime] = field(_l("At"), default=utcnow)
    note: Mapped[str | None] = field(_l("Note"), sa.Text)

    store: Mapped[Store] = relationship()
    part: Mapped[Part] = relationship()
    order: Mapped[RepairOrder | None] = relationship()
    actor: Mapped[StaffUser | None] = relationship()

    def __str__(self) -> str:
        return f"{self.change:+d}"


class WorkLog(StoreOwned, TenantBase):
    """A step of the repair: who, how long, what, with which equipment (HB §2.1.2(4))."""

    __tablename__ = "work_logs"
    __label__ = _l("Work log")
    __label_plural__ = _l("Work logs")
    __chapter__ = "ch2"
    __table_args__ = (sa.CheckConstraint("minutes > 0", name="minutes_positive"),)

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(_l("Store"), sa.ForeignKey("stores.id"), index=True)
    order_id: Mapped[int] = field(_l("Repair order"), sa.ForeignKey("repair_orders.id"), index=True)
    technician_id: Mapped[int] = field(_l("Technician"), sa.ForeignKey("staff_users.id"), index=True)
    step: Mapped[str] = field(_l("Step"), sa.Text)
    minutes: Mapped[int] = field(_l("Minutes"))
    equipment: Mapped[str | None] = field(_l("Equipment used"), sa.String(300))
    at: Mapped[datetime] = field(_l("At"), default=utcnow)

    store: Mapped[Store] = relationship()
    order: Mapped[RepairOrder] = relationship()
    technician: Mapped[StaffUser] = relationship()
    #: Items of the store's equipment register used for this step (HB §5.1.3(2): only items in
    #: service and calibrated, checked by `services.log_work`); `equipment` is free text, kept
    #: for logs written before the register existed.
    equipment_items: Mapped[list[EquipmentItem]] = relationship(  # noqa: F821
        secondary=lambda: _work_log_equipment(), order_by="EquipmentItem.asset_tag"
    )

    def __str__(self) -> str:
        return f"{self.minutes} min"


def _work_log_equipment() -> sa.Table:
    """The association table of the equipment domain (which imports this module)."""
    from repairqc.equipment.models import work_log_equipment

    return work_log_equipment


class OrderPhoto(StoreOwned, TenantBase):
    """A photo of the device at one step (intake condition, QC evidence, delivery)."""

    __tablename__ = "order_photos"
    __label__ = _l("Order photo")
    __label_plural__ = _l("Order photos")
    __chapter__ = "ch2"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(_l("Store"), sa.ForeignKey("stores.id"), index=True)
    order_id: Mapped[int] = field(_l("Repair order"), sa.ForeignKey("repair_orders.id"), index=True)
    file_id: Mapped[int] = field(_l("File"), sa.ForeignKey("stored_files.id"))
    stage: Mapped[PhotoStage] = field(_l("Stage"), enum_column(PhotoStage))
    qc_result_id: Mapped[int | None] = field(_l("QC item"), sa.ForeignKey("qc_check_results.id"))
    caption: Mapped[str | None] = field(_l("Caption"), sa.String(300))
    taken_by_id: Mapped[int | None] = field(_l("By"), sa.ForeignKey("staff_users.id"))
    at: Mapped[datetime] = field(_l("At"), default=utcnow)

    store: Mapped[Store] = relationship()
    order: Mapped[RepairOrder] = relationship()
    file: Mapped[StoredFile] = relationship()

    def __str__(self) -> str:
        return f"{self.stage} #{self.id}"


class Signature(StoreOwned, TenantBase):
    """A customer's signature drawn in the browser, kept as a PNG (HB §2.1.2(1), (5))."""

    __tablename__ = "signatures"
    __label__ = _l("Signature")
    __label_plural__ = _l("Signatures")
    __chapter__ = "ch2"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(_l("Store"), sa.ForeignKey("stores.id"), index=True)
    order_id: Mapped[int] = field(_l("Repair order"), sa.ForeignKey("repair_orders.id"), index=True)
    purpose: Mapped[SignaturePurpose] = field(_l("Purpose"), enum_column(SignaturePurpose))
    file_id: Mapped[int] = field(_l("Image"), sa.ForeignKey("stored_files.id"))
    signer_name: Mapped[str] = field(_l("Signed by"), sa.String(200))
    signed_at: Mapped[datetime] = field(_l("Signed at"), default=utcnow)

    store: Mapped[Store] = relationship()
    order: Mapped[RepairOrder] = relationship()
    file: Mapped[StoredFile] = relationship()

    def __str__(self) -> str:
        return f"{self.purpose} {self.signer_name}"


class Payment(StoreOwned, TenantBase):
    __tablename__ = "payments"
    __label__ = _l("Payment")
    __label_plural__ = _l("Payments")
    __chapter__ = "ch2"
    __table_args__ = (sa.CheckConstraint("amount_cents >= 0", name="amount_not_negative"),)

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(_l("Store"), sa.ForeignKey("stores.id"), index=True)
    order_id: Mapped[int] = field(_l("Repair order"), sa.ForeignKey("repair_orders.id"), index=True)
    amount_cents: Mapped[int] = field(_l("Amount (cents)"))
    method: Mapped[PaymentMethod] = field(_l("Method"), enum_column(PaymentMethod))
    reference: Mapped[str | None] = field(_l("Reference"), sa.String(120))
    received_by_id: Mapped[int | None] = field(_l("Received by"), sa.ForeignKey("staff_users.id"))
    at: Mapped[datetime] = field(_l("At"), default=utcnow)

    store: Mapped[Store] = relationship()
    order: Mapped[RepairOrder] = relationship()

    def __str__(self) -> str:
        return f"{self.amount_cents / 100:.2f}"


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
    #: A measured item's unit and tolerance, copied from the version like the text.
    unit: Mapped[str | None] = field(_l("Unit"), sa.String(20))
    min_value: Mapped[float | None] = field(_l("Lower limit"))
    max_value: Mapped[float | None] = field(_l("Upper limit"))
    passed: Mapped[bool | None] = field(_l("Passed"))
    measured_value: Mapped[float | None] = field(_l("Measured value"))
    note: Mapped[str | None] = field(_l("Note"), sa.Text)

    store: Mapped[Store] = relationship()
    check: Mapped[QCCheck] = relationship(back_populates="results")

    def __str__(self) -> str:
        return self.item_code


@sa.event.listens_for(TenantSession, "before_flush")
def _keep_quality_facts(session, flush_context, instances) -> None:
    """Stamp an order's first failed QC check and its first warranty rework on the order itself,
    whatever code path writes them (workflow services, admin, tests)."""
    for obj in (*session.new, *session.dirty):
        if isinstance(obj, QCCheck) and obj.status is QCCheckStatus.FAILED:
            order = obj.repair_order or session.get(RepairOrder, obj.repair_order_id)
            if order is not None and order.qc_failed_at is None:
                order.qc_failed_at = obj.finished_at or utcnow()
        elif isinstance(obj, RepairOrder) and obj in session.new and (obj.rework_of or obj.rework_of_id):
            original = obj.rework_of or session.get(RepairOrder, obj.rework_of_id)
            if original is not None and original.reworked_at is None:
                original.reworked_at = obj.received_at or utcnow()


#: Stock movements that count as parts used on an order: a return cancels a use.
PARTS_USED_REASONS = (StockReason.CONSUMPTION, StockReason.RETURN)
_PENDING_PARTS = "repairqc_pending_parts_facts"


def _parts_contribution(session, movement: StockMovement, *, before: bool) -> tuple[Any, int, int] | None:
    """(order or order id, units, cents) that `movement` adds to its order's parts facts, as it
    is now or (`before`) as it is stored; None when it is not a part used on an order."""
    state = sa.inspect(movement)

    def current(relation: str, key: str) -> Any:
        # A relationship just set wins over its key column (a new order has no id yet).
        if state.attrs[relation].history.added:
            return getattr(movement, relation)
        return getattr(movement, key)

    if before:
        # The row as stored: attribute history lacks the old value of an expired attribute.
        m = StockMovement
        stored = session.connection().execute(
            sa.select(m.reason, m.change, m.order_id, m.part_id).where(m.id == movement.id)
        )
        reason, change, target, part = stored.one_or_none() or (None, 0, None, None)
    else:
        reason, change = movement.reason, movement.change
        target, part = current("order", "order_id"), current("part", "part_id")
    if reason not in PARTS_USED_REASONS or target is None or not change:
        return None
    if not isinstance(part, Part):
        part = session.get(Part, part) if part is not None else None
    units = -int(change)
    return target, units, units * (part.unit_price_cents if part is not None else 0)


@sa.event.listens_for(TenantSession, "before_flush")
def _collect_parts_facts(session, flush_context, instances) -> None:
    """Note what the flush's stock movements add to (or, edited or deleted, take from) their
    orders' parts facts. Read here, while every row can still be loaded; written after the flush
    (`_keep_parts_facts`), when new orders and movements have their ids."""
    changes = []
    for movement in session.new:
        if isinstance(movement, StockMovement):
            changes.append((1, _parts_contribution(session, movement, before=False)))
    for movement in session.dirty:
        if isinstance(movement, StockMovement) and session.is_modified(movement):
            changes.append((-1, _parts_contribution(session, movement, before=True)))
            changes.append((1, _parts_contribution(session, movement, before=False)))
    for movement in session.deleted:
        if isinstance(movement, StockMovement):
            changes.append((-1, _parts_contribution(session, movement, before=True)))
    changes = [(sign, found) for sign, found in changes if found is not None]
    if changes:
        session.info.setdefault(_PENDING_PARTS, []).extend(changes)


@sa.event.listens_for(TenantSession, "after_flush")
def _keep_parts_facts(session, flush_context) -> None:
    """Add the noted changes to the orders with one increment each: no read-modify-write, so two
    technicians taking parts for the same order at once both count, and the order's version (the
    forms' optimistic lock) does not change under a page that shows it."""
    changes = session.info.pop(_PENDING_PARTS, None)
    if not changes:
        return
    deltas: dict[int, list[int]] = {}
    for sign, (target, units, cents) in changes:
        order_id = target.id if isinstance(target, RepairOrder) else target
        delta = deltas.setdefault(order_id, [0, 0])
        delta[0] += sign * units
        delta[1] += sign * cents
    table = RepairOrder.__table__
    for order_id, (units, cents) in deltas.items():
        if not units and not cents:
            continue
        statement = (
            sa.update(table)
            .where(table.c.id == order_id)
            .values(
                parts_units=table.c.parts_units + units, parts_cost_cents=table.c.parts_cost_cents + cents
            )
            .returning(table.c.parts_units, table.c.parts_cost_cents)
        )
        row = session.connection().execute(statement).one_or_none()
        order = session.identity_map.get(identity_key(RepairOrder, order_id))
        if row is not None and order is not None:
            set_committed_value(order, "parts_units", row.parts_units)
            set_committed_value(order, "parts_cost_cents", row.parts_cost_cents)


#: The device's columns each order copies (`RepairOrder.device_category` etc.).
DEVICE_FACTS = {"category": "device_category", "brand": "device_brand", "model": "device_model"}
_PENDING_DEVICE_FACTS = "repairqc_pending_device_facts"


@sa.event.listens_for(TenantSession, "before_flush")
def _copy_device_facts(session, flush_context, instances) -> None:
    """Give a new order (or one moved to another device) its device's category, brand and model;
    note the devices whose record was corrected, for `_spread_device_facts`."""
    corrected = []
    for obj in (*session.new, *session.dirty):
        if isinstance(obj, RepairOrder):
            state = sa.inspect(obj)
            moved = state.attrs.device.history.added or state.attrs.device_id.history.has_changes()
            if obj in session.new or moved:
                device = obj.device if state.attrs.device.history.added else None
                if device is None and obj.device_id is not None:
                    device = session.get(Device, obj.device_id)
                if device is not None:
                    for source, target in DEVICE_FACTS.items():
                        setattr(obj, target, getattr(device, source))
        elif isinstance(obj, Device) and obj not in session.new:
            state = sa.inspect(obj)
            if any(state.attrs[source].history.has_changes() for source in DEVICE_FACTS):
                corrected.append(obj)
    if corrected:
        session.info.setdefault(_PENDING_DEVICE_FACTS, []).extend(corrected)


@sa.event.listens_for(TenantSession, "after_flush")
def _spread_device_facts(session, flush_context) -> None:
    """Copy a corrected device's category, brand and model to its orders with one UPDATE (the
    orders' version, the forms' optimistic lock, is left alone: no one edited the order)."""
    table = RepairOrder.__table__
    for device in session.info.pop(_PENDING_DEVICE_FACTS, ()):
        values = {target: getattr(device, source) for source, target in DEVICE_FACTS.items()}
        session.connection().execute(sa.update(table).where(table.c.device_id == device.id).values(**values))
        for order in list(session.identity_map.values()):
            # Only orders already loaded with the device id (no load from inside the flush).
            if isinstance(order, RepairOrder) and sa.inspect(order).dict.get("device_id") == device.id:
                for target, value in values.items():
                    set_committed_value(order, target, value)
