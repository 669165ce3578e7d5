"""The operators' console: tenants with figures computed inside each tenant by a job."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from repairqc.console.models import Operator, TenantRollup
from repairqc.console.services import create_operator
from repairqc.db import db, unit_of_work

PASSWORD = "operator-password-1"


def test_operator_refreshes_figures_and_sees_each_tenants_own_counts(backend):
    app, alpha, beta = backend.app, backend.alpha, backend.beta
    email = f"op{uuid.uuid4().hex[:6]}@example.com"
    with app.app_context(), unit_of_work():
        create_operator(email, "Op", PASSWORD)
    client = app.test_client()
    try:
        signed_in = client.post(
            "/console/login", base_url="http://localhost", data={"email": email, "password": PASSWORD}
        )
        assert signed_in.status_code == 302
        refreshed = client.post("/console/rollups", base_url="http://localhost", follow_redirects=True)
        assert refreshed.status_code == 200
        assert alpha.ref.slug in refreshed.text and beta.ref.slug in refreshed.text
        with app.app_context():
            rollups = {r.tenant_id: r for r in db.control.execute(sa.select(TenantRollup)).scalars()}
        # Seeds: alpha has 1 customer per store, beta 3, plus one workflow customer per store in
        # each; each job counted its own tenant.
        assert rollups[alpha.ref.id].customers == 4 and rollups[beta.ref.id].customers == 8
        assert rollups[alpha.ref.id].stores == rollups[beta.ref.id].stores == 2
        # Staff cannot reach the console from a tenant host.
        assert client.get("/console/", base_url=f"http://{alpha.host}").status_code == 404
    finally:
        with app.app_context(), unit_of_work():
            db.control.execute(sa.delete(TenantRollup))
            db.control.execute(sa.delete(Operator).where(Operator.email == email))
