"""Repair rules. So far: beginning the post-repair QC check against the standard in force.

The full workflow (intake to warranty, one transition method) arrives with issue #4; the QC
check is here already because it is what makes a standard version traceable (HB §2.1.1).
"""

from __future__ import annotations

from datetime import date

from flask_babel import gettext as _

from repairqc.accounts.models import StaffUser
from repairqc.db import db
from repairqc.errors import DomainError
from repairqc.repairs.models import QCCheck, QCCheckResult, RepairOrder, RepairOrderStatus
from repairqc.standards.services import effective_for_store


def begin_qc_check(order: RepairOrder, inspector: StaffUser, *, today: date) -> QCCheck:
    """Start the QC check of `order` with the checklist of the version in force `today`.

    The check copies the items of that version's checklist for the device's category and keeps
    the version's id, so publishing a new version, even one taking effect tomorrow, never
    changes a check already begun (HB §5.1.3(5), §5.2.2).
    """
    if order.status is not RepairOrderStatus.QC:
        raise DomainError(_("Only a repair waiting for its quality check can be checked."))
    if order.technician_id is not None and order.technician_id == inspector.id:
        raise DomainError(_("The technician who repaired the device cannot check it; ask a colleague."))
    standard = effective_for_store(order.store, today)
    category = order.device.category.value
    checklist = standard.document.checklist_for(category)
    if checklist is None:
        raise DomainError(
            _("Standards version %(n)s has no QC checklist for %(category)s.",
              n=standard.version_number, category=category)
        )  # fmt: skip
    check = QCCheck(
        store_id=order.store_id,
        repair_order=order,
        standard_version_id=standard.version_id,
        category=category,
        inspector_id=inspector.id,
    )
    for position, item in enumerate(checklist.items, start=1):
        check.results.append(
            QCCheckResult(
                store_id=order.store_id,
                position=position,
                item_code=item.code,
                item_text=item.text.model_dump(),
                kind=item.kind,
                critical=item.critical,
            )
        )
    db.session.add(check)
    db.session.flush()
    return check
