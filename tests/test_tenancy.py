"""Tenant binding rules (design.md §2, tenancy.md §6.8) and resolution from the Host header."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from repairqc.db import ControlBase, NoTenantBound, TenantBase, TenantSwitchError, db, tenant_context
from repairqc.repairs.models import Customer
from repairqc.stores.models import Store
from repairqc.tenants import ddl, resolution, services
from repairqc.tenants.models import TenantStatus
from tests.conftest import in_tenant


def test_tenant_query_with_no_tenant_bound_raises(app):
    with app.app_context(), pytest.raises(NoTenantBound):
        db.session.execute(sa.select(Store)).all()


def test_unmapped_tenant_token_fails_on_the_database(app):
    """Without a translate map the symbolic schema `tenant` names nothing: no silent reads."""
    with app.app_context(), db.state.raw_control.connect() as conn, pytest.raises(sa.exc.DBAPIError):
        conn.execute(sa.select(Store)).all()


def test_a_session_never_spans_two_tenants(app, alpha, beta):
    with app.app_context():
        with tenant_context(alpha.ref):
            db.session.execute(sa.select(Store)).all()
        with tenant_context(beta.ref), pytest.raises(TenantSwitchError):
            db.session.execute(sa.select(Store)).all()


def test_each_tenant_reads_its_own_rows(app, alpha, beta):
    for tenant in (alpha, beta):
        with in_tenant(app, tenant):
            names = db.session.execute(sa.select(Customer.full_name)).scalars().all()
            assert names and all(tenant.sentinel in name for name in names)


def test_no_foreign_key_from_tenant_tables_to_the_control_plane():
    for table in TenantBase.metadata.tables.values():
        for fk in table.foreign_keys:
            assert fk.column.table.schema == "tenant", f"{table.name} -> {fk.target_fullname}"


def test_no_table_name_shared_between_planes():
    control = {t.name for t in ControlBase.metadata.tables.values()}
    tenant = {t.name for t in TenantBase.metadata.tables.values()}
    assert not control & tenant


@pytest.mark.parametrize("bad", ["public", "T_1", "t_1; drop table x", "t_", "control", "t_1.x"])
def test_schema_names_are_checked_before_reaching_sql(bad):
    with pytest.raises(ddl.InvalidSchemaName):
        ddl.checked(bad)


def test_tenant_schema_comes_from_the_immutable_id():
    assert ddl.schema_for_tenant_id(42) == "t_000042"


# --- resolution -------------------------------------------------------------------------------------


def test_unknown_host_gets_a_404_page(client):
    page = client.get("/login", base_url="http://nobody.localhost")
    assert page.status_code == 404
    assert "No repair service here" in page.text


def test_suspended_tenant_gets_a_clear_page_and_no_data(app, client, alpha):
    with app.app_context():
        services.set_status(alpha.ref.slug, TenantStatus.SUSPENDED, "unpaid invoice")
        db.control.commit()
    try:
        page = client.get("/login", base_url=f"http://{alpha.host}")
        assert page.status_code == 403
        assert "suspended" in page.text and "unpaid invoice" in page.text
        assert client.get("/admin/customers/", base_url=f"http://{alpha.host}").status_code == 403
    finally:
        with app.app_context():
            services.set_status(alpha.ref.slug, TenantStatus.ACTIVE)
            db.control.commit()
    assert client.get("/login", base_url=f"http://{alpha.host}").status_code == 200


def test_client_supplied_tenant_headers_are_ignored(client, alpha, beta):
    page = client.get(
        "/login",
        base_url=f"http://{alpha.host}",
        headers={"X-Tenant": beta.ref.slug, "X-Forwarded-Host": beta.host},
    )
    assert "Tenant A" in page.text and "Tenant B" not in page.text


def test_platform_host_is_not_a_tenant(client, alpha):
    assert client.get("/login", base_url="http://localhost").status_code == 404
    # The bare domain is the public side: pricing and sign-up (operators sign in at /console/).
    assert client.get("/", base_url="http://localhost").headers["Location"].endswith("/pricing")
    assert client.get("/pricing", base_url="http://localhost").status_code == 200
    assert client.get("/pricing", base_url=f"http://{alpha.host}").status_code == 404


def test_host_matching_ignores_case_port_and_trailing_dot(client, alpha):
    host = alpha.host.upper() + ".:8080"
    assert client.get("/login", base_url=f"http://{host}").status_code == 200


def test_healthz_answers_on_any_host(client, alpha):
    for host in ("localhost", alpha.host, "unknown.localhost"):
        response = client.get("/healthz", base_url=f"http://{host}")
        assert response.status_code == 200
        assert response.json["database"] == "ok"


def test_resolution_cache_is_cleared_by_status_changes(app, alpha):
    with app.test_request_context(base_url=f"http://{alpha.host}"):
        assert resolution.lookup(alpha.host).status is TenantStatus.ACTIVE
        services.set_status(alpha.ref.slug, TenantStatus.SUSPENDED)
        db.control.commit()
        try:
            assert resolution.lookup(alpha.host).status is TenantStatus.SUSPENDED
        finally:
            services.set_status(alpha.ref.slug, TenantStatus.ACTIVE)
            db.control.commit()
