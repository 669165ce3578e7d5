"""Nightly tenant backups (HB §7.3.1)

Revision ID: dee779db88cf
Revises: dfd0fb7a4175
Create Date: 2026-11-25 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'dee779db88cf'
down_revision: str | Sequence[str] | None = 'dfd0fb7a4175'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('tenant_backups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=True),
    sa.Column('tenant_slug', sa.String(length=63), nullable=False),
    sa.Column('kind', sa.Enum('nightly', 'on_demand', name='backupkind', native_enum=False, length=17), nullable=False),
    sa.Column('status', sa.Enum('running', 'succeeded', 'failed', name='backupstatus', native_enum=False, length=17), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('filename', sa.String(length=200), nullable=True),
    sa.Column('size_bytes', sa.BigInteger(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('row_count', sa.BigInteger(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('requested_by', sa.String(length=300), nullable=False),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_tenant_backups_tenant_id_tenants'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tenant_backups'))
    )
    with op.batch_alter_table('tenant_backups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tenant_backups_tenant_id'), ['tenant_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('tenant_backups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tenant_backups_tenant_id'))

    op.drop_table('tenant_backups')
