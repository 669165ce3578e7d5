"""Standard versions and the chain/store overrides of their service targets."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import event
from sqlalchemy.orm import Mapped, relationship

from repairqc.accounts.models import StaffUser
from repairqc.db import TenantBase, TenantSession
from repairqc.errors import DomainError
from repairqc.models_base import LabelledEnum, Timestamped, Versioned, enum_column, enum_labels, field
from repairqc.stores.models import Chain, Store


class StandardStatus(LabelledEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    SUPERSEDED = "superseded"


enum_labels({
    StandardStatus.DRAFT: _l("Draft"),
    StandardStatus.PUBLISHED: _l("Published"),
    StandardStatus.SUPERSEDED: _l("Superseded"),
})  # fmt: skip


class StandardVersion(Timestamped, TenantBase):
    """One version of the provider's standards; immutable once published (HB §2.1.1, §5.1.2)."""

    __tablename__ = "standard_versions"
    __label__ = _l("Standard version")
    __label_plural__ = _l("Standard versions")
    __chapter__ = "ch5"
    __table_args__ = (
        sa.CheckConstraint("status = 'draft' OR effective_from IS NOT NULL", name="published_has_date"),
    )

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    number: Mapped[int] = field(_l("Version"), unique=True)
    #: Changed only by `standards.services` (publish); never by a form.
    status: Mapped[StandardStatus] = field(
        _l("Status"), enum_column(StandardStatus), default=StandardStatus.DRAFT, info={"readonly": True}
    )
    effective_from: Mapped[date | None] = field(_l("Effective from"), info={"readonly": True})
    published_at: Mapped[datetime | None] = field(_l("Published at"), info={"readonly": True})
    published_by_id: Mapped[int | None] = field(
        _l("Published by"), sa.ForeignKey("staff_users.id"), info={"readonly": True}
    )
    based_on_id: Mapped[int | None] = field(
        _l("Based on"), sa.ForeignKey("standard_versions.id"), info={"readonly": True}
    )
    notes: Mapped[str | None] = field(_l("What changed"), sa.Text)
    #: The whole standard set, validated by `standards.schema.StandardDocument`.
    document: Mapped[dict[str, Any]] = field(_l("Contents"), sa.JSON, info={"readonly": True})

    published_by: Mapped[StaffUser | None] = relationship()
    based_on: Mapped[StandardVersion | None] = relationship(remote_side=[id])

    def validate(self) -> None:
        """Admin edits: a published or superseded version is immutable (start a new draft)."""
        history = sa.inspect(self).attrs.status.history
        stored = history.deleted[0] if history.deleted else self.status
        if self.id is not None and stored is not StandardStatus.DRAFT:
            raise DomainError(
                _("Version %(n)s is published and cannot change; start a new draft.", n=self.number)
            )

    def __str__(self) -> str:
        return f"v{self.number} ({self.status.label})"


class ServiceTargetOverride(Timestamped, Versioned, TenantBase):
    """A chain's or a store's own value for one service target (store beats chain beats standard)."""

    __tablename__ = "service_target_overrides"
    __label__ = _l("Service target override")
    __label_plural__ = _l("Service target overrides")
    __chapter__ = "ch5"
    __table_args__ = (
        sa.CheckConstraint("(chain_id IS NULL) <> (store_id IS NULL)", name="one_scope"),
        # Two constraints, not one over (chain_id, store_id, target): one of the ids is always
        # NULL, and NULLs never collide, so that one would let duplicates through.
        sa.UniqueConstraint("store_id", "target"),
        sa.UniqueConstraint("chain_id", "target"),
    )

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    chain_id: Mapped[int | None] = field(_l("Chain"), sa.ForeignKey("chains.id"), index=True)
    store_id: Mapped[int | None] = field(_l("Store"), sa.ForeignKey("stores.id"), index=True)
    target: Mapped[str] = field(_l("Target"), sa.String(64))
    value: Mapped[float] = field(_l("Value"))
    reason: Mapped[str | None] = field(_l("Reason"), sa.Text)

    chain: Mapped[Chain | None] = relationship()
    store: Mapped[Store | None] = relationship()

    @classmethod
    def store_scope(cls, store_ids: set[int]) -> sa.ColumnElement[bool]:
        # A store's own overrides and those of the chains its stores belong to.
        # Each branch tests for NULL first, so the condition is never "unknown" (NOT must work).
        chains = sa.select(Store.chain_id).where(Store.id.in_(store_ids))
        return sa.or_(
            sa.and_(cls.store_id.is_not(None), cls.store_id.in_(store_ids)),
            sa.and_(cls.chain_id.is_not(None), cls.chain_id.in_(chains)),
        )

    def validate(self) -> None:
        from repairqc.standards.schema import OVERRIDABLE_TARGETS

        if self.target not in OVERRIDABLE_TARGETS:
            raise DomainError(
                _(
                    "“%(target)s” cannot be overridden; choose one of: %(names)s.",
                    target=self.target,
                    names=", ".join(OVERRIDABLE_TARGETS),
                ),
                field="target",
            )
        has_chain = self.chain is not None or self.chain_id is not None
        has_store = self.store is not None or self.store_id is not None
        if has_chain == has_store:
            raise DomainError(_("Choose either a chain or a store."), field="store")
        if self.value is None or self.value < 0 or (self.target.endswith("_pct") and self.value > 100):
            raise DomainError(
                _("The value is out of range for %(target)s.", target=self.target), field="value"
            )

    def __str__(self) -> str:
        scope = self.store.code if self.store else (self.chain.code if self.chain else "?")
        return f"{scope}: {self.target} = {self.value:g}"


@event.listens_for(TenantSession, "before_flush")
def _published_versions_are_immutable(session, flush_context, instances) -> None:
    """Backstop for every code path: a published version may only become superseded."""
    for obj in session.dirty:
        if not isinstance(obj, StandardVersion):
            continue
        state = sa.inspect(obj)
        status_history = state.attrs.status.history
        stored = status_history.deleted[0] if status_history.deleted else obj.status
        if stored is StandardStatus.DRAFT:
            continue
        changed = {attr.key for attr in state.attrs if attr.history.has_changes()} - {"status", "updated_at"}
        if changed or obj.status is StandardStatus.DRAFT:
            raise DomainError(
                _("Version %(n)s is published and cannot change; start a new draft.", n=obj.number)
            )
    for obj in session.deleted:
        if isinstance(obj, StandardVersion) and obj.status is not StandardStatus.DRAFT:
            raise DomainError(_("Version %(n)s is published and cannot be deleted.", n=obj.number))
