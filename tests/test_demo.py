"""`make run`'s demo tenant (`repairqc.demo.ensure_demo`) is made without errors on the embedded
default, and shows the screens of the later issues something to work on."""

from __future__ import annotations

import sqlalchemy as sa

from repairqc.console.models import Operator
from repairqc.db import db, tenant_context, unit_of_work
from repairqc.demo import DEMO_SLUG, OPERATOR_EMAIL, ensure_demo
from repairqc.tenants import services
from repairqc.tenants.models import Tenant


def test_the_demo_tenant_is_made_once_with_data_for_every_area(backend):
    from repairqc.dataquality.duplicates import find_duplicate_groups
    from repairqc.inspections.models import InspectionChecklist, InspectionPlan

    app = backend.app
    with app.app_context():
        try:
            with unit_of_work():
                logins = ensure_demo()
            with unit_of_work():
                assert ensure_demo() == logins  # a second `make run` changes nothing
            tenant = db.control.execute(sa.select(Tenant).where(Tenant.slug == DEMO_SLUG)).scalar_one()
            with tenant_context(tenant.ref):
                groups = find_duplicate_groups(None)
                assert any(len(group.customers) == 2 for group in groups)  # the customer met twice
                plans = db.session.scalars(sa.select(InspectionPlan.checklist)).all()
                assert InspectionChecklist.CONFIDENTIALITY in plans  # HB §7.3.2 check, stores exist
                db.session.remove()
        finally:
            with unit_of_work():
                if db.control.execute(sa.select(Tenant.id).where(Tenant.slug == DEMO_SLUG)).first():
                    services.delete_tenant(DEMO_SLUG)
                db.control.execute(sa.delete(Operator).where(Operator.email == OPERATOR_EMAIL))
