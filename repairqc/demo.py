"""The demo tenant of the embedded default (`make run`): an organisation with a day's work in it."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from repairqc.accounts.models import Role
from repairqc.accounts.services import create_staff_user
from repairqc.console.models import Operator
from repairqc.console.services import create_operator
from repairqc.db import db, utcnow
from repairqc.repairs.models import (
    ContactChannel,
    Customer,
    Device,
    RepairOrder,
    RepairOrderStatus,
)
from repairqc.repairs.services import next_order_number
from repairqc.stores.models import Chain, Region, Store
from repairqc.tenants import services
from repairqc.tenants.models import Tenant

DEMO_SLUG = "demo"
#: Known, printed passwords: this is sample data on a developer's machine, never production.
DEMO_PASSWORD = "repairqc-demo"
OPERATOR_EMAIL = "operator@example.com"

USERS = [
    (Role.OWNER, "owner@demo.example.com", "Olivia Owner", None),
    (Role.QA_MANAGER, "qa@demo.example.com", "Quentin Quality", None),
    (Role.INSPECTOR, "inspector@demo.example.com", "Ivy Inspector", ["FF-N01", "FF-S01"]),
    (Role.TRAINER, "trainer@demo.example.com", "Tara Trainer", None),
    (Role.STORE_MANAGER, "manager@demo.example.com", "Mia Manager", ["FF-N01"]),
    (Role.FRONT_DESK, "frontdesk@demo.example.com", "Felix Frontdesk", ["FF-N01"]),
    (Role.TECHNICIAN, "tech@demo.example.com", "Tom Technician", ["FF-N01"]),
    (Role.AUDITOR, "auditor@demo.example.com", "Alma Auditor", None),
]

CUSTOMERS = [
    # store, name, phone, device (category, brand, model, serial), fault, status
    (
        "FF-N01",
        "Li Wei",
        "+86 138 0000 0001",
        ("smartphone", "Apple", "iPhone 14", "356789100000011"),
        "Cracked screen after a drop; touch works in the lower half only",
        RepairOrderStatus.IN_REPAIR,
    ),
    (
        "FF-N01",
        "Zhang Min",
        "+86 138 0000 0002",
        ("laptop", "Lenovo", "ThinkPad X1 Carbon", "PF3ABC12"),
        "Does not charge; LED stays off",
        RepairOrderStatus.DIAGNOSING,
    ),
    (
        "FF-N01",
        "Emma Brown",
        "+44 7700 900001",
        ("tablet", "Samsung", "Galaxy Tab S8", "R52T30XYZ"),
        "Battery drains in two hours",
        RepairOrderStatus.RECEIVED,
    ),
    (
        "FF-S01",
        "Wang Fang",
        "+86 139 0000 0003",
        ("smartphone", "Huawei", "P60 Pro", "861234050000022"),
        "No sound from the earpiece during calls",
        RepairOrderStatus.QUOTED,
    ),
    (
        "FF-S01",
        "Chen Jie",
        "+86 139 0000 0004",
        ("smartphone", "Xiaomi", "13T", "868888060000033"),
        "Back camera blurry",
        RepairOrderStatus.READY,
    ),
    (
        "IC-01",
        "Liu Yang",
        "+86 137 0000 0005",
        ("laptop", "Apple", "MacBook Air M2", "C02ZX1ABCD"),
        "Keyboard keys stick after a coffee spill",
        RepairOrderStatus.RECEIVED,
    ),
]


def _seed_organisation() -> None:
    fixfast = Chain(code="FF", name="FixFast Repairs", description="Phone and laptop repair in two regions")
    icare = Chain(code="IC", name="iCare Express", description="Mall kiosks")
    north = Region(code="N", name="North", chain=fixfast)
    south = Region(code="S", name="South", chain=fixfast)
    stores = {
        "FF-N01": Store(
            code="FF-N01",
            name="FixFast Downtown",
            chain=fixfast,
            region=north,
            timezone="Asia/Shanghai",
            phone="+86 10 5555 0101",
        ),
        "FF-S01": Store(
            code="FF-S01",
            name="FixFast Riverside",
            chain=fixfast,
            region=south,
            timezone="Asia/Shanghai",
            phone="+86 20 5555 0202",
        ),
        "IC-01": Store(code="IC-01", name="iCare Mall Kiosk", chain=icare, timezone="Asia/Shanghai"),
    }
    db.session.add_all([fixfast, icare, north, south, *stores.values()])
    db.session.flush()

    users = {}
    for role, email, name, store_codes in USERS:
        assignments = [(role, None)] if store_codes is None else [(role, stores[c]) for c in store_codes]
        users[role] = create_staff_user(email, name, DEMO_PASSWORD, roles=assignments)

    now = utcnow()
    for index, (code, name, phone, (category, brand, model, serial), fault, status) in enumerate(CUSTOMERS):
        store = stores[code]
        customer = Customer(store=store, full_name=name, phone=phone, preferred_channel=ContactChannel.PHONE)
        device = Device(
            store=store,
            customer=customer,
            category=category,
            brand=brand,
            model=model,
            serial_number=serial,
            condition_at_intake="Light scratches on the back",
            accessories="None",
            passcode="1234" if index % 2 else None,
        )
        order = RepairOrder(
            store=store,
            number=next_order_number(store),
            customer=customer,
            device=device,
            fault_symptoms=fault,
            status=status,
            customer_requirements="Keep the data; call before any cost above the quote",
            received_by=users[Role.FRONT_DESK] if code == "FF-N01" else None,
            technician=users[Role.TECHNICIAN]
            if code == "FF-N01" and status is not RepairOrderStatus.RECEIVED
            else None,
            received_at=now - timedelta(days=len(CUSTOMERS) - index),
            promised_at=now + timedelta(days=2),
        )
        db.session.add_all([customer, device, order])
    db.session.flush()


def ensure_demo() -> list[tuple[str, str, str]]:
    """Create the demo tenant and an operator if missing; return (role, e-mail, password) lines."""
    exists = db.control.execute(sa.select(Tenant).where(Tenant.slug == DEMO_SLUG)).scalar_one_or_none()
    if exists is None:
        services.create_tenant(DEMO_SLUG, "Demo Repairs Ltd", seed=_seed_organisation)
    if not db.control.execute(sa.select(Operator.id).where(Operator.email == OPERATOR_EMAIL)).first():
        create_operator(OPERATOR_EMAIL, "Platform Operator", DEMO_PASSWORD)
    logins = [(role.value, email, DEMO_PASSWORD) for role, email, _name, _stores in USERS]
    logins.append(("operator", OPERATOR_EMAIL, DEMO_PASSWORD))
    return logins
