"""Control plane: tenants and the host names that reach them (design.md §2)."""

from __future__ import annotations

import re
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from repairqc.db import ControlBase, TenantRef, utcnow
from repairqc.models_base import LabelledEnum, enum_labels
from repairqc.tenants import ddl

#: Slugs become sub-domains: lowercase DNS labels, no leading/trailing hyphen, not reserved.
SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
RESERVED_SLUGS = frozenset(
    {
        "www",
        "admin",
        "api",
        "app",
        "mail",
        "static",
        "console",
        "control",
        "tenant",
        "billing",
        "status",
        "help",
        "support",
        "signup",
        "login",
    }
)


class TenantStatus(LabelledEnum):
    PROVISIONING = "provisioning"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CANCELLED = "cancelled"
    FAILED = "failed"


enum_labels(
    {
        TenantStatus.PROVISIONING: _l("Being set up"),
        TenantStatus.ACTIVE: _l("Active"),
        TenantStatus.SUSPENDED: _l("Suspended"),
        TenantStatus.CANCELLED: _l("Cancelled"),
        TenantStatus.FAILED: _l("Set-up failed"),
    }
)


class Tenant(ControlBase):
    __tablename__ = "tenants"
    #: Ids are never reused, so a stale job or link for a deleted tenant cannot reach a new one.
    __table_args__ = {"sqlite_autoincrement": True}

    #: Immutable; the schema name is derived from it, never from the slug.
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[TenantStatus] = mapped_column(
        sa.Enum(TenantStatus, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]),
        default=TenantStatus.PROVISIONING,
    )
    #: Why provisioning failed, or why the tenant was suspended.
    status_reason: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    default_locale: Mapped[str] = mapped_column(sa.String(16), default="en")

    domains: Mapped[list[Domain]] = relationship(back_populates="tenant", cascade="all, delete-orphan")

    @property
    def schema(self) -> str:
        return ddl.schema_for_tenant_id(self.id)

    @property
    def ref(self) -> TenantRef:
        return TenantRef(id=self.id, slug=self.slug, schema=self.schema)

    def __repr__(self) -> str:
        return f"<Tenant {self.id} {self.slug} {self.status}>"


class Domain(ControlBase):
    """A host name that resolves to a tenant: `<slug>.<BASE_DOMAIN>` or a custom domain."""

    __tablename__ = "domains"

    id: Mapped[int] = mapped_column(primary_key=True)
    host: Mapped[str] = mapped_column(sa.String(253), unique=True)
    tenant_id: Mapped[int] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    is_primary: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    tenant: Mapped[Tenant] = relationship(back_populates="domains")

    def __repr__(self) -> str:
        return f"<Domain {self.host} -> {self.tenant_id}>"
