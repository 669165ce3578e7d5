"""Emergency plans, drills and incidents (HB §9.1-§9.2)

Revision ID: 08c2e6b5db47
Revises: f7b1d5a4ca36
Create Date: 2026-11-25 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision: str = '08c2e6b5db47'
down_revision: str | Sequence[str] | None = 'f7b1d5a4ca36'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
