"""Follow-ups and satisfaction surveys (HB §6.2.2, §6.3)

Revision ID: d5f9b3e2a814
Revises: 39b1b81ae9cd
Create Date: 2026-11-25 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'd5f9b3e2a814'
down_revision: str | Sequence[str] | None = '39b1b81ae9cd'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('follow_ups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('days_after', sa.Integer(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('status', sa.Enum('open', 'done', 'closed', name='followupstatus', native_enum=False, length=14), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('outcome', sa.Enum('satisfied', 'problem', 'not_reached', 'declined', name='followupoutcome', native_enum=False, length=19), nullable=True),
    sa.Column('channel', sa.Enum('phone', 'sms', 'email', 'wechat', 'on_site', name='followupchannel', native_enum=False, length=15), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('completed_on', sa.Date(), nullable=True),
    sa.Column('completed_by_id', sa.Integer(), nullable=True),
    sa.Column('complaint_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['completed_by_id'], ['staff_users.id'], name=op.f('fk_follow_ups_completed_by_id_staff_users')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_follow_ups_customer_id_customers')),
    sa.ForeignKeyConstraint(['order_id'], ['repair_orders.id'], name=op.f('fk_follow_ups_order_id_repair_orders')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_follow_ups_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_ups')),
    sa.UniqueConstraint('order_id', 'sequence', name=op.f('uq_follow_ups_order_id_sequence'))
    )
    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_follow_ups_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_follow_ups_store_id'), ['store_id'], unique=False)
        batch_op.create_index('ix_follow_ups_store_status_due', ['store_id', 'status', 'due_on'], unique=False)

    op.create_table('satisfaction_surveys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('technician_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('scheduled', 'sent', 'no_channel', 'answered', name='surveystatus', native_enum=False, length=18), nullable=False),
    sa.Column('send_after', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('nonce', sa.String(length=40), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('channel', sa.Enum('online', 'phone', 'on_site', 'paper', name='surveychannel', native_enum=False, length=15), nullable=True),
    sa.Column('entered_by_id', sa.Integer(), nullable=True),
    sa.Column('language', sa.String(length=16), nullable=True),
    sa.Column('timeliness', sa.Integer(), nullable=True),
    sa.Column('quality', sa.Integer(), nullable=True),
    sa.Column('attitude', sa.Integer(), nullable=True),
    sa.Column('price', sa.Integer(), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('would_recommend', sa.Boolean(), nullable=True),
    sa.Column('complaint_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_satisfaction_surveys_customer_id_customers')),
    sa.ForeignKeyConstraint(['entered_by_id'], ['staff_users.id'], name=op.f('fk_satisfaction_surveys_entered_by_id_staff_users')),
    sa.ForeignKeyConstraint(['order_id'], ['repair_orders.id'], name=op.f('fk_satisfaction_surveys_order_id_repair_orders')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_satisfaction_surveys_store_id_stores')),
    sa.ForeignKeyConstraint(['technician_id'], ['staff_users.id'], name=op.f('fk_satisfaction_surveys_technician_id_staff_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_satisfaction_surveys')),
    sa.UniqueConstraint('order_id', name=op.f('uq_satisfaction_surveys_order_id'))
    )
    with op.batch_alter_table('satisfaction_surveys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_satisfaction_surveys_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index('ix_satisfaction_surveys_status_send_after', ['status', 'send_after'], unique=False)
        batch_op.create_index('ix_satisfaction_surveys_store_answered', ['store_id', 'answered_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_satisfaction_surveys_store_id'), ['store_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_satisfaction_surveys_technician_id'), ['technician_id'], unique=False)

    op.create_table('follow_up_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('follow_up_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.Enum('phone', 'sms', 'email', 'wechat', 'on_site', name='followupchannel', native_enum=False, length=15), nullable=False),
    sa.Column('outcome', sa.Enum('satisfied', 'problem', 'not_reached', 'declined', name='followupoutcome', native_enum=False, length=19), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['by_id'], ['staff_users.id'], name=op.f('fk_follow_up_attempts_by_id_staff_users')),
    sa.ForeignKeyConstraint(['follow_up_id'], ['follow_ups.id'], name=op.f('fk_follow_up_attempts_follow_up_id_follow_ups')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_follow_up_attempts_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_up_attempts'))
    )
    with op.batch_alter_table('follow_up_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_follow_up_attempts_follow_up_id'), ['follow_up_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_follow_up_attempts_store_id'), ['store_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('follow_up_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_follow_up_attempts_store_id'))
        batch_op.drop_index(batch_op.f('ix_follow_up_attempts_follow_up_id'))

    op.drop_table('follow_up_attempts')
    with op.batch_alter_table('satisfaction_surveys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_satisfaction_surveys_technician_id'))
        batch_op.drop_index(batch_op.f('ix_satisfaction_surveys_store_id'))
        batch_op.drop_index('ix_satisfaction_surveys_store_answered')
        batch_op.drop_index('ix_satisfaction_surveys_status_send_after')
        batch_op.drop_index(batch_op.f('ix_satisfaction_surveys_customer_id'))

    op.drop_table('satisfaction_surveys')
    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        batch_op.drop_index('ix_follow_ups_store_status_due')
        batch_op.drop_index(batch_op.f('ix_follow_ups_store_id'))
        batch_op.drop_index(batch_op.f('ix_follow_ups_customer_id'))

    op.drop_table('follow_ups')
