"""The rules of complaints (HB §9.3): opening one on any channel, the first-contact clock, the
contact log, resolution, the customer's confirmation, closure and reopening.

Every status changes in `_move`, which writes the `ComplaintEvent` (who, when, from, to, note);
the functions around it check who may act, what the move needs and the version the page
showed (409 when stale). Views and jobs call them inside one unit of work; nothing here commits.

Who acts (design.md §3, the matrix in accounts/permissions.py): at the complaint's store, the
front desk, the store manager, and HQ's QA managers and owners. Passing a complaint on, refunds,
replacements and closing without the customer's link are for the manager, QA or the owner.

Customer messages go through `notifications.services` in the customer's language, once per
event: the receipt (number and deadline) and each resolution (with the confirmation link).
A complainant without a customer profile gets one, as at intake (HB §6.2.2: a profile for
every customer, where every message and contact is kept).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from babel import dates as babel_dates
from flask import current_app
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import joinedload

from repairqc.accounts.models import Role, RoleAssignment, StaffUser
from repairqc.accounts.permissions import roles_at
from repairqc.complaints.models import (
    DESCRIPTION_MAX,
    EMAIL_MAX,
    NAME_MAX,
    NOTE_MAX,
    PHONE_MAX,
    Closure,
    Complaint,
    ComplaintCategory,
    ComplaintChannel,
    ComplaintContact,
    ComplaintEvent,
    ComplaintStatus,
    ContactMethod,
    EventKind,
    ResolutionOutcome,
    complaint_number_counters,
)
from repairqc.db import current_tenant, db, utcnow
from repairqc.errors import Conflict, DomainError, NotFound
from repairqc.i18n import normalise_locale
from repairqc.models_base import check_version
from repairqc.repairs.models import ContactChannel, Customer, RepairOrder
from repairqc.standards.services import document_in_force, effective_for_store
from repairqc.stores.models import Store

#: Handle complaints at their store: log contacts, resolve, reopen.
HANDLERS = frozenset({Role.OWNER, Role.QA_MANAGER, Role.STORE_MANAGER, Role.FRONT_DESK})
#: Also pass complaints on, grant refunds and replacements, close without the customer's link.
MANAGERS = frozenset({Role.OWNER, Role.QA_MANAGER, Role.STORE_MANAGER})
#: A resolved complaint the customer has not confirmed may be closed without them after this.
UNCONFIRMED_CLOSE_AFTER_DAYS = 7
#: The customer's confirmation link is valid this long after the resolution.
CONFIRMATION_LINK_DAYS = 14
#: Used when no standard is in force (only before a tenant's first standard).
DEFAULT_FIRST_CONTACT_HOURS = 24
DEFAULT_WARNING_HOURS = 4
#: A refund above this (in minor units) is a typing mistake; it also keeps within a 32-bit column.
REFUND_MAX_CENTS = 999_999_999


class Refused(Conflict):
    """A move the complaint's state or the user's role does not allow (409)."""


# --- who may act ------------------------------------------------------------------------------------


def may_handle(user: StaffUser, complaint: Complaint) -> bool:
    return bool(roles_at(user, complaint.store_id) & HANDLERS)


def may_manage(user: StaffUser, complaint: Complaint) -> bool:
    return bool(roles_at(user, complaint.store_id) & MANAGERS)


def _require_handler(user: StaffUser, complaint: Complaint) -> None:
    if not may_handle(user, complaint):
        raise Refused(_("Your role at this store does not allow handling complaints."))


def _require_manager(user: StaffUser, complaint: Complaint) -> None:
    if not may_manage(user, complaint):
        raise Refused(_("Only the store's manager, QA or the owner may do this."))


def responsible_candidates(store: Store) -> list[StaffUser]:
    """Active staff who handle complaints at `store`: its managers and front desk (store roles)."""
    return list(
        db.session.execute(
            sa.select(StaffUser)
            .join(RoleAssignment, RoleAssignment.user_id == StaffUser.id)
            .where(
                RoleAssignment.store_id == store.id,
                RoleAssignment.role.in_([Role.STORE_MANAGER, Role.FRONT_DESK]),
                StaffUser.is_active.is_(True),
            )
            .order_by(StaffUser.full_name, StaffUser.id)
            .distinct()
        ).scalars()
    )


def store_managers(store_id: int) -> list[StaffUser]:
    return list(
        db.session.execute(
            sa.select(StaffUser)
            .join(RoleAssignment, RoleAssignment.user_id == StaffUser.id)
            .where(
                RoleAssignment.store_id == store_id,
                RoleAssignment.role == Role.STORE_MANAGER,
                StaffUser.is_active.is_(True),
            )
            .order_by(StaffUser.id)
            .distinct()
        ).scalars()
    )


# --- categories and the standard ----------------------------------------------------------------------


def category_by_code(code: str) -> ComplaintCategory | None:
    return db.session.execute(
        sa.select(ComplaintCategory).where(ComplaintCategory.code == code)
    ).scalar_one_or_none()


def active_categories() -> list[ComplaintCategory]:
    """The categories offered: the built-in ones first, then the provider's own by name."""
    return list(
        db.session.execute(
            sa.select(ComplaintCategory)
            .where(ComplaintCategory.is_active.is_(True))
            .order_by(ComplaintCategory.code.is_(None), ComplaintCategory.id)
        ).scalars()
    )


def first_contact_hours(store: Store, day: date) -> float:
    """HB §9.3.3: the standard's hours to the first contact, chain and store overrides applied."""
    try:
        return effective_for_store(store, day).target("complaint_first_contact_hours")
    except DomainError:  # no standard in force yet
        return DEFAULT_FIRST_CONTACT_HOURS


def warning_hours(day: date) -> int:
    document = document_in_force(day)
    return document.service_targets.complaint_warning_hours if document else DEFAULT_WARNING_HOURS


# --- numbers --------------------------------------------------------------------------------------------


def next_complaint_number(store: Store) -> str:
    """The store's next complaint number, e.g. "C-FF-N01-000012".

    One INSERT ... ON CONFLICT DO UPDATE ... RETURNING raises the store's counter: PostgreSQL
    locks the counter row until the transaction ends and SQLite has one writer, so two
    complaints never get the same number (a rolled-back one leaves a gap).
    """
    dialect = postgresql if db.backend == "postgresql" else sqlite
    table = complaint_number_counters
    statement = dialect.insert(table).values(store_id=store.id, last_number=1)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.store_id], set_={"last_number": table.c.last_number + 1}
    ).returning(table.c.last_number)
    number = db.session.execute(statement).scalar_one()
    return f"C-{store.code}-{number:06d}"


# --- opening a complaint --------------------------------------------------------------------------------


def _clean(value: str | None, limit: int, field: str, label: str) -> str | None:
    value = (value or "").strip()
    if len(value) > limit:
        raise DomainError(
            _("%(field)s is too long (at most %(max)s characters).", field=label, max=limit), field=field
        )
    return value or None


def _event(
    complaint: Complaint,
    kind: EventKind,
    old: ComplaintStatus | None,
    actor: StaffUser | None,
    note: str | None = None,
    at: datetime | None = None,
) -> None:
    complaint.events.append(
        ComplaintEvent(
            store_id=complaint.store_id,
            kind=kind,
            from_status=old,
            to_status=complaint.status,
            actor_id=actor.id if actor is not None else None,
            note=note,
            at=at or utcnow(),
        )
    )


def _move(
    complaint: Complaint,
    new: ComplaintStatus,
    kind: EventKind,
    actor: StaffUser | None,
    note: str | None = None,
    at: datetime | None = None,
) -> None:
    allowed = _MOVES[complaint.status]
    if new not in allowed:
        raise Refused(
            _("The complaint is “%(status)s”; it cannot become “%(new)s”.",
              status=complaint.status.label, new=new.label)
        )  # fmt: skip
    old, complaint.status = complaint.status, new
    _event(complaint, kind, old, actor, note, at)


_MOVES = {
    ComplaintStatus.RECEIVED: {ComplaintStatus.CONTACTED},
    ComplaintStatus.CONTACTED: {ComplaintStatus.RESOLVED},
    ComplaintStatus.RESOLVED: {ComplaintStatus.CLOSED, ComplaintStatus.CONTACTED},
    ComplaintStatus.CLOSED: {ComplaintStatus.CONTACTED},
}


def _profile_for(
    store: Store, name: str | None, phone: str | None, email: str | None, language: str
) -> Customer:
    """A customer profile for a complainant who has none yet (as the intake makes one)."""
    if not name:
        raise DomainError(_("Enter the complainant's name."), field="contact_name")
    if not phone and not email:
        raise DomainError(_("Enter a phone number or an e-mail address to reach the complainant."),
                          field="contact_phone")  # fmt: skip
    customer = Customer(
        store=store,
        full_name=name,
        phone=phone,
        email=email,
        language=language,
        preferred_channel=ContactChannel.EMAIL if email else ContactChannel.PHONE,
    )
    db.session.add(customer)
    return customer


def open_complaint(
    *,
    store: Store,
    channel: ComplaintChannel,
    description: str,
    category_code: str | None = None,
    customer: Customer | None = None,
    order: RepairOrder | None = None,
    survey_id: int | None = None,
    contact_name: str | None = None,
    contact_phone: str | None = None,
    contact_email: str | None = None,
    language: str | None = None,
    received_at: datetime | None = None,
    category: ComplaintCategory | None = None,
    actor: StaffUser | None = None,
    note: str | None = None,
) -> Complaint:
    """Record a complaint (HB §9.3.1) and start its first-contact clock (HB §9.3.3); flushes.

    The deadline is `received_at` plus the standard's `complaint_first_contact_hours` for the
    store (store and chain overrides apply); the store's manager is responsible until someone
    passes it on. An order must be of the same store; the customer defaults to the order's; a
    complainant without a profile gets one from the contact details (name and a phone number or
    e-mail address). The customer is sent the receipt with the number and the deadline.
    """
    if store is None or not store.is_active:
        raise DomainError(_("Choose an open store."), field="store")
    channel = ComplaintChannel(channel)
    text = _clean(description, DESCRIPTION_MAX, "description", _("The complaint"))
    if not text:
        raise DomainError(_("Describe the complaint."), field="description")
    contact_name = _clean(contact_name, NAME_MAX, "contact_name", _("The name"))
    contact_phone = _clean(contact_phone, PHONE_MAX, "contact_phone", _("The phone number"))
    contact_email = _clean(contact_email, EMAIL_MAX, "contact_email", _("The e-mail address"))
    if contact_email and "@" not in contact_email:
        raise DomainError(_("Enter a valid e-mail address."), field="contact_email")
    if order is not None:
        if order.store_id != store.id:
            raise DomainError(
                _("The order %(number)s is of another store.", number=order.number), field="order"
            )
        if customer is not None and order.customer_id != customer.id:
            raise DomainError(
                _("The order %(number)s is another customer's.", number=order.number), field="order"
            )
        customer = customer or order.customer
    elif customer is not None and customer.store_id != store.id:
        # A customer profile belongs to its store (HB §6.1.2): another store's staff would see
        # it through the complaint. Their order (of this store) is what ties them to it.
        raise DomainError(_("This customer is registered at another store."), field="customer")
    if category is None and category_code:
        category = category_by_code(category_code)
        if category is None:
            raise DomainError(_("Unknown complaint category."), field="category")
    if category is not None and not category.is_active:
        raise DomainError(
            _("The category “%(name)s” is no longer used.", name=category.label), field="category"
        )
    language = (
        normalise_locale(language) or (normalise_locale(customer.language) if customer else None) or "en"
    )
    if customer is None:
        customer = _profile_for(store, contact_name, contact_phone, contact_email, language)
    received = received_at or utcnow()
    hours = first_contact_hours(store, received.date())
    complaint = Complaint(
        store_id=store.id,
        store=store,
        number=next_complaint_number(store),
        channel=channel,
        category=category,
        description=text,
        customer=customer,
        order=order,
        survey_id=survey_id,
        contact_name=contact_name,
        contact_phone=contact_phone,
        contact_email=contact_email,
        language=language,
        responsible=default_responsible(store),
        status=ComplaintStatus.RECEIVED,
        received_at=received,
        first_contact_due_at=received + timedelta(hours=hours),
    )
    db.session.add(complaint)
    _event(complaint, EventKind.OPENED, None, actor, note, received)
    db.session.flush()
    _tell_receipt(complaint)
    return complaint


def default_responsible(store: Store) -> StaffUser | None:
    """The store's manager (the first by id when it has several), else nobody yet."""
    managers = store_managers(store.id)
    return managers[0] if managers else None


# --- the clock, in words --------------------------------------------------------------------------------


def store_zone(store: Store) -> ZoneInfo:
    try:
        return ZoneInfo(store.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return ZoneInfo("UTC")


def local_moment(moment: datetime, store: Store) -> str:
    """A moment in the store's time zone, to the minute, in the current locale."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local, locale = moment.astimezone(store_zone(store)), get_locale()
    day = babel_dates.format_date(local, "long", locale=locale)
    time = babel_dates.format_time(local, "short", locale=locale)
    return locale.datetime_formats["medium"].format(time, day)


def local_short(moment: datetime, store: Store) -> str:
    """A moment in the store's time zone, short (lists)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return babel_dates.format_datetime(moment, "short", tzinfo=store_zone(store), locale=get_locale())


def _span(delta: timedelta) -> str:
    minutes = max(int(delta.total_seconds() // 60), 0)
    if minutes >= 120:
        return ngettext("%(num)s hour", "%(num)s hours", minutes // 60)
    if minutes >= 60:
        return (
            ngettext("%(num)s hour", "%(num)s hours", 1)
            + " "
            + ngettext("%(num)s minute", "%(num)s minutes", minutes - 60)
        )
    return ngettext("%(num)s minute", "%(num)s minutes", minutes)


@dataclass(frozen=True)
class Deadline:
    text: str
    overdue: bool
    soon: bool


def describe_deadline(complaint: Complaint, now: datetime, warning: timedelta | None = None) -> Deadline:
    """ "5 hours left", "overdue by 3 hours", or how the first contact went (lists, the page).
    A list passes the `warning` horizon it read once (else one standard lookup per row)."""
    if complaint.first_contacted_at is not None:
        if complaint.first_contact_on_time:
            return Deadline(_("Contacted in time"), False, False)
        return Deadline(_("Contacted late"), True, False)
    left = complaint.first_contact_due_at - now
    if left.total_seconds() <= 0:
        return Deadline(_("overdue by %(time)s", time=_span(-left)), True, False)
    soon = left <= (warning if warning is not None else timedelta(hours=warning_hours(now.date())))
    return Deadline(_("%(time)s left", time=_span(left)), False, soon)


# --- the contact log --------------------------------------------------------------------------------------


def log_contact(
    complaint: Complaint,
    user: StaffUser,
    *,
    channel: ContactMethod,
    note: str,
    at: datetime | None = None,
    now: datetime | None = None,
    expected_version: int | None = None,
) -> ComplaintContact:
    """Record a contact with the complainant. The first one stops the clock: it stamps when and
    whether it was within the deadline, and the complaint becomes "contacted" (HB §9.3.3)."""
    check_version(complaint, expected_version)
    _require_handler(user, complaint)
    if complaint.status is ComplaintStatus.CLOSED:
        raise Refused(_("The complaint is closed; reopen it first."))
    text = _clean(note, NOTE_MAX, "note", _("The note"))
    if not text:
        raise DomainError(_("Write down what was said."), field="note")
    now = now or utcnow()
    at = at or now
    if at > now + timedelta(minutes=5):
        raise DomainError(_("The contact cannot be in the future."), field="at")
    if at < complaint.received_at:
        raise DomainError(_("The contact cannot be before the complaint was received."), field="at")
    contact = ComplaintContact(
        store_id=complaint.store_id, channel=ContactMethod(channel), by_id=user.id, note=text, at=at
    )
    complaint.contacts.append(contact)
    if complaint.first_contacted_at is None:
        complaint.first_contacted_at = at
        complaint.first_contact_on_time = at <= complaint.first_contact_due_at
        _move(complaint, ComplaintStatus.CONTACTED, EventKind.CONTACTED, user, text, at)
    else:
        complaint.updated_at = now  # a new version: a page showing the old log is stale
    db.session.flush()
    return contact


# --- resolution -------------------------------------------------------------------------------------------


def resolve(
    complaint: Complaint,
    user: StaffUser,
    *,
    resolution: str,
    outcome: ResolutionOutcome,
    rework_order: RepairOrder | None = None,
    warranty_rework: bool = False,
    refund_cents: int | None = None,
    now: datetime | None = None,
    expected_version: int | None = None,
) -> Complaint:
    """Record how the complaint was resolved and ask the customer to confirm it by link.

    A rework is either the warranty rework of the complaint's order (`repairs.services.
    claim_warranty`, whose own rules apply) or an existing order of the same customer; a refund
    records its amount in minor units.
    """
    check_version(complaint, expected_version)
    _require_handler(user, complaint)
    if complaint.status is not ComplaintStatus.CONTACTED:
        if complaint.status is ComplaintStatus.RECEIVED:
            raise Refused(_("Contact the customer before resolving the complaint."))
        raise Refused(
            _("The complaint is “%(status)s”; it cannot be resolved now.", status=complaint.status.label)
        )
    outcome = ResolutionOutcome(outcome)
    text = _clean(resolution, DESCRIPTION_MAX, "resolution", _("The resolution"))
    if not text:
        raise DomainError(_("Describe the resolution."), field="resolution")
    now = now or utcnow()
    # Every refusal comes before the first write (the warranty rework, last, writes its order).
    if outcome in (ResolutionOutcome.REFUND, ResolutionOutcome.REPLACEMENT):
        _require_manager(user, complaint)
    if outcome is ResolutionOutcome.REFUND:
        if refund_cents is None or refund_cents <= 0:
            raise DomainError(_("Enter the amount refunded."), field="refund")
        if refund_cents > REFUND_MAX_CENTS:
            raise DomainError(_("The amount refunded is too large."), field="refund")
    rework = None
    if outcome is ResolutionOutcome.REWORK:
        rework = _rework_order(complaint, user, rework_order, warranty_rework, text, now)
    complaint.rework_order = rework
    complaint.refund_cents = refund_cents if outcome is ResolutionOutcome.REFUND else None
    complaint.resolution = text
    complaint.outcome = outcome
    complaint.resolved_at = now
    complaint.closure = None
    complaint.closed_at = None
    complaint.confirm_nonce = secrets.token_hex(16)
    _move(complaint, ComplaintStatus.RESOLVED, EventKind.RESOLVED, user, text, now)
    db.session.flush()
    _tell_resolution(complaint)
    return complaint


def _rework_order(
    complaint: Complaint,
    user: StaffUser,
    order: RepairOrder | None,
    warranty: bool,
    symptoms: str,
    now: datetime,
) -> RepairOrder:
    if warranty:
        if complaint.order is None:
            raise DomainError(
                _("The complaint names no order to rework under warranty."), field="rework_order"
            )
        from repairqc.repairs.services import claim_warranty

        return claim_warranty(complaint.order, user, symptoms=symptoms, today=now.date())
    if order is None:
        raise DomainError(_("Choose the rework order, or open a warranty rework."), field="rework_order")
    if complaint.customer_id is None or order.customer_id != complaint.customer_id:
        raise DomainError(_("The order %(number)s is another customer's.", number=order.number),
                          field="rework_order")  # fmt: skip
    if order.store_id != complaint.store_id:
        raise DomainError(
            _("The order %(number)s is of another store.", number=order.number), field="rework_order"
        )
    return order


def rework_choices(complaint: Complaint) -> list[RepairOrder]:
    """The customer's orders at the complaint's store that may be named as the rework (newest
    first): another store's order would show its device to this store's staff."""
    if complaint.customer_id is None:
        return []
    return list(
        db.session.execute(
            sa.select(RepairOrder)
            .where(
                RepairOrder.customer_id == complaint.customer_id, RepairOrder.store_id == complaint.store_id
            )
            .options(joinedload(RepairOrder.device))
            .order_by(RepairOrder.id.desc())
            .limit(50)
        ).scalars()
    )


# --- passing on and classifying -----------------------------------------------------------------------


def reassign(
    complaint: Complaint,
    user: StaffUser,
    person: StaffUser,
    *,
    note: str | None = None,
    expected_version: int | None = None,
) -> None:
    """The manager, QA or the owner passes the complaint to someone handling complaints there."""
    check_version(complaint, expected_version)
    _require_manager(user, complaint)
    if not complaint.is_open:
        raise Refused(_("The complaint is closed; reopen it first."))
    if person is None or person.id not in {p.id for p in responsible_candidates(complaint.store)}:
        name = person.full_name if person is not None else "?"
        raise DomainError(
            _("%(name)s does not handle complaints at this store.", name=name), field="responsible"
        )
    if person.id == complaint.responsible_id:
        raise DomainError(_("%(name)s is responsible already.", name=person.full_name), field="responsible")
    complaint.responsible = person
    note = _clean(note, NOTE_MAX, "note", _("The note"))
    _event(complaint, EventKind.REASSIGNED, complaint.status, user,
           " — ".join(filter(None, [person.full_name, note])))  # fmt: skip
    db.session.flush()


def classify(
    complaint: Complaint,
    user: StaffUser,
    category: ComplaintCategory | None,
    *,
    expected_version: int | None = None,
) -> None:
    """Set the category (HB §9.3.2)."""
    check_version(complaint, expected_version)
    _require_handler(user, complaint)
    if category is not None and not category.is_active and category.id != complaint.category_id:
        raise DomainError(
            _("The category “%(name)s” is no longer used.", name=category.label), field="category"
        )
    if (category.id if category else None) == complaint.category_id:
        return
    complaint.category = category
    _event(complaint, EventKind.CLASSIFIED, complaint.status, user, category.label if category else None)
    db.session.flush()


# --- closing and reopening --------------------------------------------------------------------------------


def close(
    complaint: Complaint,
    user: StaffUser,
    *,
    confirmed_by_phone: bool,
    note: str,
    now: datetime | None = None,
    expected_version: int | None = None,
) -> None:
    """The manager (QA, owner) closes a resolved complaint: the customer confirmed to them, or
    has not confirmed within `UNCONFIRMED_CLOSE_AFTER_DAYS` of the resolution (a note says why)."""
    check_version(complaint, expected_version)
    _require_manager(user, complaint)
    if complaint.status is not ComplaintStatus.RESOLVED:
        raise Refused(_("Only a resolved complaint can be closed."))
    text = _clean(note, NOTE_MAX, "note", _("The note"))
    if not text:
        raise DomainError(
            _("Note how the customer confirmed, or why it is closed without them."), field="note"
        )
    now = now or utcnow()
    if not confirmed_by_phone:
        allowed_from = complaint.resolved_at + timedelta(days=UNCONFIRMED_CLOSE_AFTER_DAYS)
        if now < allowed_from:
            raise Refused(
                _("The customer has until %(moment)s to confirm; close it without them only after that.",
                  moment=local_moment(allowed_from, complaint.store))
            )  # fmt: skip
    _close(
        complaint, Closure.CONFIRMED_BY_PHONE if confirmed_by_phone else Closure.UNCONFIRMED, user, text, now
    )


def _close(
    complaint: Complaint, closure: Closure, user: StaffUser | None, note: str | None, now: datetime
) -> None:
    _move(complaint, ComplaintStatus.CLOSED, EventKind.CLOSED, user, note, now)
    complaint.closure = closure
    complaint.closed_at = now
    complaint.confirm_nonce = None  # the link is of no use any more
    db.session.flush()


def reopen(
    complaint: Complaint,
    user: StaffUser,
    *,
    reason: str,
    now: datetime | None = None,
    expected_version: int | None = None,
) -> None:
    """Back to "contacted" from resolved or closed, with the reason (the customer is unhappy)."""
    check_version(complaint, expected_version)
    _require_handler(user, complaint)
    text = _clean(reason, NOTE_MAX, "reason", _("The reason"))
    if not text:
        raise DomainError(_("Say why the complaint is reopened."), field="reason")
    if complaint.status not in (ComplaintStatus.RESOLVED, ComplaintStatus.CLOSED):
        raise Refused(_("Only a resolved or closed complaint can be reopened."))
    _reopen(complaint, user, text, now or utcnow())


def _reopen(complaint: Complaint, user: StaffUser | None, reason: str, now: datetime) -> None:
    _move(complaint, ComplaintStatus.CONTACTED, EventKind.REOPENED, user, reason, now)
    complaint.reopen_count += 1
    complaint.closure = None
    complaint.closed_at = None
    complaint.confirm_nonce = None
    db.session.flush()


# --- the customer's confirmation link ---------------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="repairqc-complaint-confirmation")


def confirmation_token(complaint: Complaint) -> str:
    """A signed, expiring token naming the tenant, the complaint and its current confirmation key."""
    return _serializer().dumps({"t": current_tenant().id, "c": complaint.id, "n": complaint.confirm_nonce})


class LinkGone(DomainError):
    status_code = 410


def complaint_for_token(token: str, *, lock: bool = False) -> Complaint:
    """The complaint a confirmation token names; refused when forged, another tenant's, expired
    (410) or used already (410)."""
    try:
        payload = _serializer().loads(token, max_age=CONFIRMATION_LINK_DAYS * 86400)
    except SignatureExpired:
        raise LinkGone(_("This link has expired. Please call the store.")) from None
    except BadSignature:
        raise NotFound(_("This link is not valid.")) from None
    if not isinstance(payload, dict) or payload.get("t") != current_tenant().id:
        raise NotFound(_("This link is not valid."))
    complaint_id = payload.get("c")
    if not isinstance(complaint_id, int):
        raise NotFound(_("This link is not valid."))
    statement = sa.select(Complaint).where(Complaint.id == complaint_id)
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    complaint = db.session.execute(statement).scalar_one_or_none()
    if complaint is None or not payload.get("n"):
        raise NotFound(_("This link is not valid."))
    if complaint.confirm_nonce != payload.get("n") or complaint.status is not ComplaintStatus.RESOLVED:
        raise LinkGone(_("This link has been used already. Thank you for your answer."))
    return complaint


def confirm_by_customer(
    complaint: Complaint, *, satisfied: bool, comment: str | None, now: datetime | None = None
) -> None:
    """The customer's answer through the link: yes closes the complaint as confirmed, no reopens
    it with their comment. Either way the link is used up."""
    now = now or utcnow()
    comment = _clean(comment, NOTE_MAX, "comment", _("The comment"))
    if satisfied:
        _close(complaint, Closure.CONFIRMED_BY_LINK, None, comment, now)
    else:
        if not comment:
            raise DomainError(_("Please tell us what is still wrong."), field="comment")
        _reopen(complaint, None, comment, now)


# --- customer messages -----------------------------------------------------------------------------------


def _tell_receipt(complaint: Complaint) -> None:
    from repairqc.notifications.services import queue_message, render_content

    customer = complaint.customer
    content = render_content(
        "complaints/messages/received",
        customer,
        complaint=complaint,
        store=complaint.store,
        deadline=lambda: local_moment(complaint.first_contact_due_at, complaint.store),
    )
    queue_message(customer, event_key=f"complaint:{complaint.id}:received", purpose="complaint",
                  content=content, store=complaint.store)  # fmt: skip


def _tell_resolution(complaint: Complaint) -> None:
    from repairqc.notifications.services import queue_message, render_content
    from repairqc.tenants.services import tenant_url

    customer = complaint.customer
    link = tenant_url(f"/complaint/confirm/{confirmation_token(complaint)}")
    content = render_content(
        "complaints/messages/resolved",
        customer,
        complaint=complaint,
        store=complaint.store,
        link=link,
        days=CONFIRMATION_LINK_DAYS,
    )
    # One message per resolution: a reopened complaint resolved again is told again.
    queue_message(customer, event_key=f"complaint:{complaint.id}:resolved:{complaint.reopen_count}",
                  purpose="complaint", content=content, store=complaint.store)  # fmt: skip


# --- the clock job ----------------------------------------------------------------------------------------


def _waiting() -> list[sa.ColumnElement[bool]]:
    return [Complaint.status == ComplaintStatus.RECEIVED, Complaint.first_contacted_at.is_(None)]


def _claim(complaint_id: int, column, now: datetime) -> bool:
    result = db.session.execute(
        sa.update(Complaint)
        .where(Complaint.id == complaint_id, column.is_(None), *_waiting())
        # No version bump: the clock's claim is no edit of the complaint, so the page the front
        # desk has open stays current and their first contact is not refused as stale (409).
        .values({column.key: now})
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def claim_deadline_work(now: datetime) -> tuple[list[int], list[int]]:
    """(complaints to warn, complaints to escalate), each claimed once (HB §9.3.3).

    Warning: no first contact yet, the deadline within `complaint_warning_hours` and not passed.
    Escalation: no first contact and the deadline passed. Each is claimed by a conditional
    UPDATE (`warned_at` / `escalated_at` IS NULL) before any mail, so a retry, a second
    scheduler or a re-run claims nothing twice. A complaint first seen after its deadline is
    escalated without a warning. The timeline records both (by nobody: the system).
    """
    horizon = now + timedelta(hours=warning_hours(now.date()))
    to_warn = (
        db.session.execute(
            sa.select(Complaint.id)
            .where(
                *_waiting(),
                Complaint.warned_at.is_(None),
                Complaint.first_contact_due_at > now,
                Complaint.first_contact_due_at <= horizon,
            )
            .order_by(Complaint.id)
        )
        .scalars()
        .all()
    )
    to_escalate = (
        db.session.execute(
            sa.select(Complaint.id)
            .where(*_waiting(), Complaint.escalated_at.is_(None), Complaint.first_contact_due_at <= now)
            .order_by(Complaint.id)
        )
        .scalars()
        .all()
    )
    warned = [cid for cid in to_warn if _claim(cid, Complaint.warned_at, now)]
    escalated = [cid for cid in to_escalate if _claim(cid, Complaint.escalated_at, now)]
    for ids, kind in ((warned, EventKind.WARNED), (escalated, EventKind.ESCALATED)):
        for cid, store_id in db.session.execute(
            sa.select(Complaint.id, Complaint.store_id).where(Complaint.id.in_(ids))
        ).all():
            db.session.add(ComplaintEvent(
                store_id=store_id, complaint_id=cid, kind=kind, from_status=ComplaintStatus.RECEIVED,
                to_status=ComplaintStatus.RECEIVED, at=now,
            ))  # fmt: skip
    db.session.flush()
    return warned, escalated


def warning_recipients(complaint: Complaint) -> list[StaffUser]:
    """The responsible person; with nobody responsible (or gone), the store's managers."""
    if complaint.responsible is not None and complaint.responsible.is_active:
        return [complaint.responsible]
    return store_managers(complaint.store_id)


def escalation_recipients(complaint: Complaint) -> list[StaffUser]:
    """The store's managers and QA (QA managers, or the owners when there are none), each once."""
    from repairqc.inspections.services import qa_recipients

    people: dict[int, StaffUser] = {}
    for person in [*store_managers(complaint.store_id), *qa_recipients()]:
        if person.is_active:
            people.setdefault(person.id, person)
    return list(people.values())


# --- the customer's profile -------------------------------------------------------------------------------


def complaints_of(customer: Customer) -> list[Complaint]:
    """The customer's complaints, newest first (the profile, HB §6.2.2)."""
    return list(
        db.session.execute(
            sa.select(Complaint)
            .where(Complaint.customer_id == customer.id)
            .order_by(Complaint.received_at.desc(), Complaint.id.desc())
        ).scalars()
    )


def contacts_of(customer: Customer) -> list[ComplaintContact]:
    """The contact-log rows of the customer's complaints, newest first."""
    return list(
        db.session.execute(
            sa.select(ComplaintContact)
            .join(Complaint, Complaint.id == ComplaintContact.complaint_id)
            .where(Complaint.customer_id == customer.id)
            .order_by(ComplaintContact.at.desc(), ComplaintContact.id.desc())
        ).scalars()
    )
