"""`flask backups ...`: make, verify, restore and list tenant backups (docs/backups.md).

For whoever runs the servers: any tenant, whatever its status. `create` writes a file where
asked (or into BACKUP_DIR, recorded like the nightly ones); `restore` refuses anything it has
not fully verified and changes nothing when it refuses.
"""

from __future__ import annotations

import getpass
from pathlib import Path

import click
from flask.cli import AppGroup

from repairqc.audit.services import Actor, acting_as
from repairqc.backups import format as backup_format
from repairqc.backups import services
from repairqc.backups.models import BackupKind, BackupStatus
from repairqc.db import db, unit_of_work
from repairqc.errors import DomainError

backups_cli = AppGroup("backups", help="Back up, verify, restore and list tenant backups.")


def _who() -> str:
    return f"cli:{getpass.getuser()}"


def _fail(exc: DomainError) -> click.ClickException:
    return click.ClickException(exc.message)


@backups_cli.command("create")
@click.argument("slug")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the file here instead of BACKUP_DIR.",
)
def create(slug: str, output: str | None) -> None:
    """Back up tenant SLUG now (into BACKUP_DIR, recorded, unless -o names a file)."""
    from repairqc.tenants.services import get_tenant

    try:
        with acting_as(Actor("cli", None, _who())), unit_of_work():
            tenant = get_tenant(slug)
            if output is None:
                backup = services.back_up_tenant(tenant, BackupKind.ON_DEMAND, _who())
                if backup.status is not BackupStatus.SUCCEEDED:
                    raise click.ClickException(f"the backup of {slug} failed: {backup.error}")
                path, rows = services.backup_file(backup), backup.row_count
            else:
                path = Path(output)
                partial = path.with_name(f"{path.name}.part")
                try:
                    with partial.open("wb") as out:
                        rows = backup_format.write_backup(tenant.ref, out, name=tenant.name).rows
                    partial.replace(path)
                finally:
                    partial.unlink(missing_ok=True)
    except DomainError as exc:
        raise _fail(exc) from exc
    click.echo(f"{path}: {rows} rows, {path.stat().st_size} bytes")


@backups_cli.command("verify")
@click.argument("file", type=click.Path(dir_okay=False))
def verify(file: str) -> None:
    """Check FILE's checksums, metadata and format (and that this installation can restore it)."""
    try:
        backup = backup_format.verify_backup(file)
        meta = backup.metadata
        click.echo(
            f"{file}: {meta.format}, tenant {meta.tenant.slug}, revision {meta.schema_revision}, "
            f"written {meta.created_at.isoformat()} by RepairQC {meta.product_version}, "
            f"{len(meta.tables)} tables, {meta.rows} rows: checksums OK"
        )
        backup_format.check_compatible(backup)
    except DomainError as exc:
        raise _fail(exc) from exc
    click.echo("restorable by this installation")


@backups_cli.command("restore")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--into", "slug", required=True, help="The tenant to restore into.")
@click.option("--new", is_flag=True, help="Create the tenant SLUG (else it must exist and be empty).")
@click.option("--name", default=None, help="The new tenant's name (default: the backed-up tenant's).")
def restore(file: str, slug: str, new: bool, name: str | None) -> None:
    """Restore FILE into tenant --into (new with --new, else an existing empty one)."""
    from repairqc.backups.restore import restore_backup

    try:
        with acting_as(Actor("cli", None, _who())):
            summary = restore_backup(file, slug, new=new, name=name)
    except DomainError as exc:
        raise _fail(exc) from exc
    click.echo(
        f"restored {summary.source_slug} into {summary.slug} ({summary.schema}"
        f"{', new' if summary.created else ''}): {summary.tables} tables, {summary.rows} rows, "
        "checksums equal"
    )


@backups_cli.command("list")
@click.argument("slug", required=False)
def list_backups(slug: str | None) -> None:
    """List the recorded backups (of SLUG, or the newest of every tenant)."""
    import sqlalchemy as sa

    from repairqc.backups.models import TenantBackup

    query = sa.select(TenantBackup).order_by(TenantBackup.started_at.desc(), TenantBackup.id.desc())
    if slug:
        query = query.where(TenantBackup.tenant_slug == slug)
    with unit_of_work():
        rows = db.control.execute(query.limit(200)).scalars().all()
        if not rows:
            click.echo("no backups" + (f" of {slug}" if slug else ""))
        for row in rows:
            state = "removed" if row.removed_at else row.status.value
            click.echo(
                "\t".join(
                    [
                        str(row.id),
                        row.tenant_slug,
                        row.started_at.strftime("%Y-%m-%d %H:%M"),
                        row.kind.value,
                        state,
                        str(row.size_bytes or ""),
                        str(row.row_count or ""),
                        row.filename or (row.error or "")[:80],
                    ]
                )
            )
