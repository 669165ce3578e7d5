"""Jobs feeding the operators' console."""

from __future__ import annotations

import sqlalchemy as sa

from repairqc.billing.services import usage
from repairqc.console import exports
from repairqc.console.models import TenantRollup
from repairqc.db import current_tenant, db, utcnow
from repairqc.jobs import job
from repairqc.repairs.models import Customer, RepairOrder, RepairOrderStatus

CLOSED_STATES = (RepairOrderStatus.CLOSED, RepairOrderStatus.DECLINED, RepairOrderStatus.CANCELLED)


@job(queue="reports", timeout=300)
def compute_tenant_rollup() -> dict[str, int]:
    """Count the current tenant's records into the control plane's rollup row."""

    def count(model, *where) -> int:
        return db.session.execute(sa.select(sa.func.count()).select_from(model).where(*where)).scalar_one()

    # Stores and staff as the plan counts them (active; operator support accounts excluded).
    in_use = usage()
    figures = {
        "stores": in_use.stores,
        "staff_users": in_use.staff,
        "customers": count(Customer),
        "repair_orders": count(RepairOrder),
        "open_repair_orders": count(RepairOrder, RepairOrder.status.not_in(CLOSED_STATES)),
    }
    tenant_id = current_tenant().id
    rollup = db.control.get(TenantRollup, tenant_id) or TenantRollup(tenant_id=tenant_id)
    for key, value in figures.items():
        setattr(rollup, key, value)
    rollup.computed_at = utcnow()
    db.control.add(rollup)
    db.control.flush()
    return figures


@job(queue="reports", timeout=4 * 3600, platform=True)
def export_tenant_data(export_id: int) -> str | None:
    """Write the archive of one export (console/exports.py); a failure is kept on its row."""
    try:
        export = exports.run_export(export_id)
    except Exception as exc:
        exports.record_failure(export_id, exc)
        raise
    return export.filename if export is not None else None


@job(queue="default", timeout=600, platform=True)
def sweep_exports(today_iso: str | None = None) -> int:
    """Nightly: remove export archives older than EXPORT_RETENTION_DAYS."""
    return exports.sweep(utcnow())
