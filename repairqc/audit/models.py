"""AuditLog rows are written by `repairqc.audit.services`; nothing edits them afterwards."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped

from repairqc.db import TenantBase, utcnow
from repairqc.models_base import LabelledEnum, enum_column, enum_labels, field


class AuditAction(LabelledEnum):
    INSERT = "insert"
    UPDATE = "update"
    DELETE = "delete"


enum_labels(
    {AuditAction.INSERT: _l("Created"), AuditAction.UPDATE: _l("Changed"), AuditAction.DELETE: _l("Deleted")}
)


ACTOR_KINDS = {
    "staff": _l("Staff"),
    "operator": _l("Platform operator"),
    "system": _l("System"),
    "cli": _l("Command line"),
    "anonymous": _l("Anonymous"),
}


def record_type_label(table_name: str) -> str:
    """The model's label for a table name ("repair_orders" -> "Repair order")."""
    for mapper in TenantBase.registry.mappers:
        if mapper.class_.__tablename__ == table_name:
            return str(getattr(mapper.class_, "__label__", table_name))
    return table_name


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
    actor_kind: Mapped[str] = field(
        _l("Actor kind"), sa.String(16), info={"display": lambda kind: str(ACTOR_KINDS.get(kind, kind))}
    )
    actor_id: Mapped[int | None] = field(_l("Actor ID"))
    actor_name: Mapped[str] = field(_l("Who"), sa.String(254))
    action: Mapped[AuditAction] = field(_l("Action"), enum_column(AuditAction))
    table_name: Mapped[str] = field(_l("Record type"), sa.String(64), info={"display": record_type_label})
    row_id: Mapped[str] = field(_l("Record ID"), sa.String(64))
    before: Mapped[dict[str, Any] | None] = field(_l("Before"), sa.JSON)
    after: Mapped[dict[str, Any] | None] = field(_l("After"), sa.JSON)
    ip_address: Mapped[str | None] = field(_l("IP address"), sa.String(45))

    def __str__(self) -> str:
        when = f"{self.occurred_at:%Y-%m-%d %H:%M}"
        return f"{when} {self.actor_name} {self.action} {self.table_name}#{self.row_id}"
