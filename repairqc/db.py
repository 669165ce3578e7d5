"""Declarative bases, the naming convention, and sessions bound to one tenant.

Two planes (design.md §2):

* the control plane (`ControlBase`, symbolic schema ``control``): tenants, domains, operators.
  PostgreSQL keeps it in schema ``control``; SQLite in the main database file.
* the tenant plane (`TenantBase`, symbolic schema ``tenant``): everything a provider owns. Each
  tenant has schema ``t_<id>`` (PostgreSQL) or its own file ATTACHed as ``t_<id>`` (SQLite).

``db.session`` is the tenant session of the current app context. It asks `current_tenant()` for
its bind, so a tenant query with no tenant bound raises `NoTenantBound`, and a session that has
started on one tenant refuses to continue on another.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app
from flask.globals import app_ctx
from sqlalchemy import event
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker
from sqlalchemy.pool import QueuePool

from repairqc.tenants import ddl

NAMING_CONVENTION = {
    # table_name, not column_0_label: the label would carry the symbolic schema ("ix_tenant_...").
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
CONTROL = "control"
TENANT = "tenant"


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator):
    """Timezone-aware UTC datetimes on both backends (SQLite stores them naive)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is not None:
            # Naive values (date pickers, filters) are taken to be UTC already.
            value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class ControlBase(DeclarativeBase):
    metadata = sa.MetaData(schema=CONTROL, naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


class TenantBase(DeclarativeBase):
    metadata = sa.MetaData(schema=TENANT, naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


# --- the tenant bound to the current context -------------------------------------------------


@dataclass(frozen=True)
class TenantRef:
    """What a request, job or command needs to know to work inside one tenant."""

    id: int
    slug: str
    schema: str


class NoTenantBound(RuntimeError):
    """A tenant table was queried with no tenant bound (fails closed, design.md §2)."""


class TenantStorageMissing(RuntimeError):
    """The tenant is registered but its SQLite file is gone (restore it from a backup)."""


class TenantSwitchError(RuntimeError):
    """A session that started on one tenant was asked to continue on another."""


_current_tenant: ContextVar[TenantRef | None] = ContextVar("repairqc_tenant", default=None)


def current_tenant() -> TenantRef:
    tenant = _current_tenant.get()
    if tenant is None:
        raise NoTenantBound("no tenant is bound to this request, job or command")
    return tenant


def current_tenant_or_none() -> TenantRef | None:
    return _current_tenant.get()


@contextlib.contextmanager
def tenant_context(tenant: TenantRef) -> Iterator[TenantRef]:
    """Bind `tenant` for the block (jobs, CLI, tests). Requests bind through `bind_tenant`."""
    token = _current_tenant.set(tenant)
    try:
        yield tenant
    finally:
        _current_tenant.reset(token)


def bind_tenant(tenant: TenantRef | None, reset_token: Token | None = None) -> Token | None:
    """Bind `tenant` for a request; teardown passes the returned token back to undo it."""
    if reset_token is not None:
        _current_tenant.reset(reset_token)
        return None
    return _current_tenant.set(tenant)


# --- sessions ----------------------------------------------------------------------------------


class TenantSession(Session):
    """A session whose bind is the current tenant's engine; never spans two tenants."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kw):
        tenant = current_tenant()
        started_on = self.info.setdefault("tenant_schema", tenant.schema)
        if started_on != tenant.schema:
            raise TenantSwitchError(f"session started on {started_on}, now asked for {tenant.schema}")
        return db.tenant_bind(tenant.schema)


@event.listens_for(TenantSession, "after_begin")
def _search_path_backstop(session: Session, transaction, connection: sa.Connection) -> None:
    if connection.dialect.name == "postgresql":
        ddl.set_local_search_path(connection, session.info["tenant_schema"])


class ControlSession(Session):
    """The control-plane session of the current app (tests run several apps in one process)."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kw):
        return db.control_bind()


def _app_context_scope() -> int:
    # One session per app context: every request, job and CLI command gets its own.
    return id(app_ctx._get_current_object()) if app_ctx else threading.get_ident()


class FlaskAdminSessionRegistry(scoped_session):
    """A scoped_session that Flask-Admin 2.x accepts as its ``db`` argument.

    Flask-Admin deprecates receiving a bare session and asks for an object with a ``.session``
    attribute; this registry is its own ``.session`` so every query is made lazily per request.
    """

    @property
    def session(self) -> FlaskAdminSessionRegistry:
        return self


class _EngineState:
    """Engines of one app: the control engine and an LRU of per-tenant binds."""

    def __init__(self, app: Flask) -> None:
        self.url = sa.make_url(app.config["DATABASE_URL"])
        self.backend = self.url.get_backend_name()
        if self.backend not in {"sqlite", "postgresql"}:
            raise RuntimeError(f"unsupported database backend {self.backend!r}")
        self.tenant_dir = Path(app.config["TENANT_DATA_DIR"])
        self.cache_size = app.config["TENANT_ENGINE_CACHE_SIZE"]
        self.pool_recycle = app.config["DB_POOL_RECYCLE"]
        self.lock = threading.Lock()
        self.pinned: dict[str, sa.Connection] = {}
        self._start()

    def _start(self) -> None:
        self.pid = os.getpid()
        self.tenant_engines: OrderedDict[str, sa.Engine] = OrderedDict()
        if self.backend == "sqlite":
            Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
            self.tenant_dir.mkdir(parents=True, exist_ok=True)
            self.raw_control = _sqlite_engine(str(self.url))
            self.control = self.raw_control.execution_options(schema_translate_map={CONTROL: None})
        else:
            self.raw_control = sa.create_engine(self.url, pool_pre_ping=True, pool_recycle=self.pool_recycle)
            self.control = self.raw_control

    def check_fork(self) -> None:
        # A forked RQ work horse must not share the parent's sockets (SQLAlchemy pooling docs).
        if os.getpid() != self.pid:
            self.raw_control.dispose(close=False)
            for engine in self.tenant_engines.values():
                engine.dispose(close=False)
            self._start()

    def tenant_file(self, schema: str) -> Path:
        return self.tenant_dir / f"{ddl.checked(schema)}.db"

    def tenant_engine(self, schema: str) -> sa.Engine:
        self.check_fork()
        with self.lock:
            engine = self.tenant_engines.get(schema)
            if engine is not None:
                self.tenant_engines.move_to_end(schema)
                return engine
            if self.backend == "sqlite":
                engine = _sqlite_tenant_engine(str(self.tenant_file(schema)), schema)
                limit = self.cache_size
            else:  # option engines share the one pool; caching them only saves allocations
                engine = self.raw_control.execution_options(
                    schema_translate_map={TENANT: ddl.checked(schema), CONTROL: CONTROL}
                )
                limit = max(self.cache_size, 4096)
            self.tenant_engines[schema] = engine
            while len(self.tenant_engines) > limit:
                _, evicted = self.tenant_engines.popitem(last=False)
                if self.backend == "sqlite":
                    evicted.dispose()
            return engine

    def forget_tenant(self, schema: str) -> None:
        with self.lock:
            engine = self.tenant_engines.pop(schema, None)
        if engine is not None and self.backend == "sqlite":
            engine.dispose()

    def dispose(self) -> None:
        for engine in self.tenant_engines.values():
            if self.backend == "sqlite":
                engine.dispose()
        self.tenant_engines.clear()
        self.raw_control.dispose()


def _sqlite_pragmas(engine: sa.Engine) -> None:
    # pysqlite's implicit transactions break SAVEPOINT and transactional DDL; take control of
    # BEGIN ourselves (SQLAlchemy docs, "Serializable isolation / Savepoints / Transactional DDL").
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, record):
        dbapi_conn.isolation_level = None
        dbapi_conn.execute("PRAGMA foreign_keys=ON")
        dbapi_conn.execute("PRAGMA busy_timeout=10000")

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN")


def _sqlite_engine(url: str) -> sa.Engine:
    engine = sa.create_engine(url, connect_args={"check_same_thread": False})
    _sqlite_pragmas(engine)

    @event.listens_for(engine, "connect")
    def _wal(dbapi_conn, record):
        dbapi_conn.execute("PRAGMA journal_mode=WAL")

    return engine


def _sqlite_tenant_engine(path: str, schema: str) -> sa.Engine:
    """A tenant engine: an empty in-memory main database with the tenant file attached.

    One tenant per connection keeps us far below SQLite's limit of 10 attached databases and
    makes an unmapped ``tenant`` token fail ("unknown database") instead of reading elsewhere.
    """
    if not Path(path).exists():
        raise TenantStorageMissing(f"tenant database {path} does not exist")
    engine = sa.create_engine(
        "sqlite://",
        poolclass=QueuePool,
        pool_size=5,
        max_overflow=10,
        connect_args={"check_same_thread": False},
    )
    _sqlite_pragmas(engine)

    @event.listens_for(engine, "connect")
    def _attach(dbapi_conn, record):
        ddl.attach_sqlite(dbapi_conn, path, schema)

    return engine.execution_options(schema_translate_map={TENANT: schema})


class Database:
    """The extension object: engines per app, the tenant and control session registries."""

    def __init__(self) -> None:
        self.session = FlaskAdminSessionRegistry(
            sessionmaker(class_=TenantSession, join_transaction_mode="create_savepoint"),
            scopefunc=_app_context_scope,
        )
        self.control = scoped_session(
            sessionmaker(class_=ControlSession, join_transaction_mode="create_savepoint"),
            scopefunc=_app_context_scope,
        )

    def init_app(self, app: Flask) -> None:
        state = _EngineState(app)
        app.extensions["repairqc.db"] = state

        @app.teardown_appcontext
        def _remove_sessions(exc: BaseException | None) -> None:
            self.session.remove()
            self.control.remove()

    @property
    def state(self) -> _EngineState:
        return current_app.extensions["repairqc.db"]

    @property
    def backend(self) -> str:
        return self.state.backend

    @property
    def control_engine(self) -> sa.Engine:
        return self.state.control

    def tenant_bind(self, schema: str) -> sa.Engine | sa.Connection:
        state = self.state
        pinned = state.pinned.get(schema)
        return pinned if pinned is not None else state.tenant_engine(schema)

    def control_bind(self) -> sa.Engine | sa.Connection:
        return self.state.control

    def pin(self, schema: str, connection: sa.Connection | None) -> None:
        """Tests: route every tenant session for `schema` through one connection."""
        if connection is None:
            self.state.pinned.pop(schema, None)
        else:
            self.state.pinned[schema] = connection


db = Database()


# --- one unit of work per request or job ---------------------------------------------------------


def on_commit(callback: Callable[[], Any]) -> None:
    """Run `callback` once the current unit of work has committed (jobs, mail, Stripe calls)."""
    db.session.info.setdefault("on_commit", []).append(callback)


@contextlib.contextmanager
def unit_of_work() -> Iterator[None]:
    """Commit the tenant and control sessions once on success, roll both back on error.

    Code inside only flushes. Callbacks registered with `on_commit` run after the commit.
    """
    try:
        yield
        tenant_session = db.session() if db.session.registry.has() else None
        if tenant_session is not None:
            tenant_session.commit()
        db.control.commit()
    except BaseException:
        if db.session.registry.has():
            db.session.rollback()
            db.session.info.pop("on_commit", None)
        db.control.rollback()
        raise
    callbacks = db.session.info.pop("on_commit", []) if db.session.registry.has() else []
    for callback in callbacks:
        callback()
