"""Operator accounts and the per-tenant rollup the console shows."""

from __future__ import annotations

import sqlalchemy as sa
from werkzeug.security import check_password_hash

from repairqc.accounts.services import _dummy_hash, normalise_email, validate_password
from repairqc.console.models import Operator
from repairqc.db import db, utcnow
from repairqc.errors import DomainError


def authenticate_operator(email: str, password: str) -> Operator | None:
    operator = db.control.execute(
        sa.select(Operator).where(Operator.email == normalise_email(email))
    ).scalar_one_or_none()
    if operator is None or not operator.is_active:
        check_password_hash(_dummy_hash(), password)
        return None
    if not operator.check_password(password):
        return None
    operator.last_login_at = utcnow()
    db.control.flush()
    return operator


def create_operator(email: str, full_name: str, password: str) -> Operator:
    email = normalise_email(email)
    validate_password(password)
    if db.control.execute(sa.select(Operator.id).where(Operator.email == email)).first():
        raise DomainError(f"an operator with e-mail {email} already exists")
    operator = Operator(email=email, full_name=full_name)
    operator.set_password(password)
    db.control.add(operator)
    db.control.flush()
    return operator


def refresh_rollups() -> int:
    """Enqueue `compute_tenant_rollup` in every active tenant; returns how many."""
    from repairqc.console.tasks import compute_tenant_rollup
    from repairqc.jobs import enqueue
    from repairqc.tenants.models import Tenant, TenantStatus

    tenants = (
        db.control.execute(sa.select(Tenant).where(Tenant.status == TenantStatus.ACTIVE)).scalars().all()
    )
    for tenant in tenants:
        enqueue(compute_tenant_rollup, tenant=tenant.ref)
    return len(tenants)
