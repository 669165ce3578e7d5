"""Sentinel rows of the emergency domain for the two session tenants (tests/conftest.seed_tenant).

Every text a user reads carries the tenant's sentinel (`s`, e.g. SENTINEL-A) or the store's
(`{s}-S1`), so the isolation probe (tests/test_isolation.py) can tell tenants and stores apart.

* A provider-wide plan family "FIRE" (no store, so every store's staff sees it: its texts carry
  only the tenant's sentinel), version 1 superseded by version 2.
* Per store a plan family "FLOOD-S1"/"FLOOD-S2" of that store only (the store probe needs plan
  rows that only one store sees), a drill of it, and an incident reported by the store's
  technician with the customers told at once (an update round; the seeded customers have phone
  numbers only and no texting in tests, so they are "to call"), the command taken by the manager
  and an action logged on step 1. S2's incident is closed with a review that starts version 2
  of FLOOD-S2 as a draft, and the customers got the all-clear.
"""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from repairqc.accounts.models import StaffUser
from repairqc.db import db, utcnow
from repairqc.incidents import services
from repairqc.incidents.models import PlanKind, Severity


def content(label: str, kind: PlanKind, store_id: int | None, **overrides) -> services.PlanContent:
    values = dict(
        kind=kind,
        title=f"Plan {label}",
        store_id=store_id,
        command_roles=["store_manager", "qa_manager"],
        response_steps="\n".join(
            [
                f"Raise the alarm {label}",
                f"Move devices to the safe room {label}",
                f"Call the insurer {label}",
            ]
        ),
        customer_template_en=(
            "Dear {customer_name}, an emergency at {store_name} may delay your repair {order_number} "
            f"({{device}}). Status at {{update_time}}. {label}"
        ),
        customer_template_zh=f"{{customer_name}}您好：{{store_name}}发生紧急情况，您的维修单{{order_number}}可能延误。{label}",
        update_interval_hours=4,
        rescue_team=f"Team {label}",
        supplies=f"Supplies {label}",
        warning_triggers=f"Triggers {label}",
        rescue_measures=f"Evacuate {label}",
        notes=f"Notes {label}",
    )
    values.update(overrides)
    return services.PlanContent(**values)


def seed(s: str, stores: dict, users: dict) -> None:
    """Add the domain's rows; `stores` maps "S1"/"S2" to Store, `users` key -> e-mail."""

    def person(key: str) -> StaffUser:
        return db.session.execute(sa.select(StaffUser).where(StaffUser.email == users[key])).scalar_one()

    now = utcnow()
    today = date.today()
    qa = person("qa")
    fire = services.create_plan(qa, "FIRE", content(s, PlanKind.EQUIPMENT_FAILURE, None))
    services.publish_plan(fire, qa, expected_version=None, now=now - timedelta(days=30))
    fire2 = services.start_draft(fire, qa)
    services.save_draft(
        fire2, qa, content(s, PlanKind.EQUIPMENT_FAILURE, None, title=f"Plan v2 {s}"), expected_version=None
    )
    services.publish_plan(fire2, qa, expected_version=None, now=now - timedelta(days=1))

    for name, store in stores.items():
        label = f"{s}-{name}"
        manager = person("manager" if name == "S1" else "manager2")
        tech = person("tech" if name == "S1" else "tech2")
        flood = services.create_plan(qa, f"FLOOD-{name}", content(label, PlanKind.NATURAL_DISASTER, store.id))
        services.publish_plan(flood, qa, expected_version=None, now=now - timedelta(days=10))
        services.record_drill(
            manager,
            flood,
            store,
            held_on=today - timedelta(days=3),
            participants=f"Participants {label}",
            scenario=f"Scenario {label}",
            findings=f"Findings {label}",
            follow_up=f"Follow-up {label}",
            today=today,
        )
        incident = services.report_incident(
            tech,
            store,
            kind=PlanKind.NATURAL_DISASTER,
            severity=Severity.HIGH,
            description=f"Flood {label}",
            occurred_at=now - timedelta(hours=1),
            notify_customers=True,
            now=now - timedelta(minutes=50),
        )
        services.take_command(incident, manager, expected_version=None, now=now - timedelta(minutes=45))
        services.log_action(
            incident, manager, what=f"Alarm raised {label}", step=1, now=now - timedelta(minutes=40)
        )
        if name == "S2":
            services.close_incident(
                incident,
                manager,
                review=f"Review {label}",
                revise_plan=True,
                expected_version=None,
                now=now - timedelta(minutes=5),
            )
    db.session.flush()
