"""What every repair screen shares: who may open it, loading an order within the user's stores,
the version the user saw, and turning a refused step into a message on the page.

The screens are thin (aesthetics.md §7): they parse a form, call `repairs.services` inside one
unit of work, and redirect or re-render. Rules live in the services and `repairs.workflow`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from flask import abort, request
from flask_admin import BaseView
from flask_login import current_user

from repairqc.accounts.models import StaffUser
from repairqc.accounts.permissions import Action, current_grants
from repairqc.accounts.scoping import scoped_select
from repairqc.admin.views import INT32_MAX, deny_access, staff_signed_in
from repairqc.db import db, unit_of_work, utcnow
from repairqc.errors import DomainError
from repairqc.repairs.models import RepairOrder


class RepairsAccess(BaseView):
    """Every member of staff who may see repair orders reaches the repair screens; what they
    may *do* there is decided per step by `repairs.workflow` from their roles at the store."""

    def is_accessible(self) -> bool:
        return staff_signed_in() and current_grants().can("RepairOrder", Action.VIEW)

    def inaccessible_callback(self, name, **kwargs):
        return deny_access(name, **kwargs)


def staff() -> StaffUser:
    return current_user._get_current_object()


def today() -> date:
    return utcnow().date()


def load_order(order_id: int, *, for_update: bool = False) -> RepairOrder:
    """The order if the user may see it (404 otherwise, never 403: no probing other stores).

    `for_update` locks the row until the unit of work ends, so two people acting on one order
    take turns and the second sees the first one's change (PostgreSQL; SQLite has one writer).
    """
    if not 0 < order_id <= INT32_MAX:
        abort(404)
    statement = scoped_select(RepairOrder).where(RepairOrder.id == order_id)
    order = db.session.execute(statement.with_for_update() if for_update else statement).scalar()
    if order is None:
        abort(404)
    return order


def as_id(raw: str | None) -> int | None:
    """A row id or version typed into a form or a URL, or None if it cannot be one.

    ASCII digits only: str.isdigit() accepts "²", which int() refuses (a 500, not a message).
    """
    raw = (raw or "").strip()
    if raw.isascii() and raw.isdigit() and 0 < int(raw) <= INT32_MAX:
        return int(raw)
    return None


def expected_version() -> int | None:
    """The order version the page was rendered with (hidden field `version`)."""
    return as_id(request.form.get("version"))


def attempt(action: Callable[[], object]) -> DomainError | None:
    """Run one workflow step in its own unit of work; return the refusal instead of raising.

    On a refusal nothing is saved (the unit of work rolled back). The view then shows the
    message: re-rendering the form with what the user typed, answering with the error's status
    (409 for a conflict or an illegal move), so nothing the user entered is lost.
    """
    try:
        with unit_of_work():
            action()
    except DomainError as exc:
        return exc
    return None
