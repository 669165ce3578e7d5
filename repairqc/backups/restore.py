"""Restoring a backup into a new tenant, or over an existing empty one (HB §7.3.1).

Nothing is touched before the whole file is verified (`format.verify_backup`: every file
against SHA256SUMS, the metadata, the format) and found to fit this code (`check_compatible`:
the schema revision is the head, the tables and columns are the code's).

Then, in one transaction, the tenant's secondary indexes and (PostgreSQL) unique constraints
and foreign keys are dropped, as the catalog defines them; the tables are loaded parents first
(`TenantBase.metadata.sorted_tables`) in batches (COPY on PostgreSQL, the driver's executemany on
SQLite; dates and times as the file's text where the database reads it, other values converted
by the storage types' own bind processors); a self-referencing key that points at a row not
loaded yet (a rework of a later order) is inserted as NULL and set once the table is in. The
dropped structures are created again from the catalog's SQL: each index built once, each
foreign key checked once over the whole table, instead of row by row — and a row breaking one
(a parent missing from the backup, a duplicate) refuses the backup. PostgreSQL's sequences are
moved past the largest id (SQLite's AUTOINCREMENT follows explicit ids by itself). Last, every
table's checksum is recomputed from the database, through the same serialiser that wrote the
file, and compared with the metadata: any difference rolls it all back.

* A new tenant is built like provisioning builds one, without the first rows: on PostgreSQL its
  schema is created, loaded and verified in the transaction that makes it active; on SQLite a
  copy of the template file is loaded (no journal, no syncs, foreign keys enforced once by
  `PRAGMA foreign_key_check` at the end) and verified, then given its usual settings back and
  renamed into place. On any failure the schema (or file) and the tenant's control row are gone
  again.
* An existing tenant must be empty (every table, alembic_version aside) and at the head
  revision; it is loaded in one transaction of its own.

Restoring is also how a tenant moves between backends: back it up on SQLite, restore it on
PostgreSQL (or the other way round).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from repairqc.backups.format import (
    BATCH,
    BackupRefused,
    Kind,
    VerifiedBackup,
    backed_up_tables,
    check_compatible,
    column_kind,
    digest_table,
    open_archive,
    quoted_table,
    read_rows,
    storage_table,
    use_utc,
    verify_backup,
)
from repairqc.db import CONTROL, TENANT, TenantRef, db, utcnow
from repairqc.errors import Conflict, DomainError
from repairqc.tenants import ddl, resolution
from repairqc.tenants.export import _tenant_revision
from repairqc.tenants.migrations import head, stamp_connection
from repairqc.tenants.models import Domain, Tenant, TenantStatus

logger = logging.getLogger(__name__)


@dataclass
class RestoreSummary:
    slug: str
    schema: str
    #: The tenant the backup was taken from.
    source_slug: str
    created: bool
    tables: int
    rows: int


class NotEmpty(Conflict, BackupRefused):
    status_code = 409


def restore_backup(
    path: str | Path, slug: str, *, new: bool = False, name: str | None = None
) -> RestoreSummary:
    """Restore the backup at `path` into tenant `slug`: a new one (`new`, named `name` or as in
    the backup) or an existing empty one. Raises BackupRefused (or DomainError) with nothing
    changed."""
    backup = verify_backup(path)
    check_compatible(backup)
    if new:
        return _restore_new(backup, slug, name or backup.metadata.tenant.name or slug)
    return _restore_existing(backup, slug)


# --- loading -------------------------------------------------------------------------------------------


def _self_references(table: sa.Table) -> list[tuple[str, str]]:
    """(column, referenced column) of the table's foreign keys that point at the table itself."""
    return [
        (fk.parent.name, fk.column.name)
        for fk in table.foreign_keys
        if fk.column.table is table  # single-column keys: every one in the schema is
    ]


#: Kinds each backend takes as the file's text (`read_rows(as_text=...)`): PostgreSQL's COPY
#: reads ISO 8601 dates, times and datetimes (offset included) and plain decimals itself; the
#: SQLite loader rewrites datetime text into SQLAlchemy's storage form (`_sqlite_datetime`).
_AS_TEXT = {
    "postgresql": frozenset({Kind.DATETIME, Kind.DATE, Kind.TIME, Kind.DECIMAL}),
    "sqlite": frozenset({Kind.DATETIME}),
}


def _bind_processors(conn: sa.Connection, stored: sa.Table) -> list[tuple[int, Callable[[Any], Any]]]:
    """(index, processor) of the columns whose value SQLAlchemy converts before the driver sees
    it (booleans, JSON, ...): the rows are then written exactly as a Core insert would write
    them, without its per-row parameter handling. Values taken as text have their own."""
    processors = []
    as_text = _AS_TEXT[conn.dialect.name]
    for index, column in enumerate(stored.columns):
        kind = column_kind(column)
        if kind in as_text:
            process = _sqlite_datetime if conn.dialect.name == "sqlite" else None
        else:
            process = column.type._cached_bind_processor(conn.dialect)
        if process is not None:
            processors.append((index, process))
    return processors


def _sqlite_datetime(value: str) -> str:
    """Canonical datetime text (checked by the reader) as SQLAlchemy stores it in SQLite: naive
    UTC, always six fraction digits. Text of another shape is stored as its UTC value: then it
    reads back canonical, differs from the file's line, and the checksum refuses the backup."""
    if len(value) == 32:  # "2026-11-25T14:05:00.123456+00:00"
        return f"{value[:10]} {value[11:26]}"
    if len(value) == 25:  # "2026-11-25T14:05:00+00:00"
        return f"{value[:10]} {value[11:19]}.000000"
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(sep=" ", timespec="microseconds")


def _batch_writer(conn: sa.Connection, table: sa.Table) -> Callable[[list[list[Any]]], None]:
    """A function writing a batch of rows (values in column order, as storage types bind them).

    PostgreSQL: COPY FROM STDIN through psycopg (an order of magnitude faster than executemany);
    SQLite: the driver's executemany. Both on the connection of the restore's transaction."""
    stored = storage_table(table)
    processors = _bind_processors(conn, stored)
    target = quoted_table(conn, table)
    preparer = conn.dialect.identifier_preparer
    columns = ", ".join(preparer.quote(column.name) for column in stored.columns)
    driver = conn.connection.driver_connection

    def bind(rows: list[list[Any]]) -> list[list[Any]]:
        for values in rows:
            for index, process in processors:
                value = values[index]
                if value is not None:
                    values[index] = process(value)
        return rows

    if conn.dialect.name == "postgresql":
        copy_sql = f"COPY {target} ({columns}) FROM STDIN"

        def write(rows: list[list[Any]]) -> None:
            with driver.cursor() as cursor, cursor.copy(copy_sql) as copy:
                for values in bind(rows):
                    copy.write_row(values)

        return write

    insert_sql = f"INSERT INTO {target} ({columns}) VALUES ({', '.join('?' * len(stored.columns))})"

    def write(rows: list[list[Any]]) -> None:
        driver.executemany(insert_sql, bind(rows))

    return write


def _load_table(
    conn: sa.Connection, archive: zipfile.ZipFile, backup: VerifiedBackup, table: sa.Table
) -> int:
    stored = storage_table(table)
    names = [column.name for column in table.columns]
    self_refs = [
        (names.index(column), names.index(referenced)) for column, referenced in _self_references(table)
    ]
    loaded: dict[int, set[Any]] = {referenced: set() for _, referenced in self_refs}
    deferred: dict[int, list[dict[str, Any]]] = {column: [] for column, _ in self_refs}
    key = names.index(table.primary_key.columns[0].name) if self_refs else 0
    write = _batch_writer(conn, table)
    batch: list[list[Any]] = []
    rows = 0
    for values in read_rows(archive, backup, table, as_text=_AS_TEXT[conn.dialect.name]):
        for column, referenced in self_refs:
            target = values[column]
            if target is not None and target not in loaded[referenced]:
                # Points at a row further down the file: NULL now, set when the table is in.
                deferred[column].append({"_key": values[key], "_target": target})
                values[column] = None
        for referenced, seen in loaded.items():
            seen.add(values[referenced])
        batch.append(values)
        rows += 1
        if len(batch) >= BATCH:
            write(batch)
            batch = []
    if batch:
        write(batch)
    for column, updates in deferred.items():
        if updates:
            conn.execute(
                sa.update(stored)
                .where(stored.c[names[key]] == sa.bindparam("_key"))
                .values({names[column]: sa.bindparam("_target")}),
                updates,
            )
    return rows


def _reset_sequences(conn: sa.Connection) -> None:
    """PostgreSQL: each serial key's sequence continues after the largest id loaded.

    Runs under `SET LOCAL search_path` to the tenant's schema, so the table names below resolve
    there without this module spelling a schema name."""
    for table in backed_up_tables():
        column = table.autoincrement_column
        if column is None:
            continue
        stored = storage_table(table)
        largest = sa.select(sa.func.coalesce(sa.func.max(stored.c[column.name]), 0)).scalar_subquery()
        sequence = sa.func.pg_get_serial_sequence(table.name, column.name)
        conn.execute(sa.select(sa.func.setval(sequence, largest + 1, False)))


@dataclass(frozen=True)
class _Secondary:
    """A foreign key, unique constraint or index dropped for the load and created again after.

    Loading into bare tables and building each index once (a sort) and checking each foreign
    key once (a join) is several times faster than maintaining them row by row; the checks
    are the same, only made at the end."""

    kind: str  # "u" unique constraint, "i" index, "f" foreign key: the order they are created in
    table: str
    name: str
    parent: str | None
    drop: str
    create: str


#: PostgreSQL: the tenant schema's foreign keys and unique constraints, and the indexes that
#: back no primary key or constraint, with the SQL the catalog gives for each. Names are
#: rendered by `regclass` (quoted, qualified only where the search path needs it) and the
#: statements are replayed in the same transaction, under the same search path.
_PG_SECONDARY = sa.text(
    """
    SELECT c.contype::text AS kind, t.relname::text AS table_name, c.conname::text AS name,
           p.relname::text AS parent, c.conrelid::regclass::text AS owner,
           pg_get_constraintdef(c.oid) AS definition
    FROM pg_constraint c
    JOIN pg_class t ON t.oid = c.conrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    LEFT JOIN pg_class p ON p.oid = c.confrelid
    WHERE n.nspname = :schema AND c.contype IN ('f', 'u')
    UNION ALL
    SELECT 'i', t.relname::text, x.relname::text, NULL, x.oid::regclass::text, pg_get_indexdef(x.oid)
    FROM pg_index i
    JOIN pg_class x ON x.oid = i.indexrelid
    JOIN pg_class t ON t.oid = i.indrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    WHERE n.nspname = :schema AND NOT EXISTS (
        SELECT 1 FROM pg_constraint k
        WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x')
    )
    """
)

#: SQLite keeps an index's statement without its schema; it is put back in front of the name.
_SQLITE_CREATE_INDEX = re.compile(r"CREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?", re.IGNORECASE)
_CREATE_ORDER = {"u": 0, "i": 1, "f": 2}


def _secondary(conn: sa.Connection, schema: str) -> list[_Secondary]:
    """The tenant schema's secondary structures, in the order they are created (foreign keys
    last: they need the parents' unique indexes)."""
    found = []
    if conn.dialect.name == "postgresql":
        quote = conn.dialect.identifier_preparer.quote
        for row in conn.execute(_PG_SECONDARY, {"schema": schema}):
            if row.kind == "i":
                drop, create = f"DROP INDEX {row.owner}", row.definition
            else:
                constraint = quote(row.name)
                drop = f"ALTER TABLE {row.owner} DROP CONSTRAINT {constraint}"
                create = f"ALTER TABLE {row.owner} ADD CONSTRAINT {constraint} {row.definition}"
            found.append(_Secondary(row.kind, row.table_name, row.name, row.parent, drop, create))
    else:
        preparer = conn.dialect.identifier_preparer
        prefix = f"{preparer.quote_schema(schema)}."
        master = f"{prefix}sqlite_master"
        # Indexes with SQL of their own; those behind a PRIMARY KEY or UNIQUE (sql NULL) stay.
        for name, table_name, sql in conn.exec_driver_sql(
            f"SELECT name, tbl_name, sql FROM {master} WHERE type = 'index' AND sql IS NOT NULL"
        ):
            head_ = _SQLITE_CREATE_INDEX.match(sql)
            if head_ is None:
                raise RuntimeError(f"cannot read the index statement {sql!r}")
            create = f"{sql[: head_.end()]}{prefix}{sql[head_.end() :]}"
            found.append(
                _Secondary("i", table_name, name, None, f"DROP INDEX {prefix}{preparer.quote(name)}", create)
            )
    return sorted(found, key=lambda item: (_CREATE_ORDER[item.kind], item.table, item.name))


def _drop_secondary(conn: sa.Connection, schema: str) -> list[_Secondary]:
    found = _secondary(conn, schema)
    driver = conn.connection.driver_connection
    for item in reversed(found):
        driver.execute(item.drop)
    return found


def _recreate_secondary(conn: sa.Connection, dropped: list[_Secondary]) -> None:
    """Create again what `_drop_secondary` dropped; a row breaking one refuses the backup."""
    driver = conn.connection.driver_connection
    integrity_error = conn.dialect.loaded_dbapi.IntegrityError
    for item in dropped:
        try:
            driver.execute(item.create)
        except integrity_error as exc:
            raise _inconsistent(item, exc) from exc


def _detail(exc: Exception) -> str:
    """The database's own words for a refused row: its message and, on PostgreSQL, the detail
    naming the key ("Key (store_id)=(9) is not present in table "stores".")."""
    exc = getattr(exc, "orig", None) or exc
    message = (str(exc).splitlines() or [type(exc).__name__])[0]
    detail = getattr(getattr(exc, "diag", None), "message_detail", None)
    return f"{message} {detail}" if detail else message


def _inconsistent(item: _Secondary, exc: Exception) -> BackupRefused:
    detail = _detail(exc)
    if item.kind == "f":
        return BackupRefused(
            _(
                "The backup is inconsistent: a row of %(table)s refers to a row of %(parent)s that "
                "is not in it (%(detail)s); nothing was restored.",
                table=item.table,
                parent=str(item.parent),
                detail=detail,
            )
        )
    return BackupRefused(
        _(
            "The backup is inconsistent: the table %(table)s holds the same value twice where "
            "%(name)s allows it once (%(detail)s); nothing was restored.",
            table=item.table,
            name=item.name,
            detail=detail,
        )
    )


def _sqlite_foreign_key_check(conn: sa.Connection, schema: str) -> None:
    """SQLite, loaded with foreign keys off: any row pointing at a missing parent refuses."""
    pragma = f"PRAGMA {conn.dialect.identifier_preparer.quote_schema(schema)}.foreign_key_check"
    broken = conn.connection.driver_connection.execute(pragma).fetchone()
    if broken is not None:
        table, rowid, parent, _fk = broken
        raise BackupRefused(
            _(
                "The backup is inconsistent: a row of %(table)s refers to a row of %(parent)s that "
                "is not in it (%(detail)s); nothing was restored.",
                table=table,
                parent=parent,
                detail=f"rowid {rowid}",
            )
        )


def _builtin_tables() -> list[sa.Table]:
    """Tables a new schema is built with rows in (an `after_create` listener adds them, e.g. the
    built-in complaint categories); the backup carries its own copy of those rows."""
    return [table for table in backed_up_tables() if table.dispatch.after_create]


def _check_empty(conn: sa.Connection, slug: str) -> None:
    """Refuse a tenant holding data: any row, apart from the rows its schema was built with."""
    builtin = set(_builtin_tables())
    for table in backed_up_tables():
        if table in builtin:
            continue
        stored = storage_table(table)
        if conn.execute(sa.select(sa.literal(1)).select_from(stored).limit(1)).first() is not None:
            raise NotEmpty(
                _(
                    "The tenant %(slug)s already holds data (the table %(table)s has rows); a "
                    "backup is restored only into an empty tenant or a new one.",
                    slug=slug,
                    table=table.name,
                )
            )


def _load_and_check(
    conn: sa.Connection, backup: VerifiedBackup, slug: str, schema: str, *, foreign_keys_off: bool = False
) -> int:
    """Into an empty schema: load every table into bare tables (secondary indexes, unique
    constraints and, on PostgreSQL, foreign keys dropped in this transaction), build them
    again (a row breaking one refuses the backup), then compare each table's checksum from the
    database with the file's. `foreign_keys_off`: SQLite loading with enforcement off, checked
    here once at the end instead."""
    _check_empty(conn, slug)
    if conn.dialect.name == "postgresql":
        # Memory for building the indexes and checking the foreign keys once each; and times
        # read back in UTC, as the checksums want them. Both end with the transaction.
        conn.exec_driver_sql("SET LOCAL maintenance_work_mem TO '128MB'")
        conn.exec_driver_sql("SET LOCAL work_mem TO '32MB'")
        use_utc(conn)
    for table in reversed(_builtin_tables()):
        conn.execute(sa.delete(storage_table(table)))  # nothing refers to them: the rest is empty
    dropped = _drop_secondary(conn, schema)
    rows = 0
    dbapi = conn.dialect.loaded_dbapi
    refused = (dbapi.IntegrityError, dbapi.DataError, sa.exc.IntegrityError, sa.exc.DataError)
    with open_archive(backup.path) as archive:
        for table in backed_up_tables():
            try:
                rows += _load_table(conn, archive, backup, table)
            except refused as exc:  # a NULL, a duplicate key, a value the column cannot hold
                raise BackupRefused(
                    _(
                        "The backup does not fit the table %(table)s: %(detail)s; nothing was restored.",
                        table=table.name,
                        detail=_detail(exc),
                    )
                ) from exc
    _recreate_secondary(conn, dropped)
    if foreign_keys_off:
        _sqlite_foreign_key_check(conn, schema)
    if conn.dialect.name == "postgresql":
        _reset_sequences(conn)
    for table in backed_up_tables():
        expected = backup.metadata.table(table.name)
        found = digest_table(conn, table)
        if (found.rows, found.sha256) != (expected.rows, expected.sha256):
            raise BackupRefused(
                _(
                    "After loading, the table %(table)s does not match the backup (%(found)s rows "
                    "instead of %(rows)s, or different values); nothing was restored.",
                    table=table.name,
                    found=found.rows,
                    rows=expected.rows,
                )
            )
    return rows


def _failed(exc: Exception) -> DomainError:
    if isinstance(exc, DomainError):
        return exc
    return BackupRefused(
        _("The restore failed and was undone: %(reason)s", reason=f"{type(exc).__name__}: {exc}"[:500])
    )


# --- into a new tenant -----------------------------------------------------------------------------------


def _restore_new(backup: VerifiedBackup, slug: str, name: str) -> RestoreSummary:
    from repairqc.tenants.services import tenant_host, validate_host, validate_slug

    slug = (slug or "").strip().lower()
    name = name.strip()
    if not name:  # as provisioning asks (`tenants.services.create_tenant`)
        raise DomainError(_("The provider needs a name."), field="name")
    validate_slug(slug)
    host = validate_host(tenant_host(slug))
    # Committed first, like provisioning: the schema's name comes from the row's id.
    tenant = Tenant(slug=slug, name=name, status=TenantStatus.PROVISIONING)
    tenant.domains.append(Domain(host=host, is_primary=True))
    db.control.add(tenant)
    db.control.commit()
    ref = tenant.ref
    try:
        build = _new_postgresql if db.backend == "postgresql" else _new_sqlite
        rows = build(ref, backup)
    except Exception as exc:
        db.control.rollback()
        db.control.execute(sa.delete(Domain).where(Domain.tenant_id == ref.id))
        db.control.execute(sa.delete(Tenant).where(Tenant.id == ref.id))
        db.control.commit()
        logger.warning("restoring %s into new tenant %s failed: %s", backup.path.name, slug, exc)
        raise _failed(exc) from exc
    db.control.commit()  # ends any read snapshot older than the activation
    db.control.expire_all()
    resolution.clear_cache()
    logger.warning("restored %s into new tenant %s (%s rows)", backup.path.name, slug, rows)
    return _summary(backup, ref, created=True, rows=rows)


def _activate(conn: sa.Connection, tenant_id: int) -> None:
    table = Tenant.__table__
    conn.execute(
        sa.update(table)
        .where(table.c.id == tenant_id)
        .values(status=TenantStatus.ACTIVE.value, status_reason=None, status_changed_at=utcnow())
    )


def _new_postgresql(ref: TenantRef, backup: VerifiedBackup) -> int:
    from repairqc.db import TenantBase

    with db.state.raw_control.begin() as conn:
        ddl.create_schema(conn, ref.schema)
        tenant_conn = conn.execution_options(schema_translate_map={TENANT: ref.schema, CONTROL: CONTROL})
        TenantBase.metadata.create_all(tenant_conn, checkfirst=False)  # a new schema
        stamp_connection(conn, "tenant", ref.schema)
        ddl.set_local_search_path(conn, ref.schema)
        rows = _load_and_check(tenant_conn, backup, ref.slug, ref.schema)
        _activate(conn, ref.id)  # the same transaction as the schema: all or nothing
    return rows


def _new_sqlite(ref: TenantRef, backup: VerifiedBackup) -> int:
    from repairqc.db import _sqlite_tenant_engine
    from repairqc.tenants.services import template_file

    final = db.state.tenant_file(ref.schema)
    if final.exists():
        raise FileExistsError(f"{final} already exists")
    scratch = final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")
    shutil.copyfile(template_file(), scratch)  # the schema at head, no rows
    try:
        engine = _sqlite_tenant_engine(str(scratch), ref.schema)
        try:
            with engine.connect() as conn:
                driver = conn.connection.driver_connection
                schema = conn.dialect.identifier_preparer.quote_schema(ref.schema)
                # A scratch file nobody else sees, deleted on any failure: no journal, no syncs
                # and no per-row foreign key checks while loading (checked once at the end);
                # the file gets its usual settings (WAL) back before it is renamed into place. A page
                # cache big enough for the largest tables and their indexes (the default 2 MB
                # spills pages over and over). Pragmas outside a transaction: SQLite ignores
                # some inside one. The engine is disposed right after.
                usual = [
                    f"{name} = {driver.execute(f'PRAGMA {name}').fetchone()[0]}"
                    for name in (f"{schema}.journal_mode", f"{schema}.synchronous", "foreign_keys")
                ]
                for pragma in (
                    "foreign_keys = OFF",
                    f"{schema}.journal_mode = OFF",
                    f"{schema}.synchronous = OFF",
                    f"{schema}.cache_size = -262144",
                ):
                    driver.execute(f"PRAGMA {pragma}")
                with conn.begin():
                    rows = _load_and_check(conn, backup, ref.slug, ref.schema, foreign_keys_off=True)
                for pragma in usual:  # WAL mode is kept in the file: it must be back
                    driver.execute(f"PRAGMA {pragma}")
        finally:
            engine.dispose()
        os.replace(scratch, final)  # the tenant appears whole or not at all
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{scratch}{suffix}").unlink(missing_ok=True)
    db.control.execute(
        sa.update(Tenant)
        .where(Tenant.id == ref.id)
        .values(status=TenantStatus.ACTIVE, status_reason=None, status_changed_at=utcnow())
    )
    db.control.commit()
    return rows


# --- over an existing empty tenant -----------------------------------------------------------------------


@contextlib.contextmanager
def _tenant_transaction(ref: TenantRef) -> Iterator[sa.Connection]:
    """One transaction on the tenant's schema, apart from any session; rolled back on error."""
    bind = db.tenant_bind(ref.schema)
    if isinstance(bind, sa.Connection):
        # Pinned (tests): a savepoint inside the pinned transaction.
        with bind.begin_nested():
            yield bind
        return
    with bind.connect() as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            ddl.set_local_search_path(conn, ref.schema)
        yield conn


def _restore_existing(backup: VerifiedBackup, slug: str) -> RestoreSummary:
    from repairqc.tenants.services import get_tenant

    tenant = get_tenant((slug or "").strip().lower())
    if tenant.status in {TenantStatus.PROVISIONING, TenantStatus.FAILED}:
        raise BackupRefused(
            _("%(slug)s was never provisioned; restore into a new tenant instead.", slug=tenant.slug)
        )
    ref = tenant.ref
    try:
        with _tenant_transaction(ref) as conn:
            revision = _tenant_revision(conn)
            if revision != head("tenant"):
                raise BackupRefused(
                    _(
                        "The tenant %(slug)s is at schema revision %(found)s, not %(head)s; "
                        "upgrade it first.",
                        slug=ref.slug,
                        found=str(revision),
                        head=head("tenant"),
                    )
                )
            rows = _load_and_check(conn, backup, ref.slug, ref.schema)
    except Exception as exc:
        logger.warning("restoring %s into tenant %s failed: %s", backup.path.name, ref.slug, exc)
        raise _failed(exc) from exc
    logger.warning("restored %s into tenant %s (%s rows)", backup.path.name, ref.slug, rows)
    return _summary(backup, ref, created=False, rows=rows)


def _summary(backup: VerifiedBackup, ref: TenantRef, *, created: bool, rows: int) -> RestoreSummary:
    return RestoreSummary(
        slug=ref.slug,
        schema=ref.schema,
        source_slug=backup.metadata.tenant.slug,
        created=created,
        tables=len(backup.metadata.tables),
        rows=rows,
    )
