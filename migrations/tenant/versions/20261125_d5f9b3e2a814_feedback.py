"""Follow-ups and satisfaction surveys (HB §6.2.2, §6.3)

Revision ID: d5f9b3e2a814
Revises: 39b1b81ae9cd
Create Date: 2026-11-25 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision: str = 'd5f9b3e2a814'
down_revision: str | Sequence[str] | None = '39b1b81ae9cd'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
