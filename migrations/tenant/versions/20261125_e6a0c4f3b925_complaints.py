"""Complaints with a first-contact clock (HB §9.3)

Revision ID: e6a0c4f3b925
Revises: d5f9b3e2a814
Create Date: 2026-11-25 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision: str = 'e6a0c4f3b925'
down_revision: str | Sequence[str] | None = 'd5f9b3e2a814'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
