"""Inspection plans and inspections name their checklist: the standard's store template or the
confidentiality check (HB §7.3.2)

Revision ID: a3c91e5f7d20
Revises: 5ef44ceda8ca
Create Date: 2026-11-25 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'a3c91e5f7d20'
down_revision: str | Sequence[str] | None = '5ef44ceda8ca'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _checklist() -> sa.Column:
    # NOT NULL with a server default: every existing plan and inspection is a store inspection.
    return sa.Column(
        'checklist',
        sa.Enum('store', 'confidentiality', name='inspectionchecklist', native_enum=False, length=23),
        server_default='store',
        nullable=False,
    )


def upgrade() -> None:
    with op.batch_alter_table('inspection_plans', schema=None) as batch_op:
        batch_op.add_column(_checklist())
    with op.batch_alter_table('inspections', schema=None) as batch_op:
        batch_op.add_column(_checklist())


def downgrade() -> None:
    with op.batch_alter_table('inspections', schema=None) as batch_op:
        batch_op.drop_column('checklist')
    with op.batch_alter_table('inspection_plans', schema=None) as batch_op:
        batch_op.drop_column('checklist')
