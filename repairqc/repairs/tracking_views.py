"""The customer's tracking page: no sign-in, the signed link is the key (HB §2.1.2, §6.2.2).

It speaks to the customer, not to staff: plain sentences instead of state names (HB §6.2.1), in
the customer's language unless the visitor picks another, and it shows only what the customer
already knows or needs (HB §6.1.2): the store, the order number, the device by brand and model,
the customer's first name. Never the phone, e-mail, IMEI, passcode, staff names, internal notes
or quality-check details. The token is in the URL, so responses are never cached, never indexed
and never sent on as a referrer.

The one thing a customer does here is answer the quote (`services.decide_quote` with
`DecisionMethod.ONLINE`); the answer names the quote revision, so a replayed or double-submitted
form is refused with the date of the first answer.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from babel import dates as babel_dates
from flask import (
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import force_locale, format_date, get_locale
from flask_babel import gettext as _

from repairqc.admin.screens import attempt, today
from repairqc.db import db
from repairqc.errors import DomainError, NotFound
from repairqc.extensions import limiter
from repairqc.i18n import normalise_locale, select_locale
from repairqc.public_pages import client_key, public_blueprint
from repairqc.repairs import services
from repairqc.repairs.models import (
    DecisionMethod,
    OrderHold,
    QuoteStatus,
    RepairOrder,
    RepairStatusEvent,
)
from repairqc.repairs.models import RepairOrderStatus as S
from repairqc.repairs.workflow import CustomerActor
from repairqc.stores.models import Store

bp = public_blueprint("tracking", __name__)

#: Real tokens are about 100 characters; anything far longer is not worth verifying.
MAX_TOKEN_LENGTH = 512
#: States in which the promised date still matters to the customer.
BEFORE_READY = frozenset({S.RECEIVED, S.DIAGNOSING, S.QUOTED, S.APPROVED, S.IN_REPAIR, S.QC})


# --- request plumbing ----------------------------------------------------------------------------


def tracking_rate_limit() -> str:
    """Answers to a quote allowed per client address and tenant."""
    return current_app.config["TRACKING_RATE_LIMIT"]


def _client_key() -> str:
    return client_key("tracking")


def _order(token: str) -> RepairOrder:
    if len(token) > MAX_TOKEN_LENGTH:
        raise NotFound(_("This tracking link is not valid."))
    return services.order_for_token(token)


def _customer_locale(order: RepairOrder) -> str:
    """The visitor's own choice (the language links, the switch in the header), else the
    customer's language, else the browser's."""
    return (
        normalise_locale(session.get("locale"))
        or normalise_locale(order.customer.language)
        or select_locale()
    )


def _load(token: str):
    """(the order of `token`, None), or (None, the page saying why the link does not work: 404, 410)."""
    try:
        return _order(token), None
    except DomainError as exc:
        page = render_template("repairs/tracking/link_error.html", code=exc.status_code, message=exc.message)
        return None, (page, exc.status_code)


# --- what the customer reads ---------------------------------------------------------------------


def _zone(store: Store) -> ZoneInfo:
    try:
        return ZoneInfo(store.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError, OSError):  # a mistyped zone must not break the page
        return ZoneInfo("UTC")


def _when(moment: datetime | None, store: Store) -> str:
    """A moment in the store's time zone (the customer is local to it), to the minute."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local, locale = moment.astimezone(_zone(store)), get_locale()
    day = babel_dates.format_date(local, "medium", locale=locale)
    time = babel_dates.format_time(local, "short", locale=locale)
    # The locale's own way of joining a date and a time ("{1}, {0}" in English).
    return locale.datetime_formats["medium"].format(time, day)


def _day(moment: datetime | date | None, store: Store) -> str:
    if moment is None:
        return ""
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        moment = moment.astimezone(_zone(store)).date()
    return format_date(moment, "long")


def first_name(full_name: str) -> str:
    """Only the first word of the name: the link may be forwarded (HB §6.1.2)."""
    words = (full_name or "").split()
    return words[0] if words else ""


def sentence(event: RepairStatusEvent, order: RepairOrder, *, current: bool) -> str:
    """One status change in plain words (HB §6.2.1); never who did it or why, except a cancellation."""
    status = event.to_status
    if status is S.QUOTED:
        price_rose = event.from_status is S.IN_REPAIR
        if not current:
            return _("We sent you a new quote") if price_rose else _("We sent you a quote")
        if price_rose:
            return _("The repair costs more than you approved — please approve or decline the new quote")
        return _("Your quote is ready — please approve or decline it")
    if status is S.DELIVERED:
        if order.warranty_until:
            return _("Picked up — warranty until %(date)s", date=format_date(order.warranty_until, "long"))
        return _("Picked up")
    if status is S.CANCELLED:
        if event.reason:
            return _("The repair was cancelled. Reason: %(reason)s", reason=event.reason)
        return _("The repair was cancelled")
    texts = {
        S.RECEIVED: _("We have received your device"),
        S.DIAGNOSING: _("A technician is finding the cause"),
        S.APPROVED: _("You approved the quote; the repair will start soon"),
        S.IN_REPAIR: _("Your device is being repaired"),
        S.QC: _("We are checking the repair"),
        S.READY: _("Your device is ready to pick up"),
        S.CLOSED: _("Your repair is complete. Thank you!"),
        S.DECLINED: _("You declined the quote. Please pick up your device at the store"),
    }
    return texts.get(status, "")


def hold_sentence(order: RepairOrder) -> str | None:
    if order.hold is OrderHold.WAITING_FOR_PARTS:
        return _("We are waiting for a part. We will tell you as soon as it arrives.")
    if order.hold is OrderHold.WAITING_FOR_CUSTOMER:
        return _("We are waiting to hear from you. Please call the store.")
    return None


def _render(order: RepairOrder, token: str, *, error: DomainError | None = None, form=None, status=200):
    store = order.store
    events = list(order.events)
    timeline = [
        {"when": _when(event.at, store), "text": sentence(event, order, current=i == len(events) - 1),
         "status": event.to_status.value}
        for i, event in enumerate(events)
    ]  # fmt: skip
    quote = services.current_quote(order)
    # The quote waiting for an answer; a cancelled order's last quote is no longer on offer.
    awaiting = order.status is S.QUOTED and quote is not None and quote.status is QuoteStatus.SENT
    open_quote = quote if awaiting else None
    quote_expiry = open_quote.valid_until if open_quote is not None else None
    quote_expired = bool(quote_expiry and today() > quote_expiry)
    due = 0
    if order.status is S.READY:
        due = max(order.amount_due_cents - services.amount_paid(order), 0)
    context = {
        "order": order,
        "store": store,
        "token": token,
        "first_name": first_name(order.customer.full_name),
        "device": f"{order.device.brand} {order.device.model}".strip(),
        "timeline": timeline,
        "now_text": timeline[-1]["text"] if timeline else "",
        "hold": hold_sentence(order) if order.status.is_open else None,
        "promised": _day(order.promised_at, store) if order.status in BEFORE_READY else None,
        "quote": open_quote,
        "quote_expired": quote_expired,
        "valid_until": format_date(quote_expiry, "long") if quote_expiry else None,
        "due": due,
        "error": error,
        "form": form or {},
        "languages": [("en", "English"), ("zh_Hans_CN", "简体中文")],
    }
    return render_template("repairs/tracking/page.html", **context), status


# --- the routes ----------------------------------------------------------------------------------


@bp.get("/track/<token>")
def page(token: str):
    order, failure = _load(token)
    if failure is not None:
        return failure
    chosen = normalise_locale(request.args.get("lang"))
    if chosen:
        # The visitor picked a language: remember it for this browser and show the clean address,
        # so the header's language switch (which returns to this address) keeps working.
        session["locale"] = chosen
        return redirect(url_for(".page", token=token))
    with force_locale(_customer_locale(order)):
        return _render(order, token)


@bp.post("/track/<token>/quote/<int:revision>")
@limiter.limit(tracking_rate_limit, methods=["POST"], key_func=_client_key)
def decide(token: str, revision: int):
    """The customer approves or declines quote `revision` (HB §2.1.2(3))."""
    order, failure = _load(token)
    if failure is not None:
        return failure
    with force_locale(_customer_locale(order)):
        form = {
            "signer_name": request.form.get("signer_name", "").strip()[:200],
            "reason": request.form.get("reason", "").strip()[:2000],
        }
        decision = request.form.get("decision")
        if decision not in {"approve", "decline"}:
            return _render(order, token, form=form, status=400,
                           error=DomainError(_("Choose “Approve” or “Decline”.")))  # fmt: skip
        approve = decision == "approve"
        order_id = order.id

        def answer() -> None:
            # Lock the order, so a double click waits for the first answer and is then refused.
            locked = db.session.execute(
                sa.select(RepairOrder)
                .where(RepairOrder.id == order_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            ).scalar_one()
            services.decide_quote(
                locked,
                CustomerActor(form["signer_name"]),
                revision=revision,
                approve=approve,
                method=DecisionMethod.ONLINE,
                signer_name=form["signer_name"],
                today=today(),
                signature_data_url=request.form.get("signature") or None,
                reason=None if approve else (form["reason"] or None),
            )

        error = attempt(answer)
        if error is not None:
            return _render(db.session.get(RepairOrder, order_id), token, error=error, form=form,
                           status=error.status_code)  # fmt: skip
        if approve:
            flash(_("Thank you. You approved the quote; we will start the repair soon."), "success")
        else:
            flash(_("Thank you for your answer. You declined the quote."), "info")
    return redirect(url_for(".page", token=token))
