"""The repair order's state machine (design.md §4, HB §2.1.2): the one place a status changes.

`transition` checks who may make the move (by their roles at the order's store), the move's
preconditions (a diagnosis before a quote, an approved quote before the repair, a passed QC
before pick-up, a signature and payment before delivery), and the version the caller saw; it
then writes the status event (who, when, from, to, why) — the audit log follows from the flush
— and queues the customer's notification to run after the commit. The step services in
`repairs.services` record their step's facts and then call it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import format_datetime
from flask_babel import gettext as _

from repairqc.accounts.models import Role, StaffUser
from repairqc.accounts.permissions import roles_at
from repairqc.audit.models import AuditLog
from repairqc.db import db, on_commit, utcnow
from repairqc.errors import Conflict, DomainError
from repairqc.repairs.models import (
    Payment,
    QCCheck,
    QCCheckStatus,
    QuoteStatus,
    RepairOrder,
    RepairStatusEvent,
    Signature,
    SignaturePurpose,
    WorkLog,
)
from repairqc.repairs.models import RepairOrderStatus as S


class Refused(Conflict):
    """A move the order's state, the rules or the caller's role does not allow (409)."""


@dataclass(frozen=True)
class CustomerActor:
    """The customer acting through their tracking link."""

    name: str


#: Who moves an order: a member of staff, the customer (tracking page) or None for the system.
Mover = StaffUser | CustomerActor | None

MANAGE = frozenset({Role.OWNER, Role.STORE_MANAGER})
BENCH = MANAGE | {Role.TECHNICIAN}
DESK = MANAGE | {Role.FRONT_DESK}
#: Anyone but the repairing technician may check a repair (HB §5.1.3(5)).
QC_ROLES = BENCH | {Role.INSPECTOR, Role.QA_MANAGER}


@dataclass(frozen=True)
class Move:
    source: S
    target: S
    roles: frozenset[Role]
    customer: bool = False
    needs_reason: bool = False


MOVES: dict[tuple[S, S], Move] = {
    (m.source, m.target): m
    for m in [
        Move(S.RECEIVED, S.DIAGNOSING, BENCH),
        Move(S.DIAGNOSING, S.QUOTED, BENCH),
        # A warranty rework at no charge goes straight to the bench (HB §2.1.2(6)).
        Move(S.DIAGNOSING, S.APPROVED, BENCH),
        Move(S.QUOTED, S.APPROVED, DESK, customer=True),
        Move(S.QUOTED, S.DECLINED, DESK, customer=True),
        Move(S.APPROVED, S.IN_REPAIR, BENCH),
        # A price increase found during the repair needs the customer's approval again.
        Move(S.IN_REPAIR, S.QUOTED, BENCH),
        Move(S.IN_REPAIR, S.QC, BENCH),
        Move(S.QC, S.IN_REPAIR, QC_ROLES, needs_reason=True),
        Move(S.QC, S.READY, QC_ROLES),
        Move(S.READY, S.DELIVERED, DESK),
        Move(S.DELIVERED, S.CLOSED, DESK),
        *[
            Move(source, S.CANCELLED, DESK, needs_reason=True)
            for source in (S.RECEIVED, S.DIAGNOSING, S.QUOTED, S.APPROVED, S.IN_REPAIR, S.QC, S.READY)
        ],
    ]
}

#: Moves the customer hears about (HB §6.2.2 proactive communication).
NOTIFY_CUSTOMER = frozenset({S.QUOTED, S.READY, S.DELIVERED, S.CANCELLED})


def allowed_moves(order: RepairOrder, user: StaffUser) -> list[Move]:
    """The moves `user` may attempt from the order's state (the screens offer these)."""
    roles = roles_at(user, order.store_id)
    return [move for (source, _), move in MOVES.items() if source is order.status and roles & move.roles]


# --- preconditions ------------------------------------------------------------------------------


def _latest_quote_status(order: RepairOrder) -> QuoteStatus | None:
    return order.quotes[-1].status if order.quotes else None


def _require_diagnosis(order: RepairOrder) -> None:
    if not (order.diagnosis and order.repair_plan and order.repair_type):
        raise Refused(_("Record the cause, the repair plan and the repair type first."))


def _to_quoted(order: RepairOrder) -> None:
    _require_diagnosis(order)
    if _latest_quote_status(order) is not QuoteStatus.SENT:
        raise Refused(_("Send the customer an itemised quote first."))


def _to_approved(order: RepairOrder) -> None:
    if _latest_quote_status(order) is not QuoteStatus.APPROVED:
        raise Refused(_("The customer has not approved the quote."))


def _to_declined(order: RepairOrder) -> None:
    if _latest_quote_status(order) is not QuoteStatus.DECLINED:
        raise Refused(_("The customer has not declined the quote."))


def _to_in_repair(order: RepairOrder) -> None:
    if order.status is S.APPROVED:
        _to_approved(order)
        if order.technician_id is None:
            raise Refused(_("Assign a technician first."))
    elif order.status is S.QC and _last_qc_status(order) is not QCCheckStatus.FAILED:
        raise Refused(_("Only a failed quality check sends a repair back to the bench."))


def _to_qc(order: RepairOrder) -> None:
    if order.hold is not None:
        raise Refused(_("The order is on hold (%(hold)s); release it first.", hold=order.hold.label))
    logged = db.session.scalar(sa.select(sa.func.count()).where(WorkLog.order_id == order.id))
    if not logged:
        raise Refused(_("Log the repair work before sending it to the quality check."))


def _last_qc_status(order: RepairOrder) -> QCCheckStatus | None:
    return db.session.scalar(
        sa.select(QCCheck.status)
        .where(QCCheck.repair_order_id == order.id)
        .order_by(QCCheck.id.desc())
        .limit(1)
    )


def _to_ready(order: RepairOrder) -> None:
    if _last_qc_status(order) is not QCCheckStatus.PASSED:
        raise Refused(_("The repair has not passed its quality check."))


def amount_paid(order: RepairOrder) -> int:
    """What the customer has paid on the order so far, in cents."""
    total = sa.select(sa.func.coalesce(sa.func.sum(Payment.amount_cents), 0)).where(
        Payment.order_id == order.id
    )
    return db.session.scalar(total) or 0


def _to_delivered(order: RepairOrder) -> None:
    signed = db.session.scalar(
        sa.select(sa.func.count()).where(
            Signature.order_id == order.id, Signature.purpose == SignaturePurpose.ACCEPTANCE
        )
    )
    if not (signed and order.customer_confirmed_fixed):
        raise Refused(_("The customer must confirm the fault is solved and sign before pick-up."))
    if amount_paid(order) < order.amount_due_cents:
        raise Refused(_("The amount due has not been paid."))


PRECONDITIONS: dict[S, Callable[[RepairOrder], None]] = {
    S.QUOTED: _to_quoted,
    S.APPROVED: _to_approved,
    S.DECLINED: _to_declined,
    S.IN_REPAIR: _to_in_repair,
    S.QC: _to_qc,
    S.READY: _to_ready,
    S.DELIVERED: _to_delivered,
}


# --- the one transition ---------------------------------------------------------------------------


def check_version(order: RepairOrder, expected_version: int | None) -> None:
    """Refuse a change made on a stale page, saying who changed the order, when and what.

    The newest audit entry of the order names the change whatever it was (a status, a hold, a
    diagnosis, an assignment); the page the user came from is re-shown with their input.
    """
    if expected_version is None or expected_version == order.version:
        return
    last = db.session.execute(
        sa.select(AuditLog)
        .where(AuditLog.table_name == RepairOrder.__tablename__, AuditLog.row_id == str(order.id))
        .order_by(AuditLog.id.desc())
        .limit(1)
    ).scalar()
    if last is None:
        raise Conflict(
            _("Someone else changed this order at the same time. Nothing was saved; reload and try again.")
        )
    changed = sorted(set(last.after or {}) - _BOOKKEEPING)
    name = _changed_by(order, last)
    columns = RepairOrder.__table__.columns
    fields = ", ".join(str(columns[name].info.get("label", name)) for name in changed if name in columns)
    raise Conflict(
        _(
            "%(name)s changed this order at %(time)s (%(fields)s); it is now “%(status)s”. "
            "Nothing was saved: check the order and try again.",
            name=name,
            time=format_datetime(last.occurred_at, "short"),
            fields=fields or _("details"),
            status=order.status.label,
        )
    )


def _changed_by(order: RepairOrder, entry: AuditLog) -> str:
    """The person behind an audit entry: staff by their full name (the log keeps the e-mail).

    Moves made by a job or a script on someone's behalf carry that person in the status event
    written in the same transaction, so an event at the same moment names them.
    """
    if entry.actor_kind == "staff" and entry.actor_id is not None:
        user = db.session.get(StaffUser, entry.actor_id)
        if user is not None:
            return user.full_name
    event = order.events[-1] if order.events else None
    if event is not None and abs((event.at - entry.occurred_at).total_seconds()) < 5:
        return event.actor_name
    return entry.actor_name


#: Columns every change touches; naming them would not tell the user anything.
_BOOKKEEPING = frozenset({"version", "updated_at", "status_changed_at"})


def actor_name(mover: Mover) -> str:
    if isinstance(mover, StaffUser):
        return mover.full_name
    if isinstance(mover, CustomerActor):
        return _("Customer %(name)s", name=mover.name)
    return _("RepairQC")


def transition(
    order: RepairOrder,
    target: S,
    mover: Mover,
    *,
    reason: str | None = None,
    details: dict | None = None,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> RepairStatusEvent:
    """Move `order` to `target`, or raise `Refused` with the reason in the user's language."""
    check_version(order, expected_version)
    move = MOVES.get((order.status, target))
    if move is None:
        raise Refused(
            _(
                "An order that is “%(source)s” cannot become “%(target)s”.",
                source=order.status.label,
                target=target.label,
            )
        )
    if isinstance(mover, StaffUser):
        if not roles_at(mover, order.store_id) & move.roles:
            raise Refused(
                _(
                    "Your role at this store does not allow moving an order to “%(target)s”.",
                    target=target.label,
                )
            )
    elif isinstance(mover, CustomerActor) and not move.customer:
        raise Refused(_("Only the store can make this change."))
    reason = (reason or "").strip() or None
    if move.needs_reason and not reason:
        raise DomainError(_("Give a reason."), field="reason")
    check = PRECONDITIONS.get(target)
    if check is not None:
        check(order)

    now = now or utcnow()
    event = RepairStatusEvent(
        store_id=order.store_id,
        from_status=order.status,
        to_status=target,
        actor_id=mover.id if isinstance(mover, StaffUser) else None,
        actor_name=actor_name(mover),
        at=now,
        reason=reason,
        details=details,
    )
    order.events.append(event)
    order.status = target
    order.status_changed_at = now
    if not target.is_open:
        order.hold = None
        order.hold_note = None
        # The device leaves the store: its passcode is no longer needed (HB §6.1.2).
        order.device.passcode = None
        if target is not S.DELIVERED:
            order.closed_at = now
    if target is S.CLOSED:
        order.closed_at = now
    db.session.flush()
    if target in NOTIFY_CUSTOMER:
        notify_customer_after_commit(order, event.id)
    return event


def notify_customer_after_commit(order: RepairOrder, event_id: int | None) -> None:
    """Queue the customer's message once the change is committed (None: a revised quote)."""
    from repairqc.jobs import enqueue
    from repairqc.repairs.tasks import notify_customer  # tasks render templates: imported late

    order_id = order.id
    on_commit(lambda: enqueue(notify_customer, order_id, event_id))


def record_first_event(order: RepairOrder, mover: StaffUser, now: datetime) -> None:
    """The intake event: no previous state."""
    order.events.append(
        RepairStatusEvent(
            store=order.store,
            from_status=None,
            to_status=S.RECEIVED,
            actor_id=mover.id,
            actor_name=actor_name(mover),
            at=now,
        )
    )
