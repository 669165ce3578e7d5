"""The order board: one store's open orders by state, with what needs attention (HB §2.1.3).

Built for the counter and the bench to glance at all day: a column per open state with its
count, a card per order (number, device, customer, technician, time in the state), badges for
what is late or stuck (diagnosis overdue, promised date passed, on hold, warranty rework), and
the next step one click away. It stays fast on a big store: the cards and the counts come from
ONE query over the open orders of one store (index `ix_repair_orders_store_status`), with a
window function capping each column at `CARDS_PER_COLUMN`; the rest is a link to the full list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import abort, request, url_for
from flask_admin import expose
from flask_admin.contrib.sqla.filters import FilterEqual
from flask_babel import format_timedelta, get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import aliased

from repairqc.accounts.models import Role, RoleAssignment, StaffUser
from repairqc.accounts.permissions import Action, current_grants
from repairqc.accounts.scoping import scope_condition
from repairqc.admin.screens import as_id, staff, today
from repairqc.db import db, utcnow
from repairqc.repairs import services
from repairqc.repairs.access import RepairsAccess
from repairqc.repairs.models import Customer, Device, RepairOrder
from repairqc.repairs.models import RepairOrderStatus as S
from repairqc.repairs.workflow import DESK
from repairqc.standards.services import EffectiveStandard, effective_for_store
from repairqc.stores.models import Store

#: The columns of the board: the states in which the device is in the store's hands.
OPEN_STATES = (S.RECEIVED, S.DIAGNOSING, S.QUOTED, S.APPROVED, S.IN_REPAIR, S.QC, S.READY)
#: Cards shown per column; the rest are counted and linked to the full list.
CARDS_PER_COLUMN = 50
#: Roles that work on the bench: offered in the technician filter.
BENCH_ROLES = (Role.TECHNICIAN, Role.STORE_MANAGER)
#: "technician=none": orders nobody has taken yet.
UNASSIGNED = "none"

#: The next step of each state: (where, what the link says). "order" is the order page with an
#: anchor, "steps" a step screen of `step_views`.
NEXT_ACTIONS = {
    S.RECEIVED: ("order", "diagnosis", _l("Start the diagnosis")),
    S.DIAGNOSING: ("order", "diagnosis", _l("Record the diagnosis")),
    S.QUOTED: ("order", "quote", _l("Record the customer's answer")),
    S.APPROVED: ("order", "repair", _l("Start the repair")),
    S.IN_REPAIR: ("order", "repair", _l("Log work or send to QC")),
    S.QC: ("steps", "qc", _l("Check the repair")),
    S.READY: ("steps", "delivery", _l("Hand the device over")),
}


@dataclass
class Card:
    id: int
    number: str
    status: S
    device: str
    customer: str
    technician: str | None
    in_state: str
    overdue_diagnosis: bool
    past_promised: bool
    hold: str | None
    rework: bool
    next_href: str
    next_label: str
    href: str


def category_names(standard: EffectiveStandard) -> dict[str, str]:
    """Device category code -> its name in the reader's language, in the standard's order."""
    chinese = str(get_locale()).startswith("zh")
    return {c.code: (c.name.zh if chinese else c.name.en) for c in standard.document.device_categories}


def order_href(order_id: int) -> str:
    return f"{request.script_root}/admin/repairs/orders/{order_id}/"


def next_action(status: S, order_id: int, diagnosed: bool) -> tuple[str, str]:
    kind, where, label = NEXT_ACTIONS[status]
    if status is S.DIAGNOSING and diagnosed:
        where, label = "quote", _l("Prepare the quote")
    if kind == "steps":
        return f"{request.script_root}/admin/repairs/steps/{order_id}/{where}", str(label)
    return f"{order_href(order_id)}#{where}", str(label)


class BoardView(RepairsAccess):
    @expose("/")
    def index(self):
        stores = self._stores()
        store = self._chosen_store(stores)
        grants = current_grants()
        page = {
            "stores": stores,
            "store": store,
            "intake_href": f"{request.script_root}/admin/repairs/intake/",
            "can_receive": bool(grants.tenant_roles & DESK)
            or any(roles & DESK for roles in grants.store_roles.values()),
        }
        if store is None:
            return self.render("repairs/board.html", columns=[], **page)
        technicians = self._technicians(store)
        categories = category_names(effective_for_store(store, today()))
        technician = request.args.get("technician", "")
        if technician != UNASSIGNED and as_id(technician) not in technicians:
            technician = ""  # someone not working here, or garbage: show everyone
        category = request.args.get("category", "")
        if category not in categories:
            category = ""
        offered = services.categories_offered(staff(), store.id)
        cards, counts = self._cards(store, technician, category, offered)
        columns = [
            {
                "status": status,
                "cards": cards.get(status, []),
                "count": counts.get(status, 0),
                "more_href": self._list_href(store, status),
            }
            for status in OPEN_STATES
        ]
        return self.render(
            "repairs/board.html",
            columns=columns,
            technicians=technicians,
            categories=categories,
            filters={"technician": technician, "category": category},
            unassigned=UNASSIGNED,
            **page,
        )

    # --- what the board shows ----------------------------------------------------------------

    @staticmethod
    def _stores() -> list[Store]:
        """Active stores whose orders the user may see (all of them for HQ roles), by code."""
        statement = sa.select(Store).where(Store.is_active.is_(True)).order_by(Store.code)
        allowed = current_grants().stores_for("RepairOrder", Action.VIEW)
        if allowed is not None:
            statement = statement.where(Store.id.in_(allowed))
        return list(db.session.execute(statement).scalars())

    @staticmethod
    def _chosen_store(stores: list[Store]) -> Store | None:
        """?store=<id> among the user's stores (404 otherwise: no probing); default the first."""
        raw = request.args.get("store", "")
        if not raw:
            return stores[0] if stores else None
        wanted = as_id(raw)
        store = next((s for s in stores if s.id == wanted), None)
        if store is None:
            abort(404)
        return store

    @staticmethod
    def _technicians(store: Store) -> dict[int, str]:
        """Active people who work on the bench at the store: id -> name."""
        rows = db.session.execute(
            sa.select(StaffUser.id, StaffUser.full_name)
            .join(RoleAssignment, RoleAssignment.user_id == StaffUser.id)
            .where(
                RoleAssignment.store_id == store.id,
                RoleAssignment.role.in_(BENCH_ROLES),
                StaffUser.is_active.is_(True),
            )
            .distinct()
            .order_by(StaffUser.full_name)
        )
        return {row.id: row.full_name for row in rows}

    @staticmethod
    def _cards(
        store: Store, technician: str, category: str, qualified: set[str] | None = None
    ) -> tuple[dict[S, list[Card]], dict[S, int]]:
        """The cards and the count of each column, in one query.

        `row_number()` caps each column and `count() OVER` counts it before the cap, so neither
        a second query per column nor loading every order is needed. Oldest in its state first:
        what has waited longest is at the top.
        """
        tech = aliased(StaffUser)
        conditions = [RepairOrder.store_id == store.id, RepairOrder.status.in_(OPEN_STATES)]
        scope = scope_condition(RepairOrder, Action.VIEW)
        if scope is not None:
            conditions.append(scope)
        if technician == UNASSIGNED:
            conditions.append(RepairOrder.technician_id.is_(None))
        elif technician:
            conditions.append(RepairOrder.technician_id == as_id(technician))
        if category:
            conditions.append(Device.category == category)
        if qualified is not None:
            conditions.append(Device.category.in_(qualified))
        column, oldest_first = RepairOrder.status, (RepairOrder.status_changed_at, RepairOrder.id)
        ranked = (
            sa.select(
                RepairOrder.id,
                RepairOrder.number,
                RepairOrder.status,
                RepairOrder.status_changed_at,
                RepairOrder.hold,
                RepairOrder.diagnosis_due_at,
                RepairOrder.promised_at,
                RepairOrder.rework_of_id,
                RepairOrder.diagnosis.is_not(None).label("diagnosed"),
                Device.brand,
                Device.model,
                Customer.full_name.label("customer"),
                tech.full_name.label("technician"),
                sa.func.row_number().over(partition_by=column, order_by=oldest_first).label("rank"),
                sa.func.count().over(partition_by=column).label("total"),
            )
            .join(Device, Device.id == RepairOrder.device_id)
            .join(Customer, Customer.id == RepairOrder.customer_id)
            .outerjoin(tech, tech.id == RepairOrder.technician_id)
            .where(*conditions)
            .subquery()
        )
        rows = db.session.execute(
            sa.select(ranked).where(ranked.c.rank <= CARDS_PER_COLUMN).order_by(ranked.c.rank)
        )
        now = utcnow()
        cards: dict[S, list[Card]] = {}
        counts: dict[S, int] = {}
        for row in rows:
            status = S(row.status)
            counts[status] = row.total
            cards.setdefault(status, []).append(_card(row, status, now))
        return cards, counts

    def _list_href(self, store: Store, status: S) -> str:
        """The admin list of the store's orders in `status` (Flask-Admin's filter arguments)."""
        view = next((v for v in self.admin._views if getattr(v, "endpoint", None) == "repair_orders"), None)
        if view is None:
            return ""
        args: dict[str, str] = {}
        for index, flt in enumerate(getattr(view, "_filters", None) or []):
            column = getattr(flt, "column", None)
            if column is None or not isinstance(flt, FilterEqual):
                continue
            if column.key == "store_id" and "store" not in args:
                args["store"] = f"flt0_{view.get_filter_arg(index, flt)}"
            elif column.key == "status" and "status" not in args:
                args["status"] = f"flt1_{view.get_filter_arg(index, flt)}"
        params = {}
        if "store" in args:
            params[args["store"]] = store.id
        if "status" in args:
            params[args["status"]] = status.value
        return url_for("repair_orders.index_view", **params)


def _aware(moment: datetime | None) -> datetime | None:
    # UTCDateTime gives aware datetimes; this keeps a naive one from breaking the comparison.
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _card(row, status: S, now: datetime) -> Card:
    changed, due, promised = (_aware(row.status_changed_at), _aware(row.diagnosis_due_at),
                              _aware(row.promised_at))  # fmt: skip
    next_href, next_label = next_action(status, row.id, bool(row.diagnosed))
    return Card(
        id=row.id,
        number=row.number,
        status=status,
        device=f"{row.brand} {row.model}".strip(),
        customer=row.customer,
        technician=row.technician,
        in_state=format_timedelta(now - changed, granularity="minute") if changed else "",
        overdue_diagnosis=status in (S.RECEIVED, S.DIAGNOSING) and due is not None and now > due,
        past_promised=promised is not None and now > promised,
        hold=row.hold.label if row.hold is not None else None,
        rework=row.rework_of_id is not None,
        next_href=next_href,
        next_label=next_label,
        href=order_href(row.id),
    )
