"""The one reviewed place where SQL spells a schema (or database) name.

Everything else reaches tenant tables through `schema_translate_map` (design.md §2). Schema names
come from a tenant's immutable id (`t_<id>`), are checked against `SCHEMA_RE` here and are always
quoted by the dialect's identifier preparer, never pasted from user input.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import sqlalchemy as sa

SCHEMA_RE = re.compile(r"^t_[0-9a-z_]{1,60}$")


class InvalidSchemaName(ValueError):
    pass


def schema_for_tenant_id(tenant_id: int) -> str:
    """The schema (PostgreSQL) or ATTACH alias (SQLite) of a tenant; derived from the id only."""
    return checked(f"t_{int(tenant_id):06d}")


def checked(schema: str) -> str:
    if not SCHEMA_RE.match(schema):
        raise InvalidSchemaName(schema)
    return schema


def _quoted(dialect: sa.Dialect, schema: str) -> str:
    return dialect.identifier_preparer.quote_identifier(checked(schema))


def create_schema(conn: sa.Connection, schema: str) -> None:
    conn.exec_driver_sql(f"CREATE SCHEMA {_quoted(conn.dialect, schema)}")


def drop_schema(conn: sa.Connection, schema: str) -> None:
    conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {_quoted(conn.dialect, schema)} CASCADE")


DATABASE_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def recreate_database(conn: sa.Connection, name: str) -> None:
    """Drop and create a PostgreSQL database (tests and benchmarks; `conn` in AUTOCOMMIT)."""
    drop_database(conn, name)
    conn.exec_driver_sql(f"CREATE DATABASE {_quoted_database(conn.dialect, name)}")


def drop_database(conn: sa.Connection, name: str) -> None:
    conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {_quoted_database(conn.dialect, name)} WITH (FORCE)")


def _quoted_database(dialect: sa.Dialect, name: str) -> str:
    if not DATABASE_RE.match(name):
        raise ValueError(f"not a database name we create: {name!r}")
    return dialect.identifier_preparer.quote_identifier(name)


def schema_exists(conn: sa.Connection, schema: str) -> bool:
    return bool(
        conn.execute(
            sa.text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :s"),
            {"s": checked(schema)},
        ).scalar()
    )


def set_local_search_path(conn: sa.Connection, schema: str) -> None:
    """PostgreSQL backstop for raw SQL: transaction-scoped, so safe under PgBouncer."""
    conn.exec_driver_sql(f"SET LOCAL search_path TO {_quoted(conn.dialect, schema)}")


def attach_sqlite(dbapi_conn, path: str, schema: str) -> None:
    """Attach a tenant file to a raw sqlite3 connection under its schema alias."""
    alias = checked(schema)  # the alias cannot be a bound parameter; it is checked above
    dbapi_conn.execute(f'ATTACH DATABASE ? AS "{alias}"', (path,))
    dbapi_conn.execute(f'PRAGMA "{alias}".journal_mode=WAL')


def tenant_revisions_postgresql(conn: sa.Connection, schemas: Iterable[str]) -> dict[str, str | None]:
    """The listed tenants' Alembic revisions in one round trip (a UNION ALL over version tables).

    Each version table read takes a lock until the transaction ends, so callers pass bounded
    chunks and end the transaction between them (`TenantMigrator.revisions`). Schemas without a
    version table (e.g. provisioning failed half-way) report None.
    """
    schemas = [checked(s) for s in schemas]
    if not schemas:
        return {}
    present = set(
        conn.execute(
            sa.text(
                "SELECT table_schema FROM information_schema.tables "
                "WHERE table_name = 'alembic_version' AND table_schema = ANY(:s)"
            ),
            {"s": schemas},
        ).scalars()
    )
    result: dict[str, str | None] = dict.fromkeys(schemas)
    found = [s for s in schemas if s in present]
    if found:
        union = " UNION ALL ".join(
            f"SELECT '{s}' AS schema, version_num FROM {_quoted(conn.dialect, s)}.alembic_version"
            for s in found
        )
        for schema, version in conn.exec_driver_sql(union):
            result[schema] = version
    return result
