"""Imports of customers, devices, equipment and staff from CSV and XLSX (HB §7.1.1-§7.1.2).

The way of a file: `upload` reads it whole, checks every row and keeps the bytes with the report
(an `ImportRun` awaiting confirmation); `confirm` reads the kept bytes again, checks every row
again against the data as it is *now* (someone may have registered a customer or an asset tag in
the meantime) and writes everything in the caller's one unit of work, or nothing: one invalid row
and `ImportInvalid` rolls the whole import back.

Re-running a file creates no duplicates. Each kind has a natural key, matched among the rows the
importer may edit (store scoping, as everywhere):

* customers: the normalised phone number or e-mail address, through the keyed search hashes
  (`crypto.lookup_hashes`, every configured key, so a key rotation in progress misses nobody);
* devices: the IMEI (check digit verified with python-stdnum), else the serial number;
* equipment: the asset tag, ignoring case (unique in the provider);
* staff: the e-mail address (unique in the provider).

A row whose key matches a row with the same values is "unchanged"; with other values, "updated"
(only the cells the file fills: an empty cell never erases); no match, "created". Rows are
written through the domains' own rules where they exist (`equipment.services.register_item`,
`accounts.services.invite_staff`, which mails the invitation to choose a password).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import LazyString
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from repairqc.accounts.guards import account_change_allowed
from repairqc.accounts.models import Role, RoleAssignment, StaffUser
from repairqc.accounts.permissions import Action, Grants
from repairqc.crypto import lookup_hashes, normalise_email, normalise_phone
from repairqc.db import db, utcnow
from repairqc.errors import Conflict, DomainError
from repairqc.imports.kinds import KINDS, KindSpec, header_key, import_stores, may_import, require_right
from repairqc.imports.models import FILENAME_MAX, ImportKind, ImportRun, ImportStatus
from repairqc.imports.reading import (
    CellProblem,
    Table,
    accepted_labels,
    check_email,
    check_length,
    check_phone,
    map_headers,
    parse_date,
    parse_enum,
    parse_language,
    parse_price,
    read_table,
    text,
)
from repairqc.repairs.models import ContactChannel, Customer, Device, RepairOrder
from repairqc.spreadsheets import CSV_BOM
from repairqc.stores.models import Store

#: Rows shown in the preview; the report covers every row.
PREVIEW_ROWS = 50
#: Problems kept in the report; the count covers them all.
REPORT_PROBLEMS_MAX = 1000
#: Values per IN (...) list when looking rows up by their keys.
CHUNK = 500


class ImportInvalid(DomainError):
    """Rows do not pass the checks at confirmation: nothing was imported (422)."""

    status_code = 422

    def __init__(self, message: str, report: Report) -> None:
        super().__init__(message)
        self.report = report


# --- checking rows -----------------------------------------------------------------------------------


@dataclass
class Problem:
    row: int | None
    column: str | None
    message: str

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass
class Planned:
    """What one valid row will do: create `values`, or apply `changes` to `target`."""

    row: int
    action: str  # "create" | "update" | "unchanged"
    values: dict[str, Any]
    target: Any = None
    changes: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Report:
    kind: ImportKind
    columns: list[str]
    row_count: int
    planned: list[Planned]
    problems: list[Problem]
    preview: list[dict]
    store: Store | None = None

    def count(self, action: str) -> int:
        return sum(1 for p in self.planned if p.action == action)

    @property
    def valid(self) -> bool:
        return not self.problems

    def to_json(self, *, with_preview: bool = True) -> str:
        return json.dumps(
            {
                "columns": self.columns,
                "problems": [p.as_dict() for p in self.problems[:REPORT_PROBLEMS_MAX]],
                "preview": self.preview if with_preview else [],
            },
            ensure_ascii=False,
            default=str,
        )


@dataclass
class Context:
    """What every row of one file is checked against."""

    spec: KindSpec
    grants: Grants
    store: Store | None
    today: date
    problems: list[Problem] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # column key → the file's header

    def problem(self, row: int | None, key: str | None, message: str) -> None:
        column = self.headers.get(key, self.spec.column(key).header) if key else None
        self.problems.append(Problem(row, column, message))


class Row:
    """One row's cells by column key, with the checks that record a problem and carry on."""

    def __init__(self, number: int, cells: dict[str, Any], ctx: Context) -> None:
        self.number, self.cells, self.ctx = number, cells, ctx
        self.ok = True

    def fail(self, key: str | None, message: str) -> None:
        self.ok = False
        self.ctx.problem(self.number, key, message)

    def get(self, key: str, check: Callable[[Any], Any] | None = None) -> Any:
        """The cell, checked: None when empty (a problem if required) or when it fails a check."""
        column = self.ctx.spec.column(key)
        cell = self.cells.get(key)
        if text(cell) == "":
            if column.required:
                self.fail(key, _("This column is required."))
            return None
        try:
            if check is not None:
                return check(cell)
            return check_length(text(cell), column)
        except CellProblem as problem:
            self.fail(key, problem.message)
            return None

    def text(self, key: str, check: Callable[[str], str] | None = None) -> str | None:
        column = self.ctx.spec.column(key)

        def checked(cell: Any) -> str:
            value = check_length(text(cell), column)
            return check(value) if check is not None else value

        return self.get(key, checked)


def _chunks(values: Iterable[Any]) -> Iterator[list[Any]]:
    values = list(dict.fromkeys(values))
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _in_scope(store_id: int | None, allowed: set[int] | None) -> bool:
    return allowed is None or store_id in allowed


def _changes(
    target: Any, values: dict[str, Any], same: Callable[[str, Any, Any], bool] | None = None
) -> dict:
    """The filled cells whose value differs from the row's (an empty cell changes nothing)."""
    out = {}
    for key, value in values.items():
        if value is None:
            continue
        current = getattr(target, key)
        if same is not None and same(key, current, value):
            continue
        if current != value:
            out[key] = value
    return out


def _plan(row: Row, values: dict, target: Any, changes: dict, **extra) -> Planned:
    if target is None:
        return Planned(row.number, "create", values, extra=extra)
    return Planned(row.number, "update" if changes else "unchanged", values, target, changes, extra)


def _first_match(candidates: Iterable[Any], store: Store | None) -> Any:
    """Among rows with the same key (intake may have registered one customer at two stores): the
    target store's, else the oldest."""
    candidates = sorted(set(candidates), key=lambda c: (store is None or c.store_id != store.id, c.id))
    return candidates[0] if candidates else None


class _DuplicateKeys:
    """Flags a row repeating the natural key of an earlier row of the same file."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], int] = {}

    def check(self, row: Row, column: str, key: tuple[str, str], message: LazyString) -> None:
        """`message` names the key in a whole sentence (word order differs between languages)
        and takes the earlier row as %(row)s."""
        earlier = self.seen.get(key)
        if earlier is not None:
            row.fail(column, str(message) % {"row": earlier})
        else:
            self.seen[key] = row.number


# customers


def _customers_by_contact(phones: Iterable[str], emails: Iterable[str], allowed: set[int] | None):
    """Customers of the allowed stores by the hash of their phone and of their e-mail."""
    hashes = [("phone", h) for p in set(phones) for h in lookup_hashes("phone", p)]
    hashes += [("email", h) for e in set(emails) for h in lookup_hashes("email", e)]
    by_phone: dict[str, list[Customer]] = {}
    by_email: dict[str, list[Customer]] = {}
    for chunk in _chunks(hashes):
        phone_hashes = [h for kind, h in chunk if kind == "phone"]
        email_hashes = [h for kind, h in chunk if kind == "email"]
        statement = sa.select(Customer).where(
            sa.or_(Customer.phone_lookup.in_(phone_hashes), Customer.email_lookup.in_(email_hashes))
        )
        if allowed is not None:
            statement = statement.where(Customer.store_id.in_(allowed))
        for customer in db.session.execute(statement).scalars():
            if customer.phone_lookup:
                by_phone.setdefault(customer.phone_lookup, []).append(customer)
            if customer.email_lookup:
                by_email.setdefault(customer.email_lookup, []).append(customer)

    def find(phone: str | None, email: str | None) -> tuple[list[Customer], list[Customer]]:
        found_phone = [
            c for h in (lookup_hashes("phone", phone) if phone else []) for c in by_phone.get(h, [])
        ]
        found_email = [
            c for h in (lookup_hashes("email", email) if email else []) for c in by_email.get(h, [])
        ]
        return found_phone, found_email

    return find


def _same_customer_value(key: str, current: Any, value: Any) -> bool:
    if key == "phone":
        return normalise_phone(current or "") == normalise_phone(value)
    if key == "email":
        return normalise_email(current or "") == normalise_email(value)
    return False


def check_customers(rows: list[Row], ctx: Context) -> list[Planned]:
    channels = accepted_labels(ContactChannel)
    parsed = []
    for row in rows:
        values = {
            "full_name": row.text("full_name"),
            "phone": row.text("phone", check_phone),
            "email": row.text("email", check_email),
            "address": row.text("address"),
            "language": row.get("language", parse_language),
            "preferred_channel": row.get(
                "preferred_channel", lambda c: parse_enum(c, ContactChannel, channels)
            ),
            "notes": row.text("notes"),
        }
        if text(row.cells.get("phone")) == "" and text(row.cells.get("email")) == "":
            row.fail("phone", _("Give the customer's phone number or e-mail address."))
        parsed.append((row, values))
    phones = [normalise_phone(v["phone"]) for _r, v in parsed if v["phone"]]
    emails = [normalise_email(v["email"]) for _r, v in parsed if v["email"]]
    find = _customers_by_contact(phones, emails, ctx.grants.stores_for("Customer", Action.EDIT))
    duplicates = _DuplicateKeys()
    planned = []
    for row, values in parsed:
        phone = normalise_phone(values["phone"]) if values["phone"] else None
        email = normalise_email(values["email"]) if values["email"] else None
        if phone:
            duplicates.check(row, "phone", ("phone", phone), _l("The same phone number as row %(row)s."))
        if email:
            duplicates.check(row, "email", ("email", email), _l("The same e-mail address as row %(row)s."))
        by_phone, by_email = find(phone, email)
        match_phone, match_email = _first_match(by_phone, ctx.store), _first_match(by_email, ctx.store)
        if match_phone is not None and match_email is not None and match_phone is not match_email:
            row.fail("email", _("The phone number is %(first)s's and the e-mail address %(second)s's; "
                                "correct the row or the customers first.",
                                first=match_phone.full_name, second=match_email.full_name))  # fmt: skip
        if not row.ok:
            continue
        target = match_phone or match_email
        changes = _changes(target, values, _same_customer_value) if target is not None else {}
        planned.append(_plan(row, values, target, changes))
    return planned


# devices


def check_devices(rows: list[Row], ctx: Context) -> list[Planned]:
    from repairqc.repairs.services import check_imei
    from repairqc.standards.services import effective_for_store

    document = effective_for_store(ctx.store, ctx.today).document
    codes = [category.code for category in document.device_categories]
    categories: dict[str, str] = {}
    for category in document.device_categories:
        for name in (category.code, category.name.en, category.name.zh):
            categories[header_key(name)] = category.code

    def category(cell: Any) -> str:
        code = categories.get(header_key(text(cell)))
        if code is None:
            raise CellProblem(
                _("“%(value)s” is not a device category of the standards in force (%(codes)s).",
                  value=text(cell), codes=", ".join(codes)))  # fmt: skip
        return code

    def imei(cell: Any) -> str:
        try:
            return check_imei(text(cell))
        except DomainError as exc:
            raise CellProblem(exc.message) from None

    parsed = []
    for row in rows:
        contact = {
            "phone": row.text("customer_phone", check_phone),
            "email": row.text("customer_email", check_email),
        }
        values = {
            "category": row.get("category", category),
            "brand": row.text("brand"),
            "model": row.text("model"),
            "imei": row.get("imei", imei),
            "serial_number": row.text("serial_number"),
            "condition_at_intake": row.text("condition_at_intake"),
            "accessories": row.text("accessories"),
        }
        if text(row.cells.get("customer_phone")) == "" and text(row.cells.get("customer_email")) == "":
            row.fail(
                "customer_phone", _("Give the phone number or the e-mail address of the device's customer.")
            )
        if text(row.cells.get("imei")) == "" and text(row.cells.get("serial_number")) == "":
            row.fail("imei", _("Give the IMEI or the serial number of the device."))
        parsed.append((row, contact, values))

    find_customer = _customers_by_contact(
        [normalise_phone(c["phone"]) for _r, c, _v in parsed if c["phone"]],
        [normalise_email(c["email"]) for _r, c, _v in parsed if c["email"]],
        ctx.grants.stores_for("Customer", Action.VIEW),
    )
    editable = ctx.grants.stores_for("Device", Action.EDIT)
    by_imei: dict[str, list[Device]] = {}
    by_serial: dict[str, list[Device]] = {}
    for chunk in _chunks(v["imei"] for _r, _c, v in parsed if v["imei"]):
        for device in db.session.execute(sa.select(Device).where(Device.imei.in_(chunk))).scalars():
            by_imei.setdefault(device.imei, []).append(device)
    for chunk in _chunks(v["serial_number"] for _r, _c, v in parsed if v["serial_number"]):
        statement = sa.select(Device).where(Device.serial_number.in_(chunk))
        for device in db.session.execute(statement).scalars():
            by_serial.setdefault(device.serial_number, []).append(device)
    with_orders = set()
    matched_ids = [d.id for found in (*by_imei.values(), *by_serial.values()) for d in found]
    for chunk in _chunks(matched_ids):
        with_orders.update(
            db.session.execute(
                sa.select(RepairOrder.device_id).where(RepairOrder.device_id.in_(chunk))
            ).scalars()
        )

    duplicates = _DuplicateKeys()
    planned = []
    for row, contact, values in parsed:
        if values["imei"]:
            duplicates.check(row, "imei", ("imei", values["imei"]), _l("The same IMEI as row %(row)s."))
        elif values["serial_number"]:
            duplicates.check(
                row,
                "serial_number",
                ("serial", values["serial_number"]),
                _l("The same serial number as row %(row)s."),
            )
        by_phone, by_email = find_customer(
            normalise_phone(contact["phone"]) if contact["phone"] else None,
            normalise_email(contact["email"]) if contact["email"] else None,
        )
        customer = _first_match(by_phone or by_email, ctx.store)
        if customer is None and (contact["phone"] or contact["email"]):
            row.fail("customer_phone" if contact["phone"] else "customer_email",
                     _("No customer has this phone number or e-mail address: import or register the "
                       "customer first."))  # fmt: skip
        candidates = [d for d in by_imei.get(values["imei"], []) if _in_scope(d.store_id, editable)]
        if not candidates and values["serial_number"]:
            candidates = [
                d for d in by_serial.get(values["serial_number"], [])
                if _in_scope(d.store_id, editable) and (d.imei is None or d.imei == values["imei"])
            ]  # fmt: skip
        target = _first_match(candidates, ctx.store)
        if target is not None and customer is not None and target.customer_id != customer.id:
            row.fail("customer_phone" if contact["phone"] else "customer_email",
                     _("This device is registered to another customer (%(name)s); a device's customer "
                       "is not changed by an import.", name=target.customer.full_name))  # fmt: skip
        if (
            target is not None
            and values["category"]
            and values["category"] != target.category
            and target.id in with_orders
        ):
            row.fail(
                "category",
                _("The category cannot change once the device has a repair order: it decides which "
                  "certificate the technician needs (HB §5.1.3(1))."),
            )  # fmt: skip
        if not row.ok:
            continue
        changes = _changes(target, values) if target is not None else {}
        planned.append(_plan(row, values, target, changes, customer=customer))
    return planned


# equipment


def check_equipment(rows: list[Row], ctx: Context) -> list[Planned]:
    from repairqc.equipment.models import EquipmentItem, EquipmentStatus
    from repairqc.equipment.services import policy

    rules = policy(ctx.today)
    types: dict[str, str] = {}
    for rule in rules.values():
        for name in (rule.equipment_type, rule.name.en, rule.name.zh):
            types[header_key(name)] = rule.equipment_type

    def equipment_type(cell: Any) -> str:
        code = types.get(header_key(text(cell)))
        if code is None:
            raise CellProblem(
                _("“%(value)s” is not an equipment type of the standard in force (%(codes)s).",
                  value=text(cell), codes=", ".join(sorted(rules))))  # fmt: skip
        return code

    parsed = []
    for row in rows:
        values = {
            "asset_tag": row.text("asset_tag"),
            "equipment_type": row.get("equipment_type", equipment_type),
            "name": row.text("name"),
            "brand": row.text("brand"),
            "model": row.text("model"),
            "serial_number": row.text("serial_number"),
            "supplier": row.text("supplier"),
            "purchased_on": row.get("purchased_on", lambda c: parse_date(c, today=ctx.today)),
            "price_cents": row.get("price", parse_price),
            "in_service_on": row.get("in_service_on", lambda c: parse_date(c, today=ctx.today)),
            "notes": row.text("notes"),
        }
        parsed.append((row, values))
    existing: dict[str, EquipmentItem] = {}
    for chunk in _chunks(v["asset_tag"].lower() for _r, v in parsed if v["asset_tag"]):
        for item in db.session.execute(
            sa.select(EquipmentItem).where(EquipmentItem.asset_tag_key.in_(chunk))
        ).scalars():
            existing[item.asset_tag_key] = item
    duplicates = _DuplicateKeys()
    planned = []
    for row, values in parsed:
        target = None
        if values["asset_tag"]:
            duplicates.check(
                row,
                "asset_tag",
                ("tag", values["asset_tag"].lower()),
                _l("The same asset tag as row %(row)s."),
            )
            target = existing.get(values["asset_tag"].lower())
        if target is not None:
            if target.store_id != ctx.store.id:
                row.fail("asset_tag", _("The asset tag %(tag)s is already used by an item of another "
                                        "store; items do not move between stores by import.",
                                        tag=values["asset_tag"]))  # fmt: skip
            elif target.status is EquipmentStatus.RETIRED:
                row.fail("asset_tag", _("%(item)s is retired.", item=target.label))
            if values["equipment_type"] and values["equipment_type"] != target.equipment_type:
                row.fail("equipment_type", _("An item's type is set when it enters the register and is "
                                             "not changed by an import."))  # fmt: skip
        if not row.ok:
            continue
        if target is None:
            planned.append(_plan(row, values, None, {}))
            continue
        # The tag's case and the day it entered service are kept as registered.
        updatable = {
            k: v for k, v in values.items() if k not in ("asset_tag", "in_service_on", "equipment_type")
        }
        planned.append(_plan(row, values, target, _changes(target, updatable)))
    return planned


# staff


def check_staff(rows: list[Row], ctx: Context) -> list[Planned]:
    from repairqc.billing.services import PlanLimitReached, check_limits

    roles = accepted_labels(Role)
    stores = {s.code.lower(): s for s in db.session.execute(sa.select(Store)).scalars()}
    allowed = import_stores(ctx.grants, ImportKind.STAFF)

    def store_of(cell: Any) -> Store:
        found = stores.get(text(cell).lower())
        if found is None or not _in_scope(found.id, allowed):
            raise CellProblem(_("There is no store with the code “%(code)s”.", code=text(cell)))
        if not found.is_active:
            raise CellProblem(_("%(store)s is not active.", store=found.code))
        return found

    parsed = []
    for row in rows:
        email = row.text("email", check_email)
        values = {
            "email": normalise_email(email) if email else None,
            "full_name": row.text("full_name"),
            "phone": row.text("phone", check_phone),
            "locale": row.get("language", parse_language),
        }
        role = row.get("role", lambda c: parse_enum(c, Role, roles))
        store = row.get("store", store_of)
        if role is not None:
            if role.is_tenant_wide and text(row.cells.get("store")):
                row.fail("store", _("%(role)s covers every store; leave the store empty.", role=role.label))
            elif not role.is_tenant_wide and text(row.cells.get("store")) == "":
                row.fail(
                    "store", _("%(role)s is held for one store; give the store's code.", role=role.label)
                )
        parsed.append((row, values, role, store))
    existing: dict[str, StaffUser] = {}
    for chunk in _chunks(v["email"] for _r, v, _ro, _s in parsed if v["email"]):
        for user in db.session.execute(sa.select(StaffUser).where(StaffUser.email.in_(chunk))).scalars():
            existing[user.email] = user
    duplicates = _DuplicateKeys()
    planned = []
    for row, values, role, store in parsed:
        target = existing.get(values["email"]) if values["email"] else None
        if values["email"]:
            duplicates.check(
                row, "email", ("email", values["email"]), _l("The same e-mail address as row %(row)s.")
            )
        if not row.ok:
            continue
        if target is not None and target.is_platform_support:
            row.fail("email", _("This address belongs to the platform's support account."))
            continue
        # Not added to the session: only asked whether the guard would allow it.
        assignment = RoleAssignment(
            role=role,
            store_id=None if role.is_tenant_wide else store.id,
            user_id=target.id if target is not None else None,
        )
        has_role = target is not None and any(
            a.role is role and a.store_id == assignment.store_id for a in target.roles
        )
        with db.session.no_autoflush:
            if not has_role and not account_change_allowed(assignment, Action.CREATE, ctx.grants):
                row.fail("role", _("Only an owner may give the role %(role)s.", role=role.label))
                continue
        changes = _changes(target, values) if target is not None else {}
        if target is not None and changes and not account_change_allowed(target, Action.EDIT, ctx.grants):
            row.fail("email", _("Only an owner may change the account of %(name)s.", name=target.full_name))
            continue
        if target is not None and not has_role:
            changes["role"] = role
        plan = _plan(row, values, target, changes, role=role, store=None if role.is_tenant_wide else store)
        planned.append(plan)
    creating = sum(1 for p in planned if p.action == "create")
    if creating and not ctx.problems:
        try:
            check_limits(0, creating)
        except PlanLimitReached as exc:
            ctx.problem(None, None, exc.message)
    return planned


CHECKS: dict[ImportKind, Callable[[list[Row], Context], list[Planned]]] = {
    ImportKind.CUSTOMERS: check_customers,
    ImportKind.DEVICES: check_devices,
    ImportKind.EQUIPMENT: check_equipment,
    ImportKind.STAFF: check_staff,
}


def check_file(kind: ImportKind, table: Table, *, grants: Grants, store: Store | None, today: date) -> Report:
    """Every row of `table` checked for `kind` against the data as it is now."""
    spec = KINDS[kind]
    mapping = map_headers(spec, table.headers)
    ctx = Context(
        spec, grants, store, today, headers={c.key: table.headers[i].strip() for i, c in mapping.items()}
    )
    rows = [
        Row(number, {column.key: cells[i] if i < len(cells) else None for i, column in mapping.items()}, ctx)
        for number, cells in table.rows
    ]
    with db.session.no_autoflush:
        planned = CHECKS[kind](rows, ctx)
    ctx.problems.sort(key=lambda p: p.row or 0)
    actions = {p.row: p.action for p in planned}
    ordered = [c for c in spec.columns if c in mapping.values()]
    preview = [
        {
            "row": row.number,
            "action": actions.get(row.number, "invalid"),
            "cells": [text(row.cells.get(c.key)) for c in ordered],
        }
        for row in rows[:PREVIEW_ROWS]
    ]
    return Report(
        kind, [ctx.headers[c.key] for c in ordered], len(rows), planned, ctx.problems, preview, store
    )


# --- writing ---------------------------------------------------------------------------------------


def _write_customers(report: Report, user: StaffUser) -> None:
    for plan in report.planned:
        values = {k: v for k, v in plan.values.items() if v is not None}
        if plan.action == "create":
            values.setdefault(
                "preferred_channel", ContactChannel.EMAIL if not values.get("phone") else ContactChannel.PHONE
            )
            db.session.add(Customer(store_id=report.store.id, **values))
        elif plan.action == "update":
            for key, value in plan.changes.items():
                setattr(plan.target, key, value)


def _write_devices(report: Report, user: StaffUser) -> None:
    for plan in report.planned:
        values = {k: v for k, v in plan.values.items() if v is not None}
        if plan.action == "create":
            db.session.add(Device(store_id=report.store.id, customer_id=plan.extra["customer"].id, **values))
        elif plan.action == "update":
            for key, value in plan.changes.items():
                setattr(plan.target, key, value)


def _write_equipment(report: Report, user: StaffUser) -> None:
    from repairqc.equipment.services import check_descriptive, register_item

    for plan in report.planned:
        values = plan.values
        if plan.action == "create":
            register_item(report.store, user, today=utcnow().date(), **values)
        elif plan.action == "update":
            for key, value in plan.changes.items():
                setattr(plan.target, key, value)
            check_descriptive(plan.target)


def _write_staff(report: Report, user: StaffUser) -> None:
    from repairqc.accounts.services import invite_staff

    for plan in report.planned:
        role, store = plan.extra["role"], plan.extra["store"]
        if plan.action == "create":
            person = invite_staff(plan.values["full_name"], plan.values["email"], role, store)
            person.phone = plan.values["phone"]
            person.locale = plan.values["locale"]
        elif plan.action == "update":
            for key, value in plan.changes.items():
                if key == "role":
                    plan.target.roles.append(RoleAssignment(role=role, store=store))
                else:
                    setattr(plan.target, key, value)
    db.session.flush()


WRITERS: dict[ImportKind, Callable[[Report, StaffUser], None]] = {
    ImportKind.CUSTOMERS: _write_customers,
    ImportKind.DEVICES: _write_devices,
    ImportKind.EQUIPMENT: _write_equipment,
    ImportKind.STAFF: _write_staff,
}


# --- the run -----------------------------------------------------------------------------------------


def _check_target_store(grants: Grants, kind: ImportKind, store: Store | None) -> None:
    if KINDS[kind].store_on_form:
        if store is None:
            raise DomainError(_("Choose the store the rows go to."), field="store")
        if not store.is_active:
            raise DomainError(_("%(store)s is not active.", store=store.code), field="store")
        require_right(grants, kind, store)
    elif not may_import(grants, kind):
        raise Conflict(_("You may not import %(kind)s.", kind=kind.label.lower()))


def upload(
    kind: ImportKind,
    data: bytes,
    filename: str,
    *,
    user: StaffUser,
    grants: Grants,
    store: Store | None = None,
    encoding: str = "auto",
) -> ImportRun:
    """Read and check the whole file and keep it, awaiting confirmation (nothing is imported).

    A file that cannot be read at all (`ImportRefused`) keeps nothing; a readable file with bad
    rows is kept with its report, so the user sees every problem at once, and cannot be confirmed.
    """
    if not KINDS[kind].store_on_form:
        store = None
    _check_target_store(grants, kind, store)
    table = read_table(data, filename, encoding)
    report = check_file(kind, table, grants=grants, store=store, today=utcnow().date())
    run = ImportRun(
        kind=kind,
        status=ImportStatus.PREVIEWED,
        store_id=store.id if store is not None else None,
        filename=(filename or "import").replace("\\", "/").rsplit("/", 1)[-1][:FILENAME_MAX] or "import",
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        encoding=table.encoding,
        content=base64.b64encode(data).decode("ascii"),
        uploaded_by_id=user.id,
    )
    _record(run, report)
    db.session.add(run)
    db.session.flush()
    return run


def _record(run: ImportRun, report: Report, *, with_preview: bool = True) -> None:
    run.report = report.to_json(with_preview=with_preview)
    run.row_count = report.row_count
    run.problem_count = len(report.problems)
    run.created_count = report.count("create")
    run.updated_count = report.count("update")
    run.unchanged_count = report.count("unchanged")


def kept_bytes(run: ImportRun) -> bytes:
    if not run.content:
        raise Conflict(_("The file of this import is no longer kept; upload it again."))
    return base64.b64decode(run.content)


def _require_open(run: ImportRun) -> None:
    if run.status is not ImportStatus.PREVIEWED:
        raise Conflict(
            _("This import is already finished (%(status)s); upload the file again to import it once more.",
              status=run.status.label.lower())
        )  # fmt: skip


def confirm(run: ImportRun, *, user: StaffUser, grants: Grants) -> ImportRun:
    """Import a previewed run: read the kept file again, check every row against the data as it
    is now, and write all rows, or raise `ImportInvalid` (the caller's unit of work rolls back)."""
    _require_open(run)
    if run.uploaded_by_id != user.id:
        raise Conflict(_("Only the person who uploaded the file confirms its import."))
    store = run.store
    _check_target_store(grants, run.kind, store)
    table = read_table(kept_bytes(run), run.filename, run.encoding if run.encoding != "xlsx" else "auto")
    report = check_file(run.kind, table, grants=grants, store=store, today=utcnow().date())
    if not report.valid:
        raise ImportInvalid(
            _("Nothing was imported: %(count)s problems were found when the file was checked again.",
              count=len(report.problems)),
            report,
        )  # fmt: skip
    WRITERS[run.kind](report, user)
    _record(run, report, with_preview=False)
    _finish(run, ImportStatus.IMPORTED, user)
    db.session.flush()
    return run


def record_failure(run: ImportRun, user: StaffUser, error: DomainError) -> None:
    """Keep the reason a confirmation failed (in a unit of work of its own: the import's rolled
    back). The file is dropped; the user fixes it and uploads it again."""
    report = getattr(error, "report", None)
    if report is not None:
        _record(run, report)
    else:
        run.report = json.dumps(
            {"columns": [], "problems": [Problem(None, None, error.message).as_dict()], "preview": []},
            ensure_ascii=False,
        )
        run.problem_count = 1
    _finish(run, ImportStatus.FAILED, user)
    db.session.flush()


def cancel(run: ImportRun, *, user: StaffUser) -> None:
    _require_open(run)
    if run.uploaded_by_id != user.id:
        raise Conflict(_("Only the person who uploaded the file cancels its import."))
    _finish(run, ImportStatus.CANCELLED, user)
    db.session.flush()


def _finish(run: ImportRun, status: ImportStatus, user: StaffUser | None) -> None:
    run.status = status
    # The file's personal data is kept no longer than needed (HB §7.3.1): the file, and the
    # preview's first rows in the report (the problems stay, to explain the outcome).
    run.content = None
    report = json.loads(run.report) if run.report else None
    if report and report.get("preview"):
        run.report = json.dumps({**report, "preview": []}, ensure_ascii=False)
    run.finished_at = utcnow()
    run.finished_by_id = user.id if user is not None else None


def expire_previews(now: datetime | None = None) -> int:
    """Cancel the runs left unconfirmed longer than IMPORT_PREVIEW_HOURS, dropping their files."""
    now = now or utcnow()
    cutoff = now - timedelta(hours=current_app.config["IMPORT_PREVIEW_HOURS"])
    runs = db.session.execute(
        sa.select(ImportRun).where(ImportRun.status == ImportStatus.PREVIEWED, ImportRun.created_at < cutoff)
    ).scalars()
    count = 0
    for run in runs:
        _finish(run, ImportStatus.CANCELLED, None)
        count += 1
    db.session.flush()
    return count


def read_report(run: ImportRun) -> dict:
    try:
        report = json.loads(run.report or "{}")
    except ValueError:
        report = {}
    return {"columns": [], "problems": [], "preview": [], **report}


def earlier_imports(run: ImportRun, visible: sa.Select) -> list[ImportRun]:
    """Imports of the same bytes before this run, among the runs `visible` selects."""
    return list(
        db.session.execute(
            visible.where(
                ImportRun.sha256 == run.sha256,
                ImportRun.kind == run.kind,
                ImportRun.status == ImportStatus.IMPORTED,
                ImportRun.id != run.id,
            ).order_by(ImportRun.finished_at.desc())
        ).scalars()
    )


# --- templates ------------------------------------------------------------------------------------


def template_headers(kind: ImportKind, locale: str) -> list[str]:
    chinese = locale.startswith("zh")
    return [c.header_zh if chinese else c.header for c in KINDS[kind].columns]


def template_csv(kind: ImportKind, locale: str) -> bytes:
    """Headers and one example row, UTF-8 with a BOM so that Excel opens Chinese text right."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(template_headers(kind, locale))
    writer.writerow([c.example for c in KINDS[kind].columns])
    return (CSV_BOM + out.getvalue()).encode("utf-8")


def template_xlsx(kind: ImportKind, locale: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = str(kind.value)
    sheet.append(template_headers(kind, locale))
    example: list[Any] = []
    for column in KINDS[kind].columns:
        if column.key in ("purchased_on", "in_service_on") and column.example:
            example.append(date.fromisoformat(column.example))
        else:
            example.append(column.example)
    sheet.append(example)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    # Text cells, so Excel keeps phone numbers' "+" and IMEIs' digits as typed.
    for column_cells in sheet.iter_cols(min_row=2, max_row=200):
        for cell in column_cells:
            if not isinstance(cell.value, date):
                cell.number_format = "@"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
