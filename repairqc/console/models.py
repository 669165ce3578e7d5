"""Platform operators and the per-tenant figures their console reads (control plane)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from repairqc.db import ControlBase, utcnow


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
        self.password_hash = generate_password_hash(password)

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
