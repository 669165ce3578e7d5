"""The tenants CLI: clear errors, confirmation before deleting, suspend/resume, owner accounts."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from repairqc.accounts.models import StaffUser
from repairqc.db import db, tenant_context
from repairqc.tenants.models import Tenant, TenantStatus


def run(app, *args, input=None):
    return app.test_cli_runner().invoke(args=list(args), input=input)


def tenant(app, slug: str) -> Tenant | None:
    with app.app_context():
        return db.control.execute(sa.select(Tenant).where(Tenant.slug == slug)).scalar_one_or_none()


def test_create_with_owner_then_delete_after_confirmation(backend):
    app = backend.app
    slug = f"cli{uuid.uuid4().hex[:6]}"
    created = run(
        app, "tenants", "create", slug, "--name", "CLI Repairs", "--owner-email", "boss@cli.example.com"
    )
    assert created.exit_code == 0, created.output
    password = created.output.split("boss@cli.example.com / ")[1].split()[0]
    with app.app_context(), tenant_context(tenant(app, slug).ref):
        owner = db.session.execute(sa.select(StaffUser)).scalar_one()
        assert owner.check_password(password)
        assert [a.role.value for a in owner.roles] == ["owner"]
    assert slug in run(app, "tenants", "list").output

    refused = run(app, "tenants", "delete", slug, input="wrong\n")
    assert refused.exit_code == 1 and "nothing deleted" in refused.output
    assert tenant(app, slug) is not None
    confirmed = run(app, "tenants", "delete", slug, input=f"{slug}\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert tenant(app, slug) is None


def test_suspend_and_resume(backend):
    app = backend.app
    slug = backend.alpha.ref.slug
    try:
        assert run(app, "tenants", "suspend", slug, "--reason", "audit").exit_code == 0
        assert tenant(app, slug).status is TenantStatus.SUSPENDED
        assert app.test_client().get("/login", base_url=f"http://{backend.alpha.host}").status_code == 403
    finally:
        assert run(app, "tenants", "resume", slug).exit_code == 0
    assert tenant(app, slug).status is TenantStatus.ACTIVE


def test_bad_input_gets_a_message_and_exit_code_1(backend):
    app = backend.app
    for args, message in [
        (("tenants", "create", "Bad Slug!", "--name", "X"), "cannot be used as an address"),
        (("tenants", "create", "www", "--name", "X"), "is reserved"),
        (("tenants", "create", backend.alpha.ref.slug, "--name", "X"), "is taken"),
        (("tenants", "suspend", "no-such-tenant"), "There is no tenant"),
        (("tenants", "delete", "no-such-tenant", "--yes"), "There is no tenant"),
        (("tenants", "add-domain", backend.alpha.ref.slug, backend.beta.host), "already belongs"),
    ]:
        result = run(app, *args)
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output
        assert "Traceback" not in result.output


def test_operator_create_refuses_a_short_password(backend):
    result = run(
        backend.app,
        "operators",
        "create",
        f"op{uuid.uuid4().hex[:6]}@example.com",
        "--name",
        "Op",
        "--password",
        "short",
    )
    assert result.exit_code == 1 and "at least 10 characters" in result.output


def test_an_empty_tenant_takes_a_backup_restored_over_it(backend, tmp_path):
    """`tenants create --empty` is the "restore over an empty tenant" target of issue #9."""
    app = backend.app
    source, target = f"src{uuid.uuid4().hex[:6]}", f"emp{uuid.uuid4().hex[:6]}"
    path = tmp_path / "source.zip"
    try:
        assert (
            run(
                app, "tenants", "create", source, "--name", "Source", "--owner-email", "o@src.example.com"
            ).exit_code
            == 0
        )
        refused = run(
            app, "tenants", "create", target, "--name", "T", "--empty", "--owner-email", "x@t.example.com"
        )
        assert refused.exit_code == 2 and "--empty" in refused.output
        assert run(app, "tenants", "create", target, "--name", "Target", "--empty").exit_code == 0
        with app.app_context(), tenant_context(tenant(app, target).ref):
            assert db.session.execute(sa.select(StaffUser)).first() is None  # no first rows at all
        assert run(app, "backups", "create", source, "-o", str(path)).exit_code == 0
        restored = run(app, "backups", "restore", str(path), "--into", target)
        assert restored.exit_code == 0, restored.output
        with app.app_context(), tenant_context(tenant(app, target).ref):
            (owner,) = db.session.execute(sa.select(StaffUser)).scalars()
            assert owner.email == "o@src.example.com"
        # A seeded tenant is not empty: refused, nothing changed.
        again = run(app, "backups", "restore", str(path), "--into", source)
        assert again.exit_code != 0 and "already holds data" in again.output
    finally:
        for slug in (source, target):
            if tenant(app, slug) is not None:
                run(app, "tenants", "delete", slug, input=f"{slug}\n")
