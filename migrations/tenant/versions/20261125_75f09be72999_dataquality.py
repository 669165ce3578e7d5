"""Duplicate customer merges and data anomaly flags (HB §7.1.2)

Revision ID: 75f09be72999
Revises: 08c2e6b5db47
Create Date: 2026-11-25 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '75f09be72999'
down_revision: str | Sequence[str] | None = '08c2e6b5db47'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('duplicate_dismissals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('other_customer_id', sa.Integer(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.CheckConstraint('customer_id < other_customer_id', name=op.f('ck_duplicate_dismissals_pair_ordered')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_duplicate_dismissals_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['decided_by_id'], ['staff_users.id'], name=op.f('fk_duplicate_dismissals_decided_by_id_staff_users')),
    sa.ForeignKeyConstraint(['other_customer_id'], ['customers.id'], name=op.f('fk_duplicate_dismissals_other_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_duplicate_dismissals')),
    sa.UniqueConstraint('customer_id', 'other_customer_id', name=op.f('uq_duplicate_dismissals_customer_id_other_customer_id'))
    )
    with op.batch_alter_table('duplicate_dismissals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_duplicate_dismissals_other_customer_id'), ['other_customer_id'], unique=False)

    op.create_table('customer_merges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('survivor_id', sa.Integer(), nullable=False),
    sa.Column('merged_id', sa.Integer(), nullable=False),
    sa.Column('merged_store_id', sa.Integer(), nullable=False),
    sa.Column('merged_snapshot', sa.JSON(), nullable=False),
    sa.Column('field_choices', sa.JSON(), nullable=False),
    sa.Column('moved_counts', sa.JSON(), nullable=False),
    sa.Column('merged_by_id', sa.Integer(), nullable=True),
    sa.Column('merged_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['merged_by_id'], ['staff_users.id'], name=op.f('fk_customer_merges_merged_by_id_staff_users')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_customer_merges_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_merges'))
    )
    with op.batch_alter_table('customer_merges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_merges_merged_at'), ['merged_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_merges_merged_id'), ['merged_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_merges_store_id'), ['store_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_merges_survivor_id'), ['survivor_id'], unique=False)

    op.create_table('data_anomalies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('outlier', 'stuck', name='anomalykind', native_enum=False, length=15), nullable=False),
    sa.Column('metric', sa.Enum('parts_cost', 'price', 'duration', 'time_in_state', name='anomalymetric', native_enum=False, length=21), nullable=False),
    sa.Column('basis', sa.String(length=80), nullable=False),
    sa.Column('category', sa.String(length=40), nullable=True),
    sa.Column('order_status', sa.Enum('received', 'diagnosing', 'quoted', 'approved', 'in_repair', 'qc', 'ready', 'delivered', 'closed', 'declined', 'cancelled', name='repairorderstatus', native_enum=False, length=18), nullable=True),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('expected_low', sa.Float(), nullable=True),
    sa.Column('expected_high', sa.Float(), nullable=False),
    sa.Column('sample_size', sa.Integer(), nullable=False),
    sa.Column('detected_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.Enum('open', 'confirmed', 'dismissed', 'resolved', name='anomalystatus', native_enum=False, length=17), nullable=False),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['repair_orders.id'], name=op.f('fk_data_anomalies_order_id_repair_orders')),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['staff_users.id'], name=op.f('fk_data_anomalies_reviewed_by_id_staff_users')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_data_anomalies_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_data_anomalies')),
    sa.UniqueConstraint('order_id', 'kind', 'metric', 'basis', name=op.f('uq_data_anomalies_order_id_kind_metric_basis'))
    )
    with op.batch_alter_table('data_anomalies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_data_anomalies_detected_at'), ['detected_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_data_anomalies_order_id'), ['order_id'], unique=False)
        batch_op.create_index('ix_data_anomalies_status_store', ['status', 'store_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_data_anomalies_store_id'), ['store_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('data_anomalies', schema=None) as batch_op:
        batch_op.drop_index('ix_data_anomalies_status_store')
        batch_op.drop_index(batch_op.f('ix_data_anomalies_store_id'))
        batch_op.drop_index(batch_op.f('ix_data_anomalies_order_id'))
        batch_op.drop_index(batch_op.f('ix_data_anomalies_detected_at'))
    op.drop_table('data_anomalies')
    with op.batch_alter_table('customer_merges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_merges_survivor_id'))
        batch_op.drop_index(batch_op.f('ix_customer_merges_store_id'))
        batch_op.drop_index(batch_op.f('ix_customer_merges_merged_id'))
        batch_op.drop_index(batch_op.f('ix_customer_merges_merged_at'))
    op.drop_table('customer_merges')
    with op.batch_alter_table('duplicate_dismissals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_duplicate_dismissals_other_customer_id'))
    op.drop_table('duplicate_dismissals')
