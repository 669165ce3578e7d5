"""Row-level store scoping inside a tenant (the schema already separates tenants).

Every lookup of a store-owned row goes through here: lists, counts, single rows, relationship
dropdowns and permission checks on a row, so a store user can never reach another store's rows
by any path (aesthetics.md §7.2 habit 11).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Query

from repairqc.accounts.permissions import Action, current_grants
from repairqc.db import TenantBase, db


def is_store_scoped(model: type[TenantBase]) -> bool:
    return callable(getattr(model, "store_scope", None))


def scope_condition(model: type[TenantBase], action: Action) -> sa.ColumnElement[bool] | None:
    """The WHERE clause limiting `model` to the rows the current user may `action`.

    None means no restriction. A user with no grant gets a clause that matches nothing.
    """
    grants = current_grants()
    if not grants.can(model.__name__, action):
        return sa.false()
    if not is_store_scoped(model):
        return None
    stores = grants.stores_for(model.__name__, action)
    if stores is None:
        return None
    return model.store_scope(stores)


def scoped_query(model: type[TenantBase], action: Action = Action.VIEW) -> Query:
    query = db.session.query(model)
    condition = scope_condition(model, action)
    return query if condition is None else query.filter(condition)


def scoped_select(model: type[TenantBase], action: Action = Action.VIEW) -> sa.Select:
    stmt = sa.select(model)
    condition = scope_condition(model, action)
    return stmt if condition is None else stmt.where(condition)


def selectable_query(model: type[TenantBase]) -> Query:
    """Rows offered in dropdowns: those of the stores the user works in.

    This is not the admin permission on `model`: front desk cannot open the staff list but
    must still pick the technician of their store. Other stores' rows are never offered.
    """
    query = db.session.query(model)
    stores = current_grants().visible_stores()
    if stores is None or not is_store_scoped(model):
        return query
    return query.filter(model.store_scope(stores))


def get_scoped(model: type[TenantBase], pk: Any, action: Action = Action.VIEW) -> TenantBase | None:
    """One row by primary key, or None if it does not exist *or* is outside the user's scope."""
    mapper = sa.inspect(model)
    (pk_column,) = mapper.primary_key
    return scoped_query(model, action).filter(pk_column == pk).one_or_none()


def row_allowed(obj: TenantBase, action: Action) -> bool:
    """May the current user `action` this row, as it now stands in memory?

    New and edited rows are judged by their (possibly changed) store; StaffUser and other models
    scoped through a relation are judged by querying the stored row. Accounts and roles are
    further guarded by `guards.account_change_allowed` (no one manages a higher rank).
    """
    from repairqc.accounts.guards import account_change_allowed

    return _store_allowed(obj, action) and account_change_allowed(obj, action, current_grants())


def _store_allowed(obj: TenantBase, action: Action) -> bool:
    model = type(obj)
    grants = current_grants()
    if not grants.can(model.__name__, action):
        return False
    if not is_store_scoped(model):
        return True
    stores = grants.stores_for(model.__name__, action)
    if stores is None:
        return True
    if "store_id" in sa.inspect(model).columns:
        # A form sets the `store` relationship; store_id only follows at the next flush.
        store = getattr(obj, "store", None)
        return (store.id if store is not None else obj.store_id) in stores
    pk = sa.inspect(model).primary_key_from_instance(obj)
    if pk[0] is None:
        return False
    return get_scoped(model, pk[0], action) is not None
