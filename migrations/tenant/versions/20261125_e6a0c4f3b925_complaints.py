"""Complaints with a first-contact clock (HB §9.3)

Revision ID: e6a0c4f3b925
Revises: d5f9b3e2a814
Create Date: 2026-11-25 01:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = 'e6a0c4f3b925'
down_revision: str | Sequence[str] | None = 'd5f9b3e2a814'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The built-in categories of HB §9.3.2 (shown in each reader's language by their code). A
#: tenant made by create-all-and-stamp gets them from `complaints.models` (after_create).
BUILTIN = [
    ("service_quality", "Service quality"),
    ("repair_result", "Repair result"),
    ("service_attitude", "Service attitude"),
    ("price", "Price"),
    ("other", "Other"),
]


def upgrade() -> None:
    categories = op.create_table('complaint_categories',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaint_categories')),
    sa.UniqueConstraint('code', name=op.f('uq_complaint_categories_code'))
    )
    op.create_table('complaint_number_counters',
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('last_number', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_complaint_number_counters_store_id_stores')),
    sa.PrimaryKeyConstraint('store_id', name=op.f('pk_complaint_number_counters'))
    )
    op.create_table('complaints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('channel', sa.Enum('web_form', 'phone', 'email', 'in_store', 'survey', 'follow_up', name='complaintchannel', native_enum=False, length=17), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('survey_id', sa.Integer(), nullable=True),
    sa.Column('contact_name', sa.String(length=200), nullable=True),
    sa.Column('contact_phone', sa.Text(), nullable=True),
    sa.Column('contact_email', sa.Text(), nullable=True),
    sa.Column('language', sa.String(length=16), nullable=False),
    sa.Column('responsible_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('received', 'contacted', 'resolved', 'closed', name='complaintstatus', native_enum=False, length=17), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('first_contact_due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('first_contacted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_contact_on_time', sa.Boolean(), nullable=True),
    sa.Column('warned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolution', sa.Text(), nullable=True),
    sa.Column('outcome', sa.Enum('none', 'rework', 'refund', 'replacement', 'other', name='resolutionoutcome', native_enum=False, length=19), nullable=True),
    sa.Column('rework_order_id', sa.Integer(), nullable=True),
    sa.Column('refund_cents', sa.Integer(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closure', sa.Enum('confirmed_link', 'confirmed_phone', 'unconfirmed', name='closure', native_enum=False, length=23), nullable=True),
    sa.Column('reopen_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('confirm_nonce', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['complaint_categories.id'], name=op.f('fk_complaints_category_id_complaint_categories')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_complaints_customer_id_customers')),
    sa.ForeignKeyConstraint(['order_id'], ['repair_orders.id'], name=op.f('fk_complaints_order_id_repair_orders')),
    sa.ForeignKeyConstraint(['responsible_id'], ['staff_users.id'], name=op.f('fk_complaints_responsible_id_staff_users')),
    sa.ForeignKeyConstraint(['rework_order_id'], ['repair_orders.id'], name=op.f('fk_complaints_rework_order_id_repair_orders')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_complaints_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaints')),
    sa.UniqueConstraint('number', name=op.f('uq_complaints_number'))
    )
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaints_category_id'), ['category_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_responsible_id'), ['responsible_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_rework_order_id'), ['rework_order_id'], unique=False)
        batch_op.create_index('ix_complaints_status_due', ['status', 'first_contact_due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_store_id'), ['store_id'], unique=False)
        batch_op.create_index('ix_complaints_store_status', ['store_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_survey_id'), ['survey_id'], unique=False)

    op.create_table('complaint_contacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('complaint_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('channel', sa.Enum('phone', 'email', 'sms', 'in_store', 'other', name='contactmethod', native_enum=False, length=16), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['by_id'], ['staff_users.id'], name=op.f('fk_complaint_contacts_by_id_staff_users')),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], name=op.f('fk_complaint_contacts_complaint_id_complaints')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_complaint_contacts_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaint_contacts'))
    )
    with op.batch_alter_table('complaint_contacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaint_contacts_complaint_id'), ['complaint_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaint_contacts_store_id'), ['store_id'], unique=False)

    op.create_table('complaint_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('complaint_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('opened', 'contacted', 'resolved', 'closed', 'reopened', 'reassigned', 'classified', 'warned', 'escalated', name='eventkind', native_enum=False, length=18), nullable=False),
    sa.Column('from_status', sa.Enum('received', 'contacted', 'resolved', 'closed', name='complaintstatus', native_enum=False, length=17), nullable=True),
    sa.Column('to_status', sa.Enum('received', 'contacted', 'resolved', 'closed', name='complaintstatus', native_enum=False, length=17), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['staff_users.id'], name=op.f('fk_complaint_events_actor_id_staff_users')),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], name=op.f('fk_complaint_events_complaint_id_complaints')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_complaint_events_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaint_events'))
    )
    with op.batch_alter_table('complaint_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaint_events_complaint_id'), ['complaint_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaint_events_store_id'), ['store_id'], unique=False)

    # Data: every tenant, existing or new, starts with the built-in categories (HB §9.3.2).
    now = datetime.now(UTC)
    op.bulk_insert(
        categories,
        [{"code": code, "name": name, "is_active": True, "created_at": now, "updated_at": now}
         for code, name in BUILTIN],
    )


def downgrade() -> None:
    with op.batch_alter_table('complaint_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaint_events_store_id'))
        batch_op.drop_index(batch_op.f('ix_complaint_events_complaint_id'))

    op.drop_table('complaint_events')
    with op.batch_alter_table('complaint_contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaint_contacts_store_id'))
        batch_op.drop_index(batch_op.f('ix_complaint_contacts_complaint_id'))

    op.drop_table('complaint_contacts')
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaints_survey_id'))
        batch_op.drop_index('ix_complaints_store_status')
        batch_op.drop_index(batch_op.f('ix_complaints_store_id'))
        batch_op.drop_index('ix_complaints_status_due')
        batch_op.drop_index(batch_op.f('ix_complaints_rework_order_id'))
        batch_op.drop_index(batch_op.f('ix_complaints_responsible_id'))
        batch_op.drop_index(batch_op.f('ix_complaints_order_id'))
        batch_op.drop_index(batch_op.f('ix_complaints_customer_id'))
        batch_op.drop_index(batch_op.f('ix_complaints_category_id'))

    op.drop_table('complaints')
    op.drop_table('complaint_number_counters')
    op.drop_table('complaint_categories')
