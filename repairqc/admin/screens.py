"""What every purpose-built screen shares (repairs, inspections, reports): who may open it, loading
a row within the user's stores, reading ids and the version the page showed, running one step in
its own unit of work, and showing a refusal on the field it concerns.

The screens are thin (aesthetics.md §7): they parse a form, call their domain's services inside
one unit of work, and redirect or re-render. Rules live in the services.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import TypeVar

import sqlalchemy as sa
from flask import abort, request
from flask_admin import BaseView
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup

from repairqc.accounts.models import StaffUser
from repairqc.accounts.permissions import Action, current_grants
from repairqc.accounts.scoping import scoped_select
from repairqc.admin.views import INT32_MAX, deny_access, staff_signed_in
from repairqc.db import TenantBase, db, unit_of_work, utcnow
from repairqc.errors import DomainError, FormInvalid, refusal_text
from repairqc.stores.models import Store

Row = TypeVar("Row", bound=TenantBase)


class ScopedScreen(BaseView):
    """Reached by every member of staff who may see `model_name`'s rows; what they may *do* there
    is decided by the domain's services from their roles at the row's store."""

    model_name: str

    def is_accessible(self) -> bool:
        return staff_signed_in() and current_grants().can(self.model_name, Action.VIEW)

    def inaccessible_callback(self, name, **kwargs):
        return deny_access(name, **kwargs)


def staff() -> StaffUser:
    return current_user._get_current_object()


def today() -> date:
    return utcnow().date()


def load_scoped(
    model: type[Row], row_id: int, *, action: Action = Action.VIEW, for_update: bool = False, options=()
) -> Row:
    """The row if the user may `action` it (404 otherwise, never 403: no probing other stores).

    `for_update` locks the row until the unit of work ends, so two people acting on one record
    take turns and the second sees the first one's change (PostgreSQL; SQLite has one writer).
    """
    if not 0 < row_id <= INT32_MAX:
        abort(404)
    statement = scoped_select(model, action).where(model.id == row_id).options(*options)
    if for_update:
        # The row as it is now, not as an earlier read of this request left it in the session.
        statement = statement.with_for_update().execution_options(populate_existing=True)
    row = db.session.execute(statement).scalar()
    if row is None:
        abort(404)
    return row


def stores_for(model: str, *, active_only: bool = False) -> list[Store]:
    """The stores whose `model` rows the user may see (all of them for HQ roles), by code: the
    choices of a screen's store filter."""
    statement = sa.select(Store).order_by(Store.code)
    if active_only:
        statement = statement.where(Store.is_active.is_(True))
    allowed = current_grants().stores_for(model, Action.VIEW)
    if allowed is not None:
        statement = statement.where(Store.id.in_(allowed))
    return list(db.session.execute(statement).scalars())


def as_id(raw: str | None) -> int | None:
    """A row id or version typed into a form or a URL, or None if it cannot be one.

    ASCII digits only: str.isdigit() accepts "²", which int() refuses (a 500, not a message).
    """
    raw = (raw or "").strip()
    if raw.isascii() and raw.isdigit() and 0 < int(raw) <= INT32_MAX:
        return int(raw)
    return None


def expected_version() -> int | None:
    """The version the page was rendered with (hidden field `version`)."""
    return as_id(request.form.get("version"))


def required_version() -> int:
    """The version the page showed; every form carries it, so a change is never made blind."""
    version = expected_version()
    if version is None:
        raise DomainError(_("This page is incomplete or out of date. Reload it and try again."))
    return version


def attempt(action: Callable[[], object]) -> DomainError | None:
    """Run one step in its own unit of work; return the refusal instead of raising.

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


def validated(form: FlaskForm) -> FlaskForm:
    """The form, or `FormInvalid` naming each field that could not be read (nothing is saved)."""
    if not form.validate():
        raise FormInvalid(form.errors)
    return form


def field_errors(
    form: FlaskForm, error: DomainError, aliases: Mapping[str, str] | None = None
) -> list[str | Markup]:
    """Show a refusal on the form field it names; return the messages that belong to no field.

    Input the form could not read (`FormInvalid`) is already on its fields; `aliases` maps a
    service's field name to the form's ("fault_symptoms" → "symptoms"). A refusal's link (the
    billing page for a plan limit) goes with its message.
    """
    if isinstance(error, FormInvalid):
        if not error.fields:  # only the CSRF token: the form expired
            return [error.message]
        return [m for name, messages in error.fields.items() if name not in form for m in messages]
    name = (aliases or {}).get(error.field or "", error.field)
    if name and name in form and name not in ("csrf_token", "version"):
        form[name].errors = [*form[name].errors, refusal_text(error)]
        return []
    return [refusal_text(error)]
