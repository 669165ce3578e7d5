"""A small JSON API over repair orders, for the board's quick actions and scripts at the counter.

* ``GET /api/repairs/orders/<id>``: the order's summary (number, status, hold, version, the moves
  the signed-in user may try, the status events).
* ``POST /api/repairs/orders/<id>/transition`` with ``{"to": "<status>", "reason": "...",
  "version": n}``: the simple moves, each through its step service (start the diagnosis, start
  the repair, send to QC, close, cancel with a reason). Moves that record more than a status (a
  diagnosis, a quote, the customer's decision, a QC check, the pick-up) answer 409 and point to
  the order page.

Authentication is the staff session of the tenant's host (the same cookie as the screens); a
request without one gets 401. Orders outside the user's stores, or of another tenant, are 404.
CSRF: Flask-WTF's `CSRFProtect` guards every POST; a JSON client sends the session's token in the
``X-CSRFToken`` header (take it from the ``csrf_token`` input of any page, or from a
``<meta name="csrf-token">``). Errors are JSON: ``{"error": message, "field": name|null}``,
with 400 for bad input, 401, 404, and 409 for an illegal move, a role that may not make it, or a
stale ``version`` (the message names who changed the order and to what).
"""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask import request as http_request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError

from repairqc.admin.screens import attempt, staff
from repairqc.admin.views import INT32_MAX, staff_signed_in
from repairqc.errors import Conflict, DomainError
from repairqc.repairs import services
from repairqc.repairs.access import load_order
from repairqc.repairs.models import RepairOrder
from repairqc.repairs.models import RepairOrderStatus as S
from repairqc.repairs.workflow import MOVES, allowed_moves, check_version, transition

bp = Blueprint("repairs_api", __name__, url_prefix="/api/repairs")


def _start_diagnosis(order: RepairOrder, reason: str | None) -> None:
    services.start_diagnosis(order, staff())


def _start_repair(order: RepairOrder, reason: str | None) -> None:
    services.start_repair(order, staff())


def _send_to_qc(order: RepairOrder, reason: str | None) -> None:
    services.send_to_qc(order, staff())


def _close(order: RepairOrder, reason: str | None) -> None:
    services.close_order(order, staff())


def _cancel(order: RepairOrder, reason: str | None) -> None:
    services.cancel_order(order, staff(), reason=reason or "")


#: Target status -> (the state it is reached from through the API, or None for any; its service).
SIMPLE_MOVES = {
    S.DIAGNOSING: (S.RECEIVED, _start_diagnosis),
    S.IN_REPAIR: (S.APPROVED, _start_repair),
    S.QC: (S.IN_REPAIR, _send_to_qc),
    S.CLOSED: (S.DELIVERED, _close),
    S.CANCELLED: (None, _cancel),
}


def page_of(order_id: int) -> str:
    return f"/admin/repairs/orders/{order_id}/"


def error(message: str, status: int, field: str | None = None):
    return jsonify(error=message, field=field), status


@bp.before_request
def require_staff():
    if not staff_signed_in():
        return error(_("Sign in to use the repair API."), 401)
    return None


@bp.errorhandler(CSRFError)
def csrf_refused(exc: CSRFError):
    return error(_("Send the session's CSRF token in the X-CSRFToken header."), 400)


def summary(order: RepairOrder) -> dict:
    user = staff()
    return {
        "id": order.id,
        "number": order.number,
        "status": order.status.value,
        "status_label": order.status.label,
        "hold": order.hold.value if order.hold else None,
        "hold_note": order.hold_note,
        "version": order.version,
        "store": order.store.code,
        "technician": order.technician.full_name if order.technician else None,
        "page": page_of(order.id),
        "allowed_moves": [
            {
                "to": move.target.value,
                "label": move.target.label,
                "needs_reason": move.needs_reason,
                "api": _through_api(order.status, move.target),
            }
            for move in allowed_moves(order, user)
        ],
        "events": [
            {
                "at": event.at.isoformat(),
                "by": event.actor_name,
                "from": event.from_status.value if event.from_status else None,
                "to": event.to_status.value,
                "reason": event.reason,
                "details": event.details,
            }
            for event in order.events
        ],
    }


def _through_api(source: S, target: S) -> bool:
    simple = SIMPLE_MOVES.get(target)
    return simple is not None and simple[0] in (None, source)


@bp.get("/orders/<int:order_id>")
def order_summary(order_id: int):
    return jsonify(summary(load_order(order_id)))


@bp.post("/orders/<int:order_id>/transition")
def order_transition(order_id: int):
    payload = http_request.get_json(silent=True)

    def run() -> None:
        order = load_order(order_id, for_update=True)  # 404 first: nothing is said about others' orders
        target, reason, version = parse(payload)
        check_version(order, version)
        if (order.status, target) in MOVES and not _through_api(order.status, target):
            raise Conflict(
                _(
                    "Moving an order to “%(target)s” records more than a status; "
                    "use the order page: %(page)s",
                    target=target.label,
                    page=page_of(order.id),
                )
            )
        simple = SIMPLE_MOVES.get(target)
        if simple is None:  # not a move at all: `transition` refuses it, saying why
            transition(order, target, staff(), reason=reason)
            return
        simple[1](order, reason)

    refused = attempt(run)
    if refused is not None:
        return error(refused.message, refused.status_code, refused.field)
    return jsonify(summary(load_order(order_id)))


def parse(payload: object) -> tuple[S, str | None, int]:
    """The target status, the reason and the version the client saw, or a 400 naming the field."""
    if not isinstance(payload, dict):
        raise DomainError(_('Send a JSON object: {"to": status, "reason": text, "version": number}.'))
    raw = payload.get("to")
    try:
        target = S(raw) if isinstance(raw, str) else None
    except ValueError:
        target = None
    if target is None:
        raise DomainError(
            _("“%(value)s” is not a status. Use one of: %(choices)s.", value=raw,
              choices=", ".join(status.value for status in S)),
            field="to",
        )  # fmt: skip
    reason = payload.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise DomainError(_("The reason must be text."), field="reason")
    version = payload.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or not 0 < version <= INT32_MAX:
        raise DomainError(_("Give the order's version as you last saw it (a number)."), field="version")
    return target, reason, version
