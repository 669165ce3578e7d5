"""Duplicate customers: who may act on them, "not a duplicate", and the merge (HB §7.1.2).

Who may do what (decided from the permission MATRIX, no rule of its own):

* see the candidates: those deciders and auditors, among the customers they may view;
* mark a pair "not a duplicate": the owner and QA everywhere, a store manager when both
  customers are of their stores (`DECIDERS`);
* merge: "edit" *and* "delete" on Customer at both customers' stores, because a merge edits
  the survivor and deletes the other: the owner across stores, a store manager within their
  stores. QA reviews duplicates but, without the right to delete customers, cannot merge.

The merge moves every reference to the merged customer onto the survivor (`customer_references`
finds them), copies the values the user chose, deletes the merged customer and writes a
`CustomerMerge`; each of those is an ORM change, so the audit log holds every moved row, the
survivor's update, the delete, and the CustomerMerge insert that ties them together.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from repairqc.accounts.models import Role, StaffUser
from repairqc.accounts.permissions import Action, Grants
from repairqc.dataquality.models import NOTE_MAX, CustomerMerge, DuplicateDismissal
from repairqc.db import TenantBase, db, utcnow
from repairqc.errors import Conflict, DomainError, NotFound
from repairqc.repairs.models import Customer


class NotAllowed(DomainError):
    status_code = 403


#: The fields the user chooses between, in the order of the compare page.
MERGE_FIELDS: dict[str, object] = {
    "full_name": _l("Full name"),
    "phone": _l("Phone"),
    "email": _l("Email"),
    "address": _l("Address"),
    "language": _l("Language"),
    "preferred_channel": _l("Preferred channel"),
    "notes": _l("Notes"),
}
SURVIVOR = "survivor"
MERGED = "merged"
#: Copied into CustomerMerge.merged_snapshot: every column that is neither encrypted nor a
#: search key (those would undo the encryption, HB §7.3.1(2)).
SNAPSHOT_FIELDS = ("full_name", "store_id", "language", "preferred_channel", "notes", "created_at", "version")
#: Who judges candidate pairs ("not a duplicate"): HQ quality and the owner everywhere, a store
#: manager at their stores (both customers' stores).
DECIDERS = frozenset({Role.OWNER, Role.QA_MANAGER, Role.STORE_MANAGER})
#: Tables whose customer column the merge handles itself instead of moving it.
HANDLED_APART = {DuplicateDismissal.__tablename__}


# --- permissions -------------------------------------------------------------------------------------


def _allowed_at(grants: Grants, model: str, action: Action, store_ids: set[int]) -> bool:
    stores = grants.stores_for(model, action)
    return stores is None or store_ids <= stores


def may_merge(grants: Grants, *customers: Customer) -> bool:
    stores = {c.store_id for c in customers}
    return all(_allowed_at(grants, "Customer", action, stores) for action in (Action.EDIT, Action.DELETE))


def may_dismiss(grants: Grants, *customers: Customer) -> bool:
    if grants.read_only:
        return False
    return all(
        (grants.tenant_roles | grants.store_roles.get(c.store_id, frozenset())) & DECIDERS for c in customers
    )


def may_open_duplicates(grants: Grants) -> bool:
    return grants.can("Customer", Action.VIEW) and bool(grants.roles & (DECIDERS | {Role.AUDITOR}))


# --- "not a duplicate" ------------------------------------------------------------------------------


def dismiss_pair(
    grants: Grants, a: Customer, b: Customer, actor: StaffUser, note: str | None = None
) -> DuplicateDismissal:
    """Remember that `a` and `b` are different people; marking a pair twice changes nothing."""
    if a.id == b.id:
        raise DomainError(_("Choose two different customers."))
    if not may_dismiss(grants, a, b):
        raise NotAllowed(_("You may not decide about customers of these stores."))
    note = (note or "").strip() or None
    if note and len(note) > NOTE_MAX:
        raise DomainError(_("The note is too long: at most %(max)s characters.", max=NOTE_MAX), field="note")
    low, high = sorted((a.id, b.id))
    existing = db.session.execute(
        sa.select(DuplicateDismissal).where(
            DuplicateDismissal.customer_id == low, DuplicateDismissal.other_customer_id == high
        )
    ).scalar()
    if existing is not None:
        return existing
    dismissal = DuplicateDismissal(
        customer_id=low, other_customer_id=high, decided_by_id=actor.id, decided_at=utcnow(), note=note
    )
    try:
        with db.session.begin_nested():
            db.session.add(dismissal)
    except sa.exc.IntegrityError:  # marked at the same moment by someone else: theirs stands
        return db.session.execute(
            sa.select(DuplicateDismissal).where(
                DuplicateDismissal.customer_id == low, DuplicateDismissal.other_customer_id == high
            )
        ).scalar_one()
    return dismissal


# --- the merge ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerReference:
    """A column of a tenant table that holds a customer's id."""

    model: type[TenantBase]
    column: sa.Column

    @property
    def name(self) -> str:
        return f"{self.model.__tablename__}.{self.column.name}"


def customer_references() -> list[CustomerReference]:
    """Every column that holds a customer id: each foreign key to customers.id, found from the
    models (so a table added later is included without touching this code), and each column
    named ``customer_id`` without one (none today: devices, repair_orders, follow_ups,
    satisfaction_surveys, customer_messages and complaints all declare the key; a plain integer
    column added later is still moved). A table the merge handles itself is left out."""
    customers = Customer.__table__
    references = []
    for mapper in TenantBase.registry.mappers:
        table = mapper.local_table
        if table is customers or table.name in HANDLED_APART:
            continue
        for column in table.columns:
            points_to_customers = any(fk.column.table is customers for fk in column.foreign_keys)
            if points_to_customers or (column.name == "customer_id" and not column.foreign_keys):
                references.append(CustomerReference(mapper.class_, column))
    return sorted(references, key=lambda r: r.name)


def _already_merged(customer_id: int) -> CustomerMerge | None:
    return db.session.execute(
        sa.select(CustomerMerge)
        .where(CustomerMerge.merged_id == customer_id)
        .order_by(CustomerMerge.id.desc())
    ).scalar()


def load_for_merge(customer_id: int, scope: sa.ColumnElement[bool] | None, *, lock: bool = True) -> Customer:
    """The customer, locked for the merge unless `lock` is false (a page that only shows it);
    409 if it was merged away in the meantime, 404 if it does not exist or is outside `scope`
    (the user's Customer view scope: no probing).

    The lock (PostgreSQL) also orders the merge against a new order or device for this customer:
    their foreign key takes a share lock on the row, so either they commit first and the merge
    moves them, or they wait and then fail on the deleted customer (their own screen's error),
    never leaving a row behind that points at nobody."""
    statement = (
        sa.select(Customer).where(Customer.id == customer_id).execution_options(populate_existing=True)
    )
    if lock:
        statement = statement.with_for_update()
    if scope is not None:
        statement = statement.where(scope)
    customer = db.session.execute(statement).scalar()
    if customer is not None:
        return customer
    merge = _already_merged(customer_id)
    if merge is not None and (scope is None or _merge_visible(merge, scope)):
        raise Conflict(
            _(
                "Customer #%(merged)s was merged into customer #%(survivor)s in the meantime. "
                "Nothing was changed; open the customer that was kept instead.",
                merged=merge.merged_id,
                survivor=merge.survivor_id,
            )
        )
    raise NotFound(_("There is no such customer."))


def load_pair(
    a_id: int, b_id: int, scope: sa.ColumnElement[bool] | None, *, lock: bool = True
) -> tuple[Customer, Customer]:
    """Both customers of a compare page, in the order asked. Locked lowest id first, so two merges
    of one pair opened from either side (a=1&b=2, a=2&b=1) queue instead of deadlocking."""
    loaded = {i: load_for_merge(i, scope, lock=lock) for i in sorted({a_id, b_id})}
    return loaded[a_id], loaded[b_id]


def _merge_visible(merge: CustomerMerge, scope: sa.ColumnElement[bool]) -> bool:
    # The merged customer is gone: judge by the survivor when it still exists.
    return (
        db.session.execute(sa.select(Customer.id).where(Customer.id == merge.survivor_id, scope)).first()
        is not None
    )


def merge_customers(
    grants: Grants,
    survivor: Customer,
    merged: Customer,
    *,
    keep: Mapping[str, str],
    survivor_version: int | None,
    merged_version: int | None,
    actor: StaffUser,
) -> CustomerMerge:
    """Merge `merged` into `survivor`: every record of `merged` moves to `survivor`, which takes
    the value of each field from the customer named in `keep` ("survivor" or "merged"; a field
    not named keeps the survivor's); `merged` is deleted. The versions are those the compare
    page showed: a customer changed since is a conflict (409), and nothing is changed."""
    if survivor.id == merged.id:
        raise DomainError(_("A customer cannot be merged into itself. Choose two different customers."))
    if not may_merge(grants, survivor, merged):
        raise NotAllowed(_("You may not merge customers of these stores."))
    unknown = sorted(set(keep) - set(MERGE_FIELDS))
    if unknown:
        raise DomainError(_("Unknown field: %(field)s.", field=unknown[0]))
    for name, choice in keep.items():
        if choice not in (SURVIVOR, MERGED):
            raise DomainError(
                _("Choose which customer's %(field)s to keep.", field=MERGE_FIELDS[name]), field=name
            )
    for customer, version in ((survivor, survivor_version), (merged, merged_version)):
        if version is None or version != customer.version:
            raise Conflict(
                _(
                    "Customer #%(id)s was changed since the comparison was shown. Nothing was merged; "
                    "reload the page, check the values and try again.",
                    id=customer.id,
                )
            )

    merged_id = merged.id
    snapshot = {name: _plain(getattr(merged, name)) for name in SNAPSHOT_FIELDS}
    moved: dict[str, int] = {}
    for reference in customer_references():
        attribute = reference.model.__mapper__.get_property_by_column(reference.column).key
        rows = (
            db.session.execute(sa.select(reference.model).where(reference.column == merged.id))
            .scalars()
            .all()
        )
        for row in rows:
            setattr(row, attribute, survivor.id)
        if rows:
            moved[reference.name] = len(rows)
    dismissals = (
        db.session.execute(
            sa.select(DuplicateDismissal).where(
                sa.or_(
                    DuplicateDismissal.customer_id == merged.id,
                    DuplicateDismissal.other_customer_id == merged.id,
                )
            )
        )
        .scalars()
        .all()
    )
    for dismissal in dismissals:
        # "B is not C" said nothing about the survivor A; the pair is judged again if it shows up.
        db.session.delete(dismissal)

    chosen = {name: keep.get(name, SURVIVOR) for name in MERGE_FIELDS}
    values = {
        name: getattr(merged if choice == MERGED else survivor, name) for name, choice in chosen.items()
    }
    db.session.flush()  # the moves first: the merged customer must have nothing left pointing at it
    try:
        with db.session.begin_nested():  # the session stays usable for the refusal below
            db.session.expire(merged, ["devices"])
            db.session.delete(merged)
    except sa.exc.IntegrityError as exc:
        # A record for the merged customer appeared that the lock could not hold back (SQLite
        # has no row locks): refuse as a conflict; the unit of work rolls everything back.
        raise Conflict(
            _(
                "New records of customer #%(id)s were saved while merging. Nothing was merged; "
                "reload the page and try again.",
                id=merged_id,
            )
        ) from exc
    for name, value in values.items():
        if getattr(survivor, name) != value:
            setattr(survivor, name, value)
    record = CustomerMerge(
        store_id=survivor.store_id,
        survivor_id=survivor.id,
        merged_id=merged_id,
        merged_store_id=snapshot["store_id"],
        merged_snapshot=snapshot,
        field_choices=chosen,
        moved_counts=moved,
        merged_by_id=actor.id,
        merged_at=utcnow(),
    )
    db.session.add(record)
    db.session.flush()
    return record


def _plain(value: object) -> object:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "value"):
        return value.value
    return value


def merge_counts(customer: Customer) -> dict[str, int]:
    """How many rows of each referencing table point at `customer` (the compare page)."""
    counts = {}
    for reference in customer_references():
        count = db.session.scalar(
            sa.select(sa.func.count()).select_from(reference.model).where(reference.column == customer.id)
        )
        if count:
            counts[reference.name] = count
    return counts


def reference_label(name: str) -> str:
    """ "repair_orders.customer_id" → the table's label ("Repair orders")."""
    table = name.split(".", 1)[0]
    for mapper in TenantBase.registry.mappers:
        if mapper.local_table.name == table:
            return str(getattr(mapper.class_, "__label_plural__", table))
    return table
