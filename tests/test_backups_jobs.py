"""Backups (HB §7.3.1): the nightly job and retention, failure alerts, the console page, the
owner's screen and the command line."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from repairqc.backups.format import verify_backup
from repairqc.backups.models import BackupKind, BackupStatus, TenantBackup
from repairqc.console.models import Operator
from repairqc.console.services import create_operator
from repairqc.db import db, unit_of_work, utcnow
from repairqc.tenants import ddl, services
from repairqc.tenants.models import Tenant, TenantStatus
from tests.conftest import sign_in

OPERATOR_PASSWORD = "operator-password-1"


@pytest.fixture
def backups(app, tmp_path, monkeypatch) -> Iterator[Path]:
    """BACKUP_DIR for the test, jobs in-process; every backup row removed afterwards."""
    folder = tmp_path / "backups"
    monkeypatch.setitem(app.config, "BACKUP_DIR", str(folder))
    monkeypatch.setitem(app.config, "BACKUP_RETENTION_DAYS", 14)
    monkeypatch.setitem(app.config, "REDIS_URL", "")
    yield folder
    with app.app_context(), unit_of_work():
        db.control.execute(sa.delete(TenantBackup))


@pytest.fixture
def operator(app) -> Iterator[str]:
    email = f"op{uuid.uuid4().hex[:6]}@example.com"
    with app.app_context(), unit_of_work():
        create_operator(email, "Op", OPERATOR_PASSWORD)
    yield email
    with app.app_context(), unit_of_work():
        db.control.execute(sa.delete(Operator).where(Operator.email == email))


def rows_of(app, tenant_id: int) -> list[TenantBackup]:
    with app.app_context():
        rows = (
            db.control.execute(
                sa.select(TenantBackup).where(TenantBackup.tenant_id == tenant_id).order_by(TenantBackup.id)
            )
            .scalars()
            .all()
        )
        db.control.expunge_all()
        return list(rows)


def old_backup(app, folder: Path, tenant_id: int, slug: str, days: int) -> TenantBackup:
    """A successful backup row finished `days` ago, with a file."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{slug}-old-{uuid.uuid4().hex[:6]}.zip"
    (folder / name).write_bytes(b"old backup")
    with app.app_context(), unit_of_work():
        moment = utcnow() - timedelta(days=days)
        row = TenantBackup(
            tenant_id=tenant_id, tenant_slug=slug, kind=BackupKind.NIGHTLY, status=BackupStatus.SUCCEEDED,
            started_at=moment, finished_at=moment, filename=name, size_bytes=10, requested_by="nightly",
        )  # fmt: skip
        db.control.add(row)
        db.control.flush()
        db.control.expunge(row)
    return row


@pytest.fixture
def broken(app) -> Iterator[Tenant]:
    """A registered, active tenant whose schema (or file) is gone: its backup must fail."""
    slug = f"broken{uuid.uuid4().hex[:6]}"
    with app.app_context():
        with unit_of_work():
            tenant = Tenant(slug=slug, name="Broken", status=TenantStatus.PROVISIONING)
            db.control.add(tenant)
        services.provision(tenant)
        db.control.commit()
        ref = tenant.ref
        if db.backend == "postgresql":
            with db.state.raw_control.begin() as conn:
                ddl.drop_schema(conn, ref.schema)
        else:
            db.state.forget_tenant(ref.schema)
            db.state.tenant_file(ref.schema).unlink()
    yield ref
    with app.app_context(), unit_of_work():
        services.delete_tenant(slug)


def test_nightly_backs_up_every_tenant_keeps_the_newest_and_alerts_on_failure(
    app, alpha, beta, backups, operator, broken, mailbox
):
    stale_alpha = old_backup(app, backups, alpha.ref.id, alpha.ref.slug, days=20)
    recent_alpha = old_backup(app, backups, alpha.ref.id, alpha.ref.slug, days=3)
    last_good_of_broken = old_backup(app, backups, broken.id, broken.slug, days=30)
    from repairqc.jobs.periodic import run_periodic

    with app.app_context():
        run_periodic("backup-tenants")  # no Redis: fanned out and run in this process

    for tenant in (alpha, beta):
        nightly = [
            r for r in rows_of(app, tenant.ref.id) if r.requested_by == "nightly" and r.size_bytes != 10
        ]
        assert [r.status for r in nightly] == [BackupStatus.SUCCEEDED]
        path = backups / nightly[0].filename
        assert path.stat().st_size == nightly[0].size_bytes and nightly[0].row_count > 500
        with app.app_context():
            assert verify_backup(path).metadata.tenant.slug == tenant.ref.slug  # its own data only
    # Retention: alpha's 20-day-old file went, the 3-day-old one stays.
    by_id = {r.id: r for r in rows_of(app, alpha.ref.id)}
    assert by_id[stale_alpha.id].removed_at is not None and not (backups / stale_alpha.filename).exists()
    assert by_id[recent_alpha.id].removed_at is None and (backups / recent_alpha.filename).exists()
    # The broken tenant failed, was alerted, and keeps its last good backup however old.
    broken_rows = {r.id: r for r in rows_of(app, broken.id)}
    (failed,) = [r for r in broken_rows.values() if r.status is BackupStatus.FAILED]
    assert failed.error and failed.finished_at is not None and failed.filename is None
    assert broken_rows[last_good_of_broken.id].removed_at is None
    assert (backups / last_good_of_broken.filename).exists()
    (mail,) = mailbox.to(operator)
    assert broken.slug in mail["Subject"] and "failed" in mail["Subject"]
    assert alpha.ref.slug not in mail["Subject"]
    assert not list(backups.glob("*.part"))  # no half-written file left


def test_console_lists_last_backups_and_backs_up_on_request(app, alpha, beta, backups, operator):
    client = app.test_client()
    base = "http://localhost"
    client.post("/console/login", base_url=base, data={"email": operator, "password": OPERATOR_PASSWORD})
    page = client.get("/console/backups", base_url=base)
    assert page.status_code == 200 and alpha.ref.slug in page.text

    made = client.post(f"/console/backups/{beta.ref.id}/now", base_url=base, follow_redirects=True)
    assert made.status_code == 200
    (row,) = rows_of(app, beta.ref.id)
    assert row.status is BackupStatus.SUCCEEDED and row.requested_by.startswith("operator:")
    assert row.kind is BackupKind.ON_DEMAND and row.filename in made.text  # the tenant's history
    assert rows_of(app, alpha.ref.id) == []  # only the tenant asked for

    page = client.get("/console/backups", base_url=base).text
    beta_line = page.split(f'data-slug="{beta.ref.slug}"')[1].split("</tr>")[0]
    assert 'data-status="succeeded"' in beta_line and ("kB" in beta_line or "MB" in beta_line)
    alpha_line = page.split(f'data-slug="{alpha.ref.slug}"')[1].split("</tr>")[0]
    assert 'data-status=""' in alpha_line
    # Operators see no tenant data: there is no download in the console.
    assert "/download" not in page and 'data-testid="download' not in page
    assert client.get(f"/console/backups/{alpha.ref.id}/download", base_url=base).status_code in {404, 405}
    # A tenant host has no console.
    assert client.get("/console/backups", base_url=f"http://{alpha.host}").status_code == 404


def test_owner_makes_and_downloads_backups_of_their_tenant_only(app, client, alpha, beta, backups):
    sign_in(client, alpha, "owner")
    base = f"http://{alpha.host}"
    assert client.get("/admin/backups/", base_url=base).status_code == 200
    made = client.post("/admin/backups/new", base_url=base, follow_redirects=True)
    assert made.status_code == 200
    (row,) = rows_of(app, alpha.ref.id)
    assert row.status is BackupStatus.SUCCEEDED and row.requested_by.startswith("staff:")
    assert f'data-backup="{row.id}"' in made.text

    download = client.get(f"/admin/backups/{row.id}/download", base_url=base)
    assert download.status_code == 200 and download.mimetype == "application/zip"
    copy = backups / "downloaded.zip"
    copy.write_bytes(download.data)
    download.close()  # the streamed file
    with app.app_context():
        assert verify_backup(copy).metadata.tenant.slug == alpha.ref.slug

    # One at a time: while one is being made, another is refused.
    with app.app_context(), unit_of_work():
        db.control.add(
            TenantBackup(tenant_id=alpha.ref.id, tenant_slug=alpha.ref.slug, kind=BackupKind.ON_DEMAND,
                         requested_by="test")
        )  # fmt: skip
    again = client.post("/admin/backups/new", base_url=base)
    assert again.status_code == 409 and "being made" in again.text

    # The owner of beta sees none of alpha's backups and cannot fetch one by its id.
    other = app.test_client()
    sign_in(other, beta, "owner")
    beta_base = f"http://{beta.host}"
    listing = other.get("/admin/backups/", base_url=beta_base)
    assert listing.status_code == 200 and f'data-backup="{row.id}"' not in listing.text
    assert other.get(f"/admin/backups/{row.id}/download", base_url=beta_base).status_code == 404

    # Other roles, however senior, may not: a backup is the whole database.
    for role in ("qa", "auditor", "manager"):
        staff_client = app.test_client()
        sign_in(staff_client, alpha, role)
        assert staff_client.get("/admin/backups/", base_url=base).status_code == 403
        assert staff_client.get(f"/admin/backups/{row.id}/download", base_url=base).status_code == 403
        assert staff_client.post("/admin/backups/new", base_url=base).status_code == 403


def test_cli_creates_verifies_restores_and_lists(app, alpha, backups, tmp_path):
    runner = app.test_cli_runner()
    path = tmp_path / "cli.zip"
    created = runner.invoke(args=["backups", "create", alpha.ref.slug, "-o", str(path)])
    assert created.exit_code == 0, created.output
    verified = runner.invoke(args=["backups", "verify", str(path)])
    assert verified.exit_code == 0 and "checksums OK" in verified.output and "restorable" in verified.output

    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(path.read_bytes()[:-200])
    refused = runner.invoke(args=["backups", "verify", str(damaged)])
    assert refused.exit_code != 0 and "damaged" in refused.output

    slug = f"cli{uuid.uuid4().hex[:6]}"
    try:
        restored = runner.invoke(
            args=["backups", "restore", str(path), "--into", slug, "--new", "--name", "From CLI"]
        )
        assert restored.exit_code == 0, restored.output
        assert f"into {slug}" in restored.output and "checksums equal" in restored.output
        into_full = runner.invoke(args=["backups", "restore", str(path), "--into", slug])
        assert into_full.exit_code != 0 and "already holds data" in into_full.output
    finally:
        with app.app_context(), unit_of_work():
            services.delete_tenant(slug)

    recorded = runner.invoke(args=["backups", "create", alpha.ref.slug])  # into BACKUP_DIR, recorded
    assert recorded.exit_code == 0, recorded.output
    listed = runner.invoke(args=["backups", "list", alpha.ref.slug])
    assert listed.exit_code == 0 and "succeeded" in listed.output and alpha.ref.slug in listed.output
    assert runner.invoke(args=["backups", "create", "no-such-tenant"]).exit_code != 0
