"""Emergency plans, drills and incidents (HB §9.1-§9.2, issue #8 "Emergencies") through the
services, on both databases: plan versioning, customer templates, reporting by any member of
staff, the command roles alerted exactly once (real SMTP), customer updates reaching exactly the
affected customers in their language, never twice, at the plan's interval (time travel), and
closing with a review that starts a new draft of the plan.

The seed (tests/seed_incidents.py) gives each tenant the plan families FIRE (every store,
version 2 in force), FLOOD-S1 and FLOOD-S2 (one store each), and an incident per store.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from repairqc.db import db, unit_of_work
from repairqc.errors import Conflict, DomainError
from repairqc.incidents import services
from repairqc.incidents.models import (
    EmergencyPlan,
    Incident,
    IncidentAlert,
    IncidentStatus,
    IncidentUpdate,
    PlanKind,
    PlanStatus,
    Severity,
    UpdateKind,
)
from repairqc.incidents.tasks import send_incident_alert, send_incident_updates
from repairqc.notifications.models import CustomerMessage, MessageStatus
from repairqc.repairs.models import Customer, Device, RepairOrder
from repairqc.repairs.models import RepairOrderStatus as S
from repairqc.repairs.services import next_order_number
from tests.conftest import SeededTenant, in_tenant, staff, store
from tests.seed_incidents import content

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def plan_of(code: str, status: PlanStatus = PlanStatus.ACTIVE) -> EmergencyPlan:
    return db.session.execute(
        sa.select(EmergencyPlan).where(EmergencyPlan.code == code, EmergencyPlan.status == status)
    ).scalar_one()


def add_order(
    tenant: SeededTenant,
    store_name: str,
    name: str,
    *,
    email: str | None = None,
    language: str = "en",
    status: S = S.RECEIVED,
    customer: Customer | None = None,
) -> Customer:
    """A customer (or `customer` again) with an order of `store_name` in `status`."""
    shop = store(tenant, store_name)
    number = next_order_number(shop)
    if customer is None:
        customer = Customer(
            store=shop, full_name=name, email=email, phone="+86 135 0000 0000", language=language
        )
    device = Device(
        store=shop, customer=customer, category="smartphone", brand="Apple", model=f"Phone {name}"
    )
    order = RepairOrder(
        store=shop,
        number=number,
        customer=customer,
        device=device,
        fault_symptoms=f"Fault {name}",
        status=status,
    )
    db.session.add_all([customer, device, order])
    db.session.flush()
    return customer


def quiet_seeded_incidents() -> None:
    """The seeded incidents' next rounds would fall due during time travel: stop their clocks."""
    db.session.execute(sa.update(Incident).values(next_update_due_at=None))


def report(
    tenant, key: str = "tech", store_name: str = "S1", *, notify=True, kind=PlanKind.NATURAL_DISASTER, now=NOW
):
    return services.report_incident(
        staff(tenant, key),
        store(tenant, store_name),
        kind=kind,
        severity=Severity.HIGH,
        description=f"Water in the shop {tenant.store_sentinel(store_name)}",
        occurred_at=now - timedelta(minutes=20),
        notify_customers=notify,
        now=now,
    )


def body(message) -> str:
    return message.get_body(("plain",)).get_content()


# --- plans: versions -------------------------------------------------------------------------------


def test_publishing_a_draft_supersedes_the_version_in_force_and_one_stays_active(app, alpha):
    with in_tenant(app, alpha):
        qa = staff(alpha, "qa")
        plan = services.create_plan(qa, " leak ", content("Leak", PlanKind.SUPPLY_FAILURE, None))
        assert (plan.code, plan.number, plan.status) == ("LEAK", 1, PlanStatus.DRAFT)
        assert (
            services.active_plan_for(store(alpha).id, PlanKind.SUPPLY_FAILURE) is None
        )  # a draft is not in force
        services.publish_plan(plan, qa, expected_version=plan.version, now=NOW)
        assert plan.status is PlanStatus.ACTIVE and plan.published_by_id == qa.id
        second = services.start_draft(plan, qa)
        assert (second.number, second.status, second.based_on_id) == (2, PlanStatus.DRAFT, plan.id)
        assert second.title == plan.title and second.command_roles == plan.command_roles
        with pytest.raises(Conflict, match="has a draft already"):
            services.start_draft(plan, qa)
        services.save_draft(
            second, qa, content("Leak v2", PlanKind.SUPPLY_FAILURE, None), expected_version=second.version
        )
        assert services.active_plan_for(store(alpha).id, PlanKind.SUPPLY_FAILURE) == plan
        services.publish_plan(second, qa, expected_version=second.version, now=NOW + timedelta(hours=1))
        assert plan.status is PlanStatus.SUPERSEDED and plan.superseded_at == NOW + timedelta(hours=1)
        assert second.status is PlanStatus.ACTIVE
        assert services.active_plan_for(store(alpha).id, PlanKind.SUPPLY_FAILURE) == second
        active = db.session.execute(
            sa.select(sa.func.count())
            .select_from(EmergencyPlan)
            .where(EmergencyPlan.code == "LEAK", EmergencyPlan.status == PlanStatus.ACTIVE)
        ).scalar_one()
        assert active == 1
        # a new family with the same code is refused; the code names the family
        with pytest.raises(DomainError, match="There is a plan LEAK already") as refused:
            services.create_plan(qa, "leak", content("Again", PlanKind.OTHER, None))
        assert refused.value.field == "code"


def test_only_drafts_change_and_only_qa_or_the_owner_write_plans(app, alpha):
    with in_tenant(app, alpha):
        qa, manager = staff(alpha, "qa"), staff(alpha, "manager")
        fire = plan_of("FIRE")
        old = plan_of("FIRE", PlanStatus.SUPERSEDED)
        for published in (fire, old):
            with pytest.raises(Conflict, match="is published and cannot change"):
                services.save_draft(published, qa, content("X", PlanKind.OTHER, None), expected_version=None)
        with pytest.raises(Conflict, match="already published"):
            services.publish_plan(fire, qa, expected_version=None, now=NOW)
        # whatever the code path: the flush refuses an edit of a published version
        with pytest.raises(DomainError, match="is published and cannot change"), db.session.begin_nested():
            fire.title = "Changed behind the services' back"
            db.session.flush()
        with pytest.raises(DomainError, match="cannot be deleted"), db.session.begin_nested():
            db.session.delete(old)
            db.session.flush()
        # the database keeps one active version per family, whatever the code does
        with pytest.raises(sa.exc.IntegrityError), db.session.begin_nested():
            db.session.execute(
                sa.update(EmergencyPlan).where(EmergencyPlan.id == old.id).values(active_code="FIRE")
            )
        for user in (manager, staff(alpha, "tech"), staff(alpha, "auditor")):
            with pytest.raises(Conflict, match="Only a QA manager or the owner"):
                services.create_plan(user, "MINE", content("Mine", PlanKind.OTHER, None))
            with pytest.raises(Conflict, match="Only a QA manager or the owner"):
                services.start_draft(fire, user)
        draft = services.create_plan(
            staff(alpha, "owner"), "OWNERS", content("Owner's", PlanKind.OTHER, None)
        )
        with pytest.raises(Conflict, match="Someone else changed this record"):
            services.save_draft(
                draft, qa, content("Stale", PlanKind.OTHER, None), expected_version=draft.version + 1
            )


@pytest.mark.parametrize(
    ("template", "shown"),
    [
        ("Dear {customer_email}", "{customer_email}"),
        ("{customer_name.__class__}", "{customer_name.__class__}"),
        ("{customer_name[0]}", "{customer_name[0]}"),
        ("{0} and {}", "{0}"),
        ("{customer_name!r}", "{customer_name!r}"),
        ("{store_name:>99999}", "{store_name:>99999}"),
    ],
)
def test_a_template_with_an_unknown_placeholder_is_refused_at_save(app, alpha, template, shown):
    with in_tenant(app, alpha):
        qa = staff(alpha, "qa")
        with pytest.raises(DomainError) as refused:
            services.create_plan(
                qa, "BAD", content("Bad", PlanKind.OTHER, None, customer_template_zh=template)
            )
        assert refused.value.field == "customer_template_zh"
        assert shown in refused.value.message and "{customer_name}" in refused.value.message
        assert db.session.execute(sa.select(EmergencyPlan).where(EmergencyPlan.code == "BAD")).first() is None


def test_template_braces_and_other_plan_fields_are_checked(app, alpha):
    with in_tenant(app, alpha):
        qa = staff(alpha, "qa")
        checks = [
            ({"customer_template_en": "Dear {customer_name"}, "customer_template_en", "brace"),
            ({"customer_template_en": "  "}, "customer_template_en", "English"),
            ({"command_roles": []}, "command_roles", "Choose the roles"),
            ({"command_roles": ["store_manager", "janitor"]}, "command_roles", "“janitor” is not a role"),
            ({"update_interval_hours": 0}, "update_interval_hours", "from 1 to"),
            ({"update_interval_hours": 10_000}, "update_interval_hours", "from 1 to"),
            ({"response_steps": ""}, "response_steps", "response steps"),
            ({"title": "x" * 201}, "title", "longer than"),
            ({"store_id": 2**31 - 1}, "store_id", "active store"),
        ]
        for overrides, field, words in checks:
            with pytest.raises(DomainError, match=words) as refused:
                store_id = overrides.pop("store_id", None)
                services.create_plan(qa, "CHECK", content("Check", PlanKind.OTHER, store_id, **overrides))
            assert refused.value.field == field, words
        with pytest.raises(DomainError, match="letters, digits"):
            services.create_plan(qa, "no spaces", content("Check", PlanKind.OTHER, None))
        # literal braces are written doubled and come out single; placeholders are filled
        plan = services.create_plan(
            qa, "BRACES", content("B", PlanKind.OTHER, None, customer_template_en="{{ok}} {customer_name}!")
        )
        assert services.fill(plan.customer_template_en, {"customer_name": "Li"}) == "{ok} Li!"


# --- drills -----------------------------------------------------------------------------------------


def test_drills_practise_a_published_plan_of_the_store(app, alpha):
    with in_tenant(app, alpha):
        manager, today = staff(alpha, "manager"), NOW.date()
        s1, s2 = store(alpha, "S1"), store(alpha, "S2")
        values = dict(held_on=today, participants="All", scenario="Fire in the back room", findings=None,
                      follow_up=None, today=today)  # fmt: skip
        drill = services.record_drill(manager, plan_of("FIRE"), s1, **values)
        assert drill.store_id == s1.id and drill.recorded_by_id == manager.id
        with pytest.raises(DomainError, match="does not cover store") as refused:
            services.record_drill(staff(alpha, "qa"), plan_of("FLOOD-S2"), s1, **values)
        assert refused.value.field == "plan"
        with pytest.raises(Conflict, match="Only the store's manager"):
            services.record_drill(manager, plan_of("FIRE"), s2, **values)  # not their store
        with pytest.raises(Conflict, match="Only the store's manager"):
            services.record_drill(staff(alpha, "tech"), plan_of("FIRE"), s1, **values)
        with pytest.raises(DomainError, match="once it has been held"):
            services.record_drill(
                manager, plan_of("FIRE"), s1, **{**values, "held_on": today + timedelta(days=1)}
            )
        draft = services.create_plan(staff(alpha, "qa"), "NEW", content("New", PlanKind.OTHER, None))
        with pytest.raises(DomainError, match="publish the draft first"):
            services.record_drill(manager, draft, s1, **values)


# --- reporting and the command roles ------------------------------------------------------------------


def test_any_member_of_the_stores_staff_reports_and_the_command_roles_are_mailed_once(app, alpha, mailbox):
    with in_tenant(app, alpha):
        quiet_seeded_incidents()
        with unit_of_work():
            incident = report(alpha, "tech", notify=False)
        incident_id = incident.id
        assert incident.plan == plan_of("FLOOD-S1")  # the store's own plan of the kind
        assert (
            incident.status is IncidentStatus.REPORTED and incident.reported_by_id == staff(alpha, "tech").id
        )
    # FLOOD-S1's command roles: the store manager of S1 and the QA manager; nobody else
    assert sorted(m["To"] for m in mailbox.messages) == sorted([alpha.users["manager"], alpha.users["qa"]])
    mail = mailbox.to(alpha.users["manager"])[0]
    assert alpha.store_sentinel("S1") in mail["Subject"]
    text = body(mail)
    assert "Water in the shop" in text and f"Raise the alarm {alpha.store_sentinel('S1')}" in text
    assert f"http://{alpha.host}/admin/emergency/incidents/{incident_id}/" in text
    with in_tenant(app, alpha):
        alerts = list(
            db.session.scalars(sa.select(IncidentAlert).where(IncidentAlert.incident_id == incident_id))
        )
        assert {a.email for a in alerts} == {alpha.users["manager"], alpha.users["qa"]}
        assert all(a.sent_at is not None for a in alerts)
        # a retried or replayed job finds the alert claimed and sends nothing
        for alert in alerts:
            assert send_incident_alert(alert.id) is None
    assert len(mailbox.messages) == 2


def test_an_incident_without_a_plan_is_recorded_and_alerts_the_default_roles(app, alpha, mailbox):
    with in_tenant(app, alpha):
        with unit_of_work():
            incident = report(alpha, "frontdesk", kind=PlanKind.INJURY, notify=False)
        assert incident.plan is None and incident.next_update_due_at is None
    expected = {alpha.users["manager"], alpha.users["qa"], alpha.users["owner"]}
    assert sorted(m["To"] for m in mailbox.messages) == sorted(expected)
    assert "No emergency plan of this kind" in body(mailbox.to(alpha.users["owner"])[0])


def test_who_may_report_and_take_command(app, alpha):
    with in_tenant(app, alpha):
        with pytest.raises(Conflict, match="Only the store's staff and HQ"):
            report(alpha, "tech", "S2")  # a technician of S1 at S2
        with pytest.raises(Conflict, match="Only the store's staff and HQ"):
            report(alpha, "auditor")
        with pytest.raises(DomainError, match="once it has happened") as refused:
            services.report_incident(
                staff(alpha, "tech"), store(alpha), kind=PlanKind.OTHER, severity=Severity.LOW,
                description="Later", occurred_at=NOW + timedelta(hours=1), notify_customers=False, now=NOW,
            )  # fmt: skip
        assert refused.value.field == "occurred_at"
        incident = report(alpha, "qa", "S2", notify=False)  # HQ reports for any store
        for key in ("tech", "manager", "frontdesk"):  # manager of S1, not of S2
            with pytest.raises(Conflict, match="command roles"):
                services.take_command(incident, staff(alpha, key), expected_version=incident.version, now=NOW)
        with pytest.raises(Conflict, match="before the incident is closed"):
            services.close_incident(
                incident, staff(alpha, "manager2"), review="x", revise_plan=False,
                expected_version=incident.version, now=NOW,
            )  # fmt: skip
        services.take_command(incident, staff(alpha, "manager2"), expected_version=incident.version, now=NOW)
        assert (
            incident.status is IncidentStatus.RESPONDING
            and incident.commander_id == staff(alpha, "manager2").id
        )
        stale = incident.version - 1
        with pytest.raises(Conflict, match="Someone else changed this record") as conflict:
            services.take_command(incident, staff(alpha, "qa"), expected_version=stale, now=NOW)
        assert conflict.value.status_code == 409
        services.take_command(
            incident, staff(alpha, "qa"), expected_version=incident.version, now=NOW
        )  # takes over
        assert incident.commander_id == staff(alpha, "qa").id


def test_actions_tick_off_plan_steps(app, alpha):
    with in_tenant(app, alpha):
        incident = report(alpha, notify=False)
        tech = staff(alpha, "tech")
        services.log_action(incident, tech, what="Power off", step=None, now=NOW)
        services.log_action(incident, tech, what="Devices moved upstairs", step=2, now=NOW)
        assert set(services.steps_done(incident)) == {2}
        for bad in (0, 4):
            with pytest.raises(DomainError, match="Choose a step of the plan"):
                services.log_action(incident, tech, what="x", step=bad, now=NOW)
        with pytest.raises(DomainError, match="Describe what was done"):
            services.log_action(incident, tech, what="  ", step=None, now=NOW)
        with pytest.raises(Conflict, match="Only the store's staff"):
            services.log_action(incident, staff(alpha, "tech2"), what="x", step=None, now=NOW)


# --- customer updates --------------------------------------------------------------------------------


OPEN = ("received", "diagnosing", "quoted", "approved", "in_repair", "qc", "ready")
PLANTED_AWAY = [
    "delivered@example.com", "cancelled@example.com", "closed@example.com", "declined@example.com",
    "other-store@example.com", "beta-open@example.com",
]  # fmt: skip


def affected_setup(alpha: SeededTenant, beta: SeededTenant, app) -> dict:
    """Customers around alpha's S1: three it must reach, and those it must not (devices no
    longer at the store, another store, the other tenant)."""
    with in_tenant(app, beta), unit_of_work():
        add_order(beta, "S1", "Beta open", email="beta-open@example.com")
    with in_tenant(app, alpha), unit_of_work():
        add_order(alpha, "S1", "Open En", email="open-en@example.com")
        add_order(alpha, "S1", "Open Zh", email="open-zh@example.cn", language="zh_Hans_CN", status=S.READY)
        twice = add_order(alpha, "S1", "Two orders", email="two@example.com", status=S.IN_REPAIR)
        add_order(alpha, "S1", "", customer=twice, status=S.QUOTED)
        add_order(alpha, "S1", "Delivered", email="delivered@example.com", status=S.DELIVERED)
        add_order(alpha, "S1", "Cancelled", email="cancelled@example.com", status=S.CANCELLED)
        add_order(alpha, "S1", "Closed", email="closed@example.com", status=S.CLOSED)
        add_order(alpha, "S1", "Declined", email="declined@example.com", status=S.DECLINED)
        add_order(alpha, "S2", "Other store", email="other-store@example.com")
        quiet_seeded_incidents()
        numbers = db.session.scalars(
            sa.select(RepairOrder.number).where(RepairOrder.customer_id == twice.id).order_by(RepairOrder.id)
        ).all()
    return {
        "en": "open-en@example.com",
        "zh": "open-zh@example.cn",
        "two": "two@example.com",
        "numbers": numbers,
    }


def open_customers_of(tenant: SeededTenant, store_name: str) -> set[int]:
    """The rule stated independently: customers with an order of the store in an open state."""
    return set(
        db.session.scalars(
            sa.select(RepairOrder.customer_id).where(
                RepairOrder.store_id == tenant.store_ids[store_name], RepairOrder.status.in_(OPEN)
            )
        )
    )


def mails_to(mailbox, address: str) -> int:
    return len(mailbox.to(address))


def test_updates_reach_exactly_the_affected_customers_in_their_language_once(app, alpha, beta, mailbox):
    planted = affected_setup(alpha, beta, app)
    with in_tenant(app, alpha):
        with unit_of_work():
            incident = report(alpha, notify=True)
        incident_id = incident.id
        assert incident.next_update_due_at == NOW + timedelta(hours=4)
    for key in ("en", "zh", "two"):
        assert mails_to(mailbox, planted[key]) == 1, key
    assert all(mails_to(mailbox, address) == 0 for address in PLANTED_AWAY)
    english = body(mailbox.to(planted["en"])[0])
    assert english.startswith("Dear Open En, an emergency at Store SENTINEL-A-S1 may delay your repair")
    assert "(Apple Phone Open En)" in english and alpha.store_sentinel("S1") in english
    assert body(mailbox.to(planted["zh"])[0]).startswith("Open Zh您好：Store SENTINEL-A-S1发生紧急情况")
    two = body(mailbox.to(planted["two"])[0])  # one message naming both orders
    assert ", ".join(planted["numbers"]) in two
    with in_tenant(app, alpha):
        messages = list(
            db.session.scalars(
                sa.select(CustomerMessage).where(CustomerMessage.event_key.like(f"incident:{incident_id}:%"))
            )
        )
        expected = open_customers_of(alpha, "S1")
        assert {m.customer_id for m in messages} == expected  # exactly the customers with a device there
        assert {m.event_key for m in messages} == {
            f"incident:{incident_id}:update:1:customer:{customer_id}" for customer_id in expected
        }
        assert all(m.purpose == "incident" and m.store_id == alpha.store_ids["S1"] for m in messages)
        # the seeded customer of S1 has a phone number only: written as "to call", not sent
        seeded = db.session.execute(
            sa.select(Customer).where(Customer.full_name == f"Customer 0 {alpha.store_sentinel('S1')}")
        ).scalar_one()
        assert seeded.id in expected
        to_call = {c.id for _m, c in services.customers_to_call(db.session.get(Incident, incident_id))}
        assert seeded.id in to_call
        assert to_call == {m.customer_id for m in messages if m.status is MessageStatus.NO_CHANNEL}
        update = db.session.scalars(
            sa.select(IncidentUpdate).where(IncidentUpdate.incident_id == incident_id)
        ).one()
        assert (update.round, update.kind, update.recipients) == (1, UpdateKind.UPDATE, len(expected))
        assert update.no_channel == len(to_call)
        # the round's messages again send nothing: the event keys are taken
        with unit_of_work():
            again = db.session.get(Incident, incident_id)
            for customer, orders in services.affected_customers(again.store_id):
                services.notifications.queue_message(
                    customer,
                    event_key=services.event_key(again, UpdateKind.UPDATE, 1, customer),
                    purpose="incident",
                    content=services.message_content(
                        again, customer, orders, kind=UpdateKind.UPDATE, note=None, now=NOW
                    ),
                )
        assert db.session.scalar(
            sa.select(sa.func.count())
            .select_from(CustomerMessage)
            .where(CustomerMessage.event_key.like(f"incident:{incident_id}:%"))
        ) == len(expected)
    for key in ("en", "zh", "two"):
        assert mails_to(mailbox, planted[key]) == 1, key
    with in_tenant(app, beta):  # the other tenant's customers heard nothing
        assert not db.session.scalars(
            sa.select(CustomerMessage).where(
                CustomerMessage.purpose == "incident", CustomerMessage.sent_at.is_not(None)
            )
        ).all()


def test_rounds_follow_the_plans_interval_until_the_incident_closes(app, alpha, beta, mailbox):
    planted = affected_setup(alpha, beta, app)
    day = NOW.date().isoformat()
    with in_tenant(app, alpha):
        with unit_of_work():
            incident = report(alpha, notify=True)
        incident_id = incident.id

    def run(at: datetime) -> list[int]:
        with in_tenant(app, alpha), unit_of_work():
            return send_incident_updates(day, at.isoformat())

    def each_got(count: int) -> bool:
        return all(mails_to(mailbox, planted[key]) == count for key in ("en", "zh", "two"))

    assert each_got(1)
    assert run(NOW + timedelta(hours=3, minutes=59)) == []
    assert each_got(1)
    (second,) = run(NOW + timedelta(hours=4, minutes=10))  # the job runs every 15 minutes
    assert run(NOW + timedelta(hours=4, minutes=10)) == []  # the same run again
    assert run(NOW + timedelta(hours=4, minutes=25)) == []
    assert each_got(2)
    with in_tenant(app, alpha):
        incident = db.session.get(Incident, incident_id)
        assert db.session.get(IncidentUpdate, second).round == 2
        assert incident.next_update_due_at == NOW + timedelta(hours=8)  # from the due time, no drift
        version = incident.version  # the schedule moving on is no edit: an open page stays fresh
    # the job was down for a day: one round now, the next an interval later
    run(NOW + timedelta(hours=30))
    assert each_got(3)
    with in_tenant(app, alpha):
        assert db.session.get(Incident, incident_id).next_update_due_at == NOW + timedelta(hours=34)
        assert db.session.get(Incident, incident_id).version == version
        with unit_of_work():
            incident = db.session.get(Incident, incident_id)
            manager = staff(alpha, "manager")
            services.take_command(
                incident, manager, expected_version=incident.version, now=NOW + timedelta(hours=31)
            )
            update = services.send_update(
                incident, manager, note="Power is back", expected_version=incident.version,
                now=NOW + timedelta(hours=32),
            )  # fmt: skip
            assert update.round == 4 and update.sent_by_id == manager.id
            assert incident.next_update_due_at == NOW + timedelta(hours=36)  # the clock starts again
    assert each_got(4)
    assert "Power is back" in body(mailbox.to(planted["zh"])[-1])
    with in_tenant(app, alpha):
        with unit_of_work():
            incident = db.session.get(Incident, incident_id)
            draft = services.close_incident(
                incident, staff(alpha, "manager"), review="Sandbags worked; pumps were late",
                revise_plan=True, expected_version=incident.version, now=NOW + timedelta(hours=33),
            )  # fmt: skip
        assert incident.status is IncidentStatus.CLOSED and incident.next_update_due_at is None
        assert draft.status is PlanStatus.DRAFT and draft.code == "FLOOD-S1" and draft.number == 2
        assert draft.based_on_id == incident.plan_id and incident.revision_plan_id == draft.id
        assert draft.notes.startswith(f"#{incident_id}: Sandbags worked")
        assert draft.response_steps == incident.plan.response_steps
    assert each_got(5)
    closing = [m for m in mailbox.to(planted["en"]) if "back to normal service" in m["Subject"]]
    assert len(closing) == 1
    assert run(NOW + timedelta(days=3)) == []  # closed: no more rounds
    assert each_got(5)
    assert all(mails_to(mailbox, address) == 0 for address in PLANTED_AWAY)
    with in_tenant(app, alpha):
        rounds = db.session.scalars(
            sa.select(IncidentUpdate.kind)
            .where(IncidentUpdate.incident_id == incident_id)
            .order_by(IncidentUpdate.round)
        ).all()
        assert rounds == [UpdateKind.UPDATE] * 4 + [UpdateKind.CLOSING]
        with pytest.raises(Conflict, match="is closed"):
            services.log_action(
                db.session.get(Incident, incident_id), staff(alpha, "tech"), what="late", step=None, now=NOW
            )


def test_closing_needs_a_review_and_reuses_an_open_draft_of_the_plan(app, alpha):
    with in_tenant(app, alpha):
        qa, manager = staff(alpha, "qa"), staff(alpha, "manager")
        incident = report(alpha, notify=False)
        services.take_command(incident, manager, expected_version=incident.version, now=NOW)
        with pytest.raises(DomainError, match="Write the review") as refused:
            services.close_incident(
                incident, manager, review=" ", revise_plan=False, expected_version=incident.version, now=NOW
            )
        assert refused.value.field == "review"
        open_draft = services.start_draft(incident.plan, qa)
        draft = services.close_incident(
            incident,
            manager,
            review="Check the pumps",
            revise_plan=True,
            expected_version=incident.version,
            now=NOW,
        )
        assert draft == open_draft and f"#{incident.id}: Check the pumps" in draft.notes
        assert not db.session.scalars(
            sa.select(IncidentUpdate).where(IncidentUpdate.incident_id == incident.id)
        ).all()
        with pytest.raises(Conflict, match="is closed"):
            services.close_incident(
                incident,
                manager,
                review="again",
                revise_plan=False,
                expected_version=incident.version,
                now=NOW,
            )
        plain = report(alpha, kind=PlanKind.INJURY, notify=False)
        services.take_command(plain, manager, expected_version=plain.version, now=NOW)
        with pytest.raises(DomainError, match="followed no plan"):
            services.close_incident(
                plain, manager, review="x", revise_plan=True, expected_version=plain.version, now=NOW
            )


def test_the_all_clear_goes_only_to_customers_who_were_told(app, alpha, beta, mailbox):
    """A customer whose device came in after the last round was never told of the incident and
    gets no "back to normal" message; one who was told and is still waiting gets it once."""
    planted = affected_setup(alpha, beta, app)
    with in_tenant(app, alpha):
        with unit_of_work():
            incident = report(alpha, notify=True)
            manager = staff(alpha, "manager")
            services.take_command(incident, manager, expected_version=incident.version, now=NOW)
        with unit_of_work():
            add_order(alpha, "S1", "Came in later", email="later@example.com")
        with unit_of_work():
            incident = db.session.get(Incident, incident.id)
            services.close_incident(
                incident, manager, review="Dried out", revise_plan=False,
                expected_version=incident.version, now=NOW + timedelta(hours=1),
            )  # fmt: skip
            first, closing = db.session.scalars(
                sa.select(IncidentUpdate)
                .where(IncidentUpdate.incident_id == incident.id)
                .order_by(IncidentUpdate.round)
            ).all()
            assert closing.kind is UpdateKind.CLOSING
            # everyone told in the first round still waits; the newcomer is not among them
            assert closing.recipients == first.recipients == len(open_customers_of(alpha, "S1")) - 1
    assert mails_to(mailbox, "later@example.com") == 0
    assert [m for m in mailbox.to(planted["en"]) if "back to normal service" in m["Subject"]]
