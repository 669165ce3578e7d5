"""Backups (HB §7.3.1): the portable format, restoring, refusing damaged files, moving backends."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import sqlite3
import subprocess
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from repairqc.backups.format import (
    FORMAT,
    BackupRefused,
    backed_up_tables,
    canonical_line,
    digest_table,
    verify_backup,
    write_backup,
)
from repairqc.backups.restore import restore_backup
from repairqc.db import db, tenant_context, unit_of_work
from repairqc.repairs.models import Customer, RepairOrder
from repairqc.tenants import services
from repairqc.tenants.export import _snapshot
from repairqc.tenants.models import Tenant, TenantStatus
from tests.conftest import PASSWORD, backend_app


def new_slug() -> str:
    return f"r{uuid.uuid4().hex[:8]}"


@pytest.fixture
def restored(backend) -> Iterator[list[str]]:
    """Slugs of tenants a test creates; deleted (schema or file and rows) afterwards."""
    slugs: list[str] = []
    yield slugs
    with backend.app.app_context():
        for slug in slugs:
            if db.control.execute(sa.select(Tenant.id).where(Tenant.slug == slug)).first():
                with unit_of_work():
                    services.delete_tenant(slug)


def backup_of(app, tenant, path: Path) -> Path:
    with app.app_context(), path.open("wb") as out:
        write_backup(tenant.ref, out)
    return path


def digests(app, ref) -> dict[str, tuple[int, str]]:
    with app.app_context(), _snapshot(ref) as conn:
        return {t.name: tuple(vars(digest_table(conn, t)).values()) for t in backed_up_tables()}


def orders_and_customers(app, ref) -> tuple[list, list]:
    """Every order and customer as the ORM reads them (encrypted fields decrypted)."""
    with app.app_context(), tenant_context(ref):
        orders = [
            (o.id, o.number, o.store_id, o.status, o.fault_symptoms, o.received_at, o.rework_of_id)
            for o in db.session.execute(sa.select(RepairOrder).order_by(RepairOrder.id)).scalars()
        ]
        customers = [
            (c.id, c.full_name, c.phone, c.email)
            for c in db.session.execute(sa.select(Customer).order_by(Customer.id)).scalars()
        ]
    return orders, customers


def tenant_ref(app, slug: str):
    with app.app_context():
        return services.get_tenant(slug).ref


def test_round_trip_into_a_new_tenant_is_identical_and_works(app, client, alpha, beta, tmp_path, restored):
    path = backup_of(app, alpha, tmp_path / "alpha.zip")
    with zipfile.ZipFile(path) as archive:
        metadata = json.loads(archive.read("metadata.json"))
        names = set(archive.namelist())
        orders_file = archive.read("tables/repair_orders.jsonl").decode()
        customers_file = archive.read("tables/customers.jsonl").decode()
    assert metadata["format"] == FORMAT and metadata["tenant"]["slug"] == alpha.ref.slug
    assert {t["name"] for t in metadata["tables"]} == {t.name for t in backed_up_tables()}
    assert names == {"metadata.json", "SHA256SUMS", *(t["file"] for t in metadata["tables"])}
    assert alpha.sentinel in orders_file and beta.sentinel not in orders_file
    # Encrypted fields are written as stored: no customer phone number in clear.
    assert "+86 100 0000" not in customers_file and "gAAAA" in customers_file
    # SHA256SUMS is what `sha256sum -c` reads.
    sums = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=_extract(path, tmp_path / "x"), capture_output=True
    )
    assert sums.returncode == 0, sums.stdout

    slug = new_slug()
    restored.append(slug)
    with app.app_context():
        summary = restore_backup(path, slug, new=True, name="Restored A")
        tenant = services.get_tenant(slug)
        assert tenant.status is TenantStatus.ACTIVE and tenant.name == "Restored A"
    assert summary.created and summary.source_slug == alpha.ref.slug
    assert summary.rows == sum(t["rows"] for t in metadata["tables"]) > 500
    new_ref = tenant_ref(app, slug)
    assert digests(app, new_ref) == digests(app, alpha.ref)
    assert orders_and_customers(app, new_ref) == orders_and_customers(app, alpha.ref)
    assert orders_and_customers(app, new_ref) != orders_and_customers(app, beta.ref)

    # The restored tenant works: its staff sign in with their passwords, pages open, ids go on.
    host = f"{slug}.localhost"  # BASE_DOMAIN of the test apps
    signed_in = client.post(
        "/login", base_url=f"http://{host}", data={"email": alpha.users["frontdesk"], "password": PASSWORD}
    )
    assert signed_in.status_code == 302
    order_id = alpha.ids["repair_orders"][0]
    page = client.get(f"/admin/repairs/orders/{order_id}/", base_url=f"http://{host}")
    assert page.status_code == 200 and alpha.store_sentinel("S1") in page.text
    with app.app_context(), tenant_context(new_ref), unit_of_work():
        customer = Customer(store_id=alpha.store_ids["S1"], full_name="After restore", phone="+86 1")
        db.session.add(customer)
        db.session.flush()
        assert customer.id > max(alpha.ids["customers"])  # the sequence follows the loaded ids
    # Nothing of the restored tenant leaks into alpha or beta.
    for other in (alpha, beta):
        with app.app_context(), tenant_context(other.ref):
            assert not db.session.execute(
                sa.select(Customer).where(Customer.full_name == "After restore")
            ).first()


def _extract(path: Path, into: Path) -> Path:
    with zipfile.ZipFile(path) as archive:
        archive.extractall(into)
    return into


def _rewrite(path: Path, out: Path, change) -> Path:
    """A copy of the backup with `change(name, bytes) -> bytes | None` applied (None drops it)."""
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name in source.namelist():
            data = change(name, source.read(name))
            if data is not None:
                target.writestr(name, data)
    return out


def _flip_byte(name: str, data: bytes) -> bytes:
    if name == "tables/repair_orders.jsonl":
        index = data.index(b"Fault")
        return data[:index] + b"Fauly" + data[index + 5 :]
    return data


def _edit_metadata(name: str, data: bytes) -> bytes:
    if name == "metadata.json":
        return data.replace(b'"product_version"', b'"product_version" ', 1)
    return data


def _edit_metadata_and_sums(name: str, data: bytes) -> bytes:
    """Edited consistently: a row count changed, and SHA256SUMS recomputed to match."""
    if name == "metadata.json":
        meta = json.loads(data)
        next(t for t in meta["tables"] if t["name"] == "customers")["rows"] += 1
        _edit_metadata_and_sums.body = json.dumps(meta).encode()
        return _edit_metadata_and_sums.body
    if name == "SHA256SUMS":
        digest = hashlib.sha256(_edit_metadata_and_sums.body).hexdigest()
        lines = [line for line in data.decode().splitlines() if not line.endswith("metadata.json")]
        return ("\n".join([*lines, f"{digest}  metadata.json"]) + "\n").encode()
    return data


def _wrong_format(name: str, data: bytes) -> bytes:
    if name in {"metadata.json", "SHA256SUMS"}:
        data = data.replace(FORMAT.encode(), b"repairqc-backup/9")
        if name == "metadata.json":
            _wrong_format.body = data
        else:
            digest = hashlib.sha256(_wrong_format.body).hexdigest()
            lines = [line for line in data.decode().splitlines() if not line.endswith("metadata.json")]
            data = ("\n".join([*lines, f"{digest}  metadata.json"]) + "\n").encode()
    return data


def _old_revision(name: str, data: bytes) -> bytes:
    if name == "metadata.json":
        meta = json.loads(data)
        meta["schema_revision"] = "0123456789ab"
        _old_revision.body = json.dumps(meta).encode()
        return _old_revision.body
    if name == "SHA256SUMS":
        digest = hashlib.sha256(_old_revision.body).hexdigest()
        lines = [line for line in data.decode().splitlines() if not line.endswith("metadata.json")]
        return ("\n".join([*lines, f"{digest}  metadata.json"]) + "\n").encode()
    return data


@pytest.mark.parametrize(
    "damage, message",
    [
        ("flip", "does not match its checksum"),
        ("truncate", "not a readable ZIP"),
        ("metadata", "metadata.json does not match its checksum"),
        ("consistent-metadata", "metadata.json says"),
        ("no-sums", "has no SHA256SUMS"),
        ("format", "repairqc-backup/9"),
        ("revision", "0123456789ab"),
    ],
)
def test_damaged_or_foreign_files_are_refused_and_change_nothing(
    app, alpha, tmp_path, restored, damage, message
):
    good = backup_of(app, alpha, tmp_path / "good.zip")
    bad = tmp_path / "bad.zip"
    if damage == "truncate":
        bad.write_bytes(good.read_bytes()[: good.stat().st_size * 2 // 3])
    else:
        change = {
            "flip": _flip_byte,
            "metadata": _edit_metadata,
            "consistent-metadata": _edit_metadata_and_sums,
            "no-sums": lambda name, data: None if name == "SHA256SUMS" else data,
            "format": _wrong_format,
            "revision": _old_revision,
        }[damage]
        _rewrite(good, bad, change)
    slug = new_slug()
    restored.append(slug)
    schemas_before = _tenant_schemas(app)
    with app.app_context():
        tenants_before = set(db.control.execute(sa.select(Tenant.id)).scalars())
        with pytest.raises(BackupRefused) as refused:
            restore_backup(bad, slug, new=True)
        assert message in refused.value.message
        if damage == "revision":  # names both revisions
            from repairqc.tenants.migrations import head

            assert head("tenant") in refused.value.message
        # Over an existing tenant too: the file is refused for what is wrong with it, before
        # the target is even looked at (alpha is not empty, which would be refused otherwise).
        with pytest.raises(BackupRefused, match=re.escape(message)):
            restore_backup(bad, alpha.ref.slug)
        assert set(db.control.execute(sa.select(Tenant.id)).scalars()) == tenants_before  # no row left
    assert _tenant_schemas(app) == schemas_before  # no schema or file left


def test_a_mismatch_found_after_loading_rolls_the_new_tenant_back(
    app, alpha, tmp_path, restored, monkeypatch
):
    """The checksum recomputed from the database differs (a value the database changed on the
    way in): everything is undone, schema or file included."""
    path = backup_of(app, alpha, tmp_path / "alpha.zip")
    from repairqc.backups import restore as restore_module

    real = restore_module.digest_table

    def altered(conn, table, sink=None):
        digest = real(conn, table, sink)
        if table.name == "customers":
            digest.sha256 = "0" * 64
        return digest

    monkeypatch.setattr(restore_module, "digest_table", altered)
    slug = new_slug()
    restored.append(slug)
    with app.app_context():
        before = set(db.control.execute(sa.select(Tenant.id)).scalars())
        with pytest.raises(BackupRefused, match="customers does not match"):
            restore_backup(path, slug, new=True)
        assert set(db.control.execute(sa.select(Tenant.id)).scalars()) == before
        schemas = _tenant_schemas(app)
    assert all(s in {f"t_{i:06d}" for i in before} for s in schemas)


def _tenant_schemas(app) -> set[str]:
    with app.app_context():
        if db.backend == "postgresql":
            with db.state.raw_control.connect() as conn:
                return set(
                    conn.execute(
                        sa.text(
                            "SELECT schema_name FROM information_schema.schemata "
                            "WHERE schema_name LIKE 't\\_%'"
                        )
                    ).scalars()
                )
        return {p.stem for p in db.state.tenant_dir.glob("t_*.db")}


def test_restore_into_an_existing_tenant_needs_it_empty(app, alpha, beta, tmp_path, restored):
    path = backup_of(app, alpha, tmp_path / "alpha.zip")
    with app.app_context():
        before = digests(app, beta.ref)
        with pytest.raises(BackupRefused, match="already holds data") as refused:
            restore_backup(path, beta.ref.slug)
        assert refused.value.status_code == 409
    assert digests(app, beta.ref) == before

    # An empty tenant (provisioned without first rows) takes it.
    slug = new_slug()
    restored.append(slug)
    with app.app_context():
        with unit_of_work():
            tenant = Tenant(slug=slug, name="Empty", status=TenantStatus.PROVISIONING)
            db.control.add(tenant)
        services.provision(tenant)  # no seed: only the schema's built-in rows
        db.control.commit()
        summary = restore_backup(path, slug)
    assert not summary.created
    assert digests(app, tenant_ref(app, slug)) == digests(app, alpha.ref)


def test_verify_reports_and_checks_the_sums(app, alpha, tmp_path):
    path = backup_of(app, alpha, tmp_path / "alpha.zip")
    with app.app_context():
        verified = verify_backup(path)
    assert verified.metadata.tenant.slug == alpha.ref.slug
    assert verified.metadata.table("repair_orders").rows == len(alpha.ids["repair_orders"])


def test_a_tenant_moves_to_the_other_backend_and_back(backend, tmp_path):
    """SQLite → PostgreSQL (or PostgreSQL → SQLite), then back again: the same data each way."""
    app, alpha = backend.app, backend.alpha
    there = "postgresql" if backend.name == "sqlite" else "sqlite"
    first = backup_of(app, alpha, tmp_path / "first.zip")
    original = digests(app, alpha.ref)
    with backend_app(there, tmp_path / there) as other:
        with other.app_context():
            summary = restore_backup(first, "moved", new=True)
        moved = tenant_ref(other, "moved")
        assert digests(other, moved) == original
        assert orders_and_customers(other, moved) == orders_and_customers(app, alpha.ref)
        second = backup_of(other, _Seeded(moved), tmp_path / "second.zip")
    assert summary.rows > 500
    slug = new_slug()
    try:
        with app.app_context():
            restore_backup(second, slug, new=True)
        assert digests(app, tenant_ref(app, slug)) == original
    finally:
        with app.app_context(), unit_of_work():
            services.delete_tenant(slug)


class _Seeded:
    def __init__(self, ref):
        self.ref = ref


# --- consistency of the rows, structure after a restore ------------------------------------------------


def _with_table_edited(path: Path, out: Path, table_name: str, edit) -> Path:
    """A copy of the backup with `edit(columns, rows)` applied to one table's rows, and every
    checksum (metadata.json, SHA256SUMS) recomputed: the file passes all checks of its own."""
    with zipfile.ZipFile(path) as source:
        files = {name: source.read(name) for name in source.namelist()}
    meta = json.loads(files["metadata.json"])
    entry = next(t for t in meta["tables"] if t["name"] == table_name)
    rows = [json.loads(line) for line in files[entry["file"]].decode().splitlines()]
    edit([c["name"] for c in entry["columns"]], rows)
    files[entry["file"]] = b"".join(canonical_line(row) for row in rows)
    entry["rows"] = len(rows)
    entry["sha256"] = hashlib.sha256(files[entry["file"]]).hexdigest()
    files["metadata.json"] = json.dumps(meta, ensure_ascii=False, indent=2).encode()
    del files["SHA256SUMS"]
    sums = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in files.items())
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in files.items():
            target.writestr(name, data)
        target.writestr("SHA256SUMS", sums)
    return out


def _orphan_order(columns, rows) -> None:
    rows[0][columns.index("store_id")] = 999_999  # no such store in the backup


def _duplicate_order_number(columns, rows) -> None:
    for name in ("store_id", "number"):
        rows[1][columns.index(name)] = rows[0][columns.index(name)]


def _number_as_integer(columns, rows) -> None:
    rows[0][columns.index("number")] = 12345


def _structure(app, ref) -> dict[str, set[tuple]]:
    """A tenant's indexes and constraints as the catalog shows them, its schema name left out."""
    with app.app_context():
        if db.backend == "postgresql":
            with db.state.raw_control.connect() as conn:
                params = {"schema": ref.schema, "prefix": f"{ref.schema}."}
                indexes = conn.execute(
                    sa.text(
                        "SELECT tablename, indexname, replace(indexdef, :prefix, '') FROM pg_indexes "
                        "WHERE schemaname = :schema"
                    ),
                    params,
                )
                constraints = conn.execute(
                    sa.text(
                        "SELECT t.relname, c.conname, c.contype, "
                        "replace(pg_get_constraintdef(c.oid), :prefix, '') FROM pg_constraint c "
                        "JOIN pg_class t ON t.oid = c.conrelid "
                        "JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = :schema"
                    ),
                    params,
                )
                foreign_keys = conn.execute(
                    sa.text(
                        "SELECT tc.table_name, tc.constraint_name, rc.update_rule, rc.delete_rule "
                        "FROM information_schema.table_constraints tc "
                        "JOIN information_schema.referential_constraints rc "
                        "ON rc.constraint_schema = tc.constraint_schema "
                        "AND rc.constraint_name = tc.constraint_name "
                        "WHERE tc.constraint_schema = :schema AND tc.constraint_type = 'FOREIGN KEY'"
                    ),
                    params,
                )
                return {
                    "indexes": set(map(tuple, indexes)),
                    "constraints": set(map(tuple, constraints)),
                    "foreign_keys": set(map(tuple, foreign_keys)),
                }
        path = db.state.tenant_file(ref.schema)
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        master = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
        tables = [name for kind, name, _, _ in master if kind == "table" and not name.startswith("sqlite_")]
        foreign_keys = {
            (table, *row[2:5])
            for table in tables
            for row in conn.execute("SELECT * FROM pragma_foreign_key_list(?)", (table,))
        }
    return {
        "indexes": {row for row in master if row[0] == "index"},
        "tables": {row for row in master if row[0] == "table"},
        "foreign_keys": foreign_keys,
    }


def _journal_mode(app, ref) -> str:
    with app.app_context():
        path = db.state.tenant_file(ref.schema)
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return conn.execute("PRAGMA journal_mode").fetchone()[0]


def _empty_tenant(app, slug: str):
    with app.app_context():
        with unit_of_work():
            tenant = Tenant(slug=slug, name="Empty", status=TenantStatus.PROVISIONING)
            db.control.add(tenant)
        services.provision(tenant)  # no seed: only the schema's built-in rows
        db.control.commit()
        return tenant.ref


def test_restored_tenants_have_the_indexes_and_foreign_keys_of_a_provisioned_one(
    app, alpha, tmp_path, restored
):
    """Secondary indexes, unique constraints and foreign keys are dropped for the load and made
    again: afterwards a restored tenant, new or existing, has exactly a provisioned one's."""
    path = backup_of(app, alpha, tmp_path / "alpha.zip")
    provisioned = _structure(app, alpha.ref)
    assert len(provisioned["indexes"]) > 100 and len(provisioned["foreign_keys"]) > 100
    new, existing = new_slug(), new_slug()
    restored.extend([new, existing])
    existing_ref = _empty_tenant(app, existing)
    with app.app_context():
        restore_backup(path, new, new=True)
        restore_backup(path, existing)
    assert _structure(app, tenant_ref(app, new)) == provisioned
    if db_backend(app) == "sqlite":  # loaded without a journal, then back to the usual WAL
        assert _journal_mode(app, tenant_ref(app, new)) == "wal"
    assert _structure(app, existing_ref) == provisioned
    assert digests(app, existing_ref) == digests(app, tenant_ref(app, new)) == digests(app, alpha.ref)


def db_backend(app) -> str:
    with app.app_context():
        return db.backend


@pytest.mark.parametrize(
    "edit, into, message",
    [
        (_orphan_order, "new", "refers to a row of stores that is not in it"),
        (_orphan_order, "existing", "repair_orders"),
        (_duplicate_order_number, "new", "repair_orders"),
        (
            _number_as_integer,
            "new",
            "Row 1 of repair_orders in bad.zip cannot be read: number: unexpected int",
        ),
    ],
    ids=["orphan-new", "orphan-existing", "duplicate-new", "wrong-type-new"],
)
def test_rows_breaking_the_schemas_rules_are_refused_and_leave_nothing(
    app, alpha, tmp_path, restored, edit, into, message
):
    """A backup whose checksums are right but whose rows break a rule of the schema (a row
    pointing at a parent missing from the backup, the same order number twice, text where a
    number belongs): refused with the table named, and nothing is left behind."""
    bad = _with_table_edited(
        backup_of(app, alpha, tmp_path / "good.zip"), tmp_path / "bad.zip", "repair_orders", edit
    )
    with app.app_context():
        verify_backup(bad)  # passes every check of the file itself
    slug = new_slug()
    restored.append(slug)
    if into == "existing":
        ref = _empty_tenant(app, slug)
        structure, before = _structure(app, ref), digests(app, ref)
    schemas = _tenant_schemas(app)
    with app.app_context():
        tenants = set(db.control.execute(sa.select(Tenant.id)).scalars())
        with pytest.raises(BackupRefused) as refused:
            restore_backup(bad, slug, new=into == "new")
        assert set(db.control.execute(sa.select(Tenant.id)).scalars()) == tenants  # no tenant row left
        leftovers = list(db.state.tenant_dir.glob(".t_*")) if db.backend == "sqlite" else []
    assert message in refused.value.message
    assert "repair_orders" in refused.value.message
    assert _tenant_schemas(app) == schemas and not leftovers  # no schema, file or scratch file left
    if into == "existing":  # rolled back: still empty, indexes and foreign keys in place
        assert digests(app, ref) == before
        assert _structure(app, ref) == structure
