"""An order keeps the parts used on it and their cost (`RepairOrder.parts_units`,
`parts_cost_cents`), whatever writes its stock movements; the migration backfills the same."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import sqlalchemy as sa

from repairqc.db import db
from repairqc.repairs import services
from repairqc.repairs.models import Part, RepairOrder, StockMovement, StockReason
from tests.conftest import in_tenant, staff, store
from tests.test_repair_services import in_repair, new_part

VERSIONS = Path(__file__).resolve().parents[1] / "migrations/tenant/versions"
MIGRATION = "20261125_b4d2f6a8c913_order_parts_facts.py"


def stored(order_id: int) -> tuple[int, int]:
    """The facts as the database holds them (not the session's copy)."""
    row = db.session.execute(
        sa.select(RepairOrder.parts_units, RepairOrder.parts_cost_cents).where(RepairOrder.id == order_id)
    ).one()
    return tuple(row)


def facts(order: RepairOrder) -> tuple[int, int]:
    return order.parts_units, order.parts_cost_cents


def test_parts_taken_and_returned_are_kept_at_the_price_when_taken(app, alpha):
    with in_tenant(app, alpha):
        order = in_repair(alpha)
        tech = staff(alpha, "tech")
        part = new_part(alpha, 5)  # 99.00 each
        assert facts(order) == stored(order.id) == (0, 0)
        version = order.version

        services.consume_part(order, tech, part_id=part.id, quantity=2)
        assert facts(order) == stored(order.id) == (2, 19800)
        # A later price change does not rewrite what the repair cost; new parts take the new price.
        part.unit_price_cents = 12000
        db.session.flush()
        assert stored(order.id) == (2, 19800)
        services.consume_part(order, tech, part_id=part.id, quantity=1)
        assert facts(order) == stored(order.id) == (3, 31800)
        # A part put back cancels one use.
        db.session.add(
            StockMovement(
                store_id=order.store_id, part=part, order=order, change=1, reason=StockReason.RETURN
            )
        )
        db.session.flush()
        assert facts(order) == stored(order.id) == (2, 19800)
        # Derived facts do not move the order's optimistic lock under a page that shows it.
        assert order.version == version


def test_stock_that_is_not_used_on_an_order_is_not_counted(app, alpha):
    with in_tenant(app, alpha):
        order = in_repair(alpha)
        part = new_part(alpha, 3)
        services.receive_stock(store(alpha), staff(alpha, "manager"), part_id=part.id, quantity=2)
        db.session.add_all(
            [
                # A stock count correction, even if someone linked it to the order.
                StockMovement(
                    store_id=order.store_id, part=part, order=order, change=-1, reason=StockReason.ADJUSTMENT
                ),
                # A part used without an order (e.g. a demo unit): nothing to stamp.
                StockMovement(store_id=order.store_id, part=part, change=-1, reason=StockReason.CONSUMPTION),
            ]
        )
        db.session.flush()
        assert stored(order.id) == (0, 0)


def test_editing_moving_and_deleting_a_movement_corrects_the_orders(app, alpha):
    """Movements are not editable in the admin (the matrix gives view/export only); a data fix
    through the ORM still keeps the facts right, also with attributes expired since loading."""
    with in_tenant(app, alpha):
        first, second = in_repair(alpha), in_repair(alpha)
        part = new_part(alpha, 10)
        movement = services.consume_part(first, staff(alpha, "tech"), part_id=part.id, quantity=2)
        assert stored(first.id) == (2, 19800)

        db.session.expire(movement)
        movement.change = -3
        db.session.flush()
        assert stored(first.id) == (3, 29700)

        movement.order = second
        db.session.flush()
        assert stored(first.id) == (0, 0) and stored(second.id) == (3, 29700)
        assert facts(first) == (0, 0) and facts(second) == (3, 29700)

        movement.reason = StockReason.ADJUSTMENT
        db.session.flush()
        assert stored(second.id) == (0, 0)
        movement.reason = StockReason.CONSUMPTION
        movement.note = "counted again"
        db.session.flush()
        assert stored(second.id) == (3, 29700)

        db.session.delete(movement)
        db.session.flush()
        assert stored(second.id) == (0, 0) and facts(second) == (0, 0)


def test_parts_taken_in_one_tenant_leave_the_other_tenant_untouched(app, alpha, beta):
    with in_tenant(app, beta):
        beta_facts = db.session.execute(
            sa.select(RepairOrder.id, RepairOrder.parts_units, RepairOrder.parts_cost_cents).order_by(
                RepairOrder.id
            )
        ).all()
    with in_tenant(app, alpha):
        order = in_repair(alpha)
        part = new_part(alpha, 4)
        services.consume_part(order, staff(alpha, "tech"), part_id=part.id, quantity=4)
        assert stored(order.id) == (4, 39600)
    with in_tenant(app, beta):
        assert (
            db.session.execute(
                sa.select(RepairOrder.id, RepairOrder.parts_units, RepairOrder.parts_cost_cents).order_by(
                    RepairOrder.id
                )
            ).all()
            == beta_facts
        )


def backfill_statements(migration: str = MIGRATION) -> list[str]:
    """The SQL a migration runs besides its table changes (recorded from its upgrade())."""
    spec = importlib.util.spec_from_file_location(Path(migration).stem, VERSIONS / migration)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    class Recorder:
        def __init__(self):
            self.sql: list[str] = []

        def batch_alter_table(self, *args, **kwargs):
            class Batch:
                def __enter__(self):
                    return self

                def __exit__(self, *exc):
                    return False

                def __getattr__(self, name):
                    return lambda *a, **k: None

            return Batch()

        def execute(self, sql):
            self.sql.append(str(sql))

    module.op = recorder = Recorder()
    module.upgrade()
    return recorder.sql


def test_the_migration_backfills_what_the_hook_keeps(app, alpha):
    with in_tenant(app, alpha):
        first, second = in_repair(alpha), in_repair(alpha)
        tech = staff(alpha, "tech")
        part, other = new_part(alpha, 10), new_part(alpha, 10)
        services.consume_part(first, tech, part_id=part.id, quantity=3)
        services.consume_part(first, tech, part_id=other.id, quantity=1)
        services.consume_part(second, tech, part_id=other.id, quantity=2)
        db.session.add(
            StockMovement(store_id=first.store_id, part_id=part.id, order_id=first.id, change=1,
                          reason=StockReason.RETURN)
        )  # fmt: skip
        db.session.flush()
        kept = db.session.execute(
            sa.select(RepairOrder.id, RepairOrder.parts_units, RepairOrder.parts_cost_cents).order_by(
                RepairOrder.id
            )
        ).all()
        assert {row.id: tuple(row[1:]) for row in kept}[first.id] == (3, 4 * 9900 - 9900)

        db.session.execute(sa.update(RepairOrder).values(parts_units=0, parts_cost_cents=0))
        for statement in backfill_statements():
            db.session.execute(sa.text(statement))
        db.session.expire_all()
        assert (
            db.session.execute(
                sa.select(RepairOrder.id, RepairOrder.parts_units, RepairOrder.parts_cost_cents).order_by(
                    RepairOrder.id
                )
            ).all()
            == kept
        )
        # Prices unchanged since the parts were taken: the backfill's "today's price" agrees.
        assert db.session.get(Part, part.id).unit_price_cents == 9900
