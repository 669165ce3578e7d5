"""The portable backup format "repairqc-backup/1": writing a tenant, reading and verifying a file.

A backup is a ZIP archive (HB §7.3.1: regular backups, no data lost)::

    tables/<table>.jsonl   one line per row, in primary-key order: a JSON array of the row's
                           values in the column order of metadata.json
    metadata.json          format, tenant, schema revision, time, product version, and per table
                           its file, columns (name and portable type), row count and SHA-256
    SHA256SUMS             `sha256sum -c` lines for every other file of the archive

Every column is written, as the database stores it: encrypted fields as their ciphertext (the
file holds no customer data in clear, and restores readable under the same ENCRYPTION_KEY) and
secret ones such as password hashes (a restored tenant must be able to sign in). So a backup is
as sensitive as the database itself: only the tenant's owners and whoever runs the servers may
download one (see docs/backups.md).

A table file *is* the canonical serialisation of the table: JSON with no spaces, keys of JSON
values sorted, non-ASCII text as UTF-8, one ``\\n`` after every row; values by portable type as
in `Kind`. Both backends read to the same lines, so the SHA-256 of the file is the table's
checksum in metadata.json and a restore recomputes it from the database it loaded into (the same
function, `digest_table`, serialises in both places).

SHA256SUMS detects damage (a changed byte, a truncated copy, an edited metadata.json), not
malice: someone who edits a file and its sums alike is not stopped here. Keep backups where only
their owners can write.
"""

from __future__ import annotations

import base64
import contextlib
import enum
import hashlib
import json
import math
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import IO, Any

import orjson
import pydantic
import sqlalchemy as sa
from flask_babel import gettext as _

from repairqc import models as _all_models  # noqa: F401  (registers every tenant table)
from repairqc.crypto import EncryptedString
from repairqc.db import TENANT, TenantBase, TenantRef, UTCDateTime, db, utcnow
from repairqc.errors import DomainError
from repairqc.tenants.export import _snapshot, _tenant_revision

FORMAT = "repairqc-backup/1"
METADATA = "metadata.json"
SUMS = "SHA256SUMS"
#: Rows fetched (and inserted, on restore) per round trip; memory stays flat however large a table.
BATCH = 5000
#: Bytes read at a time when hashing a file of the archive.
CHUNK = 1024 * 1024
SUM_LINE = re.compile(r"^([0-9a-f]{64}) [ *](\S.*)$")


class BackupRefused(DomainError):
    """The file is not a backup this version can restore, is damaged, or does not fit the target;
    nothing was changed."""

    status_code = 422


class Kind(enum.StrEnum):
    """Portable column types, and how each is written in a table file."""

    INTEGER = "integer"  # JSON number
    FLOAT = "float"  # JSON number (shortest repr that reads back the same double)
    DECIMAL = "decimal"  # JSON string, plain notation ("12.50")
    BOOLEAN = "boolean"  # true / false
    TEXT = "text"  # JSON string (enums as their stored value, encrypted fields as ciphertext)
    DATE = "date"  # "2026-11-25"
    TIME = "time"  # "14:05:00"
    DATETIME = "datetime"  # ISO 8601 in UTC: "2026-11-25T14:05:00.123456+00:00"
    BINARY = "binary"  # standard base64
    JSON = "json"  # the JSON value itself


def column_kind(column: sa.Column) -> Kind:
    kind = column.type
    # Order matters: Enum is a String, Double a Float, and the decorators wrap Text and DateTime.
    if isinstance(kind, UTCDateTime | sa.DateTime):
        return Kind.DATETIME
    if isinstance(kind, EncryptedString | sa.Enum | sa.String):
        return Kind.TEXT
    if isinstance(kind, sa.Boolean):
        return Kind.BOOLEAN
    if isinstance(kind, sa.Integer):
        return Kind.INTEGER
    if isinstance(kind, sa.Float):
        return Kind.FLOAT
    if isinstance(kind, sa.Numeric):
        return Kind.DECIMAL
    if isinstance(kind, sa.Date):
        return Kind.DATE
    if isinstance(kind, sa.Time):
        return Kind.TIME
    if isinstance(kind, sa.JSON):
        return Kind.JSON
    if isinstance(kind, sa.LargeBinary):
        return Kind.BINARY
    raise TypeError(f"{column.table.name}.{column.name}: no backup encoding for {kind!r}")


def _storage_type(column: sa.Column) -> sa.types.TypeEngine:
    """The type that reads and writes the value as stored, bypassing decryption and enum lookup."""
    kind = column_kind(column)
    if kind is Kind.TEXT:
        return sa.Text()
    if kind is Kind.DATETIME:
        return UTCDateTime()
    if kind is Kind.JSON:
        # Python None as SQL NULL. A JSON `null` therefore restores as NULL; both read as None.
        return sa.JSON(none_as_null=True)
    if kind is Kind.BOOLEAN:
        return sa.Boolean(create_constraint=False)
    if kind is Kind.DECIMAL:
        return sa.Numeric(column.type.precision, column.type.scale, asdecimal=True)
    return column.type


_STORAGE = sa.MetaData(schema=TENANT)


def storage_table(table: sa.Table) -> sa.Table:
    """A copy of `table` with storage types (`_storage_type`); same name, same symbolic schema."""
    copy = _STORAGE.tables.get(f"{TENANT}.{table.name}")
    if copy is None:
        copy = sa.Table(
            table.name,
            _STORAGE,
            *(
                sa.Column(c.name, _storage_type(c), primary_key=c.primary_key, autoincrement=False)
                for c in table.columns
            ),
        )
    return copy


def backed_up_tables() -> list[sa.Table]:
    """Every tenant table, parents before children (the order a restore loads them in)."""
    return list(TenantBase.metadata.sorted_tables)


def table_entry_name(table_name: str) -> str:
    return f"tables/{table_name}.jsonl"


# --- canonical values ------------------------------------------------------------------------------
#
# The canonical line is `json.dumps(row, ensure_ascii=False, separators=(",", ":"), sort_keys=True)`
# plus "\n" (docs/backups.md). It is produced with orjson, which writes the same bytes for every
# integer, string, boolean, null, date, time and UTC datetime (isoformat) at a fraction of the
# cost; the two kinds it writes differently are handed to it pre-serialised as `orjson.Fragment`:
# floats (json writes `1e-05`, orjson `0.00001`) and JSON values (which may hold such floats or
# integers beyond 64 bits). Only columns that need a conversion get a converter, so most rows go
# to orjson as the driver returned them.

# Naive datetimes (SQLite's, read with `datetime.fromisoformat`) are UTC: orjson writes them
# with "+00:00" itself, as `isoformat` writes an aware UTC value.
_LINE = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NAIVE_UTC


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


_NO_OFFSET = timedelta(0)


def _utc(value: datetime) -> datetime:
    """orjson writes a datetime's own offset; the canonical form is in UTC ("+00:00")."""
    if value.tzinfo is None or value.utcoffset() == _NO_OFFSET:
        return value  # naive: UTC already (`_LINE`)
    return value.astimezone(UTC)


def _float_fragment(value: Any) -> orjson.Fragment:
    value = float(value)
    return orjson.Fragment(repr(value) if math.isfinite(value) else _json_text(value))


def _json_fragment(value: Any) -> orjson.Fragment:
    return orjson.Fragment(_json_text(value).encode())


def _decimal_text(value: Decimal) -> str:
    return format(value, "f")


def _b64(value: bytes | memoryview) -> str:
    return base64.b64encode(bytes(value)).decode("ascii")


#: Encoders of the kinds whose driver value orjson would not write canonically by itself.
_ENCODERS: dict[Kind, Callable[[Any], Any]] = {
    Kind.FLOAT: _float_fragment,
    Kind.DECIMAL: _decimal_text,
    Kind.DATETIME: _utc,
    Kind.BINARY: _b64,
    Kind.JSON: _json_fragment,
}


def _base64(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


#: Decoders from the file's JSON value (its type checked already) to the Python value the
#: column's storage type binds. Integers, booleans, text and JSON values are used as read.
_DECODERS: dict[Kind, Callable[[Any], Any]] = {
    Kind.FLOAT: float,
    Kind.DECIMAL: Decimal,
    Kind.DATE: date.fromisoformat,
    Kind.TIME: time.fromisoformat,
    Kind.DATETIME: datetime.fromisoformat,
    Kind.BINARY: _base64,
}


def canonical_line(values: list[Any]) -> bytes:
    """One row as its line of a table file (the unit every checksum is computed over)."""
    return (_json_text(values) + "\n").encode()


def _row_encoder(
    table: sa.Table, steps: list[tuple[int, Callable[[Any], Any]]] | None = None
) -> Callable[[Any], bytes]:
    """A function from a row as the driver returns it to its canonical line; `steps`: (index,
    conversion) of the values to convert first (default: `_ENCODERS` by kind)."""
    dumps = orjson.dumps
    if steps is None:
        steps = [
            (index, _ENCODERS[kind])
            for index, kind in enumerate(column_kind(column) for column in table.columns)
            if kind in _ENCODERS
        ]
    if not steps:
        return lambda row: dumps(tuple(row), option=_LINE)

    def encode(row: Any) -> bytes:
        values = list(row)
        for index, convert in steps:
            value = values[index]
            if value is not None:
                values[index] = convert(value)
        return dumps(values, option=_LINE)

    return encode


#: PostgreSQL session time zones in which psycopg's datetimes are UTC already.
_UTC_ZONES = frozenset({"UTC", "Etc/UTC", "GMT", "Etc/GMT", "Universal", "Zulu", "UCT"})


def use_utc(conn: sa.Connection) -> None:
    """PostgreSQL: read times in UTC for the rest of the transaction, so the serialiser leaves
    them as they come (`_table_chunks`); SQLite has no session time zone."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL TimeZone TO 'UTC'")


def _postgresql_encoder(conn: sa.Connection, table: sa.Table) -> Callable[[Any], bytes]:
    """psycopg's values are what the storage types would return (aware datetimes, parsed JSON,
    bytes); datetimes need no conversion when the session's time zone is UTC."""
    zone = conn.connection.driver_connection.info.parameter_status("TimeZone")
    if zone not in _UTC_ZONES:
        return _row_encoder(table)
    return _row_encoder(
        table,
        [
            (index, _ENCODERS[kind])
            for index, kind in enumerate(column_kind(column) for column in table.columns)
            if kind in _ENCODERS and kind is not Kind.DATETIME
        ],
    )


def _sqlite_datetime(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """SQLite's datetime text to a naive UTC datetime, parsed in C: SQLAlchemy stores
    "2026-11-25 14:05:00.123456"; other text goes through the type's own processor."""
    parse = datetime.fromisoformat

    def read(value: Any) -> Any:
        if type(value) is str and len(value) == 26:
            moment = parse(value)
            if moment.tzinfo is None:
                return moment
        return _utc(process(value))

    return read


def _sqlite_encoder(dialect: sa.Dialect, table: sa.Table) -> Callable[[tuple[Any, ...]], bytes]:
    """A raw SQLite row to its canonical line: each value through its storage type's result
    processor (what SQLAlchemy would return) and its encoder, in one step per column, without
    building SQLAlchemy rows."""
    steps = []
    for index, (column, stored) in enumerate(zip(table.columns, storage_table(table).columns, strict=True)):
        kind = column_kind(column)
        process = stored.type._cached_result_processor(dialect, None)
        encode = _ENCODERS.get(kind)
        if kind is Kind.DATETIME:
            step = _sqlite_datetime(process)
        elif process is not None and encode is not None:
            step = _composed(process, encode)
        else:
            step = process or encode
        if step is not None:
            steps.append((index, step))
    return _row_encoder(table, steps)


def _composed(first: Callable[[Any], Any], then: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def both(value: Any) -> Any:
        value = first(value)
        return None if value is None else then(value)

    return both


def quoted_table(conn: sa.Connection, table: sa.Table) -> str:
    """The table's name for hand-written SQL, in the schema the connection maps the tenant to."""
    preparer = conn.dialect.identifier_preparer
    schema = (conn.get_execution_options().get("schema_translate_map") or {}).get(TENANT)
    name = preparer.quote(table.name)
    # No mapping (PostgreSQL under `SET LOCAL search_path`): the bare name resolves there.
    return f"{preparer.quote_schema(schema)}.{name}" if schema else name


def _table_chunks(conn: sa.Connection, table: sa.Table) -> Iterator[tuple[bytes, int]]:
    """Every row of `table` as canonical lines, in primary-key order: (lines, count) a batch.

    Straight from the driver: SQLAlchemy's per-row result processing was most of the cost of a
    backup and of the check after a restore."""
    if conn.dialect.name == "postgresql":
        encode = _postgresql_encoder(conn, table)
        for rows in _postgresql_batches(conn, table):
            yield b"".join(map(encode, rows)), len(rows)
        return
    encode = _sqlite_encoder(conn.dialect, table)
    stored = storage_table(table)
    order = [stored.c[column.name] for column in table.primary_key.columns]
    query = sa.select(*stored.columns).order_by(*order)
    sql = str(
        query.compile(
            dialect=conn.dialect,
            schema_translate_map=conn.get_execution_options().get("schema_translate_map"),
            render_schema_translate=True,
        )
    )
    cursor = conn.connection.driver_connection.execute(sql)
    try:
        while rows := cursor.fetchmany(BATCH):
            yield b"".join(map(encode, rows)), len(rows)
    finally:
        cursor.close()


def _postgresql_batches(conn: sa.Connection, table: sa.Table) -> Iterator[list[tuple[Any, ...]]]:
    quote = conn.dialect.identifier_preparer.quote
    columns = ", ".join(quote(column.name) for column in table.columns)
    order = ", ".join(quote(column.name) for column in table.primary_key.columns)
    query = f"SELECT {columns} FROM {quoted_table(conn, table)} ORDER BY {order}"
    driver = conn.connection.driver_connection
    # A server-side cursor in the caller's transaction (the snapshot): memory stays flat.
    with driver.cursor(name=f"backup_{table.name}", binary=True) as cursor:
        cursor.execute(query)
        while rows := cursor.fetchmany(BATCH):
            yield rows


@dataclass
class TableDigest:
    rows: int = 0
    sha256: str = ""


def digest_table(conn: sa.Connection, table: sa.Table, sink: IO[bytes] | None = None) -> TableDigest:
    """Row count and checksum of `table` as the database holds it (writing the lines to `sink`)."""
    digest = hashlib.sha256()
    rows = 0
    for chunk, count in _table_chunks(conn, table):
        digest.update(chunk)
        if sink is not None:
            sink.write(chunk)
        rows += count
    return TableDigest(rows, digest.hexdigest())


# --- writing -----------------------------------------------------------------------------------------


@dataclass
class BackupSummary:
    tenant: str
    schema_revision: str | None
    tables: int = 0
    rows: int = 0
    #: table name -> rows written
    row_counts: dict[str, int] = field(default_factory=dict)


def product_version() -> str:
    try:
        return package_version("repairqc")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "unknown"


def _tenant_name(tenant: TenantRef) -> str | None:
    from repairqc.tenants.models import Tenant

    return db.control.execute(sa.select(Tenant.name).where(Tenant.id == tenant.id)).scalar_one_or_none()


def write_backup(tenant_ref: TenantRef, out: IO[bytes], *, name: str | None = None) -> BackupSummary:
    """Write a backup of `tenant_ref` to `out` (a binary file), read in one snapshot."""
    name = name if name is not None else _tenant_name(tenant_ref)
    sums: list[tuple[str, str]] = []
    with (
        _snapshot(tenant_ref) as conn,
        zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive,
    ):
        use_utc(conn)
        revision = _tenant_revision(conn)
        summary = BackupSummary(tenant_ref.slug, revision)
        tables = []
        for table in backed_up_tables():
            entry = table_entry_name(table.name)
            with archive.open(entry, "w", force_zip64=True) as sink:
                digest = digest_table(conn, table, sink)
            sums.append((digest.sha256, entry))
            summary.tables += 1
            summary.rows += digest.rows
            summary.row_counts[table.name] = digest.rows
            tables.append(
                {
                    "name": table.name,
                    "file": entry,
                    "columns": [{"name": c.name, "type": column_kind(c).value} for c in table.columns],
                    "rows": digest.rows,
                    "sha256": digest.sha256,
                }
            )
        metadata = {
            "format": FORMAT,
            "tenant": {"slug": tenant_ref.slug, "name": name},
            "schema_revision": revision,
            "created_at": utcnow().isoformat(),
            "product_version": product_version(),
            "tables": tables,
        }
        body = json.dumps(metadata, ensure_ascii=False, indent=2).encode()
        archive.writestr(METADATA, body)
        sums.append((hashlib.sha256(body).hexdigest(), METADATA))
        archive.writestr(SUMS, "".join(f"{digest}  {entry}\n" for digest, entry in sums))
    return summary


# --- reading and verifying -----------------------------------------------------------------------------


class ColumnMeta(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    name: str
    type: Kind


class TableMeta(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    name: str
    file: str
    columns: list[ColumnMeta]
    rows: int = pydantic.Field(ge=0)
    sha256: str = pydantic.Field(pattern=r"^[0-9a-f]{64}$")


class TenantMeta(pydantic.BaseModel):
    slug: str
    name: str | None = None


class BackupMetadata(pydantic.BaseModel):
    format: str
    tenant: TenantMeta
    schema_revision: str
    created_at: datetime
    product_version: str
    tables: list[TableMeta]

    def table(self, name: str) -> TableMeta:
        return next(table for table in self.tables if table.name == name)

    @property
    def rows(self) -> int:
        return sum(table.rows for table in self.tables)


@dataclass
class VerifiedBackup:
    """A backup file whose sums, metadata and format were checked (`verify_backup`)."""

    path: Path
    metadata: BackupMetadata
    size_bytes: int


def _damaged(path: Path, reason: str) -> BackupRefused:
    return BackupRefused(
        _("%(file)s is damaged or not a complete backup: %(reason)s", file=path.name, reason=reason)
    )


@contextlib.contextmanager
def open_archive(path: Path) -> Iterator[zipfile.ZipFile]:
    """The backup as a ZIP; a file that is not one (or was cut short) is refused."""
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError as exc:
        raise BackupRefused(_("There is no file %(file)s.", file=str(path))) from exc
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise _damaged(path, _("it is not a readable ZIP archive (cut short?).")) from exc
    with archive:
        try:
            yield archive
        except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
            raise _damaged(path, str(exc)) from exc


def _file_sha256(archive: zipfile.ZipFile, name: str) -> tuple[str, int]:
    """The file's SHA-256 and its number of lines (rows, for a table file)."""
    digest = hashlib.sha256()
    lines = 0
    with archive.open(name) as stream:
        for chunk in iter(lambda: stream.read(CHUNK), b""):
            digest.update(chunk)
            lines += chunk.count(b"\n")
    return digest.hexdigest(), lines


def _read_sums(path: Path, archive: zipfile.ZipFile) -> dict[str, str]:
    names = archive.namelist()
    if SUMS not in names:
        raise BackupRefused(
            _("%(file)s is not a RepairQC backup: it has no %(sums)s file.", file=path.name, sums=SUMS)
        )
    if len(names) != len(set(names)):
        raise _damaged(path, _("the archive holds the same file twice."))
    sums: dict[str, str] = {}
    try:
        text = archive.read(SUMS).decode()
    except UnicodeDecodeError as exc:
        raise _damaged(path, _("%(sums)s is not text.", sums=SUMS)) from exc
    for line in text.splitlines():
        match = SUM_LINE.match(line)
        if match is None or match.group(2) in sums:
            raise _damaged(path, _("%(sums)s has a line it cannot read: %(line)s", sums=SUMS, line=line[:80]))
        sums[match.group(2)] = match.group(1)
    listed, present = set(sums), set(names) - {SUMS}
    if listed != present:
        odd = sorted(listed ^ present)
        raise _damaged(
            path, _("the files do not match the list in %(sums)s: %(files)s", sums=SUMS, files=", ".join(odd))
        )
    return sums


def verify_backup(path: str | Path) -> VerifiedBackup:
    """Check every file against SHA256SUMS, then the metadata and the format; raise BackupRefused."""
    path = Path(path)
    with open_archive(path) as archive:
        sums = _read_sums(path, archive)
        lines: dict[str, int] = {}
        for name, expected in sums.items():
            found, lines[name] = _file_sha256(archive, name)
            if found != expected:
                raise _damaged(path, _("%(name)s does not match its checksum.", name=name))
        if METADATA not in sums:
            raise _damaged(path, _("it has no %(name)s.", name=METADATA))
        try:
            raw = json.loads(archive.read(METADATA))
        except ValueError as exc:
            raise _damaged(path, _("%(name)s is not JSON.", name=METADATA)) from exc
    found = raw.get("format") if isinstance(raw, dict) else None
    if found != FORMAT:
        raise BackupRefused(
            _(
                "%(file)s is in the format “%(found)s”; this version of RepairQC restores “%(format)s”.",
                file=path.name,
                found=str(found),
                format=FORMAT,
            )
        )
    try:
        metadata = BackupMetadata.model_validate(raw)
    except pydantic.ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
        raise _damaged(
            path, _("%(name)s is not valid (%(problems)s).", name=METADATA, problems=problems)
        ) from exc
    seen: set[str] = set()
    for table in metadata.tables:
        if table.name in seen or table.file != table_entry_name(table.name):
            raise _damaged(
                path, _("%(name)s lists the table %(table)s wrongly.", name=METADATA, table=table.name)
            )
        seen.add(table.name)
        if sums.get(table.file) != table.sha256:
            raise _damaged(path, _("the checksum of %(table)s differs from its file's.", table=table.name))
        if lines[table.file] != table.rows:
            raise _damaged(
                path,
                _(
                    "%(file)s has %(found)s rows, but %(name)s says %(rows)s.",
                    file=table.file,
                    found=lines[table.file],
                    name=METADATA,
                    rows=table.rows,
                ),
            )
    return VerifiedBackup(path, metadata, path.stat().st_size)


def check_compatible(backup: VerifiedBackup) -> None:
    """The backup's schema is this code's: same revision, same tables, same columns and types.

    An older revision is refused rather than restored and then upgraded: a migration may need
    the product of its time (data migrations), and restoring where it was written is simpler
    to reason about. Restore it with the release that wrote it, then upgrade (docs/backups.md).
    """
    from repairqc.tenants.migrations import head

    metadata = backup.metadata
    code_revision = head("tenant")
    if metadata.schema_revision != code_revision:
        raise BackupRefused(
            _(
                "%(file)s was written at schema revision %(found)s, but this installation is at "
                "%(head)s. Restore it with the release that wrote it, then upgrade.",
                file=backup.path.name,
                found=metadata.schema_revision,
                head=code_revision,
            )
        )
    expected = {table.name: [(c.name, column_kind(c)) for c in table.columns] for table in backed_up_tables()}
    found = {table.name: [(c.name, c.type) for c in table.columns] for table in metadata.tables}
    if expected != found:
        differing = sorted(
            name for name in expected.keys() | found.keys() if expected.get(name) != found.get(name)
        )
        raise BackupRefused(
            _(
                "The tables of %(file)s do not match this installation's: %(tables)s.",
                file=backup.path.name,
                tables=", ".join(differing[:10]),
            )
        )


#: The JSON types a value of each kind may have in a file (None: NULL, any column).
_JSON_TYPES: dict[Kind, frozenset[type]] = {
    kind: frozenset({type(None), *types})
    for kind, types in {
        Kind.INTEGER: (int,),
        Kind.FLOAT: (int, float),
        Kind.DECIMAL: (str,),
        Kind.BOOLEAN: (bool,),
        Kind.TEXT: (str,),
        Kind.DATE: (str,),
        Kind.TIME: (str,),
        Kind.DATETIME: (str,),
        Kind.BINARY: (str,),
        Kind.JSON: (type(None), bool, int, float, str, list, dict),
    }.items()
}
#: Rows of one table have few combinations of JSON types (mostly where NULLs are): each new one
#: is checked column by column, then remembered, up to this many.
_SIGNATURES = 4096


def _checked_text(parse: Callable[[str], Any]) -> Callable[[str], str]:
    def check(value: str) -> str:
        parse(value)  # a real date, time or number, or ValueError
        return value

    return check


#: Checks of the kinds a loader may take as text (`read_rows(as_text=...)`).
_TEXT_CHECKS: dict[Kind, Callable[[str], str]] = {
    Kind.DECIMAL: _checked_text(Decimal),
    Kind.DATE: _checked_text(date.fromisoformat),
    Kind.TIME: _checked_text(time.fromisoformat),
    Kind.DATETIME: _checked_text(datetime.fromisoformat),
}


def _row_decoder(table: sa.Table, as_text: frozenset[Kind] = frozenset()) -> Callable[[bytes], list[Any]]:
    """A function from a line of the table's file to the row's values, as its storage types
    bind them; values of the kinds in `as_text` are checked and left as the file's text."""
    kinds = [column_kind(column) for column in table.columns]
    names = [column.name for column in table.columns]
    width = len(kinds)
    allowed = [_JSON_TYPES[kind] for kind in kinds]
    decoders = [
        (index, _TEXT_CHECKS[kind] if kind in as_text else _DECODERS[kind])
        for index, kind in enumerate(kinds)
        if kind in _DECODERS
    ]
    signatures: set[tuple[type, ...]] = set()
    # orjson reads an integer beyond 64 bits as a float; only a JSON value can hold one, and a
    # line with a run of 20 digits (rare: most are in strings) is read by json instead.
    huge_integer = re.compile(rb"\d{20}").search if Kind.JSON in kinds else None

    def check_types(signature: tuple[type, ...]) -> None:
        if len(signature) != width:
            raise ValueError("not a row of this table")
        for name, found, expected in zip(names, signature, allowed, strict=True):
            if found not in expected:
                raise ValueError(f"{name}: unexpected {found.__name__}")
        if len(signatures) < _SIGNATURES:
            signatures.add(signature)

    def decode(line: bytes) -> list[Any]:
        if huge_integer is not None and huge_integer(line):
            values = json.loads(line)
        else:
            try:
                values = orjson.loads(line)
            except orjson.JSONDecodeError:
                values = json.loads(line)  # what json writes but orjson refuses: NaN, Infinity
        if type(values) is not list:
            raise ValueError("not a row of this table")
        signature = tuple(map(type, values))
        if signature not in signatures:
            check_types(signature)
        for index, convert in decoders:
            value = values[index]
            if value is not None:
                values[index] = convert(value)
        return values

    return decode


def read_rows(
    archive: zipfile.ZipFile,
    backup: VerifiedBackup,
    table: sa.Table,
    *,
    as_text: frozenset[Kind] = frozenset(),
) -> Iterator[list[Any]]:
    """The rows of one table file, decoded, checked again against the metadata as they stream.

    Every value's JSON type is checked against its column's kind. Values of the kinds in
    `as_text` (dates, times, decimals) are checked to be real ones but handed over as the
    file's text, for a loader whose database reads the text itself: parsing them into Python
    objects only for the driver to write them out as text again was much of a restore's cost.
    A text that is valid but not canonical ("+02:00") is caught by the checksums after loading."""
    meta = backup.metadata.table(table.name)
    decode = _row_decoder(table, as_text)
    digest = hashlib.sha256()
    rows = 0
    rest = b""
    with archive.open(meta.file) as raw:
        for chunk in iter(lambda: raw.read(CHUNK), b""):
            digest.update(chunk)
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            for line in lines:
                rows += 1
                try:
                    values = decode(line)
                except (ValueError, TypeError) as exc:
                    raise BackupRefused(
                        _(
                            "Row %(row)s of %(table)s in %(file)s cannot be read: %(reason)s",
                            row=rows,
                            table=table.name,
                            file=backup.path.name,
                            reason=str(exc),
                        )
                    ) from exc
                yield values
    if rest or rows != meta.rows or digest.hexdigest() != meta.sha256:
        raise _damaged(backup.path, _("%(name)s changed while it was being read.", name=meta.file))
