"""Staff users and their roles; they live in the tenant schema (design.md §3)."""

from __future__ import annotations

import hashlib
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, relationship
from werkzeug.security import check_password_hash

from repairqc.crypto import hash_password
from repairqc.db import TenantBase, current_tenant
from repairqc.errors import DomainError
from repairqc.models_base import LabelledEnum, Timestamped, Versioned, enum_column, enum_labels, field
from repairqc.stores.models import Store


class Role(LabelledEnum):
    OWNER = "owner"
    QA_MANAGER = "qa_manager"
    INSPECTOR = "inspector"
    TRAINER = "trainer"
    STORE_MANAGER = "store_manager"
    FRONT_DESK = "front_desk"
    TECHNICIAN = "technician"
    AUDITOR = "auditor"

    @property
    def is_tenant_wide(self) -> bool:
        """HQ roles see every store; the others are granted per store."""
        return self in TENANT_WIDE_ROLES


enum_labels(
    {
        Role.OWNER: _l("Owner"),
        Role.QA_MANAGER: _l("QA manager"),
        Role.INSPECTOR: _l("Inspector"),
        Role.TRAINER: _l("Trainer (HR)"),
        Role.STORE_MANAGER: _l("Store manager"),
        Role.FRONT_DESK: _l("Front desk"),
        Role.TECHNICIAN: _l("Technician"),
        Role.AUDITOR: _l("Auditor"),
    }
)
TENANT_WIDE_ROLES = frozenset({Role.OWNER, Role.QA_MANAGER, Role.TRAINER, Role.AUDITOR})


class StaffUser(UserMixin, Timestamped, Versioned, TenantBase):
    __tablename__ = "staff_users"
    __label__ = _l("Staff user")
    __label_plural__ = _l("Staff users")
    __chapter__ = "ch3"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    #: Stored lower-case; unique within the provider.
    email: Mapped[str] = field(_l("Email"), sa.String(254), unique=True)
    full_name: Mapped[str] = field(_l("Full name"), sa.String(200))
    phone: Mapped[str | None] = field(_l("Phone"), sa.String(40))
    #: Never in a form: passwords change only through sign-up and the reset flow.
    password_hash: Mapped[str | None] = field(
        _l("Password hash"), sa.String(255), secret=True, info={"readonly": True}
    )
    locale: Mapped[str | None] = field(
        _l("Language"), sa.String(16), help=_l("Empty = the browser's language")
    )
    is_active: Mapped[bool] = field(_l("Active"), default=True)
    last_login_at: Mapped[datetime | None] = field(_l("Last sign-in"), info={"readonly": True})
    #: The account a platform operator uses during a support session (read-only, never signs in
    #: with a password, not counted against the plan). Set only by `billing.support`.
    is_platform_support: Mapped[bool] = field(
        _l("Platform support account"), default=False, server_default=sa.false(), info={"readonly": True}
    )

    roles: Mapped[list[RoleAssignment]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    def get_id(self) -> str:
        # Carries the tenant, so the session and the remember-me cookie work in this tenant only,
        # and a fingerprint of the password, so changing it ends every other session. The prefix
        # keeps staff ids apart from operators' (design.md §3).
        return f"staff:{current_tenant().id}:{self.id}:{self.credential_fingerprint()}"

    def credential_fingerprint(self) -> str:
        """Changes whenever the password does (sessions and reset links die with it)."""
        return hashlib.sha256((self.password_hash or "unset").encode()).hexdigest()[:16]

    def set_password(self, password: str) -> None:
        self.password_hash = hash_password(password)  # scrypt unless PASSWORD_HASH_METHOD says otherwise

    def check_password(self, password: str) -> bool:
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    @classmethod
    def store_scope(cls, store_ids: set[int]) -> sa.ColumnElement[bool]:
        # A store manager sees the people who hold a role in one of their stores.
        return sa.exists().where(RoleAssignment.user_id == cls.id, RoleAssignment.store_id.in_(store_ids))

    def __str__(self) -> str:
        return f"{self.full_name} <{self.email}>"


class RoleAssignment(Timestamped, TenantBase):
    """A role held by a user: HQ roles for the whole provider, the others for one store."""

    __tablename__ = "role_assignments"
    __label__ = _l("Role assignment")
    __label_plural__ = _l("Role assignments")
    __chapter__ = "ch3"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "role", "store_id"),
        sa.CheckConstraint(
            "(role IN ('owner', 'qa_manager', 'trainer', 'auditor') AND store_id IS NULL)"
            " OR (role NOT IN ('owner', 'qa_manager', 'trainer', 'auditor') AND store_id IS NOT NULL)",
            name="store_matches_role",
        ),
    )

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    user_id: Mapped[int] = field(_l("User"), sa.ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = field(_l("Role"), enum_column(Role))
    store_id: Mapped[int | None] = field(
        _l("Store"),
        sa.ForeignKey("stores.id"),
        index=True,
        help=_l("Required for store roles; empty for owner, QA manager, trainer and auditor"),
    )

    user: Mapped[StaffUser] = relationship(back_populates="roles")
    store: Mapped[Store | None] = relationship()

    @classmethod
    def store_scope(cls, store_ids: set[int]) -> sa.ColumnElement[bool]:
        return cls.store_id.in_(store_ids)

    def validate(self) -> None:
        """HQ roles cover every store; store roles need exactly one (the table's check)."""
        if self.role is None:
            return
        role = Role(self.role)
        has_store = self.store is not None or self.store_id is not None
        if role.is_tenant_wide and has_store:
            raise DomainError(
                _("%(role)s covers every store; leave the store empty.", role=role.label), field="store"
            )
        if not role.is_tenant_wide and not has_store:
            raise DomainError(
                _("%(role)s is held for one store; choose the store.", role=role.label), field="store"
            )

    def __str__(self) -> str:
        where = self.store.code if self.store else str(_l("all stores"))
        return f"{self.role.label} @ {where}"
