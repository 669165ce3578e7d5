"""Exports of a tenant's data that operators hand back when a subscription has ended.

The issue's promise (HB-independent, billing): a cancelled tenant is read-only, kept for
BILLING_RETENTION_DAYS, then exportable and deletable by the operator. An operator asks for an
export in the console; a job writes the archive (tenants/export.py) into EXPORT_DIR, which the
web processes and the workers must share; the operator downloads it. Archives are removed
EXPORT_RETENTION_DAYS after they were written (or earlier by the operator); the row stays as the
record of who exported what, and when.

Only tenants whose subscription has ended are exported from the console: operators see no
tenant data otherwise (design.md §3). Any tenant can be exported from the command line
(`flask tenants export`), by whoever runs the servers.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from repairqc.billing import services as billing
from repairqc.billing.models import Subscription
from repairqc.console.models import ExportStatus, Operator, TenantExport
from repairqc.db import db, on_commit, utcnow
from repairqc.errors import DomainError, NotFound
from repairqc.tenants.export import write_export
from repairqc.tenants.models import Tenant

logger = logging.getLogger(__name__)

#: Exports listed on the console's page, newest first.
LISTED = 100


def export_dir() -> Path:
    path = Path(current_app.config["EXPORT_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def archive_path(export: TenantExport) -> Path:
    if not export.filename:
        raise NotFound(_("This export has no file."))
    return export_dir() / export.filename


def request_export(tenant_id: int, operator: Operator) -> TenantExport:
    """Queue an export of a tenant whose subscription has ended; one at a time per tenant."""
    from repairqc.console.tasks import export_tenant_data
    from repairqc.jobs import enqueue

    # Locked: two operators (or two clicks) asking at once get one export.
    tenant = db.control.get(Tenant, tenant_id, with_for_update=True)
    if tenant is None:
        raise NotFound(_("There is no such tenant."))
    subscription = db.control.execute(
        sa.select(Subscription).where(Subscription.tenant_id == tenant.id)
    ).scalar_one_or_none()
    if subscription is None or subscription.status not in billing.ENDED:
        raise DomainError(
            _(
                "The data of %(slug)s can be exported here once its subscription has ended; "
                "until then the owner has it, or it is exported from the command line.",
                slug=tenant.slug,
            )
        )
    running = db.control.execute(
        sa.select(TenantExport).where(
            TenantExport.tenant_id == tenant.id, TenantExport.status == ExportStatus.QUEUED
        )
    ).scalar_one_or_none()
    if running is not None:  # asked again while the first one is being written
        return running
    export = TenantExport(tenant_id=tenant.id, tenant_slug=tenant.slug, requested_by=operator)
    db.control.add(export)
    db.control.flush()
    export_id = export.id
    on_commit(lambda: enqueue(export_tenant_data, export_id))
    logger.warning("operator %s asked for an export of tenant %s", operator.id, tenant.slug)
    return export


def run_export(export_id: int) -> TenantExport | None:
    """Write the archive of a queued export (the job's body); None if there is nothing to do."""
    export = db.control.get(TenantExport, export_id)
    if export is None or export.status is not ExportStatus.QUEUED:
        return None
    tenant = db.control.get(Tenant, export.tenant_id) if export.tenant_id is not None else None
    if tenant is None:
        raise DomainError(f"tenant {export.tenant_slug} no longer exists")
    written_at = utcnow()
    filename = f"{tenant.slug}-{written_at:%Y%m%d-%H%M%S}-{export.id}.zip"
    final = export_dir() / filename
    partial = final.with_name(f"{filename}.part")
    try:
        with partial.open("wb") as out:
            summary = write_export(tenant.ref, out, name=tenant.name)
        partial.replace(final)  # atomic: a download never sees half an archive
    finally:
        partial.unlink(missing_ok=True)
    export.status = ExportStatus.DONE
    export.finished_at = utcnow()
    export.filename = filename
    export.size = final.stat().st_size
    with final.open("rb") as stream:
        export.sha256 = hashlib.file_digest(stream, "sha256").hexdigest()
    export.tables, export.rows, export.files = summary.tables, summary.rows, summary.files
    export.error = None
    db.control.flush()
    return export


def record_failure(export_id: int, exc: BaseException) -> None:
    """Keep the error on the row (shown in the console), outside the failed transaction."""
    db.control.rollback()
    db.control.execute(
        sa.update(TenantExport)
        .where(TenantExport.id == export_id)
        .values(status=ExportStatus.FAILED, finished_at=utcnow(), error=f"{type(exc).__name__}: {exc}"[:2000])
    )
    db.control.commit()


def downloadable(export_id: int) -> tuple[Path, str]:
    """The archive's path and the name to download it as."""
    export = db.control.get(TenantExport, export_id)
    if export is None or not export.downloadable:
        raise NotFound(_("This export is not available."))
    path = archive_path(export)
    if not path.is_file():
        raise NotFound(_("The export's file is missing from the export folder."))
    return path, export.filename or path.name


def record_download(export: TenantExport, operator: Operator) -> None:
    """Log the operator's download in the tenant's own data-access log (HB §7.3.1), so its owner
    sees every export of their customers' data, this one included, while the tenant exists."""
    from repairqc.audit.services import Actor, acting_as
    from repairqc.db import tenant_context
    from repairqc.privacy.access import log_data_access

    tenant = db.control.get(Tenant, export.tenant_id) if export.tenant_id is not None else None
    if tenant is None:
        return  # deleted: no log left to write to
    name = f"{operator.full_name} <{operator.email}>"
    with tenant_context(tenant.ref), acting_as(Actor("operator", operator.id, name)):
        log_data_access("export", "tenant_export", record_id=export.id, detail=export.filename)


def remove_archive(export: TenantExport, now: datetime) -> None:
    if export.filename:
        path = archive_path(export)
        on_commit(lambda: path.unlink(missing_ok=True))  # only once the row says it is gone
    export.removed_at = now
    db.control.flush()


def remove_export(export_id: int, operator: Operator) -> TenantExport:
    export = db.control.get(TenantExport, export_id)
    if export is None or not export.downloadable:
        raise NotFound(_("This export is not available."))
    remove_archive(export, utcnow())
    logger.warning("operator %s removed export %s of %s", operator.id, export.id, export.tenant_slug)
    return export


def sweep(now: datetime) -> int:
    """Remove archives older than EXPORT_RETENTION_DAYS; returns how many."""
    cutoff = now - timedelta(days=current_app.config["EXPORT_RETENTION_DAYS"])
    old = db.control.execute(
        sa.select(TenantExport).where(
            TenantExport.status == ExportStatus.DONE,
            TenantExport.removed_at.is_(None),
            TenantExport.finished_at < cutoff,
        )
    ).scalars()
    count = 0
    for export in old:
        remove_archive(export, now)
        count += 1
    return count


def recent_exports(limit: int = LISTED) -> list[TenantExport]:
    newest_first = sa.select(TenantExport).order_by(TenantExport.requested_at.desc(), TenantExport.id.desc())
    return list(db.control.execute(newest_first.limit(limit)).scalars())


def latest_by_tenant() -> dict[int, TenantExport]:
    """Each tenant's newest export, for the tenant list."""
    newest = (
        sa.select(sa.func.max(TenantExport.id))
        .where(TenantExport.tenant_id.is_not(None))
        .group_by(TenantExport.tenant_id)
        .scalar_subquery()
    )
    rows = db.control.execute(sa.select(TenantExport).where(TenantExport.id.in_(newest))).scalars()
    return {row.tenant_id: row for row in rows if row.tenant_id is not None}
