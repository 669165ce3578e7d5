"""The plan-limit backstop: whatever code path adds or re-activates a store or a staff account
(admin, first-run page, services, imports), the flush that would take the tenant past its plan
is refused with `PlanLimitReached`. Screens check earlier to show the message in place."""

from __future__ import annotations

import sqlalchemy as sa

from repairqc.accounts.models import StaffUser
from repairqc.db import TenantSession
from repairqc.stores.models import Store


def _becomes_active(session: sa.orm.Session, obj: object) -> bool:
    if obj in session.new:
        # None until the INSERT applies the column default, which is "active".
        return getattr(obj, "is_active", None) is not False
    if not getattr(obj, "is_active", False):
        return False
    history = sa.inspect(obj).attrs.is_active.history
    return bool(history.deleted) and not any(history.deleted)


@sa.event.listens_for(TenantSession, "before_flush")
def _refuse_growth_past_the_plan(session: sa.orm.Session, flush_context, instances) -> None:
    candidates = [*session.new, *session.dirty]
    stores = sum(1 for obj in candidates if isinstance(obj, Store) and _becomes_active(session, obj))
    staff = sum(
        1
        for obj in candidates
        if isinstance(obj, StaffUser) and not obj.is_platform_support and _becomes_active(session, obj)
    )
    if stores or staff:
        from repairqc.billing.services import check_limits

        check_limits(stores, staff)
