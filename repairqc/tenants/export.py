"""A tenant's data as one ZIP file: every table as CSV, every stored file as itself.

This is what a provider whose subscription has ended gets back before the operator deletes
the tenant (and what an operator keeps when a tenant leaves). It is written for people and
for other tools, not for restoring: a database backup restores.

Layout of the archive::

    manifest.json            tenant, schema revision, time, and per table its columns and rows
    tables/<table>.csv       one file per tenant table, UTF-8 with a byte-order mark (Excel)
    files/<id>-<name>        the bytes of each stored file (photos, signatures, SOP attachments)

Values are written as text: times in ISO 8601 UTC, booleans as true/false, JSON as JSON,
empty for NULL. Encrypted fields (customers' phone, e-mail, address) are written decrypted:
they are the provider's data. Columns marked secret — password hashes, search keys, device
passcodes, tracking keys — are left out and listed as such in the manifest: they would only
help someone attack the accounts and devices they protect.

Everything is read in one transaction (a repeatable-read snapshot on PostgreSQL, one read
transaction on SQLite's WAL), so the tables agree with each other even if the tenant is
still in use.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import enum
import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import IO, Any

import sqlalchemy as sa

from repairqc import models as _all_models  # noqa: F401  (registers every tenant table)
from repairqc.db import TENANT, TenantBase, TenantRef, db, utcnow
from repairqc.files.models import StoredFile
from repairqc.tenants import ddl

#: Rows fetched per round trip; keeps memory flat however large a table is.
BATCH = 1000
#: Stored files are large; fetch a few at a time.
FILE_BATCH = 10


@dataclass
class ExportSummary:
    tables: int = 0
    rows: int = 0
    files: int = 0
    #: table name -> rows written
    row_counts: dict[str, int] = field(default_factory=dict)


def is_secret(column: sa.Column) -> bool:
    return bool(column.info.get("secret"))


def exported_columns(table: sa.Table) -> list[sa.Column]:
    """The columns written to the table's CSV (secret ones are left out)."""
    return [column for column in table.columns if not is_secret(column)]


def as_text(value: Any) -> str:
    """One value as CSV text (see the module docstring for the conventions)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def file_entry_name(file_id: int, filename: str) -> str:
    """The archive path of a stored file; its id keeps equal names apart."""
    return f"files/{file_id}-{filename}"


def _tenant_revision(conn: sa.Connection) -> str | None:
    # A Table, not a lightweight table(): only Tables follow the schema_translate_map.
    version = sa.Table("alembic_version", sa.MetaData(schema=TENANT), sa.Column("version_num", sa.String))
    return conn.execute(sa.select(version.c.version_num)).scalar_one_or_none()


def _write_table(archive: zipfile.ZipFile, conn: sa.Connection, table: sa.Table) -> int:
    columns = exported_columns(table)
    order = [column for column in table.primary_key.columns] or columns[:1]
    query = sa.select(*columns).order_by(*order).execution_options(yield_per=BATCH)
    rows = 0
    with (
        archive.open(f"tables/{table.name}.csv", "w", force_zip64=True) as raw,
        io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text,
    ):
        writer = csv.writer(text)
        writer.writerow([column.name for column in columns])
        for row in conn.execute(query):
            writer.writerow([as_text(value) for value in row])
            rows += 1
    return rows


def _write_files(archive: zipfile.ZipFile, conn: sa.Connection) -> list[dict[str, Any]]:
    table = StoredFile.__table__
    query = (
        sa.select(table.c.id, table.c.filename, table.c.content_type, table.c.sha256, table.c.data)
        .order_by(table.c.id)
        .execution_options(yield_per=FILE_BATCH)
    )
    written = []
    for file_id, filename, content_type, sha256, data in conn.execute(query):
        name = file_entry_name(file_id, filename)
        # Images and PDFs are compressed already; deflating them again only costs time.
        archive.writestr(zipfile.ZipInfo(name, date_time=utcnow().timetuple()[:6]), bytes(data))
        written.append({"id": file_id, "path": name, "content_type": content_type, "sha256": sha256})
    return written


@contextlib.contextmanager
def _snapshot(tenant: TenantRef) -> Iterator[sa.Connection]:
    """A connection reading the tenant in one transaction, apart from any session."""
    bind = db.tenant_bind(tenant.schema)
    if isinstance(bind, sa.Connection):
        # Pinned (provisioning, tests): already inside its own transaction; read through it.
        yield bind
        return
    with bind.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            if conn.dialect.name == "postgresql":
                ddl.set_local_search_path(conn, tenant.schema)
            yield conn


def write_export(tenant: TenantRef, out: IO[bytes], *, name: str | None = None) -> ExportSummary:
    """Write `tenant`'s data as a ZIP archive to `out` (a file opened for binary writing)."""
    summary = ExportSummary()
    with _snapshot(tenant) as conn, zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        tables_manifest = []
        for table in TenantBase.metadata.sorted_tables:
            rows = _write_table(archive, conn, table)
            summary.row_counts[table.name] = rows
            summary.rows += rows
            summary.tables += 1
            tables_manifest.append(
                {
                    "name": table.name,
                    "file": f"tables/{table.name}.csv",
                    "rows": rows,
                    "columns": [column.name for column in exported_columns(table)],
                    "omitted_secret_columns": [c.name for c in table.columns if is_secret(c)],
                }
            )
        files = _write_files(archive, conn)
        summary.files = len(files)
        manifest = {
            "format": "repairqc-tenant-export/1",
            "tenant": {"id": tenant.id, "slug": tenant.slug, "name": name},
            "schema_revision": _tenant_revision(conn),
            "exported_at": utcnow().isoformat(),
            "tables": tables_manifest,
            "files": files,
        }
        archive.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
    return summary
