"""Complaints (HB §9.3): opening one on every channel with its first-contact deadline, each move
of its life and each refusal, the customer's confirmation link, the customer's messages, the
profile's lists and the report's figures.

Times are passed in (`received_at=`, `now=`): nothing sleeps.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from babel import dates as babel_dates

from repairqc.complaints import services
from repairqc.complaints.models import (
    Closure,
    Complaint,
    ComplaintCategory,
    ComplaintChannel,
    ComplaintStatus,
    ContactMethod,
    EventKind,
    ResolutionOutcome,
)
from repairqc.db import db
from repairqc.errors import Conflict, DomainError, NotFound
from repairqc.notifications.models import CustomerMessage
from repairqc.repairs.models import Customer, RepairOrder
from repairqc.standards.models import ServiceTargetOverride
from tests.conftest import in_tenant, staff, store

#: Now, to the minute: the standard in force was installed at provisioning, today.
NOW = datetime.now(UTC).replace(second=0, microsecond=0)


def first_customer(tenant, name: str = "S1") -> Customer:
    return (
        db.session.execute(
            sa.select(Customer).where(Customer.store_id == tenant.store_ids[name]).order_by(Customer.id)
        )
        .scalars()
        .first()
    )


def new_complaint(tenant, name: str = "S1", **values) -> Complaint:
    values.setdefault("customer", first_customer(tenant, name))
    return services.open_complaint(
        store=store(tenant, name),
        channel=values.pop("channel", ComplaintChannel.PHONE),
        description=values.pop("description", "The screen flickers again"),
        received_at=values.pop("received_at", NOW),
        **values,
    )


def contacted(tenant, **values) -> Complaint:
    complaint = new_complaint(tenant, **values)
    services.log_contact(
        complaint,
        staff(tenant, "frontdesk"),
        channel=ContactMethod.PHONE,
        note="Called the customer",
        now=NOW + timedelta(hours=1),
    )
    return complaint


def resolved(tenant, **values) -> Complaint:
    complaint = contacted(tenant, **values)
    services.resolve(
        complaint,
        staff(tenant, "frontdesk"),
        resolution="Explained and apologised",
        outcome=ResolutionOutcome.NONE,
        now=NOW + timedelta(hours=2),
    )
    return complaint


# --- opening ----------------------------------------------------------------------------


def test_a_complaint_gets_a_store_number_the_deadline_of_the_standard_and_the_manager(app, alpha):
    with in_tenant(app, alpha):
        complaint = new_complaint(alpha, category_code="price")
        code = store(alpha).code
        assert complaint.number.startswith(f"C-{code}-") and len(complaint.number) == len(f"C-{code}-000000")
        following = new_complaint(alpha)
        assert int(following.number[-6:]) == int(complaint.number[-6:]) + 1
        assert complaint.status is ComplaintStatus.RECEIVED
        assert complaint.first_contact_due_at == NOW + timedelta(hours=24)  # HB §9.3.3, the default
        assert complaint.responsible == staff(alpha, "manager")
        assert complaint.category.code == "price" and complaint.category.label == "Price"
        assert [e.kind for e in complaint.events] == [EventKind.OPENED]
        other = new_complaint(alpha, "S2")
        assert other.number.startswith(f"C-{store(alpha, 'S2').code}-")
        assert other.responsible == staff(alpha, "manager2")


def test_the_deadline_follows_a_store_override_of_the_standard(app, alpha):
    with in_tenant(app, alpha):
        db.session.add(
            ServiceTargetOverride(
                store=store(alpha), target="complaint_first_contact_hours", value=8, reason="Flagship store"
            )
        )
        db.session.flush()
        assert new_complaint(alpha).first_contact_due_at == NOW + timedelta(hours=8)
        assert new_complaint(alpha, "S2").first_contact_due_at == NOW + timedelta(hours=24)


def test_the_customer_is_sent_the_number_and_the_deadline_once_in_their_language(app, alpha):
    with in_tenant(app, alpha):
        customer = first_customer(alpha)
        customer.email, customer.language = "wang@example.com", "zh_Hans_CN"
        complaint = new_complaint(alpha, customer=customer)
        message = db.session.execute(
            sa.select(CustomerMessage).where(
                CustomerMessage.event_key == f"complaint:{complaint.id}:received"
            )
        ).scalar_one()
        assert message.purpose == "complaint" and message.language == "zh_Hans_CN"
        assert complaint.number in message.subject and complaint.number in message.body
        tomorrow = babel_dates.format_date((NOW + timedelta(hours=24)).date(), "long", locale="zh_Hans_CN")
        assert tomorrow in message.body  # the deadline, in the customer's words
        services._tell_receipt(complaint)  # a second telling of the same event sends nothing
        assert (
            db.session.scalar(
                sa.select(sa.func.count()).where(
                    CustomerMessage.event_key.like(f"complaint:{complaint.id}:%")
                )
            )
            == 1
        )


def test_a_complainant_without_a_profile_gets_one_from_the_contact_details(app, alpha):
    with in_tenant(app, alpha):
        complaint = new_complaint(
            alpha,
            customer=None,
            channel=ComplaintChannel.WEB_FORM,
            contact_name="Zhou Min",
            contact_email="zhou@example.com",
            language="zh-CN",
        )
        assert complaint.customer.full_name == "Zhou Min" and complaint.customer.email == "zhou@example.com"
        assert complaint.customer.store_id == store(alpha).id and complaint.language == "zh_Hans_CN"
        assert complaint.contact_email == "zhou@example.com"
        raw = db.session.execute(
            sa.text("SELECT contact_email FROM complaints WHERE id = :id"), {"id": complaint.id}
        ).scalar()
        assert raw and "zhou" not in raw  # encrypted at rest (HB §6.1.2)
        assert services.complaints_of(complaint.customer) == [complaint]
        with pytest.raises(DomainError, match="phone number or an e-mail"):
            new_complaint(alpha, customer=None, contact_name="No Contact")
        with pytest.raises(DomainError, match="name"):
            new_complaint(alpha, customer=None, contact_phone="+86 139 0000 0000")


def test_refusals_when_opening(app, alpha):
    with in_tenant(app, alpha):
        other_order = (
            db.session.execute(sa.select(RepairOrder).where(RepairOrder.store_id == alpha.store_ids["S2"]))
            .scalars()
            .first()
        )
        with pytest.raises(DomainError, match="another store"):
            new_complaint(alpha, order=other_order, customer=None)
        with pytest.raises(DomainError, match="Describe"):
            new_complaint(alpha, description="   ")
        with pytest.raises(DomainError, match="too long"):
            new_complaint(alpha, description="x" * 4001)
        with pytest.raises(DomainError, match="Unknown complaint category"):
            new_complaint(alpha, category_code="no-such-category")
        # another store's customer profile is not linked (their order of this store would be)
        with pytest.raises(DomainError, match="registered at another store"):
            new_complaint(alpha, customer=first_customer(alpha, "S2"))
        assert (
            db.session.scalar(
                sa.select(sa.func.count()).select_from(Complaint).where(Complaint.received_at == NOW)
            )
            == 0
        )


def test_the_survey_channel_keeps_the_survey_and_the_order(app, alpha):
    """What the feedback domain calls for a low score (HB §6.3.3)."""
    with in_tenant(app, alpha):
        order = (
            db.session.execute(sa.select(RepairOrder).where(RepairOrder.store_id == alpha.store_ids["S1"]))
            .scalars()
            .first()
        )
        complaint = services.open_complaint(
            store=store(alpha),
            channel=ComplaintChannel.SURVEY,
            description="Scored 1 for attitude",
            order=order,
            survey_id=77,
        )
        assert complaint.customer_id == order.customer_id and complaint.order_id == order.id
        assert complaint.survey_id == 77 and complaint.channel is ComplaintChannel.SURVEY


# --- the moves ----------------------------------------------------------------------------


def test_the_first_contact_stops_the_clock_in_time_or_late(app, alpha):
    with in_tenant(app, alpha):
        desk = staff(alpha, "frontdesk")
        on_time = new_complaint(alpha)
        services.log_contact(
            on_time, desk, channel=ContactMethod.PHONE, note="Called", now=NOW + timedelta(hours=23)
        )
        assert on_time.status is ComplaintStatus.CONTACTED and on_time.first_contact_on_time is True
        assert on_time.first_contacted_at == NOW + timedelta(hours=23)
        late = new_complaint(alpha)
        services.log_contact(
            late, desk, channel=ContactMethod.EMAIL, note="Wrote", now=NOW + timedelta(hours=25)
        )
        assert late.first_contact_on_time is False
        # a second contact is logged, and changes neither the status nor the first contact
        services.log_contact(
            late, desk, channel=ContactMethod.PHONE, note="Again", now=NOW + timedelta(hours=26)
        )
        assert len(late.contacts) == 2 and late.first_contacted_at == NOW + timedelta(hours=25)
        assert services.contacts_of(late.customer)[0].note == "Again"
        with pytest.raises(DomainError, match="future"):
            services.log_contact(
                late,
                desk,
                channel=ContactMethod.PHONE,
                note="x",
                at=NOW + timedelta(days=3),
                now=NOW + timedelta(hours=26),
            )
        with pytest.raises(DomainError, match="what was said"):
            services.log_contact(late, desk, channel=ContactMethod.PHONE, note=" ")


def test_resolve_close_reopen_and_their_refusals(app, alpha):
    with in_tenant(app, alpha):
        desk, manager = staff(alpha, "frontdesk"), staff(alpha, "manager")
        complaint = new_complaint(alpha)
        with pytest.raises(Conflict, match="Contact the customer"):
            services.resolve(complaint, desk, resolution="Done", outcome=ResolutionOutcome.NONE)
        services.log_contact(complaint, desk, channel=ContactMethod.PHONE, note="Called", now=NOW)
        with pytest.raises(DomainError, match="Describe the resolution"):
            services.resolve(complaint, desk, resolution="", outcome=ResolutionOutcome.NONE)
        services.resolve(
            complaint,
            desk,
            resolution="Cleaned the connector",
            outcome=ResolutionOutcome.OTHER,
            now=NOW + timedelta(hours=2),
        )
        assert complaint.status is ComplaintStatus.RESOLVED and complaint.confirm_nonce
        with pytest.raises(Conflict, match="only after that"):  # the customer still has time to answer
            services.close(
                complaint, manager, confirmed_by_phone=False, note="No answer", now=NOW + timedelta(days=3)
            )
        with pytest.raises(Conflict, match="manager, QA or the owner"):
            services.close(complaint, desk, confirmed_by_phone=True, note="Said fine")
        with pytest.raises(DomainError, match="Note how"):
            services.close(complaint, manager, confirmed_by_phone=True, note="")
        services.close(
            complaint,
            manager,
            confirmed_by_phone=False,
            note="No answer in a week",
            now=NOW + timedelta(days=8),
        )
        assert complaint.status is ComplaintStatus.CLOSED and complaint.closure is Closure.UNCONFIRMED
        assert complaint.confirm_nonce is None
        with pytest.raises(Conflict, match="closed; reopen it first"):
            services.log_contact(complaint, desk, channel=ContactMethod.PHONE, note="x")
        with pytest.raises(DomainError, match="Say why"):
            services.reopen(complaint, desk, reason=" ")
        services.reopen(complaint, desk, reason="Flickers again")
        assert complaint.status is ComplaintStatus.CONTACTED and complaint.reopen_count == 1
        assert complaint.closure is None and complaint.closed_at is None
        with pytest.raises(Conflict, match="resolved or closed"):
            services.reopen(complaint, desk, reason="again")
        kinds = [e.kind for e in complaint.events]
        assert kinds == [
            EventKind.OPENED,
            EventKind.CONTACTED,
            EventKind.RESOLVED,
            EventKind.CLOSED,
            EventKind.REOPENED,
        ]
        assert complaint.events[-1].actor_id == desk.id and complaint.events[-1].note == "Flickers again"
        # resolved again: the customer is asked again (one message per resolution)
        services.resolve(complaint, desk, resolution="Replaced the cable", outcome=ResolutionOutcome.NONE)
        keys = (
            db.session.execute(
                sa.select(CustomerMessage.event_key).where(
                    CustomerMessage.event_key.like(f"complaint:{complaint.id}:%")
                )
            )
            .scalars()
            .all()
        )
        assert sorted(keys) == sorted(
            [
                f"complaint:{complaint.id}:received",
                f"complaint:{complaint.id}:resolved:0",
                f"complaint:{complaint.id}:resolved:1",
            ]
        )


def add_order_of(customer: Customer, shop) -> RepairOrder:
    """An order of `customer` taken at `shop` (a customer may bring a device to another store)."""
    from repairqc.repairs.models import Device
    from repairqc.repairs.services import next_order_number

    number = next_order_number(shop)  # before the new rows: it flushes
    device = Device(store=shop, customer=customer, category="smartphone", brand="Brand", model="Elsewhere")
    order = RepairOrder(store=shop, number=number, customer=customer, device=device, fault_symptoms="Other")
    db.session.add_all([device, order])
    db.session.flush()
    return order


def test_outcomes_refund_and_rework(app, alpha):
    with in_tenant(app, alpha):
        desk, manager = staff(alpha, "frontdesk"), staff(alpha, "manager")
        complaint = contacted(alpha)
        with pytest.raises(Conflict, match="manager, QA or the owner"):  # money: not the front desk
            services.resolve(
                complaint, desk, resolution="Refunded", outcome=ResolutionOutcome.REFUND, refund_cents=5000
            )
        with pytest.raises(DomainError, match="amount refunded"):
            services.resolve(complaint, manager, resolution="Refunded", outcome=ResolutionOutcome.REFUND)
        services.resolve(
            complaint,
            manager,
            resolution="Refunded the labour",
            outcome=ResolutionOutcome.REFUND,
            refund_cents=12050,
        )
        assert complaint.refund_cents == 12050 and complaint.outcome is ResolutionOutcome.REFUND

        rework = contacted(alpha)
        with pytest.raises(DomainError, match="Choose the rework order"):
            services.resolve(rework, desk, resolution="Redo", outcome=ResolutionOutcome.REWORK)
        foreign = (
            db.session.execute(sa.select(RepairOrder).where(RepairOrder.customer_id != rework.customer_id))
            .scalars()
            .first()
        )
        with pytest.raises(DomainError, match="another customer's"):
            services.resolve(
                rework, desk, resolution="Redo", outcome=ResolutionOutcome.REWORK, rework_order=foreign
            )
        with pytest.raises(DomainError, match="no order to rework"):
            services.resolve(
                rework, desk, resolution="Redo", outcome=ResolutionOutcome.REWORK, warranty_rework=True
            )
        other_store = add_order_of(rework.customer, store(alpha, "S2"))
        assert other_store not in services.rework_choices(rework)  # not offered, and refused
        with pytest.raises(DomainError, match="another store"):
            services.resolve(
                rework, desk, resolution="Redo", outcome=ResolutionOutcome.REWORK, rework_order=other_store
            )
        assert rework.status is ComplaintStatus.CONTACTED and rework.rework_order is None
        with pytest.raises(DomainError, match="too large"):
            services.resolve(rework, manager, resolution="Refunded", outcome=ResolutionOutcome.REFUND,
                             refund_cents=services.REFUND_MAX_CENTS + 1)  # fmt: skip
        own = services.rework_choices(rework)[0]
        assert own.store_id == rework.store_id
        services.resolve(
            rework, desk, resolution="Redone", outcome=ResolutionOutcome.REWORK, rework_order=own
        )
        assert rework.rework_order == own


def test_a_rework_under_warranty_opens_the_rework_order(app, alpha):
    with in_tenant(app, alpha):
        desk = staff(alpha, "frontdesk")
        delivered = (
            db.session.execute(
                sa.select(RepairOrder).where(
                    RepairOrder.store_id == alpha.store_ids["S1"], RepairOrder.warranty_until.is_not(None)
                )
            )
            .scalars()
            .first()
        )
        complaint = new_complaint(alpha, order=delivered, customer=None)
        services.log_contact(complaint, desk, channel=ContactMethod.PHONE, note="Called", now=NOW)
        services.resolve(
            complaint,
            desk,
            resolution="Screen fails again",
            outcome=ResolutionOutcome.REWORK,
            warranty_rework=True,
            now=datetime.now(UTC),
        )
        assert complaint.rework_order.rework_of_id == delivered.id
        assert complaint.rework_order.customer_id == delivered.customer_id


def test_reassign_and_classify(app, alpha):
    with in_tenant(app, alpha):
        desk, manager, qa = staff(alpha, "frontdesk"), staff(alpha, "manager"), staff(alpha, "qa")
        complaint = new_complaint(alpha)
        with pytest.raises(Conflict, match="manager, QA or the owner"):
            services.reassign(complaint, desk, desk)
        with pytest.raises(DomainError, match="does not handle complaints at this store"):
            services.reassign(complaint, manager, staff(alpha, "tech"))
        with pytest.raises(DomainError, match="does not handle complaints at this store"):
            services.reassign(complaint, qa, staff(alpha, "manager2"))  # another store's manager
        services.reassign(complaint, qa, desk, note="Took the call")
        assert complaint.responsible == desk and complaint.events[-1].kind is EventKind.REASSIGNED
        own = ComplaintCategory(name="Parking")
        db.session.add(own)
        db.session.flush()
        services.classify(complaint, desk, own)
        assert complaint.category == own and complaint.events[-1].note == "Parking"
        own.is_active = False
        with pytest.raises(DomainError, match="no longer used"):
            new_complaint(alpha, category=own)


def test_other_stores_staff_and_other_roles_are_refused(app, alpha):
    with in_tenant(app, alpha):
        complaint = new_complaint(alpha)
        for key in ("manager2", "tech", "tech2", "trainer", "auditor", "inspector"):
            with pytest.raises(Conflict, match="does not allow handling complaints"):
                services.log_contact(complaint, staff(alpha, key), channel=ContactMethod.PHONE, note="x")
        services.log_contact(complaint, staff(alpha, "qa"), channel=ContactMethod.PHONE, note="QA called")
        assert complaint.status is ComplaintStatus.CONTACTED


def test_a_stale_page_is_refused_with_409(app, alpha):
    with in_tenant(app, alpha):
        complaint = new_complaint(alpha)
        seen = complaint.version
        services.log_contact(
            complaint,
            staff(alpha, "frontdesk"),
            channel=ContactMethod.PHONE,
            note="One",
            expected_version=seen,
        )
        with pytest.raises(Conflict) as refused:
            services.log_contact(
                complaint,
                staff(alpha, "manager"),
                channel=ContactMethod.PHONE,
                note="Two",
                expected_version=seen,
            )
        assert refused.value.status_code == 409 and len(complaint.contacts) == 1


# --- the customer's confirmation link -------------------------------------------------------------


def test_the_confirmation_link_closes_once(app, alpha):
    with in_tenant(app, alpha):
        complaint = resolved(alpha)
        token = services.confirmation_token(complaint)
        assert services.complaint_for_token(token) == complaint
        services.confirm_by_customer(complaint, satisfied=True, comment="Thanks")
        assert complaint.status is ComplaintStatus.CLOSED and complaint.closure is Closure.CONFIRMED_BY_LINK
        assert complaint.events[-1].actor_id is None and complaint.events[-1].note == "Thanks"
        with pytest.raises(DomainError) as used:
            services.complaint_for_token(token)
        assert used.value.status_code == 410


def test_no_through_the_link_reopens_with_the_comment(app, alpha):
    with in_tenant(app, alpha):
        complaint = resolved(alpha)
        token = services.confirmation_token(complaint)
        with pytest.raises(DomainError, match="still wrong"):
            services.confirm_by_customer(complaint, satisfied=False, comment="")
        services.confirm_by_customer(complaint, satisfied=False, comment="Still flickers")
        assert complaint.status is ComplaintStatus.CONTACTED and complaint.reopen_count == 1
        assert (
            complaint.events[-1].kind is EventKind.REOPENED and complaint.events[-1].note == "Still flickers"
        )
        with pytest.raises(DomainError) as used:
            services.complaint_for_token(token)
        assert used.value.status_code == 410


def test_forged_expired_and_other_tenants_links_are_refused(app, alpha, beta, monkeypatch):
    with in_tenant(app, alpha):
        complaint = resolved(alpha)
        token = services.confirmation_token(complaint)
        with pytest.raises(NotFound):
            services.complaint_for_token(token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
        from itsdangerous.timed import TimestampSigner

        issued = int(time.time()) - (services.CONFIRMATION_LINK_DAYS + 1) * 86400
        monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: issued)
        old = services.confirmation_token(complaint)
        monkeypatch.undo()
        with pytest.raises(DomainError) as expired:
            services.complaint_for_token(old)
        assert expired.value.status_code == 410
    with in_tenant(app, beta), pytest.raises(NotFound):
        services.complaint_for_token(token)


# --- the report ----------------------------------------------------------------------------


def test_report_figures_per_store(app, alpha):
    from repairqc.complaints.reporting import ComplaintsProvider
    from repairqc.reports.providers import Ratio

    day = date(2026, 3, 10)
    start = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
    with in_tenant(app, alpha):
        desk, manager2 = staff(alpha, "frontdesk"), staff(alpha, "manager2")
        a = new_complaint(alpha, received_at=start)
        services.log_contact(
            a,
            desk,
            channel=ContactMethod.PHONE,
            note="2 h",
            at=start + timedelta(hours=2),
            now=start + timedelta(hours=2),
        )
        b = new_complaint(alpha, received_at=start)
        services.log_contact(
            b,
            desk,
            channel=ContactMethod.PHONE,
            note="30 h",
            at=start + timedelta(hours=30),
            now=start + timedelta(hours=30),
        )
        c = new_complaint(alpha, received_at=start)
        services.log_contact(
            c,
            desk,
            channel=ContactMethod.PHONE,
            note="4 h",
            at=start + timedelta(hours=4),
            now=start + timedelta(hours=4),
        )
        services.resolve(
            c, desk, resolution="Done", outcome=ResolutionOutcome.NONE, now=start + timedelta(hours=5)
        )
        services.reopen(c, desk, reason="Not done", now=start + timedelta(hours=6))
        new_complaint(alpha, received_at=start)  # never contacted: its deadline has passed, a miss
        s2 = new_complaint(alpha, "S2", received_at=start)
        services.log_contact(
            s2,
            manager2,
            channel=ContactMethod.PHONE,
            note="1 h",
            at=start + timedelta(hours=1),
            now=start + timedelta(hours=1),
        )
        new_complaint(alpha, received_at=start - timedelta(days=40))  # outside the period
        values = ComplaintsProvider().collect(day, day, [alpha.store_ids["S1"], alpha.store_ids["S2"]])
    s1 = values[alpha.store_ids["S1"]]
    assert s1["complaints"] == 4
    assert s1["first_contact_in_time"] == Ratio(2, 4)  # a and c in time; b late; one missed
    assert s1["first_contact_hours"] == pytest.approx(4.0)  # median of 2, 4 and 30 hours
    assert (s1["resolved"], s1["reopened"]) == (1, 1)
    s2_values = values[alpha.store_ids["S2"]]
    assert s2_values["complaints"] == 1 and s2_values["first_contact_in_time"] == Ratio(1, 1)
    assert s2_values["first_contact_hours"] == pytest.approx(1.0)
