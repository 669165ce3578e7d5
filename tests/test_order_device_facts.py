"""An order keeps its device's category, brand and model (`RepairOrder.device_category`,
`device_brand`, `device_model`) for the analytics: copied at intake, again when the order moves
to another device, and to every order of a device whose record is corrected; the migration
backfills the same."""

from __future__ import annotations

import sqlalchemy as sa

from repairqc.db import db
from repairqc.repairs.models import Device, RepairOrder
from tests.conftest import in_tenant
from tests.test_order_parts_facts import backfill_statements
from tests.test_repair_services import new_order

MIGRATION = "20261126_0016ace039c0_order_device_facts.py"


def stored(order_id: int) -> tuple[str | None, str | None, str | None]:
    """The facts as the database holds them (not the session's copy)."""
    o = RepairOrder
    row = db.session.execute(
        sa.select(o.device_category, o.device_brand, o.device_model).where(o.id == order_id)
    ).one()
    return tuple(row)


def facts(order: RepairOrder) -> tuple[str | None, str | None, str | None]:
    return order.device_category, order.device_brand, order.device_model


def test_intake_copies_the_devices_category_brand_and_model(app, alpha):
    with in_tenant(app, alpha):
        order = new_order(alpha)
        device = order.device
        assert device.category and device.brand and device.model
        assert facts(order) == stored(order.id) == (device.category, device.brand, device.model)


def test_a_corrected_device_corrects_all_its_orders_without_touching_their_lock(app, alpha):
    with in_tenant(app, alpha):
        first = new_order(alpha)
        second = new_order(alpha)
        second.device = first.device
        db.session.flush()
        other = new_order(alpha)
        versions = first.version, second.version
        other_facts = stored(other.id)

        first.device.category, first.device.model = "tablet", "Tab 9"
        db.session.flush()
        expected = ("tablet", first.device.brand, "Tab 9")
        assert stored(first.id) == stored(second.id) == expected
        # The orders already loaded see the correction too; no one edited them.
        assert facts(first) == facts(second) == expected
        assert (first.version, second.version) == versions
        assert stored(other.id) == other_facts  # another device's order is left alone


def test_an_order_moved_to_another_device_takes_that_devices_facts(app, alpha):
    with in_tenant(app, alpha):
        order = new_order(alpha)
        laptop = Device(
            store_id=order.store_id, customer_id=order.customer_id, category="laptop", brand="Lenovo",
            model="X1",
        )  # fmt: skip
        db.session.add(laptop)
        db.session.flush()
        order.device_id = laptop.id  # by key, not by relationship
        db.session.flush()
        assert stored(order.id) == ("laptop", "Lenovo", "X1")


def test_a_device_corrected_in_one_tenant_leaves_the_other_tenants_orders_alone(app, alpha, beta):
    # Row ids repeat across tenants' schemas: the UPDATE by device id must stay in its own.
    with in_tenant(app, beta):  # the seeded orders
        beta_before = {
            row.id: tuple(row[1:])
            for row in db.session.execute(
                sa.select(RepairOrder.id, RepairOrder.device_category, RepairOrder.device_model)
            )
        }
    with in_tenant(app, alpha):
        alpha_order = new_order(alpha)
        for device in db.session.execute(sa.select(Device)).scalars():
            device.category, device.model = "game-console", f"Corrected {device.id}"
        db.session.flush()
        assert stored(alpha_order.id)[0] == "game-console"
    with in_tenant(app, beta):
        after = {
            row.id: tuple(row[1:])
            for row in db.session.execute(
                sa.select(RepairOrder.id, RepairOrder.device_category, RepairOrder.device_model)
            )
        }
        assert after == beta_before and after
        assert all(category != "game-console" for category, _model in after.values())


def test_the_migration_backfills_what_the_hook_keeps(app, alpha):
    with in_tenant(app, alpha):
        new_order(alpha)
        new_order(alpha)
        o = RepairOrder
        columns = (o.id, o.device_category, o.device_brand, o.device_model)
        kept = db.session.execute(sa.select(*columns).order_by(o.id)).all()
        assert kept and all(row.device_category for row in kept)

        db.session.execute(sa.update(o).values(device_category=None, device_brand=None, device_model=None))
        statements = backfill_statements(MIGRATION)
        assert len(statements) == 1
        for statement in statements:
            db.session.execute(sa.text(statement))
        db.session.expire_all()
        assert db.session.execute(sa.select(*columns).order_by(o.id)).all() == kept
