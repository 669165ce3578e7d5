"""The demo tenant of the embedded default (`make run`): an organisation with a day's work in it."""

from __future__ import annotations

import base64
from decimal import Decimal

import sqlalchemy as sa
from stdnum import luhn

from repairqc.accounts.models import Role, StaffUser
from repairqc.accounts.services import create_staff_user
from repairqc.console.models import Operator
from repairqc.console.services import create_operator
from repairqc.db import db, utcnow
from repairqc.repairs.models import (
    Customer,
    DecisionMethod,
    Part,
    PaymentMethod,
    PhotoStage,
    QuoteLineKind,
    RepairOrderStatus,
)
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
    (Role.FRONT_DESK, "frontdesk@demo.example.com", "Felix Frontdesk", ["FF-N01", "FF-S01"]),
    (Role.TECHNICIAN, "tech@demo.example.com", "Tom Technician", ["FF-N01", "FF-S01"]),
    (Role.AUDITOR, "auditor@demo.example.com", "Alma Auditor", None),
]

#: Stores where the demo front desk works; the owner receives devices elsewhere.
DESK_STORES = {"FF-N01", "FF-S01"}

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
        "FF-N01",
        "Sophie Martin",
        "+33 6 12 34 56 78",
        ("smartphone", "Google", "Pixel 8", "35412345000001"),
        "Battery swells; back cover lifting",
        RepairOrderStatus.QC,
    ),
    (
        "FF-N01",
        "Zhao Lei",
        "+86 136 0000 0006",
        ("smartphone", "Apple", "iPhone 13", "35398765000002"),
        "Face ID stopped working after a screen change elsewhere",
        RepairOrderStatus.DELIVERED,
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

    from repairqc.training.demo import seed_demo as seed_training

    seed_training(users)  # before the repairs: the technician needs certificates (HB §5.1.3(1))
    _seed_repairs(stores, users)
    _seed_supervision(stores, users)
    from repairqc.equipment.demo import seed_demo as seed_equipment

    seed_equipment(stores, users[Role.OWNER])
    from repairqc.complaints.demo import seed_demo as seed_complaints
    from repairqc.improvements.demo import seed_demo as seed_improvements
    from repairqc.incidents.demo import seed_demo as seed_incidents

    seed_complaints(stores)
    seed_improvements(stores, users)
    seed_incidents(stores, users[Role.QA_MANAGER])
    _seed_duplicate_customer(stores)


def _seed_duplicate_customer(stores: dict[str, Store]) -> None:
    """The first demo customer registered a second time at another store, as happens at a busy
    counter: the data-quality screen (HB §7.1.2) pairs them by phone and name."""
    code, name, phone, *_ = CUSTOMERS[0]
    other = next(store for store_code, store in stores.items() if store_code != code)
    db.session.add(Customer(store=other, full_name=name.upper(), phone=phone.replace(" ", "-")))
    db.session.flush()


#: A blank signature, as the signature pad would send it (a 1x1 white PNG).
_SIGNATURE = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/PchI7wAAAABJRU5ErkJggg=="
)


def _imei(digits: str) -> str:
    """A valid IMEI from the sample's first 14 digits (the 15th is the Luhn check digit)."""
    return digits[:14] + luhn.calc_check_digit(digits[:14])


def _seed_repairs(stores: dict[str, Store], users: dict[Role, StaffUser]) -> None:
    """Orders in every state, each taken there through the real workflow services."""
    from repairqc.repairs import services as repairs

    desk, tech = users[Role.FRONT_DESK], users[Role.TECHNICIAN]
    checker = users[Role.INSPECTOR]
    owner = users[Role.OWNER]
    screen = Part(sku="SCR-IP14", name="iPhone 14 screen", category="smartphone", unit_price_cents=89000)
    battery = Part(sku="BAT-TAB", name="Tablet battery", category="tablet", unit_price_cents=32000)
    db.session.add_all([screen, battery])
    db.session.flush()
    for store in stores.values():
        repairs.receive_stock(store, owner, part_id=screen.id, quantity=3)
    today = utcnow().date()
    order_of_steps = [
        RepairOrderStatus.RECEIVED,
        RepairOrderStatus.DIAGNOSING,
        RepairOrderStatus.QUOTED,
        RepairOrderStatus.APPROVED,
        RepairOrderStatus.IN_REPAIR,
        RepairOrderStatus.QC,
        RepairOrderStatus.READY,
        RepairOrderStatus.DELIVERED,
    ]
    for index, (code, name, phone, (category, brand, model, serial), fault, status) in enumerate(CUSTOMERS):
        store = stores[code]
        receiver = desk if code in DESK_STORES else owner
        order = repairs.receive_order(
            store,
            receiver,
            repairs.Intake(
                category=category,
                brand=brand,
                model=model,
                fault_symptoms=fault,
                signer_name=name,
                signature_data_url=_SIGNATURE,
                new_customer=repairs.NewCustomer(
                    name,
                    phone=phone,
                    email=f"customer{index + 1}@example.com",
                    language="zh_Hans_CN" if phone.startswith("+86") else "en",
                ),
                imei=_imei(serial) if serial.isdigit() else None,
                serial_number=None if serial.isdigit() else serial,
                condition_checks=["scratches"],
                condition_notes="Light scratches on the back",
                accessories="None",
                passcode="1234" if index % 2 else None,
                customer_requirements="Keep the data; call before any cost above the quote",
            ),
        )
        target = order_of_steps.index(status)
        if target >= 1:
            repairs.start_diagnosis(order, tech)
        if target >= 2:
            repairs.record_diagnosis(
                order,
                tech,
                cause="Damaged part found on inspection",
                plan="Replace the part",
                repair_type="parts-replacement",
                minutes=25,
                today=today,
            )
            part = screen if category == "smartphone" else None
            lines = [repairs.LineInput(QuoteLineKind.LABOUR, "Labour", 1, Decimal("150.00"), Decimal("6"))]
            if part is not None:
                lines.insert(
                    0,
                    repairs.LineInput(
                        QuoteLineKind.PART, part.name, 1, Decimal("890.00"), Decimal("13"), part.id
                    ),
                )
            repairs.save_quote(order, tech, lines)
            repairs.send_quote(order, tech, today=today)
        if target >= 3:
            repairs.decide_quote(
                order,
                desk,
                revision=1,
                approve=True,
                method=DecisionMethod.IN_STORE,
                signer_name=name,
                today=today,
            )
        if target >= 4:
            repairs.start_repair(order, tech)
            repairs.log_work(
                order,
                tech,
                step="Opened the device and replaced the part",
                minutes=40,
                equipment="Heat plate, precision screwdrivers",
            )
        if target >= 5:
            repairs.send_to_qc(order, tech)
        if target >= 6:
            check = repairs.begin_qc_check(order, checker, today=today)
            answers = {
                r.item_code: repairs.ResultInput(
                    passed=True, measured_value=r.min_value or r.max_value, note="OK"
                )
                for r in check.results
            }
            repairs.record_qc_results(check, checker, answers)
            for result in check.results:
                if result.kind == "photo":
                    repairs.add_photo(
                        order,
                        PhotoStage.QC,
                        base64.b64decode(_SIGNATURE.split(",")[1]),
                        "qc.png",
                        checker,
                        qc_result=result,
                    )
            repairs.finish_qc_check(check, checker)
        if target >= 7:
            repairs.record_payment(
                order, desk, amount=Decimal(order.amount_due_cents) / 100, method=PaymentMethod.MOBILE
            )
            repairs.deliver(
                order,
                desk,
                signer_name=name,
                signature_data_url=_SIGNATURE,
                confirmed_fixed=True,
                today=today,
            )
    db.session.flush()


def _seed_supervision(stores: dict[str, Store], users: dict[Role, StaffUser]) -> None:
    """HQ supervision (HB ch.8) in every state: a monthly plan over the FixFast stores, a
    reviewed inspection with a corrective action under way at Downtown, a closed one at
    Riverside, a follow-up the inspector has not started, an internal audit plan, an
    unannounced inspection of the kiosk, and a reward."""
    from datetime import timedelta

    from repairqc.inspections import services as supervision
    from repairqc.inspections.models import InspectionKind, InspectionPlan, Recurrence, RewardKind

    today = utcnow().date()
    qa, inspector, manager = users[Role.QA_MANAGER], users[Role.INSPECTOR], users[Role.STORE_MANAGER]
    monthly = InspectionPlan(
        name="FixFast monthly store inspection",
        kind=InspectionKind.PERIODIC,
        recurrence=Recurrence.MONTHLY,
        starts_on=today - timedelta(days=2),
        inspector_id=inspector.id,
    )
    scheduled = supervision.save_plan(monthly, [stores["FF-N01"], stores["FF-S01"]], today=today)
    audit = InspectionPlan(
        name="Downtown quarterly self-audit",
        kind=InspectionKind.INTERNAL_AUDIT,
        recurrence=Recurrence.QUARTERLY,
        starts_on=today + timedelta(days=10),
    )
    supervision.save_plan(audit, [stores["FF-N01"]], today=today)
    supervision.schedule_unannounced(stores["IC-01"], qa, today + timedelta(days=5), qa)
    follow_up = InspectionPlan(
        name="Downtown follow-up inspection",
        kind=InspectionKind.PERIODIC,
        recurrence=Recurrence.ONCE,
        starts_on=today + timedelta(days=3),
        inspector_id=inspector.id,
        notes="Check that the calibration problem found last time is fixed.",
    )
    supervision.save_plan(follow_up, [stores["FF-N01"]], today=today)

    by_store = {i.store.code: i for i in scheduled}
    for code, failing in (("FF-N01", "calibration-current"), ("FF-S01", None)):
        inspection = by_store[code]
        supervision.start_inspection(inspection, inspector)
        answers = {
            r.code: supervision.Answer("4" if r.kind == "score" else "pass") for r in inspection.results
        }
        if failing:
            answers[failing] = supervision.Answer("fail", "Multimeter calibration expired two months ago")
        findings = supervision.answer_items(inspection, answers, inspector)
        supervision.submit_inspection(inspection, inspector, "Store tidy; staff helpful.")
        for finding in findings:
            finding.root_cause = "Nobody tracks calibration dates at this store."
            supervision.add_action(
                finding,
                qa,
                description="Send the multimeter for calibration and keep the certificate on file.",
                owner=manager,
                due_on=None,
                today=today,
            )
        supervision.review_inspection(inspection, qa, "Thorough inspection.")
        for finding in findings:
            supervision.start_action(finding.actions[0], manager)
        if not failing:
            supervision.record_reward_penalty(
                qa,
                kind=RewardKind.REWARD,
                store=inspection.store,
                inspection=inspection,
                reason="Full marks on every critical item",
                measure="Team bonus",
                amount_cents=100000,
                decided_on=today,
            )
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
