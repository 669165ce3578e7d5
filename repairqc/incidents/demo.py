"""Demo emergency plans (`repairqc.demo`): a fire/equipment-failure plan and a natural-disaster
plan for every store, published, with a drill at the downtown store, so the plans, drills and
incident screens (HB §9.1-§9.2) have something to show."""

from __future__ import annotations

from datetime import timedelta

from repairqc.accounts.models import StaffUser
from repairqc.db import utcnow
from repairqc.incidents import services
from repairqc.incidents.models import PlanKind
from repairqc.stores.models import Store

TEMPLATE_EN = (
    "Dear {customer_name}, because of an emergency at {store_name} your repair {order_number} may be "
    "delayed. Your device is safe and we will tell you as soon as work resumes. Update of {update_time}."
)
TEMPLATE_ZH = (
    "{customer_name}您好：{store_name}发生突发情况，您的维修单{order_number}可能延误。"
    "您的设备安全无虞，恢复营业后我们会第一时间通知您。（{update_time}更新）"
)


def _content(
    kind: PlanKind, title: str, steps: list[str], triggers: str, measures: str
) -> services.PlanContent:
    return services.PlanContent(
        kind=kind,
        title=title,
        store_id=None,
        command_roles=["store_manager", "qa_manager", "owner"],
        response_steps="\n".join(steps),
        customer_template_en=TEMPLATE_EN,
        customer_template_zh=TEMPLATE_ZH,
        update_interval_hours=4,
        rescue_team="Store manager leads; senior technician secures devices; front desk informs customers",
        supplies="Fire extinguisher (CO2), first-aid kit, sealed anti-static bags, torch",
        warning_triggers=triggers,
        rescue_measures=measures,
    )


def seed_demo(stores: dict[str, Store], qa: StaffUser) -> None:
    now = utcnow()
    fire = services.create_plan(
        qa,
        "FIRE",
        _content(
            PlanKind.EQUIPMENT_FAILURE,
            "Fire, smoke or a swelling battery",
            [
                "Cut power to the bench and move people out",
                "Use the CO2 extinguisher only on a small fire; otherwise call 119",
                "Put swollen batteries in the sand bin",
                "Account for every customer device on the shelf list",
                "Tell the affected customers",
            ],
            "Smoke or burning smell at a bench; a battery swelling or hissing",
            "Evacuate by the front door; meet at the mall entrance; nobody goes back for devices",
        ),
    )
    services.publish_plan(fire, qa, expected_version=None, now=now - timedelta(days=60))
    flood = services.create_plan(
        qa,
        "WEATHER",
        _content(
            PlanKind.NATURAL_DISASTER,
            "Typhoon, flood or earthquake",
            [
                "Follow the city's warning level; close the store at orange",
                "Move customer devices off the floor into the sealed cabinet",
                "Back up the day's records",
                "Tell the affected customers",
            ],
            "Orange or red weather warning; water entering the building",
            "Close the shutters; staff go home by the safe route the manager names",
        ),
    )
    services.publish_plan(flood, qa, expected_version=None, now=now - timedelta(days=60))
    downtown = stores["FF-N01"]
    services.record_drill(
        qa,
        fire,
        downtown,
        held_on=now.date() - timedelta(days=20),
        participants="Mia Manager, Tom Technician, Felix Frontdesk",
        scenario="A phone battery swells on the bench during a screen repair",
        findings="The sand bin was behind the parts shelf; evacuation took 90 seconds",
        follow_up="Sand bin moved next to the bench",
        today=now.date(),
    )
