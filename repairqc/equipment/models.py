"""Equipment and tools (HB ch.4, §5.1.3(2)): the register, procurement, maintenance,
calibration, retirement, and the reminders the daily job has sent.

Statuses and the due dates of an item change only through `equipment.services` (one function
per move; an item's status moves write an `EquipmentEvent`), never through the generated admin
forms: those columns are read-only there. Money is kept in minor units (`*_cents`), as
everywhere in the product (docs/architecture.md, "Money is integer minor units").
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, relationship, validates

from repairqc.accounts.models import StaffUser
from repairqc.db import TenantBase, utcnow
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
from repairqc.stores.models import Store

#: Longest asset tag; tags are unique within the tenant, ignoring case.
ASSET_TAG_MAX = 40
#: Longest item name and serial number (the columns' lengths).
NAME_MAX = 200
SERIAL_NUMBER_MAX = 100


class EquipmentStatus(LabelledEnum):
    IN_SERVICE = "in_service"
    UNDER_MAINTENANCE = "under_maintenance"
    OUT_OF_SERVICE = "out_of_service"
    RETIRED = "retired"


enum_labels({
    EquipmentStatus.IN_SERVICE: _l("In service"),
    EquipmentStatus.UNDER_MAINTENANCE: _l("Under maintenance"),
    EquipmentStatus.OUT_OF_SERVICE: _l("Out of service"),
    EquipmentStatus.RETIRED: _l("Retired"),
})  # fmt: skip

#: work_log_id <-> equipment item: the items used for one step of a repair (HB §2.1.2(4)).
work_log_equipment = sa.Table(
    "work_log_equipment",
    TenantBase.metadata,
    sa.Column("work_log_id", sa.ForeignKey("work_logs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("item_id", sa.ForeignKey("equipment_items.id"), primary_key=True, index=True),
    schema="tenant",
)


class EquipmentItem(StoreOwned, Timestamped, Versioned, TenantBase):
    """One piece of equipment or one tool of a store's register (HB ch.4).

    The last and next maintenance, full inspection and calibration dates are kept by the
    services from the records and the standard's equipment policy (HB §4.2.1, §5.1.3(2)).
    """

    __tablename__ = "equipment_items"
    __label__ = _l("Equipment item")
    __label_plural__ = _l("Equipment register")
    __chapter__ = "ch4"
    __table_args__ = (
        # The database's own guard of `services.check_descriptive`: "AB" and "ab" saved at the
        # same moment cannot both get in. A unique key on lower(asset_tag) kept in a column, not
        # an expression index: SQLite's reflection cannot read those (the migration check would
        # warn), and this one holds the same on both backends.
        sa.UniqueConstraint("asset_tag_key"),
        sa.Index("ix_equipment_items_store_status", "store_id", "status"),
    )

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(
        _l("Store"), sa.ForeignKey("stores.id"), index=True, info={"readonly": True}
    )
    asset_tag: Mapped[str] = field(
        _l("Asset tag"), sa.String(ASSET_TAG_MAX), help=_l("Unique in the provider")
    )
    #: lower(asset_tag), set whenever the tag is (`_keep_asset_tag_key`); unique.
    asset_tag_key: Mapped[str] = field(
        _l("Asset tag"), sa.String(ASSET_TAG_MAX), secret=True, info={"readonly": True}
    )
    #: A code of the standard's equipment policy, checked when the item is registered.
    equipment_type: Mapped[str] = field(_l("Type"), sa.String(40), info={"readonly": True})
    name: Mapped[str] = field(_l("Name"), sa.String(NAME_MAX))
    brand: Mapped[str | None] = field(_l("Brand"), sa.String(100))
    model: Mapped[str | None] = field(_l("Model"), sa.String(100))
    serial_number: Mapped[str | None] = field(_l("Serial number"), sa.String(SERIAL_NUMBER_MAX))
    supplier: Mapped[str | None] = field(_l("Supplier"), sa.String(200))
    purchased_on: Mapped[date | None] = field(_l("Purchase date"))
    price_cents: Mapped[int | None] = field(_l("Purchase price (cents)"))
    status: Mapped[EquipmentStatus] = field(
        _l("Status"),
        enum_column(EquipmentStatus),
        default=EquipmentStatus.IN_SERVICE,
        info={"readonly": True},
    )
    in_service_on: Mapped[date] = field(_l("In service since"), info={"readonly": True})
    last_maintenance_on: Mapped[date | None] = field(_l("Last daily care"), info={"readonly": True})
    next_maintenance_due_on: Mapped[date | None] = field(_l("Daily care due"), info={"readonly": True})
    last_full_inspection_on: Mapped[date | None] = field(_l("Last full inspection"), info={"readonly": True})
    next_full_inspection_due_on: Mapped[date | None] = field(
        _l("Full inspection due"), info={"readonly": True}
    )
    last_calibration_on: Mapped[date | None] = field(_l("Last calibration"), info={"readonly": True})
    next_calibration_due_on: Mapped[date | None] = field(_l("Calibration due"), info={"readonly": True})
    #: When calibration first fell due (in service + the interval); the report reads it for
    #: items calibrated never yet.
    first_calibration_due_on: Mapped[date | None] = field(
        _l("First calibration due"), info={"readonly": True}
    )
    procurement_id: Mapped[int | None] = field(
        _l("Procurement"), sa.ForeignKey("procurement_requests.id"), index=True, info={"readonly": True}
    )
    retired_on: Mapped[date | None] = field(_l("Retired on"), info={"readonly": True})
    notes: Mapped[str | None] = field(_l("Notes"), sa.Text)

    store: Mapped[Store] = relationship()
    events: Mapped[list[EquipmentEvent]] = relationship(
        back_populates="item", order_by="EquipmentEvent.id", cascade="all, delete-orphan"
    )

    @validates("asset_tag")
    def _keep_asset_tag_key(self, _key: str, value: str | None) -> str | None:
        self.asset_tag_key = (value or "").strip().lower()
        return value

    @property
    def label(self) -> str:
        """How messages name the item: asset tag and name."""
        return f"{self.asset_tag} {self.name}"

    def calibration_overdue(self, today: date) -> bool:
        return self.next_calibration_due_on is not None and self.next_calibration_due_on < today

    def validate(self) -> None:
        """Admin forms: what the register screen checks too (asset tag, name, price)."""
        from repairqc.equipment.services import check_descriptive

        check_descriptive(self)

    def __str__(self) -> str:
        return self.label


class EquipmentEvent(StoreOwned, TenantBase):
    """A status move of an item: who, when, from, to, why (the report reads the status an item
    had on a day from these)."""

    __tablename__ = "equipment_events"
    __label__ = _l("Equipment status change")
    __label_plural__ = _l("Equipment status changes")
    __chapter__ = "ch4"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(_l("Store"), sa.ForeignKey("stores.id"), index=True)
    item_id: Mapped[int] = field(_l("Equipment item"), sa.ForeignKey("equipment_items.id"), index=True)
    from_status: Mapped[EquipmentStatus | None] = field(_l("From"), enum_column(EquipmentStatus))
    to_status: Mapped[EquipmentStatus] = field(_l("To"), enum_column(EquipmentStatus))
    actor_id: Mapped[int | None] = field(_l("By"), sa.ForeignKey("staff_users.id"))
    at: Mapped[datetime] = field(_l("At"), default=utcnow)
    comment: Mapped[str | None] = field(_l("Comment"), sa.Text)

    store: Mapped[Store] = relationship()
    item: Mapped[EquipmentItem] = relationship(back_populates="events")
    actor: Mapped[StaffUser | None] = relationship()


class DocumentKind(LabelledEnum):
    MANUAL = "manual"
    INVOICE = "invoice"
    CERTIFICATE = "certificate"
    OTHER = "other"


enum_labels({
    DocumentKind.MANUAL: _l("Manual"),
    DocumentKind.INVOICE: _l("Invoice"),
    DocumentKind.CERTIFICATE: _l("Certificate"),
    DocumentKind.OTHER: _l("Other document"),
})  # fmt: skip


class EquipmentDocument(StoreOwned, TenantBase):
    """A manual, invoice or certificate of an item (a `StoredFile` of the item's store)."""

    __tablename__ = "equipment_documents"
    __label__ = _l("Equipment document")
    __label_plural__ = _l("Equipment documents")
    __chapter__ = "ch4"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(_l("Store"), sa.ForeignKey("stores.id"), index=True)
    item_id: Mapped[int] = field(_l("Equipment item"), sa.ForeignKey("equipment_items.id"), index=True)
    kind: Mapped[DocumentKind] = field(_l("Kind"), enum_column(DocumentKind))
    title: Mapped[str] = field(_l("Title"), sa.String(200))
    file_id: Mapped[int] = field(_l("File"), sa.ForeignKey("stored_files.id"))
    added_by_id: Mapped[int | None] = field(_l("Added by"), sa.ForeignKey("staff_users.id"))
    added_at: Mapped[datetime] = field(_l("Added at"), default=utcnow)

    store: Mapped[Store] = relationship()
    item: Mapped[EquipmentItem] = relationship()
    file: Mapped[StoredFile] = relationship()
    added_by: Mapped[StaffUser | None] = relationship()

    def __str__(self) -> str:
        return self.title


class MaintenanceKind(LabelledEnum):
    """HB §4.2.1: daily care, periodic full inspection, failure repair."""

    DAILY_CARE = "daily_care"
    FULL_INSPECTION = "full_inspection"
    FAILURE_REPAIR = "failure_repair"


enum_labels({
    MaintenanceKind.DAILY_CARE: _l("Daily care"),
    MaintenanceKind.FULL_INSPECTION: _l("Full inspection"),
    MaintenanceKind.FAILURE_REPAIR: _l("Failure repair"),
})  # fmt: skip


class MaintenanceResult(LabelledEnum):
    OK = "ok"
    PROBLEMS_FIXED = "problems_fixed"
    PROBLEMS_OPEN = "problems_open"
    REPAIRED = "repaired"
    NOT_REPAIRABLE = "not_repairable"


enum_labels({
    MaintenanceResult.OK: _l("In order"),
    MaintenanceResult.PROBLEMS_FIXED: _l("Problems found and fixed"),
    MaintenanceResult.PROBLEMS_OPEN: _l("Problems found, item taken out of service"),
    MaintenanceResult.REPAIRED: _l("Repaired, back in service"),
    MaintenanceResult.NOT_REPAIRABLE: _l("Not repaired, out of service"),
})  # fmt: skip


class MaintenanceRecord(StoreOwned, Timestamped, TenantBase):
    """One maintenance of an item (HB §4.2.1-§4.2.2): who, when, what was checked, the result,
    the problems found and the cost. A failure repair stays open (`completed_on` empty) while
    the item is under maintenance."""

    __tablename__ = "maintenance_records"
    __label__ = _l("Maintenance record")
    __label_plural__ = _l("Maintenance records")
    __chapter__ = "ch4"
    __table_args__ = (sa.Index("ix_maintenance_records_store_performed", "store_id", "performed_on"),)

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(_l("Store"), sa.ForeignKey("stores.id"), index=True)
    item_id: Mapped[int] = field(_l("Equipment item"), sa.ForeignKey("equipment_items.id"), index=True)
    kind: Mapped[MaintenanceKind] = field(_l("Kind"), enum_column(MaintenanceKind))
    performed_on: Mapped[date] = field(_l("Performed on"))
    performed_by_id: Mapped[int | None] = field(_l("Performed by"), sa.ForeignKey("staff_users.id"))
    #: The date this maintenance was due when it was done (daily care, full inspection); the
    #: report counts it on time when `performed_on` is not later.
    due_on: Mapped[date | None] = field(_l("Was due on"))
    inspected: Mapped[bool] = field(_l("Inspected"), default=False, server_default=sa.false())
    cleaned: Mapped[bool] = field(_l("Cleaned"), default=False, server_default=sa.false())
    lubricated: Mapped[bool] = field(_l("Lubricated"), default=False, server_default=sa.false())
    tightened: Mapped[bool] = field(_l("Tightened"), default=False, server_default=sa.false())
    result: Mapped[MaintenanceResult | None] = field(_l("Result"), enum_column(MaintenanceResult))
    problems: Mapped[str | None] = field(_l("Problems found"), sa.Text)
    cost_cents: Mapped[int | None] = field(_l("Cost (cents)"))
    completed_on: Mapped[date | None] = field(_l("Completed on"))

    store: Mapped[Store] = relationship()
    item: Mapped[EquipmentItem] = relationship()
    performed_by: Mapped[StaffUser | None] = relationship()

    @property
    def on_time(self) -> bool | None:
        return None if self.due_on is None else self.performed_on <= self.due_on

    def __str__(self) -> str:
        return f"{self.kind.label} {self.performed_on.isoformat()}"


class CalibrationResult(LabelledEnum):
    PASSED = "passed"
    ADJUSTED = "adjusted"
    FAILED = "failed"


enum_labels({
    CalibrationResult.PASSED: _l("Passed"),
    CalibrationResult.ADJUSTED: _l("Adjusted, then passed"),
    CalibrationResult.FAILED: _l("Failed"),
})  # fmt: skip


class CalibrationRecord(StoreOwned, Timestamped, TenantBase):
    """A verification or calibration of an item (HB §5.1.3(2)); the next one is due on
    `calibrated_on` + the type's `calibration_interval_days` of the standard in force."""

    __tablename__ = "calibration_records"
    __label__ = _l("Calibration record")
    __label_plural__ = _l("Calibration records")
    __chapter__ = "ch4"
    __table_args__ = (sa.Index("ix_calibration_records_item_calibrated", "item_id", "calibrated_on"),)

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(_l("Store"), sa.ForeignKey("stores.id"), index=True)
    item_id: Mapped[int] = field(_l("Equipment item"), sa.ForeignKey("equipment_items.id"), index=True)
    calibrated_on: Mapped[date] = field(_l("Calibrated on"))
    certificate_number: Mapped[str] = field(_l("Certificate number"), sa.String(100))
    calibrating_body: Mapped[str] = field(_l("Calibrated by"), sa.String(200))
    result: Mapped[CalibrationResult] = field(_l("Result"), enum_column(CalibrationResult))
    next_due_on: Mapped[date | None] = field(_l("Next calibration due"))
    certificate_file_id: Mapped[int | None] = field(_l("Certificate scan"), sa.ForeignKey("stored_files.id"))
    recorded_by_id: Mapped[int | None] = field(_l("Recorded by"), sa.ForeignKey("staff_users.id"))
    notes: Mapped[str | None] = field(_l("Notes"), sa.Text)

    store: Mapped[Store] = relationship()
    item: Mapped[EquipmentItem] = relationship()
    certificate_file: Mapped[StoredFile | None] = relationship()
    recorded_by: Mapped[StaffUser | None] = relationship()

    def __str__(self) -> str:
        return self.certificate_number


class ProcurementStatus(LabelledEnum):
    """HB §4.1.2: needs analysis → market comparison → decision → acceptance check."""

    COMPARING = "comparing"
    APPROVED = "approved"
    REJECTED = "rejected"
    ACCEPTANCE_FAILED = "acceptance_failed"
    ACCEPTED = "accepted"


enum_labels({
    ProcurementStatus.COMPARING: _l("Comparing options"),
    ProcurementStatus.APPROVED: _l("Approved, awaiting delivery"),
    ProcurementStatus.REJECTED: _l("Rejected"),
    ProcurementStatus.ACCEPTANCE_FAILED: _l("Delivery failed the acceptance check"),
    ProcurementStatus.ACCEPTED: _l("Accepted into the register"),
})  # fmt: skip


class ProcurementRequest(StoreOwned, Timestamped, Versioned, TenantBase):
    """A store's request for equipment, from the needs analysis to the acceptance check
    (HB §4.1.1-§4.1.2). Who did each step and when is kept on the row."""

    __tablename__ = "procurement_requests"
    __label__ = _l("Procurement request")
    __label_plural__ = _l("Procurement requests")
    __chapter__ = "ch4"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(
        _l("Store"), sa.ForeignKey("stores.id"), index=True, info={"readonly": True}
    )
    equipment_type: Mapped[str] = field(_l("Type"), sa.String(40), info={"readonly": True})
    quantity: Mapped[int] = field(_l("Quantity"), info={"readonly": True})
    needs: Mapped[str] = field(
        _l("Needs analysis"), sa.Text, info={"readonly": True}, help=_l("Why the store needs it (HB §4.1.2)")
    )
    status: Mapped[ProcurementStatus] = field(
        _l("Status"),
        enum_column(ProcurementStatus),
        default=ProcurementStatus.COMPARING,
        info={"readonly": True},
    )
    requested_by_id: Mapped[int | None] = field(
        _l("Requested by"), sa.ForeignKey("staff_users.id"), info={"readonly": True}
    )
    decided_by_id: Mapped[int | None] = field(
        _l("Decided by"), sa.ForeignKey("staff_users.id"), info={"readonly": True}
    )
    decided_at: Mapped[datetime | None] = field(_l("Decided at"), info={"readonly": True})
    decision_note: Mapped[str | None] = field(_l("Decision note"), sa.Text, info={"readonly": True})
    checked_by_id: Mapped[int | None] = field(
        _l("Acceptance checked by"), sa.ForeignKey("staff_users.id"), info={"readonly": True}
    )
    checked_on: Mapped[date | None] = field(_l("Acceptance checked on"), info={"readonly": True})
    acceptance_notes: Mapped[str | None] = field(_l("Acceptance check"), sa.Text, info={"readonly": True})

    store: Mapped[Store] = relationship()
    requested_by: Mapped[StaffUser | None] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[StaffUser | None] = relationship(foreign_keys=[decided_by_id])
    checked_by: Mapped[StaffUser | None] = relationship(foreign_keys=[checked_by_id])
    options: Mapped[list[ProcurementOption]] = relationship(
        back_populates="request", order_by="ProcurementOption.id"
    )

    @property
    def chosen_option(self) -> ProcurementOption | None:
        return next((option for option in self.options if option.chosen), None)

    def __str__(self) -> str:
        return f"#{self.id} {self.equipment_type} x{self.quantity}"


class ProcurementOption(StoreOwned, Timestamped, TenantBase):
    """One offer of the market comparison (HB §4.1.2: brand, model, price, after-sales)."""

    __tablename__ = "procurement_options"
    __label__ = _l("Procurement option")
    __label_plural__ = _l("Procurement options")
    __chapter__ = "ch4"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(_l("Store"), sa.ForeignKey("stores.id"), index=True)
    request_id: Mapped[int] = field(_l("Request"), sa.ForeignKey("procurement_requests.id"), index=True)
    brand: Mapped[str] = field(_l("Brand"), sa.String(100))
    model: Mapped[str] = field(_l("Model"), sa.String(100))
    supplier: Mapped[str] = field(_l("Supplier"), sa.String(200))
    unit_price_cents: Mapped[int] = field(_l("Unit price (cents)"))
    after_sales: Mapped[str | None] = field(_l("After-sales service"), sa.Text)
    notes: Mapped[str | None] = field(_l("Notes"), sa.Text)
    #: The option the approver chose (one per request, set by `services.decide_procurement`).
    chosen: Mapped[bool] = field(
        _l("Chosen"), default=False, server_default=sa.false(), info={"readonly": True}
    )

    store: Mapped[Store] = relationship()
    request: Mapped[ProcurementRequest] = relationship(back_populates="options")

    def __str__(self) -> str:
        return f"{self.brand} {self.model}"


class RetirementReason(LabelledEnum):
    """HB §4.3.1."""

    TECHNICAL_PROGRESS = "technical_progress"
    END_OF_LIFE = "end_of_life"
    REPAIR_COST = "repair_cost"
    ENVIRONMENTAL = "environmental"
    OTHER = "other"


enum_labels({
    RetirementReason.TECHNICAL_PROGRESS: _l("Superseded by technical progress"),
    RetirementReason.END_OF_LIFE: _l("End of service life"),
    RetirementReason.REPAIR_COST: _l("Repair cost too high"),
    RetirementReason.ENVIRONMENTAL: _l("Fails environmental requirements"),
    RetirementReason.OTHER: _l("Other reason"),
})  # fmt: skip


class DisposalMethod(LabelledEnum):
    RECYCLING = "recycling"
    RETURN_TO_SUPPLIER = "return_to_supplier"
    RESALE = "resale"
    DONATION = "donation"
    SCRAPPING = "scrapping"


enum_labels({
    DisposalMethod.RECYCLING: _l("Certified recycling"),
    DisposalMethod.RETURN_TO_SUPPLIER: _l("Return to the supplier"),
    DisposalMethod.RESALE: _l("Resale"),
    DisposalMethod.DONATION: _l("Donation"),
    DisposalMethod.SCRAPPING: _l("Scrapping"),
})  # fmt: skip


class RetirementStatus(LabelledEnum):
    """HB §4.3.2: assess condition → plan → approval → disposal."""

    ASSESSED = "assessed"
    PLANNED = "planned"
    APPROVED = "approved"
    REJECTED = "rejected"
    DISPOSED = "disposed"


enum_labels({
    RetirementStatus.ASSESSED: _l("Condition assessed"),
    RetirementStatus.PLANNED: _l("Planned, awaiting approval"),
    RetirementStatus.APPROVED: _l("Approved"),
    RetirementStatus.REJECTED: _l("Rejected"),
    RetirementStatus.DISPOSED: _l("Disposed of"),
})  # fmt: skip

#: Retirements still under way: an item has at most one of these at a time.
RETIREMENT_OPEN = (RetirementStatus.ASSESSED, RetirementStatus.PLANNED, RetirementStatus.APPROVED)


class RetirementRequest(StoreOwned, Timestamped, Versioned, TenantBase):
    """Retiring one item (HB §4.3): the condition assessment, the plan (when, how), QA's
    decision and the disposal record."""

    __tablename__ = "retirement_requests"
    __label__ = _l("Retirement")
    __label_plural__ = _l("Retirements")
    __chapter__ = "ch4"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(
        _l("Store"), sa.ForeignKey("stores.id"), index=True, info={"readonly": True}
    )
    item_id: Mapped[int] = field(
        _l("Equipment item"), sa.ForeignKey("equipment_items.id"), index=True, info={"readonly": True}
    )
    status: Mapped[RetirementStatus] = field(
        _l("Status"),
        enum_column(RetirementStatus),
        default=RetirementStatus.ASSESSED,
        info={"readonly": True},
    )
    reason: Mapped[RetirementReason] = field(
        _l("Reason"), enum_column(RetirementReason), info={"readonly": True}
    )
    condition: Mapped[str] = field(_l("Condition assessment"), sa.Text, info={"readonly": True})
    assessed_by_id: Mapped[int | None] = field(
        _l("Assessed by"), sa.ForeignKey("staff_users.id"), info={"readonly": True}
    )
    assessed_on: Mapped[date] = field(_l("Assessed on"), info={"readonly": True})
    planned_on: Mapped[date | None] = field(_l("Retire on"), info={"readonly": True})
    disposal_method: Mapped[DisposalMethod | None] = field(
        _l("Disposal method"), enum_column(DisposalMethod), info={"readonly": True}
    )
    plan_notes: Mapped[str | None] = field(_l("Retirement plan"), sa.Text, info={"readonly": True})
    decided_by_id: Mapped[int | None] = field(
        _l("Decided by"), sa.ForeignKey("staff_users.id"), info={"readonly": True}
    )
    decided_at: Mapped[datetime | None] = field(_l("Decided at"), info={"readonly": True})
    decision_note: Mapped[str | None] = field(_l("Decision note"), sa.Text, info={"readonly": True})
    disposed_on: Mapped[date | None] = field(_l("Disposed of on"), info={"readonly": True})
    disposal_record: Mapped[str | None] = field(
        _l("Disposal record"),
        sa.Text,
        info={"readonly": True},
        help=_l("Who took it, receipt or certificate"),
    )

    store: Mapped[Store] = relationship()
    item: Mapped[EquipmentItem] = relationship()
    assessed_by: Mapped[StaffUser | None] = relationship(foreign_keys=[assessed_by_id])
    decided_by: Mapped[StaffUser | None] = relationship(foreign_keys=[decided_by_id])

    def __str__(self) -> str:
        return f"#{self.id} {self.reason.label}"


class ReminderKind(LabelledEnum):
    MAINTENANCE = "maintenance"
    FULL_INSPECTION = "full_inspection"
    CALIBRATION = "calibration"


enum_labels({
    ReminderKind.MAINTENANCE: _l("Daily care"),
    ReminderKind.FULL_INSPECTION: _l("Full inspection"),
    ReminderKind.CALIBRATION: _l("Calibration"),
})  # fmt: skip


class EquipmentReminder(StoreOwned, TenantBase):
    """What the daily "equipment-due" job has mailed: once per item, kind and due date (the
    unique key is claimed before any mail goes out)."""

    __tablename__ = "equipment_reminders"
    __label__ = _l("Equipment reminder")
    __label_plural__ = _l("Equipment reminders")
    __chapter__ = "ch4"
    __table_args__ = (sa.UniqueConstraint("item_id", "kind", "due_on"),)

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    store_id: Mapped[int] = field(_l("Store"), sa.ForeignKey("stores.id"), index=True)
    item_id: Mapped[int] = field(_l("Equipment item"), sa.ForeignKey("equipment_items.id"), index=True)
    kind: Mapped[ReminderKind] = field(_l("Kind"), enum_column(ReminderKind))
    due_on: Mapped[date] = field(_l("Due on"))
    sent_on: Mapped[date] = field(_l("Sent on"))
    recipients: Mapped[str | None] = field(_l("Sent to"), sa.Text)

    store: Mapped[Store] = relationship()
    item: Mapped[EquipmentItem] = relationship()
