"""Who may change whose account: nobody manages a rank above their own.

The permission matrix says a trainer (HR) edits staff accounts and role assignments; without
this guard that would include the owner's account (change its e-mail, reset the password, take
it over) and granting themselves the owner role. Rules:

* accounts holding a provider-wide role (owner, QA manager, trainer, auditor), and assignments
  of those roles, are managed by an owner only;
* the last active owner cannot be removed, deactivated or stripped of the role (no lock-out).
"""

from __future__ import annotations

import sqlalchemy as sa

from repairqc.accounts.models import TENANT_WIDE_ROLES, Role, RoleAssignment, StaffUser
from repairqc.accounts.permissions import Action, Grants
from repairqc.db import TenantBase, db


def _stored_roles(user_id: int | None) -> set[Role]:
    if user_id is None:
        return set()
    rows = db.session.execute(
        sa.select(RoleAssignment.role).where(RoleAssignment.user_id == user_id)
    ).scalars()
    return {Role(r) for r in rows}


def _active_owner_count() -> int:
    return db.session.execute(
        sa.select(sa.func.count(sa.distinct(StaffUser.id)))
        .join(RoleAssignment, RoleAssignment.user_id == StaffUser.id)
        .where(RoleAssignment.role == Role.OWNER, StaffUser.is_active.is_(True))
    ).scalar_one()


def _is_last_owner(user_id: int | None) -> bool:
    return Role.OWNER in _stored_roles(user_id) and _active_owner_count() <= 1


def _stored_role(assignment_id: int | None) -> Role | None:
    if assignment_id is None:
        return None
    role = db.session.execute(
        sa.select(RoleAssignment.role).where(RoleAssignment.id == assignment_id)
    ).scalar()
    return Role(role) if role is not None else None


def account_change_allowed(obj: TenantBase, action: Action, grants: Grants) -> bool:
    if action in (Action.VIEW, Action.EXPORT) or not isinstance(obj, StaffUser | RoleAssignment):
        return True
    # Runs mid-edit (after the form filled the object): read the stored state, flush nothing.
    with db.session.no_autoflush:
        return _account_change_allowed(obj, action, Role.OWNER in grants.tenant_roles)


def _account_change_allowed(obj: StaffUser | RoleAssignment, action: Action, is_owner: bool) -> bool:
    if isinstance(obj, StaffUser):
        if not is_owner and any(role.is_tenant_wide for role in _stored_roles(obj.id)):
            return False
        return not (_is_last_owner(obj.id) and (action is Action.DELETE or not obj.is_active))

    new_role = Role(obj.role) if obj.role is not None else None
    old_role = _stored_role(obj.id)
    user_id = obj.user.id if obj.user is not None else obj.user_id
    if not is_owner:
        touches_hq = {new_role, old_role} & set(TENANT_WIDE_ROLES)
        if touches_hq or any(role.is_tenant_wide for role in _stored_roles(user_id)):
            return False
    removes_an_owner = old_role is Role.OWNER and (action is Action.DELETE or new_role is not Role.OWNER)
    return not (removes_an_owner and _active_owner_count() <= 1)
