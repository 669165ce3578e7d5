"""Staff assessments with KPIs from the repair data (HB §3.3)

Revision ID: a93c5e17d2f8
Revises: 7d2b9e4a0c13
Create Date: 2026-11-24 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'a93c5e17d2f8'
down_revision: str | Sequence[str] | None = '7d2b9e4a0c13'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('assessments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('monthly', 'quarterly', 'annual', name='assessmentkind', native_enum=False, length=17), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('retake_of_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('draft', 'finalised', name='assessmentstatus', native_enum=False, length=17), nullable=False),
    sa.Column('assessor_id', sa.Integer(), nullable=True),
    sa.Column('standard_version_id', sa.Integer(), nullable=True),
    sa.Column('weights', sa.JSON(), nullable=False),
    sa.Column('pass_mark', sa.Float(), nullable=False),
    sa.Column('repair_speed', sa.Float(), nullable=True),
    sa.Column('repair_quality', sa.Float(), nullable=True),
    sa.Column('diagnosis_accuracy', sa.Float(), nullable=True),
    sa.Column('customer_satisfaction', sa.Float(), nullable=True),
    sa.Column('communication', sa.Float(), nullable=True),
    sa.Column('teamwork', sa.Float(), nullable=True),
    sa.Column('safety', sa.Float(), nullable=True),
    sa.Column('facts', sa.JSON(), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('total_score', sa.Float(), nullable=True),
    sa.Column('passed', sa.Boolean(), nullable=True),
    sa.Column('outcome', sa.Enum('none', 'promotion', 'demotion', 'reward', 'penalty', name='assessmentoutcome', native_enum=False, length=17), nullable=False),
    sa.Column('follow_up', sa.Enum('none', 'retake', 'retraining', name='followup', native_enum=False, length=18), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('finalised_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('attempt >= 1', name=op.f('ck_assessments_attempt_positive')),
    sa.CheckConstraint('period_end >= period_start', name=op.f('ck_assessments_period_order')),
    sa.ForeignKeyConstraint(['assessor_id'], ['staff_users.id'], name=op.f('fk_assessments_assessor_id_staff_users')),
    sa.ForeignKeyConstraint(['retake_of_id'], ['assessments.id'], name=op.f('fk_assessments_retake_of_id_assessments')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_users.id'], name=op.f('fk_assessments_staff_id_staff_users')),
    sa.ForeignKeyConstraint(['standard_version_id'], ['standard_versions.id'], name=op.f('fk_assessments_standard_version_id_standard_versions')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_assessments_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assessments')),
    sa.UniqueConstraint('staff_id', 'store_id', 'kind', 'period_start', 'attempt', name=op.f('uq_assessments_staff_id_store_id_kind_period_start_attempt'))
    )
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assessments_assessor_id'), ['assessor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assessments_staff_id'), ['staff_id'], unique=False)
        batch_op.create_index('ix_assessments_staff_period', ['staff_id', 'period_start'], unique=False)
        batch_op.create_index(batch_op.f('ix_assessments_store_id'), ['store_id'], unique=False)

    op.create_table('assessment_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('assessment_id', sa.Integer(), nullable=False),
    sa.Column('from_status', sa.Enum('draft', 'finalised', name='assessmentstatus', native_enum=False, length=17), nullable=True),
    sa.Column('to_status', sa.Enum('draft', 'finalised', name='assessmentstatus', native_enum=False, length=17), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['staff_users.id'], name=op.f('fk_assessment_events_actor_id_staff_users')),
    sa.ForeignKeyConstraint(['assessment_id'], ['assessments.id'], name=op.f('fk_assessment_events_assessment_id_assessments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_assessment_events_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assessment_events'))
    )
    with op.batch_alter_table('assessment_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assessment_events_assessment_id'), ['assessment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assessment_events_store_id'), ['store_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('assessment_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assessment_events_store_id'))
        batch_op.drop_index(batch_op.f('ix_assessment_events_assessment_id'))

    op.drop_table('assessment_events')
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assessments_store_id'))
        batch_op.drop_index('ix_assessments_staff_period')
        batch_op.drop_index(batch_op.f('ix_assessments_staff_id'))
        batch_op.drop_index(batch_op.f('ix_assessments_assessor_id'))

    op.drop_table('assessments')
