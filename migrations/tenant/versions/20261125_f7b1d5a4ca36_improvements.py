"""Improvement suggestions and process reviews (HB §2.3, §5.2.3)

Revision ID: f7b1d5a4ca36
Revises: e6a0c4f3b925
Create Date: 2026-11-25 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision: str = 'f7b1d5a4ca36'
down_revision: str | Sequence[str] | None = 'e6a0c4f3b925'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
