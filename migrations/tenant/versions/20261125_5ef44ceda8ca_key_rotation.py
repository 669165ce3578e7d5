"""Progress of field-encryption key rotations (HB §7.3.1)

Revision ID: 5ef44ceda8ca
Revises: 09333f347224
Create Date: 2026-11-25 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '5ef44ceda8ca'
down_revision: str | Sequence[str] | None = '09333f347224'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('key_rotation_progress',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('table_name', sa.String(length=64), nullable=False),
    sa.Column('key_fingerprint', sa.String(length=8), nullable=False),
    sa.Column('last_id', sa.Integer(), nullable=False),
    sa.Column('rows_rewritten', sa.Integer(), nullable=False),
    sa.Column('rows_unreadable', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_key_rotation_progress')),
    sa.UniqueConstraint(
        'table_name', 'key_fingerprint', name=op.f('uq_key_rotation_progress_table_name_key_fingerprint')
    )
    )


def downgrade() -> None:
    op.drop_table('key_rotation_progress')
