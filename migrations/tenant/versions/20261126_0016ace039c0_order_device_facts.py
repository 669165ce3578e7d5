"""Repair orders keep their device's category, brand and model; one covering index for the
orders delivered in a period (for the analytics, HB §7.2)

Revision ID: 0016ace039c0
Revises: b4d2f6a8c913
Create Date: 2026-11-26 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016ace039c0"
down_revision: str | Sequence[str] | None = "b4d2f6a8c913"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: What the analytics read of an order delivered in the period (`delivered_select`): on
#: PostgreSQL the index carries them, so the read never visits the wide table rows.
DELIVERED_FACTS = [
    "id",
    "received_at",
    "technician_id",
    "repair_type",
    "device_category",
    "device_brand",
    "device_model",
    "parts_cost_cents",
    "parts_units",
    "amount_due_cents",
    "rework_of_id",
    "reworked_at",
]


def upgrade() -> None:
    with op.batch_alter_table("repair_orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("device_category", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("device_brand", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("device_model", sa.String(length=120), nullable=True))
    # UPDATE ... FROM (PostgreSQL; SQLite >= 3.33): one pass over the devices.
    op.execute(
        "UPDATE repair_orders SET device_category = d.category, device_brand = d.brand, "
        "device_model = d.model FROM devices AS d WHERE d.id = repair_orders.device_id"
    )
    with op.batch_alter_table("repair_orders", schema=None) as batch_op:
        # The new index leads with delivered_at: it serves the report's period filter too, and
        # the weekly cost series reads store and cost from it.
        batch_op.drop_index("ix_repair_orders_delivered_store_cost")
        batch_op.drop_index("ix_repair_orders_delivered_at")
        batch_op.create_index(
            "ix_repair_orders_delivered_facts",
            ["delivered_at", "store_id"],
            unique=False,
            postgresql_include=DELIVERED_FACTS,
        )


def downgrade() -> None:
    with op.batch_alter_table("repair_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_repair_orders_delivered_facts")
        batch_op.create_index("ix_repair_orders_delivered_at", ["delivered_at"], unique=False)
        batch_op.create_index(
            "ix_repair_orders_delivered_store_cost",
            ["delivered_at", "store_id", "parts_cost_cents"],
            unique=False,
        )
        batch_op.drop_column("device_model")
        batch_op.drop_column("device_brand")
        batch_op.drop_column("device_category")
