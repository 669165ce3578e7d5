"""Exporting a tenant's data (issue #6: a cancelled tenant is kept, then exportable and
deletable by the operator): the archive's contents, what is left out, isolation between
tenants, the console's export screens, the job on a real worker, the sweep and the CLI."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from rq import Queue
from rq.job import JobStatus

from repairqc.accounts.models import StaffUser
from repairqc.billing.models import BillingInterval, SubscriptionStatus
from repairqc.console import exports
from repairqc.console.models import ExportStatus, TenantExport
from repairqc.console.tasks import sweep_exports
from repairqc.db import TenantBase, db, tenant_context, unit_of_work, utcnow
from repairqc.files.models import StoredFile
from repairqc.files.services import store_bytes
from repairqc.privacy.models import AccessKind, DataAccess
from repairqc.repairs.models import Customer
from repairqc.stores.models import Chain, Store
from repairqc.tenants import services as tenants
from repairqc.tenants.export import write_export
from repairqc.tenants.models import Tenant
from tests.conftest import PNG, in_tenant, require_service
from tests.test_console_billing import PLATFORM, billed, console, row_of, set_subscription
from tests.test_console_billing import operator as operator
from tests.test_console_billing import redis_prefix as redis_prefix
from tests.test_jobs import redis_reachable, run_worker


@pytest.fixture
def export_dir(backend, tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "exports"
    monkeypatch.setitem(backend.app.config, "EXPORT_DIR", str(folder))
    return folder


@pytest.fixture
def export_rows(backend) -> Iterator[None]:
    """Export rows made by the test are removed afterwards (they outlive tenants)."""
    yield
    with backend.app.app_context(), unit_of_work():
        db.control.execute(sa.delete(TenantExport))


@contextlib.contextmanager
def leaving_tenant(app, name: str = "Leaving Repairs") -> Iterator[Tenant]:
    """A committed tenant with a store, a customer (encrypted phone) and a photo."""
    slug = f"left{uuid.uuid4().hex[:6]}"

    def seed() -> None:
        store = Store(code="L1", name="Leaving store 离开", chain=Chain(code="LC", name="Leaving chain"))
        db.session.add(store)
        db.session.flush()
        db.session.add(Customer(store=store, full_name="王小明", phone="+86 138 0000 1111"))
        store_bytes(PNG, "receipt 收据.png", store_id=store.id)

    with app.app_context(), unit_of_work():
        tenant = tenants.create_tenant(slug, name, seed=seed)
        db.control.expunge(tenant)
    try:
        yield tenant
    finally:
        with app.app_context(), unit_of_work():
            if db.control.execute(sa.select(Tenant).where(Tenant.slug == slug)).first() is not None:
                tenants.delete_tenant(slug)


def read_archive(data: bytes) -> tuple[dict, dict[str, list[dict[str, str]]], dict[str, bytes]]:
    """(manifest, table name -> rows as dicts, archive path -> bytes of every entry)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(entries["manifest.json"])
    tables = {
        table["name"]: list(csv.DictReader(io.StringIO(entries[table["file"]].decode("utf-8-sig"))))
        for table in manifest["tables"]
    }
    return manifest, tables, entries


def download(client, export_id: int, **kwargs):
    """GET an export's download, read and closed (send_file keeps the archive open until then)."""
    response = client.get(f"/console/exports/{export_id}/download", base_url=PLATFORM, **kwargs)
    response.get_data()  # buffers the body, so it stays readable after close
    response.close()
    return response


def export_bytes(tenant_ref, name: str | None = None) -> bytes:
    out = io.BytesIO()
    write_export(tenant_ref, out, name=name)
    return out.getvalue()


# --- the archive -----------------------------------------------------------------------------------


def test_archive_holds_every_table_and_file_of_the_tenant_and_nothing_of_another(app, alpha, beta):
    with in_tenant(app, alpha):
        data = export_bytes(alpha.ref, "Tenant A")
        counts = {
            table.name: db.session.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in TenantBase.metadata.sorted_tables
        }
        owner = db.session.execute(
            sa.select(StaffUser).where(StaffUser.email == alpha.users["owner"])
        ).scalar_one()
        password_hash = owner.password_hash
        customer = db.session.execute(sa.select(Customer).order_by(Customer.id)).scalars().first()
        stored = {
            row.id: (row.filename, row.data) for row in db.session.execute(sa.select(StoredFile)).scalars()
        }
        raw_phone = db.session.execute(
            sa.select(sa.column("phone"))
            .select_from(sa.table("customers"))
            .where(sa.column("id") == customer.id)
        ).scalar_one()

    manifest, tables, entries = read_archive(data)
    assert manifest["tenant"] == {"id": alpha.ref.id, "slug": alpha.ref.slug, "name": "Tenant A"}
    assert manifest["schema_revision"]
    # Every tenant table, with exactly its rows.
    assert {name: len(rows) for name, rows in tables.items()} == counts
    assert {t["name"]: t["rows"] for t in manifest["tables"]} == counts
    assert counts["repair_orders"] > 0 and counts["staff_users"] > 0

    # Encrypted fields are the provider's data: written decrypted, never as ciphertext.
    exported = next(row for row in tables["customers"] if row["id"] == str(customer.id))
    assert exported["phone"] == customer.phone == "+86 100 0000" and raw_phone != customer.phone
    assert exported["full_name"] == customer.full_name

    # Secrets are left out, and said to be.
    staff_table = next(t for t in manifest["tables"] if t["name"] == "staff_users")
    assert "password_hash" in staff_table["omitted_secret_columns"]
    assert "password_hash" not in tables["staff_users"][0]
    assert {"phone_lookup", "email_lookup"} <= set(
        next(t for t in manifest["tables"] if t["name"] == "customers")["omitted_secret_columns"]
    )
    assert "tracking_nonce" not in tables["repair_orders"][0]
    everything = b"".join(entries.values())
    assert password_hash.encode() not in everything

    # Each stored file as itself, named by its id.
    assert len(manifest["files"]) == len(stored) > 0
    for entry in manifest["files"]:
        filename, content = stored[entry["id"]]
        assert entry["path"] == f"files/{entry['id']}-{filename}"
        assert entries[entry["path"]] == content
    assert "data" not in tables["stored_files"][0]

    # Isolation: alpha's own sentinel everywhere, beta's nowhere.
    assert alpha.sentinel.encode() in everything
    assert beta.sentinel.encode() not in everything
    assert b"SENTINEL-B" not in everything


def test_values_are_written_as_plain_text(app, alpha):
    with in_tenant(app, alpha):
        data = export_bytes(alpha.ref)
        store = db.session.get(Store, alpha.store_ids["S1"])
        expected_created = store.created_at.isoformat()
    _, tables, _ = read_archive(data)
    row = next(r for r in tables["stores"] if r["id"] == str(alpha.store_ids["S1"]))
    assert row["created_at"] == expected_created and "+00:00" in row["created_at"]
    assert row["is_active"] == "true"
    assert row["name"] == f"Store {alpha.store_sentinel('S1')}"


# --- the console ----------------------------------------------------------------------------------------


def test_operator_exports_an_ended_tenant_downloads_it_and_it_outlives_the_tenant(
    app, alpha, operator, export_dir, export_rows
):
    with leaving_tenant(app) as left:
        ended = {"ended_at": utcnow() - timedelta(days=91)}
        with billed(app, (left.ref, "starter", BillingInterval.MONTH, SubscriptionStatus.CANCELED, ended)):
            client = console(app, operator)
            page = client.get("/console/", base_url=PLATFORM).text
            assert 'data-testid="export-tenant"' in row_of(page, "data-slug", left.slug)
            assert 'data-testid="export-tenant"' not in row_of(page, "data-slug", alpha.ref.slug)

            # No Redis here: the job runs at once, after the request's commit.
            asked = client.post(
                f"/console/tenants/{left.id}/export", base_url=PLATFORM, follow_redirects=True
            )
            assert asked.status_code == 200
            assert f"The data of {left.slug} is being exported" in asked.text
            with app.app_context():
                (export,) = db.control.execute(sa.select(TenantExport)).scalars()
                assert export.status is ExportStatus.DONE and export.requested_by_id == operator.id
                assert export.tenant_slug == left.slug and export.files == 1
                archive = export_dir / export.filename
                assert archive.is_file() and archive.stat().st_size == export.size
                assert not list(export_dir.glob("*.part"))
            row = row_of(asked.text, "data-export", export.id)
            assert "Ready" in row and 'data-testid="download-export"' in row
            page = client.get("/console/", base_url=PLATFORM).text
            assert 'data-testid="last-export"' in row_of(page, "data-slug", left.slug)

            fetched = download(client, export.id)
            assert fetched.status_code == 200 and fetched.mimetype == "application/zip"
            assert export.filename in fetched.headers["Content-Disposition"]
            manifest, tables, entries = read_archive(fetched.data)
            assert manifest["tenant"]["slug"] == left.slug and manifest["tenant"]["name"] == "Leaving Repairs"
            assert tables["customers"][0]["full_name"] == "王小明"
            assert tables["customers"][0]["phone"] == "+86 138 0000 1111"
            assert tables["stores"][0]["name"] == "Leaving store 离开"
            assert entries[manifest["files"][0]["path"]] == PNG
            assert manifest["files"][0]["path"].endswith("receipt 收据.png")
            # HB §7.3.1: the owner sees the operator's download in the tenant's access log.
            with app.app_context(), tenant_context(left.ref):
                (entry,) = db.session.execute(
                    sa.select(DataAccess).where(DataAccess.subject == "tenant_export")
                ).scalars()
                assert entry.kind is AccessKind.EXPORT and entry.record_id == str(export.id)
                assert entry.staff_user_id is None and operator.email in entry.staff_name
                db.session.remove()

            # The tenant is deleted; its export stays, marked so, and still downloads.
            deleted = client.post(f"/console/tenants/{left.id}/delete", base_url=PLATFORM)
            assert deleted.status_code == 302
            listing = client.get("/console/exports", base_url=PLATFORM).text
            assert "deleted" in row_of(listing, "data-export", export.id)
            again = download(client, export.id)
            assert again.status_code == 200 and again.data == fetched.data

            # Removing the file: gone from the folder, no longer offered, the row stays.
            removed = client.post(
                f"/console/exports/{export.id}/remove", base_url=PLATFORM, follow_redirects=True
            )
            assert f"The export {export.filename} is removed." in removed.text
            assert not archive.exists()
            assert 'data-testid="download-export"' not in row_of(removed.text, "data-export", export.id)
            refused = client.get(
                f"/console/exports/{export.id}/download", base_url=PLATFORM, follow_redirects=True
            )
            assert "This export is not available." in refused.text


def test_only_ended_tenants_are_exported_from_the_console(
    app, alpha, beta, operator, export_dir, export_rows
):
    with billed(app, (beta.ref, "growth", BillingInterval.MONTH, SubscriptionStatus.ACTIVE, {})) as (sub_id,):
        client = console(app, operator)
        for tenant in (alpha, beta):  # alpha is not billed, beta is active
            refused = client.post(
                f"/console/tenants/{tenant.ref.id}/export", base_url=PLATFORM, follow_redirects=True
            )
            assert (
                f"The data of {tenant.ref.slug} can be exported here once its subscription has ended"
                in refused.text
            )
        missing = client.post("/console/tenants/999999/export", base_url=PLATFORM, follow_redirects=True)
        assert "There is no such tenant." in missing.text
        with app.app_context():
            assert db.control.execute(sa.select(TenantExport)).first() is None
        assert not export_dir.exists() or not list(export_dir.iterdir())

        # Cancelled ten days ago: read-only, kept, and exportable at once (deletable only later).
        set_subscription(
            app, sub_id, status=SubscriptionStatus.CANCELED, ended_at=utcnow() - timedelta(days=10)
        )
        page = client.get("/console/", base_url=PLATFORM).text
        beta_row = row_of(page, "data-slug", beta.ref.slug)
        assert 'data-testid="export-tenant"' in beta_row and 'data-testid="delete-tenant"' not in beta_row
        client.post(f"/console/tenants/{beta.ref.id}/export", base_url=PLATFORM)
        with app.app_context():
            (export,) = db.control.execute(sa.select(TenantExport)).scalars()
            assert export.status is ExportStatus.DONE and export.tenant_id == beta.ref.id
            path = export_dir / export.filename
        _, _, entries = read_archive(path.read_bytes())
        everything = b"".join(entries.values())
        assert beta.sentinel.encode() in everything and alpha.sentinel.encode() not in everything


def test_a_failed_export_keeps_its_error_and_leaves_no_file(
    app, operator, export_dir, export_rows, monkeypatch
):
    def broken(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(exports, "write_export", broken)
    with (
        leaving_tenant(app) as left,
        billed(
            app,
            (left.ref, "starter", BillingInterval.MONTH, SubscriptionStatus.CANCELED, {"ended_at": utcnow()}),
        ),
    ):
        client = console(app, operator)
        answer = client.post(f"/console/tenants/{left.id}/export", base_url=PLATFORM, follow_redirects=True)
        assert answer.status_code == 200
        with app.app_context():
            (export,) = db.control.execute(sa.select(TenantExport)).scalars()
            assert export.status is ExportStatus.FAILED and export.filename is None
            assert export.error == "OSError: No space left on device"
        assert list(export_dir.iterdir()) == []
        listing = client.get("/console/exports", base_url=PLATFORM).text
        row = row_of(listing, "data-export", export.id)
        assert "Failed" in row and "No space left on device" in row and "download-export" not in row
        assert client.get(f"/console/exports/{export.id}/download", base_url=PLATFORM).status_code == 302


def test_sweep_removes_archives_past_their_retention(app, alpha, export_dir, export_rows):
    export_dir.mkdir()
    with app.app_context(), unit_of_work():
        made = {}
        for label, age in (("old", 31), ("new", 29)):
            name = f"{label}.zip"
            (export_dir / name).write_bytes(b"PK")
            row = TenantExport(
                tenant_id=alpha.ref.id, tenant_slug=alpha.ref.slug, status=ExportStatus.DONE,
                filename=name, finished_at=utcnow() - timedelta(days=age),
            )  # fmt: skip
            db.control.add(row)
            db.control.flush()
            made[label] = row.id
    with app.app_context():
        from repairqc.jobs import run_job

        assert run_job(app, sweep_exports, None, (utcnow().date().isoformat(),)) == 1
        assert db.control.get(TenantExport, made["old"]).removed_at is not None
        assert db.control.get(TenantExport, made["new"]).removed_at is None
    assert not (export_dir / "old.zip").exists() and (export_dir / "new.zip").exists()


@pytest.mark.redis
def test_export_is_written_by_a_real_worker(backend, operator, redis_prefix, export_dir, export_rows):
    require_service("Redis", redis_reachable())
    app = backend.app
    with (
        leaving_tenant(app, "Worker Repairs") as left,
        billed(
            app,
            (left.ref, "starter", BillingInterval.YEAR, SubscriptionStatus.CANCELED, {"ended_at": utcnow()}),
        ),
    ):
        client = console(app, operator)
        assert client.post(f"/console/tenants/{left.id}/export", base_url=PLATFORM).status_code == 302
        with app.app_context():
            (export,) = db.control.execute(sa.select(TenantExport)).scalars()
            assert export.status is ExportStatus.QUEUED
            queue = Queue(f"{redis_prefix}reports", connection=app.extensions["repairqc.redis"])
            (job,) = queue.get_jobs()
        assert job.func_name == "repairqc.console.tasks.export_tenant_data" and job.args == (export.id,)
        assert job.meta == {"tenant_id": None}
        listing = client.get("/console/exports", base_url=PLATFORM).text
        assert "Being written" in row_of(listing, "data-export", export.id)
        # Asked again while it is being written: the same export, not a second one.
        client.post(f"/console/tenants/{left.id}/export", base_url=PLATFORM)
        with app.app_context():
            assert db.control.execute(sa.select(sa.func.count()).select_from(TenantExport)).scalar_one() == 1

        run_worker(app, [f"{redis_prefix}reports"], RQ_QUEUE_PREFIX=redis_prefix, EXPORT_DIR=str(export_dir))
        job.refresh()
        assert job.get_status() == JobStatus.FINISHED, job.latest_result()
        with app.app_context():
            export = db.control.get(TenantExport, export.id)
            assert export.status is ExportStatus.DONE and export.files == 1
        manifest, tables, _ = read_archive(download(client, export.id).data)
        assert manifest["tenant"]["name"] == "Worker Repairs"
        assert tables["customers"][0]["phone"] == "+86 138 0000 1111"


# --- the command line -------------------------------------------------------------------------------------


def test_cli_exports_any_tenant_to_a_file(backend, tmp_path):
    app = backend.app
    with leaving_tenant(app, "CLI Repairs") as left:
        target = tmp_path / "out.zip"
        result = app.test_cli_runner().invoke(args=["tenants", "export", left.slug, str(target)])
        assert result.exit_code == 0, result.output
        assert f"{target}: " in result.output and "1 files" in result.output
        manifest, tables, _ = read_archive(target.read_bytes())
        assert manifest["tenant"]["slug"] == left.slug
        assert tables["customers"][0]["full_name"] == "王小明"
        assert not (tmp_path / "out.zip.part").exists()

    unknown = app.test_cli_runner().invoke(
        args=["tenants", "export", "nosuchtenant", str(tmp_path / "x.zip")]
    )
    assert unknown.exit_code == 1 and "nosuchtenant" in unknown.output
    assert not (tmp_path / "x.zip").exists()


def test_export_of_the_tenant_bound_reads_only_that_tenant(app, alpha, beta):
    """The archive is read through the tenant's own bind even when another tenant is bound."""
    with app.app_context(), tenant_context(beta.ref):
        data = export_bytes(alpha.ref)
    _, _, entries = read_archive(data)
    everything = b"".join(entries.values())
    assert alpha.sentinel.encode() in everything and beta.sentinel.encode() not in everything
