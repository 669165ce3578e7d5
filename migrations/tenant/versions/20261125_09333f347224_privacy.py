"""Data access log and staff confidentiality agreements (HB §7.3)

Revision ID: 09333f347224
Revises: 8473a360e037
Create Date: 2026-11-25 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '09333f347224'
down_revision: str | Sequence[str] | None = '8473a360e037'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('data_access_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('staff_user_id', sa.Integer(), nullable=True),
    sa.Column('staff_name', sa.String(length=254), nullable=False),
    sa.Column('operator', sa.String(length=254), nullable=True),
    sa.Column('kind', sa.Enum('view', 'export', name='accesskind', native_enum=False, length=14), nullable=False),
    sa.Column('subject', sa.String(length=64), nullable=False),
    sa.Column('record_id', sa.String(length=64), nullable=True),
    sa.Column('detail', sa.String(length=500), nullable=True),
    sa.Column('ip_address', sa.String(length=45), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_data_access_log'))
    )
    with op.batch_alter_table('data_access_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_data_access_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_data_access_log_subject'), ['subject'], unique=False)
        batch_op.create_index('ix_data_access_log_staff_user_id_at', ['staff_user_id', 'at'], unique=False)

    op.create_table('confidentiality_agreements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_user_id', sa.Integer(), nullable=False),
    sa.Column('signed_on', sa.Date(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('agreement_version', sa.String(length=40), nullable=True),
    sa.Column('document_id', sa.Integer(), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('valid_until IS NULL OR valid_until >= signed_on', name=op.f('ck_confidentiality_agreements_valid_after_signed')),
    sa.ForeignKeyConstraint(['document_id'], ['stored_files.id'], name=op.f('fk_confidentiality_agreements_document_id_stored_files')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['staff_users.id'], name=op.f('fk_confidentiality_agreements_recorded_by_id_staff_users')),
    sa.ForeignKeyConstraint(['staff_user_id'], ['staff_users.id'], name=op.f('fk_confidentiality_agreements_staff_user_id_staff_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_confidentiality_agreements'))
    )
    with op.batch_alter_table('confidentiality_agreements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_confidentiality_agreements_staff_user_id'), ['staff_user_id'], unique=False)

    op.create_table('confidentiality_reminders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_user_id', sa.Integer(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['staff_user_id'], ['staff_users.id'], name=op.f('fk_confidentiality_reminders_staff_user_id_staff_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_confidentiality_reminders'))
    )
    with op.batch_alter_table('confidentiality_reminders', schema=None) as batch_op:
        batch_op.create_index('ix_confidentiality_reminders_staff_user_id_sent_at', ['staff_user_id', 'sent_at'], unique=False)


def downgrade() -> None:
    op.drop_table('confidentiality_reminders')
    op.drop_table('confidentiality_agreements')
    op.drop_table('data_access_log')
