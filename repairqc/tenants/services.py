"""Creating, suspending and deleting tenants; their host names; links into a tenant.

Provisioning is one transaction on PostgreSQL (schema + tables + migration stamp + first rows
+ the tenant's status), and a template-file copy renamed into place on SQLite. Either way a
failure leaves nothing half-built and the tenant ``failed`` with the reason (design.md §2).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from repairqc.db import CONTROL, TENANT, TenantBase, TenantRef, db, on_commit, tenant_context, utcnow
from repairqc.errors import DomainError
from repairqc.tenants import ddl, resolution
from repairqc.tenants.migrations import TenantMigrator, head, stamp_connection
from repairqc.tenants.models import RESERVED_SLUGS, SLUG_RE, Domain, Tenant, TenantStatus

logger = logging.getLogger(__name__)

HOST_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{1,63}$")

#: Called inside the provisioning transaction with the new tenant bound; adds its first rows.
Seeder = Callable[[], None]


class ProvisioningFailed(DomainError):
    status_code = 500


def migrator() -> TenantMigrator:
    """The app's migrator; on PostgreSQL it shares the app's connection pool."""
    engine = db.state.raw_control if db.backend == "postgresql" else None
    return TenantMigrator(
        current_app.config["DATABASE_URL"], current_app.config["TENANT_DATA_DIR"], engine=engine
    )


def get_tenant(slug: str) -> Tenant:
    tenant = db.control.execute(sa.select(Tenant).where(Tenant.slug == slug)).scalar_one_or_none()
    if tenant is None:
        raise DomainError(_("There is no tenant %(slug)s.", slug=slug), field="slug")
    return tenant


def validate_slug(slug: str) -> str:
    if not SLUG_RE.match(slug or ""):
        raise DomainError(
            _(
                "“%(slug)s” cannot be used as an address: use 1 to 40 lowercase letters, digits and "
                "hyphens, starting and ending with a letter or digit.",
                slug=slug,
            ),
            field="slug",
        )
    if slug in RESERVED_SLUGS:
        raise DomainError(_("“%(slug)s” is reserved; choose another address.", slug=slug), field="slug")
    if db.control.execute(sa.select(Tenant.id).where(Tenant.slug == slug)).first():
        raise DomainError(_("The address “%(slug)s” is taken.", slug=slug), field="slug")
    return slug


def validate_host(host: str) -> str:
    host = (host or "").strip().lower().rstrip(".")
    base = current_app.config["BASE_DOMAIN"]
    if not HOST_RE.match(host) or host in {base, f"www.{base}"}:
        raise DomainError(
            _("“%(host)s” is not a host name that can be given to a tenant.", host=host), field="host"
        )
    if db.control.execute(sa.select(Domain.id).where(Domain.host == host)).first():
        raise DomainError(_("The host name “%(host)s” already belongs to a tenant.", host=host), field="host")
    return host


def tenant_host(slug: str) -> str:
    return f"{slug}.{current_app.config['BASE_DOMAIN']}"


def create_tenant(slug: str, name: str, seed: Seeder | None = None, *, empty: bool = False) -> Tenant:
    """Register and provision a tenant; returns it active, or raises ProvisioningFailed.

    The tenant row is committed first (status ``provisioning``) so that its immutable id, and
    with it the schema name, exist before any schema does. `empty`: the schema only, without the
    first rows (standards, catalogues, `seed`): the target of a backup restore (issue #9).
    """
    if empty and seed is not None:
        raise ValueError("an empty tenant takes no seed")
    slug = (slug or "").strip().lower()
    name = (name or "").strip()
    validate_slug(slug)
    if not name:
        raise DomainError(_("The provider needs a name."), field="name")
    host = validate_host(tenant_host(slug))
    tenant = Tenant(slug=slug, name=name, status=TenantStatus.PROVISIONING)
    tenant.domains.append(Domain(host=host, is_primary=True))
    db.control.add(tenant)
    db.control.commit()

    def first_rows() -> None:
        # Every tenant starts with the handbook's standards as version 1 (HB ch.5, issue #3).
        from repairqc.standards.services import install_handbook_defaults

        install_handbook_defaults(utcnow().date())
        if seed is not None:
            seed()
        # HB §7.3.2: confidentiality training and the quarterly confidentiality check (the check's
        # plan once the tenant has stores: after the seed, which may make them).
        from repairqc.privacy.seed import ensure_confidentiality_catalogue

        ensure_confidentiality_catalogue(utcnow().date())

    try:
        provision(tenant, None if empty else first_rows)
    except Exception as exc:
        db.control.rollback()
        tenant.status = TenantStatus.FAILED
        tenant.status_reason = f"{type(exc).__name__}: {exc}"[:2000]
        tenant.status_changed_at = utcnow()
        db.control.commit()
        logger.exception("provisioning tenant %s failed", slug)
        raise ProvisioningFailed(
            _("Setting up %(slug)s failed: %(reason)s", slug=slug, reason=tenant.status_reason)
        ) from exc
    db.control.refresh(tenant)
    return tenant


def provision(tenant: Tenant, seed: Seeder | None = None) -> None:
    ref = tenant.ref
    if db.backend == "postgresql":
        _provision_postgresql(ref, seed)
    else:
        _provision_sqlite(ref, seed)
        db.control.execute(
            sa.update(Tenant)
            .where(Tenant.id == ref.id)
            .values(status=TenantStatus.ACTIVE, status_reason=None, status_changed_at=utcnow())
        )
        db.control.commit()


@contextlib.contextmanager
def _seeding(ref: TenantRef, connection: sa.Connection) -> Iterator[None]:
    """Bind the tenant and route its sessions through the provisioning connection."""
    db.pin(ref.schema, connection)
    try:
        with tenant_context(ref):
            yield
            if db.session.registry.has():
                # Releases the session's SAVEPOINT; the provisioning transaction still decides.
                db.session.commit()
    finally:
        if db.session.registry.has():
            db.session.remove()
        db.pin(ref.schema, None)


def _provision_postgresql(ref: TenantRef, seed: Seeder | None) -> None:
    with db.state.raw_control.begin() as conn:
        ddl.create_schema(conn, ref.schema)
        tenant_conn = conn.execution_options(schema_translate_map={TENANT: ref.schema, CONTROL: CONTROL})
        TenantBase.metadata.create_all(tenant_conn)
        stamp_connection(conn, "tenant", ref.schema)
        if seed is not None:
            with _seeding(ref, tenant_conn):
                seed()
        # The status flips in the same transaction that builds the schema: all or nothing.
        conn.execute(
            sa.update(Tenant.__table__)
            .where(Tenant.__table__.c.id == ref.id)
            .values(status=TenantStatus.ACTIVE.value, status_reason=None, status_changed_at=utcnow())
        )


def template_file() -> Path:
    """SQLite: the tenant template at the current head, built once by replaying every revision."""
    tenant_dir = Path(current_app.config["TENANT_DATA_DIR"])
    path = tenant_dir / "_templates" / f"tenant_{head('tenant')}.db"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_suffix(f".{uuid.uuid4().hex}.tmp")
        try:
            migrator().build_file(scratch)
            os.replace(scratch, path)
        finally:
            scratch.unlink(missing_ok=True)
    return path


def _provision_sqlite(ref: TenantRef, seed: Seeder | None) -> None:
    from repairqc.db import _sqlite_tenant_engine

    final = db.state.tenant_file(ref.schema)
    if final.exists():
        raise FileExistsError(f"{final} already exists")
    scratch = final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")
    shutil.copyfile(template_file(), scratch)
    try:
        if seed is not None:
            engine = _sqlite_tenant_engine(str(scratch), ref.schema)
            try:
                with engine.connect() as conn, conn.begin(), _seeding(ref, conn):
                    seed()
            finally:
                engine.dispose()
        os.replace(scratch, final)  # the tenant appears whole or not at all
    finally:
        scratch.unlink(missing_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(f"{scratch}{suffix}").unlink(missing_ok=True)


def set_status(slug: str, status: TenantStatus, reason: str | None = None) -> Tenant:
    tenant = get_tenant(slug)
    if tenant.status in {TenantStatus.PROVISIONING, TenantStatus.FAILED} and status is TenantStatus.ACTIVE:
        raise DomainError(_("%(slug)s was never provisioned; delete it and create it again.", slug=slug))
    tenant.status = status
    tenant.status_reason = reason
    tenant.status_changed_at = utcnow()
    db.control.flush()
    resolution.clear_cache()
    return tenant


def add_domain(slug: str, host: str, primary: bool = False) -> Domain:
    tenant = get_tenant(slug)
    domain = Domain(host=validate_host(host), tenant=tenant, is_primary=False)
    db.control.add(domain)
    if primary:
        for other in tenant.domains:
            other.is_primary = other is domain
    db.control.flush()
    resolution.clear_cache()
    return domain


def delete_tenant(slug: str) -> None:
    """Remove a tenant and all its data: its schema (or file) and its control-plane rows."""
    tenant = get_tenant(slug)
    schema = tenant.schema
    if db.backend == "postgresql":
        conn = db.control.connection()
        ddl.drop_schema(conn, schema)  # same transaction as the row delete below
        db.control.delete(tenant)
        db.control.flush()
    else:
        db.control.delete(tenant)
        db.control.flush()
        state = db.state

        def remove_files() -> None:  # only once the row is gone for good
            state.forget_tenant(schema)
            for suffix in ("", "-wal", "-shm"):
                Path(f"{state.tenant_file(schema)}{suffix}").unlink(missing_ok=True)

        on_commit(remove_files)
    resolution.clear_cache()


def tenant_url(path: str, tenant: TenantRef | None = None) -> str:
    """An absolute link into the current (or given) tenant, for e-mails and jobs."""
    from repairqc.db import current_tenant

    ref = tenant or current_tenant()
    host = db.control.execute(
        sa.select(Domain.host).where(Domain.tenant_id == ref.id).order_by(Domain.is_primary.desc(), Domain.id)
    ).scalars().first() or tenant_host(ref.slug)
    config = current_app.config
    port = f":{config['SERVER_PORT']}" if config["SERVER_PORT"] else ""
    return f"{config['PREFERRED_URL_SCHEME']}://{host}{port}{path}"
