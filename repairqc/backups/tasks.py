"""Backup jobs: platform jobs, since a backup reads a tenant from outside any tenant request."""

from __future__ import annotations

from repairqc.backups import services
from repairqc.db import utcnow
from repairqc.jobs import job
from repairqc.jobs.periodic import run_moment


@job(queue="reports", timeout=4 * 3600, platform=True)
def make_backup(backup_id: int) -> str | None:
    """Write one queued backup (asked for by an owner or an operator)."""
    backup = services.run_backup(backup_id)
    return backup.filename if backup is not None else None


@job(queue="reports", timeout=12 * 3600, platform=True)
def backup_tenants(today_iso: str | None = None) -> dict[str, object]:
    """Nightly (`backup-tenants`): back up every tenant, then apply retention."""
    now = run_moment(today_iso) if today_iso else utcnow()
    result = services.back_up_all(now)
    return {"succeeded": result.succeeded, "failed": result.failed, "removed": result.removed}
