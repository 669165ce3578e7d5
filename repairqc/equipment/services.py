"""The rules of equipment and tools (HB ch.4, §5.1.3(2)): register, procurement, maintenance,
calibration, work-log gating and retirement.

An item's status changes only in `_move`, which writes the `EquipmentEvent` (who, when, from,
to, why); the due dates of maintenance, full inspection and calibration are kept by
`_schedule` from the records and the intervals of the standard in force (`equipment_policy`),
never from constants here. Who may act: a store manager runs the equipment of their stores,
technicians record daily care at theirs, the owner and QA managers act everywhere and alone
approve procurement and retirement (design.md §3). Views and jobs call these functions inside
one unit of work; nothing here commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from flask_babel import format_date, get_locale
from flask_babel import gettext as _

from repairqc.accounts.models import Role, RoleAssignment, StaffUser
from repairqc.accounts.permissions import Grants, roles_at
from repairqc.db import db, utcnow
from repairqc.equipment.models import (
    ASSET_TAG_MAX,
    NAME_MAX,
    RETIREMENT_OPEN,
    SERIAL_NUMBER_MAX,
    CalibrationRecord,
    CalibrationResult,
    DisposalMethod,
    DocumentKind,
    EquipmentDocument,
    EquipmentEvent,
    EquipmentItem,
    EquipmentReminder,
    EquipmentStatus,
    MaintenanceKind,
    MaintenanceRecord,
    MaintenanceResult,
    ProcurementOption,
    ProcurementRequest,
    ProcurementStatus,
    ReminderKind,
    RetirementReason,
    RetirementRequest,
    RetirementStatus,
    work_log_equipment,
)
from repairqc.errors import Conflict, DomainError
from repairqc.files.services import store_bytes
from repairqc.models_base import check_version
from repairqc.repairs.models import RepairOrder, RepairOrderStatus, WorkLog
from repairqc.standards.schema import EquipmentRule
from repairqc.standards.services import document_in_force
from repairqc.stores.models import Store

#: Approve procurement and retirement (design.md §3: HQ quality and the owner).
APPROVERS = frozenset({Role.OWNER, Role.QA_MANAGER})
#: Run a store's equipment: register, calibrate, maintain, request, retire.
MANAGERS = APPROVERS | {Role.STORE_MANAGER}
#: Record daily care (HB §4.2.2: the people at the bench keep their tools).
CARERS = MANAGERS | {Role.TECHNICIAN}
#: The reminder job and the due list look this many days ahead.
DUE_SOON_DAYS = 7
#: At most this many items from one procurement request (a typed 1000 is a mistake).
MAX_QUANTITY = 50
TEXT_MAX = 5000


class Refused(Conflict):
    """A move the record's state or the user's role does not allow (409)."""


# --- who may act ----------------------------------------------------------------------------------


def may_manage(user: StaffUser, store_id: int) -> bool:
    return bool(roles_at(user, store_id) & MANAGERS)


def may_care(user: StaffUser, store_id: int) -> bool:
    return bool(roles_at(user, store_id) & CARERS)


def may_approve(user: StaffUser) -> bool:
    return bool(Grants.of(user).tenant_roles & APPROVERS)


def other_approver_exists(user: StaffUser) -> bool:
    """Whether an active QA manager or owner of the tenant other than `user` exists."""
    return (
        db.session.execute(
            sa.select(StaffUser.id)
            .join(RoleAssignment, RoleAssignment.user_id == StaffUser.id)
            .where(
                RoleAssignment.role.in_(APPROVERS),
                RoleAssignment.store_id.is_(None),
                StaffUser.is_active.is_(True),
                StaffUser.id != user.id,
            )
            .limit(1)
        ).first()
        is not None
    )


def _refuse_own_decision(user: StaffUser, proposer_id: int | None, message: str) -> None:
    """Four eyes on procurement and retirement (design.md §3): the person who asked for it does
    not decide it while another approver can; a one-person shop (no other active QA manager or
    owner) still can, or nothing could ever be decided there."""
    if proposer_id is not None and proposer_id == user.id and other_approver_exists(user):
        raise Refused(message)


def _require_manager(user: StaffUser, store_id: int) -> None:
    if not may_manage(user, store_id):
        raise Refused(_("Only the store's manager, a QA manager or the owner may do this."))


# --- the standard's equipment policy ----------------------------------------------------------------


def policy(day: date) -> dict[str, EquipmentRule]:
    """The equipment rules of the standard in force on `day`, by type code."""
    document = document_in_force(day)
    return {} if document is None else {rule.equipment_type: rule for rule in document.equipment_policy}


def rule_for(equipment_type: str, day: date) -> EquipmentRule:
    rule = policy(day).get(equipment_type)
    if rule is None:
        raise DomainError(
            _("“%(type)s” is not an equipment type of the standard in force.", type=equipment_type),
            field="equipment_type",
        )
    return rule


def type_name(equipment_type: str, day: date, language: str = "en") -> str:
    rule = policy(day).get(equipment_type)
    if rule is None:
        return equipment_type
    return rule.name.zh if language.startswith("zh") else rule.name.en


def _after(day: date | None, days: int | None) -> date | None:
    return None if day is None or days is None else day + timedelta(days=days)


def _schedule(item: EquipmentItem, rule: EquipmentRule | None) -> None:
    """Recompute the item's next due dates from its last records and the policy (HB §4.2.1,
    §5.1.3(2)). A type the policy no longer lists keeps no due dates."""
    if rule is None:
        item.next_maintenance_due_on = item.next_full_inspection_due_on = None
        return
    item.next_maintenance_due_on = _after(
        item.last_maintenance_on or item.in_service_on, rule.maintenance_interval_days
    )
    item.next_full_inspection_due_on = _after(
        item.last_full_inspection_on or item.in_service_on, rule.full_inspection_interval_days
    )
    if rule.calibration_interval_days is None:
        item.next_calibration_due_on = None
        return
    if item.first_calibration_due_on is None:
        item.first_calibration_due_on = _after(item.in_service_on, rule.calibration_interval_days)
    if item.last_calibration_on is None:
        item.next_calibration_due_on = item.first_calibration_due_on


# --- the register -----------------------------------------------------------------------------------


def _clean(value: str | None) -> str | None:
    return (value or "").strip() or None


def check_descriptive(item: EquipmentItem) -> None:
    """What any edit of an item must satisfy (also the generated admin form's `validate`)."""
    tag = (item.asset_tag or "").strip()
    if not tag:
        raise DomainError(_("Enter the asset tag."), field="asset_tag")
    if len(tag) > ASSET_TAG_MAX:
        raise DomainError(_("The asset tag is too long."), field="asset_tag")
    item.asset_tag = tag
    clash = db.session.execute(
        sa.select(EquipmentItem.id).where(
            sa.func.lower(EquipmentItem.asset_tag) == tag.lower(),
            EquipmentItem.id != item.id if item.id is not None else sa.true(),
        )
    ).first()
    if clash is not None:
        raise DomainError(_("The asset tag %(tag)s is already in the register.", tag=tag), field="asset_tag")
    if not (item.name or "").strip():
        raise DomainError(_("Enter the item's name."), field="name")
    if item.price_cents is not None and item.price_cents < 0:
        raise DomainError(_("The price cannot be negative."), field="price")
    if item.purchased_on is not None and item.purchased_on > utcnow().date():
        raise DomainError(_("The purchase date is in the future."), field="purchased_on")


def register_item(
    store: Store,
    user: StaffUser,
    *,
    asset_tag: str,
    equipment_type: str,
    name: str,
    today: date,
    brand: str | None = None,
    model: str | None = None,
    serial_number: str | None = None,
    supplier: str | None = None,
    purchased_on: date | None = None,
    price_cents: int | None = None,
    in_service_on: date | None = None,
    notes: str | None = None,
    procurement: ProcurementRequest | None = None,
) -> EquipmentItem:
    """Enter an item into the store's register, in service from `in_service_on` (today)."""
    _require_manager(user, store.id)
    if not store.is_active:
        raise DomainError(_("%(store)s is not active.", store=store.code), field="store")
    rule = rule_for(equipment_type, today)
    in_service_on = in_service_on or today
    if in_service_on > today:
        raise DomainError(_("The date it entered service is in the future."), field="in_service_on")
    item = EquipmentItem(
        store_id=store.id,
        store=store,
        asset_tag=asset_tag,
        equipment_type=equipment_type,
        name=(name or "").strip(),
        brand=_clean(brand),
        model=_clean(model),
        serial_number=_clean(serial_number),
        supplier=_clean(supplier),
        purchased_on=purchased_on,
        price_cents=price_cents,
        in_service_on=in_service_on,
        notes=_clean(notes),
        procurement_id=procurement.id if procurement is not None else None,
        status=EquipmentStatus.IN_SERVICE,
    )
    check_descriptive(item)
    _schedule(item, rule)
    _save_item(item, _("Entered the register"), user)
    return item


def _event(
    item: EquipmentItem,
    before: EquipmentStatus | None,
    after: EquipmentStatus,
    user: StaffUser | None,
    comment: str | None,
) -> None:
    item.events.append(
        EquipmentEvent(
            store_id=item.store_id,
            from_status=before,
            to_status=after,
            actor_id=user.id if user is not None else None,
            at=utcnow(),
            comment=comment,
        )
    )


def _move(item: EquipmentItem, after: EquipmentStatus, user: StaffUser | None, comment: str | None) -> None:
    """The one place an item's status changes: it writes the event row."""
    before = item.status
    if before is after:
        return
    item.status = after
    _event(item, before, after, user, comment)


def status_since(item: EquipmentItem) -> date:
    """The day the item's current status began."""
    moves = [event for event in item.events if event.to_status is item.status]
    return moves[-1].at.date() if moves else item.in_service_on


def _require_not_retired(item: EquipmentItem) -> None:
    if item.status is EquipmentStatus.RETIRED:
        raise Refused(_("%(item)s is retired.", item=item.label))


def _lock(item: EquipmentItem) -> None:
    """Lock the item's row (PostgreSQL; SQLite runs one writer at a time) and reread it. A work
    log locks the items it uses the same way (`repairs.services._equipment_for_work_log`), so a
    retirement step that locks first and then looks for open orders using the item either sees
    the log committed or makes the log wait and then refuse the retired item."""
    db.session.execute(
        sa.select(EquipmentItem)
        .where(EquipmentItem.id == item.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


def _save_item(item: EquipmentItem, comment: str, user: StaffUser) -> None:
    """Add and flush a new item with its first event, in a savepoint: an asset tag another
    transaction has just taken (the unique key on lower(asset_tag), whatever its case) is the
    same clear message as the check's, and the rest of the unit of work stays usable."""
    try:
        with db.session.begin_nested():
            db.session.add(item)
            _event(item, None, EquipmentStatus.IN_SERVICE, user, comment)
            db.session.flush()
    except sa.exc.IntegrityError as exc:
        if "asset_tag_key" not in str(exc.orig):
            raise
        raise DomainError(
            _("The asset tag %(tag)s is already in the register.", tag=item.asset_tag), field="asset_tag"
        ) from exc


def add_document(
    item: EquipmentItem, user: StaffUser, *, kind: DocumentKind, title: str, data: bytes, filename: str
) -> EquipmentDocument:
    """File a manual, invoice or certificate with the item (a file of the item's store)."""
    _require_manager(user, item.store_id)
    title = (title or "").strip() or filename
    if not title:
        raise DomainError(_("Give the document a title."), field="title")
    stored = store_bytes(data, filename, store_id=item.store_id)
    document = EquipmentDocument(
        store_id=item.store_id,
        item_id=item.id,
        kind=kind,
        title=title[:200],
        file=stored,
        added_by_id=user.id,
    )
    db.session.add(document)
    db.session.flush()
    return document


def return_to_service(item: EquipmentItem, user: StaffUser, *, note: str | None, today: date) -> None:
    """An item out of service (a failed calibration, problems found) goes back into service once
    the manager has dealt with it; an item overdue for calibration must be calibrated first."""
    _require_manager(user, item.store_id)
    if item.status is not EquipmentStatus.OUT_OF_SERVICE:
        raise Refused(_("Only an item out of service can be returned to service."))
    _refuse_uncalibrated(item, today)
    _move(item, EquipmentStatus.IN_SERVICE, user, _clean(note))


# --- maintenance (HB §4.2) --------------------------------------------------------------------------


@dataclass(frozen=True)
class Checklist:
    """HB §4.2.1 daily care: inspect, clean, lubricate, tighten."""

    inspected: bool = False
    cleaned: bool = False
    lubricated: bool = False
    tightened: bool = False

    def any(self) -> bool:
        return self.inspected or self.cleaned or self.lubricated or self.tightened


def record_maintenance(
    item: EquipmentItem,
    user: StaffUser,
    *,
    kind: MaintenanceKind,
    performed_on: date,
    result: MaintenanceResult,
    today: date,
    checklist: Checklist = Checklist(),
    problems: str | None = None,
    cost_cents: int | None = None,
) -> MaintenanceRecord:
    """Daily care (technicians and managers) or a full inspection (managers), HB §4.2.1-§4.2.2.

    "Problems found, out of service" takes the item out of service; the record keeps the date
    the maintenance was due, so the report can tell whether it was done on time."""
    _require_not_retired(item)
    if kind is MaintenanceKind.FAILURE_REPAIR:
        raise DomainError(_("Report a failure with “Report a failure”."), field="kind")
    if kind is MaintenanceKind.DAILY_CARE:
        if not may_care(user, item.store_id):
            raise Refused(_("Only the store's technicians and managers record daily care."))
        if not checklist.any():
            raise DomainError(_("Tick what was done: inspect, clean, lubricate, tighten."), field="checklist")
    else:
        _require_manager(user, item.store_id)
    if result not in (
        MaintenanceResult.OK,
        MaintenanceResult.PROBLEMS_FIXED,
        MaintenanceResult.PROBLEMS_OPEN,
    ):
        raise DomainError(_("Choose the result."), field="result")
    if performed_on > today:
        raise DomainError(_("The date is in the future."), field="performed_on")
    if performed_on < item.in_service_on:
        raise DomainError(_("The date is before the item entered service."), field="performed_on")
    problems = _clean(problems)
    if result is not MaintenanceResult.OK and not problems:
        raise DomainError(_("Describe the problems found (HB §4.2.2)."), field="problems")
    if cost_cents is not None and cost_cents < 0:
        raise DomainError(_("The cost cannot be negative."), field="cost")
    daily = kind is MaintenanceKind.DAILY_CARE
    record = MaintenanceRecord(
        store_id=item.store_id,
        item_id=item.id,
        kind=kind,
        performed_on=performed_on,
        performed_by_id=user.id,
        due_on=item.next_maintenance_due_on if daily else item.next_full_inspection_due_on,
        inspected=checklist.inspected,
        cleaned=checklist.cleaned,
        lubricated=checklist.lubricated,
        tightened=checklist.tightened,
        result=result,
        problems=problems,
        cost_cents=cost_cents,
        completed_on=performed_on,
    )
    db.session.add(record)
    if daily:
        item.last_maintenance_on = max(filter(None, (item.last_maintenance_on, performed_on)))
    else:
        # A full inspection includes the daily care (HB §4.2.1).
        item.last_full_inspection_on = max(filter(None, (item.last_full_inspection_on, performed_on)))
        item.last_maintenance_on = max(filter(None, (item.last_maintenance_on, performed_on)))
    _schedule(item, policy(today).get(item.equipment_type))
    if result is MaintenanceResult.PROBLEMS_OPEN and item.status is EquipmentStatus.IN_SERVICE:
        _move(item, EquipmentStatus.OUT_OF_SERVICE, user, problems)
    db.session.flush()
    return record


def open_repair(item: EquipmentItem) -> MaintenanceRecord | None:
    return db.session.execute(
        sa.select(MaintenanceRecord).where(
            MaintenanceRecord.item_id == item.id,
            MaintenanceRecord.kind == MaintenanceKind.FAILURE_REPAIR,
            MaintenanceRecord.completed_on.is_(None),
        )
    ).scalar()


def report_failure(item: EquipmentItem, user: StaffUser, *, problem: str, today: date) -> MaintenanceRecord:
    """A failure (HB §4.2.1 failure repair): the item goes under maintenance until repaired."""
    _require_not_retired(item)
    if not may_care(user, item.store_id):
        raise Refused(_("Only the store's technicians and managers report failures."))
    if item.status is EquipmentStatus.UNDER_MAINTENANCE:
        raise Refused(_("%(item)s is already under maintenance.", item=item.label))
    problem = _clean(problem)
    if not problem:
        raise DomainError(_("Describe the failure."), field="problems")
    record = MaintenanceRecord(
        store_id=item.store_id,
        item_id=item.id,
        kind=MaintenanceKind.FAILURE_REPAIR,
        performed_on=today,
        performed_by_id=user.id,
        problems=problem,
    )
    db.session.add(record)
    _move(item, EquipmentStatus.UNDER_MAINTENANCE, user, problem)
    db.session.flush()
    return record


def finish_repair(
    item: EquipmentItem,
    user: StaffUser,
    *,
    repaired: bool,
    completed_on: date,
    today: date,
    cost_cents: int | None = None,
    note: str | None = None,
) -> MaintenanceRecord:
    """Close the open failure repair: back in service, or out of service if not repaired (a
    candidate for retirement: repair cost too high, HB §4.3.1)."""
    _require_manager(user, item.store_id)
    record = open_repair(item)
    if record is None or item.status is not EquipmentStatus.UNDER_MAINTENANCE:
        raise Refused(_("%(item)s has no repair under way.", item=item.label))
    if completed_on > today:
        raise DomainError(_("The date is in the future."), field="completed_on")
    if completed_on < record.performed_on:
        raise DomainError(_("The repair cannot end before the failure was reported."), field="completed_on")
    if cost_cents is not None and cost_cents < 0:
        raise DomainError(_("The cost cannot be negative."), field="cost")
    record.completed_on = completed_on
    record.cost_cents = cost_cents
    record.result = MaintenanceResult.REPAIRED if repaired else MaintenanceResult.NOT_REPAIRABLE
    note = _clean(note)
    if note:
        record.problems = f"{record.problems}\n{note}"
    if repaired:
        # Overdue for calibration it may be back in service (the work log refuses it until it is
        # calibrated); after a failed calibration it must pass one first.
        if _last_calibration_failed(item):
            _refuse_uncalibrated(item, today)
        _move(item, EquipmentStatus.IN_SERVICE, user, note or _("Repaired"))
    else:
        _move(item, EquipmentStatus.OUT_OF_SERVICE, user, note or _("Not repaired"))
    db.session.flush()
    return record


# --- calibration (HB §5.1.3(2)) ---------------------------------------------------------------------


def record_calibration(
    item: EquipmentItem,
    user: StaffUser,
    *,
    calibrated_on: date,
    certificate_number: str,
    calibrating_body: str,
    result: CalibrationResult,
    today: date,
    scan: tuple[bytes, str] | None = None,
    notes: str | None = None,
) -> CalibrationRecord:
    """A calibration certificate. The next one is due `calibration_interval_days` (of the
    standard in force on the calibration day) later; a failed one takes the item out of service."""
    _require_not_retired(item)
    _require_manager(user, item.store_id)
    if calibrated_on > today:
        raise DomainError(
            _("The calibration date %(day)s is in the future.", day=format_date(calibrated_on)),
            field="calibrated_on",
        )
    certificate_number = (certificate_number or "").strip()
    calibrating_body = (calibrating_body or "").strip()
    if not certificate_number:
        raise DomainError(_("Enter the certificate number."), field="certificate_number")
    if not calibrating_body:
        raise DomainError(_("Enter who calibrated it."), field="calibrating_body")
    rule = policy(calibrated_on).get(item.equipment_type) or policy(today).get(item.equipment_type)
    interval = rule.calibration_interval_days if rule is not None else None
    passed = result is not CalibrationResult.FAILED
    record = CalibrationRecord(
        store_id=item.store_id,
        item_id=item.id,
        calibrated_on=calibrated_on,
        certificate_number=certificate_number[:100],
        calibrating_body=calibrating_body[:200],
        result=result,
        next_due_on=_after(calibrated_on, interval) if passed else None,
        recorded_by_id=user.id,
        notes=_clean(notes),
    )
    if scan is not None:
        data, filename = scan
        stored = store_bytes(data, filename, store_id=item.store_id)
        record.certificate_file = stored
        db.session.add(
            EquipmentDocument(
                store_id=item.store_id,
                item_id=item.id,
                kind=DocumentKind.CERTIFICATE,
                title=_("Calibration certificate %(number)s", number=record.certificate_number)[:200],
                file=stored,
                added_by_id=user.id,
            )
        )
    db.session.add(record)
    # Only the latest calibration speaks for the item now: an older one entered late (a failed
    # one after a newer one passed) is kept in the history but changes neither the due date nor
    # the status.
    latest = item.last_calibration_on is None or calibrated_on >= item.last_calibration_on
    if latest:
        item.last_calibration_on = calibrated_on
        # A failed calibration leaves the item due at once: it must pass one before use.
        item.next_calibration_due_on = record.next_due_on if passed else calibrated_on
    if latest and not passed and item.status is EquipmentStatus.IN_SERVICE:
        _move(
            item,
            EquipmentStatus.OUT_OF_SERVICE,
            user,
            _("Calibration %(number)s failed", number=certificate_number),
        )
    db.session.flush()
    return record


def _refuse_uncalibrated(item: EquipmentItem, today: date) -> None:
    """Back into service only calibrated: not overdue, and the last calibration not failed."""
    if item.calibration_overdue(today) or _last_calibration_failed(item):
        raise Refused(
            _("%(item)s fell due for calibration on %(day)s: calibrate it first.",
              item=item.label, day=format_date(item.next_calibration_due_on or today))
        )  # fmt: skip


def _last_calibration_failed(item: EquipmentItem) -> bool:
    last = db.session.execute(
        sa.select(CalibrationRecord.result)
        .where(CalibrationRecord.item_id == item.id)
        .order_by(CalibrationRecord.calibrated_on.desc(), CalibrationRecord.id.desc())
        .limit(1)
    ).scalar()
    return last is CalibrationResult.FAILED


# --- work-log gating (HB §5.1.3(2)) -----------------------------------------------------------------


def check_usable(items: Iterable[EquipmentItem], store_id: int, today: date) -> None:
    """Refuse, naming the item, anything that may not be used on a repair of `store_id` today:
    another store's item, one not in service, or one overdue for calibration (with the date it
    fell due)."""
    for item in items:
        if item.store_id != store_id:
            raise DomainError(
                _("%(item)s belongs to another store and cannot be used on this order.", item=item.label),
                field="equipment_items",
            )
        if item.status is not EquipmentStatus.IN_SERVICE:
            raise DomainError(
                _("%(item)s has been %(status)s since %(day)s and cannot be used.",
                  item=item.label, status=item.status.label.lower(), day=format_date(status_since(item))),
                field="equipment_items",
            )  # fmt: skip
        if item.calibration_overdue(today):
            raise DomainError(
                _("%(item)s fell due for calibration on %(day)s and cannot be used until it is "
                  "calibrated (HB §5.1.3(2)).",
                  item=item.label, day=format_date(item.next_calibration_due_on)),
                field="equipment_items",
            )  # fmt: skip


def usable_items(store_id: int) -> list[EquipmentItem]:
    """The store's items in service, by asset tag: what the work-log form offers."""
    return list(
        db.session.execute(
            sa.select(EquipmentItem)
            .where(EquipmentItem.store_id == store_id, EquipmentItem.status == EquipmentStatus.IN_SERVICE)
            .order_by(EquipmentItem.asset_tag)
        ).scalars()
    )


# --- procurement (HB §4.1.2) ------------------------------------------------------------------------


def request_procurement(
    store: Store, user: StaffUser, *, equipment_type: str, quantity: int, needs: str, today: date
) -> ProcurementRequest:
    """The needs analysis: which type, how many, and why."""
    _require_manager(user, store.id)
    rule_for(equipment_type, today)
    if not 0 < quantity <= MAX_QUANTITY:
        raise DomainError(_("The quantity must be between 1 and %(n)s.", n=MAX_QUANTITY), field="quantity")
    needs = (needs or "").strip()
    if not needs:
        raise DomainError(_("Explain why the store needs it (HB §4.1.2 needs analysis)."), field="needs")
    request = ProcurementRequest(
        store_id=store.id,
        store=store,
        equipment_type=equipment_type,
        quantity=quantity,
        needs=needs[:TEXT_MAX],
        status=ProcurementStatus.COMPARING,
        requested_by_id=user.id,
    )
    db.session.add(request)
    db.session.flush()
    return request


def add_option(
    request: ProcurementRequest,
    user: StaffUser,
    *,
    brand: str,
    model: str,
    supplier: str,
    unit_price_cents: int | None,
    after_sales: str | None = None,
    notes: str | None = None,
) -> ProcurementOption:
    """One offer of the market comparison (brand, model, price, after-sales, supplier)."""
    _require_manager(user, request.store_id)
    if request.status is not ProcurementStatus.COMPARING:
        raise Refused(_("Options are compared before the decision."))
    for name, value, message in (
        ("brand", brand, _("Enter the brand.")),
        ("model", model, _("Enter the model.")),
        ("supplier", supplier, _("Enter the supplier.")),
    ):
        if not (value or "").strip():
            raise DomainError(message, field=name)
    if unit_price_cents is None or unit_price_cents < 0:
        raise DomainError(_("Enter the unit price."), field="unit_price")
    option = ProcurementOption(
        store_id=request.store_id,
        brand=brand.strip()[:100],
        model=model.strip()[:100],
        supplier=supplier.strip()[:200],
        unit_price_cents=unit_price_cents,
        after_sales=_clean(after_sales),
        notes=_clean(notes),
    )
    request.options.append(option)
    db.session.flush()
    return option


def decide_procurement(
    request: ProcurementRequest,
    user: StaffUser,
    *,
    approve: bool,
    option_id: int | None,
    note: str | None,
    expected_version: int | None = None,
) -> None:
    """The purchase decision, by a QA manager or the owner: one option chosen, or rejected with
    a reason."""
    check_version(request, expected_version)
    if not may_approve(user):
        raise Refused(_("Only a QA manager or the owner decides on purchases."))
    if request.status is not ProcurementStatus.COMPARING:
        raise Refused(_("This request has been decided already."))
    _refuse_own_decision(
        user,
        request.requested_by_id,
        _("You made this request: another QA manager or the owner decides on it."),
    )
    note = _clean(note)
    if approve:
        option = next((o for o in request.options if o.id == option_id), None)
        if option is None:
            raise DomainError(_("Choose one of the options compared."), field="option")
        option.chosen = True
        request.status = ProcurementStatus.APPROVED
    else:
        if not note:
            raise DomainError(_("Give the reason for rejecting it."), field="note")
        request.status = ProcurementStatus.REJECTED
    request.decided_by_id = user.id
    request.decided_at = utcnow()
    request.decision_note = note
    db.session.flush()


def check_delivery(
    request: ProcurementRequest,
    user: StaffUser,
    *,
    passed: bool,
    checked_on: date,
    notes: str | None,
    asset_tags: Sequence[str],
    serial_numbers: Sequence[str] = (),
    today: date,
    expected_version: int | None = None,
) -> list[EquipmentItem]:
    """The acceptance check on delivery (HB §4.1.2 "acceptance and hand-over"): passed, the
    items enter the register with their asset tags; failed, it is recorded and nothing enters."""
    check_version(request, expected_version)
    _require_manager(user, request.store_id)
    if request.status not in (ProcurementStatus.APPROVED, ProcurementStatus.ACCEPTANCE_FAILED):
        raise Refused(_("Only an approved purchase is checked on delivery."))
    if checked_on > today:
        raise DomainError(_("The date is in the future."), field="checked_on")
    notes = _clean(notes)
    request.checked_by_id = user.id
    request.checked_on = checked_on
    request.acceptance_notes = notes
    if not passed:
        if not notes:
            raise DomainError(_("Describe what failed the acceptance check."), field="notes")
        request.status = ProcurementStatus.ACCEPTANCE_FAILED
        db.session.flush()
        return []
    tags = [tag.strip() for tag in asset_tags if tag and tag.strip()]
    if len(tags) != request.quantity:
        raise DomainError(_("Enter one asset tag per item: %(n)s.", n=request.quantity), field="asset_tags")
    if len({tag.lower() for tag in tags}) != len(tags):
        raise DomainError(_("Each asset tag may be used once."), field="asset_tags")
    serials = [(serial or "").strip() for serial in serial_numbers]
    for line, serial in enumerate(serials, start=1):
        if len(serial) > SERIAL_NUMBER_MAX:
            raise DomainError(
                _("Serial number on line %(line)s is longer than %(n)s characters.",
                  line=line, n=SERIAL_NUMBER_MAX),
                field="serial_numbers",
            )  # fmt: skip
    serials += [""] * len(tags)
    option = request.chosen_option
    rule_for(request.equipment_type, today)
    language = str(get_locale() or "en")
    kind = type_name(request.equipment_type, today, language)
    name = (f"{kind} {option.brand} {option.model}" if option else kind)[:NAME_MAX].strip()
    items = [
        register_item(
            request.store,
            user,
            asset_tag=tag,
            equipment_type=request.equipment_type,
            name=name,
            brand=option.brand if option else None,
            model=option.model if option else None,
            supplier=option.supplier if option else None,
            price_cents=option.unit_price_cents if option else None,
            serial_number=serials[i] or None,
            purchased_on=checked_on,
            in_service_on=checked_on,
            procurement=request,
            today=today,
        )
        for i, tag in enumerate(tags)
    ]
    request.status = ProcurementStatus.ACCEPTED
    db.session.flush()
    return items


# --- retirement (HB §4.3) ---------------------------------------------------------------------------

#: Orders in these states no longer hold a tool (the device has left the store).
CLOSED_ORDERS = (
    RepairOrderStatus.DELIVERED,
    RepairOrderStatus.CLOSED,
    RepairOrderStatus.DECLINED,
    RepairOrderStatus.CANCELLED,
)


def open_order_using(item: EquipmentItem) -> RepairOrder | None:
    """An order not yet delivered, closed, declined or cancelled on whose work log the item was
    recorded (the lowest number first)."""
    return db.session.execute(
        sa.select(RepairOrder)
        .join(WorkLog, WorkLog.order_id == RepairOrder.id)
        .join(work_log_equipment, work_log_equipment.c.work_log_id == WorkLog.id)
        .where(work_log_equipment.c.item_id == item.id, RepairOrder.status.not_in(CLOSED_ORDERS))
        .order_by(RepairOrder.id)
        .limit(1)
    ).scalar()


def _refuse_in_use(item: EquipmentItem) -> None:
    order = open_order_using(item)
    if order is not None:
        raise Refused(
            _("%(item)s is in use on open order %(order)s: it cannot be retired until that order "
              "is delivered, closed or cancelled.", item=item.label, order=order.number)
        )  # fmt: skip


def open_retirement(item: EquipmentItem) -> RetirementRequest | None:
    return db.session.execute(
        sa.select(RetirementRequest).where(
            RetirementRequest.item_id == item.id, RetirementRequest.status.in_(RETIREMENT_OPEN)
        )
    ).scalar()


def assess_retirement(
    item: EquipmentItem, user: StaffUser, *, reason: RetirementReason, condition: str, today: date
) -> RetirementRequest:
    """The condition assessment that starts a retirement (HB §4.3.1 reasons)."""
    _require_manager(user, item.store_id)
    _require_not_retired(item)
    existing = open_retirement(item)
    if existing is not None:
        raise Refused(
            _("%(item)s already has retirement #%(id)s under way.", item=item.label, id=existing.id)
        )
    condition = (condition or "").strip()
    if not condition:
        raise DomainError(_("Describe the item's condition."), field="condition")
    retirement = RetirementRequest(
        store_id=item.store_id,
        item_id=item.id,
        item=item,
        reason=reason,
        condition=condition[:TEXT_MAX],
        assessed_by_id=user.id,
        assessed_on=today,
        status=RetirementStatus.ASSESSED,
    )
    db.session.add(retirement)
    db.session.flush()
    return retirement


def plan_retirement(
    retirement: RetirementRequest,
    user: StaffUser,
    *,
    planned_on: date,
    method: DisposalMethod,
    notes: str | None,
    expected_version: int | None = None,
) -> None:
    """The plan: when, and how it will be disposed of (HB §4.3.2)."""
    check_version(retirement, expected_version)
    _require_manager(user, retirement.store_id)
    if retirement.status not in (RetirementStatus.ASSESSED, RetirementStatus.PLANNED):
        raise Refused(_("The plan can be changed only before the decision."))
    if planned_on < retirement.assessed_on:
        raise DomainError(_("The date is before the assessment."), field="planned_on")
    retirement.planned_on = planned_on
    retirement.disposal_method = method
    retirement.plan_notes = _clean(notes)
    retirement.status = RetirementStatus.PLANNED
    db.session.flush()


def decide_retirement(
    retirement: RetirementRequest,
    user: StaffUser,
    *,
    approve: bool,
    note: str | None,
    expected_version: int | None = None,
) -> None:
    """Approval by a QA manager or the owner (HB §4.3.2), or rejection with a reason."""
    check_version(retirement, expected_version)
    if not may_approve(user):
        raise Refused(_("Only a QA manager or the owner approves a retirement."))
    if retirement.status is not RetirementStatus.PLANNED:
        raise Refused(_("Only a planned retirement can be decided."))
    _refuse_own_decision(
        user,
        retirement.assessed_by_id,
        _("You assessed this retirement: another QA manager or the owner decides on it."),
    )
    note = _clean(note)
    if approve:
        _lock(retirement.item)
        _refuse_in_use(retirement.item)
        retirement.status = RetirementStatus.APPROVED
    else:
        if not note:
            raise DomainError(_("Give the reason for rejecting it."), field="note")
        retirement.status = RetirementStatus.REJECTED
    retirement.decided_by_id = user.id
    retirement.decided_at = utcnow()
    retirement.decision_note = note
    db.session.flush()


def record_disposal(
    retirement: RetirementRequest,
    user: StaffUser,
    *,
    disposed_on: date,
    record: str,
    today: date,
    expected_version: int | None = None,
) -> None:
    """The disposal record; the item is retired (HB §4.3.2 "proper disposal")."""
    check_version(retirement, expected_version)
    _require_manager(user, retirement.store_id)
    if retirement.status is not RetirementStatus.APPROVED:
        raise Refused(_("Only an approved retirement can be carried out."))
    if disposed_on > today:
        raise DomainError(_("The date is in the future."), field="disposed_on")
    if disposed_on < retirement.assessed_on:
        raise DomainError(_("The date is before the assessment."), field="disposed_on")
    record = (record or "").strip()
    if not record:
        raise DomainError(_("Record how it was disposed of (who took it, receipt)."), field="record")
    item = retirement.item
    _lock(item)
    _refuse_in_use(item)
    retirement.disposed_on = disposed_on
    retirement.disposal_record = record[:TEXT_MAX]
    retirement.status = RetirementStatus.DISPOSED
    item.retired_on = disposed_on
    item.next_maintenance_due_on = item.next_full_inspection_due_on = item.next_calibration_due_on = None
    _move(item, EquipmentStatus.RETIRED, user, _("Retirement #%(id)s", id=retirement.id))
    db.session.flush()


# --- due lists and reminders ------------------------------------------------------------------------


@dataclass(frozen=True)
class Due:
    item: EquipmentItem
    kind: ReminderKind
    due_on: date

    def overdue(self, today: date) -> bool:
        return self.due_on < today


_DUE_COLUMNS = {
    ReminderKind.MAINTENANCE: EquipmentItem.next_maintenance_due_on,
    ReminderKind.FULL_INSPECTION: EquipmentItem.next_full_inspection_due_on,
    ReminderKind.CALIBRATION: EquipmentItem.next_calibration_due_on,
}


def due_items(
    until: date, *, store_ids: Iterable[int] | None = None, condition: sa.ColumnElement[bool] | None = None
) -> list[Due]:
    """Maintenance, full inspections and calibrations due on or before `until` (overdue ones
    included) of items not retired, most overdue first. `condition` narrows the items (the
    screens' store scope)."""
    statement = sa.select(EquipmentItem).where(
        EquipmentItem.status != EquipmentStatus.RETIRED,
        sa.or_(*(column <= until for column in _DUE_COLUMNS.values())),
    )
    if store_ids is not None:
        statement = statement.where(EquipmentItem.store_id.in_(list(store_ids)))
    if condition is not None:
        statement = statement.where(condition)
    entries = []
    for item in db.session.execute(statement.order_by(EquipmentItem.id)).scalars():
        for kind, column in _DUE_COLUMNS.items():
            day = getattr(item, column.key)
            if day is not None and day <= until:
                entries.append(Due(item, kind, day))
    return sorted(entries, key=lambda d: (d.due_on, d.item.asset_tag, d.kind.value))


def claim_reminders(today: date) -> dict[int, list[Due]]:
    """The due entries (within DUE_SOON_DAYS, or overdue) not yet reminded, by store; each is
    claimed by inserting its (item, kind, due date) row first, in a savepoint, so a second run
    or a concurrent worker claims nothing twice."""
    claimed: dict[int, list[Due]] = {}
    for due in due_items(today + timedelta(days=DUE_SOON_DAYS)):
        exists = db.session.execute(
            sa.select(EquipmentReminder.id).where(
                EquipmentReminder.item_id == due.item.id,
                EquipmentReminder.kind == due.kind,
                EquipmentReminder.due_on == due.due_on,
            )
        ).first()
        if exists is not None:
            continue
        try:
            with db.session.begin_nested():
                db.session.add(
                    EquipmentReminder(
                        store_id=due.item.store_id, item_id=due.item.id, kind=due.kind, due_on=due.due_on,
                        sent_on=today,
                    )
                )  # fmt: skip
        except sa.exc.IntegrityError:
            continue
        claimed.setdefault(due.item.store_id, []).append(due)
    return claimed


def store_managers(store_id: int) -> list[StaffUser]:
    """Active store managers of the store (the reminder's recipients)."""
    return list(
        db.session.execute(
            sa.select(StaffUser)
            .join(RoleAssignment, RoleAssignment.user_id == StaffUser.id)
            .where(
                RoleAssignment.role == Role.STORE_MANAGER,
                RoleAssignment.store_id == store_id,
                StaffUser.is_active.is_(True),
            )
            .order_by(StaffUser.id)
            .distinct()
        ).scalars()
    )
