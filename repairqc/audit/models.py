"""AuditLog rows are written by `repairqc.audit.services`; nothing edits them afterwards."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped

from repairqc.db import TenantBase, utcnow
from repairqc.models_base import enum_column, field


class AuditAction(enum.StrEnum):
    INSERT = "insert"
    UPDATE = "update"
    DELETE = "delete"


class AuditLog(TenantBase):
    __tablename__ = "audit_log"
    __label__ = _l("Audit log entry")
    __label_plural__ = _l("Audit log")
    __chapter__ = "ch7"
    __table_args__ = (sa.Index("ix_audit_log_entity", "table_name", "row_id"),)

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    occurred_at: Mapped[datetime] = field(_l("When"), default=utcnow, index=True)
    #: "staff", "operator", "system" or "cli"; with the id in that realm (no FK: operators live
    #: in the control plane, and a deleted user's history must stay).
    actor_kind: Mapped[str] = field(_l("Actor kind"), sa.String(16))
    actor_id: Mapped[int | None] = field(_l("Actor ID"))
    actor_name: Mapped[str] = field(_l("Who"), sa.String(254))
    action: Mapped[AuditAction] = field(_l("Action"), enum_column(AuditAction))
    table_name: Mapped[str] = field(_l("Record type"), sa.String(64))
    row_id: Mapped[str] = field(_l("Record ID"), sa.String(64))
    before: Mapped[dict[str, Any] | None] = field(_l("Before"), sa.JSON)
    after: Mapped[dict[str, Any] | None] = field(_l("After"), sa.JSON)
    ip_address: Mapped[str | None] = field(_l("IP address"), sa.String(45))

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.actor_name} {self.action} {self.table_name}#{self.row_id}"
