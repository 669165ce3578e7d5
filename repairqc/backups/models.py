"""The record of every tenant backup (control plane; HB §7.3.1).

The file lives in BACKUP_DIR under `filename`; the row is the history the operators' console
and the owner's backup screen show, and it outlives the file (retention removes files, not rows)
and the tenant (a deleted tenant's last backups can still be found by slug).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped

from repairqc.db import ControlBase, utcnow
from repairqc.models_base import LabelledEnum, enum_column, enum_labels, field


class BackupKind(LabelledEnum):
    NIGHTLY = "nightly"
    ON_DEMAND = "on_demand"


class BackupStatus(LabelledEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


enum_labels({BackupKind.NIGHTLY: _l("Nightly"), BackupKind.ON_DEMAND: _l("On demand")})
enum_labels(
    {
        BackupStatus.RUNNING: _l("Running"),
        BackupStatus.SUCCEEDED: _l("Succeeded"),
        BackupStatus.FAILED: _l("Failed"),
    }
)


class TenantBackup(ControlBase):
    """One backup of one tenant: nightly, or asked for by its owner, an operator or the CLI."""

    __tablename__ = "tenant_backups"
    __label__ = _l("Backup")
    __label_plural__ = _l("Backups")
    __chapter__ = "ch7"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    tenant_id: Mapped[int | None] = field(
        _l("Tenant"), sa.ForeignKey("tenants.id", ondelete="SET NULL"), index=True
    )
    #: Kept as written: the tenant row may be deleted after the backup.
    tenant_slug: Mapped[str] = field(_l("Tenant address"), sa.String(63))
    kind: Mapped[BackupKind] = field(_l("Kind"), enum_column(BackupKind))
    status: Mapped[BackupStatus] = field(
        _l("Status"), enum_column(BackupStatus), default=BackupStatus.RUNNING
    )
    #: When it was asked for; the job sets it again when it starts writing.
    started_at: Mapped[datetime] = field(_l("Started at"), default=utcnow)
    finished_at: Mapped[datetime | None] = field(_l("Finished at"))
    #: Name of the file inside BACKUP_DIR; set once the file is complete.
    filename: Mapped[str | None] = field(_l("File"), sa.String(200))
    size_bytes: Mapped[int | None] = field(_l("Size"), sa.BigInteger)
    sha256: Mapped[str | None] = field(_l("SHA-256"), sa.String(64))
    row_count: Mapped[int | None] = field(_l("Rows"), sa.BigInteger)
    error: Mapped[str | None] = field(_l("Error"), sa.Text)
    #: Who asked: "nightly", "operator:<id> <e-mail>", "staff:<id> <e-mail>" or "cli:<user>".
    requested_by: Mapped[str] = field(_l("Asked by"), sa.String(300))
    #: Retention removed the file (the row stays as the record).
    removed_at: Mapped[datetime | None] = field(_l("File removed at"))

    @property
    def downloadable(self) -> bool:
        return self.status is BackupStatus.SUCCEEDED and self.removed_at is None and bool(self.filename)

    def __repr__(self) -> str:
        return f"<TenantBackup {self.id} {self.tenant_slug} {self.status.value}>"
