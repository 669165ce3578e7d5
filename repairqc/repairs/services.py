"""The steps of a repair (HB §2.1.2): each records its facts, then moves the order through
`workflow.transition`, the one method that changes a status.

Functions only flush; the request or job that calls them owns the unit of work. Money is in
integer minor units (`*_cents`). Dates that depend on "today" take it as an argument, so tests
and the views decide what today is.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from flask import current_app
from flask_babel import format_date
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from stdnum import imei as imei_number

from repairqc.accounts.models import Role, StaffUser
from repairqc.accounts.permissions import Action, Grants
from repairqc.crypto import lookup_hashes, normalise_email, normalise_phone
from repairqc.db import current_tenant, db, utcnow
from repairqc.errors import DomainError, NotFound
from repairqc.files.services import store_bytes
from repairqc.repairs.models import (
    ContactChannel,
    Customer,
    DecisionMethod,
    Device,
    OrderHold,
    OrderPhoto,
    Part,
    Payment,
    PaymentMethod,
    PhotoStage,
    QCCheck,
    QCCheckResult,
    QCCheckStatus,
    Quote,
    QuoteLine,
    QuoteLineKind,
    QuoteStatus,
    RepairOrder,
    Signature,
    SignaturePurpose,
    StockLevel,
    StockMovement,
    StockReason,
    WorkLog,
)
from repairqc.repairs.models import RepairOrderStatus as S
from repairqc.repairs.workflow import (
    BENCH,
    DESK,
    MANAGE,
    QC_ROLES,
    Mover,
    Refused,
    amount_paid,
    check_version,
    notify_customer_after_commit,
    record_first_event,
    roles_at,
    transition,
)
from repairqc.standards.services import EffectiveStandard, effective_for_store
from repairqc.stores.models import Store

# --- order numbers ------------------------------------------------------------------------------------


def next_order_number(store: Store) -> str:
    """The store's next order number, e.g. "FF-N01-000042".

    One UPDATE ... RETURNING raises the counter: PostgreSQL locks the store's row until the
    transaction ends and SQLite has one writer at a time, so two intakes never get the same
    number; a rolled-back intake leaves a gap, which is harmless.
    """
    number = db.session.execute(
        sa.update(Store)
        .where(Store.id == store.id)
        .values(last_order_number=Store.last_order_number + 1)
        .returning(Store.last_order_number),
        execution_options={"synchronize_session": False},
    ).scalar_one()
    return f"{store.code}-{number:06d}"


# --- customers ----------------------------------------------------------------------------------------


def find_customers(query: str, store_ids: set[int] | None, limit: int = 20) -> list[Customer]:
    """Customers whose phone or e-mail is `query` exactly, or whose name contains it.

    Phone and e-mail are encrypted, so they are matched through their keyed hashes (every
    configured key, so a key rotation in progress misses nobody); names are plain text.
    """
    query = query.strip()
    if not query:
        return []
    conditions = [Customer.full_name.ilike(f"%{_escape_like(query)}%", escape="\\")]
    if "@" in query:
        conditions.append(Customer.email_lookup.in_(lookup_hashes("email", normalise_email(query))))
    digits = normalise_phone(query)
    if len(digits) >= 5:
        conditions.append(Customer.phone_lookup.in_(lookup_hashes("phone", digits)))
    statement = sa.select(Customer).where(sa.or_(*conditions)).order_by(Customer.full_name).limit(limit)
    if store_ids is not None:
        statement = statement.where(Customer.store_id.in_(store_ids))
    return list(db.session.execute(statement).scalars())


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# --- validation helpers -----------------------------------------------------------------------------


def check_imei(value: str | None) -> str | None:
    """A 15-digit IMEI with a valid Luhn check digit, spaces and dashes removed; or None."""
    if not value or not value.strip():
        return None
    compact = imei_number.compact(value)
    if not (compact.isascii() and compact.isdigit() and len(compact) == 15 and imei_number.is_valid(compact)):
        raise DomainError(
            _(
                "“%(value)s” is not a valid IMEI: it must have 15 digits and a correct check digit.",
                value=value.strip(),
            ),
            field="imei",
        )
    return compact


_DATA_URL = re.compile(r"^data:image/png;base64,(?P<data>[A-Za-z0-9+/=\s]+)$")


def signature_png(data_url: str | None, field_name: str = "signature") -> bytes:
    """The PNG bytes of a signature drawn in the browser (a data: URL from the signature pad)."""
    match = _DATA_URL.match((data_url or "").strip())
    if not match:
        raise DomainError(_("The customer's signature is missing."), field=field_name)
    try:
        return base64.b64decode(match.group("data"), validate=False)
    except (binascii.Error, ValueError):
        raise DomainError(
            _("The signature could not be read; ask the customer to sign again."), field=field_name
        ) from None


def _store_signature(order: RepairOrder, purpose: SignaturePurpose, png: bytes, signer: str) -> Signature:
    stored = store_bytes(png, f"signature-{order.number}-{purpose.value}.png", store_id=order.store_id)
    if stored.content_type != "image/png":
        raise DomainError(
            _("The signature could not be read; ask the customer to sign again."), field="signature"
        )
    signature = Signature(
        store_id=order.store_id, order=order, purpose=purpose, file=stored, signer_name=signer
    )
    db.session.add(signature)
    return signature


def add_photo(
    order: RepairOrder,
    stage: PhotoStage,
    data: bytes,
    filename: str,
    user: StaffUser | None,
    *,
    caption: str | None = None,
    qc_result: QCCheckResult | None = None,
) -> OrderPhoto:
    stored = store_bytes(data, filename, store_id=order.store_id)
    if not stored.is_inline:
        raise DomainError(
            _("“%(name)s” is not a photo (PNG, JPEG, WebP or GIF).", name=filename), field="photos"
        )
    photo = OrderPhoto(
        store_id=order.store_id,
        order=order,
        file=stored,
        stage=stage,
        caption=caption,
        qc_result_id=qc_result.id if qc_result is not None else None,
        taken_by_id=user.id if user is not None else None,
    )
    db.session.add(photo)
    return photo


# --- qualifications (the training issue adds certificates) --------------------------------------------


def qualified_categories(user: StaffUser) -> set[str] | None:
    """The device categories `user` is qualified to diagnose and repair (HB §5.1.3(1)): those
    they hold a certificate for that is valid today (`training.services.certified_categories`).
    The check below is applied wherever a technician takes or is given an order."""
    from repairqc.training.services import certified_categories

    return certified_categories(user)


def categories_offered(user: StaffUser, store_id: int) -> set[str] | None:
    """The device categories whose orders the board offers `user` at a store; None means all.

    A technician (with no desk or manager role there) is offered only the categories they are
    qualified for (HB §2.1.2(2), §5.1.3(1)); the desk and managers see every order.
    """
    roles = roles_at(user, store_id)
    if Role.TECHNICIAN not in roles or roles & (DESK | MANAGE):
        return None
    return qualified_categories(user)


def require_qualified(user: StaffUser, order: RepairOrder) -> None:
    """Refuse an order of a device category `user` holds no valid certificate for, saying where
    HR records one (the person's training page)."""
    categories = qualified_categories(user)
    if categories is not None and order.device.category not in categories:
        from repairqc.training.services import category_names

        with db.session.no_autoflush:
            category = category_names(utcnow().date()).get(order.device.category, order.device.category)
        raise Refused(
            _(
                "%(name)s holds no valid certificate for %(category)s repairs (HB §5.1.3(1)). "
                "HR records certificates on the person's training page (Staff and training → "
                "Training).",
                name=user.full_name,
                category=category,
            )
        )


def _take(order: RepairOrder, user: StaffUser) -> None:
    """A technician who starts work on an unassigned order becomes its technician."""
    if order.technician_id is None and Role.TECHNICIAN in roles_at(user, order.store_id):
        require_qualified(user, order)
        order.technician_id = user.id
        order.technician = user


def assign_technician(
    order: RepairOrder, technician: StaffUser, by: StaffUser, *, expected_version: int | None = None
) -> None:

    check_version(order, expected_version)
    if not roles_at(by, order.store_id) & MANAGE:
        raise Refused(_("Only the store manager assigns technicians."))
    # Not once the repair is done: reassigning then would let its technician check it (HB §5.1.3(5)).
    if order.status not in {S.RECEIVED, S.DIAGNOSING, S.QUOTED, S.APPROVED, S.IN_REPAIR}:
        raise Refused(_("The technician is assigned before the quality check."))
    if Role.TECHNICIAN not in roles_at(technician, order.store_id):
        raise DomainError(
            _("%(name)s is not a technician of this store.", name=technician.full_name), field="technician"
        )
    require_qualified(technician, order)
    order.technician_id = technician.id
    order.technician = technician
    db.session.flush()


# --- intake (HB §2.1.2(1)) ----------------------------------------------------------------------------


@dataclass
class NewCustomer:
    full_name: str
    phone: str | None = None
    email: str | None = None
    address: str | None = None
    language: str = "en"
    preferred_channel: ContactChannel = ContactChannel.PHONE


@dataclass
class Intake:
    category: str
    brand: str
    model: str
    fault_symptoms: str
    signer_name: str
    signature_data_url: str
    customer_id: int | None = None
    new_customer: NewCustomer | None = None
    imei: str | None = None
    serial_number: str | None = None
    customer_requirements: str | None = None
    condition_checks: list[str] = field(default_factory=list)
    condition_notes: str | None = None
    accessories: str | None = None
    passcode: str | None = None
    photos: list[tuple[bytes, str]] = field(default_factory=list)


def _open_order(
    store: Store,
    number: str,
    customer: Customer,
    device: Device,
    user: StaffUser,
    standard: EffectiveStandard,
    now: datetime,
    **fields,
) -> RepairOrder:
    """A new order in "received", its targets taken from the standard in force (HB §2.1.2(1)):
    diagnosis due after `diagnosis_hours`, promised after the category's turnaround."""
    turnaround = standard.document.service_targets.turnaround_days.get(device.category)
    order = RepairOrder(
        store=store,
        number=number,
        customer=customer,
        device=device,
        received_by_id=user.id,
        standard_version_id=standard.version_id,
        received_at=now,
        status_changed_at=now,
        diagnosis_due_at=now + timedelta(hours=standard.target("diagnosis_hours")),
        promised_at=now + timedelta(days=turnaround) if turnaround else None,
        **fields,
    )
    db.session.add(order)
    record_first_event(order, user, now)
    return order


def category_codes(standard: EffectiveStandard) -> list[str]:
    return [category.code for category in standard.document.device_categories]


def repair_types(standard: EffectiveStandard, category: str) -> list[str]:
    return [
        rule.repair_type for rule in standard.document.service_targets.warranty if rule.category == category
    ]


def receive_order(
    store: Store, user: StaffUser, intake: Intake, *, now: datetime | None = None
) -> RepairOrder:
    """Register a device brought in for repair: customer, device, order, photos, signed terms."""

    now = now or utcnow()
    if not roles_at(user, store.id) & DESK:
        raise Refused(_("Your role at this store does not allow receiving devices."))
    standard = effective_for_store(store, now.date())
    if intake.category not in category_codes(standard):
        raise DomainError(_("Choose a device category of the standards in force."), field="category")
    if not intake.fault_symptoms.strip():
        raise DomainError(_("Describe the fault as the customer tells it."), field="fault_symptoms")
    imei = check_imei(intake.imei)
    png = signature_png(intake.signature_data_url)
    if not intake.signer_name.strip():
        raise DomainError(_("Enter the name of the person signing."), field="signer_name")

    number = next_order_number(store)  # before any new object, so autoflush finds none half-built
    if intake.customer_id is not None:
        # FOR KEY SHARE: a merge deleting this customer (dataquality) waits for the order, or the
        # order for the merge, which then reads "not found" instead of failing on the foreign key.
        customer = db.session.get(Customer, intake.customer_id, with_for_update={"key_share": True})
        visible = Grants.of(user).stores_for("Customer", Action.VIEW)
        if customer is None or (visible is not None and customer.store_id not in visible):
            raise NotFound(_("That customer was not found."))
    elif intake.new_customer is not None and intake.new_customer.full_name.strip():
        details = intake.new_customer
        if not (details.phone or details.email):
            raise DomainError(_("Give the customer's phone number or e-mail address."), field="phone")
        customer = Customer(
            store=store,
            full_name=details.full_name.strip(),
            phone=details.phone,
            email=details.email,
            address=details.address,
            language=details.language,
            preferred_channel=details.preferred_channel,
        )
        db.session.add(customer)
    else:
        raise DomainError(_("Choose a customer or enter a new one."), field="customer")

    device = Device(
        store=store,
        customer=customer,
        category=intake.category,
        brand=intake.brand.strip(),
        model=intake.model.strip(),
        imei=imei,
        serial_number=(intake.serial_number or "").strip() or None,
        condition_checks=list(intake.condition_checks),
        condition_at_intake=intake.condition_notes,
        accessories=intake.accessories,
        passcode=intake.passcode or None,
    )
    db.session.add(device)
    order = _open_order(
        store,
        number,
        customer,
        device,
        user,
        standard,
        now,
        fault_symptoms=intake.fault_symptoms.strip(),
        customer_requirements=intake.customer_requirements,
    )
    db.session.flush()
    _store_signature(order, SignaturePurpose.INTAKE_TERMS, png, intake.signer_name.strip())
    for data, filename in intake.photos:
        add_photo(order, PhotoStage.INTAKE, data, filename, user)
    db.session.flush()
    return order


# --- diagnosis (HB §2.1.2(2)) -------------------------------------------------------------------------


def start_diagnosis(order: RepairOrder, user: StaffUser, *, expected_version: int | None = None) -> None:
    _take(order, user)
    if order.technician_id is not None and order.technician is not None:
        require_qualified(order.technician, order)
    transition(order, S.DIAGNOSING, user, expected_version=expected_version)


def record_diagnosis(
    order: RepairOrder,
    user: StaffUser,
    *,
    cause: str,
    plan: str,
    repair_type: str,
    minutes: int,
    today: date,
    expected_version: int | None = None,
) -> None:

    check_version(order, expected_version)
    if order.status is not S.DIAGNOSING:
        raise Refused(_("The diagnosis is recorded while the order is being diagnosed."))
    if not roles_at(user, order.store_id) & BENCH:
        raise Refused(_("Only technicians and managers record a diagnosis."))
    if not cause.strip() or not plan.strip():
        raise DomainError(_("Describe the cause and the repair plan."), field="diagnosis")
    if repair_type not in repair_types(effective_for_store(order.store, today), order.device.category):
        raise DomainError(_("Choose a repair type of the standards in force."), field="repair_type")
    if not 0 < minutes <= 24 * 60:
        raise DomainError(_("Diagnosis time must be between 1 and 1440 minutes."), field="minutes")
    order.diagnosis, order.repair_plan, order.repair_type = cause.strip(), plan.strip(), repair_type
    order.diagnosis_minutes = minutes
    order.diagnosed_at = utcnow()
    db.session.flush()


# --- quotes (HB §2.1.2(3)) ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LineInput:
    kind: QuoteLineKind
    description: str
    quantity: int
    unit_price: Decimal
    tax_rate: Decimal = Decimal(0)  # percent
    part_id: int | None = None


def _cents(amount: Decimal) -> int:
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def line_amounts(line: LineInput) -> tuple[int, int]:
    """(net, tax) in cents; tax rounded half-up per line, as on the printed quote."""
    if line.quantity <= 0:
        raise DomainError(_("Quantities must be at least 1."), field="quantity")
    if line.unit_price < 0:
        raise DomainError(_("Prices cannot be negative."), field="unit_price")
    if not Decimal(0) <= line.tax_rate <= Decimal(100):
        raise DomainError(_("Tax rates are between 0 and 100 %."), field="tax_rate")
    net = line.quantity * _cents(line.unit_price)
    tax = int((Decimal(net) * line.tax_rate / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return net, tax


def current_quote(order: RepairOrder) -> Quote | None:
    return order.quotes[-1] if order.quotes else None


def approved_quote(order: RepairOrder) -> Quote | None:
    return next((q for q in reversed(order.quotes) if q.status is QuoteStatus.APPROVED), None)


def save_quote(
    order: RepairOrder, user: StaffUser, lines: Iterable[LineInput], *, expected_version: int | None = None
) -> Quote:
    """Write the draft revision of the quote (a new revision once the last one was sent)."""

    check_version(order, expected_version)
    if order.status not in {S.DIAGNOSING, S.QUOTED, S.IN_REPAIR}:
        raise Refused(_("A quote is prepared after the diagnosis and before the quality check."))
    if not roles_at(user, order.store_id) & BENCH:
        raise Refused(_("Only technicians and managers prepare quotes."))
    lines = list(lines)
    if not lines and not order.is_rework:
        raise DomainError(_("A quote needs at least one line."), field="lines")
    quote = current_quote(order)
    if quote is None or quote.status is not QuoteStatus.DRAFT:
        # Appended once: passing order= as well would add it to order.quotes a second time (backref).
        quote = Quote(store_id=order.store_id, revision=len(order.quotes) + 1, created_by_id=user.id)
        order.quotes.append(quote)
    quote.lines.clear()
    db.session.flush()
    subtotal = tax_total = 0
    for position, line in enumerate(lines, start=1):
        if not line.description.strip():
            raise DomainError(_("Every line needs a description."), field="description")
        if line.part_id is not None and db.session.get(Part, line.part_id) is None:
            raise DomainError(_("That part is not in the catalogue."), field="part")
        net, tax = line_amounts(line)
        subtotal, tax_total = subtotal + net, tax_total + tax
        quote.lines.append(
            QuoteLine(
                store_id=order.store_id,
                position=position,
                kind=line.kind,
                part_id=line.part_id,
                description=line.description.strip()[:300],
                quantity=line.quantity,
                unit_price_cents=_cents(line.unit_price),
                tax_rate_bp=int(line.tax_rate * 100),
                total_cents=net + tax,
            )
        )
    quote.subtotal_cents, quote.tax_cents, quote.total_cents = subtotal, tax_total, subtotal + tax_total
    db.session.flush()
    return quote


def send_quote(
    order: RepairOrder, user: StaffUser, *, today: date, expected_version: int | None = None
) -> Quote:
    """Send the draft to the customer, or settle it without them when it costs nothing more.

    * From diagnosis: the order becomes "quoted" and the customer gets the approval link. A
      warranty rework quoted at zero is approved at once (HB §2.1.2(6)).
    * During the repair: a revision above the approved total sends the order back to "quoted"
      for approval; one at or below it stands on the approval already given.
    * While quoted: the new revision replaces the one the customer has not answered yet.
    """

    check_version(order, expected_version)
    if not roles_at(user, order.store_id) & BENCH:
        raise Refused(_("Only technicians and managers prepare quotes."))
    quote = current_quote(order)
    if quote is None or quote.status is not QuoteStatus.DRAFT:
        raise Refused(_("There is no draft quote to send."))
    standard = effective_for_store(order.store, today)
    now = utcnow()
    quote.sent_at = now
    quote.valid_until = today + timedelta(days=int(standard.target("quote_validity_days")))
    for earlier in order.quotes[:-1]:
        if earlier.status is QuoteStatus.SENT:
            earlier.status = QuoteStatus.SUPERSEDED
    previous = approved_quote(order)
    if order.status is S.DIAGNOSING and order.is_rework and quote.total_cents == 0:
        _settle(quote, DecisionMethod.WARRANTY, user)
        order.amount_due_cents = 0
        transition(order, S.APPROVED, user, reason=_("Warranty rework at no charge"))
        return quote
    if order.status is S.IN_REPAIR:
        if previous is not None and quote.total_cents <= previous.total_cents:
            _settle(quote, DecisionMethod.WITHIN_APPROVAL, user)
            previous.status = QuoteStatus.SUPERSEDED
            order.amount_due_cents = quote.total_cents
            db.session.flush()
            return quote
        quote.status = QuoteStatus.SENT
        transition(
            order,
            S.QUOTED,
            user,
            reason=_("The price rose; the customer must approve again."),
            details={
                "previous_total_cents": previous.total_cents if previous else None,
                "new_total_cents": quote.total_cents,
            },
        )
        return quote
    quote.status = QuoteStatus.SENT
    if order.status is S.QUOTED:  # a revision before the customer answered
        db.session.flush()
        notify_customer_after_commit(order, None)
        return quote
    transition(order, S.QUOTED, user)
    return quote


def _settle(quote: Quote, method: DecisionMethod, user: StaffUser | None, name: str | None = None) -> None:
    quote.status = QuoteStatus.APPROVED
    quote.decided_at = utcnow()
    quote.decision_method = method
    quote.decided_by_name = name
    quote.recorded_by_id = user.id if user is not None else None


def decide_quote(
    order: RepairOrder,
    mover: Mover,
    *,
    revision: int,
    approve: bool,
    method: DecisionMethod,
    signer_name: str,
    today: date,
    signature_data_url: str | None = None,
    reason: str | None = None,
) -> Quote:
    """Record the customer's answer to quote `revision`, in the store or from the tracking page.

    The revision must be the one still awaiting an answer: a second submission of the same
    answer (a replayed link or a double click) is refused, naming when it was answered.
    """
    quote = next((q for q in order.quotes if q.revision == revision), None)
    if quote is None:
        raise NotFound(_("That quote does not exist."))
    if quote.status is not QuoteStatus.SENT:
        if quote.decided_at is not None:
            raise Refused(
                _(
                    "This quote was already answered on %(date)s (%(status)s).",
                    date=format_date(quote.decided_at, "long"),
                    status=quote.status.label,
                )
            )
        raise Refused(_("This quote was replaced by a newer one; open the latest link."))
    if quote.valid_until is not None and today > quote.valid_until:
        raise Refused(
            _(
                "This quote expired on %(date)s. Ask the store for a new one.",
                date=format_date(quote.valid_until, "long"),
            )
        )
    if not signer_name.strip():
        raise DomainError(_("Enter the name of the person deciding."), field="signer_name")
    staff = mover if isinstance(mover, StaffUser) else None
    if approve:
        if signature_data_url:
            _store_signature(
                order, SignaturePurpose.QUOTE_APPROVAL, signature_png(signature_data_url), signer_name.strip()
            )
        _settle(quote, method, staff, signer_name.strip())
        for earlier in order.quotes:
            if earlier is not quote and earlier.status is QuoteStatus.APPROVED:
                earlier.status = QuoteStatus.SUPERSEDED
        order.amount_due_cents = quote.total_cents
        transition(order, S.APPROVED, mover, reason=reason)
    else:
        quote.status = QuoteStatus.DECLINED
        quote.decided_at = utcnow()
        quote.decision_method = method
        quote.decided_by_name = signer_name.strip()
        quote.recorded_by_id = staff.id if staff else None
        quote.decline_reason = (reason or "").strip() or None
        transition(order, S.DECLINED, mover, reason=quote.decline_reason)
    return quote


# --- repair (HB §2.1.2(4)) ------------------------------------------------------------------------------


def start_repair(order: RepairOrder, user: StaffUser, *, expected_version: int | None = None) -> None:
    _take(order, user)
    if order.technician is not None:
        require_qualified(order.technician, order)
    transition(order, S.IN_REPAIR, user, expected_version=expected_version)


def _require_bench(order: RepairOrder, user: StaffUser) -> None:

    if order.status is not S.IN_REPAIR:
        raise Refused(_("Work is logged while the order is in repair."))
    roles = roles_at(user, order.store_id)
    if user.id != order.technician_id and not roles & MANAGE:
        raise Refused(_("Only the assigned technician or a manager logs work on this order."))


def log_work(
    order: RepairOrder,
    user: StaffUser,
    *,
    step: str,
    minutes: int,
    equipment: str | None = None,
    equipment_ids: Iterable[int] = (),
) -> WorkLog:
    """A step of the repair, with the register's items used (`equipment_ids`) and/or a free
    text. An item of another store, not in service or overdue for calibration is refused,
    naming it and the date it fell due; nothing is saved (HB §5.1.3(2))."""
    _require_bench(order, user)
    if not step.strip():
        raise DomainError(_("Describe the step."), field="step")
    if not 0 < minutes <= 24 * 60:
        raise DomainError(_("Minutes must be between 1 and 1440."), field="minutes")
    items = _equipment_for_work_log(order, equipment_ids)
    log = WorkLog(
        store_id=order.store_id,
        order_id=order.id,
        technician_id=user.id,
        step=step.strip(),
        minutes=minutes,
        equipment=(equipment or "").strip() or None,
        equipment_items=items,
    )
    db.session.add(log)
    db.session.flush()
    return log


def _equipment_for_work_log(order: RepairOrder, item_ids: Iterable[int]) -> list:
    """The register's items named by id, checked by `equipment.services.check_usable`.

    The rows are locked (FOR UPDATE on PostgreSQL). That alone does not keep an item from being
    retired while the log is saved: it does because the retirement steps lock the same row
    before they look for open orders using the item (`equipment.services._lock`), so one of the
    two waits for the other and then refuses. A calibration recorded at the same moment updates
    the row, so it waits for the log's commit; the log keeps the item it checked in service."""
    from repairqc.equipment.models import EquipmentItem
    from repairqc.equipment.services import check_usable

    wanted = list(dict.fromkeys(item_ids))
    if not wanted:
        return []
    found = {
        item.id: item
        for item in db.session.execute(
            sa.select(EquipmentItem)
            .where(EquipmentItem.id.in_(wanted))
            .with_for_update()
            # Rows this session loaded before waiting on the lock are refreshed, so a
            # retirement committed meanwhile is seen (the identity map would keep the old status).
            .execution_options(populate_existing=True)
        ).scalars()
    }
    if len(found) != len(wanted):
        raise DomainError(_("That item is not in the equipment register."), field="equipment_items")
    items = [found[item_id] for item_id in wanted]
    check_usable(items, order.store_id, utcnow().date())
    return items


class OutOfStock(Refused):
    pass


def consume_part(
    order: RepairOrder, user: StaffUser, *, part_id: int, quantity: int, hold_if_short: bool = False
) -> StockMovement | None:
    """Take parts for the repair out of the store's stock, or put the order on hold for them.

    The decrement is one conditional UPDATE, so two technicians taking the last part at the same
    time cannot both succeed, and the stock never goes below zero.
    """
    _require_bench(order, user)
    if quantity <= 0:
        raise DomainError(_("Quantities must be at least 1."), field="quantity")
    part = db.session.get(Part, part_id)
    if part is None or not part.is_active:
        raise DomainError(_("That part is not in the catalogue."), field="part")
    taken = db.session.execute(
        sa.update(StockLevel)
        .where(
            StockLevel.store_id == order.store_id,
            StockLevel.part_id == part_id,
            StockLevel.quantity >= quantity,
        )
        .values(quantity=StockLevel.quantity - quantity, version=StockLevel.version + 1, updated_at=utcnow())
        .returning(StockLevel.quantity),
        execution_options={"synchronize_session": False},
    ).scalar_one_or_none()
    if taken is None:
        on_hand = (
            db.session.scalar(
                sa.select(StockLevel.quantity).where(
                    StockLevel.store_id == order.store_id, StockLevel.part_id == part_id
                )
            )
            or 0
        )
        if hold_if_short:
            order.hold = OrderHold.WAITING_FOR_PARTS
            order.hold_note = _(
                "%(part)s: %(wanted)d needed, %(on_hand)d in stock",
                part=str(part),
                wanted=quantity,
                on_hand=on_hand,
            )
            db.session.flush()
            return None
        raise OutOfStock(
            _(
                "Only %(on_hand)d of %(part)s in stock; %(wanted)d needed. "
                "Order the part or put the repair on hold.",
                on_hand=on_hand,
                part=str(part),
                wanted=quantity,
            )
        )
    movement = StockMovement(
        store_id=order.store_id,
        part_id=part_id,
        order_id=order.id,
        change=-quantity,
        reason=StockReason.CONSUMPTION,
        actor_id=user.id,
    )
    db.session.add(movement)
    db.session.flush()
    return movement


def receive_stock(
    store: Store, user: StaffUser, *, part_id: int, quantity: int, note: str | None = None
) -> StockLevel:
    """Parts delivered to a store (creates its stock line on the first delivery)."""

    if not roles_at(user, store.id) & MANAGE:
        raise Refused(_("Only the store manager receives stock."))
    if quantity <= 0:
        raise DomainError(_("Quantities must be at least 1."), field="quantity")
    level = db.session.execute(
        sa.select(StockLevel)
        .where(StockLevel.store_id == store.id, StockLevel.part_id == part_id)
        .with_for_update()
    ).scalar()
    if level is None:
        level = StockLevel(store_id=store.id, part_id=part_id, quantity=0)
        db.session.add(level)
    level.quantity += quantity
    db.session.add(
        StockMovement(
            store_id=store.id,
            part_id=part_id,
            change=quantity,
            reason=StockReason.RECEIPT,
            actor_id=user.id,
            note=note,
        )
    )
    db.session.flush()
    return level


def set_hold(
    order: RepairOrder,
    user: StaffUser,
    hold: OrderHold | None,
    note: str | None = None,
    *,
    expected_version: int | None = None,
) -> None:

    check_version(order, expected_version)
    if not order.status.is_open:
        raise Refused(_("Only open orders can be put on hold."))
    if not roles_at(user, order.store_id) & (BENCH | DESK):
        raise Refused(_("Your role at this store does not allow this."))
    order.hold = hold
    order.hold_note = ((note or "").strip() or None) if hold else None
    db.session.flush()


# --- QC (HB §5.1.3(5), §5.2.2) ------------------------------------------------------------------------


def send_to_qc(order: RepairOrder, user: StaffUser, *, expected_version: int | None = None) -> None:
    transition(order, S.QC, user, expected_version=expected_version)


def repaired_by(order: RepairOrder) -> set[int]:
    """Everyone who worked on the repair: the assigned technician, whoever logged work on it or
    took parts for it. None of them may check it (HB §5.1.3(5) separation of duties), whatever
    the assignment is by the time of the check."""
    people = {order.technician_id} if order.technician_id is not None else set()
    people |= set(db.session.scalars(sa.select(WorkLog.technician_id).where(WorkLog.order_id == order.id)))
    people |= set(
        db.session.scalars(
            sa.select(StockMovement.actor_id).where(
                StockMovement.order_id == order.id, StockMovement.actor_id.is_not(None)
            )
        )
    )
    return people


def _qc_refusal(order: RepairOrder, user: StaffUser) -> DomainError | None:
    """The error `begin_qc_check` raises for the first reason `user` may not begin it, or None."""
    if order.status is not S.QC:
        return DomainError(_("Only a repair waiting for its quality check can be checked."))
    if user.id in repaired_by(order):  # HB §5.1.3(5)
        return DomainError(
            _("The technician who repaired the device cannot check it; a colleague must check it.")
        )
    if not roles_at(user, order.store_id) & QC_ROLES:
        return Refused(_("Your role at this store does not allow quality checks."))
    under_way = open_qc_check(order)
    if under_way is not None:  # one check at a time per order
        return Refused(
            _(
                "%(name)s has already begun a quality check of this order; only they can finish it.",
                name=under_way.inspector.full_name,
            )
        )
    return None


def qc_refusal(order: RepairOrder, user: StaffUser) -> str | None:
    """Why `user` may not begin the QC check of `order` now (the first reason), or None if they may.

    The one statement of the rule: the QC screen shows it before anyone presses "Begin", and
    `begin_qc_check` raises it.
    """
    refusal = _qc_refusal(order, user)
    return None if refusal is None else refusal.message


def begin_qc_check(order: RepairOrder, inspector: StaffUser, *, today: date) -> QCCheck:
    """Start the QC check of `order` with the checklist of the version in force `today`.

    The check copies the items of that version's checklist for the device's category and keeps
    the version's id, so publishing a new version, even one taking effect tomorrow, never
    changes a check already begun (HB §5.1.3(5), §5.2.2).
    """
    refusal = _qc_refusal(order, inspector)
    if refusal is not None:
        raise refusal
    standard = effective_for_store(order.store, today)
    category = order.device.category
    checklist = standard.document.checklist_for(category)
    if checklist is None:
        raise DomainError(
            _(
                "Standards version %(n)s has no QC checklist for %(category)s.",
                n=standard.version_number,
                category=category,
            )
        )
    check = QCCheck(
        store_id=order.store_id,
        repair_order=order,
        standard_version_id=standard.version_id,
        category=category,
        inspector_id=inspector.id,
    )
    for position, item in enumerate(checklist.items, start=1):
        check.results.append(
            QCCheckResult(
                store_id=order.store_id,
                position=position,
                item_code=item.code,
                item_text=item.text.model_dump(),
                kind=item.kind,
                critical=item.critical,
                unit=item.unit,
                min_value=item.min,
                max_value=item.max,
            )
        )
    db.session.add(check)
    db.session.flush()
    return check


def open_qc_check(order: RepairOrder) -> QCCheck | None:
    return db.session.execute(
        sa.select(QCCheck)
        .where(QCCheck.repair_order_id == order.id, QCCheck.status == QCCheckStatus.IN_PROGRESS)
        .order_by(QCCheck.id.desc())
    ).scalar()


@dataclass(frozen=True)
class ResultInput:
    passed: bool | None = None
    measured_value: float | None = None
    note: str | None = None


def _require_inspector(check: QCCheck, user: StaffUser) -> None:
    if check.status is not QCCheckStatus.IN_PROGRESS:
        raise Refused(_("This quality check is finished."))
    if check.inspector_id != user.id:
        raise Refused(_("Only the person who began this quality check records it."))


def record_qc_results(check: QCCheck, user: StaffUser, answers: dict[str, ResultInput]) -> None:
    """Store the inspector's answers; a measured item passes when it is within its limits."""
    _require_inspector(check, user)
    for result in check.results:
        answer = answers.get(result.item_code)
        if answer is None:
            continue
        result.note = (answer.note or "").strip() or None
        if result.kind == "measured":
            result.measured_value = answer.measured_value
            result.passed = (
                None if answer.measured_value is None else within_limits(result, answer.measured_value)
            )
        elif result.kind == "pass_fail":
            result.passed = answer.passed
        elif result.kind == "note":
            result.passed = True if result.note else None
    db.session.flush()


def within_limits(result: QCCheckResult, value: float) -> bool:
    return (result.min_value is None or value >= result.min_value) and (
        result.max_value is None or value <= result.max_value
    )


def _photo_count(result: QCCheckResult) -> int:
    return db.session.scalar(sa.select(sa.func.count()).where(OrderPhoto.qc_result_id == result.id)) or 0


def finish_qc_check(check: QCCheck, user: StaffUser, *, expected_version: int | None = None) -> QCCheck:
    """Decide the check: every critical item must pass (HB §5.1.3(5)).

    Passed → the order is ready for pick-up. Failed → back to the bench, the failed items being
    the reason. Failed non-critical items are recorded and reported but do not hold a device back.
    """
    _require_inspector(check, user)
    order = check.repair_order
    for result in check.results:
        if result.kind == "photo":
            result.passed = _photo_count(result) > 0 or None
    unanswered = [r for r in check.results if r.passed is None and (r.critical or r.kind != "note")]
    if unanswered:
        raise DomainError(
            _("Answer every item first: %(items)s.", items=", ".join(_item_text(r) for r in unanswered)),
            field="results",
        )
    failed = [r for r in check.results if r.passed is False]
    critical_failed = [r for r in failed if r.critical]
    check.finished_at = utcnow()
    details = {"qc_check_id": check.id, "failed_items": [r.item_code for r in failed]}
    if critical_failed:
        check.status = QCCheckStatus.FAILED
        reason = _("Failed quality check: %(items)s", items="; ".join(_item_text(r) for r in failed))
        transition(
            order, S.IN_REPAIR, user, reason=reason, details=details, expected_version=expected_version
        )
    else:
        check.status = QCCheckStatus.PASSED
        reason = (
            _("Passed; noted: %(items)s", items="; ".join(_item_text(r) for r in failed)) if failed else None
        )
        transition(order, S.READY, user, reason=reason, details=details, expected_version=expected_version)
    return check


def _item_text(result: QCCheckResult) -> str:
    from repairqc.standards.catalog import in_current_language

    return in_current_language(result.item_text.get("en"), result.item_text.get("zh")) or result.item_code


# --- acceptance, delivery, closing (HB §2.1.2(5)) -------------------------------------------------------


def record_payment(
    order: RepairOrder,
    user: StaffUser,
    *,
    amount: Decimal,
    method: PaymentMethod,
    reference: str | None = None,
) -> Payment:

    if order.status is not S.READY:
        raise Refused(_("Payments are taken when the device is ready for pick-up."))
    if not roles_at(user, order.store_id) & DESK:
        raise Refused(_("Only the front desk and managers take payments."))
    cents = _cents(amount)
    if cents <= 0:
        raise DomainError(_("Enter an amount above zero."), field="amount")
    if amount_paid(order) + cents > order.amount_due_cents:
        raise DomainError(_("That is more than the amount still due."), field="amount")
    payment = Payment(
        store_id=order.store_id,
        order_id=order.id,
        amount_cents=cents,
        method=method,
        reference=(reference or "").strip() or None,
        received_by_id=user.id,
    )
    db.session.add(payment)
    db.session.flush()
    return payment


def deliver(
    order: RepairOrder,
    user: StaffUser,
    *,
    signer_name: str,
    signature_data_url: str,
    confirmed_fixed: bool,
    today: date,
    expected_version: int | None = None,
) -> None:
    """Hand the device back: the customer confirms and signs, the warranty starts (HB §2.1.2(5)-(6))."""

    check_version(order, expected_version)
    if order.status is not S.READY:
        raise Refused(_("Only a device ready for pick-up can be delivered."))
    if not confirmed_fixed:
        raise DomainError(_("The customer must confirm that the fault is solved."), field="confirmed_fixed")
    if not signer_name.strip():
        raise DomainError(_("Enter the name of the person signing."), field="signer_name")
    png = signature_png(signature_data_url)
    order.customer_confirmed_fixed = True
    _store_signature(order, SignaturePurpose.ACCEPTANCE, png, signer_name.strip())
    db.session.flush()
    days = warranty_days(order, today)
    order.warranty_days = days
    order.warranty_until = today + timedelta(days=days) if days else None
    order.delivered_at = utcnow()
    transition(order, S.DELIVERED, user)
    from repairqc.feedback.services import schedule_after_delivery  # issue #8: HB §6.2.2, §6.3

    schedule_after_delivery(order, today=today)  # the follow-ups and the satisfaction survey


def warranty_days(order: RepairOrder, today: date) -> int:
    """The standard's warranty for the order's category and repair type (0 if it sets none)."""
    standard = effective_for_store(order.store, today)
    rule = next(
        (
            r
            for r in standard.document.service_targets.warranty
            if r.category == order.device.category and r.repair_type == order.repair_type
        ),
        None,
    )
    return rule.days if rule else 0


def close_order(order: RepairOrder, user: StaffUser, *, expected_version: int | None = None) -> None:
    transition(order, S.CLOSED, user, expected_version=expected_version)


def cancel_order(
    order: RepairOrder, user: StaffUser, *, reason: str, expected_version: int | None = None
) -> None:
    transition(order, S.CANCELLED, user, reason=reason, expected_version=expected_version)


# --- warranty (HB §2.1.2(6)) ----------------------------------------------------------------------------


def claim_warranty(order: RepairOrder, user: StaffUser, *, symptoms: str, today: date) -> RepairOrder:
    """Open a rework order for a delivered repair still under warranty; refuse it once expired."""

    if order.status not in {S.DELIVERED, S.CLOSED} or order.delivered_at is None:
        raise Refused(_("Only delivered repairs have a warranty."))
    if not roles_at(user, order.store_id) & DESK:
        raise Refused(_("Your role at this store does not allow receiving devices."))
    if order.warranty_until is None or today > order.warranty_until:
        ended = order.warranty_until or order.delivered_at.date()
        raise Refused(
            _(
                "The warranty of %(number)s ended on %(date)s.",
                number=order.number,
                date=format_date(ended, "long"),
            )
        )
    if not symptoms.strip():
        raise DomainError(_("Describe the fault as the customer tells it."), field="fault_symptoms")
    now = utcnow()
    standard = effective_for_store(order.store, today)
    rework = _open_order(
        order.store,
        next_order_number(order.store),
        order.customer,
        order.device,
        user,
        standard,
        now,
        fault_symptoms=symptoms.strip(),
        rework_of_id=order.id,
        customer_requirements=_("Warranty claim on %(number)s", number=order.number),
    )
    db.session.flush()
    return rework


# --- passcodes ------------------------------------------------------------------------------------------


def passcode_for(order: RepairOrder, user: StaffUser) -> str | None:
    """The device's passcode, for its assigned technician only (HB §6.1.2)."""
    if order.technician_id != user.id:
        raise Refused(_("Only the assigned technician sees the passcode."))
    return order.device.passcode


# --- the customer's tracking link --------------------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="repairqc-order-tracking")


def tracking_token(order: RepairOrder) -> str:
    """A signed, expiring token naming the tenant, the order and its tracking key."""
    return _serializer().dumps({"t": current_tenant().id, "o": order.id, "n": order.tracking_nonce})


class LinkExpired(DomainError):
    status_code = 410


def order_for_token(token: str) -> RepairOrder:
    """The order a tracking token names; refused when forged, revoked, expired or another tenant's."""
    try:
        payload = _serializer().loads(token, max_age=current_app.config["TRACKING_LINK_MAX_AGE"])
    except SignatureExpired:
        raise LinkExpired(_("This tracking link has expired. Ask the store to send you a new one.")) from None
    except BadSignature:
        raise NotFound(_("This tracking link is not valid.")) from None
    if not isinstance(payload, dict) or payload.get("t") != current_tenant().id:
        raise NotFound(_("This tracking link is not valid."))
    order = db.session.get(RepairOrder, payload.get("o")) if isinstance(payload.get("o"), int) else None
    if order is None or order.tracking_nonce != payload.get("n"):
        raise NotFound(_("This tracking link is not valid."))
    return order
