"""Platform operators, the per-tenant figures their console reads, and the standard templates
they offer to every tenant (control plane)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash

from repairqc.crypto import hash_password
from repairqc.db import ControlBase, utcnow
from repairqc.models_base import LabelledEnum, Timestamped, enum_column, enum_labels, field


class Operator(UserMixin, ControlBase):
    """Runs the platform; sees tenants, never tenant data (design.md §3)."""

    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    full_name: Mapped[str] = mapped_column(sa.String(200))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]

    def get_id(self) -> str:
        return f"operator:{self.id}"

    def set_password(self, password: str) -> None:
        self.password_hash = hash_password(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)


class TenantRollup(ControlBase):
    """Counts copied out of a tenant by a job, so the console never queries tenant schemas live.

    (tenancy.md §6.6: no cross-schema UNION for dashboards.)
    """

    __tablename__ = "tenant_rollups"

    tenant_id: Mapped[int] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    stores: Mapped[int] = mapped_column(default=0)
    staff_users: Mapped[int] = mapped_column(default=0)
    customers: Mapped[int] = mapped_column(default=0)
    repair_orders: Mapped[int] = mapped_column(default=0)
    open_repair_orders: Mapped[int] = mapped_column(default=0)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class StandardTemplate(Timestamped, ControlBase):
    """A ready-made standards document the operators offer; a tenant starts a draft from it.

    It lives in the control plane because it belongs to no tenant; tenants only copy its
    document into their own schema, so no tenant table ever references it.
    """

    __tablename__ = "standard_templates"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    #: Stable slug, shown to operators and written into the notes of drafts started from it.
    code: Mapped[str] = field(_l("Code"), sa.String(40), unique=True)
    name_en: Mapped[str] = field(_l("Name (English)"), sa.String(200))
    name_zh: Mapped[str] = field(_l("Name (Chinese)"), sa.String(200))
    description_en: Mapped[str | None] = field(_l("Description (English)"), sa.Text)
    description_zh: Mapped[str | None] = field(_l("Description (Chinese)"), sa.Text)
    #: A whole `standards.schema.StandardDocument`, validated on upload, without attachments.
    document: Mapped[dict[str, Any]] = field(_l("Contents"), sa.JSON)
    #: Only active templates are offered to tenants.
    is_active: Mapped[bool] = field(_l("Offered to tenants"), default=False)
    created_by_id: Mapped[int | None] = field(
        _l("Uploaded by"), sa.ForeignKey("operators.id", ondelete="SET NULL")
    )

    created_by: Mapped[Operator | None] = relationship()

    @property
    def name(self) -> str:
        """The name in the current language."""
        return in_current_language(self.name_en, self.name_zh) or self.code

    @property
    def description(self) -> str | None:
        return in_current_language(self.description_en, self.description_zh)

    def __repr__(self) -> str:
        return f"<StandardTemplate {self.code} active={self.is_active}>"


class ExportStatus(LabelledEnum):
    QUEUED = "queued"
    DONE = "done"
    FAILED = "failed"


enum_labels(
    {
        ExportStatus.QUEUED: _l("Being written"),
        ExportStatus.DONE: _l("Ready"),
        ExportStatus.FAILED: _l("Failed"),
    }
)


class TenantExport(ControlBase):
    """One export of a tenant's data (tenants/export.py), asked for by an operator.

    The archive lives in EXPORT_DIR under `filename`. The row outlives the tenant (who asked,
    when, for which address) so the export of a deleted tenant can still be handed over.
    """

    __tablename__ = "tenant_exports"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("tenants.id", ondelete="SET NULL"), index=True
    )
    #: Kept as written: the tenant row may be deleted after the export.
    tenant_slug: Mapped[str] = mapped_column(sa.String(63))
    requested_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("operators.id", ondelete="SET NULL"))
    status: Mapped[ExportStatus] = mapped_column(enum_column(ExportStatus), default=ExportStatus.QUEUED)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    #: Name of the archive inside EXPORT_DIR; set when it is written.
    filename: Mapped[str | None] = mapped_column(sa.String(200))
    size: Mapped[int | None] = mapped_column(sa.BigInteger)
    sha256: Mapped[str | None] = mapped_column(sa.String(64))
    tables: Mapped[int | None]
    rows: Mapped[int | None]
    files: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(sa.Text)
    #: The archive was removed (by an operator, or EXPORT_RETENTION_DAYS after it was written).
    removed_at: Mapped[datetime | None]

    requested_by: Mapped[Operator | None] = relationship()

    @property
    def downloadable(self) -> bool:
        return self.status is ExportStatus.DONE and self.removed_at is None


def in_current_language(en: str | None, zh: str | None) -> str | None:
    """The text for the user's language, falling back to the other one when it is missing."""
    first, second = (zh, en) if str(get_locale()).startswith("zh") else (en, zh)
    return first or second
