"""Provisioning: all or nothing, clear errors for bad input, deletion removes everything."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from repairqc.accounts.models import Role, StaffUser
from repairqc.accounts.services import create_staff_user
from repairqc.db import db, tenant_context, unit_of_work
from repairqc.errors import DomainError
from repairqc.tenants import ddl, services
from repairqc.tenants.migrations import head
from repairqc.tenants.models import Domain, Tenant, TenantStatus


def unique_slug(prefix: str = "p") -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def schema_or_file_exists(schema: str) -> bool:
    if db.backend == "postgresql":
        with db.state.raw_control.connect() as conn:
            return ddl.schema_exists(conn, schema)
    return db.state.tenant_file(schema).exists()


def tenant_row(slug: str) -> Tenant | None:
    db.control.expire_all()
    return db.control.execute(sa.select(Tenant).where(Tenant.slug == slug)).scalar_one_or_none()


@pytest.fixture
def control(backend):
    """An app context on the session app; throwaway tenants are deleted by the tests."""
    with backend.app.app_context():
        yield backend.app


def test_create_tenant_builds_a_schema_at_head_with_its_owner(control):
    slug = unique_slug()
    with unit_of_work():
        tenant = services.create_tenant(
            slug,
            "Fix-It Ltd",
            seed=lambda: create_staff_user(
                "boss@fixit.example.com", "Boss", "a-long-password", roles=[(Role.OWNER, None)]
            ),
        )
    try:
        assert tenant.status is TenantStatus.ACTIVE
        assert schema_or_file_exists(tenant.schema)
        assert services.migrator().revisions([tenant.schema]) == {tenant.schema: head("tenant")}
        assert [d.host for d in tenant.domains] == [f"{slug}.localhost"]
        with tenant_context(tenant.ref):
            owner = db.session.execute(sa.select(StaffUser)).scalar_one()
            assert owner.email == "boss@fixit.example.com" and owner.check_password("a-long-password")
            db.session.remove()
    finally:
        with unit_of_work():
            services.delete_tenant(slug)
    assert tenant_row(slug) is None
    assert not schema_or_file_exists(tenant.schema)


def test_failed_provisioning_leaves_nothing_half_built(control):
    slug = unique_slug()

    def broken_seed() -> None:
        create_staff_user("first@x.example.com", "First", "a-long-password")
        raise RuntimeError("disk on fire")

    with pytest.raises(services.ProvisioningFailed, match="disk on fire"):
        services.create_tenant(slug, "Broken Ltd", seed=broken_seed)
    tenant = tenant_row(slug)
    try:
        assert tenant.status is TenantStatus.FAILED
        assert "disk on fire" in tenant.status_reason
        assert not schema_or_file_exists(tenant.schema)
        leftovers = list(Path(db.state.tenant_dir).glob(f".{tenant.schema}*"))
        assert leftovers == []
    finally:
        with unit_of_work():
            services.delete_tenant(slug)


def test_tenant_ids_are_never_reused(control):
    slug = unique_slug()
    with unit_of_work():
        first = services.create_tenant(slug, "Once Ltd").id
        services.delete_tenant(slug)
    with unit_of_work():
        second = services.create_tenant(slug, "Twice Ltd").id
        services.delete_tenant(slug)
    assert second > first


def test_failed_tenant_host_shows_not_found(control, backend):
    slug = unique_slug()

    def broken_seed() -> None:
        raise RuntimeError("nope")

    with pytest.raises(services.ProvisioningFailed):
        services.create_tenant(slug, "Broken Ltd", seed=broken_seed)
    try:
        page = backend.app.test_client().get("/login", base_url=f"http://{slug}.localhost")
        assert page.status_code == 404
    finally:
        with unit_of_work():
            services.delete_tenant(slug)


@pytest.mark.parametrize(
    ("slug", "message"),
    [
        ("Bad_Slug", "cannot be used as an address"),
        ("-leading", "cannot be used as an address"),
        ("a" * 41, "cannot be used as an address"),
        ("", "cannot be used as an address"),
        ("www", "is reserved"),
        ("admin", "is reserved"),
    ],
)
def test_bad_slugs_are_refused_and_nothing_is_written(control, slug, message):
    before = db.control.execute(sa.select(sa.func.count()).select_from(Tenant)).scalar()
    with pytest.raises(DomainError, match=message) as error:
        services.create_tenant(slug, "Name")
    assert error.value.field == "slug"
    db.control.rollback()
    assert db.control.execute(sa.select(sa.func.count()).select_from(Tenant)).scalar() == before


def test_taken_slug_and_duplicate_domain_are_refused(control, alpha, beta):
    with pytest.raises(DomainError, match="is taken"):
        services.create_tenant(alpha.ref.slug, "Copycat")
    with pytest.raises(DomainError, match="already belongs to a tenant"):
        services.add_domain(alpha.ref.slug, beta.host)
    with pytest.raises(DomainError, match="not a host name"):
        services.add_domain(alpha.ref.slug, "not a host!")
    db.control.rollback()
    hosts = db.control.execute(sa.select(Domain.host).where(Domain.tenant_id == alpha.ref.id)).scalars().all()
    assert hosts == [alpha.host]


def test_custom_domain_resolves_to_its_tenant(control, backend, alpha):
    host = f"repairs-{uuid.uuid4().hex[:6]}.example.com"
    with unit_of_work():
        services.add_domain(alpha.ref.slug, host)
    try:
        page = backend.app.test_client().get("/login", base_url=f"http://{host}")
        assert page.status_code == 200 and "Tenant A" in page.text
    finally:
        with unit_of_work():
            db.control.execute(sa.delete(Domain).where(Domain.host == host))
        services.resolution.clear_cache()


def test_provisioning_a_tenant_whose_schema_already_exists_fails_cleanly(control):
    """A leftover schema/file with the next id must not be reused or overwritten."""
    slug = unique_slug()
    if db.backend == "postgresql":  # sequences never hand out an id twice
        last, called = db.control.execute(
            sa.text("SELECT last_value, is_called FROM control.tenants_id_seq")
        ).one()
        next_id = last + 1 if called else last
    else:
        seq = db.control.execute(sa.text("SELECT seq FROM sqlite_sequence WHERE name = 'tenants'")).scalar()
        next_id = (seq or 0) + 1
    schema = ddl.schema_for_tenant_id(next_id)
    if db.backend == "postgresql":
        with db.state.raw_control.begin() as conn:
            ddl.create_schema(conn, schema)
    else:
        db.state.tenant_file(schema).write_bytes(b"not a database")
    try:
        with pytest.raises(services.ProvisioningFailed):
            services.create_tenant(slug, "Clash Ltd")
        assert tenant_row(slug).status is TenantStatus.FAILED
    finally:
        with unit_of_work():
            if tenant_row(slug) is not None:
                services.delete_tenant(slug)
        if db.backend == "postgresql":
            with db.state.raw_control.begin() as conn:
                ddl.drop_schema(conn, schema)
        else:
            db.state.tenant_file(schema).unlink(missing_ok=True)
