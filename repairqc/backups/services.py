"""Making, keeping and finding tenant backups (HB §7.3.1: regular backups, no data lost).

* Nightly, the platform job `backup-tenants` writes a backup of every tenant that has data
  (active, suspended or cancelled) into BACKUP_DIR, one tenant after the other; a tenant whose
  backup fails gets a `failed` row with the error, the operators get a mail and the log an error
  line, and the next tenant is backed up all the same. Then retention removes the files older
  than BACKUP_RETENTION_DAYS, except each tenant's newest successful one, whatever its age (a
  tenant whose backups have been failing for weeks keeps its last good one).
* On demand, the tenant's owner (its backup screen) or an operator (the console) queues one;
  one at a time per tenant.

Every backup is a `TenantBackup` row; its file is written as `<name>.part` and renamed when
complete and verified, so a download never sees half a file. BACKUP_DIR must be shared by the web
processes and the workers.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from repairqc.backups.format import verify_backup, write_backup
from repairqc.backups.models import BackupKind, BackupStatus, TenantBackup
from repairqc.db import db, on_commit, utcnow
from repairqc.errors import Conflict, NotFound
from repairqc.tenants.models import Tenant, TenantStatus

logger = logging.getLogger(__name__)

#: Tenants with a schema (or file) holding data: the ones backed up every night.
BACKED_UP_STATUSES = (TenantStatus.ACTIVE, TenantStatus.SUSPENDED, TenantStatus.CANCELLED)
#: A backup still "running" after this long died with its worker; it no longer blocks a new one.
STALE_AFTER = timedelta(hours=6)
#: Backups listed per tenant.
LISTED = 100
NIGHTLY_REQUESTER = "nightly"


def backup_dir() -> Path:
    configured = current_app.config.get("BACKUP_DIR") or ""
    path = Path(configured) if configured else Path(current_app.instance_path) / "backups"
    path.mkdir(parents=True, exist_ok=True)
    return path


def backup_file(backup: TenantBackup) -> Path:
    if not backup.filename:
        raise NotFound(_("This backup has no file."))
    return backup_dir() / backup.filename


def requester(who: object) -> str:
    """How a row records who asked: an operator, a member of staff, or a given label."""
    from repairqc.accounts.models import StaffUser
    from repairqc.console.models import Operator

    if isinstance(who, Operator):
        return f"operator:{who.id} {who.email}"
    if isinstance(who, StaffUser):
        return f"staff:{who.id} {who.email}"
    return str(who)


def _running(tenant_id: int, now: datetime) -> TenantBackup | None:
    return (
        db.control.execute(
            sa.select(TenantBackup).where(
                TenantBackup.tenant_id == tenant_id,
                TenantBackup.status == BackupStatus.RUNNING,
                TenantBackup.started_at > now - STALE_AFTER,
            )
        )
        .scalars()
        .first()
    )


def request_backup(tenant_id: int, who: object) -> TenantBackup:
    """Queue a backup of a tenant now (owner or operator); refused while one is being made."""
    from repairqc.backups.tasks import make_backup
    from repairqc.jobs import enqueue

    # Locked: two clicks (or an owner and an operator) at once get one backup.
    tenant = db.control.get(Tenant, tenant_id, with_for_update=True)
    if tenant is None or tenant.status not in BACKED_UP_STATUSES:
        raise NotFound(_("There is no such tenant."))
    if _running(tenant.id, utcnow()) is not None:
        raise Conflict(_("A backup of %(slug)s is being made; wait until it has finished.", slug=tenant.slug))
    backup = TenantBackup(
        tenant_id=tenant.id, tenant_slug=tenant.slug, kind=BackupKind.ON_DEMAND, requested_by=requester(who)
    )
    db.control.add(backup)
    db.control.flush()
    backup_id = backup.id
    on_commit(lambda: enqueue(make_backup, backup_id))
    logger.warning("%s asked for a backup of tenant %s", backup.requested_by, tenant.slug)
    return backup


def _write_file(backup: TenantBackup, tenant: Tenant) -> None:
    """Write, verify and rename the file of a running backup, and fill in its row."""
    started = utcnow()
    filename = f"{tenant.slug}-{started:%Y%m%d-%H%M%S}-{backup.id}.zip"
    final = backup_dir() / filename
    partial = final.with_name(f"{filename}.part")
    try:
        with partial.open("wb") as out:
            summary = write_backup(tenant.ref, out, name=tenant.name)
        verify_backup(partial)  # read back what was written: a backup nobody can restore is none
        partial.replace(final)  # atomic: a download never sees half a file
    finally:
        partial.unlink(missing_ok=True)
    backup.status = BackupStatus.SUCCEEDED
    backup.finished_at = utcnow()
    backup.filename = filename
    backup.size_bytes = final.stat().st_size
    with final.open("rb") as stream:
        backup.sha256 = hashlib.file_digest(stream, "sha256").hexdigest()
    backup.row_count = summary.rows
    backup.error = None


def _record_failure(backup_id: int, tenant_slug: str, exc: BaseException) -> None:
    """Keep the error on the row (outside the failed transaction), log it, mail the operators."""
    error = f"{type(exc).__name__}: {exc}"[:2000]
    db.control.rollback()
    db.control.execute(
        sa.update(TenantBackup)
        .where(TenantBackup.id == backup_id)
        .values(status=BackupStatus.FAILED, finished_at=utcnow(), error=error)
    )
    db.control.commit()
    logger.error("backup %s of tenant %s failed: %s", backup_id, tenant_slug, error)
    alert_operators(tenant_slug, error)


def alert_operators(tenant_slug: str, error: str) -> int:
    """Mail every active operator that a backup failed; returns how many were mailed.

    A mail that cannot be sent is logged, never raised: the next tenant's backup matters more."""
    from repairqc.console.models import Operator
    from repairqc.mail import send_mail

    operators = db.control.execute(
        sa.select(Operator.email).where(Operator.is_active.is_(True)).order_by(Operator.id)
    ).scalars()
    subject = _("RepairQC: the backup of %(slug)s failed", slug=tenant_slug)
    body = _(
        "The backup of the tenant %(slug)s failed at %(time)s UTC:\n\n%(error)s\n\n"
        "Its previous backups are kept. See the backups page of the operators' console.",
        slug=tenant_slug,
        time=utcnow().strftime("%Y-%m-%d %H:%M"),
        error=error,
    )
    sent = 0
    for email in operators:
        try:
            send_mail(email, subject, body)
            sent += 1
        except Exception:
            logger.exception("could not mail operator %s about the failed backup of %s", email, tenant_slug)
    return sent


def run_backup(backup_id: int) -> TenantBackup | None:
    """Write the file of a queued backup (the job's body); None if there is nothing to do.

    A failure is kept on the row and alerted, then raised (the job shows as failed)."""
    backup = db.control.get(TenantBackup, backup_id)
    if backup is None or backup.status is not BackupStatus.RUNNING:
        return None
    slug = backup.tenant_slug
    try:
        tenant = db.control.get(Tenant, backup.tenant_id) if backup.tenant_id is not None else None
        if tenant is None:
            # Kept on the row and shown on the console's backup pages.
            raise LookupError(_("The tenant %(slug)s no longer exists.", slug=slug))
        backup.started_at = utcnow()
        _write_file(backup, tenant)
        db.control.commit()
    except Exception as exc:
        _record_failure(backup_id, slug, exc)
        raise
    return backup


def back_up_tenant(tenant: Tenant, kind: BackupKind, who: object) -> TenantBackup:
    """Back up one tenant now, in this process; the row is committed before and after.

    A failure is recorded on the row and alerted (not raised), so a loop over tenants goes on."""
    backup = TenantBackup(
        tenant_id=tenant.id, tenant_slug=tenant.slug, kind=kind, requested_by=requester(who)
    )
    db.control.add(backup)
    db.control.commit()  # "running" is visible while the file is written
    backup_id, slug = backup.id, tenant.slug
    try:
        _write_file(backup, tenant)
        db.control.commit()
    except Exception as exc:
        _record_failure(backup_id, slug, exc)
    return db.control.get(TenantBackup, backup_id)


@dataclass
class NightlyResult:
    succeeded: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    removed: int = 0


def back_up_all(now: datetime) -> NightlyResult:
    """The nightly run: every tenant with data, then retention."""
    result = NightlyResult()
    tenant_ids = (
        db.control.execute(
            sa.select(Tenant.id).where(Tenant.status.in_(BACKED_UP_STATUSES)).order_by(Tenant.id)
        )
        .scalars()
        .all()
    )
    for tenant_id in tenant_ids:
        tenant = db.control.get(Tenant, tenant_id)
        if tenant is None:  # deleted meanwhile
            continue
        backup = back_up_tenant(tenant, BackupKind.NIGHTLY, NIGHTLY_REQUESTER)
        (result.succeeded if backup.status is BackupStatus.SUCCEEDED else result.failed).append(tenant.slug)
    result.removed = apply_retention(now)
    if result.failed:
        logger.error("nightly backups: %s failed (%s)", len(result.failed), ", ".join(result.failed))
    return result


def apply_retention(now: datetime) -> int:
    """Remove the files of backups older than BACKUP_RETENTION_DAYS; returns how many.

    Each existing tenant's newest successful backup stays, however old. A deleted tenant's
    backups go at the same age as any other: its data was deleted on purpose."""
    cutoff = now - timedelta(days=current_app.config["BACKUP_RETENTION_DAYS"])
    newest = (
        sa.select(sa.func.max(TenantBackup.id))
        .where(TenantBackup.status == BackupStatus.SUCCEEDED, TenantBackup.tenant_id.is_not(None))
        .group_by(TenantBackup.tenant_id)
    )
    old = (
        db.control.execute(
            sa.select(TenantBackup).where(
                TenantBackup.status == BackupStatus.SUCCEEDED,
                TenantBackup.removed_at.is_(None),
                TenantBackup.finished_at < cutoff,
                TenantBackup.id.not_in(newest),
            )
        )
        .scalars()
        .all()
    )
    files = []
    for backup in old:
        if backup.filename:
            files.append(backup_dir() / backup.filename)
        backup.removed_at = now
    db.control.commit()  # the rows say "removed" before the files go
    for path in files:
        path.unlink(missing_ok=True)
    return len(old)


# --- reading ----------------------------------------------------------------------------------------


def tenant_backups(tenant_id: int, limit: int = LISTED) -> list[TenantBackup]:
    """A tenant's backups, newest first."""
    return list(
        db.control.execute(
            sa.select(TenantBackup)
            .where(TenantBackup.tenant_id == tenant_id)
            .order_by(TenantBackup.started_at.desc(), TenantBackup.id.desc())
            .limit(limit)
        ).scalars()
    )


def latest_by_tenant() -> dict[int, TenantBackup]:
    """Each tenant's newest backup (any status), for the console's list."""
    newest = (
        sa.select(sa.func.max(TenantBackup.id))
        .where(TenantBackup.tenant_id.is_not(None))
        .group_by(TenantBackup.tenant_id)
    )
    rows = db.control.execute(sa.select(TenantBackup).where(TenantBackup.id.in_(newest))).scalars()
    return {row.tenant_id: row for row in rows if row.tenant_id is not None}


def last_success_by_tenant() -> dict[int, TenantBackup]:
    newest = (
        sa.select(sa.func.max(TenantBackup.id))
        .where(TenantBackup.tenant_id.is_not(None), TenantBackup.status == BackupStatus.SUCCEEDED)
        .group_by(TenantBackup.tenant_id)
    )
    rows = db.control.execute(sa.select(TenantBackup).where(TenantBackup.id.in_(newest))).scalars()
    return {row.tenant_id: row for row in rows if row.tenant_id is not None}


def is_running(tenant_id: int) -> bool:
    return _running(tenant_id, utcnow()) is not None


def downloadable(backup_id: int, tenant_id: int) -> tuple[Path, str]:
    """The file of one of `tenant_id`'s backups and the name to download it as (404 otherwise:
    another tenant's backup id reveals nothing)."""
    backup = db.control.get(TenantBackup, backup_id)
    if backup is None or backup.tenant_id != tenant_id or not backup.downloadable:
        raise NotFound(_("This backup is not available."))
    path = backup_file(backup)
    if not path.is_file():
        raise NotFound(_("The file of this backup is missing from the backup folder."))
    return path, backup.filename or path.name
