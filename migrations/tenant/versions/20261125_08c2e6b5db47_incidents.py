"""Emergency plans, drills and incidents (HB §9.1-§9.2)

Revision ID: 08c2e6b5db47
Revises: f7b1d5a4ca36
Create Date: 2026-11-25 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '08c2e6b5db47'
down_revision: str | Sequence[str] | None = 'f7b1d5a4ca36'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('emergency_plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'active', 'superseded', name='planstatus', native_enum=False, length=18), nullable=False),
    sa.Column('active_code', sa.String(length=40), nullable=True),
    sa.Column('kind', sa.Enum('natural_disaster', 'equipment_failure', 'injury', 'data_breach', 'supply_failure', 'other', name='plankind', native_enum=False, length=25), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('command_roles', sa.JSON(), nullable=False),
    sa.Column('rescue_team', sa.Text(), nullable=True),
    sa.Column('supplies', sa.Text(), nullable=True),
    sa.Column('warning_triggers', sa.Text(), nullable=True),
    sa.Column('response_steps', sa.Text(), nullable=False),
    sa.Column('rescue_measures', sa.Text(), nullable=True),
    sa.Column('customer_template_en', sa.Text(), nullable=False),
    sa.Column('customer_template_zh', sa.Text(), nullable=False),
    sa.Column('update_interval_hours', sa.Integer(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('based_on_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('published_by_id', sa.Integer(), nullable=True),
    sa.Column('superseded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('update_interval_hours > 0', name=op.f('ck_emergency_plans_interval_positive')),
    sa.ForeignKeyConstraint(['based_on_id'], ['emergency_plans.id'], name=op.f('fk_emergency_plans_based_on_id_emergency_plans')),
    sa.ForeignKeyConstraint(['created_by_id'], ['staff_users.id'], name=op.f('fk_emergency_plans_created_by_id_staff_users')),
    sa.ForeignKeyConstraint(['published_by_id'], ['staff_users.id'], name=op.f('fk_emergency_plans_published_by_id_staff_users')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_emergency_plans_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_emergency_plans')),
    sa.UniqueConstraint('active_code', name=op.f('uq_emergency_plans_active_code')),
    sa.UniqueConstraint('code', 'number', name=op.f('uq_emergency_plans_code_number'))
    )
    with op.batch_alter_table('emergency_plans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_emergency_plans_code'), ['code'], unique=False)
        batch_op.create_index(batch_op.f('ix_emergency_plans_store_id'), ['store_id'], unique=False)

    op.create_table('emergency_drills',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('held_on', sa.Date(), nullable=False),
    sa.Column('participants', sa.Text(), nullable=False),
    sa.Column('scenario', sa.Text(), nullable=False),
    sa.Column('findings', sa.Text(), nullable=True),
    sa.Column('follow_up', sa.Text(), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['emergency_plans.id'], name=op.f('fk_emergency_drills_plan_id_emergency_plans')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['staff_users.id'], name=op.f('fk_emergency_drills_recorded_by_id_staff_users')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_emergency_drills_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_emergency_drills'))
    )
    with op.batch_alter_table('emergency_drills', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_emergency_drills_plan_id'), ['plan_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_emergency_drills_store_id'), ['store_id'], unique=False)

    op.create_table('incidents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('natural_disaster', 'equipment_failure', 'injury', 'data_breach', 'supply_failure', 'other', name='plankind', native_enum=False, length=25), nullable=False),
    sa.Column('severity', sa.Enum('low', 'medium', 'high', 'critical', name='severity', native_enum=False, length=16), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reported_by_id', sa.Integer(), nullable=True),
    sa.Column('plan_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('reported', 'responding', 'closed', name='incidentstatus', native_enum=False, length=18), nullable=False),
    sa.Column('commander_id', sa.Integer(), nullable=True),
    sa.Column('command_taken_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('next_update_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('review', sa.Text(), nullable=True),
    sa.Column('revision_plan_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['closed_by_id'], ['staff_users.id'], name=op.f('fk_incidents_closed_by_id_staff_users')),
    sa.ForeignKeyConstraint(['commander_id'], ['staff_users.id'], name=op.f('fk_incidents_commander_id_staff_users')),
    sa.ForeignKeyConstraint(['plan_id'], ['emergency_plans.id'], name=op.f('fk_incidents_plan_id_emergency_plans')),
    sa.ForeignKeyConstraint(['reported_by_id'], ['staff_users.id'], name=op.f('fk_incidents_reported_by_id_staff_users')),
    sa.ForeignKeyConstraint(['revision_plan_id'], ['emergency_plans.id'], name=op.f('fk_incidents_revision_plan_id_emergency_plans')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_incidents_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incidents'))
    )
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incidents_plan_id'), ['plan_id'], unique=False)
        batch_op.create_index('ix_incidents_status_next_update', ['status', 'next_update_due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_incidents_store_id'), ['store_id'], unique=False)

    op.create_table('incident_actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=True),
    sa.Column('what', sa.Text(), nullable=False),
    sa.Column('step', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['by_id'], ['staff_users.id'], name=op.f('fk_incident_actions_by_id_staff_users')),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_actions_incident_id_incidents')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_incident_actions_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_actions'))
    )
    with op.batch_alter_table('incident_actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_actions_incident_id'), ['incident_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_incident_actions_store_id'), ['store_id'], unique=False)

    op.create_table('incident_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=40), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_alerts_incident_id_incidents')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_incident_alerts_store_id_stores')),
    sa.ForeignKeyConstraint(['user_id'], ['staff_users.id'], name=op.f('fk_incident_alerts_user_id_staff_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_alerts')),
    sa.UniqueConstraint('incident_id', 'user_id', name=op.f('uq_incident_alerts_incident_id_user_id'))
    )
    with op.batch_alter_table('incident_alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_alerts_incident_id'), ['incident_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_incident_alerts_store_id'), ['store_id'], unique=False)

    op.create_table('incident_updates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('update', 'closing', name='updatekind', native_enum=False, length=15), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_by_id', sa.Integer(), nullable=True),
    sa.Column('recipients', sa.Integer(), nullable=False),
    sa.Column('no_channel', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_updates_incident_id_incidents')),
    sa.ForeignKeyConstraint(['sent_by_id'], ['staff_users.id'], name=op.f('fk_incident_updates_sent_by_id_staff_users')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_incident_updates_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_updates')),
    sa.UniqueConstraint('incident_id', 'round', name=op.f('uq_incident_updates_incident_id_round'))
    )
    with op.batch_alter_table('incident_updates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_updates_incident_id'), ['incident_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_incident_updates_store_id'), ['store_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('incident_updates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incident_updates_store_id'))
        batch_op.drop_index(batch_op.f('ix_incident_updates_incident_id'))

    op.drop_table('incident_updates')
    with op.batch_alter_table('incident_alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incident_alerts_store_id'))
        batch_op.drop_index(batch_op.f('ix_incident_alerts_incident_id'))

    op.drop_table('incident_alerts')
    with op.batch_alter_table('incident_actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incident_actions_store_id'))
        batch_op.drop_index(batch_op.f('ix_incident_actions_incident_id'))

    op.drop_table('incident_actions')
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incidents_store_id'))
        batch_op.drop_index('ix_incidents_status_next_update')
        batch_op.drop_index(batch_op.f('ix_incidents_plan_id'))

    op.drop_table('incidents')
    with op.batch_alter_table('emergency_drills', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_emergency_drills_store_id'))
        batch_op.drop_index(batch_op.f('ix_emergency_drills_plan_id'))

    op.drop_table('emergency_drills')
    with op.batch_alter_table('emergency_plans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_emergency_plans_store_id'))
        batch_op.drop_index(batch_op.f('ix_emergency_plans_code'))

    op.drop_table('emergency_plans')
