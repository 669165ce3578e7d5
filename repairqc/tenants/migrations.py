"""Alembic for two planes: the control plane once, and every tenant schema (or file) on its own.

Each tenant keeps its own ``alembic_version`` table, so a run can stop and resume and tenants at
different revisions stay visible (tenancy.md §3.4, §6.5). Tenant revisions never pass
``schema=``: on PostgreSQL they run under ``SET LOCAL search_path`` to the tenant's schema; on
SQLite the tenant file is opened as ``main``.

`TenantMigrator` needs no Flask app, so the parallel runner's worker processes and the
benchmarks can use it directly.
"""

from __future__ import annotations

import concurrent.futures
import functools
import multiprocessing
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory
from sqlalchemy.pool import NullPool

from repairqc.tenants import ddl

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
PLANES = ("control", "tenant")
#: Tenants whose revision is read in one statement and one transaction.
REVISION_CHUNK = 500


def alembic_config(plane: str) -> Config:
    if plane not in PLANES:
        raise ValueError(plane)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR / plane))
    config.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    config.attributes["plane"] = plane
    return config


@functools.cache
def script_directory(plane: str) -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(plane))


def head(plane: str) -> str:
    heads = script_directory(plane).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"the {plane} migrations have {len(heads)} heads; merge them")
    return heads[0]


def _run(connection: sa.Connection, plane: str, version_schema: str | None, fn, target: str) -> None:
    """Run Alembic on an open connection inside the caller's transaction (no env.py round trip)."""
    script = script_directory(plane)
    with EnvironmentContext(alembic_config(plane), script, fn=fn, destination_rev=target) as env:
        env.configure(
            connection=connection,
            version_table_schema=version_schema,
            render_as_batch=connection.dialect.name == "sqlite",
            transactional_ddl=True,
        )
        with env.begin_transaction():
            env.run_migrations()


def upgrade_connection(
    connection: sa.Connection, plane: str, version_schema: str | None, target: str = "head"
) -> None:
    script = script_directory(plane)
    _run(connection, plane, version_schema, lambda rev, ctx: script._upgrade_revs(target, rev), target)


def stamp_connection(connection: sa.Connection, plane: str, version_schema: str | None) -> None:
    script = script_directory(plane)
    _run(connection, plane, version_schema, lambda rev, ctx: script._stamp_revs("head", rev), "head")


def upgrade_control(engine: sa.Engine) -> None:
    """Bring the control plane to head (schema ``control`` on PostgreSQL, the main file on SQLite)."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS control")
            conn.exec_driver_sql("SET LOCAL search_path TO control")
            upgrade_connection(conn, "control", "control")
        else:
            upgrade_connection(conn, "control", None)


def control_revision(engine: sa.Engine) -> str | None:
    schema = "control" if engine.dialect.name == "postgresql" else None
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version", schema=schema):
            return None
        table = sa.table("alembic_version", sa.column("version_num"), schema=schema)
        return conn.execute(sa.select(table.c.version_num)).scalar()


class TenantMigrator:
    """Reads and advances tenant revisions for one database (URL) and tenant folder."""

    def __init__(self, url: str | sa.URL, tenant_dir: str | Path, engine: sa.Engine | None = None) -> None:
        self.url = sa.make_url(url)
        self.backend = self.url.get_backend_name()
        self.tenant_dir = Path(tenant_dir)
        #: PostgreSQL: an existing engine to share (the app's); else one is made on first use.
        self._engine: sa.Engine | None = engine

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = sa.create_engine(self.url, pool_pre_ping=True)
        return self._engine

    def tenant_file(self, schema: str) -> Path:
        return self.tenant_dir / f"{ddl.checked(schema)}.db"

    def file_engine(self, path: Path) -> sa.Engine:
        """A tenant file opened as ``main``, with explicit BEGIN so DDL is transactional.

        Foreign keys are OFF, as SQLite's ALTER TABLE procedure requires: batch migrations copy
        a table and drop the old one, and with them ON that DROP deletes (or cascades to) every
        child row. `upgrade` runs PRAGMA foreign_key_check before committing instead.
        """
        engine = sa.create_engine(f"sqlite:///{path}", poolclass=NullPool)

        @sa.event.listens_for(engine, "connect")
        def _connect(dbapi_conn, record):
            dbapi_conn.isolation_level = None
            dbapi_conn.execute("PRAGMA foreign_keys=OFF")
            dbapi_conn.execute("PRAGMA busy_timeout=10000")

        @sa.event.listens_for(engine, "begin")
        def _begin(conn):
            conn.exec_driver_sql("BEGIN")

        return engine

    def revisions(self, schemas: list[str]) -> dict[str, str | None]:
        if self.backend == "postgresql":
            result: dict[str, str | None] = {}
            with self.engine.connect() as conn:
                for start in range(0, len(schemas), REVISION_CHUNK):
                    # One transaction per chunk: every table read holds a lock until commit, and
                    # thousands at once exhaust max_locks_per_transaction (64 x connections).
                    with conn.begin():
                        result.update(
                            ddl.tenant_revisions_postgresql(conn, schemas[start : start + REVISION_CHUNK])
                        )
            return result
        result: dict[str, str | None] = {}
        for schema in schemas:
            path = self.tenant_file(schema)
            try:
                with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
                    row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
                result[schema] = row[0] if row else None
            except sqlite3.Error:
                result[schema] = None
        return result

    def upgrade(self, schema: str, target: str = "head") -> None:
        if self.backend == "postgresql":
            with self.engine.begin() as conn:
                ddl.set_local_search_path(conn, schema)
                upgrade_connection(conn, "tenant", schema, target)
        else:
            path = self.tenant_file(schema)
            if not path.exists():  # never create an empty tenant in place of a lost one
                raise FileNotFoundError(f"tenant database {path} is missing; restore it from a backup")
            engine = self.file_engine(path)
            try:
                with engine.begin() as conn:
                    upgrade_connection(conn, "tenant", None, target)
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(
                            f"migration left {len(broken)} broken references, e.g. {broken[0]}"
                        )
            finally:
                engine.dispose()

    def build_file(self, path: Path) -> None:
        """SQLite: a new tenant file built by replaying every revision (the provisioning template)."""
        engine = self.file_engine(path)
        try:
            with engine.begin() as conn:
                upgrade_connection(conn, "tenant", None)
        finally:
            engine.dispose()


# --- upgrade every tenant ---------------------------------------------------------------------------


@dataclass
class UpgradeReport:
    head: str
    upgraded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    not_reached: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.not_reached


_process_migrators: dict[str, TenantMigrator] = {}


def _upgrade_in_worker(url: str, tenant_dir: str, schema: str) -> str:
    migrator = _process_migrators.get(url)
    if migrator is None:
        migrator = _process_migrators[url] = TenantMigrator(url, tenant_dir)
    migrator.upgrade(schema)
    return schema


def upgrade_all(
    migrator: TenantMigrator,
    tenants: list[tuple[str, str]],
    jobs: int = 1,
    progress: Callable[[str, str], None] = lambda slug, outcome: None,
) -> UpgradeReport:
    """Upgrade every (slug, schema) not yet at head; stop at the first failure.

    Tenants already at head are skipped after one bulk read of every revision. With jobs > 1 the
    work is spread over that many processes (Alembic's `op` proxy is process-global, so not
    threads); after a failure no new tenant is started and the rest are reported not reached.
    """
    target = head("tenant")
    report = UpgradeReport(head=target)
    revisions = migrator.revisions([schema for _, schema in tenants])
    pending: list[tuple[str, str]] = []
    for slug, schema in tenants:
        if revisions.get(schema) == target:
            report.skipped.append(slug)
            progress(slug, "skipped")
        else:
            pending.append((slug, schema))

    if jobs <= 1:
        for index, (slug, schema) in enumerate(pending):
            try:
                migrator.upgrade(schema)
            except Exception as exc:  # reported per tenant; the run stops here
                report.failed.append((slug, f"{type(exc).__name__}: {exc}"))
                report.not_reached = [s for s, _ in pending[index + 1 :]]
                progress(slug, "failed")
                return report
            report.upgraded.append(slug)
            progress(slug, "upgraded")
        return report

    url = migrator.url.render_as_string(hide_password=False)
    context = multiprocessing.get_context("fork")
    queue = list(pending)
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        running: dict[concurrent.futures.Future, str] = {}
        while queue or running:
            while queue and len(running) < jobs and not report.failed:
                slug, schema = queue.pop(0)
                running[pool.submit(_upgrade_in_worker, url, str(migrator.tenant_dir), schema)] = slug
            if not running:
                break
            done, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in done:
                slug = running.pop(future)
                error = future.exception()
                if error is None:
                    report.upgraded.append(slug)
                    progress(slug, "upgraded")
                else:
                    report.failed.append((slug, f"{type(error).__name__}: {error}"))
                    progress(slug, "failed")
            if report.failed and not running:
                break
        report.not_reached = [slug for slug, _ in queue]
    return report


# --- autogenerate support (developers) ---------------------------------------------------------------


def autogenerate_metadata(plane: str) -> sa.MetaData:
    """The plane's metadata with the symbolic schema removed, as revisions must not name one."""
    from repairqc import models  # noqa: F401  (imports every model so the metadata is complete)
    from repairqc.db import ControlBase, TenantBase

    source = ControlBase.metadata if plane == "control" else TenantBase.metadata
    target = sa.MetaData(naming_convention=source.naming_convention)
    for table in source.sorted_tables:
        table.to_metadata(target, schema=None)
    return target


def render_item(type_: str, obj, autogen_context):
    """Render our TypeDecorators as the plain types they store, so revisions never import app code."""
    if type_ == "type" and isinstance(obj, sa.types.TypeDecorator):
        return f"sa.{obj.impl!r}"
    return False


def run_autogenerate_env(plane: str) -> None:
    """The body of both env.py files: compare the models with a scratch database at head."""
    from alembic import context

    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=autogenerate_metadata(plane),
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def new_revision(plane: str, message: str) -> str:
    """Autogenerate a revision for `plane` against a scratch SQLite database at head."""
    import tempfile

    from alembic import command

    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "scratch.db"
        migrator = TenantMigrator(f"sqlite:///{path}", scratch)
        engine = migrator.file_engine(path)
        try:
            with engine.begin() as conn:
                upgrade_connection(conn, plane, None)
            with engine.begin() as conn:
                config = alembic_config(plane)
                config.attributes["connection"] = conn
                script = command.revision(config, message=message, autogenerate=True)
        finally:
            engine.dispose()
    script_directory.cache_clear()
    return script.path  # type: ignore[union-attr]
