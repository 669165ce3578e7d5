"""The log of who viewed or exported customer data (HB §7.3.1 access control).

Every page that shows a customer's record and every export calls `log_data_access` once the data
is produced, before it leaves. The entry must be durable whether or not the request commits:

* A request that has written nothing (every GET page, every download) would never commit its
  session, and committing it here would expire the objects a template or a streamed export is
  about to read. So the entry is written in **its own short transaction** on a separate session
  of the tenant's bind. It has no foreign keys, so it never waits on a row lock the request
  holds; on SQLite (WAL) a writer does not wait for the request's readers.
* A request that has already written (inside a unit of work, e.g. a report run being recorded)
  holds the tenant's write lock on SQLite; a second writer would wait on it until it times out.
  The entry then joins the request's transaction and commits with it; if that rolls back, the
  action did not happen and there is nothing to log.

Failing to write the entry is **not** swallowed: an access log that silently drops entries cannot
be relied on in a review (HB §7.3.1). `AccessNotRecorded` (503) is raised instead, so the data is
not shown or sent; the user sees a translated message and may try again.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import has_request_context, request
from flask import session as browser_session
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import event
from sqlalchemy.orm import Session

from repairqc.audit.services import current_actor
from repairqc.db import TenantSession, current_tenant, db
from repairqc.errors import DomainError
from repairqc.privacy.models import DETAIL_MAX, AccessKind, DataAccess

logger = logging.getLogger(__name__)

_WROTE = "privacy.wrote"


class AccessNotRecorded(DomainError):
    """The access could not be logged, so the data is withheld."""

    status_code = 503


@event.listens_for(TenantSession, "after_flush")
def _remember_write(session: Session, flush_context) -> None:
    session.info[_WROTE] = True


@event.listens_for(TenantSession, "after_transaction_end")
def _forget_write(session: Session, transaction) -> None:
    if transaction.parent is None:  # the outermost transaction ended: committed or rolled back
        session.info.pop(_WROTE, None)


def _request_has_written() -> bool:
    if not db.session.registry.has():
        return False
    session = db.session()
    return bool(session.info.get(_WROTE) or session.new or session.dirty or session.deleted)


def _viewer() -> tuple[int | None, str, str | None]:
    """(staff user id, name, operator) of whoever is acting: the signed-in staff user, or the
    actor of a job or command (`repairqc.audit.services`)."""
    user = current_user._get_current_object() if has_request_context() and current_user else None
    from repairqc.accounts.models import StaffUser

    if isinstance(user, StaffUser) and user.is_authenticated:
        operator = _support_operator() if user.is_platform_support else None
        return user.id, user.full_name or user.email, operator
    actor = current_actor()
    return (actor.id if actor.kind == "staff" else None), actor.name, None


def _support_operator() -> str | None:
    """The operator behind a support session (the support account is one per operator, but the
    session names them for sure, even if the account's display name was edited)."""
    from repairqc.billing.models import SupportSession

    public_id = browser_session.get("support_session")
    if not public_id:
        return None
    support = db.control.execute(
        sa.select(SupportSession).where(SupportSession.public_id == public_id)
    ).scalar_one_or_none()
    if support is None:
        return None
    return f"{support.operator.full_name} <{support.operator.email}>"


def _shortened(text: str | None) -> str | None:
    if text is None:
        return None
    text = str(text)
    return text if len(text) <= DETAIL_MAX else text[: DETAIL_MAX - 1] + "…"


def log_data_access(
    kind: str, subject: str, *, record_id: int | str | None = None, detail: str | None = None
) -> None:
    """Record that the signed-in user viewed (`kind="view"`) or exported (`kind="export"`) `subject`
    ("customer", "order", "report", "analytics", "backup", ...), optionally one record's id and a short
    detail (format, filters). Call it from the view, after the data was produced, inside the request.

    Raises `AccessNotRecorded` (503) when the entry cannot be written: the caller must not then
    deliver the data (letting the exception propagate does exactly that)."""
    access_kind = AccessKind(kind)  # a typo in a caller is a bug: fail loudly in its tests
    staff_user_id, staff_name, operator = _viewer()
    values = {
        "at": None,
        "staff_user_id": staff_user_id,
        "staff_name": staff_name[:254],
        "operator": operator[:254] if operator else None,
        "kind": access_kind,
        "subject": str(subject)[:64],
        "record_id": None if record_id is None else str(record_id)[:64],
        "detail": _shortened(detail),
        "ip_address": request.remote_addr if has_request_context() else None,
    }
    values.pop("at")  # the model's default: now
    try:
        if _request_has_written():
            db.session.add(DataAccess(**values))
            db.session.flush()
        else:
            _write_apart(values)
    except sa.exc.SQLAlchemyError as exc:
        logger.exception("data access not recorded (%s %s %s)", kind, subject, record_id)
        raise AccessNotRecorded(
            _("Your access to this data could not be recorded, so it is not shown. Please try again.")
        ) from exc


def _write_apart(values: dict) -> None:
    # create_savepoint: when tests pin the tenant to one connection in a transaction, this
    # becomes a savepoint in it instead of committing their data.
    with Session(bind=db.tenant_bind(current_tenant().schema), join_transaction_mode="create_savepoint") as s:
        s.add(DataAccess(**values))
        s.commit()


#: Models whose generated admin pages show a customer's contact data (HB §7.3.1), with the
#: subject their views are logged as: the customer's record, a complaint's contact as the
#: complainant gave it, the address a message to a customer was sent to. Exports are logged for
#: every model: an export is data leaving the product, whatever it holds.
CUSTOMER_RECORD_MODELS = {
    "Customer": "customer",
    "Complaint": "complaint",
    "CustomerMessage": "customer_message",
}
#: The subject of a list page of such a model (many customers' contact data at once).
CUSTOMER_LIST_SUBJECTS = {"Customer": "customer_list"}


def _admin_endpoint() -> str:
    return (request.endpoint or "").rpartition(".")[2] if has_request_context() else ""


def log_admin_record_view(model: type, pk: object) -> None:
    """The generated admin opened one record (details, edit): logged for customer records."""
    subject = CUSTOMER_RECORD_MODELS.get(model.__name__)
    if subject is not None:
        log_data_access("view", subject, record_id=pk, detail=f"admin {_admin_endpoint()}".strip())


def log_admin_list_view(model: type, rows: int) -> None:
    """The generated admin's list page of customer records (it shows their contact columns).
    `get_list` also serves exports and selects; only the list page itself is a view here, an
    export is logged once by `log_admin_export`."""
    subject = CUSTOMER_LIST_SUBJECTS.get(model.__name__)
    if subject is not None and _admin_endpoint() == "index_view":
        query = request.query_string.decode(errors="replace")
        log_data_access("view", subject, detail=f"admin list, {rows} rows; {query}".rstrip("; "))


def log_admin_export(model: type, rows: int) -> None:
    """The generated admin's export of a model's rows: which model, format, row count, filters."""
    export_type = request.view_args.get("export_type", "") if has_request_context() else ""
    query = request.query_string.decode(errors="replace") if has_request_context() else ""
    detail = f"{model.__name__} {export_type}, {rows} rows"
    log_data_access("export", "admin_export", detail=f"{detail}; {query}" if query else detail)
