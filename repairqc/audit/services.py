"""Writes an AuditLog row for every insert, update and delete of a tenant row.

It hooks the tenant session's flush, so admin CRUD, services, jobs and the CLI are all covered
without anyone remembering to call it, and the entry commits or rolls back with the change.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import enum
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from repairqc.audit.models import AuditAction, AuditLog
from repairqc.db import TenantBase, TenantSession


@dataclass(frozen=True)
class Actor:
    kind: str  # staff | operator | system | cli
    id: int | None
    name: str
    ip_address: str | None = None


SYSTEM = Actor("system", None, "system")
_current_actor: ContextVar[Actor] = ContextVar("repairqc_actor", default=SYSTEM)


def current_actor() -> Actor:
    return _current_actor.get()


def set_actor(actor: Actor) -> None:
    """Set the actor for the rest of the current request (reset at teardown)."""
    _current_actor.set(actor)


@contextlib.contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    token = _current_actor.set(actor)
    try:
        yield actor
    finally:
        _current_actor.reset(token)


def _jsonable(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return value


def _columns(obj: TenantBase) -> list[sa.orm.ColumnProperty]:
    return list(inspect(obj).mapper.column_attrs)


def _masked(column: sa.Column) -> bool:
    """Secrets, and values held encrypted (a copy in the log would undo the encryption)."""
    from repairqc.crypto import EncryptedString

    return bool(column.info.get("secret")) or isinstance(column.type, EncryptedString)


def _snapshot(obj: TenantBase, *, use_old: bool = False) -> dict[str, Any]:
    state = inspect(obj)
    data: dict[str, Any] = {}
    for prop in _columns(obj):
        if _masked(prop.columns[0]):
            data[prop.key] = "***"
            continue
        history = state.attrs[prop.key].history
        if use_old and history.deleted:
            value = history.deleted[0]
        elif history.added:
            value = history.added[0]
        else:
            value = state.attrs[prop.key].loaded_value
            if value is sa.orm.base.NO_VALUE:
                continue
        data[prop.key] = _jsonable(value)
    return data


def _changed(obj: TenantBase) -> tuple[dict[str, Any], dict[str, Any]]:
    """Before/after of the columns this flush changes; secrets are marked, never copied."""
    state = inspect(obj)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for prop in _columns(obj):
        history = state.attrs[prop.key].history
        if not history.has_changes():
            continue
        secret = _masked(prop.columns[0])
        before[prop.key] = "***" if secret else _jsonable(history.deleted[0] if history.deleted else None)
        after[prop.key] = "***" if secret else _jsonable(history.added[0] if history.added else None)
    return before, after


def _row_id(obj: TenantBase) -> str:
    # The identity key of a new row is only set after after_flush; read the primary key instead.
    return ",".join(str(v) for v in inspect(obj).mapper.primary_key_from_instance(obj))


@event.listens_for(TenantSession, "after_flush")
def _record_changes(session: Session, flush_context) -> None:
    actor = current_actor()
    rows: list[dict[str, Any]] = []

    def add(obj: TenantBase, action: AuditAction, before, after) -> None:
        rows.append(
            {
                "occurred_at": dt.datetime.now(dt.UTC),
                "actor_kind": actor.kind,
                "actor_id": actor.id,
                "actor_name": actor.name,
                "action": action,
                "table_name": obj.__tablename__,
                "row_id": _row_id(obj),
                "before": before,
                "after": after,
                "ip_address": actor.ip_address,
            }
        )

    for obj in session.new:
        if isinstance(obj, TenantBase) and not isinstance(obj, AuditLog):
            add(obj, AuditAction.INSERT, None, _snapshot(obj))
    for obj in session.dirty:
        if isinstance(obj, TenantBase) and not isinstance(obj, AuditLog) and session.is_modified(obj):
            before, after = _changed(obj)
            if after:
                add(obj, AuditAction.UPDATE, before, after)
    for obj in session.deleted:
        if isinstance(obj, TenantBase) and not isinstance(obj, AuditLog):
            add(obj, AuditAction.DELETE, _snapshot(obj, use_old=True), None)
    if rows:
        # Core insert on the flush's own connection: same transaction, no nested flush.
        session.connection().execute(sa.insert(AuditLog), rows)
