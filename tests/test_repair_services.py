"""The repair workflow's services and state machine, step by step (HB §2.1.2), on both databases.

Screens are tested elsewhere; here every rule of `repairs.workflow` and `repairs.services` is
exercised directly: the whole transition table with every role, the preconditions of each move,
stale pages, quotes and their re-approval, QC separation of duties (HB §5.1.3(5)), warranty
windows (HB §2.1.2(6)), stock, order numbers, tracking links and the customer's notifications
(HB §6.2.2). Concurrency is tested with real separate transactions on a scratch tenant, since the
`app` fixture pins one connection per tenant.
"""

from __future__ import annotations

import contextlib
import copy
import email
import email.policy
import os
import string
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from itsdangerous import TimestampSigner

from repairqc import jobs
from repairqc.accounts.models import StaffUser
from repairqc.audit.models import AuditAction, AuditLog
from repairqc.db import db, tenant_context, unit_of_work
from repairqc.errors import Conflict, DomainError, NotFound
from repairqc.repairs import services, workflow
from repairqc.repairs.models import (
    DecisionMethod,
    OrderHold,
    Part,
    PaymentMethod,
    PhotoStage,
    QCCheck,
    QCCheckStatus,
    Quote,
    QuoteLineKind,
    QuoteStatus,
    RepairOrder,
    RepairStatusEvent,
    SignaturePurpose,
    StockLevel,
    StockMovement,
    StockReason,
    WorkLog,
)
from repairqc.repairs.models import RepairOrderStatus as S
from repairqc.repairs.tasks import notify_customer
from repairqc.repairs.workflow import MOVES, CustomerActor, Refused
from repairqc.standards import services as standards
from repairqc.standards.models import ServiceTargetOverride
from repairqc.tenants import services as tenants
from tests.conftest import (
    PNG,
    SIGNATURE,
    SeededTenant,
    in_tenant,
    provision_seeded,
    require_service,
    sample_intake,
    staff,
    store,
)
from tests.mailserver import smtp_server

TODAY = date.today()  # version 1 of the standards takes effect on the day the tenant is provisioned
SCREEN = services.LineInput(QuoteLineKind.PART, "Screen", 1, Decimal("800.00"), Decimal("13"))  # 904.00


# --- helpers ------------------------------------------------------------------------------------------


def new_order(tenant: SeededTenant, store_name: str = "S1", **overrides) -> RepairOrder:
    desk = staff(tenant, "frontdesk" if store_name == "S1" else "manager2")
    return services.receive_order(store(tenant, store_name), desk, sample_intake(**overrides))


def diagnosed(tenant: SeededTenant, repair_type: str = "parts-replacement", **overrides) -> RepairOrder:
    order = new_order(tenant, **overrides)
    tech = staff(tenant, "tech")
    services.start_diagnosis(order, tech)
    services.record_diagnosis(
        order,
        tech,
        cause="Broken glass",
        plan="Replace screen",
        repair_type=repair_type,
        minutes=20,
        today=TODAY,
    )
    return order


def quoted(tenant: SeededTenant, lines=(SCREEN,), **overrides) -> RepairOrder:
    order = diagnosed(tenant, **overrides)
    tech = staff(tenant, "tech")
    services.save_quote(order, tech, list(lines))
    services.send_quote(order, tech, today=TODAY)
    return order


def decide(
    order: RepairOrder, mover, revision: int, approve: bool = True, today: date = TODAY, **kw
) -> Quote:
    return services.decide_quote(
        order,
        mover,
        revision=revision,
        approve=approve,
        method=kw.pop("method", DecisionMethod.IN_STORE),
        signer_name=kw.pop("signer_name", "Li Wei"),
        today=today,
        **kw,
    )


def in_repair(tenant: SeededTenant, **overrides) -> RepairOrder:
    order = quoted(tenant, **overrides)
    decide(order, staff(tenant, "frontdesk"), 1)
    services.start_repair(order, staff(tenant, "tech"))
    return order


def in_qc(tenant: SeededTenant, **overrides) -> RepairOrder:
    order = in_repair(tenant, **overrides)
    tech = staff(tenant, "tech")
    services.log_work(order, tech, step="Replaced the screen", minutes=45, equipment="Heat plate")
    services.send_to_qc(order, tech)
    return order


def passing_answers(check: QCCheck) -> dict[str, services.ResultInput]:
    def value(result) -> float:
        return result.min_value if result.min_value is not None else (result.max_value or 0.0)

    return {
        r.item_code: services.ResultInput(passed=True, measured_value=value(r), note="ok")
        for r in check.results
    }


def photograph(order: RepairOrder, check: QCCheck, user: StaffUser) -> None:
    for result in check.results:
        if result.kind == "photo":
            services.add_photo(order, PhotoStage.QC, PNG, "after.png", user, qc_result=result)


def ready(tenant: SeededTenant, **overrides) -> RepairOrder:
    order = in_qc(tenant, **overrides)
    inspector = staff(tenant, "inspector")
    check = services.begin_qc_check(order, inspector, today=TODAY)
    services.record_qc_results(check, inspector, passing_answers(check))
    photograph(order, check, inspector)
    services.finish_qc_check(check, inspector)
    assert order.status is S.READY
    return order


def delivered(tenant: SeededTenant, today: date = TODAY, **overrides) -> RepairOrder:
    order = ready(tenant, **overrides)
    desk = staff(tenant, "frontdesk")
    services.record_payment(
        order, desk, amount=Decimal(order.amount_due_cents) / 100, method=PaymentMethod.CARD
    )
    services.deliver(
        order, desk, signer_name="Li Wei", signature_data_url=SIGNATURE, confirmed_fixed=True, today=today
    )
    return order


def events_of(order: RepairOrder) -> list[RepairStatusEvent]:
    return list(
        db.session.execute(
            sa.select(RepairStatusEvent)
            .where(RepairStatusEvent.order_id == order.id)
            .order_by(RepairStatusEvent.id)
        ).scalars()
    )


def last_audit_id() -> int:
    return db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(AuditLog.id), 0)))


def audit_rows(table: str, row_id: int, after_id: int) -> list[AuditLog]:
    return list(
        db.session.execute(
            sa.select(AuditLog)
            .where(AuditLog.table_name == table, AuditLog.row_id == str(row_id), AuditLog.id > after_id)
            .order_by(AuditLog.id)
        ).scalars()
    )


# --- 1. the state machine -----------------------------------------------------------------------------

#: Who may make each move, written out from HB §2.1.2 and §5.1.3(5) independently of workflow.MOVES.
BENCH = {"owner", "manager", "tech"}
DESK = {"owner", "manager", "frontdesk"}
CHECKERS = {"owner", "manager", "tech", "inspector", "qa"}
#: (source, target) -> (user keys allowed at store S1, the customer may make it, a reason is required)
EXPECTED_MOVES: dict[tuple[S, S], tuple[set[str], bool, bool]] = {
    (S.RECEIVED, S.DIAGNOSING): (BENCH, False, False),
    (S.DIAGNOSING, S.QUOTED): (BENCH, False, False),
    (S.DIAGNOSING, S.APPROVED): (BENCH, False, False),
    (S.QUOTED, S.APPROVED): (DESK, True, False),
    (S.QUOTED, S.DECLINED): (DESK, True, False),
    (S.APPROVED, S.IN_REPAIR): (BENCH, False, False),
    (S.IN_REPAIR, S.QUOTED): (BENCH, False, False),
    (S.IN_REPAIR, S.QC): (BENCH, False, False),
    (S.QC, S.IN_REPAIR): (CHECKERS, False, True),
    (S.QC, S.READY): (CHECKERS, False, False),
    (S.READY, S.DELIVERED): (DESK, False, False),
    (S.DELIVERED, S.CLOSED): (DESK, False, False),
    **{
        (source, S.CANCELLED): (DESK, False, True)
        for source in (S.RECEIVED, S.DIAGNOSING, S.QUOTED, S.APPROVED, S.IN_REPAIR, S.QC, S.READY)
    },
}
USERS = [
    "owner",
    "qa",
    "trainer",
    "auditor",
    "inspector",
    "manager",
    "frontdesk",
    "tech",
    "manager2",
    "tech2",
]


def test_the_transition_table_is_the_handbooks():
    assert set(MOVES) == set(EXPECTED_MOVES)
    for key, move in MOVES.items():
        _, customer, needs_reason = EXPECTED_MOVES[key]
        assert (move.customer, move.needs_reason) == (customer, needs_reason), key


def prepared(tenant: SeededTenant, source: S, target: S) -> RepairOrder:
    """A fresh S1 order put in `source` with every precondition of moving to `target` met."""
    order = new_order(tenant)
    tech, manager = staff(tenant, "tech"), staff(tenant, "manager")
    order.diagnosis, order.repair_plan, order.repair_type = "Cause", "Plan", "parts-replacement"
    order.technician_id = tech.id
    quote_status = {S.QUOTED: QuoteStatus.SENT, S.DECLINED: QuoteStatus.DECLINED}.get(
        target, QuoteStatus.APPROVED
    )
    order.quotes.append(
        Quote(store_id=order.store_id, revision=1, status=quote_status, created_by_id=tech.id)
    )
    db.session.flush()
    if target is S.QC:
        db.session.add(
            WorkLog(store_id=order.store_id, order_id=order.id, technician_id=tech.id, step="Fix", minutes=5)
        )
    if target in (S.READY, S.IN_REPAIR):
        version = standards.effective_for_store(order.store, TODAY).version_id
        db.session.add(
            QCCheck(
                store_id=order.store_id,
                repair_order_id=order.id,
                standard_version_id=version,
                category="smartphone",
                inspector_id=manager.id,
                status=QCCheckStatus.PASSED if target is S.READY else QCCheckStatus.FAILED,
            )
        )
    if target is S.DELIVERED:
        services._store_signature(order, SignaturePurpose.ACCEPTANCE, PNG, "Li Wei")
        order.customer_confirmed_fixed = True
    order.status = source
    db.session.flush()
    return order


@pytest.mark.parametrize("source", list(S), ids=lambda s: s.value)
def test_every_pair_of_states_moves_only_along_the_table(app, alpha, source):
    """For each target: a move outside the table is refused even for the owner; one in it succeeds."""
    with in_tenant(app, alpha):
        owner = staff(alpha, "owner")
        problems = []
        for target in S:
            order = prepared(alpha, source, target)
            before = len(events_of(order))
            try:
                workflow.transition(order, target, owner, reason="Matrix reason")
                outcome = "moved"
            except Refused as refused:
                outcome = f"refused: {refused.message}"
            if (source, target) in EXPECTED_MOVES:
                if outcome != "moved" or order.status is not target:
                    problems.append(f"{source.value}->{target.value} should move, {outcome}")
            else:
                if "cannot become" not in outcome or order.status is not source:
                    problems.append(f"{source.value}->{target.value} should be refused, {outcome}")
                if len(events_of(order)) != before:
                    problems.append(f"{source.value}->{target.value} refused but wrote an event")
        assert problems == []


@pytest.mark.parametrize("move", list(EXPECTED_MOVES), ids=lambda m: f"{m[0].value}-{m[1].value}")
def test_every_role_makes_exactly_the_moves_of_its_role(app, alpha, move):
    """Each member of staff (roles at the order's store S1), then the customer, tries the move."""
    source, target = move
    allowed_users, customer_allowed, _ = EXPECTED_MOVES[move]
    with in_tenant(app, alpha):
        for key in USERS:
            user = staff(alpha, key)
            order = prepared(alpha, source, target)
            assert (move in {(m.source, m.target) for m in workflow.allowed_moves(order, user)}) == (
                key in allowed_users
            ), key
            mark = last_audit_id()
            if key in allowed_users:
                event = workflow.transition(order, target, user, reason="Because")
                assert order.status is target, key
                new_events = [e for e in events_of(order) if e.from_status is not None]
                assert len(new_events) == 1 and new_events[0] is event
                assert (event.from_status, event.to_status) == (source, target)
                assert (event.actor_id, event.actor_name, event.reason) == (
                    user.id,
                    user.full_name,
                    "Because",
                )
                changes = [
                    row
                    for row in audit_rows("repair_orders", order.id, mark)
                    if row.action is AuditAction.UPDATE and "status" in (row.after or {})
                ]
                assert [(c.before["status"], c.after["status"]) for c in changes] == [
                    (source.value, target.value)
                ]
                assert len(audit_rows("repair_status_events", event.id, mark)) == 1
            else:
                with pytest.raises(Refused, match="Your role at this store does not allow") as refused:
                    workflow.transition(order, target, user, reason="Because")
                assert refused.value.status_code == 409
                assert order.status is source and len(events_of(order)) == 1, key
                assert audit_rows("repair_orders", order.id, mark) == []

        order = prepared(alpha, source, target)
        if customer_allowed:
            event = workflow.transition(order, target, CustomerActor("Li Wei"))
            assert order.status is target
            assert (event.actor_id, event.actor_name) == (None, "Customer Li Wei")
        else:
            with pytest.raises(Refused, match="Only the store can make this change"):
                workflow.transition(order, target, CustomerActor("Li Wei"), reason="Because")
            assert order.status is source


def test_roles_count_at_the_orders_store_only(app, alpha):
    """The S1 manager and technician cannot act on an S2 order; S2's can (and not on S1's)."""
    with in_tenant(app, alpha):
        for key, allowed in (("manager", False), ("tech", False), ("manager2", True), ("tech2", True)):
            order = new_order(alpha, "S2")
            user = staff(alpha, key)
            if allowed:
                services.start_diagnosis(order, user)
                assert order.status is S.DIAGNOSING
            else:
                with pytest.raises(Refused, match="Your role at this store"):
                    services.start_diagnosis(order, user)
                assert order.status is S.RECEIVED and order.technician_id is None
        s1_order = new_order(alpha)
        assert workflow.allowed_moves(s1_order, staff(alpha, "manager2")) == []
        assert {m.target for m in workflow.allowed_moves(s1_order, staff(alpha, "manager"))} == {
            S.DIAGNOSING,
            S.CANCELLED,
        }
        assert {m.target for m in workflow.allowed_moves(s1_order, staff(alpha, "frontdesk"))} == {
            S.CANCELLED
        }
        assert workflow.allowed_moves(s1_order, staff(alpha, "trainer")) == []


@pytest.mark.parametrize("move", [m for m, (_, _, reason) in EXPECTED_MOVES.items() if reason], ids=str)
def test_moves_that_need_a_reason_refuse_a_blank_one(app, alpha, move):
    source, target = move
    with in_tenant(app, alpha):
        order = prepared(alpha, source, target)
        for blank in (None, "", "   "):
            with pytest.raises(DomainError, match="Give a reason") as error:
                workflow.transition(order, target, staff(alpha, "owner"), reason=blank)
            assert error.value.field == "reason" and error.value.status_code == 400
        assert order.status is source and len(events_of(order)) == 1


def test_cancel_needs_a_reason_and_records_it(app, alpha):
    with in_tenant(app, alpha):
        order = diagnosed(alpha)
        desk = staff(alpha, "frontdesk")
        with pytest.raises(DomainError, match="Give a reason"):
            services.cancel_order(order, desk, reason="  ")
        assert order.status is S.DIAGNOSING
        services.cancel_order(order, desk, reason="  Customer took it back ")
        event = events_of(order)[-1]
        assert (event.from_status, event.to_status, event.reason) == (
            S.DIAGNOSING,
            S.CANCELLED,
            "Customer took it back",
        )
        assert order.closed_at is not None and order.device.passcode is None


# --- 1b. preconditions, walked through the services ------------------------------------------------


def test_a_quote_comes_before_quoted(app, alpha):
    with in_tenant(app, alpha):
        order = new_order(alpha)
        tech = staff(alpha, "tech")
        services.start_diagnosis(order, tech)
        with pytest.raises(Refused, match="Record the cause, the repair plan and the repair type first"):
            workflow.transition(order, S.QUOTED, tech)
        services.record_diagnosis(
            order,
            tech,
            cause="Glass",
            plan="Screen",
            repair_type="parts-replacement",
            minutes=10,
            today=TODAY,
        )
        with pytest.raises(Refused, match="Send the customer an itemised quote first"):
            workflow.transition(order, S.QUOTED, tech)
        with pytest.raises(Refused, match="no draft quote to send"):
            services.send_quote(order, tech, today=TODAY)
        services.save_quote(order, tech, [SCREEN])
        with pytest.raises(Refused, match="itemised quote first"):  # a draft is not a sent quote
            workflow.transition(order, S.QUOTED, tech)
        assert order.status is S.DIAGNOSING
        services.send_quote(order, tech, today=TODAY)
        assert order.status is S.QUOTED and order.quotes[0].status is QuoteStatus.SENT


def test_an_approved_quote_and_a_technician_come_before_the_repair(app, alpha):
    with in_tenant(app, alpha):
        order = quoted(alpha)
        desk, tech = staff(alpha, "frontdesk"), staff(alpha, "tech")
        with pytest.raises(Refused, match="has not approved the quote"):
            workflow.transition(order, S.APPROVED, desk)
        with pytest.raises(Refused, match="has not declined the quote"):
            workflow.transition(order, S.DECLINED, desk)
        with pytest.raises(Refused, match="cannot become “In repair”"):
            services.start_repair(order, tech)
        decide(order, desk, 1)
        assert order.status is S.APPROVED and order.amount_due_cents == 90400
        order.technician_id, order.technician = None, None
        with pytest.raises(Refused, match="Assign a technician first"):
            services.start_repair(order, staff(alpha, "manager"))  # a manager does not take the order
        services.assign_technician(order, tech, staff(alpha, "manager"))
        services.start_repair(order, staff(alpha, "manager"))
        assert order.status is S.IN_REPAIR and order.technician_id == tech.id


def test_only_managers_assign_technicians_of_the_store(app, alpha):
    with in_tenant(app, alpha):
        order = new_order(alpha)
        with pytest.raises(Refused, match="Only the store manager assigns"):
            services.assign_technician(order, staff(alpha, "tech"), staff(alpha, "frontdesk"))
        with pytest.raises(DomainError, match="is not a technician of this store"):
            services.assign_technician(order, staff(alpha, "tech2"), staff(alpha, "manager"))
        assert order.technician_id is None


def test_work_is_logged_before_the_qc(app, alpha):
    with in_tenant(app, alpha):
        order = in_repair(alpha)
        tech = staff(alpha, "tech")
        with pytest.raises(Refused, match="Log the repair work before"):
            services.send_to_qc(order, tech)
        with pytest.raises(Refused, match="Only the assigned technician or a manager"):
            services.log_work(order, staff(alpha, "frontdesk"), step="Peek", minutes=5)
        with pytest.raises(DomainError, match="between 1 and 1440"):
            services.log_work(order, tech, step="Fix", minutes=0)
        with pytest.raises(DomainError, match="Describe the step"):
            services.log_work(order, tech, step="  ", minutes=5)
        assert order.status is S.IN_REPAIR
        services.log_work(order, tech, step="Fix", minutes=5)
        services.send_to_qc(order, tech)
        assert order.status is S.QC


def test_only_a_passed_check_makes_a_repair_ready_and_only_a_failed_one_sends_it_back(app, alpha):
    with in_tenant(app, alpha):
        order = in_qc(alpha)
        manager = staff(alpha, "manager")
        with pytest.raises(Refused, match="has not passed its quality check"):
            workflow.transition(order, S.READY, manager)
        services.begin_qc_check(order, manager, today=TODAY)  # in progress: neither passed nor failed
        with pytest.raises(Refused, match="has not passed its quality check"):
            workflow.transition(order, S.READY, manager)
        with pytest.raises(Refused, match="Only a failed quality check"):
            workflow.transition(order, S.IN_REPAIR, manager, reason="I changed my mind")
        assert order.status is S.QC


def test_delivery_needs_confirmation_signature_and_payment(app, alpha):
    with in_tenant(app, alpha):
        order = ready(alpha)
        desk = staff(alpha, "frontdesk")
        with pytest.raises(Refused, match="must confirm the fault is solved and sign"):
            workflow.transition(order, S.DELIVERED, desk)
        kwargs = dict(signer_name="Li Wei", signature_data_url=SIGNATURE, today=TODAY)
        with pytest.raises(DomainError, match="must confirm that the fault is solved") as error:
            services.deliver(order, desk, confirmed_fixed=False, **kwargs)
        assert error.value.field == "confirmed_fixed"
        with pytest.raises(DomainError, match="signature is missing"):
            services.deliver(order, desk, confirmed_fixed=True, **{**kwargs, "signature_data_url": ""})
        with pytest.raises(DomainError, match="name of the person signing"):
            services.deliver(order, desk, confirmed_fixed=True, **{**kwargs, "signer_name": " "})
        assert order.status is S.READY
        with pytest.raises(Refused, match="amount due has not been paid"):
            services.deliver(order, desk, confirmed_fixed=True, **kwargs)
        assert order.status is S.READY
        with pytest.raises(DomainError, match="more than the amount still due"):
            services.record_payment(order, desk, amount=Decimal("904.01"), method=PaymentMethod.CASH)
        with pytest.raises(DomainError, match="above zero"):
            services.record_payment(order, desk, amount=Decimal("0"), method=PaymentMethod.CASH)
        with pytest.raises(Refused, match="Only the front desk and managers take payments"):
            services.record_payment(
                order, staff(alpha, "tech"), amount=Decimal("1"), method=PaymentMethod.CASH
            )
        services.record_payment(order, desk, amount=Decimal("900"), method=PaymentMethod.CASH)
        with pytest.raises(Refused, match="amount due has not been paid"):
            services.deliver(order, desk, confirmed_fixed=True, **kwargs)
        services.record_payment(order, desk, amount=Decimal("4"), method=PaymentMethod.CARD)
        assert services.amount_paid(order) == 90400
        services.deliver(order, desk, confirmed_fixed=True, **kwargs)
        assert order.status is S.DELIVERED and order.delivered_at is not None
        assert order.device.passcode is None


def test_closing_follows_delivery_only(app, alpha):
    with in_tenant(app, alpha):
        order = delivered(alpha)
        desk = staff(alpha, "frontdesk")
        with pytest.raises(Refused, match="cannot become “Cancelled”"):
            services.cancel_order(order, desk, reason="Too late")
        services.close_order(order, desk)
        assert order.status is S.CLOSED and order.closed_at is not None
        with pytest.raises(Refused, match="cannot become"):
            services.close_order(order, desk)


def test_the_customer_may_only_answer_the_quote(app, alpha):
    with in_tenant(app, alpha):
        order = quoted(alpha)
        customer = CustomerActor("Li Wei")
        with pytest.raises(Refused, match="Only the store can make this change"):
            workflow.transition(order, S.CANCELLED, customer, reason="Changed my mind")
        quote = decide(order, customer, 1, method=DecisionMethod.ONLINE, signature_data_url=SIGNATURE)
        assert order.status is S.APPROVED and quote.decision_method is DecisionMethod.ONLINE
        assert quote.recorded_by_id is None and quote.decided_by_name == "Li Wei"
        event = events_of(order)[-1]
        assert (event.actor_id, event.actor_name) == (None, "Customer Li Wei")
        with pytest.raises(Refused, match="Only the store can make this change"):
            workflow.transition(order, S.IN_REPAIR, customer)
        assert order.status is S.APPROVED


def test_a_declined_quote_ends_the_order_with_the_reason(app, alpha):
    with in_tenant(app, alpha):
        order = quoted(alpha)
        quote = decide(
            order,
            CustomerActor("Li Wei"),
            1,
            approve=False,
            method=DecisionMethod.ONLINE,
            reason=" Too expensive ",
        )
        assert order.status is S.DECLINED and quote.status is QuoteStatus.DECLINED
        assert quote.decline_reason == "Too expensive" and events_of(order)[-1].reason == "Too expensive"
        assert order.device.passcode is None and order.closed_at is not None


# --- 2. stale pages --------------------------------------------------------------------------------------


def test_a_stale_version_is_refused_naming_who_changed_the_order(app, alpha):
    with in_tenant(app, alpha):
        order = new_order(alpha)
        seen = order.version
        tech, desk = staff(alpha, "tech"), staff(alpha, "frontdesk")
        services.start_diagnosis(order, tech, expected_version=seen)
        assert order.version > seen
        mark = last_audit_id()
        with pytest.raises(Conflict) as conflict:
            services.cancel_order(order, desk, reason="Customer called", expected_version=seen)
        assert conflict.value.status_code == 409
        assert tech.full_name in conflict.value.message and "Diagnosing" in conflict.value.message
        assert "Nothing was saved" in conflict.value.message
        assert order.status is S.DIAGNOSING and len(events_of(order)) == 2
        assert audit_rows("repair_orders", order.id, mark) == []
        for step in (
            lambda v: services.record_diagnosis(
                order,
                tech,
                cause="c",
                plan="p",
                repair_type="software",
                minutes=5,
                today=TODAY,
                expected_version=v,
            ),
            lambda v: services.save_quote(order, tech, [SCREEN], expected_version=v),
            lambda v: services.set_hold(order, tech, OrderHold.WAITING_FOR_CUSTOMER, expected_version=v),
            lambda v: services.assign_technician(order, tech, staff(alpha, "manager"), expected_version=v),
            lambda v: workflow.transition(order, S.CANCELLED, desk, reason="x", expected_version=v),
        ):
            with pytest.raises(Conflict, match=tech.full_name):
                step(seen)
        assert order.diagnosis is None and order.quotes == [] and order.hold is None
        services.cancel_order(order, desk, reason="Customer called", expected_version=order.version)
        assert order.status is S.CANCELLED


# --- 3. quotes --------------------------------------------------------------------------------------------


def test_quote_totals_are_itemised_with_tax_rounded_half_up_per_line(app, alpha):
    with in_tenant(app, alpha):
        order = diagnosed(alpha)
        quote = services.save_quote(
            order,
            staff(alpha, "tech"),
            [
                services.LineInput(QuoteLineKind.PART, "Battery", 3, Decimal("33.33"), Decimal("13")),
                services.LineInput(QuoteLineKind.LABOUR, " Labour ", 1, Decimal("0.50"), Decimal("1")),
                services.LineInput(QuoteLineKind.OTHER, "Cleaning", 2, Decimal("12.35"), Decimal("6.5")),
                services.LineInput(QuoteLineKind.OTHER, "Full tax", 1, Decimal("1.00"), Decimal("100")),
            ],
        )
        # 9999 + 1299.87 -> 1300; 50 + 0.5 -> 1 (half up, not to even); 2470 + 160.55 -> 161; 100 + 100
        assert [
            (line.quantity, line.unit_price_cents, line.tax_rate_bp, line.total_cents) for line in quote.lines
        ] == [
            (3, 3333, 1300, 11299),
            (1, 50, 100, 51),
            (2, 1235, 650, 2631),
            (1, 100, 10000, 200),
        ]
        assert [line.description for line in quote.lines] == ["Battery", "Labour", "Cleaning", "Full tax"]
        assert (quote.subtotal_cents, quote.tax_cents, quote.total_cents) == (12619, 1562, 14181)
        assert (quote.revision, quote.status) == (1, QuoteStatus.DRAFT)
        assert order.quotes == [quote]  # once, not twice (it was appended through the backref too)
        again = services.save_quote(order, staff(alpha, "tech"), [SCREEN])  # the draft is rewritten
        assert again is quote and len(quote.lines) == 1 and quote.total_cents == 90400


@pytest.mark.parametrize(
    "line, field, message",
    [
        (
            services.LineInput(QuoteLineKind.PART, "Screen", 0, Decimal("10"), Decimal("13")),
            "quantity",
            "at least 1",
        ),
        (
            services.LineInput(QuoteLineKind.PART, "Screen", -2, Decimal("10"), Decimal("13")),
            "quantity",
            "at least 1",
        ),
        (
            services.LineInput(QuoteLineKind.PART, "Screen", 1, Decimal("-0.01"), Decimal("13")),
            "unit_price",
            "cannot be negative",
        ),
        (
            services.LineInput(QuoteLineKind.PART, "Screen", 1, Decimal("10"), Decimal("100.01")),
            "tax_rate",
            "between 0 and 100",
        ),
        (
            services.LineInput(QuoteLineKind.PART, "Screen", 1, Decimal("10"), Decimal("-1")),
            "tax_rate",
            "between 0 and 100",
        ),
        (
            services.LineInput(QuoteLineKind.PART, "  ", 1, Decimal("10"), Decimal("13")),
            "description",
            "needs a description",
        ),
        (
            services.LineInput(QuoteLineKind.PART, "Ghost", 1, Decimal("10"), Decimal("13"), 2**31 - 1),
            "part",
            "not in the catalogue",
        ),
    ],
    ids=[
        "zero-quantity",
        "negative-quantity",
        "negative-price",
        "tax-over-100",
        "negative-tax",
        "blank",
        "unknown-part",
    ],
)
def test_bad_quote_lines_are_refused_and_nothing_is_saved(app, alpha, line, field, message):
    with in_tenant(app, alpha):
        order = diagnosed(alpha)
        db.session.commit()
        with pytest.raises(DomainError, match=message) as error, unit_of_work():
            services.save_quote(order, staff(alpha, "tech"), [SCREEN, line])
        assert error.value.field == field and error.value.status_code == 400
        count = db.session.scalar(
            sa.select(sa.func.count()).select_from(Quote).where(Quote.order_id == order.id)
        )
        assert count == 0


def test_an_empty_quote_is_refused_except_for_a_warranty_rework(app, alpha):
    with in_tenant(app, alpha):
        order = diagnosed(alpha)
        with pytest.raises(DomainError, match="at least one line") as error:
            services.save_quote(order, staff(alpha, "tech"), [])
        assert error.value.field == "lines"
        with pytest.raises(Refused, match="Only technicians and managers prepare quotes"):
            services.save_quote(order, staff(alpha, "frontdesk"), [SCREEN])


def test_a_price_rise_during_the_repair_needs_the_customers_approval_again(app, alpha):
    with in_tenant(app, alpha):
        order = in_repair(alpha)
        tech, desk = staff(alpha, "tech"), staff(alpha, "frontdesk")
        first = order.quotes[0]
        battery = services.LineInput(QuoteLineKind.PART, "Battery", 1, Decimal("100"), Decimal("13"))
        second = services.save_quote(order, tech, [SCREEN, battery])
        assert second.revision == 2 and second.total_cents == 90400 + 11300
        services.send_quote(order, tech, today=TODAY)
        assert order.status is S.QUOTED and second.status is QuoteStatus.SENT
        assert first.status is QuoteStatus.APPROVED and order.amount_due_cents == 90400
        event = events_of(order)[-1]
        assert (event.from_status, event.to_status) == (S.IN_REPAIR, S.QUOTED)
        assert event.details == {"previous_total_cents": 90400, "new_total_cents": 101700}
        assert "approve again" in event.reason
        with pytest.raises(Refused, match="cannot become “In repair”"):
            services.start_repair(order, tech)
        with pytest.raises(Refused, match="already answered"):
            decide(order, desk, 1)  # the old approval cannot be replayed for the new price

        decide(order, desk, 2)
        assert order.status is S.APPROVED and order.amount_due_cents == 101700
        assert (first.status, second.status) == (QuoteStatus.SUPERSEDED, QuoteStatus.APPROVED)
        services.start_repair(order, tech)
        assert order.status is S.IN_REPAIR and order.technician_id == tech.id


@pytest.mark.parametrize("total", [Decimal("904.00"), Decimal("500.00")], ids=["equal", "lower"])
def test_a_revision_within_the_approved_total_stands_on_the_approval(app, alpha, total):
    with in_tenant(app, alpha):
        order = in_repair(alpha)
        tech = staff(alpha, "tech")
        events = len(events_of(order))
        line = services.LineInput(QuoteLineKind.PART, "Cheaper screen", 1, total, Decimal("0"))
        revision = services.save_quote(order, tech, [line])
        services.send_quote(order, tech, today=TODAY)
        assert order.status is S.IN_REPAIR and len(events_of(order)) == events
        assert revision.status is QuoteStatus.APPROVED
        assert (
            revision.decision_method is DecisionMethod.WITHIN_APPROVAL and revision.recorded_by_id == tech.id
        )
        assert order.quotes[0].status is QuoteStatus.SUPERSEDED
        assert order.amount_due_cents == int(total * 100)
        assert services.approved_quote(order) is revision
        with pytest.raises(Refused, match="already answered"):
            decide(order, staff(alpha, "frontdesk"), revision.revision)


def test_a_replayed_decision_is_refused(app, alpha):
    with in_tenant(app, alpha):
        order = quoted(alpha)
        desk = staff(alpha, "frontdesk")
        decide(order, CustomerActor("Li Wei"), 1, method=DecisionMethod.ONLINE)
        events = len(events_of(order))
        for approve in (True, False):
            with pytest.raises(Refused, match="already answered") as refused:
                decide(order, desk, 1, approve=approve)
            assert refused.value.status_code == 409 and "Approved" in refused.value.message
        assert order.status is S.APPROVED and len(events_of(order)) == events
        with pytest.raises(NotFound):
            decide(order, desk, 7)


def test_a_revision_replaces_the_unanswered_one(app, alpha):
    with in_tenant(app, alpha):
        order = quoted(alpha)
        tech = staff(alpha, "tech")
        services.save_quote(order, tech, [SCREEN, SCREEN])
        services.send_quote(order, tech, today=TODAY)
        assert order.status is S.QUOTED
        assert [q.status for q in order.quotes] == [QuoteStatus.SUPERSEDED, QuoteStatus.SENT]
        with pytest.raises(Refused, match="replaced by a newer one"):
            decide(order, staff(alpha, "frontdesk"), 1)
        decide(order, staff(alpha, "frontdesk"), 2)
        assert order.amount_due_cents == 2 * 90400


def test_an_expired_quote_cannot_be_answered(app, alpha):
    with in_tenant(app, alpha):
        order = quoted(alpha)
        quote = order.quotes[0]
        assert quote.valid_until == TODAY + timedelta(days=7)  # the handbook default
        desk = staff(alpha, "frontdesk")
        with pytest.raises(Refused, match="expired") as refused:
            decide(order, desk, 1, today=quote.valid_until + timedelta(days=1))
        end = quote.valid_until
        assert f"{end:%B} {end.day}, {end.year}" in refused.value.message
        assert order.status is S.QUOTED and quote.status is QuoteStatus.SENT
        decide(order, desk, 1, today=quote.valid_until)  # the last day still counts
        assert order.status is S.APPROVED


def test_quote_validity_comes_from_the_standard_and_the_store_override(app, alpha):
    with in_tenant(app, alpha):
        db.session.add(
            ServiceTargetOverride(store_id=alpha.store_ids["S1"], target="quote_validity_days", value=3)
        )
        s2 = store(alpha, "S2")
        db.session.add(ServiceTargetOverride(chain_id=s2.chain_id, target="quote_validity_days", value=10))
        db.session.flush()
        order = quoted(alpha)
        assert order.quotes[0].valid_until == TODAY + timedelta(days=3)  # the store beats the chain
        with pytest.raises(Refused, match="expired"):
            decide(order, staff(alpha, "frontdesk"), 1, today=TODAY + timedelta(days=4))

        other = new_order(alpha, "S2")
        tech2 = staff(alpha, "tech2")
        services.start_diagnosis(other, tech2)
        services.record_diagnosis(
            other, tech2, cause="c", plan="p", repair_type="software", minutes=5, today=TODAY
        )
        services.save_quote(other, tech2, [SCREEN])
        services.send_quote(other, tech2, today=TODAY)
        assert other.quotes[0].valid_until == TODAY + timedelta(days=10)  # the chain's value


def test_a_quote_is_prepared_only_between_diagnosis_and_qc(app, alpha):
    with in_tenant(app, alpha):
        order = in_qc(alpha)
        with pytest.raises(Refused, match="after the diagnosis and before the quality check"):
            services.save_quote(order, staff(alpha, "tech"), [SCREEN])


# --- 4. QC separation of duties ---------------------------------------------------------------------------


def test_the_repairing_technician_cannot_begin_the_check(app, alpha):
    with in_tenant(app, alpha):
        order = in_qc(alpha)
        assert order.technician_id == staff(alpha, "tech").id
        with pytest.raises(Refused, match="assigned before the quality check"):  # no swap to dodge the rule
            services.assign_technician(order, staff(alpha, "tech"), staff(alpha, "manager"))
        with pytest.raises(DomainError, match="cannot check it") as raised:
            services.begin_qc_check(order, staff(alpha, "tech"), today=TODAY)
        # The screen shows the very reason the service gives, before anyone presses "Begin".
        assert services.qc_refusal(order, staff(alpha, "tech")) == raised.value.message
        for key in ("frontdesk", "trainer", "auditor", "manager2", "tech2"):
            with pytest.raises(Refused, match="does not allow quality checks") as raised:
                services.begin_qc_check(order, staff(alpha, key), today=TODAY)
            assert services.qc_refusal(order, staff(alpha, key)) == raised.value.message
        assert services.open_qc_check(order) is None
        for key in ("inspector", "qa", "manager", "owner"):
            assert services.qc_refusal(order, staff(alpha, key)) is None
            check = services.begin_qc_check(order, staff(alpha, key), today=TODAY)
            assert check.inspector_id == staff(alpha, key).id and check.status is QCCheckStatus.IN_PROGRESS
            with pytest.raises(Refused, match="has already begun a quality check of this order") as raised:
                services.begin_qc_check(order, staff(alpha, "inspector"), today=TODAY)
            assert services.qc_refusal(order, staff(alpha, "inspector")) == raised.value.message
            db.session.delete(check)  # so the next role may begin one
            db.session.flush()


def test_only_a_repair_waiting_for_qc_can_be_checked(app, alpha):
    with in_tenant(app, alpha):
        order = in_repair(alpha)
        with pytest.raises(DomainError, match="waiting for its quality check") as raised:
            services.begin_qc_check(order, staff(alpha, "inspector"), today=TODAY)
        assert services.qc_refusal(order, staff(alpha, "inspector")) == raised.value.message


def test_the_board_offers_a_technician_only_the_categories_they_are_qualified_for(app, alpha, monkeypatch):
    with in_tenant(app, alpha):
        here = alpha.store_ids["S1"]
        # The seeded technician holds certificates for every category (tests/seed_training.py).
        every = {"smartphone", "laptop", "tablet", "other"}
        assert services.categories_offered(staff(alpha, "tech"), here) == every
        monkeypatch.setattr(services, "qualified_categories", lambda user: {"laptop"})
        assert services.categories_offered(staff(alpha, "tech"), here) == {"laptop"}
        for key in ("manager", "frontdesk", "owner", "inspector"):  # the desk and managers see every order
            assert services.categories_offered(staff(alpha, key), here) is None


def test_a_failed_critical_item_sends_the_repair_back_with_the_failed_items(app, alpha):
    with in_tenant(app, alpha):
        order = in_qc(alpha)
        inspector = staff(alpha, "inspector")
        check = services.begin_qc_check(order, inspector, today=TODAY)
        answers = passing_answers(check)
        answers["touch"] = services.ResultInput(passed=False, note="Dead zone top left")
        answers["cameras"] = services.ResultInput(passed=False)
        services.record_qc_results(check, inspector, answers)
        photograph(order, check, inspector)
        services.finish_qc_check(check, inspector)
        assert check.status is QCCheckStatus.FAILED and order.status is S.IN_REPAIR
        event = events_of(order)[-1]
        assert (event.from_status, event.to_status, event.actor_id) == (S.QC, S.IN_REPAIR, inspector.id)
        assert event.details == {"qc_check_id": check.id, "failed_items": ["touch", "cameras"]}
        assert "Touch responds over the whole screen" in event.reason
        # back on the bench: fixed again, checked again by a fresh check
        tech = staff(alpha, "tech")
        services.log_work(order, tech, step="Replaced the digitiser", minutes=30)
        services.send_to_qc(order, tech)
        again = services.begin_qc_check(order, inspector, today=TODAY)
        assert again.id != check.id and all(r.passed is None for r in again.results)


def test_a_failed_non_critical_item_still_passes_and_is_noted(app, alpha):
    with in_tenant(app, alpha):
        order = in_qc(alpha)
        inspector = staff(alpha, "inspector")
        check = services.begin_qc_check(order, inspector, today=TODAY)
        answers = passing_answers(check)
        answers["cameras"] = services.ResultInput(passed=False, note="Rear camera slow to focus")
        services.record_qc_results(check, inspector, answers)
        photograph(order, check, inspector)
        services.finish_qc_check(check, inspector)
        assert check.status is QCCheckStatus.PASSED and order.status is S.READY
        event = events_of(order)[-1]
        assert event.details["failed_items"] == ["cameras"] and event.reason.startswith("Passed; noted")


@pytest.mark.parametrize(
    "item, value, passed",
    [
        ("charging", 0.5, True),
        ("charging", 3.0, True),
        ("charging", 0.49, False),
        ("charging", 3.01, False),
        ("battery-health", 80.0, True),
        ("battery-health", 100.0, True),
        ("battery-health", 79.9, False),
    ],
)
def test_measured_values_pass_only_within_their_limits(app, alpha, item, value, passed):
    with in_tenant(app, alpha):
        order = in_qc(alpha)
        inspector = staff(alpha, "inspector")
        check = services.begin_qc_check(order, inspector, today=TODAY)
        answers = passing_answers(check)
        answers[item] = services.ResultInput(measured_value=value)
        services.record_qc_results(check, inspector, answers)
        result = next(r for r in check.results if r.item_code == item)
        assert (result.measured_value, result.passed) == (value, passed)
        photograph(order, check, inspector)
        services.finish_qc_check(check, inspector)
        event = events_of(order)[-1]
        assert (item in event.details["failed_items"]) is (not passed)


def test_a_critical_measured_item_out_of_range_fails_the_check(app, alpha):
    """A laptop's checklist; the charging voltage made critical by a newer standard version."""
    with in_tenant(app, alpha):
        draft = standards.start_draft()
        document = copy.deepcopy(draft.document)
        laptop = next(c for c in document["qc_checklists"] if c["category"] == "laptop")
        next(i for i in laptop["items"] if i["code"] == "charging")["critical"] = True
        standards.save_draft(draft, document)
        standards.publish(draft, TODAY, today=TODAY, publisher_id=None)
        order = in_qc(alpha, category="laptop", imei=None)
        inspector = staff(alpha, "inspector")
        check = services.begin_qc_check(order, inspector, today=TODAY)
        answers = passing_answers(check)
        answers["charging"] = services.ResultInput(measured_value=18.9)
        services.record_qc_results(check, inspector, answers)
        photograph(order, check, inspector)
        services.finish_qc_check(check, inspector)
        assert order.status is S.IN_REPAIR and events_of(order)[-1].details["failed_items"] == ["charging"]


def test_photo_items_need_a_photo_and_every_item_an_answer(app, alpha):
    with in_tenant(app, alpha):
        order = in_qc(alpha)
        inspector = staff(alpha, "inspector")
        check = services.begin_qc_check(order, inspector, today=TODAY)
        answers = passing_answers(check)
        services.record_qc_results(check, inspector, answers)
        with pytest.raises(
            DomainError, match="Answer every item first: Photo of the device after repair"
        ) as error:
            services.finish_qc_check(check, inspector)
        assert error.value.field == "results"
        assert order.status is S.QC and check.status is QCCheckStatus.IN_PROGRESS
        services.record_qc_results(
            check, inspector, {"battery-health": services.ResultInput(measured_value=None)}
        )
        photo_item = next(r for r in check.results if r.kind == "photo")
        with pytest.raises(DomainError, match="not a photo"):
            services.add_photo(
                order, PhotoStage.QC, b"%PDF-1.4 no photo", "report.pdf", inspector, qc_result=photo_item
            )
        services.add_photo(order, PhotoStage.QC, PNG, "after.png", inspector, qc_result=photo_item)
        with pytest.raises(DomainError, match="Answer every item first: Battery health"):
            services.finish_qc_check(check, inspector)
        services.record_qc_results(
            check, inspector, {"battery-health": services.ResultInput(measured_value=91)}
        )
        services.finish_qc_check(check, inspector)
        assert photo_item.passed is True and order.status is S.READY


def test_only_the_inspector_who_began_records_and_finishes(app, alpha):
    with in_tenant(app, alpha):
        order = in_qc(alpha)
        inspector, qa = staff(alpha, "inspector"), staff(alpha, "qa")
        check = services.begin_qc_check(order, inspector, today=TODAY)
        answers = passing_answers(check)
        with pytest.raises(Refused, match="Only the person who began this quality check"):
            services.record_qc_results(check, qa, answers)
        assert all(r.passed is None for r in check.results)
        services.record_qc_results(check, inspector, answers)
        photograph(order, check, inspector)
        with pytest.raises(Refused, match="Only the person who began this quality check"):
            services.finish_qc_check(check, qa)
        assert order.status is S.QC
        services.finish_qc_check(check, inspector)
        with pytest.raises(Refused, match="This quality check is finished"):
            services.record_qc_results(check, inspector, answers)
        with pytest.raises(Refused, match="This quality check is finished"):
            services.finish_qc_check(check, inspector)


# --- 5. warranty -------------------------------------------------------------------------------------------


def test_a_warranty_claim_on_the_last_day_opens_a_free_rework(app, alpha):
    with in_tenant(app, alpha):
        order = delivered(alpha)
        assert (order.warranty_days, order.warranty_until) == (90, TODAY + timedelta(days=90))
        desk, tech = staff(alpha, "frontdesk"), staff(alpha, "tech")
        rework = services.claim_warranty(
            order, desk, symptoms=" Touch fails again ", today=order.warranty_until
        )
        assert rework.rework_of_id == order.id and rework.is_rework
        assert (rework.device_id, rework.customer_id, rework.store_id) == (
            order.device_id,
            order.customer_id,
            order.store_id,
        )
        assert rework.status is S.RECEIVED and rework.fault_symptoms == "Touch fails again"
        assert rework.number != order.number and order.number in rework.customer_requirements
        assert [(e.from_status, e.to_status) for e in events_of(rework)] == [(None, S.RECEIVED)]

        services.start_diagnosis(rework, tech)
        services.record_diagnosis(
            rework,
            tech,
            cause="Loose flex",
            plan="Reseat",
            repair_type="parts-replacement",
            minutes=10,
            today=TODAY,
        )
        quote = services.save_quote(rework, tech, [])
        assert quote.total_cents == 0
        services.send_quote(rework, tech, today=TODAY)
        assert quote.status is QuoteStatus.APPROVED and quote.decision_method is DecisionMethod.WARRANTY
        assert rework.status is S.APPROVED and rework.amount_due_cents == 0
        event = events_of(rework)[-1]
        assert (event.from_status, event.to_status) == (S.DIAGNOSING, S.APPROVED)
        services.start_repair(rework, tech)
        assert rework.status is S.IN_REPAIR


def test_a_warranty_claim_the_day_after_is_refused_with_the_end_date(app, alpha):
    with in_tenant(app, alpha):
        order = delivered(alpha)
        end = order.warranty_until
        count = db.session.scalar(sa.select(sa.func.count()).select_from(RepairOrder))
        with pytest.raises(Refused, match="ended on") as refused:
            services.claim_warranty(
                order, staff(alpha, "frontdesk"), symptoms="Again", today=end + timedelta(days=1)
            )
        assert (
            f"{end:%B} {end.day}, {end.year}" in refused.value.message
            and order.number in refused.value.message
        )
        assert db.session.scalar(sa.select(sa.func.count()).select_from(RepairOrder)) == count
        with pytest.raises(Refused, match="Only delivered repairs have a warranty"):
            services.claim_warranty(ready(alpha), staff(alpha, "frontdesk"), symptoms="x", today=TODAY)
        with pytest.raises(Refused, match="does not allow receiving devices"):
            services.claim_warranty(order, staff(alpha, "tech"), symptoms="x", today=TODAY)


def test_a_rework_that_costs_something_needs_the_customers_approval(app, alpha):
    with in_tenant(app, alpha):
        order = delivered(alpha)
        tech = staff(alpha, "tech")
        rework = services.claim_warranty(order, staff(alpha, "frontdesk"), symptoms="Dropped it", today=TODAY)
        services.start_diagnosis(rework, tech)
        services.record_diagnosis(
            rework,
            tech,
            cause="Drop",
            plan="Screen",
            repair_type="parts-replacement",
            minutes=10,
            today=TODAY,
        )
        services.save_quote(rework, tech, [SCREEN])
        services.send_quote(rework, tech, today=TODAY)
        assert rework.status is S.QUOTED and rework.quotes[0].status is QuoteStatus.SENT


@pytest.mark.parametrize(
    "category, repair_type, days",
    [
        ("smartphone", "parts-replacement", 90),
        ("smartphone", "board-repair", 60),
        ("smartphone", "software", 30),
        ("laptop", "board-repair", 60),
    ],
)
def test_warranty_days_come_from_the_rule_for_category_and_repair_type(
    app, alpha, category, repair_type, days
):
    with in_tenant(app, alpha):
        order = delivered(alpha, category=category, repair_type=repair_type, imei=None)
        assert order.warranty_days == days and order.warranty_until == TODAY + timedelta(days=days)


def test_warranty_days_follow_the_version_in_force_on_the_day_of_delivery(app, alpha):
    tomorrow = TODAY + timedelta(days=1)
    with in_tenant(app, alpha):
        draft = standards.start_draft()
        document = copy.deepcopy(draft.document)
        rule = next(
            r
            for r in document["service_targets"]["warranty"]
            if (r["category"], r["repair_type"]) == ("smartphone", "software")
        )
        rule["days"] = 45
        standards.save_draft(draft, document)
        standards.publish(draft, tomorrow, today=TODAY, publisher_id=None)
        today_order = delivered(alpha, repair_type="software")
        tomorrow_order = delivered(alpha, repair_type="software", today=tomorrow)
        assert today_order.warranty_until == TODAY + timedelta(days=30)
        assert (tomorrow_order.warranty_days, tomorrow_order.warranty_until) == (
            45,
            tomorrow + timedelta(days=45),
        )


# --- 6. stock ----------------------------------------------------------------------------------------------


def new_part(tenant: SeededTenant, on_hand: int, store_name: str = "S1") -> Part:
    part = Part(sku=f"P-{uuid.uuid4().hex[:8]}", name="Battery", category="smartphone", unit_price_cents=9900)
    db.session.add(part)
    db.session.flush()
    if on_hand:
        manager = staff(tenant, "manager" if store_name == "S1" else "manager2")
        services.receive_stock(store(tenant, store_name), manager, part_id=part.id, quantity=on_hand)
    return part


def on_hand(store_id: int, part_id: int) -> int | None:
    return db.session.scalar(
        sa.select(StockLevel.quantity).where(StockLevel.store_id == store_id, StockLevel.part_id == part_id)
    )


def movements(part_id: int) -> list[StockMovement]:
    return list(
        db.session.execute(
            sa.select(StockMovement).where(StockMovement.part_id == part_id).order_by(StockMovement.id)
        ).scalars()
    )


def test_consuming_a_part_decrements_the_stock_and_records_the_movement(app, alpha):
    with in_tenant(app, alpha):
        order = in_repair(alpha)
        tech = staff(alpha, "tech")
        part = new_part(alpha, 3)
        services.receive_stock(store(alpha, "S2"), staff(alpha, "manager2"), part_id=part.id, quantity=7)
        movement = services.consume_part(order, tech, part_id=part.id, quantity=2)
        assert on_hand(order.store_id, part.id) == 1 and on_hand(alpha.store_ids["S2"], part.id) == 7
        assert (movement.change, movement.reason, movement.order_id, movement.actor_id) == (
            -2,
            StockReason.CONSUMPTION,
            order.id,
            tech.id,
        )
        assert [(m.store_id, m.change, m.reason) for m in movements(part.id)] == [
            (order.store_id, 3, StockReason.RECEIPT),
            (alpha.store_ids["S2"], 7, StockReason.RECEIPT),
            (order.store_id, -2, StockReason.CONSUMPTION),
        ]
        with pytest.raises(Refused, match="Only the assigned technician or a manager"):
            services.consume_part(order, staff(alpha, "frontdesk"), part_id=part.id, quantity=1)
        with pytest.raises(DomainError, match="at least 1"):
            services.consume_part(order, tech, part_id=part.id, quantity=0)
        part.is_active = False
        with pytest.raises(DomainError, match="not in the catalogue"):
            services.consume_part(order, tech, part_id=part.id, quantity=1)
        with pytest.raises(Refused, match="Only the store manager receives stock"):
            services.receive_stock(store(alpha), tech, part_id=part.id, quantity=1)
        assert on_hand(order.store_id, part.id) == 1


def test_taking_more_than_on_hand_is_refused_with_the_counts_and_changes_nothing(app, alpha):
    with in_tenant(app, alpha):
        order = in_repair(alpha)
        part = new_part(alpha, 2)
        before = movements(part.id)
        with pytest.raises(services.OutOfStock) as refused:
            services.consume_part(order, staff(alpha, "tech"), part_id=part.id, quantity=3)
        assert refused.value.status_code == 409
        assert "Only 2 of" in refused.value.message and "3 needed" in refused.value.message
        assert part.sku in refused.value.message
        assert on_hand(order.store_id, part.id) == 2 and movements(part.id) == before
        assert order.hold is None
        # a part the store never stocked: zero on hand
        empty = new_part(alpha, 0)
        with pytest.raises(services.OutOfStock, match="Only 0 of"):
            services.consume_part(order, staff(alpha, "tech"), part_id=empty.id, quantity=1)


def test_a_short_part_can_put_the_order_on_hold_which_blocks_the_qc(app, alpha):
    with in_tenant(app, alpha):
        order = in_repair(alpha)
        tech = staff(alpha, "tech")
        part = new_part(alpha, 1)
        services.log_work(order, tech, step="Opened the device", minutes=10)
        assert services.consume_part(order, tech, part_id=part.id, quantity=2, hold_if_short=True) is None
        assert order.hold is OrderHold.WAITING_FOR_PARTS and order.status is S.IN_REPAIR
        assert "2 needed, 1 in stock" in order.hold_note
        assert on_hand(order.store_id, part.id) == 1 and len(movements(part.id)) == 1
        with pytest.raises(Refused, match="on hold"):
            services.send_to_qc(order, tech)
        assert order.status is S.IN_REPAIR
        services.receive_stock(store(alpha), staff(alpha, "manager"), part_id=part.id, quantity=1)
        services.consume_part(order, tech, part_id=part.id, quantity=2)
        services.set_hold(order, tech, None, "ignored")
        assert order.hold is None and order.hold_note is None
        services.send_to_qc(order, tech)
        assert order.status is S.QC and on_hand(order.store_id, part.id) == 0


def test_holds_are_for_open_orders_and_store_staff(app, alpha):
    with in_tenant(app, alpha):
        order = new_order(alpha)
        with pytest.raises(Refused, match="does not allow this"):
            services.set_hold(order, staff(alpha, "manager2"), OrderHold.WAITING_FOR_CUSTOMER)
        services.set_hold(order, staff(alpha, "frontdesk"), OrderHold.WAITING_FOR_CUSTOMER, "  Calling back ")
        assert (order.hold, order.hold_note) == (OrderHold.WAITING_FOR_CUSTOMER, "Calling back")
        services.cancel_order(order, staff(alpha, "frontdesk"), reason="No answer")
        assert order.hold is None  # leaving the store ends the hold
        with pytest.raises(Refused, match="Only open orders"):
            services.set_hold(order, staff(alpha, "frontdesk"), OrderHold.WAITING_FOR_CUSTOMER)


def test_the_stock_decrement_is_one_conditional_update(app, alpha, statements):
    """The guard against two technicians taking the last part is in the UPDATE's WHERE clause."""
    with in_tenant(app, alpha):
        order = in_repair(alpha)
        part = new_part(alpha, 1)
        with statements() as seen:
            services.consume_part(order, staff(alpha, "tech"), part_id=part.id, quantity=1)
        updates = [s for s in seen if s.startswith("update") and "stock_levels" in s]
        assert len(updates) == 1
        assert "stock_levels.quantity >=" in updates[0] and "returning" in updates[0]
        assert not any(s.startswith("select") and "stock_levels" in s for s in seen)  # no read-then-write


# --- 7. order numbers ------------------------------------------------------------------------------------


def sequence(number: str) -> int:
    return int(number.rsplit("-", 1)[1])


def test_order_numbers_are_sequential_per_store_with_independent_counters(app, alpha, beta):
    with in_tenant(app, alpha):
        first, second = new_order(alpha), new_order(alpha)
        s2 = new_order(alpha, "S2")
        third = new_order(alpha)
        prefix = f"{alpha.store_sentinel('S1')}-"
        assert all(o.number.startswith(prefix) for o in (first, second, third))
        assert len(first.number) == len(prefix) + 6
        assert [sequence(o.number) for o in (second, third)] == [
            sequence(first.number) + 1,
            sequence(first.number) + 2,
        ]
        assert s2.number.startswith(f"{alpha.store_sentinel('S2')}-")
        s1_counter, s2_counter = store(alpha).last_order_number, store(alpha, "S2").last_order_number
        db.session.expire_all()
        assert (store(alpha).last_order_number, store(alpha, "S2").last_order_number) == (
            sequence(third.number),
            sequence(s2.number),
        )
        assert s1_counter is not None and s2_counter is not None
    with in_tenant(app, beta):
        beta_counter = store(beta).last_order_number
        order = new_order(beta)
        assert sequence(order.number) == beta_counter + 1 and order.number.startswith(
            beta.store_sentinel("S1")
        )


def test_an_order_number_is_unique_within_its_store(app, alpha):
    with in_tenant(app, alpha):
        order = new_order(alpha)
        duplicate = RepairOrder(
            store_id=order.store_id,
            number=order.number,
            customer_id=order.customer_id,
            device_id=order.device_id,
            fault_symptoms="Duplicate",
        )
        nested = db.session.begin_nested()
        db.session.add(duplicate)
        with pytest.raises(sa.exc.IntegrityError):
            db.session.flush()
        nested.rollback()
        elsewhere = RepairOrder(
            store_id=alpha.store_ids["S2"],
            number=order.number,
            customer_id=order.customer_id,
            device_id=order.device_id,
            fault_symptoms="Same text, other store",
        )
        db.session.add(elsewhere)
        db.session.flush()  # the constraint is per store


# --- 9. tracking tokens ----------------------------------------------------------------------------------


#: The alphabet of URL-safe base64, in which itsdangerous writes a token's parts.
BASE64URL = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"


def test_a_tracking_token_names_its_order_and_any_changed_character_breaks_it(app, alpha):
    with in_tenant(app, alpha):
        order = new_order(alpha)
        token = services.tracking_token(order)
        assert services.order_for_token(token) is order
        for position, char in enumerate(token):
            # Flip the top bit of the character's six: a data bit even in the last character of a
            # part, whose low bits the base64 decoder ignores. A "." (between parts) becomes a letter.
            changed = BASE64URL[BASE64URL.index(char) ^ 32] if char in BASE64URL else "A"
            forged = token[:position] + changed + token[position + 1 :]
            with pytest.raises(NotFound, match="not valid"):
                services.order_for_token(forged)


def test_another_tenants_token_is_not_found(app, alpha, beta):
    """Even when the other tenant has an order with that id and that very tracking key."""
    with in_tenant(app, alpha):
        order = db.session.get(RepairOrder, alpha.ids["repair_orders"][0])
        order_id, nonce, token = order.id, order.tracking_nonce, services.tracking_token(order)
    with in_tenant(app, beta):
        twin = db.session.get(RepairOrder, order_id)
        twin.tracking_nonce = nonce
        db.session.flush()
        with pytest.raises(NotFound, match="not valid") as error:
            services.order_for_token(token)
        assert error.value.status_code == 404
        assert services.order_for_token(services.tracking_token(twin)) is twin


def test_a_tampered_token_is_not_found(app, alpha):
    with in_tenant(app, alpha):
        token = services.tracking_token(new_order(alpha))
        payload, signature = token.rsplit(".", 1)
        other = "A" if signature[0] != "A" else "B"
        for forged in (f"{payload}.{other}{signature[1:]}", f"x{token}", token[:-3], "", "not.a.token"):
            with pytest.raises(NotFound, match="not valid"):
                services.order_for_token(forged)


def test_an_expired_token_is_gone(app, alpha, monkeypatch):
    with in_tenant(app, alpha):
        order = new_order(alpha)
        monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 3600)
        old = services.tracking_token(order)
        monkeypatch.undo()
        monkeypatch.setitem(app.config, "TRACKING_LINK_MAX_AGE", 600)
        with pytest.raises(services.LinkExpired, match="expired") as error:
            services.order_for_token(old)
        assert error.value.status_code == 410
        assert services.order_for_token(services.tracking_token(order)) is order  # a fresh one works
        monkeypatch.setitem(app.config, "TRACKING_LINK_MAX_AGE", 7200)
        assert services.order_for_token(old) is order


def test_a_new_tracking_nonce_revokes_the_links_sent(app, alpha):
    with in_tenant(app, alpha):
        order = new_order(alpha)
        token = services.tracking_token(order)
        order.tracking_nonce = uuid.uuid4().hex
        db.session.flush()
        with pytest.raises(NotFound, match="not valid"):
            services.order_for_token(token)
        assert services.order_for_token(services.tracking_token(order)) is order


# --- 10. notifications -------------------------------------------------------------------------------------


@pytest.fixture
def queued(monkeypatch) -> list[tuple]:
    """Jobs enqueued, recorded instead of run."""
    calls: list[tuple] = []
    monkeypatch.setattr(jobs, "enqueue", lambda func, *args, **kw: calls.append((func, *args)))
    return calls


def test_the_customer_is_notified_of_quoted_ready_delivered_and_cancelled_after_commit(app, alpha, queued):
    with in_tenant(app, alpha):
        with unit_of_work():
            order = diagnosed(alpha)
        assert queued == []  # received and diagnosing: nothing to tell
        with unit_of_work():
            services.save_quote(order, staff(alpha, "tech"), [SCREEN])
            services.send_quote(order, staff(alpha, "tech"), today=TODAY)
            assert queued == []  # not before the commit
        quoted_event = events_of(order)[-1]
        assert queued == [(notify_customer, order.id, quoted_event.id)]
        queued.clear()
        with unit_of_work():
            decide(order, staff(alpha, "frontdesk"), 1)
            services.start_repair(order, staff(alpha, "tech"))
            services.log_work(order, staff(alpha, "tech"), step="Fix", minutes=5)
            services.send_to_qc(order, staff(alpha, "tech"))
        assert queued == []  # approved, in repair, qc: the store's business
        with unit_of_work():
            inspector = staff(alpha, "inspector")
            check = services.begin_qc_check(order, inspector, today=TODAY)
            services.record_qc_results(check, inspector, passing_answers(check))
            photograph(order, check, inspector)
            services.finish_qc_check(check, inspector)
        assert queued == [(notify_customer, order.id, events_of(order)[-1].id)]
        queued.clear()
        with unit_of_work():
            desk = staff(alpha, "frontdesk")
            services.record_payment(order, desk, amount=Decimal("904"), method=PaymentMethod.CASH)
            services.deliver(
                order,
                desk,
                signer_name="Li Wei",
                signature_data_url=SIGNATURE,
                confirmed_fixed=True,
                today=TODAY,
            )
        assert queued == [(notify_customer, order.id, events_of(order)[-1].id)]
        assert events_of(order)[-1].to_status is S.DELIVERED
        queued.clear()
        with unit_of_work():
            other = new_order(alpha)
            services.cancel_order(other, staff(alpha, "frontdesk"), reason="Customer changed their mind")
        assert queued == [(notify_customer, other.id, events_of(other)[-1].id)]


def test_nothing_is_queued_when_the_step_is_rolled_back(app, alpha, queued):
    with in_tenant(app, alpha):
        order = new_order(alpha)
        db.session.commit()
        with pytest.raises(RuntimeError), unit_of_work():
            services.cancel_order(order, staff(alpha, "frontdesk"), reason="Oops")
            raise RuntimeError("the request failed after the move")
        assert queued == []
        assert db.session.get(RepairOrder, order.id).status is S.RECEIVED


def test_a_revised_quote_while_quoted_queues_a_revised_quote_notice(app, alpha, queued):
    with in_tenant(app, alpha):
        with unit_of_work():
            order = quoted(alpha)
        queued.clear()
        with unit_of_work():
            services.save_quote(order, staff(alpha, "tech"), [SCREEN, SCREEN])
            services.send_quote(order, staff(alpha, "tech"), today=TODAY)
        assert queued == [(notify_customer, order.id, None)]


def body_of(message: email.message.EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()


def tracked_order(app, tenant: SeededTenant, body: str) -> int:
    link = next(line for line in body.splitlines() if "/track/" in line).strip()
    assert link.startswith(f"http://{tenant.host}/track/")
    with in_tenant(app, tenant):
        return services.order_for_token(link.rsplit("/track/", 1)[1]).id


def test_the_customer_gets_a_mail_in_their_language_with_a_tracking_link(app, alpha, mailbox):
    customer = services.NewCustomer(
        "Wang Fang", phone="+86 139 0000 0001", email="wang@example.cn", language="zh_Hans_CN"
    )
    with in_tenant(app, alpha):
        with unit_of_work():
            order = diagnosed(alpha, new_customer=customer)
        number, order_id = order.number, order.id
        assert mailbox.messages == []
        with unit_of_work():
            services.save_quote(order, staff(alpha, "tech"), [SCREEN])
            services.send_quote(order, staff(alpha, "tech"), today=TODAY)
    [message] = mailbox.to("wang@example.cn")
    assert number in message["Subject"]
    body = body_of(message)
    assert "904" in body  # the total of the quote
    assert tracked_order(app, alpha, body) == order_id


def test_cancelling_mails_the_reason_and_a_customer_without_e_mail_gets_none(app, alpha, mailbox):
    with in_tenant(app, alpha):
        with unit_of_work():
            mailed = new_order(alpha)
            silent = new_order(alpha, new_customer=services.NewCustomer("No Mail", phone="+86 139 0000 0002"))
            services.cancel_order(mailed, staff(alpha, "frontdesk"), reason="Parts discontinued")
            services.cancel_order(silent, staff(alpha, "frontdesk"), reason="Parts discontinued")
        number, order_id = mailed.number, mailed.id
    assert len(mailbox.messages) == 1
    [message] = mailbox.to("li@example.com")
    assert number in message["Subject"] and "Cancelled" in message["Subject"]
    body = body_of(message)
    assert "Parts discontinued" in body and tracked_order(app, alpha, body) == order_id


def test_the_notification_job_returns_nothing_for_a_customer_without_e_mail(app, alpha, mailbox):
    with in_tenant(app, alpha):
        order = new_order(alpha, new_customer=services.NewCustomer("No Mail", phone="+86 139 0000 0003"))
        assert notify_customer(order.id, None) is None
        with_mail = new_order(alpha)
        assert notify_customer(with_mail.id, None) == "li@example.com"
        assert notify_customer(2**31 - 1, None) is None
    assert [m["To"] for m in mailbox.messages] == ["li@example.com"]
    assert "revised quote" in mailbox.messages[0]["Subject"]


# --- concurrency and a real worker: committed data in a scratch tenant -----------------------------


@pytest.fixture(scope="module")
def scratch(backend) -> Iterator[SeededTenant]:
    """A third tenant whose data these tests commit for real, deleted at the end of the module.

    Separate transactions cannot see the `app` fixture's pinned, never-committed changes, and
    committing into alpha or beta would leak into other tests.
    """
    app = backend.app
    with app.app_context():
        tenant = provision_seeded("C", extra_rows=0)
    yield tenant
    with app.app_context(), unit_of_work():
        tenants.delete_tenant(tenant.ref.slug)


@contextlib.contextmanager
def committed(backend, tenant: SeededTenant) -> Iterator[None]:
    """One unit of work in `tenant`, on its own connection (nothing pinned)."""
    with backend.app.app_context(), tenant_context(tenant.ref), unit_of_work():
        yield


def run_in_threads(count: int, work) -> list:
    """Run `work(i, barrier)` in `count` threads; returns each result or exception."""
    barrier = threading.Barrier(count, timeout=30)
    results: list = [None] * count

    def target(i: int) -> None:
        try:
            results[i] = work(i, barrier)
        except BaseException as exc:  # reported to the test
            results[i] = exc

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads)
    return results


def test_two_technicians_taking_the_last_part_at_once_one_succeeds(backend, scratch):
    """PostgreSQL: two transactions race for the last part; the loser waits for the winner's
    commit and then finds none. SQLite has one writer at a time: the second transaction, on its
    own connection, finds the part gone."""
    with committed(backend, scratch):
        orders = [in_repair(scratch).id for _ in range(2)]
        part = new_part(scratch, 1)
        part_id, store_id = part.id, scratch.store_ids["S1"]

    def take(i: int, barrier: threading.Barrier | None):
        with committed(backend, scratch):
            order = db.session.get(RepairOrder, orders[i])
            tech = staff(scratch, "tech")
            if barrier is not None:
                barrier.wait()
            started = time.monotonic()
            try:
                services.consume_part(order, tech, part_id=part_id, quantity=1)
            except services.OutOfStock as refused:
                return refused, time.monotonic() - started
            time.sleep(1.0)  # hold the row lock: the other transaction must wait for this commit
            return "took", time.monotonic() - started

    racing = backend.name == "postgresql"
    results = run_in_threads(2, take) if racing else [take(0, None), take(1, None)]
    outcomes = [r[0] if isinstance(r, tuple) else r for r in results]
    assert sorted(map(str, outcomes)).count("took") == 1, outcomes
    [(refused, waited)] = [r for r in results if not isinstance(r[0], str)]
    assert isinstance(refused, services.OutOfStock) and "Only 0 of" in refused.message
    if backend.name == "postgresql":
        assert waited >= 0.5  # it was blocked by the winner's uncommitted update, not sequential
    with committed(backend, scratch):
        assert on_hand(store_id, part_id) == 0
        assert [m.change for m in movements(part_id)] == [1, -1]


def test_concurrent_intakes_get_distinct_sequential_numbers(backend, scratch):
    """PostgreSQL: N transactions take numbers for one store at once. SQLite: N separate ones."""
    count = 8
    with committed(backend, scratch):
        start = store(scratch).last_order_number

    def take(i: int, barrier: threading.Barrier | None) -> str:
        with committed(backend, scratch):
            s1 = store(scratch)
            if barrier is not None:
                barrier.wait()
            number = services.next_order_number(s1)
            time.sleep(0.05)
            return number

    if backend.name == "postgresql":
        numbers = run_in_threads(count, take)
    else:
        numbers = [take(i, None) for i in range(count)]
    assert all(isinstance(n, str) for n in numbers), numbers
    assert len(set(numbers)) == count
    assert sorted(sequence(n) for n in numbers) == list(range(start + 1, start + count + 1))
    with committed(backend, scratch):
        assert store(scratch).last_order_number == start + count


def test_a_rolled_back_intake_leaves_a_gap_never_a_duplicate(backend, scratch):
    with committed(backend, scratch):
        start = store(scratch).last_order_number
    with pytest.raises(RuntimeError), committed(backend, scratch):
        services.next_order_number(store(scratch))
        raise RuntimeError("intake failed")
    with committed(backend, scratch):
        assert store(scratch).last_order_number == start
        number = new_order(scratch).number
    assert sequence(number) == start + 1


# --- 10b. a real RQ worker on Redis ------------------------------------------------------------------

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def test_a_real_worker_mails_the_customer_from_inside_the_right_tenant(backend, scratch, monkeypatch):
    from redis import Redis
    from rq import Queue
    from rq.job import Job, JobStatus

    from repairqc.jobs import TenantJob
    from tests.test_jobs import purge, redis_reachable, run_worker

    require_service("Redis", redis_reachable())
    app = backend.app
    conn = Redis.from_url(REDIS_URL)
    prefix = f"test-{uuid.uuid4().hex[:8]}-"
    monkeypatch.setitem(app.config, "REDIS_URL", REDIS_URL)
    monkeypatch.setitem(app.extensions, "repairqc.redis", conn)
    monkeypatch.setattr(
        jobs, "queue", lambda name: Queue(f"{prefix}{name}", connection=conn, job_class=TenantJob)
    )
    try:
        with smtp_server() as box:
            with committed(backend, scratch):
                order = ready(
                    scratch,
                    new_customer=services.NewCustomer(
                        "Zhao Lei", phone="+86 139 0000 0004", email="zhao@example.cn", language="zh_Hans_CN"
                    ),
                )
                number, order_id = order.number, order.id
            # the commit queued the "quoted" and "ready" notices; nothing ran in-process
            emails = Queue(f"{prefix}emails", connection=conn)
            queued_jobs = [Job.fetch(job_id, connection=conn) for job_id in emails.get_job_ids()]
            assert len(queued_jobs) == 2
            assert {(job.meta["tenant_id"], job.args[0]) for job in queued_jobs} == {
                (scratch.ref.id, order_id)
            }
            assert box.messages == []
            with in_tenant(app, backend.alpha):  # alpha's order with that id has no e-mail address
                alpha_has = db.session.get(RepairOrder, order_id)
                alpha_email = alpha_has.customer.email if alpha_has else None
            assert alpha_email is None

            run_worker(
                app,
                [f"{prefix}emails"],
                REDIS_URL=REDIS_URL,
                PREFERRED_URL_SCHEME="http",
                MAIL_BACKEND="smtp",
                MAIL_SERVER="127.0.0.1",
                MAIL_PORT=str(box.port),
            )

            for job in queued_jobs:
                job.refresh()
                assert job.get_status() == JobStatus.FINISHED, job.latest_result()
                assert job.return_value() == "zhao@example.cn"
            messages = box.to("zhao@example.cn")
            assert len(messages) == 2 and len(box.messages) == 2
            for message in messages:
                assert number in message["Subject"]
                assert tracked_order(app, scratch, body_of(message)) == order_id
    finally:
        purge(conn, [f"{prefix}{name}" for name in jobs.QUEUES])
        conn.close()
