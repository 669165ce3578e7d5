"""The public complaint pages on the tenant's host: no sign-in (HB §9.3.1 "easy channels").

* `/complaint/<store code>`: the store's complaint form. Spam is kept out by a per-address and a
  per-store rate limit on sending, a honeypot field, and a signed "form served at" moment that
  refuses a form sent back faster than `MIN_FILL_SECONDS` or older than a day; every field has a
  maximum length (400 with the message, never a 500). An order number is linked only when the
  phone number or e-mail address given is also that order's customer's, so nobody can attach a
  complaint to someone else's repair by guessing numbers. The page's language becomes the
  complaint's: the customer is answered in it.
* `/complaint/confirm/<token>`: the customer's answer to a resolution (signed, expiring, single
  use; `services.complaint_for_token`): yes closes the complaint as confirmed, no reopens it with
  their comment.

Both speak to customers, never name staff, and are never cached, indexed or sent on as a
referrer (the token is in the URL), like the tracking page (`repairs.tracking_views`).
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from flask import abort, current_app, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer

from repairqc.admin.screens import attempt
from repairqc.complaints import services
from repairqc.complaints.forms import PublicComplaintForm
from repairqc.complaints.models import Complaint, ComplaintChannel
from repairqc.crypto import lookup_hashes, normalise_email, normalise_phone
from repairqc.db import current_tenant, db
from repairqc.errors import DomainError
from repairqc.extensions import limiter
from repairqc.i18n import normalise_locale, select_locale
from repairqc.public_pages import client_key, public_blueprint, tenant_key
from repairqc.repairs.models import RepairOrder
from repairqc.stores.models import Store

bp = public_blueprint("complaints_public", __name__)

#: A person needs longer than this to fill the form in; a bot does not.
MIN_FILL_SECONDS = 3
#: A form served longer ago than this is refused (sent again from a fresh page).
MAX_FORM_AGE_SECONDS = 24 * 3600
MAX_TOKEN_LENGTH = 512
MAX_CODE_LENGTH = 20
LANGUAGES = [("en", "English"), ("zh_Hans_CN", "简体中文")]


def clock() -> float:
    """Seconds since the epoch (tests move it)."""
    return time.time()


# --- request plumbing ----------------------------------------------------------------------------


def address_limit() -> str:
    return current_app.config["COMPLAINT_FORM_RATE_LIMIT"]


def store_limit() -> str:
    return current_app.config["COMPLAINT_FORM_STORE_RATE_LIMIT"]


def _address_key() -> str:
    return client_key("complaint")


def _store_key() -> str:
    code = (request.view_args or {}).get("code", "")[:MAX_CODE_LENGTH].upper()
    return f"complaint-store|{tenant_key()}|{code}"


def _page_locale(default: str | None = None) -> str:
    return normalise_locale(session.get("locale")) or normalise_locale(default) or select_locale()


def _chosen_language(endpoint: str, **values):
    """?lang=: remember the visitor's language and show the clean address."""
    chosen = normalise_locale(request.args.get("lang"))
    if chosen:
        session["locale"] = chosen
        return redirect(url_for(endpoint, **values))
    return None


# --- the form token --------------------------------------------------------------------------------


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="repairqc-complaint-form")


def form_token(store: Store, at: float | None = None) -> str:
    """The signed moment the form of `store` was served (tenant, store, seconds)."""
    return _signer().dumps(
        {"t": current_tenant().id, "s": store.id, "at": int(at if at is not None else clock())}
    )


def _check_token(raw: str | None, store: Store) -> None:
    try:
        payload = _signer().loads(raw or "")
    except BadSignature:
        payload = None
    if (
        not isinstance(payload, dict)
        or payload.get("t") != current_tenant().id
        or payload.get("s") != store.id
        or not isinstance(payload.get("at"), int)
    ):
        raise DomainError(_("The form could not be read. Please send it again."))
    age = clock() - payload["at"]
    if age < MIN_FILL_SECONDS:
        raise DomainError(_("That was very quick. Please check what you wrote and send it again."))
    if age > MAX_FORM_AGE_SECONDS:
        raise DomainError(_("The form has expired. Please send it again."))


# --- the complaint form ----------------------------------------------------------------------------


def _store(code: str) -> Store:
    if len(code) > MAX_CODE_LENGTH:
        abort(404)
    # Codes are matched without case; two codes differing only in case name no store (not a 500).
    found = (
        db.session.execute(
            sa.select(Store)
            .where(sa.func.upper(Store.code) == code.upper(), Store.is_active.is_(True))
            .limit(2)
        )
        .scalars()
        .all()
    )
    if len(found) != 1:
        abort(404)
    return found[0]


def _form(formdata=None) -> PublicComplaintForm:
    form = PublicComplaintForm(formdata)
    form.category.choices = [
        ("", _("I am not sure")),
        *((str(c.id), c.label) for c in services.active_categories()),
    ]
    return form


def _render(store: Store, form: PublicComplaintForm, *, error: str | None = None, status: int = 200):
    form.issued.data = form_token(store)
    form.website.data = ""
    return render_template(
        "complaints/public/form.html", store=store, form=form, error=error, languages=LANGUAGES
    ), status


def _matching_order(
    store: Store, number: str | None, phone: str | None, email: str | None
) -> RepairOrder | None:
    """The store's order `number`, if the phone or e-mail given is its customer's."""
    if not number:
        return None
    orders = (
        db.session.execute(
            sa.select(RepairOrder)
            .where(RepairOrder.store_id == store.id, sa.func.upper(RepairOrder.number) == number.upper())
            .limit(2)
        )
        .scalars()
        .all()
    )
    if len(orders) != 1:
        return None
    order = orders[0]
    customer = order.customer
    digits = normalise_phone(phone or "")
    if len(digits) >= 5 and customer.phone_lookup in lookup_hashes("phone", digits):
        return order
    if email and customer.email_lookup in lookup_hashes("email", normalise_email(email)):
        return order
    return None


@bp.route("/complaint/<code>", methods=("GET", "POST"))
@limiter.limit(address_limit, methods=["POST"], key_func=_address_key)
@limiter.limit(store_limit, methods=["POST"], key_func=_store_key)
def complaint_form(code: str):
    store = _store(code)
    switched = _chosen_language(".complaint_form", code=code)
    if switched is not None:
        return switched
    from flask_babel import force_locale

    with force_locale(_page_locale()):
        if request.method == "GET":
            return _render(store, _form())
        form = _form(request.form)
        if form.website.data:
            refused = _("Your complaint could not be accepted. Please call the store.")
            return _render(store, form, status=400, error=refused)
        if not form.validate():
            return _render(store, form, status=400, error=_("Please correct the fields marked below."))
        try:
            _check_token(form.issued.data, store)
        except DomainError as exc:
            return _render(store, form, status=400, error=exc.message)
        language = str(get_locale())
        created: dict = {}

        def send() -> None:
            order = _matching_order(store, form.order_number.data, form.phone.data, form.email.data)
            note = None
            if form.order_number.data and order is None:
                note = _("Order number given: %(number)s (not matched to the complainant's contact details)",
                         number=form.order_number.data)  # fmt: skip
            category = None
            if form.category.data:
                category = db.session.get(services.ComplaintCategory, int(form.category.data))
            complaint = services.open_complaint(
                store=store,
                channel=ComplaintChannel.WEB_FORM,
                description=form.description.data,
                category=category,
                order=order,
                contact_name=form.name.data,
                contact_phone=form.phone.data,
                contact_email=form.email.data,
                language=language,
                note=note,
            )
            created["id"] = complaint.id

        error = attempt(send)
        if error is not None:
            return _render(store, form, status=error.status_code, error=error.message)
        complaint = db.session.get(Complaint, created["id"])
        return render_template(
            "complaints/public/thanks.html",
            store=store,
            complaint=complaint,
            deadline=services.local_moment(complaint.first_contact_due_at, store),
            languages=[],
        )


# --- the customer's confirmation --------------------------------------------------------------------


def _load(token: str, *, lock: bool = False):
    """(complaint, None) or (None, the page saying why the link does not work)."""
    try:
        if len(token) > MAX_TOKEN_LENGTH:
            raise services.NotFound(_("This link is not valid."))
        return services.complaint_for_token(token, lock=lock), None
    except DomainError as exc:
        page = render_template("complaints/public/link_error.html", code=exc.status_code, message=exc.message)
        return None, (page, exc.status_code)


def _confirm_page(complaint: Complaint, token: str, form, *, error: str | None = None, status: int = 200):
    return render_template(
        "complaints/public/confirm.html",
        complaint=complaint,
        store=complaint.store,
        token=token,
        form=form,
        error=error,
        languages=LANGUAGES,
    ), status


@bp.route("/complaint/confirm/<token>", methods=("GET", "POST"))
@limiter.limit(address_limit, methods=["POST"], key_func=_address_key)
def confirm(token: str):
    from flask_babel import force_locale

    from repairqc.complaints.forms import ConfirmForm

    switched = _chosen_language(".confirm", token=token)
    if switched is not None:
        return switched
    complaint, failure = _load(token)
    if failure is not None:
        return failure
    with force_locale(_page_locale(complaint.language)):
        if request.method == "GET":
            return _confirm_page(complaint, token, ConfirmForm())
        form = ConfirmForm(request.form)
        if not form.validate():
            return _confirm_page(
                complaint, token, form, status=400, error=_("Please correct the fields marked below.")
            )
        satisfied = form.answer.data == "yes"

        def answer() -> None:
            # Locked and read again: a double click waits for the first answer and is then refused.
            locked, gone = _load(token, lock=True)
            if gone is not None:
                raise services.LinkGone(_("This link has been used already. Thank you for your answer."))
            services.confirm_by_customer(locked, satisfied=satisfied, comment=form.comment.data)

        error = attempt(answer)
        if error is not None:
            if error.status_code == 410:
                return render_template(
                    "complaints/public/link_error.html", code=410, message=error.message
                ), 410
            db.session.expire_all()
            return _confirm_page(db.session.get(Complaint, complaint.id), token, form,
                                 status=error.status_code, error=error.message)  # fmt: skip
        return render_template(
            "complaints/public/answered.html", store=complaint.store, satisfied=satisfied, languages=[]
        )
